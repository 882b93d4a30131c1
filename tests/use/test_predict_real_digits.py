"""Issue #18's acceptance for predict: PNG files written from held-out real digits are predicted, from the
files alone, at the run's own test accuracy."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, cli


@pytest.mark.slow
def test_png_files_of_held_out_digits_are_predicted_at_the_runs_test_accuracy(real_digits, tmp_path):
    result = cli("train", ROOT / "configs" / "mnist.yaml", "--runs-dir", tmp_path, "--quiet", "--device", "cpu",
                 "--set", "data.source=npz", "--set", f"data.path={real_digits}", "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    run = tmp_path / "mnist"
    tested = json.loads((run / "results.json").read_text())["test"]["accuracy"]

    held_out = np.load(real_digits)
    pictures = tmp_path / "digits"
    pictures.mkdir()
    for i, (image, label) in enumerate(zip(held_out["x_test"], held_out["y_test"])):
        Image.fromarray(image).save(pictures / f"{i:04d}-{label}.png")
    predicted = cli("predict", run, pictures, "--json", "--top", "1")
    assert predicted.exit_code == 0, predicted.stderr
    found = json.loads(predicted.stdout)
    assert len(found) == len(held_out["y_test"]) == 2000
    right = [p["top"][0]["class"] == p["input"].rsplit("-", 1)[1].removesuffix(".png") for p in found]
    assert np.mean(right) == pytest.approx(tested, abs=0.01)
