"""A run's model as it should leave the run folder: raw pixels in, class probabilities out.

Training feeds the model pixels scaled to [0, 1] and, with `scale:
standardize`, standardized per channel with the training images' mean and
standard deviation, and always channels-last. A model that leaves the run
folder should not ask its user to repeat any of that: `serving_model` wraps
the trained model with Keras' own layers for each step (a `Permute` for a
channels-first config, then one `Rescaling`: by 1/255, or, with the run's
recorded statistics, the same per-channel multiply-add training does), all
in float32, so it takes images as a camera or an image file gives them,
0-255, in the config's own layout. `contract` writes that down for the
export's metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cnnctl.config import Config, load_config
from cnnctl.keras_catalog import keras
from cnnctl.runfolder import Results, files, read_results

# Every layer of the served model computes in float32, named on each layer: a `mixed` run in the same
# process (tests, notebooks) leaves Keras' global dtype policy at mixed_bfloat16.
FLOAT32 = "float32"


@dataclass(frozen=True)
class Served:
    """The wrapped model, and what it expects and gives."""

    model: Any  # keras.Model: raw pixels in the config's layout -> probabilities
    config: Config
    results: Results

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One image as the served model takes it, in the config's order (`[1, 28, 28]` channels-first)."""
        return tuple(self.config.model.input_shape)

    @property
    def class_names(self) -> list[str]:
        return self.results.class_names

    def contract(self) -> dict[str, Any]:
        """The input contract, for an export's metadata and the README."""
        first = self.config.model.data_format == "channels_first"
        stats = self.results.standardization
        return {
            "input": {"shape": ["batch", *self.input_shape], "dtype": "float32", "range": [0, 255],
                      "layout": "channels, height, width" if first else "height, width, channels",
                      "channels": "grey" if self.input_shape[0 if first else -1] == 1 else "RGB or RGBA"},
            "inside": ["transpose to channels-last"] * first + ["divide by 255"] + (
                [f"standardize per channel: mean {stats[0]}, std {stats[1]} (of [0, 1] pixels)"] if stats else []),
            "output": {"shape": ["batch", len(self.class_names)], "meaning": "class probabilities",
                       "classes": self.class_names},
        }


def serving_model(folder: str | Path, model_file: str = files.MODEL) -> Served:
    """The run's `model_file` (loaded in safe mode) behind its own preprocessing."""
    from cnnctl.training.evaluate import load_saved_model

    folder = Path(folder)
    results = read_results(folder)
    config = load_config(folder / files.CONFIG)
    trained = _in_float32(load_saved_model(folder / model_file))
    k = keras()
    shape = tuple(config.model.input_shape)
    raw = k.Input(shape=shape, name="pixels")
    first = config.model.data_format == "channels_first"
    x = k.layers.Permute((2, 3, 1), name="to_channels_last", dtype=FLOAT32)(raw) if first else raw
    x = _scaling(k, results.standardization)(x)
    return Served(k.Model(raw, trained(x), name=f"{results.name or folder.name}_serving"), config, results)


def _scaling(k: Any, stats: tuple[list[float], list[float]] | None) -> Any:
    """0-255 pixels to what the model was trained on, as `Preprocess` computes it: `x * (1/255/std) - mean/std`.

    One `Rescaling` with per-channel scale and offset rather than `Rescaling(1/255)` then `Normalization`:
    the same arithmetic as training (not just the same maths), and its constants are written into the
    graph. `Normalization` keeps its mean and variance as eager tensors that the traced function captures,
    and tf2onnx's `from_function` (which `model.export(format="onnx")` calls) turns every captured
    non-resource tensor into an extra ONNX graph input (tf2onnx 1.17, convert.py `from_function`), so the
    .onnx file would ask its user for the statistics.
    """
    if stats is None:
        return k.layers.Rescaling(1 / 255, name="to_unit_range", dtype=FLOAT32)
    mean, std = stats
    return k.layers.Rescaling([1 / 255 / s for s in std], [-m / s for m, s in zip(mean, std)], name="standardize",
                              dtype=FLOAT32)


def _in_float32(model: Any) -> Any:
    """The model computing in float32, with the same weights: a `train.precision: mixed` run's layers compute
    in float16 or bfloat16, which neither Keras' ONNX exporter ("The dtype policy must be float32") nor
    LiteRT's builtin kernels take (its bfloat16 Conv2D becomes a Flex op LiteRT cannot run). Its variables
    are float32 already, so only the compute dtype changes, and answers move only by 16-bit rounding."""
    if all(layer.dtype_policy.name == FLOAT32 for layer in model.layers):
        return model
    from cnnctl.keras_catalog import keras

    copy = keras().models.clone_model(
        model, clone_function=lambda layer: layer.__class__.from_config({**layer.get_config(), "dtype": FLOAT32}))
    copy.set_weights(model.get_weights())
    return copy
