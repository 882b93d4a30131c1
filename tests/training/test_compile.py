"""Compiling a config (the numbers a user writes reach Keras with the types Keras documents), and the
facts about the process that training and `cnnctl bench` record."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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


def test_logged_metrics_are_the_names_keras_logs():
    config = parse_config(NET + """\
  metrics: [accuracy, {Precision: {}}, {MeanIoU: {num_classes: 2}}, top_k_categorical_accuracy,
            {TopKCategoricalAccuracy: {k: 1}}, {Recall: {name: r}}]
  validation: test
""")
    keras().backend.clear_session()  # Keras numbers a second `Precision()` in one process `precision_1`
    model = build_model(config)
    compile_model(model, config)
    x, y = np.random.default_rng(0).random((2, 4, 4, 1)), np.eye(2)
    history = model.fit(x, y, batch_size=2, epochs=1, verbose=0, validation_data=(x, y))
    assert sorted(history.history) == sorted(config.logged_metrics())
    assert "val_mean_io_u" in config.logged_metrics() and "top_k_categorical_accuracy_1" in config.logged_metrics()


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="Linux only: VmHWM in /proc/self/status")
def test_peak_memory_is_this_process_own_not_its_parents():
    """`ru_maxrss` survives fork and exec: a child started from a 512 MiB process would report at least that."""
    ballast = np.ones(512 * 2**20, np.uint8)  # resident in this process while the child starts
    code = "from cnnctl.training.compile import peak_host_memory_mb; print(peak_host_memory_mb())"
    child = float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
    del ballast
    assert 0 < child < 256  # Python, NumPy and pydantic: well under half the parent's ballast
