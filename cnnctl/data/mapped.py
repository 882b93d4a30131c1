"""IDX and .npz image arrays memory-mapped instead of read: `data.cache: none` (or `disk`) for array sources.

An uncompressed IDX file is a header and then the raw pixels, and an
uncompressed (`np.savez`, not `savez_compressed`) archive stores each array
as a .npy header and its raw bytes at an offset in the zip: `np.memmap`
reads either without loading it, a batch at a time (`MappedImages`). A
gzipped IDX file or a compressed archive has no such bytes on disk: with
`cache: disk` it is decompressed once, a chunk at a time, into a .npy file
in `data.cache_dir`, and mapped from there; with `cache: none` it is refused
with the way out. Labels are small (a byte or eight an image) and are read.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import struct
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.data.files import open_regular
from cnnctl.data.idx import GZIP_MAGIC, _open, _read_header, idx_files, read_idx
from cnnctl.data.images import image_array, image_shape
from cnnctl.data.labels import class_labels
from cnnctl.data.npz import HEADER_READERS, _check_declared_size, _read
from cnnctl.data.ondisk import MappedImages
from cnnctl.errors import CnnctlError, Problem

LOCAL_HEADER = struct.Struct("<4s22xHH")  # a zip member's local header: signature, ..., name and extra lengths
CHUNK = 1 << 24  # bytes copied at a time into a disk cache


def decoded_size(source: str, path: str) -> int:
    """Bytes the train and test images of an `idx` folder or `npz` file take, from their headers alone."""
    if source == "idx":
        found = idx_files(path)
        return sum(_values_bytes(found[f"{split} images"]) for split in ("train", "test"))
    headers, _ = _read(path, ("y_train",))
    return sum(int(np.prod(h[0])) * h[1].itemsize for key, h in headers.items() if key.startswith("x_") and h)


def map_source(source: str, path: str, kind: str, cache_dir: str | None) -> tuple[tuple[Any, np.ndarray],
                                                                               tuple[Any, np.ndarray]]:
    """`(x_train, y_train), (x_test, y_test)` with the images as `MappedImages` over the files (or their
    decompressed copies in `cache_dir` for `kind` disk), the labels read and checked."""
    splits = []
    if source == "idx":
        found = idx_files(path)
        for split in ("train", "test"):
            images = _checked(_map_idx(found[f"{split} images"], kind, cache_dir), found[f"{split} images"])
            splits.append((images, class_labels(read_idx(found[f"{split} labels"]), len(images),
                                                found[f"{split} labels"])))
    else:
        _, labels = _read(path, ("y_train", "y_test"))
        for split in ("train", "test"):
            images = _checked(_map_npz(path, f"x_{split}", kind, cache_dir), path, f"x_{split}")
            splits.append((images, class_labels(labels[f"y_{split}"], len(images), path, f"y_{split}")))
    return splits[0], splits[1]


def _checked(images: MappedImages, file: str, what: str = "images") -> MappedImages:
    """As every source's images are checked (`image_array`): float pixels are read once, in chunks, for NaN."""
    image_array(images.array, file, what)
    return images


def _values_bytes(file: str) -> int:
    """The bytes of values an IDX file's header promises (gzipped or raw); none is read."""
    return _open(file, lambda stream, path, size, gzipped: _read_header(stream, path, size, gzipped)[2])


def _map_idx(file: str, kind: str, cache_dir: str | None) -> MappedImages:
    with open_regular(file) as f:
        size = os.fstat(f.fileno()).st_size
        gzipped = f.read(2) == GZIP_MAGIC
        f.seek(0)
        if not gzipped:
            dtype, shape, _, _ = _read_header(f, file, size, None)
            offset = f.tell()
            image_shape(shape, file)
            return MappedImages(np.memmap(file, dtype=dtype, mode="r", offset=offset, shape=shape))
    if kind != "disk":
        raise _compressed(file, "a gzipped IDX file", f"gunzip {file}")
    with open_regular(file) as f, gzip.GzipFile(fileobj=f) as stream:
        dtype, shape, expected, _ = _read_header(stream, file, None, size)
        image_shape(shape, file)
        return MappedImages(_copy_to_cache(stream, expected, dtype, shape, file, cache_dir))


def _map_npz(path: str, key: str, kind: str, cache_dir: str | None) -> MappedImages:
    with open_regular(path) as f, zipfile.ZipFile(f) as archive:
        name = f"{key}.npy" if f"{key}.npy" in archive.namelist() else key
        info = archive.getinfo(name)
        header = _check_declared_size(archive, key, path)
        if header is None or header[1].hasobject:
            raise CnnctlError(Problem(f"{key}: a .npy format this cnnctl cannot memory-map", file=path,
                                      hint="set data.cache: memory"))
        shape, dtype = header
        image_shape(shape, path, key, dtype)
        with archive.open(info) as member:
            _, fortran, _ = HEADER_READERS[np.lib.format.read_magic(member)](member)
            header_bytes = member.tell()
            if info.compress_type != zipfile.ZIP_STORED:
                if kind != "disk":
                    raise _compressed(path, "a compressed archive (np.savez_compressed)",
                                      "save it with np.savez, uncompressed")
                return MappedImages(_copy_to_cache(member, int(np.prod(shape)) * dtype.itemsize, dtype, shape,
                                                   f"{path}:{key}", cache_dir, fortran))
        f.seek(info.header_offset)
        signature, name_length, extra_length = LOCAL_HEADER.unpack(f.read(LOCAL_HEADER.size))
        if signature != b"PK\x03\x04":
            raise CnnctlError(Problem(f"{key}: damaged zip entry", file=path, hint="save the archive again"))
        offset = info.header_offset + LOCAL_HEADER.size + name_length + extra_length + header_bytes
    return MappedImages(np.memmap(path, dtype=dtype, mode="r", offset=offset, shape=shape,
                                  order="F" if fortran else "C"))


def _copy_to_cache(stream: Any, size: int, dtype: np.dtype, shape: tuple[int, ...], what: str,
                   cache_dir: str | None, fortran: bool = False) -> np.ndarray:
    """`size` bytes of `stream` copied once into `cache_dir` (reused while `what` is unchanged), mapped."""
    folder = Path(cache_dir or ".")
    source = what.split(":")[0]
    info = os.stat(source)
    key = hashlib.sha256(f"{what}\0{info.st_size}\0{info.st_mtime_ns}".encode()).hexdigest()[:20]
    target = folder / f"array-{key}.npy"
    if not target.is_file():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f"array-{key}.{os.getpid()}.tmp.npy"
            out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=(size,))
            got = 0
            while got < size:
                chunk = stream.read(min(CHUNK, size - got))
                if not chunk:
                    raise CnnctlError(Problem(f"decompresses to {got:,} bytes, not the {size:,} its header says",
                                              file=source, hint="the file is damaged; download it again"))
                out[got:got + len(chunk)] = np.frombuffer(chunk, np.uint8)
                got += len(chunk)
            out.flush()
            del out
            os.replace(partial, target)
        except OSError as exc:
            raise CnnctlError(Problem(f"cannot write the array cache: {exc.strerror or exc}", file=str(folder),
                                      hint="name a writable folder with room for it in data.cache_dir")) from None
    flat = np.load(target, mmap_mode="r")
    return flat.view(dtype).reshape(shape, order="F" if fortran else "C")


def _compressed(file: str, what: str, fix: str) -> CnnctlError:
    return CnnctlError(Problem(f"{what} cannot be memory-mapped (data.cache: none)", file=file,
                               hint=f"{fix}, or set data.cache: disk with a data.cache_dir to decompress it once "
                                    "there, or data.cache: memory"))
