"""The run folder: claimed atomically, every file written whole, metrics appended as training goes.

    runs/<name>/config.yaml     resolved config that reproduces the run
                summary.txt     the layer table, as `cnnctl summary` prints it
                summary.json    the same facts as data
                metrics.csv     one row per epoch, flushed each epoch
                model.keras     final model
                best.keras      best model by the monitored metric
                results.json    status, test metrics, timings, device, versions
                .lock           held by the process writing the folder, with its id
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfiles import write_atomic, writing

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
METRICS = "metrics.csv"


LOCK = ".lock"
LOCK_TRIES = 30  # 3 s


class RunFolder:
    """One run's folder. A process that writes to it holds its lock (`.lock`, an OS file lock that the
    kernel releases when the process ends, however it ends), so two writers never share a folder."""

    def __init__(self, path: Path):
        self.path = path
        self._csv_fields: list[str] | None = None
        self._lock: int | None = None

    @classmethod
    def open(cls, path: Path) -> "RunFolder":
        """An existing run folder, locked for writing (`cnnctl resume`)."""
        if not path.is_dir():
            raise CnnctlError(Problem("not a folder" if path.exists() else "no such folder", str(path),
                                      hint="pass a run folder, runs/<name>"))
        if not (path / "config.yaml").is_file():
            if [p.name for p in path.iterdir()] == [LOCK]:  # claimed, then stopped before its config was written
                raise CnnctlError(Problem("this run was stopped before it started: nothing to resume", str(path),
                                          hint="train the config again"))
            raise CnnctlError(Problem("no config.yaml here: not a cnnctl run folder", str(path),
                                      hint="pass runs/<name>"))
        folder = cls(path)
        folder.lock()
        return folder

    def lock(self) -> None:
        """Hold the folder for this process; another process holding it is a user's mistake, named."""
        import fcntl

        with writing(self.path / LOCK):
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        import time

        for attempt in range(LOCK_TRIES):  # the guardian of a killed run holds it for a moment
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if attempt + 1 < LOCK_TRIES:
                    time.sleep(0.1)
        else:
            holder = os.read(fd, 32).decode(errors="replace").strip()
            os.close(fd)
            raise CnnctlError(Problem(f"this run is being written by process {holder or '(starting)'}",
                                      str(self.path), hint="wait for it to end, or stop it first"))
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor releases the lock
            self._lock = None

    @classmethod
    def claim(cls, runs_dir: str | Path, name: str) -> "RunFolder":
        """`runs/name`, or `name-2`, `name-3`, ... when taken, locked for this process.

        `mkdir` is atomic, so two runs never share one.
        """
        if not NAME.match(name) or name in {".", ".."}:
            raise CnnctlError(Problem(f"run name {name!r} is not a plain folder name",
                                      hint="use letters, digits, '_', '-' and '.'"))
        root = Path(runs_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CnnctlError(Problem(f"cannot create the runs folder: {exc.strerror}", str(root))) from None
        for n in range(1, 10_000):
            path = root / (name if n == 1 else f"{name}-{n}")
            try:
                path.mkdir()
            except FileExistsError:
                continue
            except OSError as exc:
                raise CnnctlError(Problem(f"cannot create the run folder: {exc.strerror}", str(path))) from None
            folder = cls(path)
            folder.lock()
            return folder
        raise CnnctlError(Problem(f"{name}: 10,000 runs of this name exist", str(root), hint="use --name"))

    def write_text(self, name: str, text: str) -> None:
        write_atomic(self.path / name, text)

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(_finite(data), indent=2, ensure_ascii=False) + "\n")

    def write_config(self, resolved: dict[str, Any]) -> None:
        self.write_text("config.yaml", yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))

    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row per epoch, flushed and synced, so a crash keeps every finished epoch."""
        path = self.path / METRICS
        new = self._csv_fields is None
        if new:
            self._csv_fields = list(row)
        with writing(path), path.open("a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=self._csv_fields, extrasaction="ignore")
            if new:
                writer.writeheader()
            writer.writerow(row)
            f.flush()
            os.fsync(f.fileno())

    def read_metrics(self) -> list[dict[str, float]]:
        """The rows written so far (on resume, those `keep_metrics` kept), numbers as floats."""
        path = self.path / METRICS
        if not path.exists():
            return []
        fields, _, rows = _metrics(path)
        self._csv_fields = fields
        return [dict(zip(fields, row)) for row in rows]

    def keep_metrics(self, epochs: int) -> None:
        """Check rows 1 to `epochs`, the epochs the checkpoint holds, and keep exactly them.

        A row is written before its epoch's checkpoint, so rows past `epochs` are from the epoch cut
        short and go. A row missing or damaged before them is an epoch whose values are gone: refuse,
        rather than resume into a metrics.csv with a hole. Blank lines are dropped.
        """
        path = self.path / METRICS
        if epochs == 0:  # nothing completed: the first row writes the header anew
            with writing(path):
                path.unlink(missing_ok=True)
            return
        if not path.exists():
            raise _lost(path, None, f"missing, but {_holds(epochs)}")
        _, lines, _ = _metrics(path, epochs)
        write_atomic(path, "".join(line + "\r\n" for line in lines))

    def save_model(self, model: Any, name: str) -> None:
        """Save to a temporary `.keras` file, then rename over the old one."""
        tmp = self.path / f".{name}.tmp.keras"
        try:
            with writing(self.path / name):
                model.save(tmp)
                os.replace(tmp, self.path / name)
        finally:
            tmp.unlink(missing_ok=True)


def read_results(folder: Path) -> dict[str, Any]:
    """A run's results.json: an object with a status, or a one-line refusal naming the file."""
    path = folder / "results.json"
    if not folder.is_dir():
        raise CnnctlError(Problem("not a folder" if folder.exists() else "no such folder", str(folder),
                                  hint="pass a run folder, runs/<name>"))
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (folder / "config.yaml").is_file():
            raise CnnctlError(Problem("missing: the run's status is unknown", str(path),
                                      hint=_anew(folder, "restore it"))) from None
        raise CnnctlError(Problem("no results.json here: not a cnnctl run folder", str(folder),
                                  hint="pass runs/<name>")) from None
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise CnnctlError(Problem(f"damaged: not JSON ({exc})", str(path), hint=_anew(folder, "restore it"))) from None
    if not isinstance(results, dict):
        raise CnnctlError(Problem(f"damaged: a JSON {json_kind(results)}, not an object", str(path),
                                  hint=_anew(folder, "restore it")))
    for key, kind, default in (("status", str, None), ("resumed", list, [])):
        if not isinstance(results.get(key, default), kind):
            raise CnnctlError(Problem(f"damaged: its {key} is not a {json_kind(kind())}", str(path),
                                      hint=_anew(folder, "restore it")))
    return results


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for messages."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _metrics(path: Path, count: int | None = None) -> tuple[list[str], list[str], list[list[float]]]:
    """The columns, the header and first `count` rows as lines (all rows when None), and their numbers.

    Each row must be whole and numeric, its epoch the row's number (1, 2, ...), blank lines aside;
    lines past `count` are not read at all (a row cut off by a kill may be there).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    numbered = [(n, line.rstrip(b"\r")) for n, line in enumerate(raw.split(b"\n"), 1) if line.strip()]
    if not numbered:
        raise _lost(path, None, "empty" + (f", but {_holds(count)}" if count else ""))
    fields = _cells(path, *numbered[0])
    wanted = [f for f in ("epoch", "loss", "lr", "seconds", "images_per_second") if f not in fields]
    if fields[:1] != ["epoch"] or wanted or len(set(fields)) != len(fields):
        raise _lost(path, numbered[0][0], "the header is not epoch, loss, ..., lr, seconds, images_per_second")
    rows = numbered[1:] if count is None else numbered[1:count + 1]
    if count is not None and len(rows) < count:
        lost = f"row {count} is" if len(rows) + 1 == count else f"rows {len(rows) + 1} to {count} are"
        raise _lost(path, None, f"{lost} missing, but {_holds(count)}")
    numbers = []
    for epoch, (n, line) in enumerate(rows, 1):
        cells = _cells(path, n, line)
        if len(cells) != len(fields):
            raise _lost(path, n, f"epoch {epoch}'s row has {len(cells)} values, the header {len(fields)}")
        values = []
        for field, cell in zip(fields, cells):
            try:
                values.append(float(cell))
            except ValueError:
                raise _lost(path, n, f"epoch {epoch}'s {field} is {cell!r}, not a number") from None
        if values[0] != epoch:
            raise _lost(path, n, f"row {epoch} is epoch {cells[0]}: rows must be epochs 1, 2, 3, ... in order")
        numbers.append(values)
    return fields, [line.decode() for _, line in [numbered[0], *rows]], numbers


def _cells(path: Path, n: int, line: bytes) -> list[str]:
    try:
        return next(csv.reader([line.decode("utf-8")]))
    except (UnicodeDecodeError, csv.Error, StopIteration):
        raise _lost(path, n, "not a line of CSV text") from None


def _lost(path: Path, line: int | None, what: str) -> CnnctlError:
    """metrics.csv lacks rows the checkpoint counts on: refused, as those values cannot be rebuilt."""
    return CnnctlError(Problem(what, str(path), line=line, hint=_anew(
        path.parent, "resume cannot rebuild lost rows: restore or repair metrics.csv")))


def _holds(epochs: int) -> str:
    return f"the checkpoint holds {epochs} completed epoch{'' if epochs == 1 else 's'}"


def _anew(folder: Path, fix: str) -> str:
    return f"{fix}, or start anew with `cnnctl train {folder / 'config.yaml'}`"


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


def _finite(data: Any) -> Any:
    """JSON has no NaN: non-finite numbers become null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data
