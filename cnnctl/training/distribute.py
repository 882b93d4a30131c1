"""Where training runs: one device, several local devices, or several workers, all through `tf.distribute`.

`train.distribution` picks TensorFlow's own strategy; cnnctl builds no all-reduce, parameter server or
launcher. The model is built and compiled inside the strategy's scope, and Keras' `fit` does the rest:
it splits each global batch over the replicas and sums their gradients.

- `mirrored`: `tf.distribute.MirroredStrategy` over every local GPU, or the devices named. `CPU:n`
  names split the CPU into logical devices first (TensorFlow allows it only before it starts), which is
  how a strategy is checked on a machine without GPUs, as Keras' own tests do.
- `multi_worker`: `tf.distribute.MultiWorkerMirroredStrategy`; the cluster comes from `TF_CONFIG`, the
  contract Kubernetes operators, Slurm scripts and Ray use to launch TensorFlow workers, which
  `cnnctl train --workers host:port,... --task-index N` writes for you. Every worker runs the same
  command; the chief (task `chief`, else worker 0) writes the run folder. Collectives time out
  (`CommunicationOptions(timeout_seconds=...)`), so a dead peer is an error, not a hang.

The strategy must exist before TensorFlow starts its runtime (collectives and logical devices are
configured at start-up), so `place` is the first thing a run does.
"""

from __future__ import annotations

import json
import os
import re
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, ContextManager

from cnnctl.config import Config
from cnnctl.errors import CnnctlError, Problem

TF_CONFIG = "TF_CONFIG"
FIRST = ("use cnnctl train, or from Python call distribute.start(peek_distribution(config_path), device) "
         "before loading the config")


