"""`cnnctl runs`: one row per run folder in a runs folder, what results.json and config.yaml say of it.

A folder whose results.json cannot be read is listed as `damaged`, with the one line `read_results`
gives, rather than stopping the listing: one broken run must not hide the others. Values of the wrong
type in a readable file (a hand edit) show as unknown, for the same reason.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from cnnctl.errors import CnnctlError, Problem, plural
from cnnctl.look.better import ranked
from cnnctl.look.grid import MISSING, Grid, count, duration, local_minute
from cnnctl.runfolder import files, read_config, read_results
from cnnctl.runfolder.results import STATUSES

DAMAGED = "damaged"
SHOWN_STATUSES = (*STATUSES, DAMAGED)
COLUMNS = ("Name", "Status", "Config", "Epochs", "Best", "Test", "Params", "Wall", "Started")


@dataclass(frozen=True)
class RunRow:
    """What the listing knows of one run; None where the folder does not say."""

    path: Path
    name: str  # the folder's name: what `cnnctl compare runs/<name>` takes
    status: str  # one of SHOWN_STATUSES
    config: str | None = None  # the config file it was trained from, as recorded
    epochs_completed: int | None = None
    epochs: int | None = None  # train.epochs of its config.yaml
    monitor: str | None = None
    best: float | None = None  # the monitor's best value
    best_epoch: int | None = None
    test: dict[str, float] = field(default_factory=dict)  # the final model on the test split
    best_test: dict[str, float] = field(default_factory=dict)  # best.keras on the test split
    parameters: int | None = None
    wall_seconds: float | None = None
    started: str | None = None  # ISO 8601, UTC
    finished: str | None = None
    problem: str | None = None  # why a damaged folder cannot be read

    def to_dict(self) -> dict[str, Any]:
        """The row for `--json`: raw numbers, times as recorded, the path as a string."""
        return {"name": self.name, "path": str(self.path), "status": self.status, "config": self.config,
                "epochs_completed": self.epochs_completed, "epochs": self.epochs, "monitor": self.monitor,
                "best": self.best, "best_epoch": self.best_epoch, "test": self.test, "best_test": self.best_test,
                "parameters": self.parameters, "wall_seconds": self.wall_seconds, "started": self.started,
                "finished": self.finished, **({"problem": self.problem} if self.problem else {})}

    @property
    def headline(self) -> tuple[str, float] | None:
        """The test metric the run is judged by: its first metric that is not the loss, else the loss."""
        ordered = sorted(self.test.items(), key=lambda item: item[0] == "loss")
        return ordered[0] if ordered else None


def read_row(folder: Path) -> RunRow:
    """One run's row; a results.json that cannot be read is refused in one line naming it."""
    results = read_results(folder)
    best = _numbers(results.best)
    monitor = results.monitor if isinstance(results.monitor, str) else next(iter(best), None)
    return RunRow(path=folder, name=folder.name, status=results.status, config=_text(results.config),
                  epochs_completed=results.epochs_completed, epochs=_configured_epochs(folder), monitor=monitor,
                  best=best.get(monitor) if monitor else None, best_epoch=_whole(results.best_epoch),
                  test=_numbers(results.test), best_test=_numbers(results.best_test),
                  parameters=_whole(results.parameters), wall_seconds=_number(results.wall_seconds),
                  started=_text(results.started), finished=_text(results.finished))


def scan(runs_dir: Path) -> list[RunRow]:
    """A row for each run folder in `runs_dir` (a folder holding a results.json or a config.yaml), by name."""
    if not runs_dir.is_dir():
        raise CnnctlError(Problem("not a folder" if runs_dir.exists() else "no such folder", str(runs_dir),
                                  hint="pass the folder runs are trained into, runs/ or train's --runs-dir"))
    if (runs_dir / files.RESULTS).is_file():
        raise CnnctlError(Problem("this is a run folder, not a folder of runs", str(runs_dir),
                                  hint=f"pass the folder that holds it, {runs_dir.parent}"))
    rows = []
    for folder in sorted(runs_dir.iterdir()):
        if folder.name.startswith(".") or not folder.is_dir() or not any(
                (folder / name).is_file() for name in (files.RESULTS, files.CONFIG)):
            continue
        try:
            rows.append(read_row(folder))
        except CnnctlError as exc:
            rows.append(RunRow(path=folder, name=folder.name, status=DAMAGED, problem=str(exc.problems[0])))
    return rows


