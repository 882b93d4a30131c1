"""Build the Keras model a config describes, layer by layer, with errors that point into the config."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config import Config
from cnnctl.config.layers import INPUT, LayerSpec
from cnnctl.errors import human_bytes
from cnnctl.model.arithmetic import output_sizes, window_of


def internal_input_shape(config: Config) -> tuple[int, ...]:
    """The input shape as the model sees it: always channels-last."""
    shape = tuple(config.model.input_shape)
    if config.model.data_format == "channels_first":
        return shape[1:] + shape[:1]
    return shape


def build_model(config: Config) -> Any:
    """The `keras.Model` for `config`, weights initialised from `train.seed`.

    Always the functional API, so branches (`inputs:`) and plain stacks are
    one code path. Raises `CnnctlError` at the layer's line when Keras refuses
    an argument or a shape.
    """
    keras = keras_catalog.keras()
    keras.utils.set_random_seed(config.train.seed)
    inputs = keras.Input(internal_input_shape(config), name=INPUT)
    tensors = {INPUT: inputs}
    layers: dict[str, Any] = {}
    previous = inputs
    mixed = keras.config.dtype_policy().name.startswith("mixed")
    for spec in config.layers:
        if mixed and spec is config.layers[-1] and "dtype" not in spec.args and not spec.shares:
            # Keras' advice for mixed precision: the output layer (softmax, loss) computes in float32.
            spec = dataclasses.replace(spec, args={**spec.args, "dtype": "float32"})
        sources = [tensors[name] for name in spec.inputs] if spec.inputs else [previous]
        if spec.shares:  # a `Reuse`: the same layer object, so the same weights
            layer = layers[spec.shares]
        else:
            layer = layers[spec.name] = _make_layer(config, spec)
            _check_window_fits(config, spec, layer, sources[0])
            _check_size(config, spec, layer, sources[0])
        try:
            previous = layer(sources[0] if len(sources) == 1 else sources, **spec.call)
        except Exception as exc:  # Keras' shape errors: report them at the layer's line
            shapes = ", ".join(str(_shape(t)) for t in sources)
            raise config.error(spec.path + (spec.entry_key,),
                               f"{spec.type} cannot take input of shape {shapes}: {_first_line(exc)}") from exc
        tensors[spec.name] = previous
    _check_activations(config, tensors)
    return keras.Model(inputs, previous, name=config.name)


def _make_layer(config: Config, spec: LayerSpec) -> Any:
    cls = keras_catalog.classes("layers")[spec.type]
    try:
        return cls(name=spec.name, **spec.args)
    except Exception as exc:  # Keras validates its own arguments: its message, our location
        raise config.error(spec.path + (spec.entry_key,), f"Keras rejected the arguments: {_first_line(exc)}") from exc


def _check_window_fits(config: Config, spec: LayerSpec, layer: Any, source: Any) -> None:
    """A kernel or pool larger than its input is the commonest shape mistake: say so plainly."""
    window = window_of(layer)
    shape = _shape(source)
    if window is None or len(shape) != len(window.kernel) + 1:
        return
    sizes = shape[:-1]
    if None in sizes or all(n > 0 for n in output_sizes(window, sizes)):
        return
    size = "×".join(map(str, sizes))
    kernel = "×".join(map(str, window.effective))
    raise config.error(
        spec.path + (spec.entry_key,),
        f"{spec.type} window {kernel} does not fit its {size} input",
        config.input_order_hint()
        or "use a smaller kernel_size or pool_size, padding: same, or a larger model.input_shape")


# Far beyond any CNN this tool is for, and still far from what would exhaust memory or hang the machine.
MAX_LAYER_WEIGHTS = 500_000_000


def _check_size(config: Config, spec: LayerSpec, layer: Any, source: Any) -> None:
    """Refuse a Dense or convolution whose kernel would take gigabytes, before Keras allocates it."""
    width = getattr(layer, "units", None) or getattr(layer, "filters", None)
    inputs = _shape(source)[-1] if _shape(source) else None
    if not isinstance(width, int) or not isinstance(inputs, int):
        return
    window = 1
    for k in getattr(layer, "kernel_size", None) or ():
        window *= k
    weights = window * inputs * width
    if weights > MAX_LAYER_WEIGHTS:
        raise config.error(spec.path + (spec.entry_key,),
                           f"{spec.type} would hold {weights:,} weights ({window}×{inputs}×{width}), over cnnctl's "
                           f"limit of {MAX_LAYER_WEIGHTS:,}", "use fewer units or filters, or pool first")


# What one training batch may keep for the backward pass: the input and every layer's output, float32. Far
# beyond the CNNs this tool is for (VGG-16 at 224×224 holds 1.8 GiB at batch 32, ResNet-50 4.4 GiB), and
# refused before TensorFlow tries to allocate it (`validate` passed an input_shape of [100000, 100000, 3]).
MAX_BATCH_ACTIVATION_BYTES = 64 * 2**30


def _check_activations(config: Config, tensors: dict[str, Any]) -> None:
    """Refuse a model whose activations for one `train.batch_size` batch exceed `MAX_BATCH_ACTIVATION_BYTES`,
    at `model.input_shape` when the input alone does, else at the layer with the largest output."""
    batch = config.train.batch_size
    values = {name: math.prod(_shape(t)) for name, t in tensors.items() if None not in _shape(t)}
    total = sum(values.values()) * batch * 4
    if total <= MAX_BATCH_ACTIVATION_BYTES:
        return
    largest = max(values, key=values.get)
    spec = next((s for s in config.layers if s.name == largest), None)
    input_bytes = values.get(INPUT, 0) * batch * 4
    if spec is None or input_bytes > MAX_BATCH_ACTIVATION_BYTES:
        where, what = ("model", "input_shape"), f"the input alone {human_bytes(input_bytes)}"
    else:
        where, what = spec.path + (spec.entry_key,), f"{spec.name}'s output alone {human_bytes(values[largest] * batch * 4)}"
    raise config.error(where, f"a training batch of {batch} would hold {human_bytes(total)} of activations "
                              f"(the input and every layer's output, float32; {what}), over cnnctl's limit of "
                              f"{human_bytes(MAX_BATCH_ACTIVATION_BYTES)}",
                       "use smaller images, a smaller train.batch_size, or strides or pooling earlier")


def _shape(tensor: Any) -> tuple:
    return tuple(tensor.shape[1:])


def _first_line(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def check_output(config: Config, model: Any) -> None:
    """A classifier ends in one vector per image, with one unit per class for categorical losses."""
    shape = tuple(model.output.shape[1:])
    last = config.layers[-1]
    where = last.path + (last.type,)
    if len(shape) != 1:
        raise config.error(where, f"the model must end in one vector per image, but its output is "
                                  f"{'×'.join(map(str, shape))}",
                           "add Flatten or GlobalAveragePooling2D, then a Dense layer with one unit per class")
    if shape[0] == 1 and "categorical" in config.loss.name.lower():
        raise config.error(where, f"{config.loss.name} needs one output per class, but the last layer has 1 unit",
                           "use one unit per class with softmax, or binary_crossentropy with one sigmoid unit")
    _check_loss_reads_the_output(config, model)


PROBABILITIES = ("softmax", "sigmoid")  # what a cross-entropy without from_logits expects
RAW_SCORES = ("linear",)                # what it expects with from_logits: true
# Layer families that pass values on without changing what they are: looked through to the activation.
LOOK_THROUGH = ("regularization", "reshaping")


def _check_loss_reads_the_output(config: Config, model: Any) -> None:
    """A cross-entropy fed raw scores where it expects probabilities (or probabilities with
    `from_logits: true`) trains at chance and says nothing; the loss declares which it reads."""
    from_logits = keras_catalog.loss_from_logits(config.loss.name, config.loss.args)
    found = _output_activation(config, model)
    if from_logits is None or found is None:
        return
    spec, activation = found
    which = "the last layer" if spec is config.layers[-1] else "the last layer with an activation"
    where, loss = spec.path + (spec.entry_key,), config.loss.name
    if not from_logits and activation in RAW_SCORES:
        wanted = "sigmoid" if "binary" in loss.lower() else "softmax"
        raise config.error(where, f"{which} ({spec.name}) outputs raw scores (activation {activation}) but {loss} "
                                  f"expects probabilities",
                           f"add `activation: {wanted}` to {spec.name}, or use "
                           f"`{{{keras_catalog.loss_class(loss)}: {{from_logits: true}}}}`")
    if from_logits and activation in PROBABILITIES:
        raise config.error(where, f"{which} ({spec.name}) outputs probabilities (activation {activation}) but {loss} "
                                  f"with from_logits: true expects raw scores",
                           f"remove `from_logits: true`, or the {activation} activation of {spec.name}")


def _output_activation(config: Config, model: Any) -> tuple[LayerSpec, str] | None:
    """The layer whose activation makes the model's output, and the activation's name.

    Dropout, Flatten and their families are looked through; any other layer without an
    activation (pooling, normalization, a merge) leaves it unknown: None.
    """
    keras = keras_catalog.keras()
    index = len(config.layers) - 1
    while index >= 0:
        spec = config.layers[index]
        layer = model.get_layer(spec.layer_name)
        if isinstance(layer, keras.layers.Softmax):
            return spec, "softmax"
        if callable(getattr(layer, "activation", None)):
            name = keras.activations.serialize(layer.activation)
            return (spec, name) if isinstance(name, str) else None
        if not any(f".layers.{family}." in type(layer).__module__ for family in LOOK_THROUGH):
            return None
        if spec.inputs is None:
            index -= 1
        elif len(spec.inputs) == 1 and spec.inputs[0] != INPUT:
            index = next(i for i, s in enumerate(config.layers) if s.name == spec.inputs[0])
        else:
            return None
    return None
