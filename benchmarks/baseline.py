"""The script a Keras user would write by hand: the lecture network on Fashion-MNIST, plain `model.fit`.

NumPy arrays in memory, scaled and one-hot encoded up front, SGD 0.1, batch 100,
float32, no validation. Prints one JSON line per epoch with its seconds, then
the test accuracy, for `benchmarks/compare.py` to read. Nothing from cnnctl is
imported: this is the yardstick.

    python benchmarks/baseline.py [--epochs 3] [--data /usr/share/datasets/fashion-mnist]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time

import numpy as np

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402


def read_idx(path: str) -> np.ndarray:
    with gzip.open(path, "rb") as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = parser.parse_args()

    def load(kind: str):
        x = read_idx(f"{args.data}/{kind}-images-idx3-ubyte.gz").astype("float32")[..., None] / 255
        y = keras.utils.to_categorical(read_idx(f"{args.data}/{kind}-labels-idx1-ubyte.gz"), 10)
        return x, y

    (x_train, y_train), (x_test, y_test) = load("train"), load("t10k")
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(25, 3),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(50, 3),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(100, activation="relu"),
        keras.layers.Dense(10, activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.SGD(learning_rate=0.1),
                  metrics=["accuracy"])

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            print(json.dumps({"epoch": epoch + 1, "seconds": time.perf_counter() - self.started,
                              "loss": float(logs["loss"])}), flush=True)

    model.fit(x_train, y_train, batch_size=100, epochs=args.epochs, verbose=0, callbacks=[Timer()])
    _, accuracy = model.evaluate(x_test, y_test, batch_size=100, verbose=0)
    print(json.dumps({"test_accuracy": float(accuracy)}), flush=True)


if __name__ == "__main__":
    main()
