"""results.json as a typed record: what training writes, what the guardian, resume, evaluate, `runs`,
`compare` and `report` read, with every key spelt once, here.

Training keeps one `Results` for its run and writes it whole at each change
of state; readers get the same record back from `read_results`, which
refuses a damaged file in one line naming it. Keys this version does not know
(from a newer cnnctl) are kept in `extra` and written back unchanged.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder import files

STATUSES = ("running", "completed", "diverged", "interrupted", "failed")


@dataclass
class Results:
    """A run's state and outcome. None means not known (yet): such keys are left out of the file."""

    name: str = ""
    status: str = "running"  # one of STATUSES
    config: str = ""  # the config file the run was started from
    overrides: list[str] = field(default_factory=list)  # its `--set`s: `cnnctl train CONFIG --set ...` again
    started: str | None = None  # ISO 8601, UTC
    finished: str | None = None
    device: str | None = None
    precision: str | None = None  # Keras' dtype policy: float32, mixed_bfloat16, mixed_float16
    precision_choice: dict[str, str] | None = None  # with `precision: auto`: {asked: auto, why: ...}
    monitor: str | None = None  # train.monitor: what best.keras is best at
    parameters: int | None = None  # the model's parameter count
    data: dict[str, Any] = field(default_factory=dict)  # the data report: files, counts, classes, scaling
    environment: dict[str, Any] = field(default_factory=dict)  # versions, git commit
    pid: int | None = None  # the writing process, while status is running
    steps_per_epoch: int | None = None
    execution: dict[str, Any] | None = None
    distribution: dict[str, Any] | None = None  # strategy, replicas, workers, global and per-replica batch
    seconds_to_first_step: float | None = None
    epochs_completed: int | None = None
    best_epoch: int | None = None
    best: dict[str, float] | None = None  # {monitor: its best value}
    test: dict[str, float] | None = None  # the final model on the test split
    best_test: dict[str, float] | None = None  # best.keras on the test split
    halvings: list[dict[str, Any]] = field(default_factory=list)
    diverged_at: dict[str, Any] | None = None
    wall_seconds: float | None = None
    images_per_second: float | None = None  # median over epochs
    peak_rss_mb: float | None = None
    resumed: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if v is not None and k != "extra"}
        for key in ("resumed", "overrides"):  # written when there are some
            if not out[key]:
                out.pop(key)
        return {**out, **self.extra}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Results":
        known = {f.name for f in fields(cls)} - {"extra"}
        return cls(**{k: v for k, v in data.items() if k in known},
                   extra={k: v for k, v in data.items() if k not in known})

    @property
    def class_names(self) -> list[str]:
        """The class names the data report holds, else the class numbers as text."""
        names = self.data.get("class_names")
        return list(names) if names else [str(c) for c in range(int(self.data.get("classes") or 0))]

    @property
    def standardization(self) -> tuple[list[float], list[float]] | None:
        """The per-channel mean and standard deviation (of [0, 1] pixels) the run standardized with, if any."""
        mean, std = self.data.get("mean"), self.data.get("std")
        return (list(mean), list(std)) if mean and std else None


# The types read_results insists on: anything else is a damaged file, not a run to act on.
TYPES: dict[str, tuple[type, ...]] = {
    "status": (str,), "resumed": (list,), "halvings": (list,), "data": (dict,), "test": (dict, type(None)),
    "best_test": (dict, type(None)), "epochs_completed": (int, type(None)), "pid": (int, type(None)),
}


def read_results(folder: Path) -> Results:
    """A run's results.json: an object with a status, or a one-line refusal naming the file."""
    path = folder / files.RESULTS
    if not folder.is_dir():
        raise CnnctlError(Problem("not a folder" if folder.exists() else "no such folder", str(folder),
                                  hint="pass a run folder, runs/<name>"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if (folder / files.CONFIG).is_file():
            raise CnnctlError(Problem("missing: the run's status is unknown", str(path),
                                      hint=anew(folder, "restore it"))) from None
        raise CnnctlError(Problem(f"no {files.RESULTS} here: not a cnnctl run folder", str(folder),
                                  hint="pass runs/<name>")) from None
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise CnnctlError(Problem(f"damaged: not JSON ({exc})", str(path), hint=anew(folder, "restore it"))) from None
    if not isinstance(data, dict):
        raise CnnctlError(Problem(f"damaged: a JSON {json_kind(data)}, not an object", str(path),
                                  hint=anew(folder, "restore it")))
    if "status" not in data:
        data["status"] = None  # reported below as not a string
    for key, kinds in TYPES.items():
        if key in data and not isinstance(data[key], kinds) or isinstance(data.get(key), bool):
            raise CnnctlError(Problem(f"damaged: its {key} is not a {json_kind(kinds[0]())}", str(path),
                                      hint=anew(folder, "restore it")))
    return Results.from_dict(data)


def json_kind(value: Any) -> str:
    """What a JSON value is, in JSON's words, for messages."""
    kinds = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def anew(folder: Path, fix: str) -> str:
    """The hint for a run folder whose file is lost: `fix`, or train the run again."""
    return f"{fix}, or start anew with `cnnctl train {folder / files.CONFIG}`"
