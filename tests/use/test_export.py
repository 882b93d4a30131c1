"""`cnnctl export`: every format end to end on a small run, each file checked here again, independently.

The check in the tests does not use cnnctl's serving model or runtimes: it reloads each file with its
runtime's own API, feeds it raw 0-255 pixels in the config's layout, and compares its classes with the
trained `model.keras` fed pixels prepared by hand as training prepared them (scaled, standardized with
results.json's statistics, channels-last). So a wrong scaling inside the file, a lost transpose, or a
converter's wrong answer fails here even if the export's own self-check were wrong too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import ROOT, cli

FIELDS = {"agreement", "disagreements", "max_abs_diff", "test_accuracy", "ms_per_image", "images", "runtime"}
FILES = {"saved_model": "model_saved_model", "tflite": "model.tflite", "onnx": "model.onnx"}


def train(root: Path, name: str, *overrides: str) -> Path:
    sets = [a for o in ("train.epochs=2", *overrides) for a in ("--set", o)]
    result = cli("train", ROOT / "configs" / "smoke.yaml", "--runs-dir", root, "--name", name, "--quiet",
                 "--device", "cpu", *sets)
    assert result.exit_code == 0, result.output
    return root / name


@pytest.fixture(scope="module")
def standardized(tmp_path_factory) -> Path:
    """Channels-last, standardized: the serving model's per-channel Rescaling is in every file."""
    return train(tmp_path_factory.mktemp("runs"), "last", "data.scale=standardize")


@pytest.fixture(scope="module")
def channels_first(tmp_path_factory) -> Path:
    """Channels-first, with a gelu: TensorFlow computes it with Erfc, which tf2onnx 1.17 cannot convert alone."""
    return train(tmp_path_factory.mktemp("runs"), "first", "model.data_format=channels_first",
                 "model.input_shape=[1,16,16]", "model.layers.0.Conv2D.activation=gelu")


def raw_test_images(run: Path) -> tuple[np.ndarray, np.ndarray]:
    """The run's test split as a camera gives it: 0-255 float32, in the config's layout; and the labels."""
    from cnnctl.config import load_config
    from cnnctl.data.prepare import load_data
    from cnnctl.model.build import internal_input_shape

    config = load_config(run / "config.yaml")
    test = load_data(config, internal_input_shape(config)).test
    x = test.x.astype(np.float32) * (255.0 if test.x.dtype.kind == "f" and test.x.max() <= 1 else 1.0)
    return (x.transpose(0, 3, 1, 2) if config.model.data_format == "channels_first" else x), test.y


def keras_classes(run: Path, raw: np.ndarray) -> np.ndarray:
    """The trained model's classes, its input prepared by hand from raw pixels as training prepared it."""
    import keras

    from cnnctl.config import load_config

    results = json.loads((run / "results.json").read_text())["data"]
    first = load_config(run / "config.yaml").model.data_format == "channels_first"
    x = (raw.transpose(0, 2, 3, 1) if first else raw) / 255.0
    if results.get("mean"):
        x = (x - np.asarray(results["mean"])) / np.asarray(results["std"])
    model = keras.saving.load_model(run / "model.keras")
    return model.predict(x.astype(np.float32), verbose=0).argmax(axis=1)


def run_in_own_runtime(path: Path, raw: np.ndarray) -> np.ndarray:
    """Probabilities from the file, through its runtime's own API."""
    if path.suffix == ".onnx":
        ort = pytest.importorskip("onnxruntime")
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        assert len(session.get_inputs()) == 1, [i.name for i in session.get_inputs()]  # only the pixels
        return session.run(None, {session.get_inputs()[0].name: raw})[0]
    if path.suffix == ".tflite":
        interpreter = tflite_interpreter(path)
        given = interpreter.get_input_details()[0]
        interpreter.resize_tensor_input(given["index"], raw.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], raw)
        interpreter.invoke()
        return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    import tensorflow as tf

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (output,) = serve(pixels=tf.constant(raw)).values()
    return output.numpy()


