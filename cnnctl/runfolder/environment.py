"""What a run ran with: the machine, versions of Python and the libraries, and the git commit of the config's
repository."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any


def environment(config_source: str) -> dict[str, Any]:
    """The machine, versions and the git commit of the config's repository, for results.json."""
    import keras
    import numpy
    import tensorflow as tf

    from cnnctl import __version__

    return {
        "machine": machine(),
        "python": sys.version.split()[0],
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
        "numpy": numpy.__version__,
        "cnnctl": __version__,
        "git_commit": _git_commit(Path(config_source).resolve().parent),
    }


def machine() -> str:
    """The processor and the cores this process may use: `Intel(R) Xeon(R) ... , 2 cores`. Wall times
    compare only between runs on the same machine, so the results table shows it."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as info:  # Linux: the model name, which platform.processor() is not
            model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), model)
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{model}, {cores} cores"


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
