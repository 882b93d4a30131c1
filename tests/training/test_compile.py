"""Compiling a config: the numbers a user writes reach Keras with the types Keras documents."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.keras_catalog import keras
from cnnctl.model import build_model
from cnnctl.training.compile import compile_model

NET = """\
model:
  input_shape: [4, 4, 1]
  layers: [Flatten, {Dropout: {rate: 0}}, {Dense: {units: 2, activation: softmax}}]
train:
  early_stopping: {patience: 1, min_delta: 0}
"""


@pytest.mark.parametrize("train", [
    "  optimizer: {SGD: {learning_rate: 1, momentum: 0}}\n",
    "  optimizer: {RMSprop: {rho: 0, momentum: 1}}\n",
    "  optimizer: sgd\n  lr_schedule: {PiecewiseConstantDecay: {boundaries: [1], values: [1, 0.5]}}\n",
])
def test_integers_where_keras_documents_floats_compile_and_fit_one_step(train):
    config = parse_config(NET + train)
    model = build_model(config)
    compile_model(model, config)
    x, y = np.random.default_rng(0).random((2, 4, 4, 1)), np.eye(2)
    stop = keras().callbacks.EarlyStopping(monitor="loss", **config.train.early_stopping)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=[stop])
    assert np.isfinite(history.history["loss"][0])
