"""Turn the `model.layers` list into checked layer specs, asking Keras what exists.

An entry is a Keras layer class name, alone (`- Flatten`) or with its
arguments (`- Conv2D: {filters: 25, kernel_size: 3}`). Three keys are cnnctl's
own: `inputs:` (names of earlier layers to take as input), `call:` (arguments
of the layer's call, such as `training: false`, that Keras records per use) and,
as in Keras, `name:`. A nested list is spliced in place, so a block written once
under an anchor can be repeated with aliases.

`- Reuse: {layer: NAME, inputs: [...]}` applies an earlier layer again, with the
same weights: real networks share layers (siamese branches, a block applied
twice), and Keras saves such a layer once with several uses.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass, field
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import mapping_hint, parse_arguments
from cnnctl.config.source import KeyPath, Origins
from cnnctl.errors import Problem, did_you_mean

INPUT = "input"  # the name by which `inputs:` refers to the model's input
REUSE = "Reuse"  # the entry that applies an earlier layer again (shared weights); no Keras layer has this name


@dataclass(frozen=True)
class LayerSpec:
    """One layer, validated: Keras class name, unique name, arguments and where its inputs come from."""

    type: str
    name: str
    args: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] | None = None  # None: the layer before it
    path: KeyPath = ()
    call: dict[str, Any] = field(default_factory=dict)  # keyword arguments of the layer's call
    shares: str | None = None  # a `Reuse`: the name of the earlier layer applied again; `type` is its type

    @property
    def entry_key(self) -> str:
        """The key this entry is written under in the file: the class name, or `Reuse`."""
        return REUSE if self.shares else self.type

    @property
    def layer_name(self) -> str:
        """The Keras layer this entry applies: its own, or for a `Reuse` the shared one's."""
        return self.shares or self.name


def parse_layers(raw: list[Any], origins: Origins) -> tuple[list[LayerSpec], list[Problem]]:
    """Check every entry and return the specs plus every problem found (not only the first)."""
    problems: list[Problem] = []
    specs: list[LayerSpec] = []
    counters: dict[str, int] = {}
    for path, entry in _flatten(raw, ("model", "layers")):
        if isinstance(entry, dict) and len(entry) == 1 and REUSE in entry:
            spec = _parse_reuse(entry[REUSE], path, origins, problems, counters, specs)
        else:
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
    inputs = _parse_inputs(args, apath, origins, problems)
    name = args.pop("name", None)
    if name is not None and not isinstance(name, str):
        problems.append(origins.problem(apath + ("name",), "a layer name must be a string"))
        name = None
    count = counters.get(type_name, 0)
    counters[type_name] = count + 1
    if name is None:
        name = default_layer_name(classes[type_name], count)
    call = _parse_call(classes[type_name], args.pop("call", None), apath + ("call",), origins, problems)
    args, arg_problems = parse_arguments(classes[type_name], args, apath, origins, layer=True)
    problems.extend(arg_problems)
    return LayerSpec(type_name, name, args, inputs, path, call)


def _parse_inputs(args: dict[str, Any], apath: KeyPath, origins: Origins, problems: list[Problem]):
    inputs = args.pop("inputs", None)
    if inputs is None:
        return None
    if isinstance(inputs, str):
        inputs = [inputs]
    if not (isinstance(inputs, list) and inputs and all(isinstance(x, str) for x in inputs)):
        problems.append(origins.problem(apath + ("inputs",), "inputs must be a layer name or a list of them",
                                        "e.g. inputs: [conv1, skip]"))
        return None
    return tuple(inputs)