@dataclass(frozen=True)
class Placement:
    """The strategy a run trains under, and this process's part in it."""

    kind: str  # none, mirrored, multi_worker
    strategy: Any  # a tf.distribute.Strategy; None for one device
    replicas: int = 1  # models trained in sync, over all workers
    workers: int = 1
    task: str = "chief"  # this process in the cluster, `worker 1`
    chief: bool = True  # writes the run folder
    timeout: int | None = None  # seconds a collective waits for a peer (multi_worker)

    def scope(self) -> ContextManager[Any]:
        """Where the model, its optimizer and its metrics must be made for the strategy to mirror them."""
        return self.strategy.scope() if self.strategy is not None else nullcontext()

    def record(self, batch_size: int) -> dict[str, Any]:
        """What results.json keeps: the strategy, replicas, and how the global batch is split."""
        return {"strategy": self.kind, "replicas": self.replicas, "workers": self.workers,
                "global_batch": batch_size, "per_replica_batch": batch_size // self.replicas}

    def describe(self, batch_size: int) -> str:
        where = f"{self.replicas} replicas" + (f" on {self.workers} workers, this is {self.task}"
                                               if self.workers > 1 else "")
        return f"{self.kind}: {where}; global batch {batch_size}, {batch_size // self.replicas} per replica"


ONE_DEVICE = Placement("none", None)


def write_tf_config(workers: str, task_index: int) -> None:
    """`--workers host:port,... --task-index N` as TF_CONFIG, the form every TensorFlow launcher uses."""
    hosts = [w.strip() for w in workers.split(",") if w.strip()]
    bad = [w for w in hosts if not w.rpartition(":")[2].isdigit() or not w.rpartition(":")[0]]
    if bad or not hosts:
        raise CnnctlError(Problem(f"--workers {workers!r}: each worker is host:port", hint="e.g. --workers "
                                  "10.0.0.1:12345,10.0.0.2:12345, the same list on every worker"))
    if not 0 <= task_index < len(hosts):
        raise CnnctlError(Problem(f"--task-index {task_index}: there are {len(hosts)} workers",
                                  hint=f"0 (the chief, which writes the run folder) to {len(hosts) - 1}"))
    os.environ[TF_CONFIG] = json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": task_index}})


def cluster_given() -> bool:
    return bool(os.environ.get(TF_CONFIG, "").strip())


def chief_task() -> bool:
    """Whether TF_CONFIG names the cluster's chief: task `chief`, else worker 0 where there is no chief job."""
    cluster, task = _read_tf_config()
    return task["type"] == "chief" or (task["type"] == "worker" and task["index"] == 0 and "chief" not in cluster)


def check_batch(config: Config, placement: Placement) -> None:
    """The global batch splits evenly over the replicas, so every replica's batch is the same size."""
    batch = config.train.batch_size
    if batch % placement.replicas:
        raise config.error(("train", "batch_size"), f"the global batch of {batch} does not split evenly over "
                           f"{placement.replicas} replicas", hint=f"use a multiple of {placement.replicas}")


# What a collective raises when a peer is gone: its connection refused or reset, or no answer in time.
PEER_ERRORS = ("UnavailableError", "DeadlineExceededError", "CancelledError", "AbortedError", "InternalError")


def lost_peer(exc: BaseException, placement: Placement) -> CnnctlError | None:
    """A dead or stopped peer, told apart from a bug: one line saying which, and what to do."""
    text = str(exc)
    if placement.workers == 1 or type(exc).__name__ not in PEER_ERRORS:
        return None
    if type(exc).__name__ == "InternalError" and "ollective" not in text:  # not a collective's: a bug
        return None
    peers = sorted({f"{job} {task}" for job, task in re.findall(r"/job:(\w+)/(?:replica:\d+/)?task:(\d+)", text)}
                   - {placement.task})
    who = ", ".join(peers) if peers else "a peer"
    why = ("stopped sending heartbeats (it died or was stopped)" if "heartbeat" in text
           else f"did not answer within {placement.timeout} s" if type(exc).__name__ == "DeadlineExceededError"
           else f"is gone ({type(exc).__name__})")
    return CnnctlError(Problem(f"{placement.task}: {who} of the cluster {why}; training stopped",
                               hint="start every worker again with the same command: the run continues from "
                                    "its last completed epoch"))


_STARTED: dict[tuple[str, str, str], Placement] = {}


def place(config: Config, device: str) -> Placement:
    """The strategy for `train.distribution`: the one `start` made, else made now."""
    return start(config.train.strategy(), device)


def start(distribution: tuple[str, Any] | None, device: str) -> Placement:
    """Make the strategy for `distribution` (`TrainSection.strategy()`), once per process.

    The command line calls this before it validates the config, which starts TensorFlow's runtime:
    logical devices and collectives can only be set up before that.
    """
    kind, options = distribution or ("none", None)
    key = (kind, repr(options), device)
    if key not in _STARTED:
        if kind == "none":
            return ONE_DEVICE
        _STARTED[key] = (_mirrored(options.devices, device) if kind == "mirrored"
                         else _multi_worker(options.timeout, device))
    return _STARTED[key]


def _mirrored(devices: list[str] | None, device: str) -> Placement:
    from cnnctl import keras_catalog

    keras_catalog.keras()
    import tensorflow as tf

    if devices:
        names = [d.removeprefix("/").removeprefix("device:") for d in devices]
        if bad := [d for d, n in zip(devices, names) if not re.fullmatch(r"(CPU|GPU):[0-9]+", n)]:
            raise CnnctlError(Problem(f"train.distribution: cannot mirror on {bad[0]!r}",
                                      hint="name devices as TensorFlow does: GPU:0, GPU:1, ... (or CPU:0, CPU:1)"))
        cpus = [int(d.split(":")[1]) for d in names if d.startswith("CPU")]
        if cpus:
            _logical_cpus(max(cpus) + 1)
        if any(d.startswith("GPU") for d in names) and device == "cpu":
            raise CnnctlError(Problem("--device cpu, but train.distribution mirrors on GPUs",
                                      hint="drop --device cpu, or name CPU devices"))
        strategy = tf.distribute.MirroredStrategy(devices=names)
    else:
        if device == "cpu" or not tf.config.list_physical_devices("GPU"):
            raise CnnctlError(Problem("train.distribution mirrored: TensorFlow sees no GPU to mirror on",
                                      hint="name devices, {mirrored: {devices: [GPU:0, GPU:1]}}, or train with "
                                           "train.distribution=none"))
        strategy = tf.distribute.MirroredStrategy()
    return Placement("mirrored", strategy, replicas=strategy.num_replicas_in_sync)


def _logical_cpus(count: int) -> None:
    import tensorflow as tf

    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(count)]
    if len(tf.config.get_logical_device_configuration(cpu) or [None]) == count:
        return
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError:  # "Virtual devices cannot be modified after being initialized"
        raise CnnctlError(Problem(f"cannot split the CPU into {count} logical devices: TensorFlow has already "
                                  "started in this process", hint=FIRST)) from None


