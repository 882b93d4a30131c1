"""The `search:` section's own checks: what pydantic's types cannot say about a range or the metric.

Whether each end of each range makes a valid config is checked by `cnnctl tune` before its first
trial (`cnnctl.tune.space`): that needs the model built, which a config check does not do.
"""

from __future__ import annotations

from cnnctl.config.source import Origins
from cnnctl.config.spec import SearchRange, SearchSection
from cnnctl.errors import Problem, did_you_mean

KINDS = ("loguniform", "uniform", "int", "choice")
SEARCHABLE = ("data", "model", "train")  # the sections a trial may change


def range_kind(entry: SearchRange) -> str | None:
    """The one kind of range written (`int` as the user spells it), or None when none or several are."""
    written = [kind for kind in KINDS if getattr(entry, "integer" if kind == "int" else kind) is not None]
    return written[0] if len(written) == 1 else None


def check_search(search: SearchSection, logged: list[str] | None, origins: Origins) -> list[Problem]:
    """Problems of the search section, each at its line; `logged`: what a run logs (None: unknown)."""
    problems = []
    for key, entry in search.space.items():
        problems += _check_range(key, entry, origins)
    metric = search.metric
    if logged is not None and metric is not None and metric not in logged:
        problems.append(origins.problem(("search", "metric"), f"the run logs no metric named {metric!r}",
                                        did_you_mean(metric, logged) or f"it logs {', '.join(logged)}"))
    return problems


def _check_range(key: str, entry: SearchRange, origins: Origins) -> list[Problem]:
    path = ("search", "space", key)
    parts = key.split(".")
    if parts[0] not in SEARCHABLE or "" in parts or len(parts) < 2:
        return [origins.problem(path, f"{key!r} is not a config key a trial can change",
                                f"a dotted key under {', '.join(SEARCHABLE)}, as --set takes it: train.batch_size")]
    written = [kind for kind in KINDS if getattr(entry, "integer" if kind == "int" else kind) is not None]
    if len(written) != 1:
        return [origins.problem(path, f"give exactly one of {', '.join(KINDS)}"
                                + (f", not {' and '.join(written)}" if written else ""),
                                "e.g. {loguniform: [1.0e-4, 0.1]} or {choice: [32, 64]}")]
    kind = written[0]
    problems = []
    if kind != "choice":
        low, high = entry.integer if kind == "int" else getattr(entry, kind)
        if not low < high:
            problems.append(origins.problem(path + (kind,), f"low {low} is not below high {high}",
                                            "write [low, high]; a fixed value is set in the config itself"))
        if kind == "loguniform" and low <= 0:
            problems.append(origins.problem(path + (kind,), f"a log scale starts above 0, not at {low}",
                                            "use uniform, or a positive low end"))
    if entry.step is not None and kind not in ("int", "uniform"):
        problems.append(origins.problem(path + ("step",), f"step applies to int and uniform, not {kind}"))
    if kind == "int" and entry.step is not None and not float(entry.step).is_integer():
        problems.append(origins.problem(path + ("step",), f"an int range steps by whole numbers, not {entry.step}"))
    if entry.log and kind != "int":
        problems.append(origins.problem(path + ("log",), f"log applies to int; {kind} says its own scale",
                                        "use loguniform for floats"))
    if entry.log and entry.step not in (None, 1):
        problems.append(origins.problem(path + ("log",), "a log scale takes no step", "remove one of them"))
    return problems
