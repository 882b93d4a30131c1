"""Read IDX files, the format MNIST and Fashion-MNIST are published in, alone or as a folder's set of four.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values, row-major
and big-endian. Files are often gzipped; both forms are read.
"""

from __future__ import annotations

import gzip
import math
import os
import re
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from cnnctl.data.files import open_regular
from cnnctl.data.images import image_array, image_shape
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
CHUNK = 1 << 24  # bytes read (or decompressed) at a time
MAX_DEFLATE_RATIO = 1032  # deflate's ceiling: no .gz inflates to more than this many times its size


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (gzipped or raw, told apart by its first bytes).

    The header is read first and promises the size of the values: a raw file
    of another size is refused before its values are read, and a gzipped one
    is decompressed a chunk at a time up to that size only, so a small `.gz`
    that inflates to gigabytes (or a header that lies) costs what the header
    promised, never more.

    Args:
        path: a regular file, e.g. `t10k-images-idx3-ubyte.gz`.

    Returns:
        A writable array in native byte order, shaped as the header says,
        e.g. uint8 `(10000, 28, 28)` for MNIST's test images.

    Raises:
        CnnctlError: the file is missing, not a regular file, not IDX,
            truncated, longer than its header says, or decompresses to more.

    Example:

    ```python
    images = read_idx("t10k-images-idx3-ubyte.gz")
    ```
    """
    return _open(path, _read_values)


def read_idx_shape(path: str | Path) -> tuple[int, ...]:
    """The shape an IDX file's header declares, e.g. `(10000, 28, 28)`; no value is read.

    Raises:
        CnnctlError: as `read_idx`, for what a header shows: missing, not IDX, a raw file of the wrong size.
    """
    return _open(path, lambda stream, path, size, gzipped: _read_header(stream, path, size, gzipped)[1])


def _open(path: str | Path, read):
    """`read(stream, path, size, gzipped)` on the file, raw or decompressed, with its errors named."""
    path = str(path)
    try:
        with open_regular(path) as file:
            size = os.fstat(file.fileno()).st_size
            if file.read(2) != GZIP_MAGIC:
                file.seek(0)
                return read(file, path, size, None)
            file.seek(0)
            with gzip.GzipFile(fileobj=file) as stream:
                return read(stream, path, None, size)
    except FileNotFoundError:
        raise CnnctlError(Problem("file not found", file=path, hint="expected an IDX file")) from None
    except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise _corrupt(path, f"cannot read: {exc}") from None


def _read_header(stream: BinaryIO, path: str, size: int | None,
                 gzipped: int | None) -> tuple[np.dtype, tuple[int, ...], int, str]:
    """`(dtype, shape, bytes of values, what the header promises)`, checked against what the file can hold.
    `size`: a raw file's size; `gzipped`: a .gz file's."""
    magic = stream.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in DTYPES:
        raise _corrupt(path, f"not an IDX file (magic number {magic.hex() or 'missing'})")
    dtype, ndim = DTYPES[magic[2]], magic[3]
    dims = stream.read(4 * ndim)
    if ndim == 0 or len(dims) < 4 * ndim:
        raise _corrupt(path, f"IDX header declares {ndim} dimensions but the file has {4 + len(dims)} bytes")
    shape = tuple(int.from_bytes(dims[i:i + 4], "big") for i in range(0, len(dims), 4))
    expected = math.prod(shape) * dtype.itemsize
    promise = f"IDX header says shape {shape} ({expected} bytes of values)"
    if size is not None and size - 4 - len(dims) != expected:  # raw: the file's size is known before reading
        raise _corrupt(path, f"{promise} but the file holds {size - 4 - len(dims)}")
    if gzipped is not None and expected > gzipped * MAX_DEFLATE_RATIO:
        raise _corrupt(path, f"{promise} but {gzipped} bytes of gzip cannot hold that much")
    return dtype, shape, expected, promise


def _read_values(stream: BinaryIO, path: str, size: int | None, gzipped: int | None) -> np.ndarray:
    """The header, then exactly the values it promises. `size`: a raw file's size; `gzipped`: a .gz file's."""
    dtype, shape, expected, promise = _read_header(stream, path, size, gzipped)
    values = np.empty(expected, np.uint8)
    view, got = memoryview(values), 0
    while got < expected:
        count = stream.readinto(view[got:got + CHUNK])
        if not count:
            raise _corrupt(path, f"{promise} but the file {'holds' if gzipped is None else 'decompresses to'} {got}")
        got += count
    if gzipped is not None and stream.read(1):
        raise _corrupt(path, f"{promise} but the file decompresses to more (read no further)")
    return values.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _corrupt(path: str, message: str) -> CnnctlError:
    return CnnctlError(Problem(message, file=path, hint="the file is damaged or incomplete; download it again"))


def read_idx_pair(images_path: str, labels_path: str) -> tuple[np.ndarray, np.ndarray]:
    """Images `(n, height, width[, channels])` and their int64 labels `(n,)`, checked against each other."""
    images = image_array(read_idx(images_path), images_path)
    return images, class_labels(read_idx(labels_path), len(images), labels_path)


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
    found = idx_files(folder)
    return (read_idx_pair(found["train images"], found["train labels"]),
            read_idx_pair(found["test images"], found["test labels"]))


def read_idx_folder_labels(folder: str | Path) -> tuple[tuple[tuple[int, ...], np.ndarray],
                                                         tuple[tuple[int, ...], np.ndarray]]:
    """What `cnnctl validate` needs of an IDX folder, without reading an image: the shape each images
    file's header declares and the labels (small: a byte an image), checked against that count:
    `(x_train shape, y_train), (x_test shape, y_test)`.

    Raises:
        CnnctlError: as `read_idx_folder`, for the headers and the labels.
    """
    found = idx_files(folder)
    splits = []
    for split in ("train", "test"):
        images, labels = found[f"{split} images"], found[f"{split} labels"]
        shape = image_shape(read_idx_shape(images), images)
        splits.append((shape, class_labels(read_idx(labels), shape[0], labels)))
    return splits[0], splits[1]


def idx_files(folder: str | Path) -> dict[str, str]:
    """The path of each of the four files in `folder`, by role (`train images`, ..., `test labels`).

    Raises:
        CnnctlError: the folder is missing, or a file is missing or there twice.
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
    return found