def tflite_interpreter(path: Path):
    """LiteRT's interpreter, else the one TensorFlow still ships."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        import tensorflow as tf

        Interpreter = tf.lite.Interpreter
    return Interpreter(model_path=str(path))


def export(run: Path, fmt: str, *options: str):
    if fmt == "onnx":
        pytest.importorskip("tf2onnx", reason="the export extra is not installed")
        pytest.importorskip("onnxruntime", reason="the export extra is not installed")
    return cli("export", run, "--format", fmt, *options)


def records(run: Path) -> dict:
    return json.loads((run / "export" / "export.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["saved_model", "tflite", "onnx"])
def test_every_format_agrees_with_the_keras_model_on_raw_pixels(standardized: Path, fmt: str):
    result = export(standardized, fmt)
    assert result.exit_code == 0, result.output
    path = standardized / "export" / FILES[fmt]
    assert path.exists() and f"wrote {path}" in result.output
    record = records(standardized)[FILES[fmt]]
    assert FIELDS <= set(record["check"]) and record["bytes"] > 0 and record["format"] == fmt
    assert record["check"]["agreement"] >= 0.999 and record["check"]["images"] == 300
    assert record["check"]["max_abs_diff"] < 1e-4
    assert record["contract"]["input"]["range"] == [0, 255] and record["contract"]["input"]["shape"][1:] == [16, 16, 1]
    assert any("standardize" in step for step in record["contract"]["inside"])

    raw, labels = raw_test_images(standardized)
    mine = run_in_own_runtime(path, raw).argmax(axis=1)
    assert np.mean(mine == keras_classes(standardized, raw)) >= 0.999
    assert np.mean(mine == labels) == pytest.approx(record["check"]["test_accuracy"])


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["tflite", "onnx"])
def test_channels_first_exports_take_channels_height_width(channels_first: Path, fmt: str):
    result = export(channels_first, fmt)
    assert result.exit_code == 0, result.output
    path = channels_first / "export" / FILES[fmt]
    assert records(channels_first)[FILES[fmt]]["contract"]["input"]["layout"] == "channels, height, width"
    raw, _ = raw_test_images(channels_first)
    assert raw.shape[1:] == (1, 16, 16)
    mine = run_in_own_runtime(path, raw).argmax(axis=1)
    assert np.mean(mine == keras_classes(channels_first, raw)) >= 0.999


@pytest.mark.slow
def test_int8_tflite_is_quantized_keeps_float_pixels_in_and_records_its_agreement(standardized: Path):
    result = export(standardized, "tflite", "--quantize", "int8", "--min-agreement", "0.9", "--json")
    assert result.exit_code == 0, result.output
    record = json.loads(result.output)
    path = standardized / "export" / "model.int8.tflite"
    assert record["quantize"] == "int8" and records(standardized)["model.int8.tflite"] == record
    interpreter = tflite_interpreter(path)
    assert interpreter.get_input_details()[0]["dtype"] == np.float32  # the same contract as the float file
    assert any(t["dtype"] == np.int8 for t in interpreter.get_tensor_details())  # but int8 inside
    raw, _ = raw_test_images(standardized)
    agreement = np.mean(run_in_own_runtime(path, raw).argmax(axis=1) == keras_classes(standardized, raw))
    assert agreement == pytest.approx(record["check"]["agreement"], abs=1e-6) and agreement >= 0.9


@pytest.mark.slow
def test_a_file_that_disagrees_is_not_kept_and_the_command_names_the_numbers(standardized: Path, monkeypatch):
    """A converter that gives other answers without an error: here, the runtime's classes shifted by one."""
    import cnnctl.use.export as export_module
    from cnnctl.use.runtimes import Runner, open_exported

    def shifted(path):
        runner = open_exported(path)
        return Runner(lambda x: np.roll(runner.run_batch(x), 1, axis=1), runner.input_shape, runner.runtime, path)

    monkeypatch.setattr(export_module, "open_exported", shifted)
    result = cli("export", standardized, "--format", "tflite", "--best")
    assert result.exit_code == 4, result.output
    assert "best.tflite disagrees with the Keras model on" in result.stderr and "< 0.999" in result.stderr
    assert not (standardized / "export" / "best.tflite").exists()
    record_file = standardized / "export" / "export.json"
    assert not record_file.exists() or "best.tflite" not in records(standardized)
    assert [p.name for p in (standardized / "export").iterdir() if p.name.startswith(".")] == []


@pytest.mark.slow
def test_a_runner_refuses_images_in_the_wrong_layout(channels_first: Path):
    from cnnctl.errors import CnnctlError
    from cnnctl.use.runtimes import open_exported

    assert export(channels_first, "tflite").exit_code == 0
    runner = open_exported(channels_first / "export" / "model.tflite")
    assert runner(np.zeros((2, 1, 16, 16), np.float32)).shape == (2, 4)
    with pytest.raises(CnnctlError, match="images of shape 1×16×16, these are 16×16×1"):
        runner(np.zeros((2, 16, 16, 1), np.float32))


def test_a_missing_extra_is_one_line_naming_it(monkeypatch, tmp_path):
    pytest.importorskip("tf2onnx", reason="tf2onnx, checked before onnxruntime, is not installed either")
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # as if not installed
    result = cli("export", tmp_path, "--format", "onnx")
    assert result.exit_code == 2
    assert result.stderr == 'error: --format onnx needs onnxruntime, which is not installed ' \
                            '(pip install "cnnctl[export]")\n'


def test_quantize_is_for_tflite_only(tmp_path):
    result = cli("export", tmp_path, "--format", "saved_model", "--quantize", "int8")
    assert result.exit_code == 2 and "--quantize int8 is for --format tflite" in result.stderr


def test_open_exported_refuses_what_it_cannot_run(tmp_path):
    from cnnctl.errors import CnnctlError
    from cnnctl.use.runtimes import open_exported

    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CnnctlError, match="not an exported model"):
        open_exported(tmp_path / "notes.txt")
    with pytest.raises(CnnctlError, match="no such file"):
        open_exported(tmp_path / "model.onnx")


@pytest.mark.slow
def test_a_mixed_precision_run_exports_in_float32(tmp_path):
    """bfloat16 compute on the CPU: ONNX Runtime refuses a bfloat16 Conv, LiteRT has no kernel for one."""
    run = train(tmp_path, "mixed", "train.precision=mixed")
    for fmt in ("tflite", "onnx"):
        result = export(run, fmt)
        assert result.exit_code == 0, result.output
        assert records(run)[FILES[fmt]]["check"]["agreement"] >= 0.999
    raw, _ = raw_test_images(run)
    mine = run_in_own_runtime(run / "export" / "model.onnx", raw).argmax(axis=1)
    assert np.mean(mine == keras_classes(run, raw)) >= 0.98  # the trained model computes in bfloat16
