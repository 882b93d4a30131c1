"""Check the arguments a config gives a Keras class against the class itself, and type them as Keras expects.

The one place every argument a config passes to Keras goes through: layers,
losses, optimizers, metrics, schedules and callbacks.
"""

from __future__ import annotations

from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.domains import outside
from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import Problem, did_you_mean


# Names from Keras 1 and 2 (and the lecture's code) that Keras 3 renamed: a hint, never accepted.
RENAMED = {"lr": "learning_rate", "output_dim": "units", "nb_filter": "filters", "border_mode": "padding",
           "subsample": "strides", "init": "kernel_initializer", "dim_ordering": "data_format", "p": "rate"}


def parse_arguments(cls: type, args: dict[str, Any], path: KeyPath, origins: Origins,
                    layer: bool = False) -> tuple[dict[str, Any], list[Problem]]:
    """The arguments as Keras expects them, and every problem: names against the real signature,
    values against the types Keras documents plainly and the ranges in `cnnctl.config.domains`.

    A number the user wrote is a number: YAML reads `1` as an int, and several Keras classes refuse
    an int where they document a float, so `typed` gives Keras the float it documents. Values Keras
    documents loosely (an activation, an initializer) are left to Keras, whose own error is reported
    at the same place when the model is built.
    """
    known = keras_catalog.arguments(cls)
    name = cls.__name__
    problems = []
    meant: set[str] = set()  # required names a misspelling probably meant: not reported missing as well
    for key, value in args.items():
        if key not in known:
            hint = did_you_mean(str(key), list(known))
            if RENAMED.get(key) in known:
                hint = f"a Keras 1/2 name: Keras 3 calls it '{RENAMED[key]}'"
            meant.update(k for k in known if hint and f"'{k}'" in hint)
            hint = hint or f"{name} takes: {', '.join(known)}"
            problems.append(origins.problem(path + (key,), f"unknown argument '{key}' for {name}", hint))
        elif layer and key == "data_format":
            problems.append(origins.problem(path + (key,), "data_format is set once, for the whole model",
                                            "use model.data_format"))
        elif known[key].types and not keras_catalog.value_matches(value, known[key].types):
            problems.append(origins.problem(path + (key,), f"expected {describe_types(known[key].types)}, "
                                                           f"got {value!r} ({yaml_type(value)})"))
        elif (domain := outside(cls, key, value, args)) is not None:
            problems.append(origins.problem(path + (key,), f"expected a number {domain}, got {value!r}",
                                            domain.why or None))
    for key, arg in known.items():
        if arg.required and key not in args and key not in meant:
            problems.append(origins.problem(path, f"{name} needs '{key}'",
                                            f"{key}: {arg.description}" if arg.description else None))
    return {key: typed(value, known.get(key)) for key, value in args.items()}, problems


def typed(value: Any, arg: keras_catalog.Argument | None) -> Any:
    """An int where Keras documents a float (`learning_rate: 1`, `momentum: 0`, `rate: 0`) becomes
    that float; so do the ints of a list of numbers that holds a float (`values: [1, 0.5, 0.1]` of
    PiecewiseConstantDecay, whose elements "should have the same type")."""
    if type(value) is int and arg is not None and arg.wants_float:
        return float(value)
    if isinstance(value, list) and any(type(v) is float for v in value) and all(type(v) in (int, float) for v in value):
        return [float(v) for v in value]
    return value


def describe_types(types: tuple[str, ...]) -> str:
    words = {"integer": "an integer", "number": "a number", "boolean": "true or false",
             "string": "a string", "array": "a list", "null": "null"}
    shown = [t for t in types if not (t == "integer" and "number" in types)]
    return " or ".join(words[t] for t in shown)


def yaml_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping", type(None): "null"}.get(type(value), type(value).__name__)
