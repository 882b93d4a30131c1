"""TensorBoard event files in the run folder (`train.tensorboard: true`): Keras' own callback, nothing copied.

TensorFlow 2.21 no longer installs the `tensorboard` package, and `tf.summary.scalar`, through which
Keras' callback writes every scalar, imports it on first use: without it the run would fail at the
end of its first epoch. So a run that asks for TensorBoard checks for it before its folder is made,
and a run that does not ask imports nothing of it.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

from cnnctl.config import Config
from cnnctl.errors import Problem

# What `tf.summary.scalar` imports (tensorflow/python/summary/tb_summary.py): the part Keras' callback needs.
SUMMARY_MODULE = "tensorboard.summary.v2"
INSTALL = 'pip install "cnnctl[tensorboard]"'


def missing_tensorboard(config: Config) -> list[Problem]:
    """The problem of a config that asks for TensorBoard where it cannot be imported, at the key's line.

    The module is imported, not looked up: an installed but broken TensorBoard (a protobuf it does not
    fit) fails here, before the run folder is made, rather than at the end of the first epoch.
    """
    if not config.train.tensorboard:
        return []
    try:
        importlib.import_module(SUMMARY_MODULE)
    except ImportError as exc:
        absent = (exc.name or "").partition(".")[0] == "tensorboard"
        reason = "TensorBoard is not installed" if absent else f"TensorBoard cannot be imported: {exc}"
        return [config.origins.problem(("train", "tensorboard"), reason, INSTALL)]
    return []


def event_files(config: Config, log_dir: Path) -> list[Any]:
    """Keras' TensorBoard callback writing per-epoch scalars and the model graph into `log_dir`, if asked for.

    It writes `train/` and `validation/` below `log_dir`, at step `epoch - 1`: `epoch_loss`,
    `epoch_accuracy`, ... (the validation ones without `val_`), and `epoch_learning_rate`, the
    optimizer's rate when the callback sees the epoch's end (placed before the callbacks that change
    it, that is the rate the epoch trained at). The graph is the Keras model, TensorBoard's conceptual
    graph; Keras 3 writes no op graph on TensorFlow (its `train_function` is a plain Python function,
    which the callback's `tf.function` test passes over). No histograms, no profiling, no per-batch
    points: they cost time every epoch.
    """
    if not config.train.tensorboard:
        return []
    from cnnctl.keras_catalog import keras

    return [keras().callbacks.TensorBoard(log_dir=str(log_dir), histogram_freq=0, write_graph=True,
                                          update_freq="epoch", profile_batch=0)]
