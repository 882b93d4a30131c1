"""Issue #18's acceptance on real digits: PNG files written from held-out digits are predicted, from the files
alone, at the run's own test accuracy; every export format agrees with the Keras model on them."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, cli


pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lecture_run(real_digits, tmp_path_factory):
    """The lecture's network, 3 epochs on the 8,000 digits, and PNG files of the 2,000 held out."""
    runs = tmp_path_factory.mktemp("runs")
    result = cli("train", ROOT / "configs" / "mnist.yaml", "--runs-dir", runs, "--quiet", "--device", "cpu",
                 "--set", "data.source=npz", "--set", f"data.path={real_digits}", "--set", "train.epochs=3")
    assert result.exit_code == 0, result.output
    held_out = np.load(real_digits)
    pictures = runs / "digits"
    pictures.mkdir()
    for i, (image, label) in enumerate(zip(held_out["x_test"], held_out["y_test"])):
        Image.fromarray(image).save(pictures / f"{i:04d}-{label}.png")
    return runs / "mnist", pictures


def test_png_files_of_held_out_digits_are_predicted_at_the_runs_test_accuracy(lecture_run, real_digits):
    run, pictures = lecture_run
    held_out = np.load(real_digits)
    tested = json.loads((run / "results.json").read_text())["test"]["accuracy"]
    predicted = cli("predict", run, pictures, "--json", "--top", "1")
    assert predicted.exit_code == 0, predicted.stderr
    found = json.loads(predicted.stdout)
    assert len(found) == len(held_out["y_test"]) == 2000
    right = [p["top"][0]["class"] == p["input"].rsplit("-", 1)[1].removesuffix(".png") for p in found]
    assert np.mean(right) == pytest.approx(tested, abs=0.01)


@pytest.mark.parametrize("fmt, name", [("saved_model", "model_saved_model"), ("tflite", "model.tflite"),
                                       ("onnx", "model.onnx")])
def test_every_export_agrees_with_the_keras_model_on_the_held_out_digits(lecture_run, fmt, name):
    """Raw 0-255 pixels of the channels-first lecture network, each file in its own runtime."""
    if fmt == "onnx":
        pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the export extra)")
    run, pictures = lecture_run
    exported = cli("export", run, "--format", fmt, "--json")
    assert exported.exit_code == 0, exported.output
    assert json.loads(exported.stdout)["check"]["agreement"] >= 0.999
    keras_said = json.loads(cli("predict", run, pictures, "--json", "--top", "1").stdout)
    file_said = cli("predict", run, pictures, "--json", "--top", "1", "--model", run / "export" / name)
    assert file_said.exit_code == 0, file_said.output
    same = [a["top"][0]["class"] == b["top"][0]["class"] for a, b in zip(keras_said, json.loads(file_said.stdout))]
    assert len(same) == 2000 and np.mean(same) >= 0.999
