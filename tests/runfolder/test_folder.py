"""Run folders: safe names, distinct folders for concurrent runs, user-fixable write failures."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cnnctl.errors import CnnctlError
from cnnctl.runfolder import RunFolder
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"


@pytest.mark.parametrize("name", ["../../x", "{tmp}/x", "..", "a/b", ".hidden", ""])
def test_unsafe_run_names_are_refused(tmp_path, name):
    """Every name points inside tmp_path (an absolute one too, so a regression cannot litter /etc)."""
    runs = tmp_path / "home" / "runs"  # two levels down: `../../x` would land in tmp_path, where we look
    name = name.format(tmp=tmp_path)
    assert Path(os.path.normpath(runs / name)).is_relative_to(tmp_path)
    with pytest.raises(CnnctlError, match="is not a plain folder name"):
        RunFolder.claim(runs, name)
    assert list(tmp_path.rglob("*")) == []  # nothing made: not the runs folder, not where the name points


def test_unsafe_name_through_the_cli_leaves_nothing(tmp_path):
    runs = tmp_path / "home" / "runs"  # `../../escape` would be tmp_path/escape
    result = cli("train", SMOKE, "--runs-dir", runs, "--name", "../../escape")
    assert result.exit_code == 2 and "not a plain folder name" in result.stderr
    assert list(tmp_path.rglob("*")) == []


def test_taken_names_get_a_suffix(tmp_path):
    names = [RunFolder.claim(tmp_path, "run").path.name for _ in range(3)]
    assert names == ["run", "run-2", "run-3"]


@pytest.mark.slow
def test_two_trainings_started_together_get_distinct_folders(tmp_path):
    command = [sys.executable, "-m", "cnnctl", "train", str(SMOKE), "--runs-dir", str(tmp_path), "--quiet",
               "--set", "train.epochs=1"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["smoke", "smoke-2"]
    for folder in tmp_path.iterdir():
        assert json.loads((folder / "results.json").read_text())["status"] == "completed"


def test_unwritable_runs_folder_is_a_user_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = cli("train", SMOKE, "--runs-dir", blocker / "runs")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "cannot create the runs folder" in result.stderr


def test_disk_full_while_training_is_a_user_error(tmp_path, monkeypatch):
    import csv

    def full(self, row):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(csv.DictWriter, "writerow", full)
    result = cli("train", SMOKE, "--runs-dir", tmp_path, "--quiet")
    assert result.exit_code == 2, result.output
    assert "metrics.csv: cannot write: No space left on device" in result.stderr
    assert json.loads((tmp_path / "smoke" / "results.json").read_text())["status"] == "failed"
