"""The run folder: claimed atomically, every file written whole, metrics appended as training goes.

    runs/<name>/config.yaml     resolved config that reproduces the run
                summary.txt     the layer table, as `cnnctl summary` prints it
                summary.json    the same facts as data
                metrics.csv     one row per epoch, flushed each epoch
                model.keras     final model
                best.keras      best model by the monitored metric
                results.json    status, test metrics, timings, device, versions
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


class RunFolder:
    def __init__(self, path: Path):
        self.path = path
        self._csv_fields: list[str] | None = None

    @classmethod
    def claim(cls, runs_dir: str | Path, name: str) -> "RunFolder":
        """`runs/name`, or `name-2`, `name-3`, ... when taken; `mkdir` is atomic, so two runs never share one."""
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
                return cls(path)
            except FileExistsError:
                continue
            except OSError as exc:
                raise CnnctlError(Problem(f"cannot create the run folder: {exc.strerror}", str(path))) from None
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


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for messages."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


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
