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
            hint, means = keras1_hint(key, args, known)
            if hint is None:
                hint = did_you_mean(str(key), list(known))
                means = {k for k in known if hint and f"'{k}'" in hint}
            meant |= means
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


def keras1_hint(key: str, args: dict[str, Any],
                known: dict[str, keras_catalog.Argument]) -> tuple[str | None, set[str]]:
    """What Keras 3 calls a Keras 1 or 2 argument (None: not one), and the arguments it stands for.

    Said, never done: cnnctl does not rewrite a config into what it guesses was meant.
    """
    if RENAMED.get(key) in known:
        return f"a Keras 1/2 name: Keras 3 calls it '{RENAMED[key]}'", {RENAMED[key]}
    if key in ("nb_row", "nb_col") and "kernel_size" in known:
        size = flow([args.get("nb_row", "nb_row"), args.get("nb_col", "nb_col")])
        return f"Keras 1's nb_row and nb_col are one argument in Keras 3: kernel_size: {size}", {"kernel_size"}
    if key == "decay" and "learning_rate" in known:  # an optimizer's: Keras 2 divided the rate by 1 + decay × step
        rate = args.get("learning_rate", args.get("lr", known["learning_rate"].default))
        schedule = {"InverseTimeDecay": {"initial_learning_rate": rate, "decay_steps": 1, "decay_rate": args[key]}}
        return (f"Keras 2's decay divided the rate by 1 + decay × step; in Keras 3 that is a schedule: remove "
                f"learning_rate and decay here and set train.lr_schedule: {flow(schedule)}; weight_decay is "
                "another thing: it shrinks the weights"), set()
    return None, set()


def mapping_hint(cls: type, name: str, value: Any) -> str:
    """How `Name: value` is written as the mapping a config needs: `Dense: 10` is `Dense: {units: 10}`.

    The value, or a list's first value, goes to the first argument Keras requires (else its first
    argument), and the other required ones are named: `Conv2D: [25, 3, 3]` is `{filters: 25,
    kernel_size: ...}`. The rest is not guessed: Keras 1's positions (25 filters of 3×3) are not Keras 3's.
    """
    known = keras_catalog.arguments(cls)
    names = [key for key, arg in known.items() if arg.required] or list(known)[:1]
    if not names:
        return f"write {name}: {{}}, or {name} alone: it takes no arguments"
    values = value if isinstance(value, list) else [value]
    first = flow(values[0]) if values else "..."
    return f"write {name}: {{{', '.join([f'{names[0]}: {first}'] + [f'{key}: ...' for key in names[1:]])}}}"


def flow(value: Any) -> str:
    """`value` as YAML flow text, as a user would type it in a config: `relu`, `[3, 3]`, `1.0e-06`."""
    import yaml

    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=1 << 16)
    return text.removesuffix("\n...\n").strip()


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
