"""evaluation.json read back: the per-class evaluation training writes (`training.evaluate.evaluation_record`)
and `plot` and `report` draw. A file that is not one is refused in one line naming it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnctl.errors import CnnctlError, Problem
from cnnctl.runfolder.results import anew

KEYS = ("model", "accuracy", "classes", "per_class", "macro", "weighted", "confusion")


def read_evaluation(path: Path) -> dict[str, Any]:
    """The record in `path`, with every key the pictures and the report use."""
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot read it: {exc.strerror or exc}", str(path))) from None
    except ValueError as exc:  # not JSON, or not UTF-8
        raise CnnctlError(Problem(f"damaged (not JSON: {exc})", str(path), hint=_fix(path))) from None
    if not isinstance(record, dict) or any(key not in record for key in KEYS):
        raise CnnctlError(Problem(f"damaged (not a per-class evaluation: it needs {', '.join(KEYS)})", str(path),
                                  hint=_fix(path)))
    return record


def _fix(path: Path) -> str:
    return anew(path.parent, "restore it (`cnnctl evaluate RUN --json` prints the same record)")
