"""Check the arguments a config gives a Keras class against the class itself."""

from __future__ import annotations

from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import Problem, did_you_mean


# Names from Keras 1 and 2 (and the lecture's code) that Keras 3 renamed: a hint, never accepted.
RENAMED = {"lr": "learning_rate", "output_dim": "units", "nb_filter": "filters", "border_mode": "padding",
           "subsample": "strides", "init": "kernel_initializer", "dim_ordering": "data_format", "p": "rate"}


def check_arguments(cls: type, args: dict[str, Any], path: KeyPath, origins: Origins,
                    layer: bool = False) -> list[Problem]:
    """Names against the real signature; values against the types Keras documents plainly.

    Values Keras documents loosely (an activation, an initializer) are left to
    Keras, whose own error is reported at the same place when the model is built.
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
    for key, arg in known.items():
        if arg.required and key not in args and key not in meant:
            problems.append(origins.problem(path, f"{name} needs '{key}'",
                                            f"{key}: {arg.description}" if arg.description else None))
    return problems


def describe_types(types: tuple[str, ...]) -> str:
    words = {"integer": "an integer", "number": "a number", "boolean": "true or false",
             "string": "a string", "array": "a list", "null": "null"}
    shown = [t for t in types if not (t == "integer" and "number" in types)]
    return " or ".join(words[t] for t in shown)


def yaml_type(value: Any) -> str:
    return {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "mapping", type(None): "null"}.get(type(value), type(value).__name__)
