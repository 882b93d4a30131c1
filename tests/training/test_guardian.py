"""The guardian of a killed run: marks it failed with the epochs a resume keeps, without TensorFlow."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np

from cnnctl.runfolder.files import LOCK
from cnnctl.training.checkpoint import CHECKPOINT
from cnnctl.training.guardian import mark_failed
from tests.conftest import ROOT


def killed_run(folder, rows: int, checkpoint_epoch: int | None):
    (folder / LOCK).write_text("4242")
    (folder / "results.json").write_text(json.dumps({"status": "running", "pid": 4242}))
    (folder / "metrics.csv").write_text("epoch,loss\n" + "".join(f"{e},0.5\n" for e in range(1, rows + 1)))
    if checkpoint_epoch is not None:
        state = {"epoch": checkpoint_epoch, "wall_seconds": 1.0, "callbacks": {}}  # as training writes it
        np.savez(folder / CHECKPOINT, state=np.array(json.dumps(state)),
                 weight_0=np.zeros(3))
    return folder / "results.json"


def test_a_killed_run_says_how_many_epochs_it_completed(tmp_path):
    results = killed_run(tmp_path, rows=3, checkpoint_epoch=2)  # killed after epoch 3's row, before its checkpoint
    mark_failed(results, 4242)
    data = json.loads(results.read_text())
    assert data["status"] == "failed" and data["epochs_completed"] == 2 and "pid" not in data


def test_without_a_readable_checkpoint_the_metrics_rows_count(tmp_path):
    results = killed_run(tmp_path, rows=3, checkpoint_epoch=None)
    (tmp_path / CHECKPOINT).write_bytes(b"not a zip")
    mark_failed(results, 4242)
    assert json.loads(results.read_text())["epochs_completed"] == 3


def test_another_process_run_is_left_alone(tmp_path):
    results = killed_run(tmp_path, rows=1, checkpoint_epoch=1)
    mark_failed(results, 1)
    assert json.loads(results.read_text()) == {"status": "running", "pid": 4242}


def test_the_guardian_process_imports_no_tensorflow(tmp_path):
    results = killed_run(tmp_path, rows=2, checkpoint_epoch=2)
    code = ("import sys, runpy\nsys.argv = ['guardian', sys.argv[1], '4242']\n"
            "runpy.run_module('cnnctl.training.guardian', run_name='__main__')\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code, str(results)], input=b"", capture_output=True, check=True,
                         cwd=ROOT).stdout
    assert out.decode().strip() == "[]"
    assert json.loads(results.read_text())["epochs_completed"] == 2
