"""`cnnctl predict` on what users bring: image files, folders, globs, arrays, and a file that is broken."""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import pytest
from PIL import Image

from tests.conftest import ROOT, cli

SMOKE = ROOT / "configs" / "smoke.yaml"
pytestmark = pytest.mark.slow  # one training per layout


def trained(tmp_path_factory, *overrides: str):
    runs = tmp_path_factory.mktemp("runs")
    result = cli("train", SMOKE, "--runs-dir", runs, "--quiet", "--device", "cpu", "--set", "train.epochs=3",
                 *overrides)
    assert result.exit_code == 0, result.output
    folder = runs / "smoke"
    from cnnctl.config import load_config
    from cnnctl.data.prepare import load_data
    from cnnctl.model.build import internal_input_shape

    config = load_config(folder / "config.yaml")
    data = load_data(config, internal_input_shape(config))
    pixels = np.clip(np.round(data.test.x * 255), 0, 255).astype(np.uint8)  # synthetic images are [0, 1] floats
    return folder, pixels, data.test.y


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return trained(tmp_path_factory)


def write_pngs(folder, pixels, count):
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(pixels[i, ..., 0]).save(folder / f"{i:03d}.png")


def predicted(stdout: str) -> dict[str, str]:
    return {line.split(": ")[0]: line.split(": ")[1].split(" 0.")[0] for line in stdout.splitlines()}


def test_files_folders_and_globs_agree_with_the_models_own_predictions(run, tmp_path):
    folder, pixels, labels = run
    write_pngs(tmp_path / "images", pixels, 40)
    result = cli("predict", folder, tmp_path / "images", "--json", "--top", "2")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [p["input"] for p in found] == [str(tmp_path / "images" / f"{i:03d}.png") for i in range(40)]
    assert all(len(p["top"]) == 2 and p["top"][0]["probability"] >= p["top"][1]["probability"] for p in found)

    from cnnctl.training.evaluate import evaluate_run

    names = json.loads((folder / "evaluation.json").read_text())["classes"]
    accuracy = np.mean([p["top"][0]["class"] == names[y] for p, y in zip(found, labels)])
    assert accuracy == pytest.approx(np.mean(evaluate_run(folder, overrides=["data.limit=40"])
                                             .record["accuracy"]), abs=0.05)  # PNGs round the pixels

    glob = cli("predict", folder, str(tmp_path / "images" / "00*.png"), "--csv")
    assert glob.exit_code == 0, glob.output
    rows = list(csv.reader(io.StringIO(glob.stdout)))
    assert rows[0] == ["input", "rank", "class", "index", "probability"] and len(rows) == 1 + 10 * 3


def test_a_broken_file_is_named_and_the_others_still_predicted(run, tmp_path):
    folder, pixels, _ = run
    write_pngs(tmp_path, pixels, 2)
    (tmp_path / "broken.png").write_bytes(b"\x89PNG this is not really a PNG")
    result = cli("predict", folder, tmp_path / "000.png", tmp_path / "broken.png", tmp_path / "001.png",
                 tmp_path / "missing.png")
    assert result.exit_code == 2
    assert list(predicted(result.stdout)) == [str(tmp_path / "000.png"), str(tmp_path / "001.png")]
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"error: {tmp_path / 'broken.png'}: cannot decode image")
    assert errors[1] == f"error: {tmp_path / 'missing.png'}: no such file or folder, and no file matches it"
    assert errors[2] == "2 of 4 inputs could not be read"


def test_other_sizes_and_colours_are_converted_and_noted(run, tmp_path):
    folder, pixels, _ = run
    Image.fromarray(pixels[0, ..., 0]).convert("RGB").resize((48, 48)).save(tmp_path / "big.png")
    Image.fromarray(pixels[0, ..., 0]).save(tmp_path / "same.png")
    result = cli("predict", folder, tmp_path / "big.png", tmp_path / "same.png", "--json")
    assert result.exit_code == 0, result.output
    big, same = json.loads(result.stdout)
    assert big["note"] == "RGB to grey, resized from 48×48" and "note" not in same
    assert big["top"][0]["class"] == same["top"][0]["class"]


def test_arrays_and_idx_files_give_one_prediction_per_image_as_the_files_do(run, tmp_path):
    folder, pixels, _ = run
    np.save(tmp_path / "batch.npy", pixels[:5, ..., 0])  # (n, height, width): grey images without a channel axis
    np.save(tmp_path / "unit.npy", pixels[:5].astype(np.float32) / 255)  # [0, 1] floats, channel axis kept
    images = pixels[:5, ..., 0]  # an IDX image file, as MNIST's: magic 0x0803, then each dimension, big-endian
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(
        b"\x00\x00\x08\x03" + np.array(images.shape, ">u4").tobytes() + images.tobytes())
    write_pngs(tmp_path / "png", pixels, 5)
    outputs = []
    for given in (tmp_path / "batch.npy", tmp_path / "unit.npy", tmp_path / "t10k-images-idx3-ubyte",
                  tmp_path / "png"):
        result = cli("predict", folder, given, "--json")
        assert result.exit_code == 0, result.output
        outputs.append([p["top"][0]["class"] for p in json.loads(result.stdout)])
    assert outputs[0] == outputs[1] == outputs[2] == outputs[3] and len(outputs[0]) == 5
    np.save(tmp_path / "wrong.npy", pixels[:2, :8])  # 8 rows of 16
    wrong = cli("predict", folder, tmp_path / "wrong.npy")
    assert wrong.exit_code == 2 and "the model takes 16×16×1" in wrong.stderr


def test_a_channels_first_run_takes_its_arrays_channels_first(tmp_path_factory, tmp_path):
    folder, pixels, _ = trained(tmp_path_factory, "--set", "model.data_format=channels_first",
                                "--set", "model.input_shape=[1, 16, 16]")
    np.save(tmp_path / "first.npy", pixels[:4].transpose(0, 3, 1, 2))  # (n, 1, 16, 16), as the config declares
    write_pngs(tmp_path / "png", pixels, 4)
    from_array = cli("predict", folder, tmp_path / "first.npy", "--json")
    from_files = cli("predict", folder, tmp_path / "png", "--json")
    assert from_array.exit_code == 0 and from_files.exit_code == 0, from_array.output + from_files.output
    array, files = json.loads(from_array.stdout), json.loads(from_files.stdout)
    assert [[t["class"] for t in p["top"]] for p in array] == [[t["class"] for t in p["top"]] for p in files]
    assert [p["top"][0]["probability"] for p in array] == pytest.approx([p["top"][0]["probability"] for p in files])


def test_an_exported_file_predicts_what_the_keras_model_does(run, tmp_path):
    folder, pixels, _ = run
    write_pngs(tmp_path, pixels, 12)
    keras_said = cli("predict", folder, tmp_path, "--json")
    assert keras_said.exit_code == 0, keras_said.output
    for fmt, name in (("tflite", "model.tflite"), ("onnx", "model.onnx"), ("saved_model", "model_saved_model")):
        if fmt == "onnx":
            pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (the export extra)")
        exported = cli("export", folder, "--format", fmt)
        assert exported.exit_code == 0, exported.output
        file_said = cli("predict", folder, tmp_path, "--json", "--model", folder / "export" / name)
        assert file_said.exit_code == 0, file_said.output
        assert [[t["class"] for t in p["top"]] for p in json.loads(file_said.stdout)] == \
            [[t["class"] for t in p["top"]] for p in json.loads(keras_said.stdout)], fmt
