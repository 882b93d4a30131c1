"""train.distribution (issue #22): mirrored over two logical CPUs, and a real two-worker cluster on 127.0.0.1.

The strategies run in their own processes: logical devices and a cluster's collectives can only be set
up before TensorFlow starts, and this test process has started it. The references are a one-device run
of the same config; with the global batch split in two and the gradients summed, the math is the same
and only the order of float32 additions differs, so epoch 1 agrees to float32 rounding and later
epochs within `RTOL`. Every run here is pinned to float32 (`FLOAT32`): under the default `auto`, a CPU with
native bfloat16 would compute in it, whose rounding is far coarser than these tolerances.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from cnnctl.config import load_config
from cnnctl.errors import CnnctlError
from cnnctl.runfolder import read_results
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
EPOCHS = 2
DRIVER = Path(__file__).with_name("interrupt_at.py")
KERAS_ONLY = Path(__file__).with_name("two_workers_keras.py")
FIRST_EPOCH_RTOL = 1e-6  # float32 rounding: the summation order of the replicas' gradients
RTOL = 1e-4
TWO_CPUS = "train.distribution={mirrored: {devices: [CPU:0, CPU:1]}}"
CLUSTER = "train.distribution=multi_worker"
FLOAT32 = "train.precision=float32"  # the agreement checked is float32 rounding's


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def start(args: list[str], folder: Path, log: str, driver: list[str] | None = None,
          tf_config: dict[str, Any] | None = None) -> subprocess.Popen:
    """`cnnctl ARGS` (or the interrupt driver) in `folder`, its private TMPDIR inside, output to `log`."""
    (folder / "tmp").mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "TMPDIR": str(folder / "tmp")}
    env.pop("TF_CONFIG", None)
    if tf_config is not None:
        env["TF_CONFIG"] = json.dumps(tf_config)
    command = [sys.executable, *(driver if driver is not None else ["-m", "cnnctl"]), *map(str, args)]
    return subprocess.Popen(command, cwd=folder, env=env, stdout=(folder / log).open("w"), stderr=subprocess.STDOUT)


def finish(process: subprocess.Popen, folder: Path, log: str) -> tuple[int, str]:
    try:
        code = process.wait(timeout=240)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return code, (folder / log).read_text()


def losses(run: Path) -> list[dict[str, float]]:
    import csv

    with (run / "metrics.csv").open() as f:
        return [{k: float(v) for k, v in row.items() if k not in ("seconds", "images_per_second")}
                for row in csv.DictReader(f)]


def assert_same_training(rows: list[dict[str, float]], reference: list[dict[str, float]]) -> None:
    assert len(rows) == len(reference) == EPOCHS
    for epoch, (row, ref) in enumerate(zip(rows, reference), 1):
        assert row.keys() == ref.keys()
        for key in ref:
            assert row[key] == pytest.approx(ref[key], rel=FIRST_EPOCH_RTOL if epoch == 1 else RTOL), (epoch, key)


def start_cluster(folder: Path, driver: list[str] | None = None, prefix: str = "", tf_config: bool = False
                  ) -> list[tuple]:
    """Both workers of a job on fresh ports, worker 1 (optionally under `driver`) first; the cluster given as
    `--workers` and `--task-index`, or as TF_CONFIG in each worker's environment."""
    hosts = [f"127.0.0.1:{p}" for p in free_ports(2)]
    args = ["train", SMOKE, "-q", "--runs-dir", "runs", "--set", f"train.epochs={EPOCHS}", "--set", CLUSTER,
            "--set", FLOAT32]

    def worker(index: int) -> tuple[subprocess.Popen, str]:
        log = f"{prefix}w{index}.log"
        if tf_config:
            cluster = {"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}}
            return start(args, folder, log, driver if index else None, tf_config=cluster), log
        where = ["--workers", ",".join(hosts), "--task-index", str(index)]
        return start([*args, *where], folder, log, driver if index else None), log

    return [worker(1), worker(0)]


def finish_all(folder: Path, started: list[tuple]) -> list[tuple[int, str]]:
    """(exit code, output) of each process, the last started first: worker 0, then worker 1."""
    return [finish(process, folder, log) for process, log in started][::-1]


# --- every job of the module starts at once: TensorFlow's start-up, most of each job, overlaps ---

@pytest.fixture(scope="module")
def jobs(tmp_path_factory) -> dict[str, Any]:
    """Mirrored over two logical CPUs; a two-worker job (TF_CONFIG); one (--workers) whose worker 1 is killed after
    epoch 1; Keras alone on two workers; and, in this process meanwhile, the one-device reference."""
    from cnnctl.training import train

    folders = {name: tmp_path_factory.mktemp(name) for name in ("mirrored", "cluster", "killed", "keras", "single")}
    ports = ",".join(map(str, free_ports(2)))
    started = {
        "mirrored": [(start(["train", SMOKE, "-q", "--runs-dir", "runs", "--set", f"train.epochs={EPOCHS}",
                             "--set", TWO_CPUS, "--set", FLOAT32], folders["mirrored"], "out.log"), "out.log")],
        "cluster": start_cluster(folders["cluster"], tf_config=True),  # as launchers start TensorFlow workers
        # worker 1 dies by SIGKILL right after its epoch-1 checkpoint
        "killed": start_cluster(folders["killed"], driver=[str(DRIVER), "epoch", "SIGKILL"]),
        "keras": [(start([str(KERAS_ONLY), ports, str(i)], folders["keras"], f"k{i}.log", driver=[]), f"k{i}.log")
                  for i in (1, 0)],
    }
    single = train(load_config(SMOKE, [f"train.epochs={EPOCHS}", FLOAT32]), runs_dir=folders["single"],
                   say=lambda *a: None).path
    done = {name: finish_all(folders[name], processes) for name, processes in started.items()}
    return {"single": single, "folders": folders, **done}


# --- mirrored ---

@pytest.mark.slow
def test_mirrored_on_two_logical_cpus_trains_as_one_device_does(jobs):
    [(code, out)] = jobs["mirrored"]
    single = jobs["single"]
    assert code == 0, out
    [run] = list((jobs["folders"]["mirrored"] / "runs").iterdir())
    results = read_results(run)
    assert results.status == "completed"
    assert results.distribution == {"strategy": "mirrored", "replicas": 2, "workers": 1, "global_batch": 32,
                                    "per_replica_batch": 16}
    assert results.execution["steps_per_execution"] == 1  # keras-team/keras#19246
    assert_same_training(losses(run), losses(single))
    assert results.test["accuracy"] == pytest.approx(read_results(single).test["accuracy"], abs=1 / 300)


# --- two workers on 127.0.0.1 ---

@pytest.mark.slow
def test_a_two_worker_job_ends_with_one_complete_run_folder(jobs):
    (code0, out0), (code1, out1) = jobs["cluster"]
    folder, single = jobs["folders"]["cluster"], jobs["single"]
    assert code0 == 0 and code1 == 0, out0 + out1
    [run] = list((folder / "runs").iterdir())  # the chief's; the other worker wrote no folder
    results = read_results(run)
    assert results.status == "completed" and results.epochs_completed == EPOCHS
    assert results.distribution == {"strategy": "multi_worker", "replicas": 2, "workers": 2, "global_batch": 32,
                                    "per_replica_batch": 16}
    for name in ("model.keras", "best.keras", "metrics.csv", "evaluation.json", "curves.png", "summary.json"):
        assert (run / name).is_file(), name
    assert_same_training(losses(run), losses(single))
    assert not list((folder / "tmp").iterdir())  # the other worker's scratch saves are gone


@pytest.mark.slow
def test_a_killed_worker_fails_the_job_in_one_line_and_a_restart_continues(jobs):
    (code0, out0), (code1, _) = jobs["killed"]
    folder = jobs["folders"]["killed"]
    assert code1 == -9
    assert code0 == 2, out0
    error = [line for line in out0.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "worker 1 of the cluster" in error[0] and "start every worker again" in error[0]
    assert "Traceback" not in out0
    [run] = list((folder / "runs").iterdir())
    stopped = read_results(run)
    assert stopped.status == "failed" and stopped.epochs_completed == 1

    (code0, out0), (code1, out1) = finish_all(folder, start_cluster(folder, prefix="again-"))  # the job restarted
    assert code0 == 0 and code1 == 0, out0 + out1
    assert [p.name for p in (folder / "runs").iterdir()] == [run.name]
    results = read_results(run)
    assert results.status == "completed" and [r["at_epoch"] for r in results.resumed] == [1]
    [reference] = list((jobs["folders"]["cluster"] / "runs").iterdir())
    assert_same_training(losses(run), losses(reference))


@pytest.mark.slow
def test_keras_as_released_fails_across_workers_and_each_fix_mends_one_failure(jobs):
    outputs = jobs["keras"]
    for code, out in outputs:
        lines = {line.split(":")[0]: line for line in out.splitlines()
                 if line.split(":")[0] in ("as-released", "symbolic_build", "both")}
        assert code == 0, out
        # keras-team/keras#20585: the first batch is reduced across workers to learn its shapes
        assert "Attempt to convert a value (PerReplica" in lines["as-released"]
        # tensorflow/tensorflow#72388: per-replica scalars reduced over axis 0
        assert "Invalid reduction dimension 0 for input with 0 dimensions" in lines["symbolic_build"]
        assert lines["both"].startswith("both: ok")


# --- what needs no cluster ---

def test_distribution_names_and_options_from_the_command_line():
    assert load_config(SMOKE).train.strategy() == ("none", None)
    name, options = load_config(SMOKE, ["train.distribution=mirrored"]).train.strategy()
    assert name == "mirrored" and options.devices is None
    name, options = load_config(SMOKE, [TWO_CPUS]).train.strategy()
    assert options.devices == ["CPU:0", "CPU:1"]
    assert load_config(SMOKE, ["train.distribution={multi_worker: {timeout: 30}}"]).train.strategy()[1].timeout == 30
    with pytest.raises(CnnctlError, match="train.distribution: expected 'none', 'mirrored' or 'multi_worker'"):
        load_config(SMOKE, ["train.distribution=mirror"])


def test_under_a_strategy_auto_is_one_step_per_call_and_more_is_refused():
    from cnnctl.training.compile import execution_settings

    config = load_config(SMOKE)
    assert execution_settings(config, "CPU", 33, "mirrored") == {"steps_per_execution": 1, "jit_compile": False}
    assert execution_settings(config, "CPU", 33)["steps_per_execution"] == 3
    with pytest.raises(CnnctlError, match="keras-team/keras#19246"):
        execution_settings(load_config(SMOKE, ["train.execution.steps_per_execution=3"]), "CPU", 33, "multi_worker")
    with pytest.raises(CnnctlError, match="keras-team/keras#20763"):
        execution_settings(load_config(SMOKE, ["train.execution.jit_compile=true"]), "CPU", 33, "mirrored")


def test_the_global_batch_must_split_evenly_over_the_replicas():
    from cnnctl.training.distribute import Placement, check_batch

    check_batch(load_config(SMOKE), Placement("mirrored", None, replicas=4))
    with pytest.raises(CnnctlError, match="train.batch_size: the global batch of 30 does not split evenly over 4"):
        check_batch(load_config(SMOKE, ["train.batch_size=30"]), Placement("mirrored", None, replicas=4))


def test_workers_and_task_index_become_tf_config(monkeypatch):
    from cnnctl.training import distribute

    monkeypatch.delenv("TF_CONFIG", raising=False)
    distribute.write_tf_config("10.0.0.1:2222, 10.0.0.2:2222", 1)
    assert json.loads(os.environ["TF_CONFIG"]) == {"cluster": {"worker": ["10.0.0.1:2222", "10.0.0.2:2222"]},
                                                   "task": {"type": "worker", "index": 1}}
    assert not distribute.chief_task()
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                                                "task": {"type": "worker", "index": 0}}))
    assert not distribute.chief_task()  # a chief job: worker 0 is not it
    for bad, message in (("a:1,b", "each worker is host:port"), ("a:1", "--task-index 1: there are 1 workers")):
        with pytest.raises(CnnctlError, match=message):
            distribute.write_tf_config(bad, 1)
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(CnnctlError, match="TF_CONFIG: not JSON"):
        distribute.chief_task()


