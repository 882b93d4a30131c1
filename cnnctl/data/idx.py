"""Read IDX files, the format MNIST and Fashion-MNIST are published in.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values, row-major
and big-endian. Files are often gzipped; both forms are read.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

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
