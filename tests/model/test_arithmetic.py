"""The explained output-size arithmetic agrees with the shapes Keras computes."""

from __future__ import annotations

import itertools
import re

import pytest

from cnnctl.keras_catalog import keras
from cnnctl.model.arithmetic import explain, output_sizes, window_of


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
    assert re.fullmatch(rf".* = {out}( \[.*\])?", text)


def test_lecture_texts():
    conv = window_of(keras().layers.Conv2D(25, 3))
    pool = window_of(keras().layers.MaxPooling2D(2))
    assert explain(conv, (28, 28)) == "(28 − 3)/1 + 1 = 26"
    assert explain(pool, (11, 11)) == "⌊(11 − 2)/2⌋ + 1 = 5"


def test_dilation_and_same_padding_are_shown():
    dilated = window_of(keras().layers.Conv2D(1, 3, dilation_rate=2))
    assert explain(dilated, (28, 28)) == "(28 − 5)/1 + 1 = 24 [dilated kernel 2·(3 − 1) + 1 = 5]"
    same = window_of(keras().layers.Conv2D(1, 3, strides=2, padding="same"))
    assert explain(same, (28, 28)) == "⌈28/2⌉ = 14"


def test_unequal_axes_are_explained_separately():
    window = window_of(keras().layers.Conv2D(1, (3, 1)))
    assert explain(window, (28, 20)) == "(28 − 3)/1 + 1 = 26 × (20 − 1)/1 + 1 = 20"


def test_layers_without_window():
    assert window_of(keras().layers.Dense(3)) is None
    assert window_of(keras().layers.GlobalAveragePooling2D()) is None
