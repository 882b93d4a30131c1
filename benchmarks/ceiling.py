"""How close is training to what this machine can do? Model FLOPs per image against a large matmul.

FLOPs are counted from the built model's shapes (a multiply-add is 2 FLOPs): convolutions
out_h·out_w·filters·(k_h·k_w·in_channels/groups)·2, Dense in·units·2; a training step costs
about 3× the forward pass (forward, and backward for inputs and for weights). The ceiling is
the best of a few float32 (and bfloat16) 4096×4096 matmuls on the same cores.

    python benchmarks/ceiling.py [CONFIG] --images-per-second 9500
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from cnnctl.config import load_config
from cnnctl.keras_catalog import keras
from cnnctl.model import build_model


def forward_flops(model) -> int:
    total = 0
    for layer in model.layers:
        kernel = getattr(layer, "kernel", None)
        if kernel is None:
            continue
        out = int(np.prod(layer.output.shape[1:-1])) if len(layer.output.shape) > 2 else 1
        total += 2 * out * int(np.prod(kernel.shape))  # each output position: one MAC per kernel weight
    return total


def matmul_gflops(dtype: str, n: int = 4096, repeats: int = 5) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n), dtype=tf.float32)
    a = tf.cast(a, dtype)
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        tf.linalg.matmul(a, a).numpy()
        best = min(best, time.perf_counter() - started)
    return 2 * n**3 / best / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/fashion_mnist.yaml")
    parser.add_argument("--images-per-second", type=float, required=True, help="measured training throughput")
    args = parser.parse_args()
    keras()
    model = build_model(load_config(args.config))
    forward = forward_flops(model)
    step = 3 * forward
    achieved = step * args.images_per_second / 1e9
    f32, bf16 = matmul_gflops("float32"), matmul_gflops("bfloat16")
    print(f"forward {forward / 1e6:.2f} MFLOP/image, training ≈ {step / 1e6:.2f} MFLOP/image")
    print(f"at {args.images_per_second:,.0f} images/s: {achieved:.1f} GFLOP/s")
    print(f"matmul ceiling: float32 {f32:.1f} GFLOP/s, bfloat16 {bf16:.1f} GFLOP/s")
    print(f"ratio to the float32 ceiling: {achieved / f32:.2f}")


if __name__ == "__main__":
    main()
