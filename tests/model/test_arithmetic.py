"""The explained output-size arithmetic agrees with the shapes Keras computes."""

from __future__ import annotations

import itertools
import re

import numpy as np
import pytest

from cnnctl.keras_catalog import keras
from cnnctl.model.arithmetic import explain, output_sizes, same_padding, window_of


@pytest.mark.parametrize("size,kernel,stride,padding,dilation", [
    (n, k, s, p, d)
    for n, k, s, p, d in itertools.product([7, 28], [1, 3, 5], [1, 2, 3], ["valid", "same"], [1, 2])
    if not (s > 1 and d > 1) and (p == "same" or n >= d * (k - 1) + 1)
])
def test_conv_arithmetic_matches_keras(size, kernel, stride, padding, dilation):
    layer = keras().layers.Conv2D(2, kernel, strides=stride, padding=padding, dilation_rate=dilation)
    out = layer(keras().Input((size, size, 1))).shape[1]
    window = window_of(layer)
    assert output_sizes(window, (size, size)) == (out, out)
    text = explain(window, (size, size))
    assert re.fullmatch(rf".* = {out}( \(.*\))?", text)
    assert eval(text.split(" = ")[0].replace("−", "-").replace("⌊", "(").replace("⌋", ")//1")) == out  # as it reads


def test_lecture_texts():
    conv = window_of(keras().layers.Conv2D(25, 3))
    pool = window_of(keras().layers.MaxPooling2D(2))
    assert explain(conv, (28, 28)) == "(28 − 3)/1 + 1 = 26"
    assert explain(pool, (11, 11)) == "⌊(11 − 2)/2⌋ + 1 = 5"


def test_dilation_and_same_padding_are_shown():
    dilated = window_of(keras().layers.Conv2D(1, 3, dilation_rate=2))
    assert explain(dilated, (28, 28)) == "(28 − 5)/1 + 1 = 24 (dilated kernel 2·(3 − 1) + 1 = 5)"
    same = window_of(keras().layers.Conv2D(1, 3, padding="same"))
    assert explain(same, (28, 28)) == "(28 + 2 − 3)/1 + 1 = 28 (same: ⌈28/1⌉, padding 1 before, 1 after)"
    strided = window_of(keras().layers.Conv2D(1, 3, strides=2, padding="same"))
    assert explain(strided, (28, 28)) == "(28 + 1 − 3)/2 + 1 = 14 (same: ⌈28/2⌉, padding 0 before, 1 after)"
    pool = window_of(keras().layers.MaxPooling2D(2, padding="same"))
    assert explain(pool, (24, 24)) == "(24 − 2)/2 + 1 = 12 (same: ⌈24/2⌉, no padding needed)"


@pytest.mark.parametrize("size,kernel,stride,dilation", [(28, 3, 2, 1), (7, 5, 3, 1), (8, 4, 1, 1), (9, 3, 1, 2)])
def test_same_padding_is_the_padding_keras_adds(size, kernel, stride, dilation):
    """`same` equals explicit zero padding of (before, after) followed by `valid`: the split is Keras' own."""
    k = keras()
    same = k.layers.Conv2D(1, kernel, strides=stride, padding="same", dilation_rate=dilation, use_bias=False)
    valid = k.layers.Conv2D(1, kernel, strides=stride, padding="valid", dilation_rate=dilation, use_bias=False)
    x = np.random.default_rng(0).normal(size=(1, size, size, 1)).astype("float32")
    expected = same(x)
    valid.build(x.shape)
    valid.set_weights(same.get_weights())
    padding = same_padding(window_of(same), (size, size))
    got = valid(k.layers.ZeroPadding2D(padding)(x))
    np.testing.assert_allclose(k.ops.convert_to_numpy(got), k.ops.convert_to_numpy(expected), rtol=1e-5, atol=1e-5)


def test_unequal_axes_are_explained_separately():
    window = window_of(keras().layers.Conv2D(1, (3, 1)))
    assert explain(window, (28, 20)) == "(28 − 3)/1 + 1 = 26 × (20 − 1)/1 + 1 = 20"


def test_layers_without_window():
    assert window_of(keras().layers.Dense(3)) is None
    assert window_of(keras().layers.GlobalAveragePooling2D()) is None
