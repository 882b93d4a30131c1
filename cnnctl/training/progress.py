"""What a person watches during training: a live bar per epoch, then one line per epoch."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from cnnctl.keras_catalog import keras


def epoch_line(row: dict[str, Any], epochs: int) -> str:
    """`epoch 3/20  loss 0.2345  accuracy 0.9312  val_loss 0.2811  val_accuracy 0.9100  lr 0.1  5.8s`."""
    skip = {"epoch", "lr", "seconds", "images_per_second"}
    metrics = "  ".join(f"{k} {v:.4f}" for k, v in row.items() if k not in skip)
    return (f"epoch {row['epoch']}/{epochs}  {metrics}  lr {row['lr']:g}  {row['seconds']:.1f}s  "
            f"{row['images_per_second']:,.0f} img/s")


class LiveProgress(keras().callbacks.Callback):
    """A transient rich bar with step count, live loss and metrics, images/s and ETA."""

    async_safe = True  # drawing never blocks a training step (rich's Progress takes its own lock)

    def __init__(self, console: Console, epochs: int, steps: int, batch_size: int):
        super().__init__()
        self.console, self.epochs, self.steps, self.batch_size = console, epochs, steps, batch_size
        self.progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[metrics]}"), TextColumn("{task.fields[speed]}"),
                                 TimeRemainingColumn(), console=console, transient=True)

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.started = time.perf_counter()
        self.progress.start()
        self.task = self.progress.add_task(f"epoch {epoch + 1}/{self.epochs}", total=self.steps, metrics="",
                                           speed="")

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        metrics = "  ".join(f"{k} {float(v):.4f}" for k, v in (logs or {}).items() if k != "learning_rate")
        speed = (batch + 1) * self.batch_size / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.task, completed=batch + 1, metrics=metrics, speed=f"{speed:,.0f} img/s")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.progress.remove_task(self.task)
        self.progress.stop()

    def on_train_end(self, logs=None) -> None:
        self.progress.stop()
