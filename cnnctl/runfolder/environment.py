"""What a run ran with: versions of Python and the libraries, and the git commit of the config's repository."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any


def environment(config_source: str) -> dict[str, Any]:
    """Versions and the git commit of the config's repository, for results.json."""
    import keras
    import numpy
    import tensorflow as tf

    from cnnctl import __version__

    return {
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "cnnctl": __version__,
        "git_commit": _git_commit(Path(config_source).resolve().parent),
    }


def _git_commit(folder: Path) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5)
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain"], capture_output=True,
                               text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
