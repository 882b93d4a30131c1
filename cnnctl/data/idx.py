"""Read IDX files, the format MNIST and Fashion-MNIST are published in, alone or as a folder's set of four.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values, row-major
and big-endian. Files are often gzipped; both forms are read.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from pathlib import Path

import numpy as np

from cnnctl.data.labels import class_labels
from cnnctl.errors import CnnctlError, Problem

# IDX type code -> element type (big-endian, as stored).
DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype("u1"),
    0x09: np.dtype("i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
GZIP_MAGIC = b"\x1f\x8b"


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or raw, told apart by its first bytes).

    Args:
        path: the file, e.g. `t10k-images-idx3-ubyte.gz`.

    Returns:
        A writable array in native byte order, shaped as the header says,
        e.g. uint8 `(10000, 28, 28)` for MNIST's test images.

    Raises:
        CnnctlError: the file is missing, not IDX, or truncated.

    Example:

    ```python
    images = read_idx("t10k-images-idx3-ubyte.gz")
    ```
    """
    path = str(path)
    data = _read_bytes(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in DTYPES:
        raise _corrupt(path, f"not an IDX file (magic number {data[:4].hex() or 'missing'})")
    dtype, ndim = DTYPES[data[2]], data[3]
    header = 4 + 4 * ndim
    if ndim == 0 or len(data) < header:
        raise _corrupt(path, f"IDX header declares {ndim} dimensions but the file has {len(data)} bytes")
    shape = tuple(int(d) for d in np.frombuffer(data, ">u4", count=ndim, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    if len(data) - header != expected:
        raise _corrupt(path, f"IDX header says shape {shape} ({expected} bytes of values) "
                             f"but the file holds {len(data) - header}")
    values = np.frombuffer(data, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))  # a copy: writable, native order


def _read_bytes(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read()
        if data[:2] == GZIP_MAGIC:
            data = gzip.decompress(data)
    except FileNotFoundError:
        raise CnnctlError(Problem("file not found", file=path, hint="expected an IDX file")) from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise _corrupt(path, f"cannot read: {exc}") from None
    return data


def _corrupt(path: str, message: str) -> CnnctlError:
    return CnnctlError(Problem(message, file=path, hint="the file is damaged or incomplete; download it again"))


def read_idx_pair(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images `(n, height, width[, channels])` and their int64 labels `(n,)`, checked against each other."""
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim not in (3, 4):
        raise CnnctlError(Problem(f"expected images (count, height, width[, channels]), found shape {images.shape}",
                                  file=images_path))
    return images, class_labels(labels, len(images), labels_path)


# What each file of a set is called: MNIST's names, any prefix (`emnist-letters-`), `test` for `t10k`, raw or .gz.
ROLES = {
    "train images": r"train-images-idx[34]-ubyte",
    "train labels": r"train-labels-idx1-ubyte",
    "test images": r"(?:t10k|test)-images-idx[34]-ubyte",
    "test labels": r"(?:t10k|test)-labels-idx1-ubyte",
}
EXPECTED = ("train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            "t10k-labels-idx1-ubyte, raw or .gz (a prefix such as emnist-letters- is fine)")


def read_idx_folder(folder: str | Path) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """The four files of an MNIST-format dataset in `folder`: `(x_train, y_train), (x_test, y_test)`.

    Raises:
        CnnctlError: the folder is missing, a file is missing or there twice, or a file is damaged.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = read_idx_folder("data/kmnist")
    ```
    """
    folder = str(folder)
    if not os.path.isdir(folder):
        raise CnnctlError(Problem("no such folder" if not os.path.exists(folder) else "not a folder", file=folder,
                                  hint=f"expected a folder holding {EXPECTED}"))
    names = sorted(os.listdir(folder))
    found, missing = {}, []
    for role, pattern in ROLES.items():
        matches = [n for n in names if re.fullmatch(rf"(?:.*[-_.])?{pattern}(?:\.gz)?", n)]
        bases = sorted({n.removesuffix(".gz") for n in matches})
        if not bases:
            missing.append(role)
        elif len(bases) > 1:
            raise CnnctlError(Problem(f"{len(bases)} sets of {role}: {', '.join(matches)}", file=folder,
                                      hint="keep one dataset per folder"))
        else:  # the same file raw and gzipped: the raw one
            found[role] = os.path.join(folder, bases[0] if bases[0] in names else bases[0] + ".gz")
    if missing:
        raise CnnctlError(Problem(f"no {' or '.join(missing)} file", file=folder, hint=f"expected {EXPECTED}"))
    return (read_idx_pair(found["train images"], found["train labels"]),
            read_idx_pair(found["test images"], found["test labels"]))
