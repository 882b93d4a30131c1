"""`cnnctl compare`: runs side by side. The config keys that differ, then the metrics with the best of
each row marked, then runs that differ only in `train.seed` gathered into seed groups, as mean ± std.

Configs are compared as their config.yaml files flattened to dotted keys (`train.optimizer.Adam.
learning_rate`, `model.layers.0.Conv2D.filters`): the resolved files hold every default, so any
difference shows, whatever the configs they came from spelt out. A metric row's best follows
`cnnctl.look.better`: names with loss or error (and the like) lowest, others (accuracy) highest; the
best epoch, epochs and wall time are shown, not judged. Nor is the loss when the runs minimise different
losses (`train.loss` differs): square error's 0.02 is not better than cross-entropy's 0.3. Seed groups
ignore the config's `name` as well and give the sample standard deviation (n − 1): a handful of seeds
estimates the spread of many.
"""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from cnnctl.errors import CnnctlError, Problem, plural
from cnnctl.look.better import best_of
from cnnctl.look.grid import MISSING, Grid, count, duration, number
from cnnctl.look.runs_table import RunRow, read_row
from cnnctl.runfolder import files, read_config
from cnnctl.runfolder.metrics import read_rows

SEED = "train.seed"
NAME = "name"
LOSS = "train.loss"
ABSENT = object()  # a key one config has and another lacks
FORMATS: dict[str, Callable[[float | None], str]] = {"metric": number, "count": count, "seconds": duration}
SPREAD_FORMATS = {"count": lambda value: f"{value:,.1f}"}  # a mean of epochs is not a whole number


@dataclass(frozen=True)
class Spread:
    """A metric over the runs of a seed group; std is None for one run."""

    mean: float
    std: float | None
    n: int


@dataclass(frozen=True)
class Line:
    """A row of the metrics table: its name, how its values are written (a key of FORMATS), a value per
    column (None: not known), and the metric whose direction says which is best (None: shown, not judged)."""

    name: str
    kind: str
    values: list[Any]  # floats for runs, Spreads for seed groups
    judged_as: str | None = None

    @property
    def best(self) -> list[int]:
        """The positions of the best values (seed groups: by their means)."""
        if self.judged_as is None:
            return []
        return best_of(self.judged_as, [v.mean if isinstance(v, Spread) else v for v in self.values])


@dataclass(frozen=True)
class Comparison:
    """Runs lined up: what `blocks` shows and `to_dict` gives."""

    labels: list[str]  # the runs' folder names (their paths where names repeat)
    paths: list[Path]
    config: dict[str, list[Any]]  # each key that differs: its value in each run (ABSENT where missing)
    lines: list[Line]  # a value per run
    groups: list[list[int]]  # the runs of each seed group, in order of their first run
    group_lines: list[Line]  # a Spread per seed group

    @property
    def only_seed_differs(self) -> bool:
        return set(self.config) - {NAME} == {SEED}

    @property
    def losses_comparable(self) -> bool:
        """Whether every run minimised the same loss, so that a lower one is better."""
        return same_loss(self.config)

    @property
    def grouped(self) -> bool:
        """Whether any seed group holds more than one run: then the group table says something."""
        return any(len(group) > 1 for group in self.groups)

    def group_label(self, group: list[int]) -> str:
        return ", ".join(self.labels[i] for i in group)


