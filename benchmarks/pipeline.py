"""Is cnnctl's input pipeline ever the bottleneck? Time the same model trained two ways.

`numpy`: Keras' own `model.fit(x, y, batch_size=..., shuffle=True)` on float32
arrays prepared in memory beforehand (scaled, one-hot): the baseline a Keras
user writes by hand. `pipeline`: `model.fit` on `cnnctl.data.pipeline.train_dataset`
(uint8 images gathered per batch, cast and scaled in the pipeline, seeded
order per epoch). Same model, seed, optimizer, batch size and images; no
validation, no callbacks but a timer. The two are alternated, repeated, and
the median seconds per epoch (first epoch of each fit excluded: tracing)
are printed, with the pipeline's own throughput without a model.

    python benchmarks/pipeline.py [CONFIG] [--epochs 3] [--repeats 3] [--set KEY=VALUE ...]

Run it on an otherwise idle machine: every core counts. Epochs during which other
processes took more than 5% of the machine (sampled from /proc) are shown and dropped.
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import statistics
import threading
import time

import numpy as np

from cnnctl.config import load_config
from cnnctl.data.pipeline import label_encoder, train_dataset
from cnnctl.data.prepare import load_data
from cnnctl.keras_catalog import keras
from cnnctl.model.build import build_model, internal_input_shape
from cnnctl.training.compile import compile_model

BUSY = 0.05  # epochs during which other processes used more than this share of the machine are dropped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", nargs="?", default="configs/fashion_mnist.yaml")
    parser.add_argument("--epochs", type=int, default=3, help="epochs per fit; the first is not timed")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", dest="overrides", action="append", default=[])
    args = parser.parse_args()
    config = load_config(args.config, ["train.validation=null", *args.overrides])
    k = keras()
    import tensorflow as tf

    data = load_data(config, internal_input_shape(config))
    t = config.train
    prepare = data.prepare
    units = data.classes
    print(f"{config.name}: {len(data.train)} training images of {data.train.x.shape[1:]} {data.train.x.dtype}, "
          f"batch {t.batch_size}; {platform.processor() or platform.machine()}, {k.__version__=}, {tf.__version__=}")

    others = OtherProcesses()
    others.sample()  # what every process had used before: not counted
    others.ticks = 0
    others.start()
    encode = label_encoder(config.loss.name, units)
    x_np = data.train.x.astype(np.float32) * np.float32(prepare.scale)  # the same inputs, prepared beforehand
    y_np = np.asarray(encode(data.train.y))

    class Timer(k.callbacks.Callback):
        """Seconds per epoch, and the share of the machine other processes took meanwhile."""

        def on_train_begin(self, logs=None):
            self.seconds, self.others = [], []

        def on_epoch_begin(self, epoch, logs=None):
            self.start, self.ticks = time.perf_counter(), others.ticks

        def on_epoch_end(self, epoch, logs=None):
            self.seconds.append(time.perf_counter() - self.start)
            self.others.append(others.share(self.ticks, self.seconds[-1]))

    def fit(kind: str) -> list[float]:
        k.backend.clear_session()
        gc.collect()  # the last fit's graphs, freed now rather than in the middle of a timed epoch
        model = build_model(config)
        compile_model(model, config)
        timer = Timer()
        if kind == "numpy":
            model.fit(x_np, y_np, batch_size=t.batch_size, epochs=args.epochs, shuffle=True, verbose=0,
                      callbacks=[timer])
        else:
            dataset, steps = train_dataset(data.train, t.batch_size, t.seed, 0, args.epochs, prepare, encode)
            model.fit(dataset, epochs=args.epochs, steps_per_epoch=steps, verbose=0, shuffle=False,
                      callbacks=[timer])
        return list(zip(timer.seconds, timer.others))[1:]

    def pipeline_alone() -> float:
        gc.collect()
        dataset, steps = train_dataset(data.train, t.batch_size, t.seed, 0, 2, prepare, encode)
        start = time.perf_counter()
        for _ in dataset:
            pass
        return 2 * len(data.train) / (time.perf_counter() - start)

    times: dict[str, list[float]] = {"numpy": [], "pipeline": []}
    dropped = {"numpy": 0, "pipeline": 0}
    alone = []
    for repeat in range(args.repeats):
        for kind in (("numpy", "pipeline") if repeat % 2 == 0 else ("pipeline", "numpy")):
            epochs = fit(kind)
            clean = [seconds for seconds, others in epochs if others <= BUSY]
            times[kind] += clean
            dropped[kind] += len(epochs) - len(clean)
            print(f"repeat {repeat + 1} {kind:8s} " + " ".join(
                f"{seconds:.2f}" + ("" if others <= BUSY else f"(busy {others:.0%})") for seconds, others in epochs),
                flush=True)
        alone.append(pipeline_alone())
    n = len(data.train)
    for kind, seconds in times.items():
        if not seconds:
            print(f"{kind:8s} no epoch ran on a quiet machine")
            continue
        median = statistics.median(seconds)
        print(f"{kind:8s} median {median:.2f} s/epoch  ({n / median:,.0f} img/s)  min {min(seconds):.2f}  "
              f"max {max(seconds):.2f}  over {len(seconds)} epochs ({dropped[kind]} dropped: machine busy)")
    print(f"pipeline alone (no model): median {statistics.median(alone):,.0f} img/s")


class OtherProcesses(threading.Thread):
    """CPU time of every other process, sampled from /proc twice a second (Linux), to spot a busy machine."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.ticks = 0  # other processes' CPU time so far, in clock ticks
        self.seen: dict[str, int] = {}

    def run(self) -> None:
        while True:
            self.sample()
            time.sleep(0.5)

    def sample(self) -> None:
        now = {}
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) != os.getpid():
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:  # gone meanwhile
                    continue
                now[pid] = int(fields[11]) + int(fields[12])  # utime + stime
        self.ticks += sum(t - self.seen.get(pid, 0) for pid, t in now.items() if t >= self.seen.get(pid, 0))
        self.seen = now

    def share(self, ticks_before: int, seconds: float) -> float:
        """The share of all cores other processes used since `ticks` read `ticks_before`."""
        return (self.ticks - ticks_before) / (seconds * os.sysconf("SC_CLK_TCK") * os.cpu_count())


if __name__ == "__main__":
    main()
