"""Read a `.keras` archive's architecture (`config.json` only) into a config: no weights, no code.

A `.keras` file is a zip holding `config.json` (the model as Keras serializes it), `metadata.json`
and `model.weights.h5`. Only `config.json` is read, as data: nothing is deserialized by Keras, so
nothing in the file can run. Lambda layers and custom objects (classes Keras does not ship) are
refused, as a config refuses them.

Keras records a functional model as layers, each with the calls ("nodes") made on it; each call's
inputs name a layer and which of its calls made them. A layer called once becomes one entry; each
further call of a shared layer becomes a `Reuse` entry; inputs that are not the entry above are
written as `inputs:`; keyword arguments recorded for a call (`training: false`) as `call:`. A nested
model is written inline, and each further call of it as `Reuse` entries of its layers.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.layers import INPUT, REUSE
from cnnctl.errors import CnnctlError, Problem, plural
from cnnctl.importing.imported import SIZES, Entry, Imported, compact_size

CONFIG_JSON = "config.json"
MAX_CONFIG_BYTES = 64 * 2**20  # NASNetLarge's config.json is under 2 MiB
MODELS = ("Sequential", "Functional", "Model")
DROPPED = {"name", "trainable", "dtype", "data_format"}  # handled by cnnctl itself, or checked on their own


# What a config.json of the wrong shape raises where this reader expects Keras' own structure.
MALFORMED = (KeyError, IndexError, TypeError, ValueError, AttributeError)


def read_keras_file(path: Path) -> Imported:
    """The config a `.keras` file's architecture describes, or `CnnctlError` (one line) why it cannot be read."""
    model = _read_config_json(path)
    where = str(path)
    _refuse_unsafe(model, where)
    try:
        return _read_model(model, path)
    except MALFORMED as exc:
        # Keras writes config.json; a file of another shape was damaged or written by something else.
        raise CnnctlError(Problem(f"{CONFIG_JSON} is not a Keras 3 model config cnnctl can read "
                                  f"({type(exc).__name__}: {exc})", where)) from exc


def _read_model(model: dict[str, Any], path: Path) -> Imported:
    where = str(path)
    if model.get("class_name") not in MODELS:
        raise CnnctlError(Problem(f"the archive holds a {model.get('class_name')!r}, not a Keras model", where))
    imported = Imported(source=path.name, name=_run_name(model.get("config", {}).get("name") or path.stem))
    config = model.get("config") or {}
    layers = config.get("layers")
    if not isinstance(layers, list) or not layers:
        raise CnnctlError(Problem("the model's config.json lists no layers", where))
    if model["class_name"] == "Sequential":
        _read_sequential(config, imported, where)
    else:
        _read_functional(config, layers, imported, where)
    _read_compile(model.get("compile_config"), imported)
    imported.comments.append("data: a .keras file holds none; set data.source (default: synthetic shapes) and end "
                             "the model with one unit per class")
    imported.note(f"{path.name}: {model['class_name']} model '{config.get('name')}', "
                  f"{plural(len(layers), 'layer')}, read from {CONFIG_JSON} only (no weights, no code)")
    return imported


def _read_config_json(path: Path) -> dict[str, Any]:
    where = str(path)
    try:
        archive = zipfile.ZipFile(path)
    except FileNotFoundError:
        raise CnnctlError(Problem("no such file", where)) from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise CnnctlError(Problem("not a .keras archive (a .keras file is a zip holding config.json)", where,
                                  hint=f"{exc}")) from None
    with archive:
        try:
            info = archive.getinfo(CONFIG_JSON)
        except KeyError:
            raise CnnctlError(Problem(f"the archive holds no {CONFIG_JSON}: not a Keras 3 .keras file", where,
                                      hint="save it with model.save('model.keras') in Keras 3")) from None
        if info.file_size > MAX_CONFIG_BYTES:
            raise CnnctlError(Problem(f"{CONFIG_JSON} is {info.file_size:,} bytes, far beyond any model's", where))
        try:
            data = json.loads(archive.read(info))
        except (ValueError, zipfile.BadZipFile, OSError) as exc:
            raise CnnctlError(Problem(f"{CONFIG_JSON} cannot be read: {exc}", where)) from None
    if not isinstance(data, dict):
        raise CnnctlError(Problem(f"{CONFIG_JSON} is not a serialized Keras model", where))
    return data


