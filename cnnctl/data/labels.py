"""Labels read from files: one class number per image, 0 or more, whatever type the file stored them as.

Every source funnels its labels through `class_labels`, so a file with the
wrong count, fractions or negative numbers is refused by name before training.
"""

from __future__ import annotations

import numpy as np

from cnnctl.errors import CnnctlError, Problem


def class_labels(labels: np.ndarray, images: int, file: str, what: str = "labels") -> np.ndarray:
    """`labels` as int64 `(images,)`, or a `CnnctlError` naming `file`.

    Args:
        labels: as read, `(n,)` or `(n, 1)`; any integer type, or floats holding whole numbers.
        images: how many images these labels belong to.
        file: the file they came from, for the message.
        what: what the file calls them (`y_train`, `labels`).
    """
    labels = np.asarray(labels)
    hint = "labels are class numbers 0, 1, 2, ..., one per image"
    if labels.ndim > 2 or (labels.ndim == 2 and labels.shape[1] != 1) or labels.size != images:
        raise CnnctlError(Problem(f"expected {images} {what} (one per image), found shape {labels.shape}",
                                  file=file, hint=hint + "; one-hot labels are not read"))
    labels = labels.reshape(-1)
    if labels.dtype.kind == "f" and labels.size and not np.array_equal(labels, np.round(labels)):
        bad = labels[labels != np.round(labels)][0]
        raise CnnctlError(Problem(f"{what} must be whole class numbers, found {bad.item()!r}", file=file, hint=hint))
    if labels.dtype.kind not in "biuf":
        raise CnnctlError(Problem(f"{what} must be class numbers, found {labels.dtype} values", file=file, hint=hint))
    if labels.size and labels.min() < 0:
        raise CnnctlError(Problem(f"{what} must be 0 or more, found {labels.min().item()!r}", file=file, hint=hint))
    return labels.astype(np.int64)
