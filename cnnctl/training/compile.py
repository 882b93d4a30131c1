"""Keras objects from the config's names: optimizer, loss, metrics, schedule, device."""

from __future__ import annotations

from typing import Any

from cnnctl import keras_catalog
from cnnctl.config import Config
from cnnctl.config.components import ComponentSpec
from cnnctl.errors import CnnctlError, Problem


def instantiate(spec: ComponentSpec) -> Any:
    """A class with its arguments, or a plain name Keras resolves itself (`mse`, `accuracy`)."""
    cls = keras_catalog.lookup_class(spec.kind, spec.name)
    return spec.name if cls is None else cls(**spec.args)


# What `auto` means, per device, chosen by measurement (BENCHMARKS.md): steps per call into the
# compiled graph, and XLA.
AUTO_EXECUTION = {
    "CPU": {"steps_per_execution": 50, "jit_compile": False},
    "GPU": {"steps_per_execution": 50, "jit_compile": False},
}


def execution_settings(config: Config, device: str, steps_per_epoch: int, strategy: str = "none") -> dict[str, Any]:
    """`train.execution` with every `auto` replaced by the measured choice for this device.

    Keras runs `steps_per_execution` steps per call even across an epoch's end, which would shift
    every later epoch's batches; so the value used is the largest divisor of the epoch's steps not
    above the one asked for, nor above a tenth of the epoch, so that callbacks (the divergence check,
    Ctrl-C, the live bar) still look in at least ten times an epoch. Results are then identical to
    one step per call.
    """
    auto = dict(AUTO_EXECUTION["GPU" if device.startswith("GPU") else "CPU"])
    asked = config.train.execution.model_dump()
    if strategy != "none":
        _check_strategy_execution(config, asked, strategy)
        auto |= UNDER_STRATEGY
    chosen = {key: auto[key] if value == "auto" else value for key, value in asked.items()}
    wanted = min(chosen["steps_per_execution"], max(1, steps_per_epoch // 10))
    chosen["steps_per_execution"] = max(d for d in range(1, wanted + 1) if steps_per_epoch % d == 0)
    return chosen


# Under a strategy, what `auto` must mean. Keras itself turns XLA off under tf.distribute
# (`Trainer._resolve_auto_jit_compile`). Keras 3.15's multi-step loop over a distributed iterator fails,
# on one machine or several ("You must feed a value for placeholder tensor ... while/cond/Placeholder",
# keras-team/keras#19246, open), so one step per call.
UNDER_STRATEGY: dict[str, Any] = {"jit_compile": False, "steps_per_execution": 1}


def _check_strategy_execution(config: Config, asked: dict[str, Any], strategy: str) -> None:
    """Refuse, naming the key, what TensorFlow cannot do under `strategy`, rather than hang or fail mid-run."""
    if asked["jit_compile"] is True:
        raise config.error(("train", "execution", "jit_compile"), f"XLA is not used under train.distribution "
                           f"{strategy}: Keras turns it off with tf.distribute, and with mixed precision it has hung "
                           "(keras-team/keras#20763)", hint="use jit_compile: auto or false")
    if asked["steps_per_execution"] not in ("auto", 1):
        raise config.error(("train", "execution", "steps_per_execution"), f"several steps per call fail under "
                           f"train.distribution {strategy} in Keras 3.15 (keras-team/keras#19246)",
                           hint="use steps_per_execution: auto (1 under a strategy) or 1")


def compile_model(model: Any, config: Config, execution: dict[str, Any] | None = None) -> None:
    """Compile with the config's optimizer (and schedule), loss and metrics; build the optimizer's slots."""
    optimizer_args = dict(config.optimizer.args)
    schedule = config.lr_schedule
    if schedule is not None and schedule.kind == "schedules":
        optimizer_args["learning_rate"] = instantiate(schedule)
    optimizer = instantiate(ComponentSpec("optimizers", config.optimizer.name, optimizer_args))
    if isinstance(optimizer, str):
        optimizer = keras_catalog.keras().optimizers.get(optimizer)
    model.compile(optimizer=optimizer, loss=instantiate(config.loss),
                  metrics=[instantiate(m) for m in config.metrics], **(execution or {}))
    model.optimizer.build(model.trainable_variables)  # slots exist now, so their state can be saved and restored


def select_device(request: str) -> str:
    """`cpu` hides GPUs; `gpu` insists on one; `auto` takes a GPU when TensorFlow sees one."""
    keras_catalog.keras()
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if request == "cpu" or (request == "auto" and not gpus):
        if gpus and tf.config.get_visible_devices("GPU"):  # a strategy may have hidden them already
            tf.config.set_visible_devices([], "GPU")
        return "CPU"
    if not gpus:
        raise CnnctlError(Problem("--device gpu: TensorFlow sees no GPU",
                                  hint="install with pip install 'cnnctl[gpu]' and check nvidia-smi, "
                                       "or use --device cpu"))
    names = [tf.config.experimental.get_device_details(g).get("device_name", g.name) for g in gpus]
    return f"GPU ({', '.join(names)})"


def peak_host_memory_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    Linux's `VmHWM` where there is one: `ru_maxrss` survives fork and exec, so a process started from a
    larger one (a notebook, a test runner, `cnnctl bench`'s parent) would report that one's peak instead.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 2**10  # kB
    except OSError:
        pass
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return peak / (2**20 if sys.platform == "darwin" else 2**10)
