"""Images read from files: a stack of numeric pixels, at least one image, every value a finite number.

Every file source funnels its image arrays through `image_array` (as labels go
through `class_labels`), because what slips past here fails late or not at
all: strings fail deep inside NumPy with a traceback, zero images crash the
first evaluation, and a NaN pixel trains silently to a run marked completed.
"""

from __future__ import annotations

import numpy as np

from cnnctl.errors import CnnctlError, Problem

SHAPE = "(count, height, width[, channels])"
CHUNK = 4096  # images checked at a time, to bound the temporary mask of a large float array


def image_array(images: np.ndarray, file: str, what: str = "images") -> np.ndarray:
    """`images` unchanged, or a `CnnctlError` naming `file` and what is wrong.

    Args:
        images: as read, `(n, height, width[, channels])`.
        file: the file they came from, for the message.
        what: what the file calls them (`x_train`, `images`).

    Raises:
        CnnctlError: not 3 or 4 axes, not numbers (strings, objects, complex),
            no images, or NaN or infinite values.
    """
    image_shape(images.shape, file, what, images.dtype)
    if images.dtype.kind == "f":
        _check_finite(images, file, what)
    return images


def image_shape(shape: tuple[int, ...], file: str, what: str = "images",
                dtype: np.dtype | None = None) -> tuple[int, ...]:
    """`shape` unchanged, or a `CnnctlError`: what `image_array` checks of the shape (and `dtype`) alone,
    for a header read without its pixels."""
    if len(shape) not in (3, 4):
        raise CnnctlError(Problem(f"{what}: expected images {SHAPE}, found shape {shape}", file=file))
    if dtype is not None and dtype.kind not in "biuf":
        raise CnnctlError(Problem(f"{what}: pixels must be numbers, found {dtype} values", file=file,
                                  hint="save the images as an integer (uint8) or float array"))
    if shape[0] == 0:
        raise CnnctlError(Problem(f"{what}: holds no images (shape {shape})", file=file,
                                  hint="a split needs at least one image"))
    return shape


def _check_finite(images: np.ndarray, file: str, what: str) -> None:
    bad, first = 0, None
    for start in range(0, len(images), CHUNK):
        chunk = images[start:start + CHUNK]
        per_image = np.count_nonzero(~np.isfinite(chunk), axis=tuple(range(1, images.ndim)))
        if first is None and per_image.any():
            first = start + int(np.argmax(per_image > 0))
        bad += int(per_image.sum())
    if bad:
        raise CnnctlError(Problem(f"{what}: {bad:,} pixel value{'s are' if bad > 1 else ' is'} NaN or infinite "
                                  f"(the first in image {first})", file=file,
                                  hint="replace them (e.g. np.nan_to_num) or drop those images"))
