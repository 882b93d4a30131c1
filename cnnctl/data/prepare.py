"""From a config's `data:` section to in-memory splits the model can take.

Images stay as loaded (uint8 for real datasets) and are scaled in the input
pipeline, so a dataset is held in memory once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnctl.config import Config
from cnnctl.errors import CnnctlError


@dataclass(frozen=True)
class Split:
    x: np.ndarray  # (n, height, width, channels), channels-last
    y: np.ndarray  # (n,) integer class labels

    def __len__(self) -> int:
        return len(self.y)


@dataclass(frozen=True)
class Data:
    train: Split
    test: Split
    validation: Split | None
    classes: int
    scale: float  # multiply pixels by this to get [0, 1]
    report: dict[str, Any] = field(default_factory=dict)


def load_data(config: Config, input_shape: tuple[int, ...]) -> Data:
    """Load the configured source, fit it to the model input (channels-last) and split off validation."""
    (x_train, y_train), (x_test, y_test) = _load_source(config, input_shape)
    limit = config.data.limit
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    x_train = _fit_to_input(config, x_train, input_shape)
    x_test = _fit_to_input(config, x_test, input_shape)
    y_train, y_test = y_train.astype(np.int64).reshape(-1), y_test.astype(np.int64).reshape(-1)
    classes = int(max(y_train.max(initial=0), y_test.max(initial=0))) + 1
    train, validation = Split(x_train, y_train), None
    if config.train.validation == "test":
        validation = Split(x_test, y_test)
    elif config.train.validation:
        train, validation = _stratified_split(train, config.train.validation, config.train.seed)
    test = Split(x_test, y_test)
    scale = 1 / 255 if x_train.dtype == np.uint8 else 1.0
    return Data(train, test, validation, classes, scale, _report(config, train, validation, test, classes))


def _load_source(config: Config, input_shape: tuple[int, ...]):
    source = config.data.source
    if source == "synthetic":
        from cnnctl.data.synthetic import make_synthetic

        s = config.data.synthetic
        height, width, channels = (tuple(input_shape) + (1,))[:3] if len(input_shape) >= 2 else (0, 0, 0)
        if len(input_shape) != 3:
            raise config.error(("model", "input_shape"), "synthetic images need [height, width, channels]")
        train = make_synthetic(s.train_size, height, width, channels, s.classes, s.noise, config.train.seed)
        test = make_synthetic(s.test_size, height, width, channels, s.classes, s.noise, config.train.seed + 1_000_003)
        return train, test
    from cnnctl.data.builtin import load_builtin

    return load_builtin(source, config.data.data_dir)


def _fit_to_input(config: Config, x: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """Add the channel axis of grayscale images; grey <-> RGB when the model asks for the other."""
    if x.ndim == len(input_shape):  # (n, h, w) for (h, w, 1)
        x = x[..., np.newaxis]
    want = input_shape[-1]
    have = x.shape[-1]
    if have != want and {have, want} == {1, 3}:
        x = np.repeat(x, 3, axis=-1) if want == 3 else np.round(x.mean(axis=-1, keepdims=True)).astype(x.dtype)
    if tuple(x.shape[1:]) != tuple(input_shape):
        shown = "×".join(map(str, x.shape[1:]))
        raise config.error(("model", "input_shape"),
                           f"the {config.data.source} images are {shown}, the model input is "
                           f"{'×'.join(map(str, input_shape))} (channels-last)",
                           f"set model.input_shape to match the data")
    return x


def _stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out `fraction` of every class, chosen by `seed`, so validation has the training balance."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(split.y):
        members = np.flatnonzero(split.y == label)
        held.append(rng.permutation(members)[: max(1, round(len(members) * fraction))])
    mask = np.zeros(len(split), bool)
    mask[np.concatenate(held)] = True
    return Split(split.x[~mask], split.y[~mask]), Split(split.x[mask], split.y[mask])


def _report(config: Config, train: Split, validation: Split | None, test: Split, classes: int) -> dict[str, Any]:
    counts = np.bincount(train.y, minlength=classes)
    return {
        "source": config.data.source,
        "train": len(train),
        "validation": len(validation) if validation is not None else 0,
        "test": len(test),
        "image_shape": list(train.x.shape[1:]),
        "classes": classes,
        "train_class_counts": counts.tolist(),
    }


def check_labels(data: Data, output_units: int, config: Config) -> None:
    """The last layer must have one unit per class (or one unit for two classes)."""
    if output_units == data.classes or (output_units == 1 and data.classes == 2):
        return
    raise CnnctlError(config.origins.problem(
        ("model", "layers", len(config.model.layers) - 1),
        f"the last layer gives {output_units} outputs but the data has {data.classes} classes",
        f"end the model with {data.classes} units"))
