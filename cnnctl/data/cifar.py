"""Read the batch files of CIFAR-10 and CIFAR-100 ("python version").

Each batch is a pickled dict with `data` (N × 3072 uint8: the red, green and
blue planes of a 32×32 image) and a list of labels. Unpickling can run code,
so only the globals a numpy array needs are allowed, as Keras itself does.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from cnnctl.data.files import open_regular
from cnnctl.errors import CnnctlError, Problem

SIDE = 32
CHANNELS = 3
ALLOWED_GLOBALS = frozenset({
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),  # files written with numpy < 2, like the originals
    ("numpy._core.multiarray", "_reconstruct"),
})


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def read_cifar_batch(path: str | Path, label_key: str = "labels") -> tuple[np.ndarray, np.ndarray]:
    """Read one CIFAR batch file, e.g. `data_batch_1` or CIFAR-100's `train`.

    Args:
        path: the batch file.
        label_key: `labels` for CIFAR-10, `fine_labels` (100 classes) or
            `coarse_labels` (20) for CIFAR-100.

    Returns:
        `(images, labels)`: uint8 `(N, 32, 32, 3)` channels-last, uint8 `(N,)`.

    Raises:
        CnnctlError: the file is missing, not a CIFAR batch, or truncated.
    """
    path = str(path)
    try:
        with open_regular(path) as f:
            batch = _ArrayUnpickler(f, encoding="bytes").load()
    except FileNotFoundError:
        raise CnnctlError(Problem("file not found", file=path, hint="expected a CIFAR batch file")) from None
    except CnnctlError:
        raise
    except Exception as exc:  # pickle raises many kinds on damaged input
        raise _corrupt(path, f"cannot unpickle: {exc}") from None
    if not isinstance(batch, dict):
        raise _corrupt(path, f"expected a pickled dict, found {type(batch).__name__}")
    batch = {k.decode() if isinstance(k, bytes) else k: v for k, v in batch.items()}
    if "data" not in batch or label_key not in batch:
        raise _corrupt(path, f"expected keys 'data' and '{label_key}', found {sorted(batch)}")
    data = np.asarray(batch["data"], dtype=np.uint8)
    labels = np.asarray(batch[label_key], dtype=np.uint8).reshape(-1)
    if data.size != len(labels) * SIDE * SIDE * CHANNELS:
        raise _corrupt(path, f"{len(labels)} labels but {data.size} pixel values "
                             f"(expected {SIDE * SIDE * CHANNELS} per image)")
    images = data.reshape(len(labels), CHANNELS, SIDE, SIDE).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _corrupt(path: str, message: str) -> CnnctlError:
    return CnnctlError(Problem(message, file=path, hint="the file is damaged or incomplete; download it again"))
