"""best.keras follows the monitor in the direction the metric itself declares."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.keras_catalog import keras
from cnnctl.training.callbacks import maximized


@pytest.fixture(scope="module")
def fitted():
    k = keras()
    m = k.Sequential([k.Input((4,)), k.layers.Dense(3, activation="softmax")])
    m.compile("sgd", "categorical_crossentropy", metrics=["accuracy", k.metrics.MeanIoU(3), k.metrics.AUC(), "mse"])
    m.fit(np.random.default_rng(0).random((8, 4)), np.eye(3)[np.arange(8) % 3], verbose=0)
    return m


@pytest.mark.parametrize("monitor, up", [("loss", False), ("val_loss", False), ("val_accuracy", True),
                                         ("mean_io_u", True), ("val_auc", True), ("mse", False)])
def test_direction_comes_from_the_metric(fitted, monitor, up):
    """MeanIoU logs as `mean_io_u`, which no list of name fragments would have recognised as higher-is-better."""
    assert maximized(fitted, monitor) is up
