"""Does a streamed image folder keep memory flat, keep up with the model, and start in seconds? (issue #21)

Generates two folders of 64×64×3 PNGs (5,000 and 50,000 by default; written
once under ROOT and reused, see make_folder.py) and trains one epoch of a
small net on each with `cnnctl train`, each in its own process so its
results.json reports its own peak RSS and time to the first step:

- `none` on each folder: images streamed from the files (`data.cache: none`);
- `memory` on the largest: every image decoded before the first step, the
  pipeline then only gathers uint8 arrays, so its images/s is the model's
  own consumption rate on this machine over the same images.

    python benchmarks/streaming.py [--root /work/bench-data] [--counts 5000 50000] [--epochs 1]

Prints one row per run (peak RSS, images/s, seconds to the first step, wall
seconds, load average before and after), the three acceptance figures, and
what the streamed pipeline delivers alone (no model): on a machine whose
cores the decoding shares with the model, that says whether the pipeline
could be the bottleneck, and the cores each run kept busy while training:
a model that waits for its input leaves them idle. Each run's memory over time is left in its run
folder (`rss_samples.csv`).
The machine's load is printed because these runs share the CPU with whatever
else runs: record it with the figures.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_folder import make_folder  # noqa: E402  (a sibling script)

CONFIG = """\
name: streaming
data:
  source: folder
  path: {path}
model:
  input_shape: [64, 64, 3]
  layers:
    - Conv2D: {{filters: 16, kernel_size: 3, strides: 2, activation: relu}}
    - Conv2D: {{filters: 32, kernel_size: 3, activation: relu}}
    - MaxPooling2D
    - Conv2D: {{filters: 64, kernel_size: 3, activation: relu}}
    - GlobalAveragePooling2D
    - Dense: {{units: 10, activation: softmax}}
train:
  optimizer: adam
  batch_size: 64
  epochs: {epochs}
  validation: null
  seed: 0
