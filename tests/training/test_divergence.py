"""The divergence rule and the recovery: what counts as diverged, which weights come back, and resume."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cnnctl import load_config, train
from cnnctl.keras_catalog import keras
from cnnctl.training import divergence
from cnnctl.training.divergence import DivergenceGuard
from tests.conftest import ROOT

SMOKE = ROOT / "configs" / "smoke.yaml"


def tiny_model(seed: int = 0):
    k = keras()
    k.utils.set_random_seed(seed)
    m = k.Sequential([k.Input((4,)), k.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=k.optimizers.SGD(0.8), loss="categorical_crossentropy")
    m.optimizer.build(m.trainable_variables)
    return m


class Scripted(DivergenceGuard):
    """The guard with its check loss scripted, to walk through the rule without training."""

    def __init__(self, losses: list[float], halve: bool = True):
        super().__init__(halve, None, lambda line: None)
        self.losses = list(losses)
        self.said: list[str] = []
        self.say = self.said.append

    def _check_loss(self) -> float:
        return self.losses.pop(0)


def guard_on(model, losses: list[float], halve: bool = True) -> Scripted:
    guard = Scripted(losses, halve)
    guard.set_model(model)
    guard.on_train_begin()
    return guard


def epoch(guard: Scripted, e: int, running_losses: list[float], epoch_loss: float) -> None:
    guard.on_epoch_begin(e)
    for step, loss in enumerate(running_losses):
        guard.on_train_batch_end(step, {"loss": loss})
    guard.on_epoch_end(e, {"loss": epoch_loss})


def test_a_spike_in_a_good_run_is_not_a_divergence():
    """Losses near zero, one bad batch at 0.36 and an epoch ending at 0.3: all far below the untrained 2.3."""
    guard = guard_on(tiny_model(), [2.3, 0.05, 0.04, 0.3])
    epoch(guard, 0, [0.5, 0.1], 0.05)
    epoch(guard, 1, [0.03, 0.36, 0.04], 0.04)
    epoch(guard, 2, [0.2, 0.4], 0.3)
    assert guard.halvings == [] and guard.diverged is None
    assert [p.epoch for p in guard.points] == [1, 2, 3]  # the last KEEP restore points


@pytest.mark.parametrize("running, check, where", [
    ([0.5, float("nan")], [], {"step": 2}),  # NaN at a step
    ([0.5, 7.0], [], {"step": 2}),  # running loss above 3x the untrained 2.3
    ([0.5, 0.4], [8.0], {"step": None}),  # the epoch's final weights blown up
    ([0.5, 0.4], [2.3], {"step": None}),  # back at chance after a whole epoch
])
def test_what_counts_as_diverged(running, check, where):
    guard = guard_on(tiny_model(), [2.3, 0.2] + check, halve=False)
    epoch(guard, 0, [1.0], 0.8)
    epoch(guard, 1, running, 0.4)
    assert guard.diverged is not None and guard.diverged["epoch"] == 2
    assert guard.diverged["step"] == where["step"]
    assert guard.model.stop_training


def test_halving_restores_the_newest_checked_weights_and_steps_back_when_they_fail_at_once():
    model = tiny_model()
    lr = lambda: float(model.optimizer.learning_rate.numpy())
    guard = guard_on(model, [2.3, 0.5, 0.4])
    after = {}
    for e in (0, 1):
        model.set_weights([w + 1.0 for w in model.get_weights()])  # stand-in for an epoch of training
        epoch(guard, e, [0.9], 0.6)
        after[e + 1] = model.get_weights()
    assert [p.epoch for p in guard.points] == [0, 1, 2]

    guard.on_epoch_begin(2)
    model.set_weights([w * 0 + 99 for w in model.get_weights()])
    guard.on_train_batch_end(0, {"loss": float("inf")})
    assert [h["restored_epoch"] for h in guard.halvings] == [2] and lr() == pytest.approx(0.4)
    np.testing.assert_array_equal(model.get_weights()[0], after[2][0])

    guard.on_train_batch_end(3, {"loss": 50.0})  # again, before newer weights passed the check: one further back
    assert [h["restored_epoch"] for h in guard.halvings] == [2, 1] and lr() == pytest.approx(0.2)
    np.testing.assert_array_equal(model.get_weights()[0], after[1][0])
    assert guard.halvings[1] | {"loss": None} == {"epoch": 3, "step": 4, "learning_rate": pytest.approx(0.4),
                                                  "loss": None, "new_learning_rate": pytest.approx(0.2),
                                                  "restored_epoch": 1}
    assert "restored the weights of epoch 1, learning rate 0.4 -> 0.2" in guard.said[-1]


def test_halving_gives_up_after_its_limit(monkeypatch):
    monkeypatch.setattr(divergence, "MAX_HALVINGS", 2)
    guard = guard_on(tiny_model(), [2.3])
    guard.on_epoch_begin(0)
    for step in range(3):
        guard.on_train_batch_end(step, {"loss": float("nan")})
        if guard.diverged:
            break
    assert len(guard.halvings) == 2 and guard.diverged is not None


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in csv.DictReader(f)]


def test_too_high_a_rate_is_halved_until_the_net_learns_by_default(tmp_path):
    """The lecture's rule is the default: SGD at 100 on the smoke net recovers and completes above chance."""
    config = load_config(SMOKE, ["train.optimizer={SGD: {learning_rate: 100.0}}", "train.epochs=8"])
    run = train(config, tmp_path, device="cpu", say=lambda line, kind: None)
    results = run.results.to_dict()
    assert results["status"] == "completed"
    assert len(results["halvings"]) >= 3
    assert [h["new_learning_rate"] for h in results["halvings"]] == pytest.approx(
        [100 / 2 ** (i + 1) for i in range(len(results["halvings"]))])
    assert results["test"]["accuracy"] > 0.4  # chance is 0.25
    assert float(rows(run.path)[-1]["lr"]) == pytest.approx(results["halvings"][-1]["new_learning_rate"])


