"""The checkpoint file: a whole state or a clear refusal, never a half-restored model."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.errors import CnnctlError
from cnnctl.keras_catalog import keras
from cnnctl.training.checkpoint import CHECKPOINT, load_checkpoint, save_checkpoint


def model(seed: int):
    k = keras()
    k.utils.set_random_seed(seed)
    m = k.Sequential([k.Input((6, 6, 1)), k.layers.Conv2D(2, 3), k.layers.Dropout(0.5, seed=seed),
                      k.layers.Flatten(), k.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=k.optimizers.Adam(0.01), loss="categorical_crossentropy")
    m.optimizer.build(m.trainable_variables)
    return m


def test_a_checkpoint_restores_weights_optimizer_and_dropout_state_in_a_fresh_model(tmp_path):
    trained = model(0)
    x, y = np.random.default_rng(0).random((8, 6, 6, 1)), np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]
    trained.fit(x, y, epochs=2, verbose=0)
    kept = {"EarlyStopping.best_weights_0": np.arange(6.0).reshape(2, 3)}
    save_checkpoint(tmp_path, trained, {"epoch": 2, "callbacks": {"EarlyStopping": {"wait": 1}}}, kept)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]  # no temporary file left

    fresh = model(1)
    state, arrays = load_checkpoint(tmp_path, fresh)
    assert state == {"epoch": 2, "callbacks": {"EarlyStopping": {"wait": 1}}}
    assert list(arrays) == list(kept)
    np.testing.assert_array_equal(arrays["EarlyStopping.best_weights_0"], kept["EarlyStopping.best_weights_0"])
    for a, b in zip(trained.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(trained.optimizer.variables, fresh.optimizer.variables):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert int(fresh.optimizer.iterations.numpy()) == 2
    np.testing.assert_array_equal(trained.layers[1].seed_generator.state.numpy(),
                                  fresh.layers[1].seed_generator.state.numpy())


def test_missing_and_damaged_checkpoints_are_refused_in_one_line(tmp_path):
    with pytest.raises(CnnctlError, match="no checkpoint here"):
        load_checkpoint(tmp_path, model(0))
    save_checkpoint(tmp_path, model(0), {"epoch": 1})
    whole = (tmp_path / CHECKPOINT).read_bytes()
    (tmp_path / CHECKPOINT).write_bytes(whole[: len(whole) // 2])
    with pytest.raises(CnnctlError, match="damaged checkpoint"):
        load_checkpoint(tmp_path, model(0))
