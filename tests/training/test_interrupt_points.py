"""A real `cnnctl train` process signalled at every kind of moment, then resumed where that is needed.

Each case ends complete, with the same metrics.csv and test metrics as a run
that was never stopped; or, stopped before its folder existed, with nothing
written. The signal is sent by the process to itself at a named point
(interrupt_at.py), so no case depends on timing.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli

DRIVER = Path(__file__).with_name("interrupt_at.py")
SMOKE = ROOT / "configs" / "smoke.yaml"
ARGS = ["--set", "train.epochs=3", "--device", "cpu", "--quiet"]
TIMING = ("seconds", "images_per_second")

# SIGTERM takes the same handler as SIGINT (run.py's _StopRequests installs one for both); the SIGTERM
# cases of tests/training/test_resume.py show that it does, so each point here is tried with SIGINT only.
CASES = [
    ("prepare", "SIGINT"),
    ("claim", "SIGINT"),
    ("summary", "SIGINT"), ("summary", "SIGKILL"),
    ("epoch", "SIGINT"), ("epoch", "SIGINT,SIGINT"), ("epoch", "SIGKILL"),
    ("last-save", "SIGINT"), ("last-save", "SIGINT,SIGINT"),
    ("last-save", "SIGKILL"),
    ("test", "SIGINT"), ("test", "SIGINT,SIGINT"), ("test", "SIGKILL"),
]


def metrics(folder: Path) -> list[dict[str, str]]:
    with (folder / "metrics.csv").open() as f:
        return [{k: v for k, v in row.items() if k not in TIMING} for row in csv.DictReader(f)]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    runs = tmp_path_factory.mktemp("reference")
    result = cli("train", SMOKE, "--runs-dir", runs, *ARGS)
    assert result.exit_code == 0, result.output
    return runs / "smoke"


@pytest.mark.slow
@pytest.mark.parametrize("point, signals", CASES, ids=[f"{p}-{s.replace(',', '+')}" for p, s in CASES])
def test_a_run_stopped_at_any_point_ends_complete_or_resumable(reference, tmp_path, point, signals):
    runs = tmp_path / "runs"
    child = subprocess.run([sys.executable, str(DRIVER), point, signals, "train", str(SMOKE), "--runs-dir",
                            str(runs), *ARGS], capture_output=True, text=True, timeout=300)
    folder = runs / "smoke"
    if point == "prepare":  # stopped before the folder was made
        assert child.returncode == 130, child.stderr
        assert "interrupted during set-up: nothing was written" in child.stdout
        assert not runs.exists() or not any(runs.iterdir())
        return
    finished = json.loads((folder / "results.json").read_text()) if (folder / "results.json").exists() else {}
    if finished.get("status") == "completed":  # one polite request while finishing: it finished, and said so
        assert child.returncode == 0 and point in ("last-save", "test") and "," not in signals, child.stdout
        assert "saving and testing the model first" in child.stdout
    else:
        assert child.returncode in (130, -9), (child.returncode, child.stderr)
        if child.returncode == 130:
            assert f"`cnnctl resume {folder}` continues" in child.stdout
        result = cli("resume", folder, "--device", "cpu", "--quiet")
        assert result.exit_code == 0, result.output
        finished = json.loads((folder / "results.json").read_text())
    assert finished["status"] == "completed"
    assert metrics(folder) == metrics(reference)
    expected = json.loads((reference / "results.json").read_text())
    assert finished["test"] == pytest.approx(expected["test"], rel=1e-6)
    assert finished["epochs_completed"] == 3
    assert not [p.name for p in folder.iterdir() if p.name.endswith(".tmp") or ".tmp." in p.name]


@pytest.mark.slow
def test_two_resumes_at_once_one_trains_the_other_is_refused(reference, tmp_path):
    """The second writer finds the folder locked, names the process holding it, and changes nothing."""
    runs = tmp_path / "runs"
    cut = subprocess.run([sys.executable, str(DRIVER), "epoch", "SIGKILL", "train", str(SMOKE), "--runs-dir",
                          str(runs), *ARGS], capture_output=True, text=True, timeout=300)
    assert cut.returncode == -9
    folder = runs / "smoke"
    first = subprocess.Popen([sys.executable, str(DRIVER), "test", "SIGSTOP", "resume", str(folder), "--device",
                              "cpu", "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:  # the first resume stops itself (SIGSTOP) just before its final test, holding the lock
        import os
        import time

        for _ in range(600):
            status = Path(f"/proc/{first.pid}/stat").read_text().split()[2] if Path(f"/proc/{first.pid}").exists() else "?"
            if status == "T" or first.poll() is not None:
                break
            time.sleep(0.1)
        assert first.poll() is None, first.communicate()
        second = cli("resume", folder, "--device", "cpu", "--quiet")
        assert second.exit_code == 2
        assert f"this run is being written by process {first.pid}" in second.stderr
        os.kill(first.pid, 18)  # SIGCONT
        out, err = first.communicate(timeout=300)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
    assert metrics(folder) == metrics(reference)
    assert json.loads((folder / "results.json").read_text())["status"] == "completed"
