"""Resume keeps every piece of state a callback holds: halvings and restore points, EarlyStopping's best weights.

In-process: the run is stopped by a KeyboardInterrupt raised at the start
of an epoch (as a Ctrl-C is turned into one), then resumed, and compared
with a run that was never stopped. Real signals are in test_resume.py.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cnnctl import load_config, resume, train
from cnnctl.keras_catalog import keras
from tests.conftest import ROOT

SMOKE = ROOT / "configs" / "smoke.yaml"
QUIET = lambda line, kind: None  # noqa: E731


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in csv.DictReader(f)]


def stop_before(epoch: int):
    """A `progress` factory whose callback interrupts the run as epoch `epoch` (1-based) begins."""

    def factory(epochs, steps, batch_size):
        class Stop(keras().callbacks.Callback):
            def on_epoch_begin(self, e, logs=None):
                if e + 1 == epoch:
                    raise KeyboardInterrupt

        return Stop()

    return factory


def whole_and_resumed(tmp_path: Path, overrides: list[str], cut: int):
    config = load_config(SMOKE, overrides)
    whole = train(config, tmp_path, name="whole", device="cpu", say=QUIET)
    with pytest.raises(KeyboardInterrupt):
        train(config, tmp_path, name="cut", device="cpu", say=QUIET, progress=stop_before(cut))
    assert json.loads((tmp_path / "cut" / "results.json").read_text())["status"] == "interrupted"
    assert len(rows(tmp_path / "cut")) == cut - 1
    return whole, resume(tmp_path / "cut", device="cpu", say=QUIET)


def test_a_run_interrupted_after_a_halving_resumes_to_the_same_metrics(tmp_path):
    whole, resumed = whole_and_resumed(tmp_path, ["train.optimizer={SGD: {learning_rate: 100.0}}",
                                                  "train.epochs=6"], cut=4)
    halved_in = {h["epoch"] for h in whole.results.halvings}
    assert halved_in & {1, 2, 3} and halved_in & {4, 5, 6}, "the check needs halvings before and after the cut"
    assert rows(resumed.path) == rows(whole.path)
    assert resumed.results.halvings == whole.results.halvings


def test_early_stopping_keeps_its_best_weights_across_a_resume(tmp_path):
    """restore_best_weights: the final model is the best epoch's, also when that epoch came before the cut.

    With min_delta 10 no epoch after the first counts as better, so the final model is epoch 1's.
    """
    whole, resumed = whole_and_resumed(tmp_path, ["train.epochs=6", "train.early_stopping={patience: 10, "
                                                  "min_delta: 10, restore_best_weights: true}"], cut=4)
    assert rows(resumed.path) == rows(whole.path)
    k = keras()
    final = lambda run: k.saving.load_model(run.path / "model.keras").get_weights()
    for a, b in zip(final(whole), final(resumed)):
        np.testing.assert_array_equal(a, b)
    assert resumed.results.test == pytest.approx(whole.results.test)
