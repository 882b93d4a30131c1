"""`cnnctl import`: existing Keras models into configs, read as data (a script's syntax tree, a
`.keras` file's config.json), never run."""

from __future__ import annotations

from pathlib import Path

from cnnctl.errors import CnnctlError, Problem
from cnnctl.importing.imported import Imported, write_config

READERS = (".py", ".keras")


def import_model(source: Path, output: Path, force: bool = False) -> Imported:
    """Read `source` (a `.py` script or a `.keras` file) and write its config to `output`."""
    suffix = source.suffix.lower()
    if suffix not in READERS:
        raise CnnctlError(Problem(f"cannot import a {suffix or 'file without extension'}", str(source),
                                  hint="give a Keras script (.py) or a saved model (.keras)"))
    if output.exists() and not force:
        raise CnnctlError(Problem("exists already", str(output), hint="choose another -o FILE, or --force"))
    if suffix == ".py":
        from cnnctl.importing.script import read_script

        imported = read_script(source)
    else:
        from cnnctl.importing.keras_file import read_keras_file

        imported = read_keras_file(source)
    write_config(imported, output)
    return imported
