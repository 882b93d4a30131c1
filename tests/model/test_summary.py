"""Summaries equal what Keras itself reports, for the lecture net and other architectures."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.keras_catalog import keras
from cnnctl.model import build_model, summarize
from tests.conftest import LECTURE_YAML


def test_lecture_network_shapes_and_counts():
    s = summarize(parse_config(LECTURE_YAML))
    assert [r.output_shape for r in s.layers] == [(25, 26, 26), (25, 13, 13), (50, 11, 11), (50, 5, 5),
                                                  (1250,), (100,), (10,)]
    assert [r.params for r in s.layers] == [250, 0, 11_300, 0, 0, 125_100, 1_010]
    assert [r.weights_per_filter for r in s.layers if r.weights_per_filter] == [9, 225]
    assert (s.total_params, s.trainable_params, s.non_trainable_params) == (137_660, 137_660, 0)
    assert s.size_bytes == 137_660 * 4


def test_channels_last_prints_channels_last():
    s = summarize(parse_config(LECTURE_YAML.replace("channels_first", "channels_last").replace("[1, 28, 28]",
                                                                                                "[28, 28, 1]")))
    assert s.layers[0].output_shape == (26, 26, 25)
    assert s.total_params == 137_660


def _hand_written(k):
    """The same five nets written directly in Keras, to compare against."""
    L = k.layers

    def seq(shape, *layers):
        x = inp = k.Input(shape)
        for layer in layers:
            x = layer(x)
        return k.Model(inp, x)

    strided = seq((32, 32, 3), L.Conv2D(16, 5, strides=2, padding="same", activation="relu"),
                  L.AveragePooling2D(3, strides=1), L.Conv2D(8, (3, 1), strides=(2, 1)), L.GlobalAveragePooling2D(),
                  L.Dense(4))
    dilated = seq((28, 28, 1), L.Conv2D(6, 3, dilation_rate=2), L.Conv2D(6, 3, dilation_rate=(1, 3), padding="same"),
                  L.Flatten(), L.Dropout(0.5), L.Dense(10, activation="softmax"))
    bn = seq((28, 28, 1), L.Conv2D(32, 3, use_bias=False), L.BatchNormalization(), L.ReLU(), L.MaxPooling2D(),
             L.Flatten(), L.Dense(10))
    inp = k.Input((16, 16, 8))
    a = L.Conv2D(8, 3, padding="same", activation="relu")(inp)
    b = L.Conv2D(8, 3, padding="same")(a)
    c = L.Add()([inp, b])
    d = L.Concatenate()([c, L.Conv2D(4, 1)(inp)])
    residual = k.Model(inp, L.Dense(3)(L.GlobalMaxPooling2D()(d)))
    return {"strided": strided, "dilated": dilated, "bn": bn, "residual": residual}


CONFIGS = {
    "strided": """
        model:
          input_shape: [32, 32, 3]
          layers:
            - Conv2D: {filters: 16, kernel_size: 5, strides: 2, padding: same, activation: relu}
            - AveragePooling2D: {pool_size: 3, strides: 1}
            - Conv2D: {filters: 8, kernel_size: [3, 1], strides: [2, 1]}
            - GlobalAveragePooling2D
            - Dense: {units: 4}
    """,
    "dilated": """
        model:
          input_shape: [28, 28, 1]
          layers:
            - Conv2D: {filters: 6, kernel_size: 3, dilation_rate: 2}
            - Conv2D: {filters: 6, kernel_size: 3, dilation_rate: [1, 3], padding: same}
            - Flatten
            - Dropout: {rate: 0.5}
            - Dense: {units: 10, activation: softmax}
    """,
    "bn": """
        model:
          input_shape: [28, 28, 1]
          layers:
            - Conv2D: {filters: 32, kernel_size: 3, use_bias: false}
            - BatchNormalization
            - ReLU
            - MaxPooling2D
            - Flatten
            - Dense: {units: 10}
    """,
    "residual": """
        model:
          input_shape: [16, 16, 8]
          layers:
            - Conv2D: {filters: 8, kernel_size: 3, padding: same, activation: relu}
            - Conv2D: {name: b, filters: 8, kernel_size: 3, padding: same}
            - Add: {name: sum, inputs: [input, b]}
            - Conv2D: {name: side, filters: 4, kernel_size: 1, inputs: input}
            - Concatenate: {inputs: [sum, side]}
            - GlobalMaxPooling2D
            - Dense: {units: 3}
    """,
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_architectures_match_hand_written_keras(name):
    import textwrap

    config = parse_config(textwrap.dedent(CONFIGS[name]))
    ours = summarize(config)
    theirs = _hand_written(keras())[name]
    assert ours.total_params == theirs.count_params()
    trainable = sum(int(np.prod(w.shape)) for w in theirs.trainable_weights)
    assert ours.trainable_params == trainable
    theirs_layers = [layer for layer in theirs.layers if not isinstance(layer, keras().layers.InputLayer)]
    assert sorted(r.params for r in ours.layers) == sorted(layer.count_params() for layer in theirs_layers)
    assert ours.layers[-1].output_shape == tuple(theirs.output.shape[1:])


def test_batch_normalization_has_non_trainable_params():
    import textwrap

    s = summarize(parse_config(textwrap.dedent(CONFIGS["bn"])))
    assert s.non_trainable_params == 64  # moving mean and variance of 32 channels
    assert s.layers[1].params == 128


def test_residual_graph_records_inputs():
    import textwrap

    s = summarize(parse_config(textwrap.dedent(CONFIGS["residual"])))
    by_name = {r.name: r for r in s.layers}
    assert by_name["sum"].inputs == ("input", "b")
    assert by_name["concatenate"].output_shape == (16, 16, 12)


def test_same_seed_same_initial_weights():
    config = parse_config(LECTURE_YAML)
    a, b = build_model(config), build_model(config)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


SHARED = """\
model:
  input_shape: [12, 12, 3]
  layers:
    - Conv2D: {name: stem, filters: 4, kernel_size: 3, padding: same}
    - Conv2D: {name: twice, filters: 4, kernel_size: 3}
    - Reuse: {layer: twice}
    - Dropout: {rate: 0.5, call: {training: false}}
    - Flatten
    - Dense: {units: 2, activation: softmax}
"""


def test_a_reused_layer_is_one_layer_with_two_uses():
    config = parse_config(SHARED)
    model = build_model(config)
    assert [layer.name for layer in model.layers].count("twice") == 1
    assert len(model.get_layer("twice")._inbound_nodes) == 2
    s = summarize(config)
    row = s.layers[2]
    assert (row.name, row.type, row.params, row.output_shape) == ("twice_use2", "Conv2D (shares twice)", 0, (8, 8, 4))
    assert s.layers[1].output_shape == (10, 10, 4)
    assert s.total_params == 112 + 148 + 8 * 8 * 4 * 2 + 2  # the shared kernel counted once


def test_call_arguments_reach_the_layer():
    """`call: {training: false}` is recorded on the layer's use, as Keras records `layer(x, training=False)`
    (and saves it in a .keras file); a model called without a training flag keeps the Dropout off."""
    model = build_model(parse_config(SHARED))
    dropout = next(layer for layer in model.get_config()["layers"] if layer["name"] == "dropout")
    assert dropout["inbound_nodes"][0]["kwargs"] == {"training": False}
    x = np.ones((1, 12, 12, 3), "float32")
    probe = keras().Model(model.input, [model.get_layer("dropout").input, model.get_layer("dropout").output])
    before, after = probe(x)
    np.testing.assert_array_equal(np.asarray(before), np.asarray(after))
