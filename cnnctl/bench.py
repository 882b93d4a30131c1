"""`cnnctl bench`: time training steps (and forward passes) of a config's model, like `caffe time`.

Synthetic input of the model's shape, so no dataset is needed; warm-up steps
first (tracing, memory pools), then N timed steps through the same compiled
`fit` step that training uses.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cnnctl import keras_catalog
from cnnctl.config import Config
from cnnctl.model.build import build_model, internal_input_shape
from cnnctl.training.compile import (compile_model, execution_settings, peak_host_memory_mb, select_device,
                                     set_precision)


@dataclass(frozen=True)
class BenchRow:
    batch_size: int
    steps: int
    ms_per_step: float
    images_per_second: float
    inference_ms_per_batch: float | None
    inference_images_per_second: float | None
    peak_memory_mb: float  # host RSS, or the GPU's own peak on a GPU
    device: str
    precision: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench(config: Config, batch_sizes: list[int], steps: int = 50, warmup: int = 5, inference: bool = False,
          device: str = "auto") -> list[BenchRow]:
    """One timed block of `steps` training steps per batch size, after `warmup` untimed ones."""
    keras = keras_catalog.keras()
    import tensorflow as tf

    device_name = select_device(device)
    policy = set_precision(config.train.precision, device_name)
    rows = []
    for batch_size in batch_sizes:
        model = build_model(config)
        compile_model(model, config, execution_settings(config, device_name, steps))
        units = int(model.output.shape[-1])
        rng = np.random.default_rng(0)
        x = rng.random((batch_size, *internal_input_shape(config)), dtype=np.float32)
        y = np.eye(units, dtype=np.float32)[rng.integers(0, units, batch_size)] if units > 1 else \
            rng.integers(0, 2, (batch_size, 1)).astype(np.float32)
        if "sparse" in config.loss.name.lower():
            y = rng.integers(0, units, batch_size)
        data = tf.data.Dataset.from_tensors((x, y)).repeat()
        model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
        _reset_gpu_peak(device_name)
        started = time.perf_counter()
        model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
        seconds = time.perf_counter() - started
        infer_ms = infer_rate = None
        if inference:
            for _ in range(warmup):
                model.predict_on_batch(x)
            started = time.perf_counter()
            for _ in range(steps):
                model.predict_on_batch(x)
            infer_seconds = time.perf_counter() - started
            infer_ms, infer_rate = 1000 * infer_seconds / steps, steps * batch_size / infer_seconds
        rows.append(BenchRow(batch_size, steps, 1000 * seconds / steps, steps * batch_size / seconds, infer_ms,
                             infer_rate, _peak_memory_mb(device_name), device_name, policy))
        keras.backend.clear_session()
    return rows


def _reset_gpu_peak(device: str) -> None:
    if device.startswith("GPU"):
        import tensorflow as tf

        tf.config.experimental.reset_memory_stats("GPU:0")


def _peak_memory_mb(device: str) -> float:
    if device.startswith("GPU"):
        import tensorflow as tf

        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return peak_host_memory_mb()
