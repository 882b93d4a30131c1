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


def run_callbacks(m) -> tuple[dict, dict]:
    """The callbacks' part of a run's checkpoint: the divergence guard's one restore point, and
    EarlyStopping's counter and best weights."""
    weights, optimizer = m.get_weights(), [v.numpy() for v in m.optimizer.variables]
    guard = {"reference": 1.2, "halvings": [], "restored_from": None,
             "points": [{"epoch": 0, "check_loss": 1.2, "weights": len(weights), "optimizer": len(optimizer)}]}
    arrays = {f"DivergenceGuard.point0_weight_{i}": w for i, w in enumerate(weights)}
    arrays |= {f"DivergenceGuard.point0_optimizer_{i}": v for i, v in enumerate(optimizer)}
    arrays |= {f"EarlyStopping.best_weights_{i}": w for i, w in enumerate(weights)}
    return {"DivergenceGuard": guard, "EarlyStopping": {"wait": 1, "best_weights": len(weights)}}, arrays


def test_a_checkpoint_restores_weights_optimizer_and_dropout_state_in_a_fresh_model(tmp_path):
    trained = model(0)
    x, y = np.random.default_rng(0).random((8, 6, 6, 1)), np.eye(3)[[0, 1, 2, 0, 1, 2, 0, 1]]
    trained.fit(x, y, epochs=2, verbose=0)
    counters, kept = run_callbacks(trained)
    save_checkpoint(tmp_path, trained, {"epoch": 2, "wall_seconds": 1.5, "callbacks": counters}, kept)
    assert [p.name for p in tmp_path.iterdir()] == [CHECKPOINT]  # no temporary file left

    fresh = model(1)
    state, arrays = load_checkpoint(tmp_path, fresh)
    assert state == {"epoch": 2, "wall_seconds": 1.5, "callbacks": counters}
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


def test_a_checkpoint_is_checked_whole_before_anything_is_assigned(tmp_path):
    """A damaged last array is found before the weights are set: the model is left as it was."""
    trained = model(0)
    counters, kept = run_callbacks(trained)
    save_checkpoint(tmp_path, trained, {"epoch": 1, "wall_seconds": 1.0, "callbacks": counters}, kept)
    with np.load(tmp_path / CHECKPOINT) as f:
        arrays = {k: f[k] for k in f.files}
    last = f"optimizer_{len(trained.optimizer.variables) - 1}"
    del arrays[last]
    np.savez(tmp_path / CHECKPOINT, **arrays)

    fresh = model(1)
    before = fresh.get_weights()
    with pytest.raises(CnnctlError, match=f"damaged checkpoint: array {last} is missing"):
        load_checkpoint(tmp_path, fresh)
    for a, b in zip(before, fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
