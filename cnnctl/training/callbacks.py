"""The callbacks a run needs beyond Keras' own: per-epoch log, best checkpoint, divergence guard."""

from __future__ import annotations

import math
import time
from typing import Any, Callable

import numpy as np

from cnnctl.keras_catalog import keras

Base = keras().callbacks.Callback


def current_lr(model: Any) -> float:
    return float(np.asarray(keras().ops.convert_to_numpy(model.optimizer.learning_rate)))


class EpochLog(Base):
    """Times each epoch and hands its row (metrics, learning rate, seconds, images/s) to `sink`."""

    def __init__(self, images_per_epoch: int, sink: Callable[[dict[str, Any]], None]):
        super().__init__()
        self.images, self.sink = images_per_epoch, sink

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.started = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        seconds = time.perf_counter() - self.started
        row = {"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items() if k != "learning_rate"},
               "lr": current_lr(self.model), "seconds": round(seconds, 3),
               "images_per_second": round(self.images / seconds, 1)}
        self.sink(row)


class BestCheckpoint(Base):
    """Saves the model whenever `monitor` improves; the file is replaced atomically."""

    def __init__(self, monitor: str, save: Callable[[Any], None]):
        super().__init__()
        self.monitor, self.save = monitor, save
        self.maximize = any(word in monitor for word in ("acc", "auc", "precision", "recall", "f1", "iou"))
        self.best: float | None = None
        self.best_epoch: int | None = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(float(value)):
            return
        value = float(value)
        if self.best is None or (value > self.best if self.maximize else value < self.best):
            self.best, self.best_epoch = value, epoch + 1
            self.save(self.model)


class DivergenceGuard(Base):
    """The loss diverges: stop (status diverged), or restore the last good weights and halve the rate.

    The reference is the untrained model's loss, then each good epoch's. The loss diverges when the
    epoch's running loss is NaN or infinite, or more than `FACTOR` times the reference: a rate far
    too high blows the loss up without always reaching infinity. With halving on, an epoch whose
    loss is no lower than the reference has diverged too, as in the lecture's "start high, halve
    when it diverges".
    """

    FACTOR = 10.0
    MAX_HALVINGS = 20

    def __init__(self, halve: bool, initial_loss: float, say: Callable[[str], None]):
        super().__init__()
        self.halve, self.say = halve, say
        self.good_loss = initial_loss
        self.halvings: list[dict[str, Any]] = []
        self.diverged: dict[str, Any] | None = None
        # Stopping only sets a flag, so Keras may run the batch checks off the training thread (no stall
        # per step); halving swaps weights and must happen between steps, on the training thread.
        self.async_safe = not halve

    def on_train_begin(self, logs=None) -> None:
        self._remember(None)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if self.diverged is None and not (math.isfinite(loss) and abs(loss) <= self.FACTOR * abs(self.good_loss)):
            self._diverge(batch + 1, loss)

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        loss = float((logs or {}).get("loss", math.nan))
        if self.diverged is not None or not math.isfinite(loss):
            return
        if self.halve and loss >= self.good_loss:
            self._diverge(None, loss)
        else:
            self._remember(loss)

    def _diverge(self, step: int | None, loss: float) -> None:
        lr = current_lr(self.model)
        where = {"epoch": self.epoch, "step": step, "learning_rate": lr, "loss": loss}
        if not self.halve or len(self.halvings) >= self.MAX_HALVINGS:
            self.diverged = where
            self.model.stop_training = True
            return
        self.model.set_weights(self.weights)
        for variable, value in zip(self.model.optimizer.variables, self.optimizer_state):
            variable.assign(value)
        self.model.optimizer.learning_rate.assign(lr / 2)
        self.model.reset_metrics()  # the running loss restarts from the restored weights
        self.halvings.append({**where, "new_learning_rate": lr / 2})
        when = f"step {step}" if step else f"end (loss {loss:.4g}, last good {self.good_loss:.4g})"
        self.say(f"loss diverged at epoch {self.epoch}, {when}: restored the last good weights, "
                 f"learning rate {lr:g} -> {lr / 2:g}")

    def _remember(self, loss: float | None) -> None:
        self.weights = self.model.get_weights()
        self.optimizer_state = [v.numpy() for v in self.model.optimizer.variables]
        if loss is not None:
            self.good_loss = loss


# Counters that Keras' own callbacks reset in `on_train_begin`, and cnnctl's carry: saved with each
# checkpoint and put back when a run resumes, so patience and plateaus pick up where they were.
STATEFUL = ("wait", "best", "best_epoch", "cooldown_counter", "stopped_epoch", "good_loss", "halvings")


def callback_state(callbacks: list[Any]) -> dict[str, dict[str, Any]]:
    state = {}
    for cb in callbacks:
        values = {k: getattr(cb, k) for k in STATEFUL if hasattr(cb, k)}
        state[type(cb).__name__] = {k: (float(v) if isinstance(v, (np.floating, np.integer)) else v)
                                    for k, v in values.items()}
    return state


class Restore(Base):
    """Last in the list: after the others have reset themselves, give them back their saved counters."""

    def __init__(self, callbacks: list[Any], state: dict[str, dict[str, Any]]):
        super().__init__()
        self.callbacks, self.state = callbacks, state

    def on_train_begin(self, logs=None) -> None:
        for cb in self.callbacks:
            for key, value in self.state.get(type(cb).__name__, {}).items():
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
