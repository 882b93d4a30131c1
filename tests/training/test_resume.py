"""Interruption and resume, with real signals to a real `cnnctl train` process.

A run stopped during epoch 2 and resumed must end with the same metrics.csv
as an uninterrupted run with the same seed (CPU): same shuffle order, same
Dropout masks, same optimizer state. Every run here is pinned to `--device cpu`:
exact equality holds on one device only.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import cli

pytestmark = pytest.mark.slow  # every test here trains, most in a second process

CONFIG = """\
name: cut
data:
  source: synthetic
  synthetic: {train_size: 4000, test_size: 300, classes: 4}
model:
  input_shape: [28, 28, 1]
  layers:
    - Conv2D: {filters: 8, kernel_size: 3, activation: relu}
    - MaxPooling2D
    - Dropout: {rate: 0.3}
    - Conv2D: {filters: 8, kernel_size: 3, activation: relu}
    - Flatten
    - Dense: {units: 4, activation: softmax}
train:
  epochs: 4
  batch_size: 16
  optimizer: {Adam: {learning_rate: 0.001}}
  lr_schedule: {ReduceLROnPlateau: {factor: 0.5, patience: 0, min_delta: 0.02}}
"""
TIMING = ("seconds", "images_per_second")

# `cnnctl train` whose epoch-2 line never gets printed: the main thread sleeps in Python, inside training but
# outside any write, where only an exception gets it out. A first Ctrl-C asks for a stop after the current step,
# which never comes; only a second one, stopping at once, ends it. (It hooks `progress.epoch_line`, which the
# run looks up as each epoch ends: if that changes, the test fails waiting for "stuck", it does not pass.)
STUCK_AT_EPOCH_2 = """\
import sys, time
from cnnctl.cli import main
from cnnctl.training import progress

def stuck(row, epochs):
    if row["epoch"] < 2:
        return line(row, epochs)
    print("stuck at epoch 2", flush=True)
    while True:
        time.sleep(1)

line, progress.epoch_line = progress.epoch_line, stuck
main(sys.argv[1:], prog_name="cnnctl")
"""


def metrics(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


def start(config: Path, runs: Path, name: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "cnnctl", "train", str(config), "--runs-dir", str(runs),
                             "--name", name, "--quiet", "--device", "cpu"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def wait_for_epochs(folder: Path, epochs: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if (folder / "metrics.csv").exists() and len(metrics(folder)) >= epochs:
            return
        time.sleep(0.05)
    raise AssertionError(f"no epoch {epochs} in time: {process.poll()} {process.stderr.read()}")


def wait_for_output(path: Path, text: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if text in path.read_text():
            return
        time.sleep(0.05)
    raise AssertionError(f"no {text!r} in time: exit {process.poll()}\n{path.read_text()}")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("resume")
    config = tmp / "cut.yaml"
    config.write_text(CONFIG)
    result = cli("train", config, "--runs-dir", tmp / "runs", "--name", "whole", "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    return config, tmp / "runs", metrics(tmp / "runs" / "whole")


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "SIGKILL"])
def test_interrupted_run_resumes_to_the_same_metrics(reference, how):
    config, runs, expected = reference
    process = start(config, runs, how)
    folder = runs / how
    wait_for_epochs(folder, 1, process)
    process.send_signal(getattr(signal, how))
    out, err = process.communicate(timeout=60)
    results = json.loads((folder / "results.json").read_text())
    if how == "SIGKILL":
        assert process.returncode == -signal.SIGKILL
        deadline = time.monotonic() + 20  # the guardian process notices the death and says so
        while results["status"] == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
            results = json.loads((folder / "results.json").read_text())
        assert results["status"] == "failed" and "killed" in results["error"]
    else:
        assert process.returncode == 130, err
        assert results["status"] == "interrupted"
        assert "cnnctl resume" in out and "Traceback" not in err
    done = len(metrics(folder))
    assert 1 <= done <= 2  # at most the epoch in progress is lost
    if how == "SIGKILL":  # the guardian says what the checkpoint holds: the epochs a resume keeps
        assert results["epochs_completed"] in (done, done - 1)
    kept = results.get("epochs_completed")

    resumed = cli("resume", folder, "--quiet", "--device", "cpu")
    assert resumed.exit_code == 0, resumed.output + repr(resumed.exception)
    assert metrics(folder) == expected
    results = json.loads((folder / "results.json").read_text())
    assert results["status"] == "completed"
    # from the last checkpoint: the last epoch in metrics.csv, or the one before when killed between the two
    assert results["resumed"][0]["at_epoch"] in (done, done - 1)
    assert kept is None or results["resumed"][0]["at_epoch"] == kept


def test_second_ctrl_c_stops_at_once_and_leaves_a_resumable_folder(reference, tmp_path):
    """Stuck where a first Ctrl-C cannot stop it, the run ends only if the second is honoured at once."""
    config, runs, expected = reference
    folder, out = runs / "twice", tmp_path / "out.txt"
    with out.open("w") as sink:
        process = subprocess.Popen([sys.executable, "-c", STUCK_AT_EPOCH_2, "train", str(config), "--runs-dir",
                                    str(runs), "--name", "twice", "--quiet", "--device", "cpu"],
                                   stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        wait_for_output(out, "stuck at epoch 2", process)
        process.send_signal(signal.SIGINT)
        wait_for_output(out, "Ctrl-C again", process)  # the first was handled: a polite request
        assert process.poll() is None, out.read_text()  # ... which cannot end the sleep
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)  # a second one ignored would leave it asleep for ever: TimeoutExpired
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, out.read_text()
    assert "Traceback" not in out.read_text()
    results = json.loads((folder / "results.json").read_text())
    assert results["status"] == "interrupted"
    assert not [p.name for p in folder.iterdir() if ".tmp" in p.name]  # no temporary files left
    resumed = cli("resume", folder, "--quiet", "--device", "cpu")
    assert resumed.exit_code == 0, resumed.output + repr(resumed.exception)
    assert metrics(folder) == expected
    # stopped before epoch 2's checkpoint, which comes after its line: it goes on from epoch 1's
    assert json.loads((folder / "results.json").read_text())["resumed"][0]["at_epoch"] == 1


def test_resume_refuses_finished_runs(reference):
    _, runs, _ = reference
    result = cli("resume", runs / "whole")
    assert result.exit_code == 2
    assert "this run is completed: nothing to resume" in result.stderr
