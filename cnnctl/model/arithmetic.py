"""The lecture's output-size arithmetic for sliding windows (convolution and pooling).

    output = (input + padding − filter) / stride + 1

with `filter` widened by dilation to d·(k − 1) + 1, the division rounded
down when it is not exact, and no padding unless `padding: same`. For
`same`, Keras (TensorFlow's rule) pads just enough for ⌈input / stride⌉
outputs: (⌈input / stride⌉ − 1)·stride + filter − input in all (none if
that is negative), half of it before the image and the odd one after.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Window:
    """A layer's sliding window, as Keras normalised it (one entry per spatial axis)."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    padding: str
    dilation: tuple[int, ...]

    @property
    def effective(self) -> tuple[int, ...]:
        return tuple(d * (k - 1) + 1 for k, d in zip(self.kernel, self.dilation))


def window_of(layer: Any) -> Window | None:
    """The window of a convolution or pooling layer; None for layers without one (or transposed)."""
    kernel = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if not kernel or "Transpose" in type(layer).__name__ or not isinstance(kernel, tuple):
        return None
    rank = len(kernel)
    strides = tuple(layer.strides) if layer.strides is not None else kernel
    dilation = tuple(getattr(layer, "dilation_rate", None) or (1,) * rank)
    return Window(tuple(kernel), strides, str(layer.padding).lower(), dilation)


def output_sizes(window: Window, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """Output size along each spatial axis (may be ≤ 0 when the window does not fit)."""
    if window.padding == "same":
        return tuple(-(-n // s) for n, s in zip(sizes, window.strides))
    return tuple((n - k) // s + 1 for n, k, s in zip(sizes, window.effective, window.strides))


def explain(window: Window, sizes: tuple[int, ...]) -> str:
    """`(28 − 3)/1 + 1 = 26`, once when every axis reads the same, else per axis."""
    parts = [_explain_axis(window, axis, n) for axis, n in enumerate(sizes)]
    return parts[0] if len(set(parts)) == 1 else " × ".join(parts)


def same_padding(window: Window, sizes: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """What `padding: same` adds along each axis, (before, after)."""
    return tuple(_same_pad(n, k, s) for n, k, s in zip(sizes, window.effective, window.strides))


def _same_pad(n: int, filter_size: int, stride: int) -> tuple[int, int]:
    """Enough for ⌈n/stride⌉ outputs: (⌈n/s⌉ − 1)·s + filter − n, at least 0; the odd one after, as TensorFlow."""
    total = max((-(-n // stride) - 1) * stride + filter_size - n, 0)
    return total // 2, total - total // 2


def _explain_axis(window: Window, axis: int, n: int) -> str:
    s, k, d = window.strides[axis], window.kernel[axis], window.dilation[axis]
    eff = d * (k - 1) + 1
    notes, pad = [], 0
    if window.padding == "same":
        before, after = _same_pad(n, eff, s)
        pad = before + after
        notes.append(f"same: ⌈{n}/{s}⌉, " + (f"padding {before} before, {after} after" if pad else "no padding needed"))
    if d > 1:
        notes.append(f"dilated kernel {d}·({k} − 1) + 1 = {eff}")
    span = n + pad - eff
    padded = f"{n} + {pad}" if pad else f"{n}"
    quotient = f"({padded} − {eff})/{s}" if span % s == 0 else f"⌊({padded} − {eff})/{s}⌋"
    return f"{quotient} + 1 = {span // s + 1}" + (f" ({'; '.join(notes)})" if notes else "")
