"""The full training state at the end of an epoch, so `cnnctl resume` continues exactly.

One file, `checkpoint.npz`, replaced atomically, so a run killed at any
moment leaves the previous epoch's checkpoint or the new one, never a mix. It
holds the weights and optimizer variables (the step counter, the learning
rate, the moments), the states of every layer's `SeedGenerator` (Dropout,
random augmentation), which a `.keras` file does not keep, and, as a JSON
string, the epoch and the callbacks' counters, with the callbacks' own
arrays (the divergence guard's restore points, EarlyStopping's best weights)
under `callback.*` names. It is read with
`allow_pickle=False`: a checkpoint cannot run code.
"""

from __future__ import annotations

import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from cnnctl.errors import CnnctlError, Problem
from cnnctl.keras_catalog import keras

CHECKPOINT = "checkpoint.npz"


def seed_generators(model: Any) -> list[Any]:
    """Every SeedGenerator the model's layers own, in a stable order."""
    kind = keras().random.SeedGenerator
    return [value for layer in model.layers for _, value in sorted(vars(layer).items(), key=lambda kv: kv[0])
            if isinstance(value, kind)]


CALLBACK = "callback."


def save_checkpoint(folder: Path, model: Any, state: dict[str, Any],
                    callback_arrays: dict[str, np.ndarray] | None = None) -> None:
    arrays = {"state": np.array(json.dumps(state))}
    arrays |= {f"{CALLBACK}{k}": v for k, v in (callback_arrays or {}).items()}
    arrays |= {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)}
    arrays |= {f"seed_{i}": g.state.numpy() for i, g in enumerate(seed_generators(model))}
    from cnnctl.runfiles import writing

    tmp = folder / f".{CHECKPOINT}.tmp.npz"
    try:
        with writing(folder / CHECKPOINT):
            np.savez(tmp, **arrays)
            os.replace(tmp, folder / CHECKPOINT)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(folder: Path, model: Any) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Put the saved state into `model` (built and compiled from the same config).

    Returns the JSON state and the callbacks' arrays.
    """
    with _reading(folder):
        with np.load(folder / CHECKPOINT, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
        state = json.loads(str(arrays["state"]))
    weights = [arrays[f"weight_{i}"] for i in range(len(model.get_weights()))]
    model.set_weights(weights)
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(arrays[f"optimizer_{i}"])
    for i, generator in enumerate(seed_generators(model)):
        generator.state.assign(arrays[f"seed_{i}"])
    return state, {k.removeprefix(CALLBACK): v for k, v in arrays.items() if k.startswith(CALLBACK)}


def read_state(folder: Path) -> dict[str, Any]:
    """The checkpoint's JSON state (its epoch, wall seconds, the callbacks' counters) without a model.

    NumPy alone reads it, and only the `state` entry: the guardian of a killed run, which must not
    import TensorFlow, learns from it how many epochs the run completed.
    """
    with _reading(folder), np.load(folder / CHECKPOINT, allow_pickle=False) as f:
        return json.loads(str(f["state"]))


@contextmanager
def _reading(folder: Path) -> Iterator[None]:
    """A missing or damaged checkpoint as one line for the user."""
    try:
        yield
    except FileNotFoundError:
        raise CnnctlError(Problem("no checkpoint here: nothing to resume", str(folder),
                                  hint="checkpoints are written at the end of every epoch")) from None
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:  # JSONDecodeError is a ValueError
        raise CnnctlError(Problem(f"damaged checkpoint: {exc}", str(folder))) from None
