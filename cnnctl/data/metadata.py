"""What a config's data is, known without training and without loading an image.

That its files are there and of the right kind, one image's shape (from the
files' headers), and how many classes it has: the labels (small, a number an
image) are read, images never are. `cnnctl validate` reports all of it, at
the config's own lines; `load_data` checks the same paths and input shape
before it reads anything, and counts classes and compares shapes with the
same functions, so `validate` and `train` refuse a config with one message.

Example:

```python
problems = data_problems(config, (28, 28, 1), units=10)  # [] when train would accept the data
```
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from cnnctl.config import Config
from cnnctl.config.data import PATH_SOURCES
from cnnctl.config.source import Origins
from cnnctl.config.spec import DataSection
from cnnctl.data.builtin import CLASSES, IMAGE_SHAPES, NAMES
from cnnctl.data.folder import class_folders, same_classes
from cnnctl.data.idx import read_idx_folder_labels
from cnnctl.data.npz import read_npz_labels
from cnnctl.data.synthetic import MIN_SIDE
from cnnctl.errors import CnnctlError, Problem, plural

# The files each key names, by source: what `check_paths` expects to find there.
FOLDER, FILE = "folder", "file"
PATHS = {
    "idx": {"path": FOLDER},
    "npz": {"path": FILE},
    "folder": {"path": FOLDER, "test_path": FOLDER},
    **{name: {"data_dir": FOLDER} for name in NAMES},
}
LABEL_READERS = {"idx": read_idx_folder_labels, "npz": read_npz_labels}
FOLDER_CHANNELS = (1, 3, 4)  # grey, RGB, RGBA: what image_dataset_from_directory reads


@dataclass(frozen=True)
class Facts:
    """A dataset as its headers and labels describe it."""

    classes: int
    image_shapes: tuple[tuple[int, ...], ...]  # one image of each split as stored; none: made at the model's size
    origin: str  # the dataset's name or path, for messages


def data_problems(config: Config, input_shape: tuple[int, ...], units: int | None = None) -> list[Problem]:
    """Every problem `train` would find in the data before its first step, with no image loaded.

    Args:
        config: a validated config.
        input_shape: the model input, channels-last.
        units: the last layer's outputs, compared with the classes; None: not compared
            (the model could not be built).
    """
    paths = check_paths(config)
    problems = paths + check_input(config, input_shape)
    if paths:  # nothing to read
        return problems
    try:
        facts = read_facts(config)
    except CnnctlError as exc:
        return problems + exc.problems
    shapes = (shape_problem(config, shape, input_shape, facts.origin) for shape in facts.image_shapes)
    problems += [p for p in shapes if p is not None][:1]  # train and test alike: said once
    mismatch = class_problem(config, units, facts.classes, facts.origin) if units is not None else None
    return problems + ([mismatch] if mismatch else [])


def check_paths(config: Config) -> list[Problem]:
    """Each path the source reads exists, is a folder or a file as it should be, and may be read."""
    return path_problems(config.data, config.origins)


def path_problems(data: DataSection, origins: Origins) -> list[Problem]:
    """`check_paths` for a data section alone: `validate` checks the paths of a config whose other sections
    did not load.

    Paths are absolute by now (`cnnctl.config.load`), so the message shows where cnnctl looked.
    """
    problems = []
    for key, kind in PATHS.get(data.source, {}).items():
        path = getattr(data, key)
        if path is None:
            continue
        where = ("data", key)
        if not os.path.exists(path):
            start = ("a --set path starts at the current folder" if origins.overridden(where)
                     else "a relative path starts at the config file's folder")
            problems.append(origins.problem(where, f"no such {kind}: {path}", start))
        elif kind == FOLDER and not os.path.isdir(path):
            problems.append(origins.problem(where, f"not a folder: {path}", _expected(data, key)))
        elif kind == FILE and os.path.isdir(path):
            problems.append(origins.problem(where, f"a folder, not a file: {path}", _expected(data, key)))
        elif not os.access(path, os.R_OK | (os.X_OK if kind == FOLDER else 0)):
            problems.append(origins.problem(where, f"not readable: {path}", "check its permissions (ls -l)"))
    return problems


def _expected(data: DataSection, key: str) -> str:
    if key == "data_dir":
        return f"expected a folder holding {data.source}"
    return f"source {data.source} reads {PATH_SOURCES[data.source]}"


def check_input(config: Config, input_shape: tuple[int, ...]) -> list[Problem]:
    """Sources that make images at the model input's size need one they can make: synthetic shapes
    of at least `MIN_SIDE` pixels a side, a folder's images in 1, 3 or 4 channels."""
    source, where = config.data.source, ("model", "input_shape")
    what = {"synthetic": "synthetic images", "folder": "images from a folder"}.get(source)
    if what is None:
        return []
    if len(input_shape) != 3:
        return [config.origins.problem(where, f"{what} need [height, width, channels]")]
    height, width, channels = input_shape
    order = config.input_order_hint()  # [1, 28, 28] without data_format: 1×28 images of 28 channels
    if source == "synthetic":
        if min(height, width) < MIN_SIDE:
            return [config.origins.problem(where, f"synthetic images are at least {MIN_SIDE}×{MIN_SIDE} pixels, "
                                                  f"the model input is {height}×{width}",
                                           order or "use a larger model.input_shape: below that the shapes are "
                                                    "too few pixels to tell apart")]
    elif channels not in FOLDER_CHANNELS:
        return [config.origins.problem(where, f"images from a folder have 1, 3 or 4 channels, not {channels}",
                                       order)]
    return []


