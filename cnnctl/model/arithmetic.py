"""The lecture's output-size arithmetic for sliding windows (convolution and pooling).

    output = (input − filter) / stride + 1

with `filter` widened by dilation to d·(k − 1) + 1, the division rounded
down when it is not exact, and `same` padding giving ⌈input / stride⌉.
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


def _explain_axis(window: Window, axis: int, n: int) -> str:
    s, k, d = window.strides[axis], window.kernel[axis], window.dilation[axis]
    if window.padding == "same":
        return f"⌈{n}/{s}⌉ = {-(-n // s)}"
    eff = d * (k - 1) + 1
    out = (n - eff) // s + 1
    quotient = f"({n} − {eff})/{s}" if (n - eff) % s == 0 else f"⌊({n} − {eff})/{s}⌋"
    dilated = f" [dilated kernel {d}·({k} − 1) + 1 = {eff}]" if d > 1 else ""
    return f"{quotient} + 1 = {out}{dilated}"