def _refuse_unsafe(node: Any, where: str) -> None:
    """Anything that would load code: a Lambda (or another layer that wraps code) or a custom object,
    at any depth (an initializer, a regularizer, an activation given as an object)."""
    if isinstance(node, list):
        for item in node:
            _refuse_unsafe(item, where)
        return
    if not isinstance(node, dict):
        return
    name = node.get("class_name")
    config = node.get("config") if isinstance(node.get("config"), dict) else {}
    if isinstance(name, str):
        if name in keras_catalog.UNSAFE_LAYERS:
            layer = node.get("name") or config.get("name") or name
            raise CnnctlError(Problem(f"layer '{layer}' is a {name}: it holds code, and cnnctl runs none from a "
                                      "file", where, hint=f"replace the {name} by Keras layers before saving"))
        module = node.get("module")
        custom = node.get("registered_name") not in (None, name) or (
            isinstance(module, str) and module != "builtins" and not module.startswith("keras"))
        if custom and name != "__keras_tensor__":
            raise CnnctlError(Problem(f"'{name}' ({node.get('registered_name') or module}) is a custom object: "
                                      "its code is not in the file and cnnctl imports none", where,
                                      hint="write it as Keras layers, or as a --plugin layer"))
        if name == "__lambda__" or "function_type" in config:
            raise CnnctlError(Problem("the file holds a serialized Python function", where))
    for value in node.values():
        _refuse_unsafe(value, where)


def _read_sequential(config: dict, imported: Imported, where: str) -> None:
    imported.input_shape = _sequential_input(config, where)
    _Graph(imported, where).sequential(config, INPUT)


def _sequential_input(config: dict, where: str) -> list[int]:
    """A Sequential's input shape: its InputLayer's, its first layer's `batch_input_shape` (Keras 2), a nested
    first model's input, or `build_input_shape`."""
    first = (config.get("layers") or [{}])[0]
    first_config = first.get("config") or {}
    shape = first_config.get("batch_shape") or first_config.get("batch_input_shape")
    if shape is None and first.get("class_name") in MODELS:
        inner = first_config.get("layers") or [{}]
        shape = (inner[0].get("config") or {}).get("batch_shape")
        if shape is None and first.get("class_name") == "Sequential":
            shape = first_config.get("build_input_shape")
    shape = shape or config.get("build_input_shape")
    if shape is None:
        raise CnnctlError(Problem("the Sequential model was saved unbuilt: its input shape is not recorded",
                                  where, hint="build it (model.build or keras.Input) before saving"))
    return _input_shape(shape, where)


def _read_functional(config: dict, layers: list[dict], imported: Imported, where: str) -> None:
    ins, outs = _endpoints(config.get("input_layers")), _endpoints(config.get("output_layers"))
    if len(ins) != 1 or len(outs) != 1:
        raise CnnctlError(Problem(f"the model has {plural(len(ins), 'input')} and {plural(len(outs), 'output')}; "
                                  "cnnctl trains image classifiers with one of each", where))
    input_layer = next((layer for layer in layers if layer.get("name") == ins[0][0]), None)
    if input_layer is None or input_layer.get("class_name") != "InputLayer":
        raise CnnctlError(Problem("the model's input is not an InputLayer", where))
    imported.input_shape = _input_shape(input_layer.get("config", {}).get("batch_shape"), where)
    graph = _Graph(imported, where)
    graph.functional(config, [INPUT])
    if graph.previous != graph.output_of_last:
        raise CnnctlError(Problem(f"the model's output ({outs[0][0]}) is not its last layer", where))


