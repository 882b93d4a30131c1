"""`evaluate_run(folder)`: the saved model on its own run's test split, from the files alone."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config import load_config
from cnnctl.data.pipeline import eval_dataset, label_encoder
from cnnctl.data.prepare import load_data
from cnnctl.errors import CnnctlError, Problem
from cnnctl.model.build import internal_input_shape
from cnnctl.training.callbacks import float32_value

# What every `.keras` file Keras writes holds; without them it cannot be a model.
MEMBERS = ("config.json", "model.weights.h5")


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
    model = load_saved_model(model_path)
    inputs, outputs = getattr(model, "inputs", None) or [], getattr(model, "outputs", None) or []
    if len(inputs) != 1 or len(outputs) != 1:
        raise _misfit(model_path, "it does not take one batch of images and give one batch of outputs")
    taken, given = tuple(inputs[0].shape[1:]), internal_input_shape(config)
    if len(taken) != len(given) or any(t not in (None, g) for t, g in zip(taken, given)):
        raise _misfit(model_path, f"it takes {_dims(taken)} images, config.yaml's are {_dims(given)}")
    data = load_data(config, given)
    units = int(outputs[0].shape[-1])
    if units != data.classes and not (units == 1 and data.classes == 2):
        raise _misfit(model_path, f"it gives {units} outputs, the data has {data.classes} classes")
    # Scored with the loss the file was compiled with, so labels are encoded for that loss, whatever
    # config.yaml says now.
    loss = getattr(model, "loss", None) or config.loss.name
    encode = label_encoder(loss if isinstance(loss, str) else type(loss).__name__, units)
    test = eval_dataset(data.test, config.train.batch_size, data.prepare, encode)
    return {k: float32_value(v) for k, v in model.evaluate(test, verbose=0, return_dict=True).items()}


def load_saved_model(path: Path) -> Any:
    """A `.keras` file, loaded in safe mode; one that is damaged, or holds code, is refused in one line.

    Keras itself calls a file that is not a whole zip archive "not found", and reports a Lambda layer
    or an unknown class with a traceback: both are about the file, not about cnnctl.
    """
    if not zipfile.is_zipfile(path):
        raise _damaged(path, "not a whole .keras (zip) archive")
    try:
        with zipfile.ZipFile(path) as archive:
            broken, members = archive.testzip(), set(archive.namelist())
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _damaged(path, f"unreadable ({exc})") from None
    lacking = [m for m in MEMBERS if m not in members]
    if broken or lacking:
        raise _damaged(path, f"{broken} in it fails its checksum" if broken else f"it holds no {lacking[0]}")
    try:
        return keras_catalog.keras().saving.load_model(path, safe_mode=True)
    except (json.JSONDecodeError, OSError) as exc:  # a whole archive around a damaged config or weights file
        first = (str(exc) or type(exc).__name__).splitlines()[0]
        raise _damaged(path, f"its config or weights cannot be read ({first})") from None
    except ValueError as exc:
        if "safe_mode" not in str(exc):
            raise
        raise CnnctlError(Problem("the model file holds code (a Lambda layer's Python function) that Keras' "
                                  "safe mode refuses to run", str(path),
                                  hint="cnnctl never writes one: the file is not this run's; restore it, or "
                                       "train the run again")) from None
    except TypeError as exc:
        if "could not be deserialized" not in str(exc) and "Could not locate" not in str(exc):
            raise
        raise CnnctlError(Problem("the model file names a layer, class or function that neither Keras nor a "
                                  "--plugin module offers", str(path),
                                  hint="pass the --plugin MODULE the run was trained with")) from None


def _damaged(path: Path, what: str) -> CnnctlError:
    return CnnctlError(Problem(f"damaged model file: {what}", str(path), hint="restore it, or train the run "
                               f"again: `cnnctl train {path.parent / 'config.yaml'}`"))


def _misfit(path: Path, what: str) -> CnnctlError:
    return CnnctlError(Problem(f"the model file does not fit config.yaml: {what}", str(path),
                               hint="was config.yaml edited after training? undo the edit to evaluate this model; "
                                    f"`cnnctl train {path.parent / 'config.yaml'}` trains the edited one"))


def _dims(shape: tuple[Any, ...]) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)
