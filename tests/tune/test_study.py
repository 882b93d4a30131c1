"""`cnnctl tune` in this process: a study of run folders, best.yaml that trains to the best trial's value,
a study continued, and a study stopped with Ctrl-C that ends, run again, with every trial finished."""

from __future__ import annotations

import json
import os
import signal

import pytest

from cnnctl.config import load_config
from tests.conftest import ROOT, cli

optuna = pytest.importorskip("optuna", reason='cnnctl tune needs the tune extra: pip install "cnnctl[tune]"')
pytestmark = pytest.mark.slow  # every test here trains trials (seconds each)

from cnnctl.runfolder import RunFolder, read_results  # noqa: E402
from cnnctl.tune.study import tune  # noqa: E402
from cnnctl.tune.summary import write_summary  # noqa: E402
from cnnctl.tune.trial import best_value  # noqa: E402

SMOKE = ROOT / "configs" / "tune_smoke.yaml"
SMALL = ("data.synthetic.train_size=200", "data.synthetic.test_size=60", "train.epochs=2")  # seconds a trial


def quiet(line: str, kind: str) -> None:
    pass


def finished(study) -> list:
    return [t for t in study.get_trials() if t.state.name in ("COMPLETE", "PRUNED")]


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    runs = tmp_path_factory.mktemp("tune")
    outcome = tune(str(SMOKE), SMALL, trials=3, runs_dir=runs, device="cpu", say=quiet)
    return outcome, write_summary(outcome)


def test_a_study_writes_a_run_folder_per_trial_its_record_and_best_yaml(study):
    outcome, record = study
    folder = outcome.folder
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == ["trial-0000", "trial-0001", "trial-0002"]
    for trial in record["trials"]:
        assert trial["state"] in ("complete", "pruned")
        assert read_results(folder / trial["run"]).status == "completed"  # pruned runs stop early, tested
    assert json.loads((folder / "study.json").read_text())["best"]["number"] == record["best"]["number"]
    assert (folder / "params.png").stat().st_size > 0
    assert (folder / "study.db").is_file()  # the embedded default: SQLite in the study folder


def test_best_yaml_is_a_complete_config_that_trains_to_the_best_trials_value(study, tmp_path):
    outcome, record = study
    best = outcome.folder / "best.yaml"
    config = load_config(best)
    assert config.search is None
    assert config.resolved() == load_config(outcome.folder / record["best"]["run"] / "config.yaml").resolved()
    result = cli("train", best, "--runs-dir", tmp_path, "--quiet", "--device", "cpu")
    assert result.exit_code == 0, result.output
    rows = RunFolder(tmp_path / "tune_smoke").read_metrics()
    assert best_value(rows, "val_accuracy", True) == record["best"]["value"]


def test_cnnctl_runs_shows_the_studys_trials(study):
    outcome, record = study
    result = cli("runs", outcome.folder)
    assert result.exit_code == 0, result.output
    assert "3 runs in" in result.output
    assert f"study tune_smoke: maximize val_accuracy; best trial {record['best']['number']}" in result.output


def test_a_study_stopped_with_ctrl_c_ends_run_again_with_exactly_its_trials(tmp_path):
    """Ctrl-C during trial 1's first epoch: the trial is recorded interrupted, its run folder too; the
    command run again resumes that folder from its checkpoint and ends with exactly its finished trials
    (3 here, for time; README shows `cnnctl tune` itself stopped and run again on all 6)."""
    def interrupt(line: str, kind: str) -> None:
        if kind == "epoch" and (tmp_path / "tune_smoke" / "trial-0001").is_dir():
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        tune(str(SMOKE), SMALL, trials=3, runs_dir=tmp_path, device="cpu", say=interrupt)
    folder = tmp_path / "tune_smoke"
    assert read_results(folder / "trial-0001").status == "interrupted"
    stopped = optuna.load_study(study_name="tune_smoke", storage=f"sqlite:///{folder / 'study.db'}")
    assert [(t.number, t.state.name, t.user_attrs["outcome"]) for t in stopped.trials][1] == (1, "FAIL",
                                                                                            "interrupted")
    outcome = tune(str(SMOKE), SMALL, trials=3, runs_dir=tmp_path, device="cpu", say=quiet)
    assert len(finished(outcome.study)) == 3
    retry = next(t for t in outcome.study.trials if t.system_attrs.get("failed_trial") == 1)
    assert retry.state.name in ("COMPLETE", "PRUNED") and retry.user_attrs["run"] == "trial-0001"
    resumed = read_results(folder / "trial-0001")
    assert resumed.status == "completed" and resumed.resumed[0]["was"] == "interrupted"
    assert len([t for t in outcome.study.trials if t.state.name == "FAIL"]) == 1  # the interrupted one


def test_a_trial_that_diverges_is_pruned_and_its_folder_says_diverged(tmp_path):
    """A rate far too high: the trial stops at the divergence (not halved: a trial tries the rate drawn)."""
    too_high = "search.space={train.optimizer.Adam.learning_rate: {uniform: [500.0, 1000.0]}}"
    outcome = tune(str(SMOKE), (*SMALL, too_high), trials=1, runs_dir=tmp_path, device="cpu", say=quiet)
    [trial] = outcome.study.trials
    assert (trial.state.name, trial.user_attrs["outcome"]) == ("PRUNED", "diverged")
    results = read_results(outcome.folder / trial.user_attrs["run"])
    assert results.status == "diverged" and not results.halvings