class _Graph:
    """Writes a model's calls as entries, in an order where each comes after its inputs.

    A layer's first call is its entry; each further call (a shared layer, or a nested model applied
    again) a `Reuse` entry named `LAYER_use2`, `LAYER_use3`, ... A nested model (Sequential or
    functional) is written inline: its layers, fed by what the outer model feeds it.
    """

    def __init__(self, imported: Imported, where: str):
        self.imported, self.where = imported, where
        self.previous = INPUT
        self.output_of_last: str | None = None
        self.made: dict[str, int] = {}  # layer name -> id of its config, to tell a second call from a clash
        self.uses: dict[str, int] = {}

    def functional(self, config: dict, sources: list[str]) -> str:
        """Write a functional model fed by the entries `sources`; the entry its output comes from."""
        layers = config.get("layers") or []
        ins, outs = _endpoints(config.get("input_layers")), _endpoints(config.get("output_layers"))
        if len(ins) != len(sources) or len(outs) != 1:
            raise CnnctlError(Problem(f"model '{config.get('name')}' has {plural(len(ins), 'input')} and "
                                      f"{plural(len(outs), 'output')}; cnnctl's entries take one of each", self.where))
        names = {(name, call): source for (name, call, *_), source in zip(ins, sources)}
        nodes = []  # (call, layer, its inputs, its call's keyword arguments), in the order Keras lists them
        for layer in layers:
            if layer.get("class_name") == "InputLayer":
                continue
            for call, node in enumerate(layer.get("inbound_nodes") or []):
                inputs, kwargs = _node_inputs(node, self.where, layer.get("name"))
                nodes.append((call, layer, inputs, kwargs))
        for call, layer, inputs, kwargs in _in_dependency_order(nodes, names, self.where):
            refs = [names[source] for source in inputs]
            names[(layer["name"], call)] = self.call(layer, refs, kwargs)
        self.output_of_last = names.get(tuple(outs[0][:2]))
        return self.output_of_last

    def sequential(self, config: dict, source: str) -> str:
        for layer in config.get("layers") or []:
            if layer.get("class_name") != "InputLayer":
                source = self.call(layer, [source], {})
        return source

    def call(self, layer: dict, refs: list[str], kwargs: dict[str, Any]) -> str:
        """One call of `layer` on the entries `refs`: its entry, or its nested model's entries; the name
        of the entry that makes its output."""
        kind = layer.get("class_name")
        if kind in MODELS:
            if kwargs:
                raise CnnctlError(Problem(f"nested model '{layer.get('name')}' is called with {', '.join(kwargs)}; "
                                          "cnnctl gives call arguments to layers only", self.where))
            inner = layer.get("config") or {}
            if kind == "Sequential":
                if len(refs) != 1:
                    raise CnnctlError(Problem(f"Sequential '{inner.get('name')}' takes one input", self.where))
                return self.sequential(inner, refs[0])
            return self.functional(inner, refs)
        name = layer.get("name") or (layer.get("config") or {}).get("name")
        if name == INPUT or (name in self.made and self.made[name] != id(layer)):
            raise CnnctlError(Problem(f"two layers are named '{name}' (one inside a nested model?); cnnctl's "
                                      "names are unique", self.where, hint="rename one before saving"))
        if name not in self.made:
            self.made[name] = id(layer)
            value = _layer_entry(layer, self.where)
            key, args = (value, {}) if isinstance(value, str) else next(iter(value.items()))
            args, entry_name = dict(args), name
        else:
            self.uses[name] = self.uses.get(name, 1) + 1
            entry_name = f"{name}_use{self.uses[name]}"
            key, args = REUSE, {"layer": name, "name": entry_name}
        if refs != [self.previous]:
            args["inputs"] = refs
        if kwargs:
            args["call"] = kwargs
        self.imported.layers.append(Entry({key: args} if args else key))
        self.previous = entry_name
        return entry_name


def _endpoints(value: Any) -> list[list]:
    """`input_layers` is `[name, call, tensor]` for one input and a list of them for several."""
    if isinstance(value, list) and value and isinstance(value[0], str):
        return [value]
    return list(value or [])


def _node_inputs(node: Any, where: str, layer: str) -> tuple[list[tuple[str, int]], dict[str, Any]]:
    """The (layer, call) pairs one call took as inputs and its keyword arguments, in Keras 3's format
    (`{"args": [...], "kwargs": {...}}`) or Keras 2's (`[[layer, call, tensor, kwargs], ...]`)."""
    if isinstance(node, dict):
        sources = []
        _collect_tensors(node.get("args"), sources)
        kwargs = {}
        for key, value in (node.get("kwargs") or {}).items():
            tensors: list = []
            _collect_tensors(value, tensors)
            if tensors:
                raise CnnctlError(Problem(f"layer '{layer}' is called with a tensor as {key}: cnnctl passes "
                                          "tensors only as inputs", where))
            if not (key == "mask" and value is None):
                kwargs[key] = value
        return _single_outputs(sources, where, layer), kwargs
    if isinstance(node, list):
        sources = [(item[0], item[1], item[2]) for item in node]
        kwargs = {k: v for item in node if len(item) > 3 for k, v in (item[3] or {}).items()}
        return _single_outputs(sources, where, layer), kwargs
    raise CnnctlError(Problem(f"layer '{layer}': a call cnnctl cannot read", where))


def _collect_tensors(value: Any, found: list) -> None:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        history = value["config"]["keras_history"]
        found.append((history[0], history[1], history[2]))
    elif isinstance(value, (list, tuple)):
        for item in value:
            _collect_tensors(item, found)
    elif isinstance(value, dict):
        for item in value.values():
            _collect_tensors(item, found)


def _single_outputs(sources: list, where: str, layer: str) -> list[tuple[str, int]]:
    if any(tensor for _, _, tensor in sources):
        raise CnnctlError(Problem(f"layer '{layer}' takes the second output of a layer with several; "
                                  "cnnctl's entries have one output each", where))
    return [(name, call) for name, call, _ in sources]


def _in_dependency_order(nodes: list, names: dict, where: str) -> list:
    """Calls in the order Keras lists their layers, each moved after the calls it takes input from
    (a shared layer's second call comes after the layers that feed it)."""
    done = set(names)
    pending = list(nodes)
    ordered = []
    while pending:
        for i, node in enumerate(pending):
            if all(tuple(source) in done for source in node[2]):
                ordered.append(pending.pop(i))
                done.add((node[1]["name"], node[0]))
                break
        else:
            layer = pending[0][1]["name"]
            raise CnnctlError(Problem(f"layer '{layer}' takes an input no layer makes", where))
    return ordered


