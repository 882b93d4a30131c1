"""A tiny watcher process: if training dies without a word (kill -9, a crash, the OOM killer), say so.

Training starts `python -m cnnctl.training.guardian RESULTS PID` with a pipe
on its stdin, and writes to it only once it has written its final status.
When the training process ends without that, by any means, the pipe closes;
if results.json still says `running` for that process, the guardian marks it
`failed`, with the epochs it completed (holding the run folder's lock while
it does), so the folder never claims a run that is gone. `cnnctl resume`
takes it from the last checkpoint. It imports no TensorFlow: it starts in an
instant.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any


def start(results: Path, pid: int) -> Any:
    """Start the watcher; None where it cannot be (the run then relies on its own last words)."""
    try:
        return subprocess.Popen([sys.executable, "-m", "cnnctl.training.guardian", str(results), str(pid)],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)  # Ctrl-C in the terminal is for training, not for it
    except OSError:
        return None


def stop(process: Any) -> None:
    """Training has written its final status: let the watcher go."""
    if process is not None:
        try:
            process.stdin.write(b"done")  # an orderly end, told apart from a death that only closes the pipe
            process.stdin.close()
        except OSError:
            pass
        process.wait(timeout=30)


def _watch(results: Path, pid: int) -> None:
    if sys.stdin.buffer.read():  # returns when the training process has ended; "done" if it said so first
        return
    mark_failed(results, pid)


def mark_failed(results: Path, pid: int) -> None:
    """If results.json still says `running` for `pid`, say `failed`, with the epochs a resume keeps."""
    import fcntl

    from cnnctl.errors import CnnctlError
    from cnnctl.runfolder import RunFolder, read_results
    from cnnctl.runfolder.files import LOCK

    try:
        lock = os.open(results.parent / LOCK, os.O_RDWR)
        # The pipe can close before the dying process's lock is released; a lock held longer than that is
        # a resume that has begun (or training that is still writing), and then this is no longer ours.
        for _ in range(50):
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(0.1)
        else:
            return
        record = read_results(results.parent)
    except (OSError, CnnctlError):
        return
    if record.status == "running" and record.pid == pid:
        record.pid, record.status, record.epochs_completed = None, "failed", epochs_completed(results.parent)
        record.error = ("the training process ended without a word (killed, or crashed): "
                        "`cnnctl resume` continues from the last completed epoch")
        RunFolder(results.parent).write_results(record)


def epochs_completed(folder: Path) -> int:
    """The epochs a resume keeps: the checkpoint's epoch, else (no readable checkpoint) metrics.csv's rows.

    A row written just before the kill, whose checkpoint was not, is an epoch a resume trains again.
    """
    from cnnctl.errors import CnnctlError
    from cnnctl.runfolder.files import METRICS
    from cnnctl.training.checkpoint import read_state  # NumPy only: no TensorFlow in this process

    try:
        return int(read_state(folder)["epoch"])
    except (CnnctlError, KeyError, TypeError, ValueError):
        pass
    try:
        with (folder / METRICS).open() as f:
            return max(sum(1 for line in f if line.strip()) - 1, 0)  # less the header
    except OSError:
        return 0


if __name__ == "__main__":
    _watch(Path(sys.argv[1]), int(sys.argv[2]))
