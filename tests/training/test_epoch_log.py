"""The per-epoch row: float32 numbers as the shortest decimals that are them, timings rounded."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.keras_catalog import keras
from cnnctl.runfolder import RunFolder
from cnnctl.training.callbacks import EpochLog, float32_value
from cnnctl.training.progress import epoch_line


@pytest.mark.parametrize("value", [0.1, 0.01, 1e-05, 0.0015625, 1.0421239137649536, 3.0, 1e20])
def test_float32_values_read_short_and_stay_the_same_float32(value):
    short = float32_value(value)
    assert np.float32(short) == np.float32(value)  # nothing lost
    assert len(repr(short).replace("e-0", "e-").lstrip("0.")) <= 9  # at most float32's 9 digits


def test_the_row_holds_the_rate_as_written(tmp_path):
    model = keras().Sequential([keras().Input((2,)), keras().layers.Dense(1)])
    model.compile(optimizer=keras().optimizers.SGD(0.1), loss="mse")
    rows = []
    log = EpochLog(1000, rows.append)
    log.set_model(model)
    log.on_epoch_begin(0)
    log.on_epoch_end(0, {"loss": np.float32(0.3371212184429169), "learning_rate": np.float32(0.1)})
    row = rows[0]
    assert row["lr"] == 0.1 and row["loss"] == 0.33712122
    folder = RunFolder(tmp_path)
    folder.append_metrics(row)
    header, line = (tmp_path / "metrics.csv").read_text().splitlines()
    assert line.startswith("1,0.33712122,0.1,")
    assert "  lr 0.1  " in epoch_line(row, 3)


def test_a_halved_rate_prints_every_digit():
    row = {"epoch": 1, "loss": 0.5, "lr": float32_value(0.1 / 64), "seconds": 0.5, "images_per_second": 2000.0}
    assert "  lr 0.0015625  " in epoch_line(row, 1)
