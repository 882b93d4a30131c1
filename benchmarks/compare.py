"""cnnctl against the hand-written Keras script, in one run: alternating, repeated, medians.

Variants (each a fresh process, so every one pays its own start-up and tracing):
  keras           benchmarks/baseline.py: plain `model.fit` on NumPy arrays
  cnnctl-same     `cnnctl train` with the plain script's settings (float32, one step per execution)
  cnnctl-default  `cnnctl train` with its default execution settings, in float32
  cnnctl-mixed    the same in `precision: mixed` (bfloat16 compute on CPU; what `precision: auto`, the
                  default, chooses on a CPU with AMX or AVX512-BF16)

Steady-state epoch time is the median over epochs 2 and later of every repetition; the ratio
is against `keras`. The fastest epoch of each variant is shown too, because plain Keras' NumPy
path is bimodal (some epochs start with a stall of seconds) and its median can land on either mode. Prints a Markdown table for BENCHMARKS.md.

    python benchmarks/compare.py [--epochs 4] [--repeats 3] [--variants keras,cnnctl-same,cnnctl-default]
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs" / "fashion_mnist.yaml"
SAME = ["train.execution={steps_per_execution: 1}", "train.precision=float32"]
VARIANTS = {"keras": None, "cnnctl-same": SAME, "cnnctl-default": ["train.precision=float32"],
            "cnnctl-mixed": ["train.precision=mixed"]}


def run_keras(epochs: int) -> tuple[list[float], float]:
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "baseline.py"), "--epochs", str(epochs)],
                         capture_output=True, text=True, check=True).stdout
    lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    return [r["seconds"] for r in lines if "seconds" in r], lines[-1]["test_accuracy"]


def run_cnnctl(epochs: int, overrides: list[str]) -> tuple[list[float], float]:
    with tempfile.TemporaryDirectory() as runs:
        args = [sys.executable, "-m", "cnnctl", "train", str(CONFIG), "--quiet", "--runs-dir", runs, "--name", "b",
                "--set", f"train.epochs={epochs}", "--set", "train.validation=null"]
        for override in overrides:
            args += ["--set", override]
        subprocess.run(args, capture_output=True, text=True, check=True)
        with open(Path(runs) / "b" / "metrics.csv") as f:
            seconds = [float(row["seconds"]) for row in csv.DictReader(f)]
        results = json.loads((Path(runs) / "b" / "results.json").read_text())
        return seconds, results["test"]["accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", default="keras,cnnctl-same,cnnctl-default")
    args = parser.parse_args()
    names = args.variants.split(",")
    steady: dict[str, list[float]] = {n: [] for n in names}
    accuracy: dict[str, list[float]] = {n: [] for n in names}
    started = time.perf_counter()
    for repeat in range(args.repeats):
        for name in names:
            overrides = VARIANTS[name]
            seconds, acc = run_keras(args.epochs) if overrides is None else run_cnnctl(args.epochs, overrides)
            steady[name] += seconds[1:]
            accuracy[name].append(acc)
            print(f"repeat {repeat + 1} {name}: epochs {', '.join(f'{s:.2f}' for s in seconds)} s, "
                  f"test accuracy {acc:.4f}", file=sys.stderr, flush=True)
    base, base_best = statistics.median(steady[names[0]]), min(steady[names[0]])
    print(f"\n| variant | s/epoch (median, epochs 2–{args.epochs}, {args.repeats} runs) | images/s | "
          f"ratio to {names[0]} | fastest epoch | ratio of fastest | test accuracy after {args.epochs} epochs "
          f"(median) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        median, best = statistics.median(steady[name]), min(steady[name])
        print(f"| {name} | {median:.2f} | {60000 / median:,.0f} | {median / base:.2f} | {best:.2f} | "
              f"{best / base_best:.2f} | {statistics.median(accuracy[name]):.4f} |")
    print(f"\n({time.perf_counter() - started:.0f} s in all)")


if __name__ == "__main__":
    main()
