"""`search.process: fresh`: each trial in a spawned process. The same trials as in one process for the same
seed; the parent's memory does not grow with the trials; a trial's process killed outright is run again,
and Ctrl-C stops the study with no trial left running, to end, run again, with exactly its trials."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from tests.conftest import ROOT

optuna = pytest.importorskip("optuna", reason='cnnctl tune needs the tune extra: pip install "cnnctl[tune]"')
pytestmark = pytest.mark.slow  # every test here starts processes that train

from cnnctl.runfolder import read_results  # noqa: E402
from cnnctl.tune.study import tune  # noqa: E402

SMOKE = ROOT / "configs" / "tune_smoke.yaml"
TINY = ("data.synthetic.train_size=100", "data.synthetic.test_size=40", "train.epochs=2")
FRESH, SHARED = ("search.process=fresh",), ("search.process=shared",)
TRIALS = 4  # the memory bound below is over TRIALS - 1 trials: a leak of 2 MiB a trial makes 6 MiB
GROWTH_MIB = 3.0
COMPARED = 3  # trials run again in one process to compare (a trial's values depend on the trials before it)


def quiet(line: str, kind: str) -> None:
    pass


def resident_mib() -> float:
    """This process's resident memory now, from /proc/self/status (VmRSS, in kB)."""
    with open("/proc/self/status") as f:
        return int(next(line for line in f if line.startswith("VmRSS:")).split()[1]) / 1024


def trials_of(outcome) -> list[tuple]:
    return [(t.number, t.state.name, t.params, t.value, t.user_attrs["run"]) for t in outcome.study.trials]


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    """A fresh-process study of TRIALS trials, this (the parent) process's memory after each finished one."""
    memory: dict[int, float] = {}

    def measure(study: str, metric: str, rows: list) -> None:
        done = sum(r["state"] in ("complete", "pruned") for r in rows)
        if done and done not in memory:
            memory[done] = resident_mib()

    runs = tmp_path_factory.mktemp("fresh")
    outcome = tune(str(SMOKE), (*TINY, *FRESH), trials=TRIALS, runs_dir=runs, device="cpu", say=quiet,
                   on_change=measure)
    return outcome, memory


def test_fresh_processes_run_the_same_trials_as_one_process_for_the_same_seed(fresh, tmp_path):
    outcome, _ = fresh
    shared = tune(str(SMOKE), (*TINY, *SHARED), trials=COMPARED, runs_dir=tmp_path, device="cpu", say=quiet)
    assert trials_of(outcome)[:COMPARED] == trials_of(shared)  # values drawn, states, metric values, runs
    pids = [t.user_attrs["pid"] for t in outcome.study.trials]
    assert len(set(pids)) == TRIALS and os.getpid() not in pids  # a process each, none of them this one
    assert {t.user_attrs["pid"] for t in shared.study.trials} == {os.getpid()}
    for fresh_trial, shared_trial in zip(outcome.study.trials, shared.study.trials):
        run = fresh_trial.user_attrs["run"]
        assert read_results(outcome.folder / run).status == read_results(shared.folder / run).status


def test_the_parents_memory_does_not_grow_with_the_trials(fresh):
    """From the first finished trial to the last (TRIALS - 1 trials): under GROWTH_MIB. In one process the
    same trials grow it by about 2 MiB each (tensorflow#61791; BENCHMARKS.md)."""
    _, memory = fresh
    assert sorted(memory) == list(range(1, TRIALS + 1))
    growth = memory[TRIALS] - memory[1]
    assert growth < GROWTH_MIB, memory


def test_a_killed_trial_process_runs_again_and_ctrl_c_stops_the_study_with_nothing_left_running(tmp_path):
    """SIGKILL to trial 0's process in its first epoch: the study goes on and trial 0 runs again (trial 1),
    resuming trial-0000; Ctrl-C to this process in trial 2's first epoch: it reaches the trial's process
    through this one, the trial is recorded interrupted, its process is gone, no trial is left running.
    Run again, the study ends with exactly its 2 finished trials, trial-0002 resumed from its checkpoint."""
    folder = tmp_path / "tune_smoke"
    sent: list[str] = []

    def strike(line: str, kind: str) -> None:
        if kind != "epoch":
            return
        if not sent:
            [child] = multiprocessing.active_children()
            os.kill(child.pid, signal.SIGKILL)
            sent.append("kill")
        elif sent == ["kill"] and (folder / "trial-0002").exists():
            os.kill(os.getpid(), signal.SIGINT)
            sent.append("interrupt")

    longer = ("train.epochs=3",)  # the interrupt lands in an epoch, not after the last
    with pytest.raises(KeyboardInterrupt):
        tune(str(SMOKE), (*TINY, *longer, *FRESH), trials=2, runs_dir=tmp_path, device="cpu", say=strike)
    assert sent == ["kill", "interrupt"]
    assert multiprocessing.active_children() == []  # no trial's process outlives the study
    stopped = optuna.load_study(study_name="tune_smoke", storage=f"sqlite:///{folder / 'study.db'}")
    assert [(t.number, t.state.name, t.user_attrs["outcome"], t.user_attrs["run"]) for t in stopped.trials] == [
        (0, "FAIL", "died", "trial-0000"),
        (1, stopped.trials[1].state.name, stopped.trials[1].user_attrs["outcome"], "trial-0000"),
        (2, "FAIL", "interrupted", "trial-0002")]
    assert stopped.trials[1].state.name in ("COMPLETE", "PRUNED")
    killed = read_results(folder / "trial-0000")  # killed mid-epoch, then resumed by trial 1
    assert len(killed.resumed) == 1 and killed.status in ("completed", "diverged")
    assert read_results(folder / "trial-0002").status == "interrupted"
    assert not (folder / "trial-0001").exists()  # trial 1 ran in trial 0's folder

    outcome = tune(str(SMOKE), (*TINY, *longer, *FRESH), trials=2, runs_dir=tmp_path, device="cpu", say=quiet)
    states = [t.state.name for t in outcome.study.trials]
    assert states.count("COMPLETE") + states.count("PRUNED") == 2 and "RUNNING" not in states
    retry = next(t for t in outcome.study.trials if t.system_attrs.get("failed_trial") == 2)
    assert retry.user_attrs["run"] == "trial-0002" and retry.state.name in ("COMPLETE", "PRUNED")
    resumed = read_results(folder / "trial-0002")
    assert resumed.status == "completed" and resumed.resumed[0]["was"] == "interrupted"
