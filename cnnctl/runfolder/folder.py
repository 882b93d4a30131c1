"""The run folder: claimed atomically, locked by its writer, every file written whole.

File names are in `cnnctl.runfolder.files`; results.json's record in `results`;
metrics.csv's checks in `metrics`.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import time
from pathlib import Path
from typing import Any

import yaml

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files
from cnnctl.runfolder.atomic import write_atomic, writing
from cnnctl.runfolder.metrics import holds, lost, parse
from cnnctl.runfolder.results import Results

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
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
        if not (path / files.CONFIG).is_file():
            if [p.name for p in path.iterdir()] == [files.LOCK]:  # claimed, then stopped before its config was written
                raise CnnctlError(Problem("this run was stopped before it started: nothing to resume", str(path),
                                          hint="train the config again"))
            raise CnnctlError(Problem(f"no {files.CONFIG} here: not a cnnctl run folder", str(path),
                                      hint="pass runs/<name>"))
        folder = cls(path)
        folder.lock()
        return folder

    def lock(self) -> None:
        """Hold the folder for this process; another process holding it is a user's mistake, named."""
        import fcntl

        with writing(self.path / files.LOCK):
            fd = os.open(self.path / files.LOCK, os.O_RDWR | os.O_CREAT, 0o644)
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

    def write_results(self, results: Results) -> None:
        self.write_json(files.RESULTS, results.to_dict())

    def write_json(self, name: str, data: Any) -> None:
        self.write_text(name, json.dumps(_finite(data), indent=2, ensure_ascii=False) + "\n")

    def write_config(self, resolved: dict[str, Any]) -> None:
        self.write_text(files.CONFIG, yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))

    def append_metrics(self, row: dict[str, Any]) -> None:
        """One row per epoch, flushed and synced, so a crash keeps every finished epoch."""
        path = self.path / files.METRICS
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
        path = self.path / files.METRICS
        if not path.exists():
            return []
        fields, _, rows = parse(path)
        self._csv_fields = fields
        return [dict(zip(fields, row)) for row in rows]

    def keep_metrics(self, epochs: int) -> None:
        """Check rows 1 to `epochs`, the epochs the checkpoint holds, and keep exactly them.

        A row is written before its epoch's checkpoint, so rows past `epochs` are from the epoch cut
        short and go. A row missing or damaged before them is an epoch whose values are gone: refuse,
        rather than resume into a metrics.csv with a hole. Blank lines are dropped.
        """
        path = self.path / files.METRICS
        if epochs == 0:  # nothing completed: the first row writes the header anew
            with writing(path):
                path.unlink(missing_ok=True)
            return
        if not path.exists():
            raise lost(path, None, f"missing, but {holds(epochs)}")
        _, lines, _ = parse(path, epochs)
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


def _finite(data: Any) -> Any:
    """JSON has no NaN: non-finite numbers become null."""
    if isinstance(data, float) and not math.isfinite(data):
        return None
    if isinstance(data, dict):
        return {k: _finite(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_finite(v) for v in data]
    return data
