"""Facts about the process that training and `cnnctl bench` record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only: VmHWM in /proc/self/status")
def test_peak_memory_is_this_process_own_not_its_parents():
    """`ru_maxrss` survives fork and exec: a child started from a 512 MiB process would report at least that."""
    ballast = np.ones(512 * 2**20, np.uint8)  # resident in this process while the child starts
    code = "from cnnctl.training.compile import peak_host_memory_mb; print(peak_host_memory_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    del ballast
    assert 0 < child < 256  # Python, NumPy and pydantic: well under half the parent's ballast
