"""A study's trials as a table: parameters, value, state, best so far, run folder; and its parameter
importance. `cnnctl tune` draws it live and at the end; `cnnctl runs runs/<study>` from study.json.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from cnnctl.look.grid import MISSING, Grid
from cnnctl.runfolder import files


def study_grids(folder: Path) -> list[Grid]:
    """The study's tables where `folder` holds a study.json (`cnnctl tune` writes it), else none."""
    try:
        record = json.loads((folder / files.STUDY_RECORD).read_text(encoding="utf-8"))
        rows, metric = record["trials"], record["metric"]
        best = record.get("best") or {}
        title = f"study {record['study']}: {record['direction']} {metric}" + (
            f"; best trial {best['number']} ({best['run']})" if best else "")
        grids = [trials_grid(rows, metric, title)]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if isinstance(record.get("importance"), dict) and record["importance"]:
        grids.append(importance_grid(record["importance"]))
    return grids


def trials_grid(rows: list[dict[str, Any]], metric: str, title: str) -> Grid:
    """`rows`: study.json's trials (`cnnctl.tune.summary.trial_rows`). The best completed trial is marked."""
    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))
    headers = ["Trial", *short_names(keys), metric, "State", "Best so far", "Run"]
    values = [r["value"] for r in rows if r["state"] == "complete" and r["value"] is not None]
    best = rows[-1]["best_so_far"] if rows else None
    cells, marked = [], set()
    for i, r in enumerate(rows):
        state = r["state"]
        if state == "fail" and r.get("outcome") == "started":  # failed by another worker: its heartbeat stopped
            r = {**r, "outcome": "died"}
        if r.get("outcome") and r["outcome"] not in ("completed", "started") and state != "running":
            state = f"{state}: {r['outcome']}" if r["outcome"] != state else state
        if r.get("retry_of") is not None:
            state += f" (again: {r['retry_of']})"
        cells.append([str(r["number"]), *[_cell(r["params"].get(k)) for k in keys], _number(r["value"]), state,
                      _number(r["best_so_far"]), r.get("run") or MISSING])
        if values and r["state"] == "complete" and r["value"] == best:
            marked.add((i, 1 + len(keys)))
    right = frozenset({0, 1 + len(keys), 3 + len(keys)})
    return Grid(title, headers, cells, right, frozenset(marked))


def short_names(keys: list[str]) -> list[str]:
    """Column headers: each key's last two parts (`Adam.learning_rate`), or whole keys where those clash."""
    short = [".".join(k.split(".")[-2:]) for k in keys]
    return short if len(set(short)) == len(short) else keys


def importance_grid(importance: dict[str, float]) -> Grid:
    return Grid("parameter importance (Optuna)", ["Parameter", "Importance"],
                [[k, f"{v:.3f}"] for k, v in importance.items()], frozenset({1}))


def _cell(value: Any) -> str:
    if value is None:
        return MISSING
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _number(value: float | None) -> str:
    return MISSING if value is None else f"{value:.4f}"