def test_workers_without_a_multi_worker_distribution_is_refused_in_one_line(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    result = cli("train", SMOKE, "--workers", "127.0.0.1:1,127.0.0.1:2", "--task-index", "0")
    assert result.exit_code == 2
    assert "--workers: train.distribution is not multi_worker" in result.stderr
    result = cli("train", SMOKE, "--set", "train.distribution=multi_worker", "--workers", "127.0.0.1:1")
    assert result.exit_code == 2 and "--task-index is missing" in result.stderr
    assert "TF_CONFIG" not in os.environ


def test_a_lost_peer_is_one_line_naming_it():
    from cnnctl.training.distribute import Placement, lost_peer

    class UnavailableError(Exception):
        pass

    exc = UnavailableError("Collective ops is aborted by: Error reported from /job:worker/task:1: The following "
                           "tasks are unhealthy (stopped sending heartbeats):\n/job:worker/replica:0/task:1")
    here = Placement("multi_worker", None, replicas=2, workers=2, task="worker 0", timeout=30)
    assert lost_peer(exc, here).problems[0].message == (
        "worker 0: worker 1 of the cluster stopped sending heartbeats (it died or was stopped); training stopped")
    assert lost_peer(ValueError("a bug"), here) is None
    assert lost_peer(exc, Placement("none", None)) is None
