"""The full training state at the end of an epoch, so `cnnctl resume` continues exactly.

Weights and optimizer variables (the step counter, the learning rate, the
moments) go into `checkpoint.npz`; so do the states of every layer's
`SeedGenerator` (Dropout, random augmentation), which a `.keras` file does
not keep. The epoch and the callbacks' counters go into `checkpoint.json`.
Both are replaced atomically, the arrays first, and carry the same epoch, so
a crash between the two writes is detected rather than half-restored. NumPy
archives are read with `allow_pickle=False`: a checkpoint cannot run code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.errors import CnnctlError, Problem
from cnnctl.keras_catalog import keras

ARRAYS, STATE = "checkpoint.npz", "checkpoint.json"


def seed_generators(model: Any) -> list[Any]:
    """Every SeedGenerator the model's layers own, in a stable order."""
    kind = keras().random.SeedGenerator
    return [value for layer in model.layers for _, value in sorted(vars(layer).items(), key=lambda kv: kv[0])
            if isinstance(value, kind)]


def save_checkpoint(folder: Path, model: Any, state: dict[str, Any]) -> None:
    arrays = {"epoch": np.array(state["epoch"])}
    arrays |= {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)}
    arrays |= {f"seed_{i}": g.state.numpy() for i, g in enumerate(seed_generators(model))}
    from cnnctl.runfiles import write_atomic, writing

    tmp = folder / f".{ARRAYS}.tmp.npz"
    try:
        with writing(folder / ARRAYS):
            np.savez(tmp, **arrays)
            os.replace(tmp, folder / ARRAYS)
    finally:
        tmp.unlink(missing_ok=True)

    write_atomic(folder / STATE, json.dumps(state, indent=2) + "\n")


def load_checkpoint(folder: Path, model: Any) -> dict[str, Any]:
    """Put the saved state into `model` (built and compiled from the same config); return the JSON state."""
    try:
        state = json.loads((folder / STATE).read_text())
        with np.load(folder / ARRAYS, allow_pickle=False) as f:
            arrays = {k: f[k] for k in f.files}
    except FileNotFoundError:
        raise CnnctlError(Problem("no checkpoint here: nothing to resume", str(folder),
                                  hint="checkpoints are written at the end of every epoch")) from None
    except (OSError, ValueError, json.JSONDecodeError) as exc:
        raise CnnctlError(Problem(f"damaged checkpoint: {exc}", str(folder))) from None
    if int(arrays["epoch"]) != state["epoch"]:
        raise CnnctlError(Problem(f"checkpoint files disagree (epoch {int(arrays['epoch'])} vs {state['epoch']})",
                                  str(folder), hint="the run was killed while saving; start it again"))
    weights = [arrays[f"weight_{i}"] for i in range(len(model.get_weights()))]
    model.set_weights(weights)
    for i, variable in enumerate(model.optimizer.variables):
        variable.assign(arrays[f"optimizer_{i}"])
    for i, generator in enumerate(seed_generators(model)):
        generator.state.assign(arrays[f"seed_{i}"])
    return state