def _multi_worker(timeout: int, device: str) -> Placement:
    if not cluster_given():
        raise CnnctlError(Problem("train.distribution multi_worker: no cluster", hint="set TF_CONFIG, or pass "
                                  "--workers host:port,... --task-index N to cnnctl train on every worker"))
    cluster, task = _read_tf_config()
    from cnnctl import keras_catalog
    from cnnctl.training.keras_fixes import mend_multi_worker

    keras_catalog.keras()
    import tensorflow as tf

    if device == "cpu":
        tf.config.set_visible_devices([], "GPU")
    mend_multi_worker()
    options = tf.distribute.experimental.CommunicationOptions(timeout_seconds=timeout)
    try:
        strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    except RuntimeError as exc:  # "Collective ops must be configured at program startup"
        raise CnnctlError(Problem(f"cannot join the cluster: {exc}", hint=FIRST)) from None
    chief = chief_task()
    workers = sum(len(v) for k, v in cluster.items() if k in ("chief", "worker"))
    return Placement("multi_worker", strategy, replicas=strategy.num_replicas_in_sync, workers=workers,
                     task=f"{task['type']} {task['index']}", chief=chief, timeout=timeout)


def _read_tf_config() -> tuple[dict[str, list[str]], dict[str, Any]]:
    """TF_CONFIG, checked: a cluster of chief and workers, and this task in it."""
    def bad(what: str) -> CnnctlError:
        return CnnctlError(Problem(f"TF_CONFIG: {what}", hint='e.g. {"cluster": {"worker": ["host1:12345", '
                                   '"host2:12345"]}, "task": {"type": "worker", "index": 0}}'))

    try:
        spec = json.loads(os.environ[TF_CONFIG])
    except ValueError as exc:
        raise bad(f"not JSON ({exc})") from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    task = spec.get("task") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict) or not all(isinstance(v, list) for v in cluster.values()):
        raise bad("no cluster: a mapping of job names to lists of host:port")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int):
        raise bad("no task: its type (a job of the cluster) and index")
    if not 0 <= task["index"] < len(cluster[task["type"]]):
        raise bad(f"task index {task['index']}: the {task['type']} job has {len(cluster[task['type']])}")
    if set(cluster) - {"chief", "worker"}:
        raise bad(f"job {sorted(set(cluster) - {'chief', 'worker'})[0]!r}: multi_worker takes chief and worker "
                  "jobs (parameter servers are another strategy)")
    return cluster, task


def broadcast_from_chief(placement: Placement, data: bytes | None) -> bytes:
    """The chief's bytes (a checkpoint), on every worker.

    TensorFlow's own broadcast: a variable made in a multi-worker scope takes its initial value from the
    chief (`CollectiveAllReduceExtended._get_variable_creator_initial_value`). The length goes first, so
    the others know the shape of what comes; the bytes travel as int64 words, a type collectives carry.
    """
    if placement.workers == 1:
        return data or b""
    import numpy as np
    import tensorflow as tf

    data = data if placement.chief and data else b""
    with placement.scope():
        length = int(tf.Variable(np.int64(len(data)), trainable=False).numpy())
    if length == 0:
        return b""
    words = np.zeros((length + 7) // 8, np.int64)
    if placement.chief:
        words = np.frombuffer(data + b"\0" * (len(words) * 8 - length), np.int64)
    with placement.scope():
        received = tf.Variable(words, trainable=False).numpy()
    return received.tobytes()[:length]
