"""What `--set` may change in a run that exists: `resume` trains it on, `evaluate` tests its model again.

Resume continues from a checkpoint: weights, optimizer state (its learning rate too, halvings
included) and the callbacks' counters, made by the run's own model, data and optimizer. Changing any
of those would not fit the checkpoint, or would silently not apply, so resume takes only what
decides how far and how training goes on: the number of epochs (more, to continue a run), early
stopping, what a divergence does, how steps are executed, whether TensorBoard event files are
written (from the resumed epoch on; nothing in the checkpoint depends on them), and where a built-in
dataset lies on this machine. Evaluate loads a saved model: only what it is tested on can change.
"""

from __future__ import annotations

from pathlib import Path

from cnnctl.config import Config
from cnnctl.config.overrides import refuse_keys
from cnnctl.runfolder.config import read_config

RESUME_KEYS = ("train.epochs", "train.early_stopping", "train.on_divergence", "train.execution", "train.tensorboard",
               "train.distribution", "data.data_dir")
EVALUATE_KEYS = ("data", "train.batch_size")


def check_resume_overrides(overrides: list[str] | tuple[str, ...]) -> None:
    refuse_keys(overrides, RESUME_KEYS, "resume",
                "the checkpoint holds weights and optimizer state made with the run's own model, data and "
                "optimizer; train a new run to change it")


def check_evaluate_overrides(overrides: list[str] | tuple[str, ...]) -> None:
    refuse_keys(overrides, EVALUATE_KEYS, "evaluate", "it tests the saved model as it is")


def more_epochs(folder: Path, status: str, config: Config) -> bool:
    """A completed run given more epochs than its config.yaml holds (`--set train.epochs=N`): it trains on."""
    if status != "completed":
        return False
    saved = read_config(folder)
    return config.train.epochs > saved["train"]["epochs"]
