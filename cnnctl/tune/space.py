"""The search space: Optuna's distributions from `search.space`, a trial's values as `--set` overrides,
and each end of each range checked against the config before any trial starts.

A trial's config is the base config with one override per searched key, applied by the same code as
`--set` (`cnnctl.config.overrides`), so a trial trains exactly what `cnnctl train --set ...` would.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from cnnctl.config import Config
from cnnctl.config.search import range_kind
from cnnctl.config.spec import SearchRange
from cnnctl.errors import CnnctlError, Problem

PLAIN = (str, int, float, bool, type(None))  # what Optuna's categorical choices may be


def yaml_value(value: Any) -> str:
    """A value as one line of YAML that reads back as the same value.

    PyYAML writes floats that read back as floats (`1.0e-05`, never `1e-05`, which YAML 1.1 reads as text).
    """
    return yaml.safe_dump([value], default_flow_style=True, width=10**6).strip()[1:-1]


def override(key: str, value: Any) -> str:
    """`key=value`, as `--set` takes it."""
    return f"{key}={yaml_value(value)}"


def distributions(space: dict[str, SearchRange]) -> dict[str, Any]:
    """Each key's Optuna distribution. Choices that are not plain scalars (a mapping such as `{SGD: {...}}`)
    are offered to Optuna as their one-line YAML and read back by `config_value`."""
    import optuna.distributions as d

    out: dict[str, Any] = {}
    for key, entry in space.items():
        kind = range_kind(entry)
        if kind == "loguniform":
            out[key] = d.FloatDistribution(*entry.loguniform, log=True)
        elif kind == "uniform":
            out[key] = d.FloatDistribution(*entry.uniform, step=entry.step)
        elif kind == "int":
            out[key] = d.IntDistribution(*entry.integer, log=entry.log, step=int(entry.step or 1))
        else:
            out[key] = d.CategoricalDistribution([_choice(c) for c in entry.choice])
    return out


def _choice(value: Any) -> Any:
    return value if isinstance(value, PLAIN) else yaml_value(value)


def config_value(space: dict[str, SearchRange], key: str, param: Any) -> Any:
    """What Optuna's value for `key` is in the config (a choice offered as YAML text, read back)."""
    entry = space[key]
    if entry.choice is not None:
        for choice in entry.choice:
            if _choice(choice) == param:
                return choice
    return param


def trial_overrides(space: dict[str, SearchRange], params: dict[str, Any]) -> list[str]:
    """A trial's parameters as `--set` overrides, in the space's order."""
    return [override(key, config_value(space, key, params[key])) for key in space if key in params]


def ends(entry: SearchRange) -> list[tuple[str, Any]]:
    """The values that bound a range, named: its low and high ends, or every choice."""
    kind = range_kind(entry)
    if kind == "choice":
        return [(f"choice {yaml_value(c)}", c) for c in entry.choice]
    low, high = entry.integer if kind == "int" else getattr(entry, kind)
    if kind == "uniform" and entry.step:  # Optuna's highest value is the last step at or below high
        high = low + entry.step * int((high - low) / entry.step + 1e-9)
    if kind == "int":
        step = int(entry.step or 1)
        high = low + step * ((high - low) // step)
    return [(f"low end {yaml_value(low)}", low), (f"high end {yaml_value(high)}", high)]


def check_ends(config: Config, path: str | Path, overrides: tuple[str, ...]) -> None:
    """Every end of every range makes a config that validates and builds (`cnnctl validate`'s checks),
    each on its own; a problem is reported at the range's line, naming the end and what it broke."""
    from cnnctl.check import check_config

    problems: list[Problem] = []
    for key, entry in config.search.space.items():
        where = config.origins.problem(("search", "space", key), "")
        said: set[tuple] = set()  # a problem every end shares (an unknown key) is said once, at the first end
        for label, value in ends(entry):
            try:
                check_config(path, (*overrides, override(key, value)))
            except CnnctlError as exc:
                for p in exc.problems:
                    if (p.path, p.message) in said:
                        continue
                    said.add((p.path, p.message))
                    inner = f"{p.path}: " if p.path and p.path != key else ""
                    problems.append(Problem(f"at its {label}: {inner}{p.message}", where.file, where.line,
                                            where.path, p.hint))
    if problems:
        raise CnnctlError(problems)
