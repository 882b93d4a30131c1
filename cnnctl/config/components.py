"""Losses, optimizers and metrics named in the `train:` section, looked up in Keras.

A component is a name (`adam`, `mse`, `accuracy`) or a one-key mapping from a
Keras class name to its arguments (`{SGD: {learning_rate: 0.1}}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import parse_arguments
from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import Problem, did_you_mean


@dataclass(frozen=True)
class ComponentSpec:
    """A Keras object by name with its arguments; built later by `keras_catalog`."""

    kind: str  # a key of keras_catalog.NAMESPACES
    name: str
    args: dict[str, Any] = field(default_factory=dict)


def parse_component(kind: str, raw: Any, path: KeyPath, origins: Origins) -> tuple[ComponentSpec | None, list[Problem]]:
    """Resolve `raw` in the Keras namespace `kind`, checking the arguments of a class."""
    if isinstance(raw, dict):
        if len(raw) != 1:
            return None, [origins.problem(path, f"expected one {keras_catalog.SINGULAR[kind]} name with its arguments, got {len(raw)} keys",
                                          "e.g. {SGD: {learning_rate: 0.1}}")]
        (name, args), = raw.items()
        args = args or {}
    else:
        name, args = raw, {}
    classes = keras_catalog.classes(kind)
    cls = keras_catalog.lookup_class(kind, name)
    if cls is not None:
        args, problems = parse_arguments(cls, args, path + (name,) if args else path, origins)
        return ComponentSpec(kind, name, args), problems
    if args:
        hint = did_you_mean(name, list(classes)) or f"arguments go with a class name: {', '.join(classes)}"
        return None, [origins.problem(path + (name,), f"unknown {keras_catalog.SINGULAR[kind]} class '{name}'", hint)]
    if keras_catalog.known_by_keras(kind, name):
        return ComponentSpec(kind, name), []
    choices = list(classes) + list(keras_catalog.functions(kind))
    return None, [origins.problem(path, f"unknown {keras_catalog.SINGULAR[kind]} '{name}'",
                                  did_you_mean(name, choices) or f"see keras.{kind}")]


def logged_metrics(metrics: tuple[ComponentSpec, ...] | list[ComponentSpec], validation: bool) -> list[str]:
    """The names `fit` logs each epoch, as Keras' `compile` names them: `loss`, then each metric by
    the string it was given (`accuracy`) or its object's name (`{Precision: {}}` is `precision`,
    `{MeanIoU: ...}` `mean_io_u`), a repeated name with `_1`, `_2`, ...; then all of them again with
    `val_` when the run validates."""
    names, seen = ["loss"], {}
    for metric in metrics:
        name = _metric_name(metric)
        names.append(f"{name}_{seen[name]}" if name in seen else name)
        seen[name] = seen.get(name, 0) + 1
    return names + [f"val_{n}" for n in names] if validation else names


def _metric_name(metric: ComponentSpec) -> str:
    cls = keras_catalog.lookup_class(metric.kind, metric.name)
    if cls is None:
        return metric.name
    if isinstance(metric.args.get("name"), str):
        return metric.args["name"]
    default = keras_catalog.arguments(cls).get("name")
    return default.default if default and isinstance(default.default, str) else keras_catalog.default_name(cls)
