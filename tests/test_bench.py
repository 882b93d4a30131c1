"""`cnnctl bench` times the config's model on synthetic input, one row per batch size, as training would run it."""

from __future__ import annotations

import json

import pytest

from cnnctl.bench import BenchRow, whole_executions
from cnnctl.training.precision import choose_precision
from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"


def bench(*args: str) -> list[dict]:
    result = cli("bench", SMOKE, "--device", "cpu", "--json", *args)
    assert result.exit_code == 0, result.output + repr(result.exception)
    return json.loads(result.stdout)


def training_execution(tmp_path, batch_size: int) -> tuple[int, int]:
    """Steps per epoch and steps per execution of a real one-epoch training run at this batch size."""
    result = cli("train", SMOKE, "--runs-dir", tmp_path, "--name", f"b{batch_size}", "--quiet", "--device", "cpu",
                 "--set", f"train.batch_size={batch_size}", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / f"b{batch_size}" / "results.json").read_text())
    return results["steps_per_epoch"], results["execution"]["steps_per_execution"]


@pytest.mark.slow
def test_bench_runs_the_steps_per_execution_training_uses(tmp_path):
    """3 timed steps must not decide it: at batch 8 the epoch has 135 steps (9 per call), at 20, 54 (3 per call)."""
    rows = bench("--steps", "3", "--warmup", "1", "--batch-size", "8", "--batch-size", "20", "--inference")
    assert [r["batch_size"] for r in rows] == [8, 20]
    for row in rows:
        assert (row["steps_per_epoch"], row["steps_per_execution"]) == training_execution(tmp_path, row["batch_size"])
        assert row["steps_per_execution"] > 1  # else the check above would hold by chance
        assert row["steps"] >= 3 and row["steps"] % row["steps_per_execution"] == 0  # whole executions only
        assert row["device"] == "CPU" and row["precision"] == choose_precision("auto", "CPU").policy  # the default
        assert row["images_per_second"] > 0 and row["inference_images_per_second"] > 0
        assert row["images_per_second"] * row["ms_per_step"] / 1000 == pytest.approx(row["batch_size"])


@pytest.mark.slow
def test_each_batch_size_reports_its_own_peak_memory():
    """Large batch first: a process-wide peak (which never goes down) would give the small batch the same or more.

    At 64×64, batch 1024 holds the first convolution's output alone, 1024·62·62·8 floats (120 MiB), for the
    backward pass: the small batch's own peak is lower by at least that.
    """
    rows = bench("--steps", "1", "--warmup", "1", "--batch-size", "1024", "--batch-size", "8",
                 "--set", "model.input_shape=[64, 64, 1]")
    large, small = (r["peak_memory_mb"] for r in rows)
    assert small < large - 1024 * 62 * 62 * 8 * 4 / 2**20, (large, small)


@pytest.mark.slow
def test_bench_table_for_people():
    result = cli("bench", SMOKE, "--steps", "2", "--warmup", "1", "--device", "cpu")
    assert result.exit_code == 0, result.output
    policy = choose_precision("auto", "CPU").policy  # the default: this machine's
    assert f"smoke: CPU, {policy}, 3 timed steps" in result.stdout  # batch 32: 33 steps an epoch, 3 per call
    assert "Steps/exec" in result.stdout and "images/s" in result.stdout


def test_timed_blocks_are_whole_executions():
    assert [whole_executions(steps, 9) for steps in (1, 9, 10, 50)] == [9, 9, 18, 54]
    assert whole_executions(7, 1) == 7


def test_table_shows_the_steps_per_execution_of_each_row():
    from rich.console import Console

    from cnnctl.render import bench_table

    rows = [BenchRow(8, 9, 135, 9, 2.5, 3200.0, None, None, 702.0, "CPU", "float32"),
            BenchRow(32, 4, 34, 2, 6.0, 5333.0, None, None, 705.0, "CPU", "float32")]
    console = Console(width=120, record=True, color_system=None)
    console.print(bench_table("smoke", rows))
    text = console.export_text()
    assert "smoke: CPU, float32, 4–9 timed steps" in text
    lines = [line for line in text.splitlines() if line.startswith("│")]
    assert [[cell.strip() for cell in line.split("│")[1:3]] for line in lines] == [["8", "9"], ["32", "2"]]
