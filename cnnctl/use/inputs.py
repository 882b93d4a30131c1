"""The images a user hands `cnnctl predict`: files, folders, globs and arrays, made to fit the model input.

Each input becomes one or more `Image`s of raw pixels (0-255, float32,
channels-last) at the model input's height, width and channels: grey and RGB
are converted the way Pillow converts them, and an image of another size is
resized (bilinear), with a note saying so. A file that cannot be read is a
`Problem` naming it, and the others are still read: one bad photo in a folder
of hundreds should cost that photo, not the run.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnctl.data.folder import IMAGE_EXTENSIONS, check_image_files
from cnnctl.errors import CnnctlError, Problem

ARRAY_SUFFIXES = (".npy",)
IDX_MARKERS = ("idx3-ubyte", "idx3")  # MNIST's image files: train-images-idx3-ubyte(.gz)
PIL_MODES = {1: "L", 3: "RGB", 4: "RGBA"}


@dataclass(frozen=True)
class Image:
    name: str  # the file, or `file[index]` for an image of an array
    pixels: np.ndarray  # (height, width, channels), float32, 0-255
    note: str | None = None  # what was done to fit it: "resized from 32×32", "RGB to grey"


def read_inputs(inputs: list[str], height: int, width: int, channels: int,
                first: bool = False) -> tuple[list[Image], list[Problem]]:
    """Every image named by `inputs` (files, folders, globs, .npy and IDX arrays), in the order given.

    `first`: arrays are in a channels-first config's layout. Images come out channels-last either way.

    A folder gives its images (PNG, JPEG, BMP, GIF) in sorted order, sub-folders included; a glob the files
    it matches. Problems are returned, not raised, so the readable inputs are still predicted.
    """
    images: list[Image] = []
    problems: list[Problem] = []
    for given in inputs:
        paths = _expand(given)
        if not paths:
            problems.append(Problem("no such file or folder, and no file matches it", given))
        for path in paths:
            try:
                images += _read(path, height, width, channels, first)
            except CnnctlError as error:
                problems += error.problems
    return images, problems


def _expand(given: str) -> list[str]:
    path = Path(given).expanduser()
    if path.is_dir():
        return sorted(str(p) for p in path.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    if path.exists():
        return [str(path)]
    return sorted(p for p in glob.glob(os.path.expanduser(given), recursive=True) if os.path.isfile(p))


def _read(path: str, height: int, width: int, channels: int, first: bool) -> list[Image]:
    name = os.path.basename(path).lower()
    if name.endswith(ARRAY_SUFFIXES) or any(marker in name for marker in IDX_MARKERS):
        return _array_images(path, _load_array(path), height, width, channels, first)
    return [_image_file(path, height, width, channels)]


def _image_file(path: str, height: int, width: int, channels: int) -> Image:
    """One image file, decoded by Pillow after its header passed the decompression-bomb guard."""
    from PIL import Image as Pil

    check_image_files([path])  # a regular file, within the pixel limit: raises a one-line problem otherwise
    try:
        with Pil.open(path) as image:
            image.seek(0)  # a GIF's first frame
            notes = []
            mode = PIL_MODES[channels]
            if image.mode != mode:
                if _channels_of(image.mode) != channels:
                    notes.append(f"{_colour(image.mode)} to {_colour(mode)}")
                image = image.convert(mode)
            if image.size != (width, height):
                notes.append(f"resized from {image.size[1]}×{image.size[0]}")
                image = image.resize((width, height), Pil.Resampling.BILINEAR)
            pixels = np.asarray(image, dtype=np.float32)
    except OSError as exc:
        raise CnnctlError(Problem(f"cannot decode image: {exc}", path,
                                  hint="the file is damaged or not an image; it is skipped")) from None
    return Image(path, pixels.reshape(height, width, channels), ", ".join(notes) or None)


def _channels_of(mode: str) -> int:
    return {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4, "P": 3, "1": 1, "I": 1, "F": 1, "I;16": 1, "CMYK": 4}.get(mode, 3)


def _colour(mode: str) -> str:
    return {1: "grey", 2: "grey", 3: "RGB", 4: "RGBA"}[_channels_of(mode)]


def _load_array(path: str) -> np.ndarray:
    if path.lower().endswith(".npy"):
        from cnnctl.data.files import open_regular

        try:
            with open_regular(path) as f:
                return np.load(f, allow_pickle=False)
        except ValueError as exc:
            raise CnnctlError(Problem(f"cannot read the array: {exc}", path)) from None
    from cnnctl.data.idx import read_idx

    return read_idx(path)


def _array_images(path: str, array: np.ndarray, height: int, width: int, channels: int,
                  first: bool) -> list[Image]:
    """An array of images, or one image, in the config's layout (`(n, channels, height, width)` for a
    channels-first config, else `(n, height, width, channels)`; grey images may leave the channel out),
    pixels 0-255 or floats in [0, 1].

    The images must already be the model input's size: an array is data a program made, and a silent resize
    would hide a mistake in it.
    """
    if array.dtype.kind not in "biuf":
        raise CnnctlError(Problem(f"an array of {array.dtype}, not of numbers", path))
    one = (channels, height, width) if first else (height, width, channels)
    if array.shape in (one, (height, width)):
        array = array[np.newaxis]  # a single image
    if array.ndim == 3 and channels == 1:
        array = array[:, np.newaxis] if first else array[..., np.newaxis]
    if array.ndim != 4 or array.shape[1:] != one:
        order = "channels×height×width" if first else "height×width×channels"
        raise CnnctlError(Problem(f"images of {'×'.join(map(str, array.shape[1:]))}, the model takes "
                                  f"{'×'.join(map(str, one))} ({order})", path,
                                  hint="an array must hold images of the model input's size, in the config's layout"))
    pixels = array.astype(np.float32)
    if first:
        pixels = pixels.transpose(0, 2, 3, 1)
    note = None
    if array.dtype.kind == "f" and pixels.size and float(pixels.max()) <= 1.0:
        pixels *= 255  # stored in [0, 1], as many pipelines keep them
        note = "pixels in [0, 1] taken as fractions of 255"
    return [Image(f"{path}[{i}]", image, note) for i, image in enumerate(pixels)]
