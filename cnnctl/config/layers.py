"""Turn the `model.layers` list into checked layer specs, asking Keras what exists.

An entry is a Keras layer class name, alone (`- Flatten`) or with its
arguments (`- Conv2D: {filters: 25, kernel_size: 3}`). Two keys are cnnctl's
own: `inputs:` (names of earlier layers to take as input) and, as in Keras,
`name:`. A nested list is spliced in place, so a block written once under an
anchor can be repeated with aliases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import mapping_hint, parse_arguments
from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import Problem, did_you_mean

INPUT = "input"  # the name by which `inputs:` refers to the model's input


@dataclass(frozen=True)
class LayerSpec:
    """One layer, validated: Keras class name, unique name, arguments and where its inputs come from."""

    type: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] | None = None  # None: the layer before it
    path: KeyPath = ()


def parse_layers(raw: list[Any], origins: Origins) -> tuple[list[LayerSpec], list[Problem]]:
    """Check every entry and return the specs plus every problem found (not only the first)."""
    problems: list[Problem] = []
    specs: list[LayerSpec] = []
    counters: dict[str, int] = {}
    for path, entry in _flatten(raw, ("model", "layers")):
        spec = _parse_entry(entry, path, origins, problems, counters)
        if spec is None:
            continue
        specs.append(spec)
    _check_names(specs, origins, problems)
    return specs, problems


def _flatten(items: list[Any], path: KeyPath):
    for i, item in enumerate(items):
        if isinstance(item, list):
            yield from _flatten(item, path + (i,))
        else:
            yield path + (i,), item


def _parse_entry(entry: Any, path: KeyPath, origins: Origins, problems: list[Problem],
                 counters: dict[str, int]) -> LayerSpec | None:
    if isinstance(entry, str):
        type_name, args = entry, {}
    elif isinstance(entry, dict) and len(entry) == 1:
        type_name, args = next(iter(entry.items()))
        args = {} if args is None else args
        if not isinstance(args, dict):
            cls = keras_catalog.classes("layers").get(str(type_name))
            hint = mapping_hint(cls, type_name, args) if cls else f"write {type_name}: {{arg: value, ...}}"
            problems.append(origins.problem(path + (type_name,), f"arguments of {type_name} must be a mapping "
                                            "of names to values", hint))
            return None
    else:
        problems.append(origins.problem(path, "a layer entry is one Keras class name, with or without arguments",
                                        "e.g. '- Conv2D: {filters: 25, kernel_size: 3}' or '- Flatten'"))
        return None
    type_name = str(type_name)
    classes = keras_catalog.classes("layers")
    if type_name not in classes:
        hint = ("not allowed in a config: it would load or run code" if type_name in keras_catalog.UNSAFE_LAYERS
                else did_you_mean(type_name, list(classes))
                or "see keras.layers for the names, or bring your own with --plugin MODULE")
        problems.append(origins.problem(path + (type_name,), f"unknown layer '{type_name}'", hint))
        return None
    args = dict(args)
    apath = path + (type_name,)
    inputs = args.pop("inputs", None)
    if inputs is not None:
        if isinstance(inputs, str):
            inputs = [inputs]
        if not (isinstance(inputs, list) and inputs and all(isinstance(x, str) for x in inputs)):
            problems.append(origins.problem(apath + ("inputs",), "inputs must be a layer name or a list of them",
                                            "e.g. inputs: [conv1, skip]"))
            inputs = None
    name = args.pop("name", None)
    if name is not None and not isinstance(name, str):
        problems.append(origins.problem(apath + ("name",), "a layer name must be a string"))
        name = None
    count = counters.get(type_name, 0)
    counters[type_name] = count + 1
    if name is None:
        name = _snake(classes[type_name].__name__) + (f"_{count}" if count else "")
    args, arg_problems = parse_arguments(classes[type_name], args, apath, origins, layer=True)
    problems.extend(arg_problems)
    return LayerSpec(type_name, name, args, tuple(inputs) if inputs is not None else None, path)


def _check_names(specs: list[LayerSpec], origins: Origins, problems: list[Problem]) -> None:
    seen: dict[str, LayerSpec] = {}
    for spec in specs:
        if spec.name in seen or spec.name == INPUT:
            problems.append(origins.problem(spec.path + (spec.type, "name"), f"duplicate layer name '{spec.name}'",
                                            "give each layer its own name" if spec.name != INPUT
                                            else f"'{INPUT}' names the model input"))
        for ref in spec.inputs or ():
            if ref == INPUT or ref in seen:
                continue
            later = any(s.name == ref for s in specs)
            hint = ("inputs may only name layers above this one (no cycles)" if later or ref == spec.name
                    else did_you_mean(ref, list(seen) + [INPUT]) or f"known so far: {', '.join([INPUT, *seen])}")
            problems.append(origins.problem(spec.path + (spec.type, "inputs"), f"no earlier layer named '{ref}'",
                                            hint))
        seen.setdefault(spec.name, spec)


def _snake(name: str) -> str:
    """Keras' own automatic names: `Conv2D` -> `conv2d`, `MaxPooling2D` -> `max_pooling2d`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", "_", name).lower()
