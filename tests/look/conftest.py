"""Run folders written by hand, through the writers training uses, for the commands that look at runs."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from cnnctl.runfolder import Results, RunFolder

CONFIG = {
    "name": "net",
    "data": {"source": "synthetic", "path": None, "augment": [], "synthetic": {"classes": 4}},
    "model": {"input_shape": [16, 16, 1],
              "layers": [{"Conv2D": {"filters": 8, "kernel_size": 3}}, "GlobalAveragePooling2D",
                         {"Dense": {"units": 4, "activation": "softmax"}}]},
    "train": {"loss": "categorical_crossentropy", "optimizer": {"Adam": {"learning_rate": 0.01}}, "epochs": 4,
              "seed": 0},
}


def write_run(folder: Path, config: dict[str, Any] | None = None, validation: list[dict[str, float]] = (),
              **results: Any) -> Path:
    """A run folder: CONFIG changed by `config` ({dotted key: value}), a metrics.csv row per `validation`
    entry ({"val_loss": ...}), and a results.json of a completed run changed by `results`."""
    folder.mkdir(parents=True)
    run = RunFolder(folder)
    resolved = copy.deepcopy(CONFIG)
    for key, value in (config or {}).items():
        *parents, last = [int(part) if part.isdigit() else part for part in key.split(".")]
        node = resolved
        for part in parents:
            node = node[part]
        node[last] = value
    run.write_config(resolved)
    for epoch, values in enumerate(validation, 1):
        run.append_metrics({"epoch": epoch, "loss": 1.0, **values, "lr": 0.01, "seconds": 1.0,
                            "images_per_second": 100.0})
    record = {"name": folder.name, "status": "completed", "config": "configs/net.yaml",
              "started": "2026-01-02T10:00:00+00:00", "finished": "2026-01-02T10:01:00+00:00",
              "monitor": "val_loss", "parameters": 1316, "epochs_completed": 4, "best_epoch": 4,
              "best": {"val_loss": 0.2}, "test": {"accuracy": 0.9, "loss": 0.3},
              "best_test": {"accuracy": 0.9, "loss": 0.3}, "wall_seconds": 60.0, **results}
    run.write_results(Results.from_dict(record))
    return folder


@pytest.fixture
def make_run(tmp_path: Path):
    """`make_run(name, config=..., validation=..., **results)` writes tmp_path/runs/<name>."""

    def make(name: str, config: dict[str, Any] | None = None, validation: list[dict[str, float]] = (),
             **results: Any) -> Path:
        return write_run(tmp_path / "runs" / name, config, validation, **results)

    return make
