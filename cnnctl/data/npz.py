"""Read a dataset saved with `np.savez`: arrays `x_train`, `y_train`, `x_test`, `y_test`, as Keras' `mnist.npz`.

Pickled objects are refused (`allow_pickle=False`): an archive cannot run code.
Only a regular file is opened, and each array's header is held against the
bytes the archive stores for it before NumPy allocates what the header says.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from cnnctl.data.files import open_regular
from cnnctl.data.images import image_array, image_shape
from cnnctl.data.labels import class_labels
from cnnctl.errors import CnnctlError, Problem

KEYS = ("x_train", "y_train", "x_test", "y_test")
HINT = "expected a .npz file (np.savez) with x_train, y_train, x_test, y_test"
HEADER_READERS = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}


def read_npz(path: str | Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """`(x_train, y_train), (x_test, y_test)` from the archive; images `(n, height, width[, channels])`.

    Raises:
        CnnctlError: the file is missing or not a regular file, not a readable
            archive, lacks an array, an array's header promises more than the
            archive holds, the images are not finite numbers or number none,
            or images and labels do not match.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = read_npz("data/shapes.npz")
    ```
    """
    _, arrays = _read(path, KEYS)
    x_train, y_train, x_test, y_test = (arrays[key] for key in KEYS)
    path = str(path)
    return ((image_array(x_train, path, "x_train"), class_labels(y_train, len(x_train), path, "y_train")),
            (image_array(x_test, path, "x_test"), class_labels(y_test, len(x_test), path, "y_test")))


def read_npz_labels(path: str | Path) -> tuple[tuple[tuple[int, ...] | None, np.ndarray],
                                                tuple[tuple[int, ...] | None, np.ndarray]]:
    """What `cnnctl validate` needs of the archive, without reading an image: the shape each image
    array's header declares (None for a format NumPy reads itself) and the labels, checked against
    that count: `(x_train shape, y_train), (x_test shape, y_test)`.

    Raises:
        CnnctlError: as `read_npz`, for the headers and the labels.
    """
    headers, arrays = _read(path, ("y_train", "y_test"))
    path, splits = str(path), []
    for x, y in (("x_train", "y_train"), ("x_test", "y_test")):
        labels = arrays[y]
        if headers[x] is None:  # a format NumPy reads itself: the images' count is known once read
            splits.append((None, class_labels(labels, labels.size, path, y)))
        else:
            shape = image_shape(headers[x][0], path, x, headers[x][1])
            splits.append((shape, class_labels(labels, shape[0], path, y)))
    return splits[0], splits[1]


def _read(path: str | Path, keys: tuple[str, ...]) -> tuple[dict[str, tuple[tuple[int, ...], np.dtype] | None],
                                                            dict[str, np.ndarray]]:
    """Every array's header `(shape, dtype)` (None: a format NumPy reads itself), and the arrays `keys` only."""
    path = str(path)
    try:
        with open_regular(path) as file:
            single = file.read(len(np.lib.format.MAGIC_PREFIX)) == np.lib.format.MAGIC_PREFIX
            file.seek(0)
            archive = None if single else np.load(file, allow_pickle=False)  # a .npy would be read in full
            if not isinstance(archive, np.lib.npyio.NpzFile):
                raise CnnctlError(Problem("a single array, not an archive of x_train, y_train, x_test, y_test",
                                          file=path, hint="save with np.savez(path, x_train=..., y_train=..., ...)"))
            with archive as f:
                missing = [key for key in KEYS if key not in f.files]
                if missing:
                    raise CnnctlError(Problem(f"no array {', '.join(missing)} (found {', '.join(f.files) or 'none'})",
                                              file=path, hint=HINT))
                headers = {key: _check_declared_size(f.zip, key, path) for key in KEYS}
                return headers, {key: f[key] for key in keys}
    except FileNotFoundError:
        raise CnnctlError(Problem("file not found", file=path, hint=HINT)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise CnnctlError(Problem(f"cannot read: {exc}", file=path,
                                  hint="the file is damaged or not a .npz archive")) from None


def _check_declared_size(archive: zipfile.ZipFile, key: str, path: str) -> tuple[tuple[int, ...], np.dtype] | None:
    """An array's header promises its shape: refuse one the archive cannot hold before NumPy allocates it.
    The header's `(shape, dtype)`, or None for a format version NumPy reads (or refuses) itself."""
    info = archive.getinfo(f"{key}.npy" if f"{key}.npy" in archive.namelist() else key)
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in HEADER_READERS:
            return None  # a newer format: NumPy reads (or refuses) it itself
        shape, _, dtype = HEADER_READERS[version](member)
        if dtype.hasobject:
            return shape, dtype  # refused by allow_pickle=False
        declared = math.prod(shape) * dtype.itemsize
        held = info.file_size - member.tell()
    if declared != held:
        raise CnnctlError(Problem(f"{key}: its header says shape {shape} of {dtype} ({declared:,} bytes) but the "
                                  f"archive holds {held:,}", file=path,
                                  hint="the file is damaged or not a .npz archive"))
    return shape, dtype
