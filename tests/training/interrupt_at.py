"""Run `cnnctl ARGS...` and signal this very process at a named point of the run.

    python interrupt_at.py POINT SIGNALS cnnctl-args...

SIGNALS is a comma-separated list (`SIGINT,SIGINT` is a double Ctrl-C), sent
one after the other when the run reaches POINT. Used by
test_interrupt_points.py, so a test can stop a real process exactly at a
moment no timing could hit reliably.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Any, Callable


def fire(signals: list[str]) -> None:
    for name in signals:
        os.kill(os.getpid(), getattr(signal, name))


def hook(owner: Any, attr: str, signals: list[str], before: bool = False,
         when: Callable[..., bool] = lambda *a, **k: True) -> None:
    """Signal once, before or after `owner.attr` runs, the first time `when(args)` holds."""
    original = getattr(owner, attr)
    fired = []

    def wrapper(*args, **kwargs):
        due = not fired and when(*args, **kwargs)
        if due and before:
            fired.append(True)
            fire(signals)
        result = original(*args, **kwargs)
        if due and not before:
            fired.append(True)
            fire(signals)
        return result

    setattr(owner, attr, wrapper)


def main() -> None:
    point, signals, args = sys.argv[1], sys.argv[2].split(","), sys.argv[3:]
    from cnnctl.runfolder import RunFolder
    from cnnctl.training import checkpoint, run

    points = {
        "prepare": lambda: hook(run, "_prepare", signals),  # data loaded, model built; no folder yet
        "claim": lambda: hook(RunFolder, "claim", signals),  # the folder exists, its config not yet written
        "summary": lambda: hook(run, "_write_summary", signals),  # no results.json yet
        "epoch": lambda: hook(checkpoint, "save_checkpoint", signals,
                              when=lambda folder, model, state, *a: state["epoch"] == 1),  # between epochs
        "last-save": lambda: hook(RunFolder, "save_model", signals, before=True,
                                  when=lambda self, model, name: name == "model.keras"),
        "test": lambda: hook(run, "_test", signals, before=True),  # the final evaluation
    }
    points[point]()
    from cnnctl.cli import main as cnnctl

    cnnctl(args, prog_name="cnnctl")


if __name__ == "__main__":
    main()
