"""The facts `cnnctl summary` shows, taken from the built Keras model itself."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cnnctl.config import Config
from cnnctl.config.layers import INPUT
from cnnctl.model.arithmetic import explain, window_of
from cnnctl.model.build import build_model


@dataclass(frozen=True)
class LayerRow:
    name: str
    type: str
    output_shape: tuple[int | None, ...]  # in the config's data_format, without the batch axis
    params: int
    weights_per_filter: int | None  # convolutions: kernel weights one filter sees (the lecture's 9 and 225)
    arithmetic: str | None  # the output-size calculation, for sliding windows
    inputs: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    name: str
    data_format: str
    input_shape: tuple[int, ...]
    layers: tuple[LayerRow, ...]
    total_params: int
    trainable_params: int
    non_trainable_params: int
    size_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summarize(config: Config) -> Summary:
    """Build the model and report it layer by layer."""
    return summarize_model(build_model(config), config)


def summarize_model(model: Any, config: Config) -> Summary:
    """Every count is Keras' own (`count_params`, the weights' sizes), never recomputed."""
    by_name = {layer.name: layer for layer in model.layers}
    rows = []
    previous = INPUT
    uses: dict[str, int] = {}
    for spec in config.layers:
        layer = by_name[spec.layer_name]
        use = uses[spec.layer_name] = uses.get(spec.layer_name, -1) + 1
        node_input, node_output = _node_tensors(layer, use)
        in_shape = tuple(node_input.shape[1:]) if not isinstance(node_input, (list, tuple)) else ()
        rows.append(LayerRow(
            name=spec.name,
            type=f"{spec.type} (shares {spec.shares})" if spec.shares else spec.type,
            output_shape=config.in_config_order(tuple(node_output.shape[1:])),
            params=0 if spec.shares else layer.count_params(),
            weights_per_filter=_weights_per_filter(layer),
            arithmetic=_arithmetic(layer, in_shape),
            inputs=spec.inputs or (previous,),
        ))
        previous = spec.name
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    total = model.count_params()
    return Summary(
        name=config.name,
        data_format=config.model.data_format,
        input_shape=tuple(config.model.input_shape),
        layers=tuple(rows),
        total_params=total,
        trainable_params=trainable,
        non_trainable_params=total - trainable,
        size_bytes=sum(int(np.prod(w.shape)) * np.dtype(w.dtype).itemsize for w in model.weights),
    )


def _node_tensors(layer: Any, use: int) -> tuple[Any, Any]:
    """The input and output of the layer's `use`-th application (a `Reuse` is a later one).

    `layer.input` raises for a layer applied more than once, so a shared layer's are read from its nodes,
    in the order the model applied it (Keras keeps them in `_inbound_nodes`; no public accessor).
    """
    if use == 0 and len(layer._inbound_nodes) <= 1:
        return layer.input, layer.output
    node = layer._inbound_nodes[use]
    inputs, outputs = node.input_tensors, node.output_tensors
    return (inputs[0] if len(inputs) == 1 else list(inputs)), outputs[0]


def _weights_per_filter(layer: Any) -> int | None:
    kernel = getattr(layer, "kernel", None)
    filters = getattr(layer, "filters", None)
    if kernel is None or not filters:
        return None
    return int(np.prod(kernel.shape)) // filters


def _arithmetic(layer: Any, in_shape: tuple) -> str | None:
    window = window_of(layer)
    if window is None or len(in_shape) != len(window.kernel) + 1 or None in in_shape:
        return None
    return explain(window, in_shape[:-1])