def read_facts(config: Config) -> Facts:
    """Classes and image shapes of the configured data, from its labels and headers.

    Raises:
        CnnctlError: a file missing, damaged or not matching its partner, located at the data key
            that names it (the file itself is named in the message).
    """
    data, source = config.data, config.data.source
    if source == "synthetic":
        return Facts(data.synthetic.classes, (), source)
    if source == "folder":
        with _at(config, "path"):
            names = class_folders(data.path)
        if data.test_path:
            with _at(config, "test_path"):
                same_classes(data.test_path, names)
        return Facts(len(names), (), data.path)
    if source in LABEL_READERS:
        with _at(config, "path"):
            (x_train, y_train), (x_test, y_test) = LABEL_READERS[source](data.path)
        shapes = tuple(dict.fromkeys(shape[1:] for shape in (x_train, x_test) if shape is not None))
        return Facts(count_classes(config, [y_train, y_test], data.path), shapes, data.path)
    return Facts(CLASSES[source], (IMAGE_SHAPES[source],), source)


@contextmanager
def _at(config: Config, key: str) -> Iterator[None]:
    """A reader's problems, which name a data file, placed at the config key that led to it."""
    try:
        yield
    except CnnctlError as exc:
        raise CnnctlError([config.origins.problem(("data", key), f"{p.file}: {p.message}" if p.file else p.message,
                                                  p.hint) for p in exc.problems]) from None


def count_classes(config: Config, labels: list[np.ndarray], origin: str, names: list[str] | None = None) -> int:
    """The classes of the configured data: a built-in dataset's own count, the synthetic `classes`, a
    folder's sub-folders, else one more than the largest label of any split (before `limit`)."""
    source = config.data.source
    if source == "synthetic":
        return config.data.synthetic.classes
    if names and source == "folder":  # built-ins name their classes too, and are checked below
        return len(names)
    largest = max((int(y.max()) for y in labels if y.size), default=0)
    if source in LABEL_READERS:
        return largest + 1
    if largest >= CLASSES[source]:
        raise CnnctlError(Problem(f"labels go up to {largest}, but {source} has {CLASSES[source]} classes", file=origin,
                                  hint="these files hold another dataset: use source idx or npz for it"))
    return CLASSES[source]


def shape_problem(config: Config, stored: tuple[int, ...], input_shape: tuple[int, ...],
                  origin: str) -> Problem | None:
    """Does one stored image, `(height, width[, channels])`, become the model input as `load_data` prepares
    it: a channel axis added to grey images, grey <-> RGB converted, resized when `data.resize` says so?"""
    shape = tuple(stored) + ((1,) if len(stored) == len(input_shape) - 1 else ())
    have, want = shape[-1], input_shape[-1]
    if have != want and {have, want} == {1, 3}:
        shape = shape[:-1] + (want,)
    if config.data.resize and len(shape) == 3 and len(input_shape) == 3:
        shape = tuple(input_shape[:2]) + shape[2:]
    if shape == tuple(input_shape):
        return None
    hint = "set model.input_shape to match the data"
    if len(shape) == 3 and shape[-1] == want and not config.data.resize:
        hint += ", or data.resize: true"
    return config.origins.problem(("model", "input_shape"),
                                  f"the {origin} images are {'×'.join(map(str, shape))}, the model input is "
                                  f"{'×'.join(map(str, input_shape))} (channels-last)",
                                  config.input_order_hint() or hint)


def class_problem(config: Config, units: int, classes: int, origin: str) -> Problem | None:
    """The last layer must have one unit per class (or one unit for two classes)."""
    if units == classes or (units == 1 and classes == 2):
        return None
    return config.origins.problem(
        ("model", "layers", len(config.model.layers) - 1),
        f"the last layer gives {plural(units, 'output')} but the data has "
        f"{plural(classes, 'class', 'classes')} (labels 0 to {classes - 1} in {origin or config.data.source})",
        f"end the model with {plural(classes, 'unit')}")