def _parse_reuse(args: Any, path: KeyPath, origins: Origins, problems: list[Problem], counters: dict[str, int],
                 earlier: list[LayerSpec]) -> LayerSpec | None:
    """`Reuse: {layer: NAME, inputs: [...], name: ..., call: {...}}`: the layer NAME applied once more."""
    apath = path + (REUSE,)
    if not isinstance(args, dict) or not isinstance(args.get("layer"), str):
        problems.append(origins.problem(apath, "Reuse names the earlier layer to apply again",
                                        "e.g. Reuse: {layer: conv1, inputs: [other]}"))
        return None
    args = dict(args)
    unknown = [key for key in args if key not in ("layer", "inputs", "name", "call")]
    for key in unknown:
        problems.append(origins.problem(apath + (key,), f"unknown key '{key}' for Reuse",
                                        "Reuse takes layer, inputs, name and call; the layer's own arguments "
                                        "are those of its first use"))
    target = args["layer"]
    shared = next((s for s in earlier if s.name == target), None)
    if shared is None:
        hint = did_you_mean(target, [s.name for s in earlier]) or "Reuse may only name a layer above it"
        problems.append(origins.problem(apath + ("layer",), f"no earlier layer named '{target}'", hint))
        return None
    shared_name = shared.layer_name
    inputs = _parse_inputs(args, apath, origins, problems)
    name = args.get("name")
    if not isinstance(name, str):
        count = counters.get(f"{REUSE}:{shared_name}", 0) + 1
        counters[f"{REUSE}:{shared_name}"] = count
        name = f"{shared_name}_use{count + 1}"
    cls = keras_catalog.classes("layers")[shared.type]
    call = _parse_call(cls, args.get("call"), apath + ("call",), origins, problems)
    return LayerSpec(shared.type, name, shared.args, inputs, path, call, shares=shared_name)


# Call arguments a config may give: values, never tensors (a mask comes from the layer before).
CALL_VALUES = (bool, int, float, str, type(None))


def _parse_call(cls: type, call: Any, path: KeyPath, origins: Origins, problems: list[Problem]) -> dict[str, Any]:
    """Keyword arguments of the layer's `call` (Keras records `training: false` for a Dropout meant to stay
    off), checked against the real signature."""
    if call is None:
        return {}
    if not isinstance(call, dict):
        problems.append(origins.problem(path, "call must be a mapping of call argument names to values",
                                        "e.g. call: {training: false}"))
        return {}
    params = inspect.signature(cls.call).parameters
    known = [name for name, p in list(params.items())[2:] if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key, value in call.items():
        if key not in known:
            hint = did_you_mean(str(key), known) or (f"{cls.__name__}.call takes: {', '.join(known)}" if known
                                                      else f"{cls.__name__}.call takes no other arguments")
            problems.append(origins.problem(path + (key,), f"unknown call argument '{key}' for {cls.__name__}", hint))
        elif not isinstance(value, CALL_VALUES):
            problems.append(origins.problem(path + (key,), "a call argument is a single value (true, 0.5, a name)"))
    return dict(call)


def _check_names(specs: list[LayerSpec], origins: Origins, problems: list[Problem]) -> None:
    seen: dict[str, LayerSpec] = {}
    for spec in specs:
        if spec.name in seen or spec.name == INPUT:
            problems.append(origins.problem(spec.path + (spec.entry_key, "name"), f"duplicate layer name '{spec.name}'",
                                            "give each layer its own name" if spec.name != INPUT
                                            else f"'{INPUT}' names the model input"))
        for ref in spec.inputs or ():
            if ref == INPUT or ref in seen:
                continue
            later = any(s.name == ref for s in specs)
            hint = ("inputs may only name layers above this one (no cycles)" if later or ref == spec.name
                    else did_you_mean(ref, list(seen) + [INPUT]) or f"known so far: {', '.join([INPUT, *seen])}")
            problems.append(origins.problem(spec.path + (spec.entry_key, "inputs"), f"no earlier layer named '{ref}'",
                                            hint))
        seen.setdefault(spec.name, spec)


def default_layer_name(cls: type, count: int) -> str:
    """The name of the `count`-th unnamed layer of a class (from 0): `conv2d`, `conv2d_1`, ..."""
    return _snake(cls.__name__) + (f"_{count}" if count else "")


def _snake(name: str) -> str:
    """Keras' own automatic names: `Conv2D` -> `conv2d`, `MaxPooling2D` -> `max_pooling2d`."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z][a-z])|(?<=[a-z])(?=[A-Z])", "_", name).lower()
