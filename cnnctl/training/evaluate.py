"""`evaluate_run(folder)`: the saved model on its own run's test split, from the files alone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config import load_config
from cnnctl.data.pipeline import eval_dataset, label_encoder
from cnnctl.data.prepare import load_data
from cnnctl.errors import CnnctlError, Problem
from cnnctl.model.build import internal_input_shape


def evaluate_run(folder: str | Path, model_file: str = "model.keras",
                 overrides: list[str] | tuple[str, ...] = ()) -> dict[str, float]:
    """Test metrics of a run's model (safe mode: a model file cannot run code).

    `overrides` change what it is tested on, not the run's files: `data.limit=1000`, `data.path=other.npz`
    (see `changes.EVALUATE_KEYS`).
    """
    from cnnctl.training.changes import check_evaluate_overrides

    check_evaluate_overrides(overrides)
    folder = Path(folder)
    config_path, model_path = folder / "config.yaml", folder / model_file
    for path in (config_path, model_path):
        if not path.is_file():
            raise CnnctlError(Problem(f"no {path.name} here: not a finished cnnctl run folder", str(folder),
                                      hint="pass runs/<name>"))
    config = load_config(config_path, overrides)
    keras = keras_catalog.keras()
    model: Any = keras.saving.load_model(model_path, safe_mode=True)
    data = load_data(config, internal_input_shape(config))
    units = int(model.output.shape[-1])
    test = eval_dataset(data.test, config.train.batch_size, data.prepare, label_encoder(config.loss.name, units))
    from cnnctl.training.callbacks import float32_value

    return {k: float32_value(v) for k, v in model.evaluate(test, verbose=0, return_dict=True).items()}
