"""An exported model in its own runtime: a `.tflite` file in LiteRT, a `.onnx` file in ONNX Runtime, a
SavedModel folder in TensorFlow.

`open_exported(path)` picks the runtime by the file's suffix (or, for a folder, its `saved_model.pb`) and
gives a `Runner`: raw pixels in, in the layout the file declares, probabilities out. `export` uses it to
prove each file it writes, `predict` to run one; neither needs the Keras model, nor cnnctl's own code
inside the file. A runtime that is not installed is one line naming the extra that brings it.
"""

from __future__ import annotations

import importlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Callable

import numpy as np

from cnnctl.errors import CnnctlError, Problem

EXTRA = 'pip install "cnnctl[export]"'
BATCH = 64  # images per call into a runtime: bounds memory, and is what ms per image is measured at


@dataclass(frozen=True)
class Runner:
    """One exported model, ready to run: `runner(images)` gives their probabilities."""

    run_batch: Callable[[np.ndarray], np.ndarray]  # one batch of at most BATCH images
    input_shape: tuple[int | None, ...]  # one image, as the file declares it (None: any size)
    runtime: str  # which runtime, and its version: "onnxruntime 1.32.0"
    path: Path

    def __call__(self, images: np.ndarray, batch_size: int = BATCH) -> np.ndarray:
        """Probabilities of `images`, float32 pixels 0-255 in the file's layout, a batch at a time."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        shape = tuple(images.shape[1:])
        if len(shape) != len(self.input_shape) or any(d not in (None, s) for d, s in zip(self.input_shape, shape)):
            raise CnnctlError(Problem(f"the model takes images of shape {_dims(self.input_shape)}, these are "
                                      f"{_dims(shape)}", str(self.path),
                                      hint="see the input contract in export.json"))
        if not len(images):
            raise CnnctlError(Problem("no images to run", str(self.path)))
        return np.concatenate([self.run_batch(images[i:i + batch_size]) for i in range(0, len(images), batch_size)])


def open_exported(path: str | Path) -> Runner:
    """The exported model at `path` in its own runtime, chosen by suffix: .tflite, .onnx, or a SavedModel folder."""
    path = Path(path)
    if path.is_dir() and (path / "saved_model.pb").is_file():
        return _saved_model(path)
    if path.suffix == ".tflite" and path.is_file():
        return _tflite(path)
    if path.suffix == ".onnx" and path.is_file():
        return _onnx(path)
    what = "no such file or folder" if not path.exists() else "not an exported model"
    raise CnnctlError(Problem(what, str(path), hint="pass a .tflite file, a .onnx file or a SavedModel folder "
                                                    "(one holding saved_model.pb)"))


def require(module: str, purpose: str) -> ModuleType:
    """Import an optional extra, or say in one line which one is missing and how to install it."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise CnnctlError(Problem(f"{purpose} needs {module}, which is not installed ({EXTRA})")) from None


def version(module: ModuleType) -> str:
    return f"{module.__name__} {getattr(module, '__version__', '?')}"


def _tflite(path: Path) -> Runner:
    """LiteRT's interpreter (ai-edge-litert), else the one TensorFlow still ships as `tf.lite.Interpreter`.

    TensorFlow 2.20 deprecated `tf.lite.Interpreter` in favour of LiteRT; it stays as the fallback so a
    .tflite file can be checked with the core install alone.
    """
    try:
        litert = importlib.import_module("ai_edge_litert.interpreter")
        interpreter, runtime = litert.Interpreter(model_path=str(path)), _litert_version()
    except ImportError:
        import tensorflow as tf

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its deprecation notice, about the fallback we chose on purpose
            interpreter = tf.lite.Interpreter(model_path=str(path))
        runtime = f"tf.lite.Interpreter (tensorflow {tf.__version__})"
    try:
        interpreter.allocate_tensors()
    except RuntimeError as exc:  # an op it has no kernel for: a Flex (TensorFlow) op, a custom one
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CnnctlError(Problem(f"LiteRT cannot run it: {first}", str(path))) from exc
    (given,), (taken,) = interpreter.get_input_details(), interpreter.get_output_details()
    if given["dtype"] != np.float32:
        raise CnnctlError(Problem(f"its input is {np.dtype(given['dtype']).name}, not float32 pixels", str(path),
                                  hint="export it with cnnctl export, which keeps float input"))
    declared = tuple(int(d) for d in given.get("shape_signature", given["shape"]))

    def run_batch(images: np.ndarray) -> np.ndarray:
        if tuple(interpreter.get_input_details()[0]["shape"]) != images.shape:
            interpreter.resize_tensor_input(given["index"], images.shape)
            interpreter.allocate_tensors()
        interpreter.set_tensor(given["index"], images)
        interpreter.invoke()
        return interpreter.get_tensor(taken["index"]).copy()

    return Runner(run_batch, tuple(None if d < 0 else d for d in declared[1:]), runtime, path)


def _litert_version() -> str:
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return f"ai-edge-litert {dist_version('ai-edge-litert')}"
    except PackageNotFoundError:
        return "ai-edge-litert"


def _onnx(path: Path) -> Runner:
    """ONNX Runtime on the CPU; a file that asks for more than the images is refused, not guessed at."""
    ort = require("onnxruntime", "running a .onnx file")
    try:
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own exception types (InvalidGraph, Fail, ...) share no base
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise CnnctlError(Problem(f"ONNX Runtime cannot load it: {first}", str(path))) from exc
    inputs = session.get_inputs()
    if len(inputs) != 1:
        names = ", ".join(i.name for i in inputs)
        raise CnnctlError(Problem(f"the model asks for {len(inputs)} inputs ({names}), not one batch of images",
                                  str(path), hint="export it again with cnnctl export"))
    name = inputs[0].name
    shape = tuple(d if isinstance(d, int) else None for d in inputs[0].shape[1:])
    return Runner(lambda images: session.run(None, {name: images})[0], shape, version(ort), path)


def _saved_model(path: Path) -> Runner:
    """TensorFlow, through the folder's `serving_default` signature (the one `model.export` writes)."""
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))
    signature = loaded.signatures.get("serving_default")
    if signature is None:
        raise CnnctlError(Problem("the SavedModel has no serving_default signature", str(path)))
    inputs, outputs = signature.structured_input_signature[1], signature.structured_outputs
    if len(inputs) != 1 or len(outputs) != 1:
        raise CnnctlError(Problem(f"the SavedModel takes {len(inputs)} inputs and gives {len(outputs)} outputs, "
                                  "not one batch of images and their probabilities", str(path)))
    (name, spec), (output,) = *inputs.items(), outputs

    def run_batch(images: np.ndarray, keep: Any = loaded) -> np.ndarray:  # `keep`: the variables live as long
        return signature(**{name: tf.constant(images)})[output].numpy()

    return Runner(run_batch, tuple(spec.shape[1:].as_list()), f"tensorflow {tf.__version__}", path)


def _dims(shape: tuple[Any, ...]) -> str:
    return "×".join("?" if d is None else str(d) for d in shape)
