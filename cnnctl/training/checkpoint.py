"""The full training state at the end of an epoch, so `cnnctl resume` continues exactly.

One file, `checkpoint.npz`, replaced atomically, so a run killed at any
moment leaves the previous epoch's checkpoint or the new one, never a mix. It
holds the weights and optimizer variables (the step counter, the learning
rate, the moments), the states of every layer's `SeedGenerator` (Dropout,
random augmentation), which a `.keras` file does not keep, and, as a JSON
string, the epoch and the callbacks' counters, with the callbacks' own
arrays (the divergence guard's restore points, EarlyStopping's best weights)
under `callback.*` names, and the layout: each array's name and shape, so
that a config.yaml edited since is told apart from a damaged file. It is read
with `allow_pickle=False`: a checkpoint cannot run code, and checked whole
before any of it is assigned.
"""

from __future__ import annotations

import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.errors import CnnctlError, Problem
from cnnctl.keras_catalog import keras
from cnnctl.runfolder import files
from cnnctl.runfolder.results import json_kind

CHECKPOINT = files.CHECKPOINT


def seed_generators(model: Any) -> list[Any]:
    """Every SeedGenerator the model's layers own, in a stable order."""
    kind = keras().random.SeedGenerator
    return [value for layer in model.layers for _, value in sorted(vars(layer).items(), key=lambda kv: kv[0])
            if isinstance(value, kind)]


CALLBACK = "callback."
LAYOUT = "layout"  # the model's arrays and their shapes, as JSON: tells an edited config.yaml from damage


def save_checkpoint(folder: Path, model: Any, state: dict[str, Any],
                    callback_arrays: dict[str, np.ndarray] | None = None) -> None:
    arrays = {"state": np.array(json.dumps(state))}
    arrays |= {f"{CALLBACK}{k}": v for k, v in (callback_arrays or {}).items()}
    arrays |= {f"weight_{i}": w for i, w in enumerate(model.get_weights())}
    arrays |= {f"optimizer_{i}": v.numpy() for i, v in enumerate(model.optimizer.variables)}
    arrays |= {f"seed_{i}": g.state.numpy() for i, g in enumerate(seed_generators(model))}
    arrays[LAYOUT] = np.array(json.dumps([[name, slot.shape] for name, slot in _slots(model).items()]))
    from cnnctl.runfolder.atomic import writing

    tmp = folder / f".{CHECKPOINT}.tmp.npz"
    try:
        with writing(folder / CHECKPOINT):
            np.savez(tmp, **arrays)
            os.replace(tmp, folder / CHECKPOINT)
    finally:
        tmp.unlink(missing_ok=True)


