"""The model's output and the loss must agree: a loss reading probabilities gets them, and the reverse."""

from __future__ import annotations

import pytest

from cnnctl.config import parse_config
from cnnctl.errors import CnnctlError
from cnnctl.model import build_model, check_output

NET = "model:\n  input_shape: [8, 8, 1]\n  layers:\n    - Flatten\n{layers}train: {{loss: {loss}}}\n"


def check(layers: str, loss: str) -> None:
    config = parse_config(NET.format(layers=layers, loss=loss))
    check_output(config, build_model(config))


@pytest.mark.parametrize("layers, loss", [
    ("    - Dense: {units: 4, activation: softmax}\n", "categorical_crossentropy"),
    ("    - Dense: {units: 4}\n    - Activation: {activation: softmax}\n", "sparse_categorical_crossentropy"),
    ("    - Dense: {units: 4}\n    - Softmax\n    - Dropout: {rate: 0.1}\n", "categorical_crossentropy"),
    ("    - Dense: {units: 1, activation: sigmoid}\n", "binary_crossentropy"),
    ("    - Dense: {units: 4}\n", "{CategoricalCrossentropy: {from_logits: true}}"),
    ("    - Dense: {units: 4, activation: softmax}\n", "mse"),  # the lecture's square error
    ("    - Dense: {units: 4}\n", "mse"),
])
def test_losses_get_the_output_they_read(layers, loss):
    check(layers, loss)


@pytest.mark.parametrize("layers, loss, expected", [
    ("    - Dense: {units: 4}\n", "categorical_crossentropy",
     "model.layers.1.Dense: the last layer (dense) outputs raw scores (activation linear) but categorical_crossentropy "
     "expects probabilities (add `activation: softmax` to dense, or use `{CategoricalCrossentropy: {from_logits: true}}`)"),
    ("    - Dense: {units: 4}\n    - Dropout: {rate: 0.5}\n", "sparse_categorical_crossentropy",
     "the last layer with an activation (dense) outputs raw scores (activation linear) but "
     "sparse_categorical_crossentropy expects probabilities (add `activation: softmax` to dense, or use "
     "`{SparseCategoricalCrossentropy: {from_logits: true}}`)"),
    ("    - Dense: {units: 1}\n", "binary_crossentropy",
     "(add `activation: sigmoid` to dense, or use `{BinaryCrossentropy: {from_logits: true}}`)"),
    ("    - Dense: {units: 4}\n    - Softmax\n", "{CategoricalCrossentropy: {from_logits: true}}",
     "model.layers.2.Softmax: the last layer (softmax) outputs probabilities (activation softmax) but "
     "CategoricalCrossentropy with from_logits: true expects raw scores"),
])
def test_a_loss_fed_the_wrong_output_is_refused_with_both_fixes(layers, loss, expected):
    with pytest.raises(CnnctlError) as info:
        check(layers, loss)
    assert expected in str(info.value)
