"""`cnnctl runs --by-config`: one row per config, its completed runs that differ only in `train.seed` pooled.

A results table reports a config, not a run: the test metric's mean ± standard deviation over the seeds
trained, the wall time, the machine it was measured on and the command that trains it again. Runs are
pooled when their config.yaml files are the same but for `name` and `train.seed`, so a run trained with
another `--set` (say `train.precision=mixed`) is a row of its own. configs/README.md's table is this one.
"""

from __future__ import annotations

import json
import shlex
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnctl.errors import CnnctlError
from cnnctl.look.grid import MISSING, Grid, count, duration
from cnnctl.look.runs_table import RunRow
from cnnctl.runfolder import read_config, read_results

HEADERS = ("Config", "Seeds", "Params", "Epochs", "Test", "Best model, test", "Wall (mean)", "Precision",
           "Machine", "Command")


@dataclass(frozen=True)
class Trained:
    """A completed run, with what pooling and the command need that the listing's row does not hold."""

    row: RunRow
    seed: int | None
    overrides: list[str]  # its `--set`s but the seed
    precision: str | None
    machine: str | None
    key: str  # its config.yaml but name and seed: equal keys, pooled runs


@dataclass(frozen=True)
class ConfigGroup:
    runs: list[Trained]  # in seed order

    @property
    def first(self) -> Trained:
        return self.runs[0]

    @property
    def metric(self) -> str | None:
        """The test metric the row reports: the first run's headline (its first metric that is not the loss)."""
        return self.first.row.headline[0] if self.first.row.headline else None

    def values(self, best: bool = False) -> list[float]:
        metric = self.metric
        return [value for run in self.runs
                if (value := (run.row.best_test if best else run.row.test).get(metric)) is not None]

    def to_dict(self) -> dict[str, Any]:
        """The row for `--json`: raw numbers, the runs by name."""
        def stats(values: list[float]) -> dict[str, float | None]:
            return {"mean": statistics.mean(values) if values else None,
                    "std": statistics.stdev(values) if len(values) > 1 else None}

        walls = [run.row.wall_seconds for run in self.runs if run.row.wall_seconds is not None]
        return {"config": self.first.row.config, "runs": [run.row.name for run in self.runs],
                "seeds": [run.seed for run in self.runs], "parameters": self.first.row.parameters,
                "epochs": [run.row.epochs_completed for run in self.runs], "metric": self.metric,
                "test": stats(self.values()), "best_test": stats(self.values(best=True)),
                "wall_seconds": statistics.mean(walls) if walls else None,
                "precision": _same(run.precision for run in self.runs),
                "machine": _same(run.machine for run in self.runs), "command": self.command()}

    def command(self) -> str:
        """`cnnctl train CONFIG --set ...` that trains a row's run again, the seed left as S when several."""
        seeds = [run.seed for run in self.runs]
        seed = [] if seeds == [None] else [f"train.seed={seeds[0] if len(seeds) == 1 else 'S'}"]
        words = ["cnnctl", "train", self.first.row.config or MISSING]
        for override in [*self.first.overrides, *seed]:
            words += ["--set", override]
        return shlex.join(words)


def trained(rows: list[RunRow]) -> list[Trained]:
    """The completed runs among `rows`, with their seed, overrides and pooling key; unreadable ones left out
    (the plain listing names them)."""
    out = []
    for row in rows:
        if row.status != "completed":
            continue
        try:
            config, results = read_config(row.path), read_results(row.path)
        except CnnctlError:
            continue
        train = config.get("train") if isinstance(config.get("train"), dict) else {}
        seed = train.get("seed")
        key = {**config, "name": None, "train": {**train, "seed": None}}
        overrides = [o for o in results.overrides if isinstance(o, str) and not o.startswith("train.seed=")]
        environment = results.environment if isinstance(results.environment, dict) else {}
        out.append(Trained(row, seed if isinstance(seed, int) else None, overrides,
                           results.precision if isinstance(results.precision, str) else None,
                           environment.get("machine") if isinstance(environment.get("machine"), str) else None,
                           json.dumps(key, sort_keys=True, default=str)))
    return out


def group(runs: list[Trained], by_path: bool = False, reverse: bool = False) -> list[ConfigGroup]:
    """Runs pooled by key, in the order their configs first appear (`by_path`: by the config file's path,
    what `--sort name` means for a table whose rows are named by it); each group's runs by seed."""
    groups: dict[str, list[Trained]] = {}
    for run in runs:
        groups.setdefault(run.key, []).append(run)
    pooled = [ConfigGroup(sorted(members, key=lambda run: (run.seed is None, run.seed or 0)))
              for members in groups.values()]
    if by_path:  # stable: the same file trained with other --sets keeps the order of its first runs
        pooled.sort(key=lambda g: g.first.row.config or "", reverse=reverse)
    return pooled


def config_grid(groups: list[ConfigGroup], runs_dir: Path) -> Grid:
    """The table of `--by-config`, one row per group."""
    return Grid(title=f"{len(groups)} configs from the completed runs in {runs_dir}/", headers=list(HEADERS),
                rows=[_cells(g) for g in groups], right=frozenset({1, 2, 3, 6}))


def mean_std(values: list[float]) -> str:
    """`0.9012 ± 0.0021` (the sample standard deviation) over several values, the value alone for one."""
    if not values:
        return MISSING
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def _cells(g: ConfigGroup) -> list[str]:
    row = g.to_dict()
    test = MISSING if g.metric is None else f"{g.metric} {mean_std(g.values())}"
    best = mean_std(g.values(best=True)) if g.metric else MISSING
    return [row["config"] or MISSING, ", ".join(MISSING if s is None else str(s) for s in row["seeds"]),
            count(row["parameters"]), _epochs(g), test, best, duration(row["wall_seconds"]),
            row["precision"] or MISSING, row["machine"] or MISSING, row["command"]]


def _epochs(g: ConfigGroup) -> str:
    """The epochs trained; a range when early stopping ended the seeds' runs at different epochs."""
    done = sorted({run.row.epochs_completed for run in g.runs if run.row.epochs_completed is not None})
    if not done:
        return MISSING
    return str(done[0]) if len(done) == 1 else f"{done[0]}–{done[-1]}"


def _same(values: Any) -> str | None:
    """One value when every run says the same, else each different value once; None when none says."""
    seen = list(dict.fromkeys(v for v in values if v))
    return ", ".join(seen) if seen else None
