"""`resume --set`: more epochs continue a run (a completed one too), written into its config.yaml;
keys whose change would not fit the checkpoint are refused, one line each."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import yaml

from cnnctl import load_config, train
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
QUIET = lambda line, kind: None  # noqa: E731


def rows(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in csv.DictReader(f)]


def test_more_epochs_continue_a_completed_run_as_if_it_had_asked_for_them(tmp_path):
    whole = train(load_config(SMOKE, ["train.epochs=3"]), tmp_path, name="whole", device="cpu", say=QUIET)
    short = train(load_config(SMOKE, ["train.epochs=2"]), tmp_path, name="short", device="cpu", say=QUIET)
    assert short.results.status == "completed"

    result = cli("resume", short.path, "--set", "train.epochs=3", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output + repr(result.exception)
    assert [line for line in result.stdout.splitlines() if line.startswith("epoch ")][0].startswith("epoch 3/3  ")
    assert rows(short.path) == rows(whole.path)
    results = json.loads((short.path / "results.json").read_text())
    assert results["status"] == "completed" and results["epochs_completed"] == 3
    assert results["test"] == whole.results.test
    assert [(r["at_epoch"], r["was"], r["set"]) for r in results["resumed"]] == [(2, "completed", ["train.epochs=3"])]
    assert yaml.safe_load((short.path / "config.yaml").read_text())["train"]["epochs"] == 3  # later resumes see it

    again = cli("resume", short.path)  # the config.yaml's own epochs are done: nothing to go on with
    assert again.exit_code == 2 and "this run is completed: nothing to resume" in again.stderr
    fewer = cli("resume", short.path, "--set", "train.epochs=2")
    assert fewer.exit_code == 2 and "this run is completed: nothing to resume" in fewer.stderr


def test_keys_that_would_not_fit_the_checkpoint_are_refused(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    config = "train: {epochs: 2}\n"
    (folder / "config.yaml").write_text(config)
    result = cli("resume", folder, "--set", "model.layers.0.Conv2D.filters=4", "--set", "train.epochs=5",
                 "--set", "train.optimizer=sgd")
    assert result.exit_code == 2
    errors = result.stderr.splitlines()
    assert len(errors) == 2, errors
    assert errors[0].startswith("error: --set model.layers.0.Conv2D.filters=4: resume cannot change "
                                "model.layers.0.Conv2D.filters: the checkpoint holds weights and optimizer state")
    assert "resume takes --set for train.epochs, train.early_stopping" in errors[0]
    assert errors[1].startswith("error: --set train.optimizer=sgd: resume cannot change train.optimizer: ")
    assert (folder / "config.yaml").read_text() == config