def load_checkpoint(folder: Path, model: Any, epochs: int | None = None
                    ) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Put the saved state into `model` (built and compiled from the run's config.yaml).

    Returns the JSON state and the callbacks' arrays. Everything is checked
    before anything is assigned, so a damaged file, or one that an edited
    config.yaml no longer fits, is refused in one line and leaves the model
    as it was. `epochs` is the config's `train.epochs`: a checkpoint past it
    belongs to another config.
    """
    path = folder / CHECKPOINT
    arrays = _read(path)
    state = _state(arrays, path, epochs)
    slots = _slots(model)
    _check_fits(arrays, slots, path)
    _check_callbacks(state["callbacks"], arrays, slots, path)
    model.set_weights([arrays[name] for name in slots if name.startswith("weight_")])
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
    path = folder / CHECKPOINT
    try:
        with np.load(path, allow_pickle=False) as f:
            return _state({"state": f["state"]}, path, None)
    except FileNotFoundError:
        raise CnnctlError(Problem("no checkpoint here", str(folder))) from None
    except (OSError, EOFError, KeyError, ValueError, zipfile.BadZipFile):
        raise _damaged(path, "not a whole .npz archive with a state") from None


@dataclass(frozen=True)
class _Slot:
    """What the model expects in one array of the checkpoint."""

    shape: tuple[int, ...]
    dtype: str
    variable: str  # the variable's path, so a message names the layer


def _slots(model: Any) -> dict[str, _Slot]:
    """`weight_i`, `optimizer_i` and `seed_i`, in the order `save_checkpoint` writes them."""
    def slot(variable: Any) -> _Slot:
        return _Slot(tuple(int(d) for d in variable.shape), str(variable.dtype), variable.path)

    slots = {f"weight_{i}": slot(v) for i, v in enumerate(model.weights)}
    slots |= {f"optimizer_{i}": slot(v) for i, v in enumerate(model.optimizer.variables)}
    slots |= {f"seed_{i}": slot(g.state) for i, g in enumerate(seed_generators(model))}
    return slots


def _read(path: Path) -> dict[str, np.ndarray]:
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise CnnctlError(Problem("no checkpoint here: nothing to resume", str(path.parent),
                                  hint="checkpoints are written at the end of every epoch")) from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile):  # empty, truncated, not NumPy, pickled
        archive = None
    if not isinstance(archive, np.lib.npyio.NpzFile):
        empty = path.is_file() and path.stat().st_size == 0
        raise _damaged(path, "the file is empty" if empty else "not a whole .npz archive")
    with archive:
        name = ""
        try:
            arrays = {}
            for name in archive.files:
                arrays[name] = archive[name]
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # a bad CRC, a pickled object
            raise _damaged(path, f"array {name} cannot be read ({exc})") from None
    return arrays


def _state(arrays: dict[str, np.ndarray], path: Path, epochs: int | None) -> dict[str, Any]:
    """The JSON state: an object with the epoch (0 to `epochs`), the wall time and the callbacks' counters."""
    raw = arrays.get("state")
    if raw is None or raw.shape != () or raw.dtype.kind != "U":
        raise _damaged(path, "no state (a JSON string under 'state')")
    try:
        state = json.loads(str(raw))
    except ValueError as exc:
        raise _damaged(path, f"its state is not JSON ({exc})") from None
    if not isinstance(state, dict):
        raise _damaged(path, f"its state is a JSON {json_kind(state)}, not an object")
    epoch = state.get("epoch")
    if not _is_int(epoch) or epoch < 0:
        what = "no epoch" if "epoch" not in state else f"epoch {json.dumps(epoch)}, not a whole number from 0"
        raise _damaged(path, f"its state has {what}")
    if epochs is not None and epoch > epochs:
        raise CnnctlError(Problem(f"the checkpoint is at epoch {epoch}, past train.epochs ({epochs}) in "
                                  "config.yaml", str(path), hint=_redo(path)))
    if not _is_number(state.get("wall_seconds")):
        raise _damaged(path, "its state has no wall_seconds")
    counters = state.get("callbacks")
    if not isinstance(counters, dict) or not all(isinstance(v, dict) for v in counters.values()):
        raise _damaged(path, "its state has no callbacks' counters (an object of objects)")
    return state


def _check_fits(arrays: dict[str, np.ndarray], slots: dict[str, _Slot], path: Path) -> None:
    """The model's arrays, each there and of the model's shape.

    The layout the checkpoint was written with tells the two failures apart: a model that differs from
    it was edited in config.yaml since; an array that differs from it is damage. (A checkpoint from
    before layouts were kept counts as its own layout.)
    """
    layout = _layout(arrays, path)
    wanted = {name: slot.shape for name, slot in slots.items()}
    if layout != wanted:
        raise _misfit(path, _difference(layout, wanted, slots))
    for name, slot in slots.items():
        array = arrays.get(name)
        if array is None:
            raise _damaged(path, f"array {name} is missing")
        if array.shape != slot.shape:
            raise _damaged(path, f"{name} is {_dims(array.shape)}, its layout says {_dims(slot.shape)}")
        if not np.can_cast(array.dtype, slot.dtype, "same_kind"):
            raise _damaged(path, f"{name} holds {array.dtype}, not {slot.dtype}")


GROUPS = {"weight_": "weights", "optimizer_": "optimizer variables", "seed_": "random-generator states"}


def _layout(arrays: dict[str, np.ndarray], path: Path) -> dict[str, tuple[int, ...]]:
    """The model's arrays, by name, with their shapes, as `save_checkpoint` recorded them."""
    raw = arrays.get(LAYOUT)
    if raw is None:  # an older checkpoint: the arrays it holds, whose numbering must have no gap
        held = {k: a.shape for k, a in arrays.items() if re.fullmatch(r"(weight|optimizer|seed)_\d+", k)}
        for group in GROUPS:
            count = sum(k.startswith(group) for k in held)
            gap = next((i for i in range(count) if f"{group}{i}" not in held), None)
            if gap is not None:
                raise _damaged(path, f"array {group}{gap} is missing")
        return held
    try:
        layout = json.loads(str(raw)) if raw.shape == () and raw.dtype.kind == "U" else None
        return {str(name): tuple(int(d) for d in shape) for name, shape in layout}
    except (ValueError, TypeError):
        raise _damaged(path, "its layout is not a JSON list of [name, shape]") from None


def _difference(layout: dict[str, tuple[int, ...]], wanted: dict[str, tuple[int, ...]],
                slots: dict[str, _Slot]) -> str:
    for group, what in GROUPS.items():
        held, needed = (sum(k.startswith(group) for k in names) for names in (layout, wanted))
        if held != needed:
            return f"it holds {held} {what}, the model has {needed}"
    name = next((name for name in wanted if layout.get(name) != wanted[name]), None)
    if name is None or name not in layout:
        return "its layout names other arrays than the model's"
    return (f"{name} ({slots[name].variable}) is {_dims(layout[name])} in the checkpoint, "
            f"{_dims(wanted[name])} in the model")


def _check_callbacks(counters: dict[str, dict[str, Any]], arrays: dict[str, np.ndarray],
                     slots: dict[str, _Slot], path: Path) -> None:
    """The callbacks' counters are numbers, and every copy of the weights they refer to is there and whole:
    EarlyStopping's best weights, the divergence guard's restore points (which `_fit` requires)."""
    from cnnctl.training.callbacks import BEST_WEIGHTS, STATEFUL
    from cnnctl.training.divergence import DivergenceGuard

    weights = [slot for name, slot in slots.items() if name.startswith("weight_")]
    optimizer = [slot for name, slot in slots.items() if name.startswith("optimizer_")]
    for name, values in counters.items():
        for key in STATEFUL:
            if key in values and values[key] is not None and not _is_number(values[key]):
                raise _damaged(path, f"{name}'s {key} is {json.dumps(values[key])}, not a number")
        if BEST_WEIGHTS in values:
            _check_copies(arrays, f"{name}.{BEST_WEIGHTS}_", values[BEST_WEIGHTS], weights, path)
    guard = counters.get(DivergenceGuard.__name__)
    points = guard.get("points") if guard is not None else None
    if (guard is None or not _is_number(guard.get("reference")) or not isinstance(guard.get("halvings"), list)
            or not (guard.get("restored_from") is None or _is_int(guard.get("restored_from")))
            or not isinstance(points, list) or not points):
        raise _damaged(path, "its divergence guard's state is incomplete")
    for k, point in enumerate(points):
        if not isinstance(point, dict) or not _is_int(point.get("epoch")) or not _is_number(point.get("check_loss")):
            raise _damaged(path, f"its divergence guard's restore point {k} is incomplete")
        prefix = f"{DivergenceGuard.__name__}.point{k}_"
        _check_copies(arrays, f"{prefix}weight_", point.get("weights"), weights, path)
        _check_copies(arrays, f"{prefix}optimizer_", point.get("optimizer"), optimizer, path)


def _check_copies(arrays: dict[str, np.ndarray], prefix: str, count: Any, slots: list[_Slot], path: Path) -> None:
    """`count` arrays `callback.<prefix>0...`, one per slot, each of its shape."""
    if count != len(slots) or not _is_int(count):
        raise _damaged(path, f"it holds {json.dumps(count)} arrays {prefix}*, the model has {len(slots)}")
    for i, slot in enumerate(slots):
        array = arrays.get(f"{CALLBACK}{prefix}{i}")
        if array is None:
            raise _damaged(path, f"array {CALLBACK}{prefix}{i} is missing")
        if array.shape != slot.shape:
            raise _damaged(path, f"{CALLBACK}{prefix}{i} is {_dims(array.shape)}, the model's is {_dims(slot.shape)}")


def _damaged(path: Path, what: str) -> CnnctlError:
    return CnnctlError(Problem(f"damaged checkpoint: {what}", str(path), hint=f"resume needs it whole; "
                               f"`cnnctl train {path.parent / 'config.yaml'}` starts the run anew"))


def _misfit(path: Path, what: str) -> CnnctlError:
    return CnnctlError(Problem(f"the checkpoint does not fit the model in config.yaml: {what}", str(path),
                               hint=_redo(path)))


def _redo(path: Path) -> str:
    return (f"was config.yaml edited? undo the edit to resume; `cnnctl train {path.parent / 'config.yaml'}` "
            "trains it as a new run")


def _dims(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape)) or "a scalar"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
