"""`cnnctl bench` times the config's model on synthetic input: one row per batch size."""

from __future__ import annotations

import json

from tests.conftest import ROOT, cli


def test_bench_rows_per_batch_size():
    result = cli("bench", ROOT / "configs" / "smoke.yaml", "--steps", "3", "--warmup", "1", "--batch-size", "8",
                 "--batch-size", "16", "--inference", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["batch_size"] for r in rows] == [8, 16]
    for row in rows:
        assert row["steps"] == 3 and row["device"] == "CPU" and row["precision"] == "float32"
        assert row["images_per_second"] > 0 and row["inference_images_per_second"] > 0
        assert abs(row["images_per_second"] * row["ms_per_step"] / 1000 - row["batch_size"]) < 1e-6 * row["batch_size"]
        assert row["peak_memory_mb"] > 0


def test_bench_table_for_people():
    result = cli("bench", ROOT / "configs" / "smoke.yaml", "--steps", "2", "--warmup", "1")
    assert result.exit_code == 0, result.output
    assert "smoke: CPU, float32, 2 timed steps" in result.stdout and "images/s" in result.stdout
