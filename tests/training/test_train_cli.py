"""`cnnctl train` end to end on the built-in synthetic data: it learns, and its run folder holds up."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import yaml

from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"


def train(tmp_path, *args: str):
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--quiet", *args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def rows(folder):
    with (folder / "metrics.csv").open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("smoke")
    result = train(tmp, "--device", "cpu")  # its tests check CPU facts, and evaluate's equality holds on one device
    return tmp / "runs" / "smoke", result


def test_smoke_run_learns(smoke_run):
    folder, result = smoke_run
    results = json.loads((folder / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["test"]["accuracy"] > 0.6  # 4 classes: chance is 0.25
    precision, first_epoch = result.stdout.splitlines()[:2]
    assert precision.startswith(f"precision: {results['precision']}") and "; auto: " in precision  # the default
    assert first_epoch.startswith("epoch 1/4  ")
    final, best = result.stdout.splitlines()[-2:]
    assert final.startswith("test, final model (epoch 4): accuracy ")
    assert best.startswith(f"test, best model (epoch {results['best_epoch']}, val_loss ")


def test_the_best_model_is_tested_too(smoke_run):
    """The last epoch is not always the best: results.json holds both scores, each as `evaluate` finds it."""
    folder, _ = smoke_run
    results = json.loads((folder / "results.json").read_text())
    for flags, key in (((), "test"), (("--best",), "best_test")):
        result = cli("evaluate", folder, "--json", *flags)
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["metrics"] == pytest.approx(results[key], rel=1e-5), key


def test_run_folder_is_complete_and_consistent(smoke_run):
    folder, _ = smoke_run
    assert {p.name for p in folder.iterdir()} == {"config.yaml", "summary.txt", "summary.json", "metrics.csv",
                                                  "model.keras", "best.keras", "results.json",
                                                  "checkpoint.npz", ".lock", "evaluation.json", "curves.png",
                                                  "confusion.png", "errors.png", "errors.csv"}
    metrics = rows(folder)
    assert [int(r["epoch"]) for r in metrics] == [1, 2, 3, 4]
    assert {"loss", "accuracy", "val_loss", "val_accuracy", "lr", "seconds"} <= set(metrics[0])
    results = json.loads((folder / "results.json").read_text())
    best = min(metrics, key=lambda r: float(r["val_loss"]))
    assert results["best_epoch"] == int(best["epoch"])
    assert math.isclose(results["best"]["val_loss"], float(best["val_loss"]), rel_tol=1e-6)
    assert results["epochs_completed"] == 4 and results["device"] == "CPU"
    assert set(results["environment"]) >= {"python", "tensorflow", "keras", "cnnctl", "git_commit"}
    assert results["seconds_to_first_step"] > 0
    assert results["peak_rss_mb"] > 100  # TensorFlow alone takes more
    summary = json.loads((folder / "summary.json").read_text())
    from cnnctl.keras_catalog import keras

    model = keras().saving.load_model(folder / "model.keras")
    assert summary["total_params"] == model.count_params()
    assert f"Total params: {model.count_params():,}" in (folder / "summary.txt").read_text()
    config = yaml.safe_load((folder / "config.yaml").read_text())
    assert config["train"]["batch_size"] == 32 and config["train"]["on_divergence"] == "halve"


def test_numbers_in_the_run_folder_read_as_written(smoke_run):
    """Float32 values as their shortest decimals (0.01, not 0.009999999776482582), images/s to 0.1."""
    folder, _ = smoke_run
    results = json.loads((folder / "results.json").read_text())
    assert {r["lr"] for r in rows(folder)} == {"0.01"}
    assert str(results["images_per_second"]) == f"{results['images_per_second']:.1f}"  # a median of two is their mean
    for value in [*results["test"].values(), *results["best_test"].values(), *results["best"].values()]:
        assert float(str(np.float32(value))) == value


def test_evaluate_reproduces_the_test_metrics(smoke_run):
    folder, _ = smoke_run
    result = cli("evaluate", folder, "--json")
    assert result.exit_code == 0, result.output
    results = json.loads((folder / "results.json").read_text())
    assert json.loads(result.stdout)["metrics"] == pytest.approx(results["test"], rel=1e-5)


def test_evaluate_set_tests_on_other_data_and_changes_no_file(smoke_run):
    folder, _ = smoke_run
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    full = json.loads(cli("evaluate", folder, "--json").stdout)
    result = cli("evaluate", folder, "--json", "--set", "data.limit=40", "--set", "train.batch_size=8")
    assert result.exit_code == 0, result.output
    limited = json.loads(result.stdout)
    assert limited["metrics"]["loss"] != full["metrics"]["loss"] and limited["macro"]["support"] == 40  # not 300
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before


def test_evaluate_refuses_keys_that_would_change_the_saved_model(smoke_run):
    folder, _ = smoke_run
    result = cli("evaluate", folder, "--set", "train.epochs=9")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --set train.epochs=9: evaluate cannot change train.epochs: it "
                                    "tests the saved model as it is (evaluate takes --set for data, train.batch_size)")


@pytest.mark.slow
def test_same_seed_same_metrics_and_new_folder(tmp_path):
    train(tmp_path, "--set", "train.epochs=2", "--device", "cpu")  # exact equality holds on one device
    train(tmp_path, "--set", "train.epochs=2", "--device", "cpu")
    first, second = tmp_path / "runs" / "smoke", tmp_path / "runs" / "smoke-2"
    strip = lambda rs: [{k: v for k, v in r.items() if k not in ("seconds", "images_per_second")} for r in rs]
    assert strip(rows(first)) == strip(rows(second))
    assert len(rows(first)) == 2
    assert yaml.safe_load((first / "config.yaml").read_text())["train"]["epochs"] == 2


@pytest.mark.parametrize("loss", ["mse", "categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_losses_train_with_labels_encoded_for_them(tmp_path, loss):
    train(tmp_path, "--set", f"train.loss={loss}", "--set", "train.epochs=3", "--name", loss)
    results = json.loads((tmp_path / "runs" / loss / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["test"]["accuracy"] > 0.4


def test_learning_rate_column_follows_the_schedule(tmp_path):
    train(tmp_path, "--set", "train.epochs=3", "--set", "train.optimizer=adam", "--set",
          "train.lr_schedule={ExponentialDecay: {initial_learning_rate: 0.01, decay_steps: 34, decay_rate: 0.5}}")
    lrs = [float(r["lr"]) for r in rows(tmp_path / "runs" / "smoke")]
    steps = json.loads((tmp_path / "runs" / "smoke" / "results.json").read_text())["steps_per_epoch"]
    assert steps == 33  # 1080 training images / 32, full batches only
    assert lrs == pytest.approx([0.01 * 0.5 ** (e * steps / 34) for e in (1, 2, 3)], rel=1e-5)


def test_divergence_stops_with_status_and_message(tmp_path):
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--quiet",
                 "--set", "train.optimizer={SGD: {learning_rate: 100.0}}", "--set", "train.on_divergence=stop")
    assert result.exit_code == 3
    assert "diverged: loss " in result.stdout and " at epoch 1, step " in result.stdout
    results = json.loads((tmp_path / "runs" / "smoke" / "results.json").read_text())
    assert results["status"] == "diverged" and results["diverged_at"]["learning_rate"] == pytest.approx(100)
    assert len(rows(tmp_path / "runs" / "smoke")) == 1


def test_mistakes_leave_no_run_folder(tmp_path):
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--set", "model.layers.4.Dense.units=3")
    assert result.exit_code == 2
    assert "the last layer gives 3 outputs but the data has 4 classes" in result.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


def test_gpu_request_without_gpu_is_a_clear_error(tmp_path):
    from cnnctl.keras_catalog import keras

    import tensorflow as tf

    keras()
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("this machine has a GPU")
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--device", "gpu")
    assert result.exit_code == 2
    assert "TensorFlow sees no GPU" in result.stderr


@pytest.mark.slow
def test_reduce_on_plateau_and_early_stopping_are_keras_callbacks(tmp_path):
    # min_delta 10: no epoch after the first counts as an improvement
    train(tmp_path, "--set", "train.epochs=4", "--set",
          "train.lr_schedule={ReduceLROnPlateau: {factor: 0.5, patience: 0, min_delta: 10}}")
    assert [float(r["lr"]) for r in rows(tmp_path / "runs" / "smoke")] == pytest.approx([0.01, 0.01, 0.005, 0.0025])
    train(tmp_path, "--set", "train.epochs=4", "--set", "train.early_stopping={patience: 1, min_delta: 10}",
          "--name", "early")
    assert len(rows(tmp_path / "runs" / "early")) == 2


def test_mixed_precision_is_announced_and_recorded(tmp_path, monkeypatch):
    """And on a CPU without native bfloat16 (as flagged in /proc/cpuinfo), said to be emulated and slow."""
    from cnnctl.training import run

    monkeypatch.setattr(run, "cpu_computes_bf16", lambda: False)
    result = train(tmp_path, "--set", "train.precision=mixed", "--set", "train.epochs=2", "--device", "cpu")
    results = json.loads((tmp_path / "runs" / "smoke" / "results.json").read_text())
    assert results["precision"] == "mixed_bfloat16" and "precision: mixed_bfloat16" in result.stdout
    assert "warning: this CPU has no native bfloat16 arithmetic" in result.stdout
    assert results["test"]["accuracy"] > 0.5


@pytest.mark.slow
def test_steps_per_execution_changes_nothing_but_speed(tmp_path):
    """135 steps per epoch (batch 8): 5 per call divides it; 50 comes down to 9, a divisor within a tenth."""
    for k in (1, 5, 50):
        train(tmp_path, "--set", f"train.execution.steps_per_execution={k}", "--set", "train.batch_size=8",
              "--set", "train.epochs=2", "--name", f"k{k}", "--device", "cpu")  # equality: one device
    strip = lambda rs: [{key: v for key, v in r.items() if key not in ("seconds", "images_per_second")} for r in rs]
    runs = tmp_path / "runs"
    assert strip(rows(runs / "k1")) == strip(rows(runs / "k5")) == strip(rows(runs / "k50"))
    executions = [json.loads((runs / f"k{k}" / "results.json").read_text())["execution"] for k in (1, 5, 50)]
    assert [e["steps_per_execution"] for e in executions] == [1, 5, 9]


def test_data_dir_option_is_recorded_as_the_override(tmp_path):
    result = cli("train", SMOKE, "--runs-dir", tmp_path / "runs", "--quiet", "--set", "train.epochs=1",
                 "--data-dir", tmp_path)
    assert result.exit_code == 0, result.output
    config = yaml.safe_load((tmp_path / "runs" / "smoke" / "config.yaml").read_text())
    assert config["data"]["data_dir"] == str(tmp_path)
