"""The callbacks a run needs beyond Keras' own: per-epoch log, best checkpoint, divergence guard."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from cnnctl.keras_catalog import keras

Base = keras().callbacks.Callback


def float32_value(value: Any) -> float:
    """A float32 number as the shortest decimal that reads back as it: 0.1, not 0.10000000149011612.

    Keras computes losses, metrics and learning rates in float32; printed as float64 they show digits
    that were never computed. The shortest decimal is the same float32 (nothing is lost: a rate halved
    from it, or a resumed run compared with it, is exactly what it would have been).
    """
    return float(str(np.float32(value)))


def current_lr(model: Any) -> float:
    return float32_value(keras().ops.convert_to_numpy(model.optimizer.learning_rate))


class EpochLog(Base):
    """Times each epoch and hands its row (metrics, learning rate, seconds, images/s) to `sink`."""

    def __init__(self, images_per_epoch: int, sink: Callable[[dict[str, Any]], None]):
        super().__init__()
        self.images, self.sink = images_per_epoch, sink

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        seconds = time.perf_counter() - self.started
        row = {"epoch": epoch + 1, **{k: float32_value(v) for k, v in (logs or {}).items() if k != "learning_rate"},
               "lr": current_lr(self.model), "seconds": round(seconds, 3),
               "images_per_second": round(self.images / seconds, 1)}
        self.sink(row)


def maximized(model: Any, monitor: str) -> bool:
    """Whether a higher `monitor` is better, asked of the metric itself as Keras' own callbacks do.

    Keras' metrics carry a direction (`_direction`, "up" or "down"); `MonitorCallback._set_monitor_op`
    reads it the same way. Losses, and metrics without one, are minimised.
    """
    name = monitor.removeprefix("val_")
    for holder in model.metrics:
        for metric in getattr(holder, "metrics", [holder]):  # compiled metrics come wrapped in a list
            if metric.name == name:
                return getattr(metric, "_direction", "down") == "up"
    return False


class BestCheckpoint(Base):
    """Saves the model whenever `monitor` improves; the file is replaced atomically."""

    def __init__(self, monitor: str, save: Callable[[Any], None]):
        super().__init__()
        self.monitor, self.save = monitor, save
        self.maximize: bool | None = None  # known once the metrics are built, after the first step
        self.best: float | None = None
        self.best_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.maximize is None:
            self.maximize = maximized(self.model, self.monitor)
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        value = float32_value(value)
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best, self.best_epoch = value, epoch + 1
            self.save(self.model)


# Counters that Keras' own callbacks reset in `on_train_begin`: saved with each checkpoint and put back
# when a run resumes, so patience and plateaus pick up where they were. EarlyStopping's best weights
# (restore_best_weights) are saved as arrays. cnnctl's own callbacks say what they keep themselves
# (`checkpoint_state()`) and take it back when they are made.
STATEFUL = ("wait", "best", "best_epoch", "cooldown_counter", "stopped_epoch")
BEST_WEIGHTS = "best_weights"


def callback_state(callbacks: list[Any]) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray]]:
    """The callbacks' counters (JSON-able, by class name) and their arrays (named `Class.key`)."""
    state, arrays = {}, {}
    for cb in callbacks:
        name = type(cb).__name__
        if hasattr(cb, "checkpoint_state"):
            values, own = cb.checkpoint_state()
        else:
            values, own = {k: getattr(cb, k) for k in STATEFUL if hasattr(cb, k)}, {}
            if getattr(cb, BEST_WEIGHTS, None) is not None:
                values[BEST_WEIGHTS] = len(cb.best_weights)
                own = {f"{BEST_WEIGHTS}_{i}": w for i, w in enumerate(cb.best_weights)}
        state[name] = {k: (v.item() if isinstance(v, (np.floating, np.integer)) else v) for k, v in values.items()}
        arrays |= {f"{name}.{k}": v for k, v in own.items()}
    return state, arrays


def arrays_of(name: str, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """One callback's arrays from a checkpoint, under their own keys."""
    prefix = f"{name}."
    return {k.removeprefix(prefix): v for k, v in arrays.items() if k.startswith(prefix)}


class Restore(Base):
    """Last in the list: after Keras' callbacks have reset themselves, give them back their saved state."""

    def __init__(self, callbacks: list[Any], state: dict[str, dict[str, Any]], arrays: dict[str, np.ndarray]):
        super().__init__()
        self.callbacks, self.state, self.arrays = callbacks, state, arrays

    def on_train_begin(self, logs=None) -> None:
        for cb in self.callbacks:
            if hasattr(cb, "checkpoint_state"):
                continue  # restores itself
            name = type(cb).__name__
            for key, value in self.state.get(name, {}).items():
                if key == BEST_WEIGHTS:
                    own = arrays_of(name, self.arrays)
                    value = [own[f"{BEST_WEIGHTS}_{i}"] for i in range(value)]
                setattr(cb, key, value)


class Checkpointer(Base):
    """After every other callback has had its say on the epoch, save everything needed to resume."""

    def __init__(self, save: Callable[[int], None], first_epoch: int):
        super().__init__()
        self.save, self.first_epoch = save, first_epoch

    def on_train_begin(self, logs=None) -> None:
        if self.first_epoch == 0:  # an interrupted first epoch resumes from the initial weights
            self.save(0)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.save(epoch + 1)


class StopOnSignal(Base):
    """Ctrl-C or SIGTERM: finish the step in progress, then stop; the last epoch's checkpoint stands.

    Safe to run off the training thread: Keras re-raises the interruption on it at the next step.
    """

    async_safe = True

    def __init__(self, requested: Callable[[], bool]):
        super().__init__()
        self.requested = requested

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.requested():
            raise KeyboardInterrupt

    on_test_batch_end = on_train_batch_end


class FirstStep(Base):
    """Notes when the first training step starts: start-up cost (imports, data, build, compile).

    The first epoch's start stands for it: a per-step hook would cost every step a call for one note.
    """

    def __init__(self, note: Callable[[], None]):
        super().__init__()
        self.note, self.done = note, False

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        if not self.done:
            self.done = True
            self.note()
