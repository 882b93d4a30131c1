"""`data.cache`: where decoded images are kept between epochs, chosen by size when the config does not say.

`memory` decodes every image once and holds the array: the fastest epochs,
as long as it fits. `none` leaves images on disk (`cnnctl.data.ondisk`) and
reads each batch when it is needed: memory stays flat whatever the image
count. `disk` decodes once into a `.npy` file in `data.cache_dir` and
memory-maps it: a folder of JPEGs is decoded once, not every epoch. It is
not tf.data's `Dataset.cache(filename)`: that file can only be read from
its start, in the order it was written, and an epoch's order here is a
permutation drawn from (seed, epoch), which needs any image at any time.

The default is `memory` when the decoded images take at most a quarter of
the machine's memory (room for the model, the batches and TensorFlow), else
`disk` if a `cache_dir` is named, else `none`. The choice and why are
printed with the data line and kept in results.json (`data.cache`).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from cnnctl.data.ondisk import ImageFiles, MappedImages
from cnnctl.errors import CnnctlError, Problem, human_bytes

MEMORY_SHARE = 4  # memory when decoded images take at most 1/MEMORY_SHARE of the machine's memory


@dataclass(frozen=True)
class CacheChoice:
    kind: str  # memory, disk or none
    reason: str  # for the data line: why this kind

    def report(self) -> dict[str, Any]:
        return {"cache": self.kind, "cache_reason": self.reason}


def choose_cache(configured: str | None, decoded_bytes: int, cache_dir: str | None) -> CacheChoice:
    """The configured cache, or the default for `decoded_bytes` of decoded images (see the module's docstring)."""
    size = f"{human_bytes(decoded_bytes)} decoded"
    if configured is not None:
        return CacheChoice(configured, f"{size}, data.cache: {configured}")
    budget = physical_memory() // MEMORY_SHARE
    if decoded_bytes <= budget:
        return CacheChoice("memory", f"{size}, within a quarter of memory ({human_bytes(budget)})")
    kind = "disk" if cache_dir else "none"
    return CacheChoice(kind, f"{size}, over a quarter of memory ({human_bytes(budget)})"
                             + ("" if cache_dir else "; set data.cache_dir to decode once to disk"))


def physical_memory() -> int:
    """This machine's memory in bytes."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def keep_images(images: ImageFiles, kind: str, cache_dir: str | None) -> tuple[Any, np.ndarray]:
    """A folder's images as `kind` keeps them, and which of them could be decoded (all, unless skipped).

    `memory`: a uint8 array; `disk`: `MappedImages` over `cache_dir/<key>.npy`, written on first use and
    reused while the files, their sizes and times, and the image size are unchanged; `none`: `images`.
    """
    if kind == "none":
        return images, np.ones(len(images), bool)
    if kind == "memory":
        out = np.empty(images.shape, np.uint8)
        good = images.decode_into(out)
        return (out if good.all() else out[good]), good
    folder = Path(cache_dir or ".")
    key = _cache_key(images)
    array_file, record = folder / f"{key}.npy", folder / f"{key}.json"
    if not (record.is_file() and array_file.is_file()):
        _write_cache(images, folder, array_file, record)
    good = np.ones(len(images), bool)
    skipped = json.loads(record.read_text())["skipped"]
    good[skipped] = False
    for row in skipped:  # named in this run's results too
        if images.files[row] not in images.skipped:
            images.skipped.append(images.files[row])
    return MappedImages(np.load(array_file, mmap_mode="r"), np.flatnonzero(good)), good


def _write_cache(images: ImageFiles, folder: Path, array_file: Path, record: Path) -> None:
    """Decode every image into `array_file` (written under a temporary name, then renamed: a cache is whole
    or absent), and record which could not be decoded."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        partial = array_file.with_name(f"{array_file.stem}.{os.getpid()}.tmp.npy")
        out = np.lib.format.open_memmap(partial, mode="w+", dtype=np.uint8, shape=images.shape)
        good = images.decode_into(out)
        out.flush()
        del out
        os.replace(partial, array_file)
        record.write_text(json.dumps({"images": len(images), "skipped": np.flatnonzero(~good).tolist()}))
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot write the image cache: {exc.strerror or exc}", file=str(folder),
                                  hint="name a writable folder with room for it in data.cache_dir, or set "
                                       "data.cache: none")) from None


def _cache_key(images: ImageFiles) -> str:
    """A digest of what the cache holds: every file's path, size and time, and the size images are decoded to."""
    digest = hashlib.sha256(repr(images.item_shape).encode())
    for file in images.files:
        info = os.stat(file)
        digest.update(f"{file}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
    return f"images-{digest.hexdigest()[:20]}"
