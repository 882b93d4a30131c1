"""Writing files so that a reader never sees half of one: temporary file, then rename."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from cnnctl.errors import CnnctlError, Problem


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """A full disk or a read-only folder is the user's to fix: one line, exit code 2."""
    try:
        yield
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot write: {exc.strerror or exc}", str(path),
                                  hint="free some disk space, or write somewhere else (--runs-dir)")) from exc


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step; on failure the old file (if any) is untouched."""
    with writing(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
            os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file the usual mode
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
