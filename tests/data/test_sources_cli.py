"""`cnnctl train` on each kind of file a user brings: it runs, and results.json reports the data."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import ROOT, cli

TINY = """\
data: {data}
model:
  input_shape: [8, 8, 1]
  layers: [Flatten, {{Dense: {{units: 3, activation: softmax}}}}]
train: {{epochs: 1, batch_size: 8}}
"""


def arrays():
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (30, 8, 8), dtype=np.uint8), "y_train": np.arange(30, dtype=np.uint8) % 3,
            "x_test": rng.integers(0, 256, (12, 8, 8), dtype=np.uint8), "y_test": np.arange(12, dtype=np.uint8) % 3}


def idx(tmp, write_idx, write_image_folder):
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}  # raw and gzipped
    for key, array in arrays().items():
        write_idx(tmp / names[key], array, gz=names[key].endswith(".gz"))
    return f"{{source: idx, path: {tmp}}}"


def npz(tmp, write_idx, write_image_folder):
    np.savez_compressed(tmp / "d.npz", **arrays())
    return f"{{source: npz, path: {tmp / 'd.npz'}, scale: standardize}}"


def folder(tmp, write_idx, write_image_folder):
    rng = np.random.default_rng(0)
    write_image_folder(tmp / "imgs", {c: rng.integers(0, 256, (8, 12, 12, 3), dtype=np.uint8) for c in "abc"})
    return f"{{source: folder, path: {tmp / 'imgs'}, augment: [RandomFlip]}}"


@pytest.mark.parametrize("source", [idx, npz, folder], ids=lambda f: f.__name__)
def test_train_on_files(tmp_path, write_idx, write_image_folder, source):
    config = tmp_path / "net.yaml"
    config.write_text(TINY.format(data=source(tmp_path, write_idx, write_image_folder)))
    result = cli("train", config, "--runs-dir", tmp_path / "runs", "--quiet")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "runs" / "net" / "results.json").read_text())
    assert results["status"] == "completed" and set(results["test"]) == {"accuracy", "loss"}
    data = results["data"]
    assert data["source"] == source.__name__ and data["path"].startswith(str(tmp_path))
    assert data["image_shape"] == [8, 8, 1] and data["classes"] == 3
    assert set(data["class_counts"]) == {"train", "validation", "test"}
    evaluated = cli("evaluate", tmp_path / "runs" / "net", "--json")  # the data read again from the saved config
    assert json.loads(evaluated.stdout)["metrics"] == pytest.approx(results["test"], rel=1e-5)


def test_the_image_folder_config_trains_on_a_folder(tmp_path, write_image_folder):
    rng = np.random.default_rng(1)
    write_image_folder(tmp_path / "pets", {c: rng.integers(0, 256, (10, 40, 50, 3), dtype=np.uint8)
                                           for c in ("cat", "dog")})
    result = cli("train", ROOT / "configs" / "image_folder.yaml", "--runs-dir", tmp_path / "runs", "--quiet",
                 "--set", f"data.path={tmp_path / 'pets'}", "--set", "train.epochs=1")
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / "runs" / "image_folder" / "results.json").read_text())["data"]
    assert data["class_names"] == ["cat", "dog"] and data["image_shape"] == [64, 64, 3]
    assert (data["train"] + data["validation"], data["test"]) == (16, 4)