def compare(folders: list[Path]) -> Comparison:
    """Read and line up two runs or more; a folder that is not a readable run is refused in one line."""
    if len(folders) < 2:
        raise CnnctlError(Problem(f"compare needs two runs or more, got {len(folders)}",
                                  hint="cnnctl compare runs/a runs/b"))
    labels = _labels(folders)
    rows = [read_row(folder) for folder in folders]
    configs = [flatten(read_config(folder)) for folder in folders]
    config = differing(configs)
    lines = metric_lines(rows, [_final_validation(folder) for folder in folders], same_loss(config))
    groups = seed_groups(configs)
    group_lines = [Line(line.name, line.kind, [spread([line.values[i] for i in group]) for group in groups],
                        line.judged_as) for line in lines]
    return Comparison(labels, folders, config, lines, groups, group_lines)


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as {dotted key: value}: {"train": {"seed": 0}} -> {"train.seed": 0}.
    Empty ones are values of their own ([] or {})."""
    if isinstance(value, dict) and value:
        items: Iterable[tuple[Any, Any]] = value.items()
    elif isinstance(value, list) and value:
        items = enumerate(value)
    else:
        return {prefix: value}
    out: dict[str, Any] = {}
    for key, item in items:
        out |= flatten(item, f"{prefix}.{key}" if prefix else str(key))
    return out


def differing(configs: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The keys whose values are not the same in every config, in the order the files have them."""
    keys = _union(configs)
    table = {key: [config.get(key, ABSENT) for config in configs] for key in keys}
    return {key: values for key, values in table.items() if any(v != values[0] for v in values[1:])}


def seed_groups(configs: list[dict[str, Any]]) -> list[list[int]]:
    """The positions of configs that are the same but for `train.seed` and `name`, group by group."""
    def rest(config: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in config.items() if k not in (SEED, NAME)}

    groups: list[list[int]] = []
    for i, config in enumerate(configs):
        group = next((group for group in groups if rest(configs[group[0]]) == rest(config)), None)
        if group is None:
            groups.append([i])
        else:
            group.append(i)
    return groups


def same_loss(differences: dict[str, list[Any]]) -> bool:
    """Whether runs whose config keys differ as `differences` minimised the same loss: no `train.loss` key
    among them (its function, or an argument such as `label_smoothing`)."""
    return not any(key == LOSS or key.startswith(f"{LOSS}.") for key in differences)


def metric_lines(rows: list[RunRow], finals: list[dict[str, float]], losses_comparable: bool = True) -> list[Line]:
    """The metrics table: the last epoch's validation metrics, the best monitored value and its epoch,
    the final and the best model's test metrics, epochs and wall time; rows no run knows are left out.
    Without `losses_comparable` the loss rows are shown, not judged."""
    lines: list[Line] = []

    def add(name: str, kind: str, values: list[float | None], judged_as: str | None = None) -> None:
        if not losses_comparable and judged_as in ("loss", "val_loss"):
            judged_as = None
        if any(v is not None for v in values):
            lines.append(Line(name, kind, values, judged_as))

    for column in _union(finals):
        add(f"final {column}", "metric", [final.get(column) for final in finals], column)
    for monitor in dict.fromkeys(row.monitor for row in rows if row.monitor):
        add(f"best {monitor}", "metric", [row.best if row.monitor == monitor else None for row in rows], monitor)
    add("best epoch", "count", [row.best_epoch for row in rows])
    for key, scores in (("test", [row.test for row in rows]), ("best_test", [row.best_test for row in rows])):
        for metric in _union(scores):
            add(f"{key} {metric}", "metric", [score.get(metric) for score in scores], metric)
    add("epochs", "count", [row.epochs_completed for row in rows])
    add("wall time", "seconds", [row.wall_seconds for row in rows])
    return lines