def _input_shape(batch_shape: Any, where: str) -> list[int]:
    if not isinstance(batch_shape, list) or len(batch_shape) < 2:
        raise CnnctlError(Problem("the model's input shape is not recorded", where))
    shape = batch_shape[1:]
    if not all(isinstance(n, int) and n > 0 for n in shape):
        raise CnnctlError(Problem(f"the model's input shape {shape} has sizes left open (null); cnnctl builds "
                                  "for one image size", where,
                                  hint="save the model built with a fixed input_shape, e.g. (224, 224, 3)"))
    return shape


def _layer_entry(layer: dict, where: str) -> Any:
    """The entry for one layer (`Flatten` or `{Conv2D: {...}}`), its arguments those that differ from
    Keras' defaults."""
    name = layer.get("class_name")
    config = dict(layer.get("config") or {})
    classes = keras_catalog.classes("layers")
    if name not in classes:
        raise CnnctlError(Problem(f"layer '{layer.get('name')}' is a {name!r}, which keras.layers does not offer",
                                  where))
    cls = classes[name]
    if config.get("data_format", "channels_last") != "channels_last":
        raise CnnctlError(Problem(f"layer '{config.get('name')}' computes channels-first; cnnctl builds every model "
                                  "channels-last", where, hint="save the model built channels-last"))
    _check_dtype(config.get("dtype"), config.get("name"), where)
    known = keras_catalog.arguments(cls)
    args: dict[str, Any] = {}
    if config.get("name"):
        args["name"] = config["name"]
    if config.get("trainable") is False:
        args["trainable"] = False
    for key, value in config.items():
        if key in DROPPED or key not in known:
            continue
        value = _plain(value)
        if key in SIZES:
            value = compact_size(value)
        if _is_default(key, value, known[key].default):
            continue
        args[key] = value
    return {name: args} if args else name


def _check_dtype(dtype: Any, layer: Any, where: str) -> None:
    name = dtype.get("config", {}).get("name") if isinstance(dtype, dict) else dtype
    if name not in (None, "float32"):
        raise CnnctlError(Problem(f"layer '{layer}' computes in {name}; cnnctl builds float32 models (and "
                                  "train.precision: mixed for 16-bit)", where))


def _plain(value: Any) -> Any:
    """A serialized Keras object (`{"module": "keras.initializers", "class_name": "HeNormal", "config":
    {...}}`) as the short form Keras' `get` also reads: its name alone when its config is empty, else
    `{class_name, config}`. Everything else as it is."""
    if isinstance(value, dict) and "class_name" in value and "config" in value:
        config = {k: _plain(v) for k, v in (value["config"] or {}).items()}
        if not any(v is not None for v in config.values()):
            return value["class_name"]
        return {"class_name": value["class_name"], "config": config}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _is_default(key: str, value: Any, default: Any) -> bool:
    """Is a value from config.json (JSON: lists, not tuples) the argument's default? An activation
    of `linear` is the default None, and `[1, 1]` the default `(1, 1)` or 1."""
    if key in SIZES:
        default = compact_size(default)
    if key.endswith("activation") and value == "linear" and default is None:
        return True

    def norm(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return [norm(x) for x in v]
        if isinstance(v, str):
            return _canonical(v)
        return v
    return norm(value) == norm(default)


def _canonical(name: str) -> str:
    """`GlorotUniform` and `glorot_uniform`, `Zeros` and `zeros`: one name."""
    return name.replace("_", "").lower()


def _read_compile(compile_config: Any, imported: Imported) -> None:
    """Loss, optimizer and metrics, when the model was saved compiled and they are Keras' own by name."""
    if not isinstance(compile_config, dict):
        return
    loss = compile_config.get("loss")
    if isinstance(loss, str):
        imported.train["loss"] = loss
    optimizer = compile_config.get("optimizer")
    if isinstance(optimizer, dict) and isinstance(optimizer.get("class_name"), str):
        rate = (optimizer.get("config") or {}).get("learning_rate")
        if isinstance(rate, float):  # Keras keeps the rate as a float32 variable: 0.1 is saved as 0.10000000149011612
            import numpy as np

            rate = float(str(np.float32(rate)))
        cls = optimizer["class_name"]
        imported.train["optimizer"] = {cls: {"learning_rate": rate}} if isinstance(rate, (int, float)) else cls
    metrics = compile_config.get("metrics")
    if isinstance(metrics, list) and all(isinstance(m, str) for m in metrics):
        imported.train["metrics"] = metrics


def _run_name(name: str) -> str:
    import re

    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", name).lstrip("_.-")
    return cleaned or "imported"
