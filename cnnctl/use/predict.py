"""`cnnctl predict`: a run's model on new images, the top classes of each with their probabilities.

The model is the run's own `.keras` file behind its preprocessing
(`serving.serving_model`), so the images go in as they are read, 0-255; or an
exported file, run in its own runtime, so an export can be checked with the
same command and the same images.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.errors import Problem
from cnnctl.runfolder import files
from cnnctl.use.inputs import read_inputs
from cnnctl.use.runtimes import open_exported
from cnnctl.use.serving import serving_model

BATCH = 256


@dataclass(frozen=True)
class Prediction:
    input: str
    top: list[dict[str, Any]]  # [{"class": name, "index": k, "probability": p}], most probable first
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input": self.input, "top": self.top, **({"note": self.note} if self.note else {})}


def predict(folder: str | Path, inputs: list[str], model_file: str = files.MODEL, top: int = 5,
            exported: str | Path | None = None) -> tuple[list[Prediction], list[Problem]]:
    """The top `top` classes of every image `inputs` name, and the inputs that could not be read.

    `exported`: a file `cnnctl export` wrote (`.tflite`, `.onnx`, a SavedModel folder), run instead of the
    Keras model.
    """
    served = serving_model(folder, model_file)
    first = served.config.model.data_format == "channels_first"
    shape = served.input_shape
    height, width, channels = (*shape[1:], shape[0]) if first else shape
    images, problems = read_inputs(inputs, height, width, channels, first)
    if not images:
        return [], problems
    batch = np.stack([image.pixels for image in images])  # channels-last
    if first:
        batch = batch.transpose(0, 3, 1, 2)  # the model takes the config's layout
    run = open_exported(exported) if exported else (lambda x: served.model.predict(x, batch_size=BATCH, verbose=0))
    probabilities = _two_columns(np.asarray(run(batch)))
    names = served.class_names
    k = min(top, probabilities.shape[1])
    predictions = []
    for image, p in zip(images, probabilities):
        order = np.argsort(-p, kind="stable")[:k]
        predictions.append(Prediction(image.name, [{"class": names[c] if c < len(names) else str(c), "index": int(c),
                                                    "probability": float(p[c])} for c in order], image.note))
    return predictions, problems


def _two_columns(probabilities: np.ndarray) -> np.ndarray:
    """A single sigmoid output is the probability of class 1: give class 0 its own column."""
    if probabilities.shape[-1] == 1:
        return np.concatenate([1 - probabilities, probabilities], axis=-1)
    return probabilities
