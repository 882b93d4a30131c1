"""`evaluate_run(folder)`: the saved model on its own run's test split, from the files alone."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl import keras_catalog
from cnnctl.config import load_config
from cnnctl.data.pipeline import eval_dataset, label_encoder
from cnnctl.data.prepare import Data, load_data
from cnnctl.data.preprocess import Preprocess, pixel_scale
from cnnctl.errors import CnnctlError, Problem
from cnnctl.model.build import internal_input_shape
from cnnctl.runfolder import files, read_results
from cnnctl.training.callbacks import float32_value
from cnnctl.training.per_class import confident_mistakes, per_class_report

# What every `.keras` file Keras writes holds; without them it cannot be a model.
MEMBERS = ("config.json", "model.weights.h5")


def evaluate_run(folder: str | Path, model_file: str = files.MODEL, overrides: list[str] | tuple[str, ...] = (),
                 mistakes: int = 0) -> Evaluation:
    """Test metrics and per-class evaluation of a run's model (safe mode: a model file cannot run code).

    `overrides` change what it is tested on, not the run's files: `data.limit=1000`, `data.path=other.npz`
    (see `changes.EVALUATE_KEYS`). Pixels are scaled to [0, 1] and, if the run standardized, standardized
    with the statistics the run recorded from its own training images, whatever data it is tested on.
    `mistakes` asks for that many of the most confident wrong predictions, with their images.
    """
    from cnnctl.training.changes import check_evaluate_overrides

    check_evaluate_overrides(overrides)
    folder = Path(folder)
    config_path, model_path = folder / files.CONFIG, folder / model_file
    for path in (config_path, model_path):
        if not path.is_file():
            raise CnnctlError(Problem(f"no {path.name} here: not a finished cnnctl run folder", str(folder),
                                      hint="pass runs/<name>"))
    results = read_results(folder)
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
    prepare = _preprocess(results.standardization, data)
    # Scored with the loss the file was compiled with, so labels are encoded for that loss, whatever
    # config.yaml says now.
    loss = getattr(model, "loss", None) or config.loss.name
    encode = label_encoder(loss if isinstance(loss, str) else type(loss).__name__, units)
    test = eval_dataset(data.test, config.train.batch_size, prepare, encode)
    metrics = {k: float32_value(v) for k, v in model.evaluate(test, verbose=0, return_dict=True).items()}
    probabilities = model.predict(test, verbose=0)
    names = data.report.get("class_names") or results.class_names or [str(c) for c in range(data.classes)]
    wrong = confident_mistakes(data.test.y, probabilities, mistakes) if mistakes else []
    return Evaluation(evaluation_record(model_file, metrics, data.test.y, probabilities, names), wrong,
                      pixels(data.test.x, [m["index"] for m in wrong]))


@dataclass(frozen=True)
class Evaluation:
    """What `evaluate_run` found: the record (as evaluation.json holds it), and the mistakes asked for."""

    record: dict[str, Any]
    mistakes: list[dict[str, Any]]
    images: np.ndarray  # the mistakes' images, 0-255, (n, height, width, channels)


def pixels(images: np.ndarray, indices: list[int]) -> np.ndarray:
    """Some stored images as 0-255 values, whatever scale they are stored in, for a person to look at."""
    return images[indices].astype(np.float32) * np.float32(pixel_scale(images) * 255)


def evaluation_record(model_file: str, metrics: dict[str, float], labels: np.ndarray, probabilities: np.ndarray,
                      names: list[str]) -> dict[str, Any]:
    """evaluation.json: which model, its compiled metrics, and the per-class report of its predictions."""
    return {"model": model_file, "metrics": metrics, **per_class_report(labels, probabilities, names)}


def _preprocess(stats: tuple[list[float], list[float]] | None, data: Data) -> Preprocess:
    """Pixels to [0, 1] as these images are stored; standardized with the run's own statistics, which
    results.json records (only a run that predates the record has them computed again)."""
    if stats is None:
        return data.prepare if data.prepare.mean is not None else Preprocess(pixel_scale(data.test.x))
    return Preprocess(pixel_scale(data.test.x), tuple(stats[0]), tuple(stats[1]))


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
                               f"again: `cnnctl train {path.parent / files.CONFIG}`"))


def _misfit(path: Path, what: str) -> CnnctlError:
    return CnnctlError(Problem(f"the model file does not fit config.yaml: {what}", str(path),
                               hint="was config.yaml edited after training? undo the edit to evaluate this model; "
                                    f"`cnnctl train {path.parent / files.CONFIG}` trains the edited one"))


def _dims(shape: tuple[Any, ...]) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)
