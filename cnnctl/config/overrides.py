"""`--set key.path=value`: change any config value from the command line.

Values are typed as YAML scalars (`3` is an int, `0.1` a float, `true` a bool,
`[1, 2]` a list), exactly as if they had been written in the file.

An override changes one place. YAML aliases make several places share one
container (a block under an anchor, repeated with `*block`), so every
container on the key path is copied before it is descended into: the node
written is this path's own, and the other copies keep the anchor's values.
"""

from __future__ import annotations

from typing import Any

import yaml

from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import CnnctlError, Problem


def apply_overrides(data: Any, overrides: list[str] | tuple[str, ...], origins: Origins) -> Any:
    """Apply each `key.path=value` in order to the raw config data (a dict)."""
    if data is None:
        data = {}
    for text in overrides:
        data = _apply_one(data, text, origins)
    return data


def refuse_keys(overrides: list[str] | tuple[str, ...], allowed: tuple[str, ...], command: str, why: str) -> None:
    """Refuse, all at once, overrides of keys outside `allowed` (a key allows its sub-keys).

    For commands that take an existing run (`resume`, `evaluate`): most of its config made files that
    are already there, and a changed value would silently not apply, or not fit them.
    """
    problems = []
    for text in overrides:
        key = text.partition("=")[0].strip()
        if key and not any(key == ok or key.startswith(f"{ok}.") for ok in allowed):
            problems.append(Problem(f"{command} cannot change {key}: {why}", f"--set {text}",
                                    hint=f"{command} takes --set for {', '.join(allowed)}"))
    if problems:
        raise CnnctlError(problems)


def _apply_one(data: Any, text: str, origins: Origins) -> Any:
    where = f"--set {text}"
    key, sep, raw = text.partition("=")
    if not sep or not key.strip():
        raise CnnctlError(Problem("expected KEY=VALUE", where, hint="e.g. --set train.epochs=1"))
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        raise CnnctlError(Problem(f"value is not valid YAML: {exc}", where)) from None
    parts = key.strip().split(".")
    path: KeyPath = ()
    data = _copy(data)
    node = data
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(node, list):
            if not part.lstrip("-").isdigit() or not -len(node) <= int(part) < len(node):
                raise CnnctlError(Problem(f"'{part}' is not an index of this list of {len(node)}",
                                          where, path=".".join(parts[: i + 1]),
                                          hint=f"use 0 to {len(node) - 1}"))
            step: str | int = int(part) % len(node)
        elif isinstance(node, dict):
            step = part
            if not last and node.get(step) is None:
                node[step] = {}
        else:
            raise CnnctlError(Problem(f"'{'.'.join(parts[:i])}' holds a single value, not keys",
                                      where, path=key, hint="shorten the key path"))
        path += (step,)
        if last:
            node[step] = value
            origins.overrides[path] = where
        else:
            node[step] = _copy(node[step])
            node = node[step]
    return data


def _copy(node: Any) -> Any:
    """A shallow copy of a container, so writing into it leaves an aliased original alone."""
    return dict(node) if isinstance(node, dict) else list(node) if isinstance(node, list) else node
