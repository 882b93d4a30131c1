"""`export_run`: a run's model as a SavedModel folder, a .tflite file or a .onnx file, proven before it is kept.

Each format is written by Keras' own exporter (`model.export`: `tf_saved_model`; `litert`, TensorFlow's
TFLite converter; `onnx`, tf2onnx) from `serving_model`, so the file takes raw 0-255 pixels in the
config's layout with the run's scaling inside. Then the file is reloaded in its own runtime
(`runtimes.open_exported`), the run's test images go through it and through the Keras model, and only a
file whose predicted classes agree on at least `min_agreement` of them is moved into
`runs/<name>/export/`; a file that disagrees is deleted and the command fails naming the numbers. A
converter that gives wrong answers without an error cannot ship that way.

`export/export.json` holds one record per exported file, keyed by its name: the input contract, the
check's numbers, the file's size and its speed.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from cnnctl.errors import CnnctlError, Problem, plural
from cnnctl.runfolder import files, read_results
from cnnctl.use.runtimes import BATCH, Runner, open_exported, require, version

FLOAT_MIN_AGREEMENT = 0.999  # the issue's bar: a float export reproduces the model, up to rounding
INT8_MIN_AGREEMENT = 0.98  # int8 moves probabilities by ~0.02: images near a decision boundary may flip
REPRESENTATIVE = 200  # training images the int8 converter calibrates its ranges on


@dataclass(frozen=True)
class Format:
    """One `--format`: what `model.export` calls it, how the exported file is named, what it needs."""

    keras_format: str
    suffix: str
    extras: tuple[str, ...]  # modules beyond TensorFlow that writing and checking it need


FORMATS = {
    "saved_model": Format("tf_saved_model", "_saved_model", ()),
    "tflite": Format("litert", ".tflite", ()),  # checked in LiteRT, else tf.lite.Interpreter
    "onnx": Format("onnx", ".onnx", ("tf2onnx", "onnxruntime")),
}
QUANTIZE = ("int8",)


class ExportDisagrees(CnnctlError):
    """The exported file does not give the Keras model's answers: exit code 4, nothing written."""

    exit_code = 4


@dataclass(frozen=True)
class Exported:
    """What `export_run` wrote: the file (or folder) and its record in export.json."""

    path: Path
    record: dict[str, Any]


def export_run(folder: str | Path, fmt: str, model_file: str = files.MODEL, quantize: str | None = None,
               min_agreement: float | None = None) -> Exported:
    """Export the run's `model_file` as `fmt`, prove it on the run's test split, keep it if it agrees.

    `quantize="int8"` (tflite only) calibrates on the run's training images and keeps float32 input and
    output, so the input contract is the same as the float file's.
    """
    from cnnctl.use.serving import serving_model

    spec = _format(fmt, quantize)
    for module in spec.extras:
        require(module, f"--format {fmt}")
    folder = Path(folder)
    status = read_results(folder).status
    if not (folder / model_file).is_file():
        raise CnnctlError(Problem(f"no {model_file} here (the run is {status})", str(folder),
                                  hint="export a completed run, or --best for the best model so far"))
    served = serving_model(folder, model_file)
    images = _split_images(served)
    threshold = min_agreement if min_agreement is not None else (
        INT8_MIN_AGREEMENT if quantize else FLOAT_MIN_AGREEMENT)
    name = f"{Path(model_file).stem}{'.' + quantize if quantize else ''}{spec.suffix}"
    destination = folder / files.EXPORT / name
    destination.parent.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=destination.parent, prefix=f".{name}.") as scratch:
        written = Path(scratch) / name
        _write(served.model, spec, written, served.input_shape, images.calibration if quantize else None)
        check = _check(served, _reload(written, fmt, folder), images)
        if check["agreement"] < threshold:
            raise _disagrees(folder, name, check, threshold)
        _replace(written, destination)
    record = _record(served, model_file, fmt, quantize, destination, check, threshold)
    _add_record(folder / files.EXPORT / files.EXPORT_RECORD, name, record)
    return Exported(destination, record)


def _format(fmt: str, quantize: str | None) -> Format:
    if fmt not in FORMATS:
        raise CnnctlError(Problem(f"unknown format {fmt!r}", hint=f"one of {', '.join(FORMATS)}"))
    if quantize is not None and (quantize not in QUANTIZE or fmt != "tflite"):
        raise CnnctlError(Problem(f"--quantize {quantize} is not offered for --format {fmt}",
                                  hint="--quantize int8 is for --format tflite"))
    return FORMATS[fmt]


@dataclass(frozen=True)
class Images:
    """The run's test split as the exported model takes it, and training images to calibrate int8 on."""

    test: np.ndarray  # float32, 0-255, in the config's layout
    labels: np.ndarray
    calibration: np.ndarray


def _split_images(served: Any) -> Images:
    """Raw pixels from the run's own data: stored uint8 (or [0, 1] floats) to 0-255, in the config's layout."""
    from cnnctl.data.prepare import load_data
    from cnnctl.model.build import internal_input_shape
    from cnnctl.training.evaluate import pixels

    data = load_data(served.config, internal_input_shape(served.config))
    first = served.config.model.data_format == "channels_first"

    def raw(images: np.ndarray) -> np.ndarray:
        x = pixels(images, list(range(len(images))))
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2)) if first else x

    pick = np.random.default_rng(served.config.train.seed).permutation(len(data.train.x))[:REPRESENTATIVE]
    return Images(raw(data.test.x), np.asarray(data.test.y), raw(data.train.x[np.sort(pick)]))


