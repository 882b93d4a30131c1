"""Round trip of real architectures through `cnnctl import`: the README's table.

Each `keras.applications` model (built with `weights=None`, so nothing is downloaded) and a small
functional model with a residual branch and a shared layer is saved as `.keras`, imported, built from
the written YAML, given the original's weights layer by layer and run on the same random batch. Prints
one Markdown row each: layers and parameters of both, the largest output difference, the config's
entries and the seconds `import_model` and `load_config` + `build_model` took.

    python benchmarks/import_round_trip.py [--size 224] [--folder /tmp/import_round_trip] [MODEL ...]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from cnnctl import keras_catalog
from cnnctl.config import load_config
from cnnctl.importing import import_model
from cnnctl.model.build import build_model

APPLICATIONS = ("MobileNetV2", "ResNet50", "DenseNet121", "EfficientNetB0", "NASNetMobile")


def small_functional(keras):
    layers = keras.layers
    inputs = keras.Input((16, 16, 3))
    x = layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    shared = layers.Conv2D(8, 3, padding="same", name="shared")
    y = shared(layers.BatchNormalization(name="bn")(shared(x)))
    x = layers.Add(name="residual")([x, y])
    x = layers.Dropout(0.25, name="drop")(x, training=False)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    return keras.Model(inputs, layers.Dense(4, activation="softmax", name="out")(x), name="small")


def row(name: str, original, folder: Path) -> str:
    saved, written = folder / f"{name}.keras", folder / f"{name}.yaml"
    original.save(saved)
    written.unlink(missing_ok=True)
    start = time.perf_counter()
    import_model(saved, written)
    imported = time.perf_counter()
    rebuilt = build_model(load_config(written))
    built = time.perf_counter()
    for layer in original.layers:
        if layer.weights:
            rebuilt.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(0).uniform(0, 255, (2, *original.input_shape[1:])).astype("float32")
    diff = float(np.abs(original.predict(x, verbose=0) - rebuilt.predict(x, verbose=0)).max())
    entries = sum(1 for line in written.read_text().splitlines() if line.startswith("    - "))
    shape = "×".join(map(str, original.input_shape[1:]))
    return (f"| {name} | {shape} | {len(original.layers)} / {len(rebuilt.layers)} | {original.count_params():,} / "
            f"{rebuilt.count_params():,} | {diff:.1g} | {entries} | {imported - start:.2f} s | {built - imported:.1f} s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", nargs="*", default=["small", *APPLICATIONS])
    parser.add_argument("--size", type=int, default=224, help="Input height and width of the applications.")
    parser.add_argument("--folder", type=Path, default=Path("/tmp/import_round_trip"))
    args = parser.parse_args()
    keras = keras_catalog.keras()
    args.folder.mkdir(parents=True, exist_ok=True)
    for name in args.models:
        if name == "small":
            original = small_functional(keras)
        else:
            original = getattr(keras.applications, name)(weights=None, input_shape=(args.size, args.size, 3))
        print(row(name, original, args.folder), flush=True)


if __name__ == "__main__":
    main()
