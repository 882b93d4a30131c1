"""Tell a blow-up from a bump, and recover from it: the lecture's "start high, halve when it diverges".

The rule is measured against quantities that do not shrink as training
succeeds, so a healthy run that reaches a low loss is not stopped by one bad
batch. The reference is the untrained model's loss on the *check images*, a
fixed, seeded sample of the training split that is never augmented. Training
has diverged when

1. the loss is NaN or infinite, at any step the guard sees (every
   `steps_per_execution` steps) or at the epoch's end;
2. the running loss of the epoch, or the loss of the epoch's final weights on
   the check images, is more than `FACTOR` (3) times the reference: worse than
   knowing nothing by a wide margin; or
3. the final weights of an epoch score no better than the untrained model on
   the check images: a whole epoch of training left the model knowing nothing,
   or took away everything it had learned (a rate too high often leaves a net
   at chance rather than at infinity).

The check images are scored as the model predicts, batch norm with its moving
statistics. Those start at mean 0, variance 1 and forget that start slowly (by
`momentum`, 0.99 in Keras): until the optimizer has taken `10 / (1 - momentum)`
steps (1,000), the moving statistics are not yet the data's and a net that
trains well can score worse than untrained on the check images. The epoch's
running loss cannot stand in for them: it is computed with batch statistics,
which the untrained reference was not (an untrained BN net's first batches
score 2.56 against a reference of 2.30). So until then only rule 1 and the
running loss of rule 2 apply, and the check images judge from the first
epoch's end after it. A small training set meets this: on 7,200 MNIST digits at
batch 128 (56 steps an epoch) configs/mnist_small.yaml reached 0.98 training
accuracy by epoch 6 while its validation accuracy was 0.41. After 300 steps
(95% of the start forgotten) that was still too early: a layer whose outputs
vary by 0.01 keeps a moving variance several times too large while 5% of the
initial 1 remains; after 1,000 steps 0.004% remains.

A spike in one batch moves an epoch's running loss by a fraction and is never
a divergence. Only weights that passed the check at an epoch's end are kept as
restore points (the last `KEEP`, the initial weights first), each with its
optimizer state. On a divergence with halving on, the guard restores the
newest, halves the learning rate and goes on; if training diverges again
before a newer restore point has passed the check, that restore point is
dropped and the one before it is used. After `MAX_HALVINGS` the run stops as
diverged. With halving off, the first divergence stops the run.

The restore points, the reference and the halvings are part of every
checkpoint, so a resumed run recovers exactly as an uninterrupted one would.

The guard also says when the first epoch barely moved the loss on the check
images (less than `SLOW_START`, 10%): the opposite mistake, a rate too low,
as with Keras' default rate of 0.001 for Adadelta or Adagrad.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cnnctl.keras_catalog import keras
from cnnctl.training.callbacks import current_lr

FACTOR = 3.0
KEEP = 3
MAX_HALVINGS = 20
SLOW_START = 0.1
SETTLED = 10  # batch norm's moving statistics judge the weights after 10 / (1 - momentum) steps (see above)


@dataclass
class RestorePoint:
    epoch: int  # the weights at the end of this epoch; 0: the initial weights
    check_loss: float
    weights: list[np.ndarray]
    optimizer: list[np.ndarray]


class DivergenceGuard(keras().callbacks.Callback):
    """Watches the loss; stops the run (status diverged) or restores a checked restore point and halves.

    `check` is the dataset of check images (`Data.check`); `say` receives one
    line per halving. `saved` is this guard's `checkpoint_state()` from a checkpoint.
    """

    def __init__(self, halve: bool, check: Any, say: Callable[[str], None],
                 saved: tuple[dict[str, Any], dict[str, np.ndarray]] | None = None):
        super().__init__()
        self.halve, self.check, self.say = halve, check, say
        self.reference: float | None = None  # the untrained model's loss on the check images
        self.points: list[RestorePoint] = []
        self.halvings: list[dict[str, Any]] = []
        self.restored_from: int | None = None  # set by a restore, cleared when a newer point passes the check
        self.diverged: dict[str, Any] | None = None
        self.epoch = 0
        self.saved = saved
        # Stopping only sets a flag, so Keras may run the step checks off the training thread (no stall
        # per step); restoring swaps weights and must happen between steps, on the training thread.
        self.async_safe = not halve

    def on_train_begin(self, logs=None) -> None:
        if self.saved is not None:
            self._load(*self.saved)
            return
        self.reference = self._check_loss()
        self.points = [self._point(0, self.reference)]

    @property
    def settling_steps(self) -> int:
        """Steps before the model's batch norm moving statistics are the data's; 0 without batch norm."""
        momenta = [layer.momentum for layer in self.model._flatten_layers(include_self=False)
                   if isinstance(layer, keras().layers.BatchNormalization) and 0 < layer.momentum < 1]
        return max((math.ceil(SETTLED / (1 - m)) for m in momenta), default=0)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.epoch = epoch + 1

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        loss = float((logs or {}).get("loss", 0.0))
        if self.diverged is None and self._blown(loss):
            self._diverge(batch + 1, loss, "the running loss")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if self.diverged is not None:
            return
        loss = float((logs or {}).get("loss", math.nan))
        if not math.isfinite(loss):
            self._diverge(None, loss, "the epoch's loss")
            return
        check = self._check_loss()
        assert self.reference is not None
        # while batch norm's moving statistics settle, the check images cannot judge the weights (see above)
        settled = int(self.model.optimizer.iterations.numpy()) >= self.settling_steps
        if settled and (self._blown(check) or check >= self.reference):
            self._diverge(None, check, "the loss on the check images")
            return
        self.points = (self.points + [self._point(epoch + 1, check)])[-KEEP:]
        self.restored_from = None
        if epoch == 0 and settled and check > (1 - SLOW_START) * self.reference:
            optimizer = type(self.model.optimizer).__name__
            self.say(f"epoch 1 barely moved the loss on the check images ({check:.4g}, untrained "
                     f"{self.reference:.4g}): {optimizer}'s learning rate {current_lr(self.model):g} may be too low "
                     f"(the README lists rates that train)")

    def _blown(self, loss: float) -> bool:
        if not math.isfinite(loss):
            return True
        return self.reference is not None and self.reference > 0 and loss > FACTOR * self.reference

    def _diverge(self, step: int | None, loss: float, what: str) -> None:
        lr = current_lr(self.model)
        where = {"epoch": self.epoch, "step": step, "learning_rate": lr, "loss": loss}
        if not self.halve or len(self.halvings) >= MAX_HALVINGS:
            self.diverged = where
            self.model.stop_training = True
            return
        if self.restored_from is not None and len(self.points) > 1:
            self.points.pop()  # diverged again before anything newer passed the check: step back further
        point = self.points[-1]
        self.model.set_weights(point.weights)
        for variable, value in zip(self.model.optimizer.variables, point.optimizer):
            variable.assign(value)
        self.model.optimizer.learning_rate.assign(lr / 2)
        self.model.reset_metrics()  # the running loss restarts from the restored weights
        self.restored_from = point.epoch
        self.halvings.append({**where, "new_learning_rate": lr / 2, "restored_epoch": point.epoch})
        when = f"step {step}" if step else "end"
        source = "the initial weights" if point.epoch == 0 else f"the weights of epoch {point.epoch}"
        self.say(f"loss diverged at epoch {self.epoch}, {when} ({what} {loss:.4g}, untrained "
                 f"{self.reference:.4g}): restored {source}, learning rate {lr:g} -> {lr / 2:g}")

    def _check_loss(self) -> float:
        return float(self.model.evaluate(self.check, verbose=0, return_dict=True)["loss"])

    def _point(self, epoch: int, check_loss: float) -> RestorePoint:
        return RestorePoint(epoch, check_loss, self.model.get_weights(),
                            [v.numpy() for v in self.model.optimizer.variables])

    def checkpoint_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """What a checkpoint keeps: JSON-able counters, and the restore points' arrays by name."""
        meta = {"reference": self.reference, "halvings": self.halvings,
                "restored_from": self.restored_from,
                "points": [{"epoch": p.epoch, "check_loss": p.check_loss, "weights": len(p.weights),
                            "optimizer": len(p.optimizer)} for p in self.points]}
        arrays = {}
        for k, p in enumerate(self.points):
            arrays |= {f"point{k}_weight_{i}": w for i, w in enumerate(p.weights)}
            arrays |= {f"point{k}_optimizer_{i}": v for i, v in enumerate(p.optimizer)}
        return meta, arrays

    def _load(self, meta: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
        self.reference = meta["reference"]
        self.halvings, self.restored_from = list(meta["halvings"]), meta["restored_from"]
        self.points = [RestorePoint(p["epoch"], p["check_loss"],
                                    [arrays[f"point{k}_weight_{i}"] for i in range(p["weights"])],
                                    [arrays[f"point{k}_optimizer_{i}"] for i in range(p["optimizer"])])
                       for k, p in enumerate(meta["points"])]