"""


def train(root: Path, count: int, cache: str, epochs: int) -> dict:
    """One `cnnctl train` in a fresh process; its results.json figures, with the load around it."""
    folder = make_folder(root / f"png{count // 1000}k", count)
    config = root / "streaming.yaml"
    config.write_text(CONFIG.format(path=folder, epochs=epochs))
    name = f"{cache}-{count}-{len(list((root / 'runs').glob(f'{cache}-{count}-*')))}"
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "cnnctl", "train", str(config), "--runs-dir",
                              str(root / "runs"), "--name", name, "--set", f"data.cache={cache}", "--device", "cpu",
                              "--quiet"])
    samples = []  # (seconds since start, resident MiB, CPU seconds), to see when memory and CPU are taken
    while child.poll() is None:
        samples.append((time.perf_counter() - start, _resident_mb(child.pid), _cpu_seconds(child.pid)))
        time.sleep(0.5)
    if child.returncode:
        raise SystemExit(f"cnnctl train exited with {child.returncode}")
    wall = time.perf_counter() - start
    (root / "runs" / name / "rss_samples.csv").write_text(
        "seconds,rss_mb,cpu_seconds\n" + "".join(f"{t:.1f},{m:.0f},{c:.2f}\n" for t, m, c in samples if m))
    results = json.loads((root / "runs" / name / "results.json").read_text())
    # the cores the process kept busy while it trained: from its first step to the end of its epochs
    with (root / "runs" / name / "metrics.csv").open() as metrics:
        end = results["seconds_to_first_step"] + sum(float(row["seconds"]) for row in csv.DictReader(metrics))
    training = [(t, c) for t, m, c in samples if m and results["seconds_to_first_step"] <= t <= end]
    busy = ((training[-1][1] - training[0][1]) / (training[-1][0] - training[0][0])
            if len(training) > 2 and training[-1][0] > training[0][0] else None)
    return {"images": count, "cache": cache, "train": results["data"]["train"],
            "peak_rss_mb": results["peak_rss_mb"], "images_per_second": results["images_per_second"],
            "seconds_to_first_step": results["seconds_to_first_step"], "wall_seconds": round(wall, 1),
            "cores_busy_training": None if busy is None else round(busy, 2),
            "load": f"{load_before:.1f} → {os.getloadavg()[0]:.1f}"}


def pipeline_alone(root: Path, count: int, batches: int = 300) -> float:
    """Images/s the streamed training pipeline delivers with no model taking them (decode, batch, scale)."""
    from cnnctl.config import load_config
    from cnnctl.data.pipeline import label_encoder, train_dataset
    from cnnctl.data.prepare import load_data

    config = load_config(root / "streaming.yaml", [f"data.path={root / f'png{count // 1000}k'}", "data.cache=none"])
    data = load_data(config, (64, 64, 3))
    dataset, _ = train_dataset(data.train, 64, 0, 0, 1, data.prepare, label_encoder(config.loss.name, 10))
    start = time.perf_counter()
    for _ in dataset.take(batches):
        pass
    return batches * 64 / (time.perf_counter() - start)


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of the process and its threads so far (/proc/PID/stat), in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime
    except (OSError, IndexError, ValueError):
        return 0.0


def _resident_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="/work/bench-data", type=Path)
    parser.add_argument("--counts", nargs="+", type=int, default=[5000, 50000])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2, help="streamed and in-memory runs on the largest folder")
    args = parser.parse_args()
    shutil.rmtree(args.root / "runs", ignore_errors=True)  # the last benchmark's runs
    (args.root / "runs").mkdir(parents=True)
    largest = max(args.counts)
    rows = [train(args.root, count, "none", args.epochs) for count in args.counts if count != largest]
    pairs = []  # streamed and in memory on the largest folder, alternated: the machine's load drifts
    for repeat in range(args.repeats):
        kinds = ("none", "memory") if repeat % 2 == 0 else ("memory", "none")
        pairs += [train(args.root, largest, kind, args.epochs) for kind in kinds]
    rows += pairs
    alone = pipeline_alone(args.root, largest)
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + " --- |" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{row[k]:,}" if isinstance(row[k], int) else str(row[k]) for k in keys) + " |")
    small = rows[0]
    large, memory = ({k: statistics.median(r[k] for r in pairs if r["cache"] == kind)
                      for k in ("images", "peak_rss_mb", "images_per_second", "seconds_to_first_step")}
                     for kind in ("none", "memory"))
    print(f"medians over {args.repeats} alternated runs of each on {largest:,} images")
    print(f"peak RSS, {large['images']:,.0f} vs {small['images']:,} streamed: "
          f"{large['peak_rss_mb'] / small['peak_rss_mb'] - 1:+.1%} (acceptance: within ±20%)")
    print(f"images/s streamed {large['images_per_second']:,.1f} vs the model's own (from memory) "
          f"{memory['images_per_second']:,.1f}: {large['images_per_second'] / memory['images_per_second']:.2f}×")
    print(f"the streamed pipeline alone, no model: {alone:,.0f} images/s "
          f"({alone / memory['images_per_second']:.1f}× the model's rate)")
    # A model waiting for its input leaves cores idle. Equal cores busy in both, streamed training is slower
    # by the CPU time decoding takes per image, not by waiting: the CPU per image tells them apart.
    busy = {kind: statistics.median(r["cores_busy_training"] for r in pairs if r["cache"] == kind)
            for kind in ("none", "memory")}
    cpu = {kind: busy[kind] / rate["images_per_second"] * 1e6 for kind, rate in (("none", large), ("memory", memory))}
    print(f"cores busy while training: streamed {busy['none']:.2f}, from memory {busy['memory']:.2f}; CPU per image: "
          f"streamed {cpu['none']:,.0f} µs, from memory {cpu['memory']:,.0f} µs, so reading and decoding cost "
          f"{cpu['none'] - cpu['memory']:,.0f} µs an image on the cores the model trains on")
    print(f"seconds to the first step on {large['images']:,.0f} images: streamed "
          f"{large['seconds_to_first_step']:.1f}, decoded into memory first {memory['seconds_to_first_step']:.1f}")


if __name__ == "__main__":
    main()