def spread(values: list[float | None]) -> Spread | None:
    """Mean and sample standard deviation (n − 1) of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    if not known:
        return None
    return Spread(statistics.fmean(known), statistics.stdev(known) if len(known) > 1 else None, len(known))




def blocks(comparison: Comparison) -> list[Grid | str]:
    """What `compare` shows, in order: tables, and a line where a table would be empty."""
    c = comparison
    out: list[Grid | str] = []
    if c.config:
        out.append(Grid(f"config: {plural(len(c.config), 'key differs', 'keys differ')}", ["key", *c.labels],
                        [[key, *map(_value, values)] for key, values in c.config.items()]))
    else:
        out.append("config: the same in every run, train.seed included")
    out.append(_grid("metrics (the best of each row in bold)", c.labels, c.lines,
                     lambda line, value, _: FORMATS[line.kind](value)))
    if not c.losses_comparable:
        out.append("loss: not judged, the runs minimise different losses (train.loss differs)")
    if c.grouped:
        what = "seed groups" if len(c.groups) > 1 else "only train.seed differs" if SEED in c.config else "one config"
        sizes = [len(group) for group in c.groups]
        out.append(_grid(f"{what}: mean ± std",
                         [f"{c.group_label(group)} (n={len(group)})" for group in c.groups], c.group_lines,
                         lambda line, value, column: _spread_text(value, line.kind, sizes[column])))
    return out


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The comparison for `--json`: raw numbers, keyed by run (and by seed group), `best` naming them."""
    c = comparison
    groups = [c.group_label(group) for group in c.groups]

    def lines(lines: list[Line], names: list[str], raw: Callable[[Any], Any]) -> list[dict[str, Any]]:
        return [{"metric": line.name, "values": {n: raw(v) for n, v in zip(names, line.values) if v is not None},
                 "best": [names[i] for i in line.best]} for line in lines]

    return {"runs": [{"name": label, "path": str(path)} for label, path in zip(c.labels, c.paths)],
            "config": {key: {label: value for label, value in zip(c.labels, values) if value is not ABSENT}
                       for key, values in c.config.items()},
            "metrics": lines(c.lines, c.labels, lambda value: value),
            "only_seed_differs": c.only_seed_differs,
            "seed_groups": [[c.labels[i] for i in group] for group in c.groups],
            "seed_group_metrics": lines(c.group_lines, groups, lambda s: {"mean": s.mean, "std": s.std, "n": s.n})}


def _grid(title: str, headers: list[str], lines: list[Line], write: Callable[[Line, Any, int], str]) -> Grid:
    """A table of lines, a column of values each; the best of each line marked."""
    return Grid(title, ["metric", *headers],
                [[line.name, *(write(line, value, i) for i, value in enumerate(line.values))] for line in lines],
                right=frozenset(range(1, len(headers) + 1)),
                marked=frozenset((r, i + 1) for r, line in enumerate(lines) for i in line.best))


def _spread_text(spread: Spread | None, kind: str, size: int) -> str:
    """`0.9667 ± 0.0047`; a lone value as it is; `(n=2)` where fewer runs than the group's know it."""
    if spread is None:
        return MISSING
    write = SPREAD_FORMATS.get(kind, FORMATS[kind])
    text = write(spread.mean) if spread.std is None else f"{write(spread.mean)} ± {write(spread.std)}"
    return text if spread.n == size else f"{text} (n={spread.n})"


def _value(value: Any) -> str:
    """A config value as YAML writes a scalar: text as it is, `null`, `true`, `0.01`, `[]`."""
    if value is ABSENT:
        return MISSING
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _labels(folders: list[Path]) -> list[str]:
    """The runs' folder names, or the paths given where two runs share a name."""
    for labels in ([folder.name for folder in folders], [str(folder) for folder in folders]):
        if len(set(labels)) == len(labels):
            return labels
    twice = next(label for label in labels if labels.count(label) > 1)
    raise CnnctlError(Problem("this run is given twice", twice, hint="compare different runs"))


def _final_validation(folder: Path) -> dict[str, float]:
    """The last epoch's validation metrics from metrics.csv; none before the first epoch ends."""
    path = folder / files.METRICS
    if not path.is_file():
        return {}
    _, rows = read_rows(path)
    last = rows[-1] if rows else {}
    return {k: v for k, v in last.items() if k.startswith("val_") and math.isfinite(v)}


def _union(mappings: Iterable[dict[str, Any]]) -> list[str]:
    """Every key of the mappings, in the order they first appear."""
    return list(dict.fromkeys(key for mapping in mappings for key in mapping))
