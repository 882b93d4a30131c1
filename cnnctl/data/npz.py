"""Read a dataset saved with `np.savez`: arrays `x_train`, `y_train`, `x_test`, `y_test`, as Keras' `mnist.npz`.

Pickled objects are refused (`allow_pickle=False`): an archive cannot run code.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from cnnctl.data.labels import class_labels
from cnnctl.errors import CnnctlError, Problem

KEYS = ("x_train", "y_train", "x_test", "y_test")
HINT = "expected a .npz file (np.savez) with x_train, y_train, x_test, y_test"


def read_npz(path: str | Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`(x_train, y_train), (x_test, y_test)` from the archive; images `(n, height, width[, channels])`.

    Raises:
        CnnctlError: the file is missing, not a readable archive, lacks an
            array, or its images and labels do not match.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = read_npz("data/shapes.npz")
    ```
    """
    path = str(path)
    try:
        archive = np.load(path, allow_pickle=False)
        if not isinstance(archive, np.lib.npyio.NpzFile):
            raise CnnctlError(Problem("a single array, not an archive of x_train, y_train, x_test, y_test",
                                      file=path, hint="save with np.savez(path, x_train=..., y_train=..., ...)"))
        with archive as f:
            missing = [key for key in KEYS if key not in f.files]
            if missing:
                raise CnnctlError(Problem(f"no array {', '.join(missing)} (found {', '.join(f.files) or 'none'})",
                                          file=path, hint=HINT))
            x_train, y_train, x_test, y_test = (f[key] for key in KEYS)
    except FileNotFoundError:
        raise CnnctlError(Problem("file not found", file=path, hint=HINT)) from None
    except IsADirectoryError:
        raise CnnctlError(Problem("a folder, not a file", file=path, hint=HINT)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CnnctlError(Problem(f"cannot read: {exc}", file=path,
                                  hint="the file is damaged or not a .npz archive")) from None
    for x, y, part in [(x_train, y_train, "train"), (x_test, y_test, "test")]:
        if x.ndim not in (3, 4):
            raise CnnctlError(Problem(f"x_{part}: expected images (count, height, width[, channels]), "
                                      f"found shape {x.shape}", file=path))
    return ((x_train, class_labels(y_train, len(x_train), path, "y_train")),
            (x_test, class_labels(y_test, len(x_test), path, "y_test")))