def test_a_first_epoch_that_barely_moved_is_noted():
    guard = guard_on(tiny_model(), [2.3, 2.25, 2.2])
    epoch(guard, 0, [2.3], 2.28)
    assert "epoch 1 barely moved the loss on the check images (2.25, untrained 2.3): SGD's learning rate" \
        in guard.said[-1]
    said = len(guard.said)
    epoch(guard, 1, [2.2], 2.21)  # only the first epoch is judged so
    assert len(guard.said) == said and guard.halvings == []


def test_a_first_epoch_that_learned_says_nothing():
    guard = guard_on(tiny_model(), [2.3, 1.5])
    epoch(guard, 0, [2.0], 1.8)
    assert guard.said == []


def bn_model():
    k = keras()
    k.utils.set_random_seed(0)
    m = k.Sequential([k.Input((4,)), k.layers.BatchNormalization(), k.layers.Dense(3, activation="softmax")])
    m.compile(optimizer=k.optimizers.SGD(0.1), loss="categorical_crossentropy")
    m.optimizer.build(m.trainable_variables)
    return m


@pytest.mark.parametrize("steps, diverged", [(56, False), (336, False), (1000, True)])
def test_batch_norm_still_settling_is_not_judged_by_the_check_images(steps, diverged):
    """Worse than untrained on the check images (2.8 > 2.3) while the epoch's loss fell to 1.9: a small
    training set's early epochs (56 steps each), batch norm's moving statistics (momentum 0.99) not yet
    the data's. After 1,000 steps they are, and the check images judge again."""
    guard = guard_on(bn_model(), [2.3, 2.8], halve=False)
    assert guard.settling_steps == 1000
    guard.model.optimizer.iterations.assign(steps)
    epoch(guard, 0, [2.1, 1.9], 1.9)
    assert (guard.diverged is not None) == diverged
    if not diverged:
        assert [p.epoch for p in guard.points] == [0, 1] and guard.said == []


@pytest.mark.parametrize("running, epoch_loss, step", [([0.5, 7.0], 0.5, 2), ([0.5, 0.4], float("nan"), None)])
def test_while_batch_norm_settles_a_blown_running_loss_or_a_nan_is_still_a_divergence(running, epoch_loss, step):
    guard = guard_on(bn_model(), [2.3, 0.5], halve=False)
    guard.model.optimizer.iterations.assign(56)
    epoch(guard, 0, running, epoch_loss)
    assert guard.diverged is not None and guard.diverged["step"] == step
