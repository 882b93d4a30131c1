"""What a finished study leaves in its folder: study.json (every trial, the best, parameter importance),
best.yaml (the best trial's complete config) and params.png (each parameter against the metric).

`cnnctl runs runs/<study>` reads study.json, so listing a study needs neither Optuna nor its database.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import yaml

from cnnctl.runfolder import files
from cnnctl.runfolder.atomic import write_atomic


def trial_rows(study: Any, space: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per trial, in number order: its parameters (as the config takes them), value, state,
    outcome, run folder, and the best value of the trials finished up to it."""
    from cnnctl.tune.space import config_value

    rows, best = [], None
    maximize = study.direction.name == "MAXIMIZE"
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        value = t.value if t.value is not None and math.isfinite(t.value) else None
        if t.state.name == "COMPLETE" and value is not None:
            best = value if best is None or (value > best if maximize else value < best) else best
        rows.append({"number": t.number, "state": t.state.name.lower(),
                     "params": {k: config_value(space, k, t.params[k]) for k in space if k in t.params},
                     "value": value, "best_so_far": best, "outcome": t.user_attrs.get("outcome"),
                     "run": t.user_attrs.get("run"), "retry_of": t.system_attrs.get("failed_trial"),
                     "rss_mb": t.user_attrs.get("rss_mb"), "peak_mb": t.user_attrs.get("peak_mb")})
    return rows


def best_trial(study: Any) -> Any | None:
    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    return study.best_trial if completed else None


def importance(study: Any) -> dict[str, float] | None:
    """Optuna's parameter importance (fANOVA where scikit-learn is installed, else PED-ANOVA); None with
    fewer than two completed trials or a single parameter, where it says nothing."""
    import optuna

    completed = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(completed) < 2 or len(completed[0].params) < 2:
        return None
    from importlib.util import find_spec

    # fANOVA, Optuna's default, fits scikit-learn's random forest
    evaluator = None if find_spec("sklearn") else optuna.importance.PedAnovaImportanceEvaluator()
    try:
        found = optuna.importance.get_param_importances(study, evaluator=evaluator)
    except (RuntimeError, ValueError):  # e.g. every completed trial has the same value
        return None
    return {k: round(float(v), 4) for k, v in found.items()}


def write_summary(outcome: Any) -> dict[str, Any]:
    """study.json, best.yaml and params.png in the study folder; returns study.json's record."""
    study, plan = outcome.study, outcome.plan
    space = plan.config.search.space
    rows = trial_rows(study, space)
    best = best_trial(study)
    record = {"study": outcome.name, "storage": _shown(outcome.storage), "config": plan.path,
              "metric": plan.metric, "direction": "maximize" if plan.maximize else "minimize",
              "trials_asked": outcome.trials, "trials": rows, "importance": importance(study),
              "best": None}
    folder = outcome.folder
    if best is not None:
        run = best.user_attrs.get("run")
        record["best"] = {"number": best.number, "value": best.value, "run": run,
                          "params": next(r["params"] for r in rows if r["number"] == best.number)}
        config_file = folder / run / files.CONFIG if run else None
        if config_file is not None and config_file.is_file():  # on this machine (another worker's may not be)
            resolved = yaml.safe_load(config_file.read_text(encoding="utf-8"))
            header = (f"# study {outcome.name}, trial {best.number}: {plan.metric} {best.value:.4g}\n"
                      f"# `cnnctl train {folder / files.BEST_CONFIG}` trains it again\n")
            write_atomic(folder / files.BEST_CONFIG,
                         header + yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
            record["best"]["config"] = str(folder / files.BEST_CONFIG)
    write_atomic(folder / files.STUDY_RECORD, json.dumps(record, indent=2) + "\n")
    draw_params(folder / files.STUDY_PLOT, rows, plan.metric, outcome.name)
    return record


def read_study(folder: Path) -> dict[str, Any] | None:
    """A study folder's study.json, or None where there is none (or it cannot be read)."""
    try:
        data = json.loads((folder / files.STUDY_RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("trials"), list) else None


def draw_params(path: Path, rows: list[dict[str, Any]], metric: str, title: str) -> None:
    """One panel per parameter: each completed trial's value of it against the metric; pruned trials grey."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    keys = list(dict.fromkeys(k for r in rows for k in r["params"]))
    if not keys:
        return
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3), squeeze=False)
    for ax, key in zip(axes[0], keys):
        for state, colour in (("pruned", "#bbbbbb"), ("complete", "#1f77b4")):
            points = [(r["params"][key], r["value"]) for r in rows
                      if r["state"] == state and key in r["params"] and r["value"] is not None]
            xs = [_plottable(x) for x, _ in points]
            ax.scatter(xs, [y for _, y in points], c=colour, s=18, label=state)
        if all(isinstance(r["params"].get(key), float) for r in rows if key in r["params"]) and \
                min((r["params"][key] for r in rows if key in r["params"]), default=1) > 0:
            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())  # labels at powers of ten only
        ax.set_xlabel(key, fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.tick_params(labelsize=7)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    plt.close(fig)
    tmp.replace(path)


def _plottable(value: Any) -> Any:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else str(value)


def _shown(url: str) -> str:
    from cnnctl.tune.storage import _safe

    return _safe(url)