def select(rows: list[RunRow], statuses: tuple[str, ...] = (), name: str | None = None) -> list[RunRow]:
    """The rows with one of `statuses` (any, when none given) whose name matches the glob `name`."""
    return [row for row in rows if (not statuses or row.status in statuses)
            and (name is None or fnmatch.fnmatchcase(row.name, name))]


def _started(row: RunRow) -> datetime | None:
    try:
        return datetime.fromisoformat(row.started).astimezone() if row.started else None  # naive: local
    except ValueError:
        return None


def _best(row: RunRow) -> tuple[str, float] | None:
    return None if row.best is None or row.monitor is None else (row.monitor, ranked(row.monitor, row.best))


def _test(row: RunRow) -> tuple[str, float] | None:
    return None if row.headline is None else (row.headline[0], ranked(*row.headline))


# Each sort column: its key, and whether larger keys come first. Text sorts A to Z, dates newest first,
# counts and times largest first, metrics best first (grouped by metric, as runs may differ in what
# they monitor). Rows with no value sort last, whichever way.
SORTS: dict[str, tuple[Callable[[RunRow], Any], bool]] = {
    "date": (_started, True),
    "name": (lambda row: row.name, False),
    "status": (lambda row: row.status, False),
    "epochs": (lambda row: row.epochs_completed, True),
    "best": (_best, False),
    "test": (_test, False),
    "params": (lambda row: row.parameters, True),
    "wall": (lambda row: row.wall_seconds, True),
}


def sort_rows(rows: list[RunRow], column: str = "date", reverse: bool = False) -> list[RunRow]:
    """The rows in the order of `column` (see SORTS), or the other way round; unknowns still last."""
    key, descending = SORTS[column]
    known = sorted((row for row in rows if key(row) is not None), key=key, reverse=descending != reverse)
    return known + [row for row in rows if key(row) is None]


def runs_grid(rows: list[RunRow], runs_dir: Path) -> Grid:
    """The listing as text cells, one row per run."""
    return Grid(title=f"{plural(len(rows), 'run')} in {runs_dir}/", headers=list(COLUMNS),
                rows=[_cells(row) for row in rows], right=frozenset({3, 6, 7}))


def _cells(row: RunRow) -> list[str]:
    if row.status == DAMAGED:
        return [row.name, row.status, *[MISSING] * (len(COLUMNS) - 2)]
    epochs = f"{row.epochs_completed or 0}" + (f"/{row.epochs}" if row.epochs is not None else "")
    best = MISSING if row.best is None else f"{row.monitor}={row.best:.4f}" + (
        f" @{row.best_epoch}" if row.best_epoch is not None else "")
    shown = {k: v for k, v in row.test.items() if k != "loss"} or row.test
    test = "  ".join(f"{k} {v:.4f}" for k, v in shown.items()) or MISSING
    return [row.name, row.status, row.config or MISSING, epochs, best, test, count(row.parameters),
            duration(row.wall_seconds), local_minute(row.started)]


def _configured_epochs(folder: Path) -> int | None:
    try:
        train = read_config(folder).get("train")
    except CnnctlError:  # the listing goes on without it; compare names the file
        return None
    return _whole(train.get("epochs")) if isinstance(train, dict) else None


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _numbers(values: Any) -> dict[str, float]:
    """The numeric entries of a results.json object ({metric: value}); null (a NaN) and the like dropped."""
    if not isinstance(values, dict):
        return {}
    return {k: number for k, v in values.items() if (number := _number(v)) is not None}
