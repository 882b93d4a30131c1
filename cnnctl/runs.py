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
        if not (path / "config.yaml").is_file():
            what = "an empty run folder: it was stopped before it started" if path.is_dir() and not any(
                p for p in path.iterdir() if p.name != LOCK) else "no config.yaml here: not a cnnctl run folder"
            raise CnnctlError(Problem(what, str(path), hint="pass runs/<name>, or train the config again"))
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
        path = self.path / "metrics.csv"
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

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows written so far (on resume), numbers as floats."""
        path = self.path / "metrics.csv"
        if not path.exists():
            return []
        with path.open(newline="") as f:
            reader = csv.DictReader(f)
            self._csv_fields = list(reader.fieldnames or [])
            return [{k: float(v) for k, v in row.items()} for row in reader]

    def keep_metrics(self, epochs: int) -> None:
        """Keep the header and the first `epochs` rows: a row past the checkpoint belongs to a lost epoch."""
        path = self.path / "metrics.csv"
        if path.exists():
            lines = path.read_text().splitlines(keepends=True)
            write_atomic(path, "".join(lines[: epochs + 1]))

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
    try:
        return json.loads((folder / "results.json").read_text())
    except FileNotFoundError:
        raise CnnctlError(Problem("no results.json here: not a cnnctl run folder", str(folder),
                                  hint="pass runs/<name>")) from None
    except (OSError, json.JSONDecodeError) as exc:
        raise CnnctlError(Problem(f"cannot read results.json: {exc}", str(folder))) from None


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
