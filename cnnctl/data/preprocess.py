"""How stored pixels become model inputs, batch by batch inside tf.data.

Images stay in memory as loaded (uint8 for real datasets: a quarter of the
float32 size) and are converted per batch: to [0, 1], then optionally
standardized with the training images' per-channel mean and standard
deviation, in one multiply-add. Training batches are augmented first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

EPSILON = 1e-7  # variance floor, as Keras' Normalization: a constant channel becomes 0, not NaN
CHUNK = 8192  # images per step when computing statistics, to bound the float64 copy


@dataclass(frozen=True)
class Preprocess:
    """Pixel scale, optional standardization and optional augmentation (training batches only)."""

    scale: float  # multiply stored pixels by this to get [0, 1]
    mean: tuple[float, ...] | None = None  # per channel, of the training images in [0, 1]
    std: tuple[float, ...] | None = None
    augmentation: Any = None  # cnnctl.data.augment.Augmentation

    def inputs(self, images: Any) -> Any:
        """A batch of stored images as the model takes them (validation, test)."""
        return self._normalize(_to_float(images), self.scale)

    def train_inputs(self, images: Any, labels: Any, key: Any) -> tuple[Any, Any]:
        """A training batch, augmented with seeds from `key` (`[seed, epoch]` folded with the step)."""
        x = _to_float(images)
        if self.augmentation is None:
            return self._normalize(x, self.scale), labels
        if self.scale * 255 != 1:
            x = x * np.float32(self.scale * 255)  # augmentation layers expect 0-255, Keras' default value_range
        x, labels = self.augmentation(x, labels, key)
        return self._normalize(x, 1 / 255), labels

    def _normalize(self, x: Any, scale: float) -> Any:
        if self.mean is None:
            return x * np.float32(scale) if scale != 1 else x
        std = np.asarray(self.std, np.float32)
        return x * (np.float32(scale) / std) - np.asarray(self.mean, np.float32) / std


def pixel_scale(images: np.ndarray) -> float:
    """What maps these pixels to [0, 1]: 1/255 for 8-bit values (integers, or floats above 1), else 1."""
    if images.dtype.kind in "biu" or (images.size and float(images.max()) > 1.0):
        return 1 / 255
    return 1.0


def channel_stats(images: np.ndarray, scale: float) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and standard deviation of `images * scale`, in float64, a chunk at a time."""
    channels = images.shape[-1]
    total, squares, count = np.zeros(channels), np.zeros(channels), 0
    for start in range(0, len(images), CHUNK):
        # np.asarray: images on disk (cnnctl.data.ondisk) are read a chunk at a time
        chunk = np.asarray(images[start:start + CHUNK]).reshape(-1, channels).astype(np.float64) * scale
        total += chunk.sum(axis=0)
        squares += np.square(chunk).sum(axis=0)
        count += len(chunk)
    mean = total / max(count, 1)
    variance = np.maximum(squares / max(count, 1) - mean**2, EPSILON)
    return tuple(float(m) for m in mean), tuple(float(s) for s in np.sqrt(variance))


def _to_float(images: Any) -> Any:
    import tensorflow as tf

    return tf.cast(images, tf.float32)
