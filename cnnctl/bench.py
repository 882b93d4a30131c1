"""`cnnctl bench`: time training steps (and forward passes) of a config's model, like `caffe time`.

What is timed is what training would run, on synthetic input of the model's shape:

- Steps per execution. Training runs `steps_per_execution` steps per call into the compiled graph, a
  value that depends on the steps per epoch (`execution_settings`), so the bench asks the same function
  with the steps per epoch training would have at each batch size. That needs the number of training
  images, which only the data can tell exactly (`data.limit`, the validation split, a folder's test
  split): the config's data is loaded once to count them (no images from it are timed). Warm-up and
  timed blocks are whole executions, `--steps` rounded up, so no partial call is traced or timed.
- Peak memory. Each batch size is measured in a fresh process of its own (spawned), so its peak is its
  own, not the largest so far (a process's peak RSS never goes down): the peak resident memory of a
  process that builds the model and trains it at this batch size only, as `cnnctl train` would report
  in `peak_rss_mb` (less the dataset), or on a GPU the device's own peak in that process.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from cnnctl import keras_catalog
from cnnctl.config import Config
from cnnctl.data import pipeline
from cnnctl.model.build import build_model, internal_input_shape
from cnnctl.training.compile import compile_model, execution_settings, peak_host_memory_mb, select_device
from cnnctl.training.precision import set_precision


@dataclass(frozen=True)
class BenchRow:
    batch_size: int
    steps: int  # timed: `--steps` rounded up to whole executions
    steps_per_epoch: int  # training's, at this batch size
    steps_per_execution: int  # training's, at this batch size; used here
    ms_per_step: float
    images_per_second: float
    inference_ms_per_batch: float | None
    inference_images_per_second: float | None
    peak_memory_mb: float  # of a process that ran this batch size only: host RSS, or the GPU's own peak
    device: str
    precision: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def bench(config: Config, batch_sizes: list[int], steps: int = 50, warmup: int = 5, inference: bool = False,
          device: str = "auto") -> list[BenchRow]:
    """One timed block of at least `steps` training steps per batch size, each in a fresh process.

    Raises:
        CnnctlError: the data cannot be loaded (it is needed for the steps per epoch), no GPU for
            `device="gpu"`, or the model cannot be built.
    """
    images = training_images(config)
    plugins = sorted({cls.__module__ for cls in keras_catalog.PLUGIN_LAYERS.values()})
    return [_in_fresh_process(_measure, config, plugins, batch_size, pipeline.steps_per_epoch(images, batch_size), steps, warmup,
                              inference, device)
            for batch_size in batch_sizes]


def training_images(config: Config) -> int:
    """How many images one training epoch sees: the training split after `limit` and the validation split."""
    from cnnctl.data.prepare import load_data

    return len(load_data(config, internal_input_shape(config)).train)


def whole_executions(steps: int, steps_per_execution: int) -> int:
    """`steps` rounded up to a multiple of `steps_per_execution`: a shorter last call would be traced anew."""
    return math.ceil(steps / steps_per_execution) * steps_per_execution


def _in_fresh_process(function: Any, *args: Any) -> Any:
    """`function(*args)` in a new Python process: nothing measured there was touched by an earlier batch size."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


def _measure(config: Config, plugins: list[str], batch_size: int, steps_per_epoch: int, steps: int, warmup: int,
             inference: bool, device: str) -> BenchRow:
    """Build, compile as training would at this batch size, warm up, then time; runs in its own process."""
    for module in plugins:  # the parent's `--plugin` layers, which a spawned process does not inherit
        keras_catalog.load_plugin(module)
    keras_catalog.keras()
    import tensorflow as tf

    device_name = select_device(device)
    policy = set_precision(config.train.precision, device_name).policy
    model = build_model(config)
    compile_model(model, config, execution_settings(config, device_name, steps_per_epoch))
    per_call = int(model.steps_per_execution)
    steps, warmup = whole_executions(steps, per_call), whole_executions(warmup, per_call)
    x, y = _synthetic_batch(config, batch_size, int(model.output.shape[-1]))
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, steps_per_epoch=warmup, epochs=1, verbose=0, shuffle=False)
    started = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    infer_ms = infer_rate = None
    if inference:
        infer_ms, infer_rate = _time_inference(model, x, steps, warmup)
    return BenchRow(batch_size, steps, steps_per_epoch, per_call, 1000 * seconds / steps,
                    steps * batch_size / seconds, infer_ms, infer_rate, _peak_memory_mb(device_name), device_name,
                    policy)


def _synthetic_batch(config: Config, batch_size: int, units: int) -> tuple[np.ndarray, np.ndarray]:
    """Random images of the model's input shape and labels encoded as the loss takes them."""
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, *internal_input_shape(config)), dtype=np.float32)
    if "sparse" in config.loss.name.lower():
        return x, rng.integers(0, units, batch_size)
    if units == 1:
        return x, rng.integers(0, 2, (batch_size, 1)).astype(np.float32)
    return x, np.eye(units, dtype=np.float32)[rng.integers(0, units, batch_size)]


def _time_inference(model: Any, x: np.ndarray, steps: int, warmup: int) -> tuple[float, float]:
    """Milliseconds per forward pass of one batch, and images per second."""
    for _ in range(warmup):
        model.predict_on_batch(x)
    started = time.perf_counter()
    for _ in range(steps):
        model.predict_on_batch(x)
    seconds = time.perf_counter() - started
    return 1000 * seconds / steps, steps * len(x) / seconds


def _peak_memory_mb(device: str) -> float:
    """This process's peak: on a GPU the device allocator's, else resident host memory."""
    if device.startswith("GPU"):
        import tensorflow as tf

        return tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2**20
    return peak_host_memory_mb()
