"""Images of simple shapes, one kind of shape per class: a dataset with no download.

Made to be learnable by a small CNN in a few epochs, and to need one: the
shapes move and change size, so a fixed pixel never gives the class away.
The same seed gives the same images on every machine.
"""

from __future__ import annotations

import numpy as np

from cnnctl.errors import CnnctlError, Problem

MIN_SIDE = 8  # below this the shapes are too few pixels to tell apart


# Each shape: a mask from pixel offsets to the centre (dy, dx), half-size r and half-thickness t.
def _horizontal_bar(dy, dx, r, t):
    return (abs(dy) <= t) & (abs(dx) <= r)


def _vertical_bar(dy, dx, r, t):
    return (abs(dx) <= t) & (abs(dy) <= r)


def _square_outline(dy, dx, r, t):
    edge = np.maximum(abs(dx), abs(dy))
    return (edge <= r) & (edge >= r - 2 * t)


def _filled_disc(dy, dx, r, t):
    return dx**2 + dy**2 <= r**2


def _plus(dy, dx, r, t):
    return _horizontal_bar(dy, dx, r, t) | _vertical_bar(dy, dx, r, t)


def _diagonal_line(dy, dx, r, t):
    return (abs(dx - dy) <= t * np.sqrt(2)) & (abs(dx) <= r) & (abs(dy) <= r)


def _triangle(dy, dx, r, t):  # apex up, base at the bottom
    return (abs(dy) <= r) & (abs(dx) <= (dy + r) / 2)


def _ring(dy, dx, r, t):
    distance = np.sqrt(dx**2 + dy**2)
    return (distance <= r) & (distance >= r - 2 * t)


SHAPES = {
    "horizontal bar": _horizontal_bar,
    "vertical bar": _vertical_bar,
    "square outline": _square_outline,
    "filled disc": _filled_disc,
    "plus": _plus,
    "diagonal line": _diagonal_line,
    "triangle": _triangle,
    "ring": _ring,
}


def make_synthetic(count: int, height: int, width: int, channels: int, classes: int,
                   noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Generate `count` images, class `k` being the k-th kind in `SHAPES`.

    Args:
        count: number of images; classes are balanced to within one image.
        height, width: image size in pixels (at least 8).
        channels: 1 for grey; more gives each image a random colour.
        classes: number of shape kinds, 2 to 8.
        noise: standard deviation of the Gaussian noise added to every pixel.
        seed: the same seed gives the same data.

    Returns:
        `(images, labels)`: float32 `(count, height, width, channels)` in
        [0, 1], and int64 `(count,)` in `[0, classes)`, shuffled.

    Raises:
        CnnctlError: an argument out of range.

    Example:

    ```python
    x, y = make_synthetic(2000, 16, 16, 1, classes=4, noise=0.1, seed=0)
    ```
    """
    _check(count, height, width, channels, classes, noise)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(count) % classes).astype(np.int64)

    side = min(height, width)
    r = np.maximum(rng.uniform(0.22, 0.42, count) * side, 2.5)  # half-size
    t = np.maximum(rng.uniform(0.05, 0.1, count) * side, 0.6)  # half-thickness
    cy = rng.uniform(r, np.maximum(r, height - 1 - r))  # keeps the shape inside the image
    cx = rng.uniform(r, np.maximum(r, width - 1 - r))
    flip = rng.random(count) < 0.5  # mirror left-right: the diagonal runs both ways (the rest are symmetric)
    brightness = rng.uniform(0.6, 1.0, count)
    tint = np.ones((count, channels))
    if channels > 1:
        tint = rng.uniform(0.2, 1.0, (count, channels))
        tint /= tint.max(axis=1, keepdims=True)

    dy = np.arange(height, dtype=np.float32)[None, :, None] - cy[:, None, None].astype(np.float32)
    dx = np.arange(width, dtype=np.float32)[None, None, :] - cx[:, None, None].astype(np.float32)
    dx = np.where(flip[:, None, None], -dx, dx)
    masks = np.zeros((count, height, width), dtype=bool)
    for k, draw in enumerate(list(SHAPES.values())[:classes]):
        chosen = labels == k
        masks[chosen] = draw(dy[chosen], dx[chosen], r[chosen, None, None], t[chosen, None, None])

    colour = (brightness[:, None] * tint).astype(np.float32)
    images = masks[..., None] * colour[:, None, None, :]
    images += rng.standard_normal(images.shape, dtype=np.float32) * np.float32(noise)
    return np.clip(images, 0.0, 1.0, out=images), labels


def _check(count: int, height: int, width: int, channels: int, classes: int, noise: float) -> None:
    problems = []
    if count < 0:
        problems.append(Problem(f"synthetic data: count must be 0 or more, got {count}"))
    if height < MIN_SIDE or width < MIN_SIDE:
        problems.append(Problem(f"synthetic data: images must be at least {MIN_SIDE}×{MIN_SIDE}, "
                                f"got {height}×{width}", hint="use a larger model.input_shape"))
    if channels < 1:
        problems.append(Problem(f"synthetic data: channels must be 1 or more, got {channels}"))
    if not 2 <= classes <= len(SHAPES):
        problems.append(Problem(f"synthetic data: classes must be 2 to {len(SHAPES)} "
                                f"(one per shape kind), got {classes}"))
    if not noise >= 0:  # also refuses NaN
        problems.append(Problem(f"synthetic data: noise must be 0 or more, got {noise}"))
    if problems:
        raise CnnctlError(problems)
