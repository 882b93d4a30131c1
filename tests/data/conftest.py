"""Writers of small dataset files in the published formats, for tests to read back."""

from __future__ import annotations

import gzip
import pickle
import struct
import zlib

import numpy as np
import pytest

MiB = 2**20
IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D, "float64": 0x0E}


def _write_idx(path, array, gz=False):
    """Write `array` as an IDX file: magic, big-endian dims, big-endian values."""
    array = np.asarray(array)
    header = bytes([0, 0, IDX_CODES[array.dtype.name], array.ndim]) + np.array(array.shape, ">u4").tobytes()
    data = header + array.astype(array.dtype.newbyteorder(">")).tobytes()
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def _write_cifar(path, images, labels, label_key="labels"):
    """Write a CIFAR "python version" batch: dict of bytes keys, data as (N, 3072) R, G, B planes."""
    data = np.asarray(images, np.uint8).transpose(0, 3, 1, 2).reshape(len(images), -1)
    with open(path, "wb") as f:
        pickle.dump({b"batch_label": b"test", b"data": data, label_key.encode(): list(labels)}, f, protocol=3)
    return path


@pytest.fixture
def write_idx():
    return _write_idx


@pytest.fixture
def write_cifar():
    return _write_cifar


def _write_image_folder(root, images_by_class, ext=".png"):
    """Write `{class name: uint8 (n, h, w, c) images}` as root/<class>/<i>.png (or .jpg), with TensorFlow's encoders."""
    from cnnctl.keras_catalog import keras

    keras()
    import tensorflow as tf

    for name, images in images_by_class.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, image in enumerate(np.asarray(images, np.uint8)):
            data = tf.io.encode_png(image) if ext == ".png" else tf.io.encode_jpeg(image, quality=100)
            (folder / f"{i:03d}{ext}").write_bytes(data.numpy())
    return root


@pytest.fixture
def write_image_folder():
    return _write_image_folder


# Hostile files: small on disk, huge or endless when read naively.

def idx_bytes(array: np.ndarray) -> bytes:
    return bytes([0, 0, 0x08, array.ndim]) + np.array(array.shape, ">u4").tobytes() + array.tobytes()


def gzip_of_zeros_after(head: bytes, zeros: int) -> bytes:
    """A .gz of `head` then `zeros` zero bytes, compressed a MiB at a time (a 256 MiB payload is ~250 KiB)."""
    compress = zlib.compressobj(9, zlib.DEFLATED, 31)  # 31: gzip wrapper
    parts = [compress.compress(head)] + [compress.compress(bytes(MiB)) for _ in range(zeros // MiB)]
    return b"".join(parts) + compress.flush()


def png_of_zeros(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG: a few KiB on disk however large it says it is."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    compress = zlib.compressobj(9)
    row = bytes(1 + (width + 7) // 8)  # filter byte, then the packed bits
    pixels = b"".join(compress.compress(row) for _ in range(height)) + compress.flush()
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
            + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