def _write(model: Any, spec: Format, path: Path, input_shape: tuple[int, ...],
           calibration: np.ndarray | None) -> None:
    """`model.export`, with the input named and its batch size left open.

    The explicit signature is needed, not just tidy: Keras' ONNX exporter refuses a functional model that
    has never been called ("The model provided has never called."), which a freshly wrapped one is not.
    """
    from cnnctl.keras_catalog import keras

    signature = [keras().InputSpec(shape=(None, *input_shape), dtype="float32", name="pixels")]
    options: dict[str, Any] = {}
    if calibration is not None:
        import tensorflow as tf

        def representative() -> Iterator[list[np.ndarray]]:
            for image in calibration:
                yield [image[None]]

        options = {"optimizations": [tf.lite.Optimize.DEFAULT], "representative_dataset": representative}
    if spec.keras_format == "onnx":
        from cnnctl.use.tf2onnx_fixes import mend_tf2onnx

        mend_tf2onnx()
    try:
        with _quiet_converters():
            model.export(str(path), format=spec.keras_format, input_signature=signature, verbose=False,
                         **options)
    except Exception as exc:  # the converter's own failure: an op it cannot convert, a graph it cannot read
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CnnctlError(Problem(f"Keras' {spec.keras_format} exporter failed: {first}",
                                  hint="--debug shows its traceback; another --format may work")) from exc


@contextmanager
def _quiet_converters() -> Iterator[None]:
    """tf2onnx logs every rewrite at INFO, and Keras' numpy-2 patch of it warns about `np.object`: a
    successful export prints nothing of theirs (`--debug` keeps them)."""
    if os.environ.get("CNNCTL_DEBUG"):
        yield
        return
    logger = logging.getLogger("tf2onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _reload(path: Path, fmt: str, folder: Path) -> Runner:
    """The written file in its runtime; one the runtime cannot load is the converter's failure, said so."""
    try:
        return open_exported(path)
    except CnnctlError as exc:
        raise CnnctlError(Problem(f"--format {fmt}: the exported file does not load in its own runtime: "
                                  f"{exc.problems[0].message}", str(folder),
                                  hint="nothing was written; another --format may work")) from exc


def _check(served: Any, runner: Runner, images: Images) -> dict[str, Any]:
    """The exported file against the Keras model on the same raw test images: agreement, difference, accuracy."""
    from cnnctl.training.per_class import predicted_classes

    def keras_model(x: np.ndarray) -> np.ndarray:
        return np.concatenate([served.model.predict_on_batch(x[i:i + BATCH]) for i in range(0, len(x), BATCH)])

    expected, keras_ms = _timed(keras_model, images.test)
    got, export_ms = _timed(runner, images.test)
    if got.shape != expected.shape:
        raise CnnctlError(Problem(f"the exported file gives outputs of shape {got.shape[1:]}, the model "
                                  f"{expected.shape[1:]}", str(runner.path)))
    mine, theirs = predicted_classes(got), predicted_classes(expected)
    return {
        "runtime": runner.runtime,
        "images": len(images.test),
        "agreement": round(float(np.mean(mine == theirs)), 6),
        "disagreements": int(np.sum(mine != theirs)),
        "max_abs_diff": float(np.max(np.abs(got - expected))),
        "test_accuracy": round(float(np.mean(mine == images.labels)), 6),
        "keras_test_accuracy": round(float(np.mean(theirs == images.labels)), 6),
        "ms_per_image": round(export_ms, 4),
        "keras_ms_per_image": round(keras_ms, 4),
    }


def _timed(predict: Any, images: np.ndarray) -> tuple[np.ndarray, float]:
    """Outputs for all images and milliseconds per image, in batches of BATCH, timed on a second pass: the
    first builds graphs and allocates buffers for each batch size it meets (the last batch is smaller)."""
    predict(images)
    start = time.perf_counter()
    out = np.asarray(predict(images))
    return out, (time.perf_counter() - start) * 1000 / len(images)


def _disagrees(folder: Path, name: str, check: dict[str, Any], threshold: float) -> ExportDisagrees:
    return ExportDisagrees(Problem(
        f"{name} disagrees with the Keras model on {check['disagreements']} of "
        f"{plural(check['images'], 'test image')} (agreement {check['agreement']:.4f} < {threshold}; largest "
        f"probability difference {check['max_abs_diff']:.3g}; {check['runtime']}): not written",
        str(folder), hint="--min-agreement lowers the bar, if you accept that"))


def _replace(written: Path, destination: Path) -> None:
    """Move the checked file or folder into place; an older export of the same name goes only then."""
    if destination.is_dir():
        shutil.rmtree(destination)
    elif destination.exists():
        destination.unlink()
    os.replace(written, destination)


def _record(served: Any, model_file: str, fmt: str, quantize: str | None, path: Path, check: dict[str, Any],
            threshold: float) -> dict[str, Any]:
    """export.json's entry for one file: where it came from, what it takes and gives, and its proof."""
    import tensorflow as tf

    from cnnctl.keras_catalog import keras

    converters = {"onnx": ("tf2onnx",)}.get(fmt, ())
    return {
        "format": fmt,
        "quantize": quantize,
        "source": model_file,
        "exported": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "bytes": _size(path),
        "contract": served.contract(),
        "check": {**check, "min_agreement": threshold},
        "versions": {"tensorflow": tf.__version__, "keras": keras().__version__,
                     **{m: version(require(m, fmt)).split()[-1] for m in converters}},
    }


def _size(path: Path) -> int:
    """Bytes of a file, or of everything in a folder (a SavedModel)."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size


def _add_record(path: Path, name: str, record: dict[str, Any]) -> None:
    """Add or replace one file's entry in export.json; a damaged export.json is started again."""
    from cnnctl.runfolder.atomic import write_atomic

    try:
        records = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        records = {}
    if not isinstance(records, dict):
        records = {}
    write_atomic(path, json.dumps({**records, name: record}, indent=2) + "\n")
