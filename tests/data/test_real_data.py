"""One short run on real Fashion-MNIST through the CLI, offline, where the Debian package put it (CI installs it)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnnctl.data import builtin
from tests.conftest import ROOT, cli

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.slow
@pytest.mark.skipif(not all((FASHION / f"{name}.gz").exists() for name in builtin.IDX_FILES),
                    reason=f"Fashion-MNIST not in {FASHION} (apt-get install dataset-fashion-mnist)")
def test_one_epoch_on_fashion_mnist_is_far_above_chance(tmp_path, monkeypatch):
    monkeypatch.delenv(builtin.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))  # found in /usr/share, not in a cache

    def no_download(name):
        raise AssertionError(f"{name} was to be read from {FASHION}, not downloaded")

    monkeypatch.setattr(builtin, "_download", no_download)
    result = cli("train", ROOT / "configs" / "fashion_mnist.yaml", "--runs-dir", tmp_path / "runs", "--quiet",
                 "--set", "data.limit=6000", "--set", "train.epochs=1", "--set", "train.validation=null")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "runs" / "fashion_mnist" / "results.json").read_text())
    assert results["status"] == "completed"
    assert results["test"]["accuracy"] > 0.5  # 10 classes: chance is 0.1
    data = results["data"]
    assert (data["source"], data["train"], data["test"], data["image_shape"]) == ("fashion_mnist", 6000, 6000,
                                                                                  [1, 28, 28])  # as the config writes it
    assert sum(data["class_counts"]["train"]) == 6000 and len(data["class_counts"]["test"]) == 10
