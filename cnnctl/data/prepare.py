"""From a config's `data:` section to in-memory splits the model can take.

Images stay as loaded (uint8 for real datasets) and are scaled, standardized
and augmented in the input pipeline (`Data.prepare`), so a dataset is held in
memory once. Every mistake in the data is raised here, before a run folder
exists.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cnnctl.config import Config
from cnnctl.data.metadata import check_input, check_paths, class_problem, count_classes, shape_problem
from cnnctl.data.preprocess import Preprocess, channel_stats, pixel_scale
from cnnctl.errors import CnnctlError, Problem, plural

TEST_SPLIT = 0.2  # a folder's default test fraction
FOLDER_SEED = 0  # a folder's test split and order do not change with train.seed: runs stay comparable
# Standardization statistics of images streamed from files come from this many of them (seeded): the mean
# and standard deviation of 4,096 images are within about 1% of the whole set's for photos.
STATISTICS_SAMPLE = 4096


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
    prepare: Preprocess  # stored pixels -> model inputs; augments training batches
    report: dict[str, Any] = field(default_factory=dict)
    origin: str = ""  # the dataset's name or path, for messages


def load_data(config: Config, input_shape: tuple[int, ...]) -> Data:
    """Load the configured source, fit it to the model input (channels-last) and split off validation.

    The paths and the input shape are checked first, as `cnnctl validate` checks them (`cnnctl.data.metadata`).
    """
    problems = check_paths(config) + check_input(config, tuple(input_shape))
    if problems:
        raise CnnctlError(problems)
    (x_train, y_train), (x_test, y_test), origin, names, where = _load_source(config, tuple(input_shape))
    classes = count_classes(config, [y_train, y_test], origin, names)
    limit = config.data.limit
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    x_train = _fit_to_input(config, x_train, input_shape, origin)
    x_test = _fit_to_input(config, x_test, input_shape, origin)
    y_train, y_test = y_train.astype(np.int64).reshape(-1), y_test.astype(np.int64).reshape(-1)
    train, validation = Split(x_train, y_train), None
    if config.train.validation == "test":
        validation = Split(x_test, y_test)
    elif config.train.validation:
        train, validation = stratified_split(train, config.train.validation, config.train.seed)
    test = Split(x_test, y_test)
    prepare = _preprocess(config, train, classes)
    report = _report(config, train, validation, test, classes, prepare, where, names)
    return Data(train, test, validation, classes, prepare, report, origin)


def _load_source(config: Config, input_shape: tuple[int, ...]):
    """`(train, test, origin, class names or None, where)` from the configured source, as stored.

    `origin` names the data in messages; `where` is what the report records of where it was read.
    """
    data = config.data
    source = data.source
    if source == "synthetic":
        from cnnctl.data.synthetic import SHAPES, make_synthetic

        s = config.data.synthetic
        height, width, channels = input_shape  # three, as check_input made sure
        train = make_synthetic(s.train_size, height, width, channels, s.classes, s.noise, config.train.seed)
        test = make_synthetic(s.test_size, height, width, channels, s.classes, s.noise, config.train.seed + 1_000_003)
        return train, test, "synthetic", list(SHAPES)[:s.classes], {}
    path = os.path.expanduser(data.path) if data.path else ""
    if source in ("idx", "npz"):
        train, test, where = _load_arrays(config, path)
        return train, test, path, None, where
    if source == "folder":
        train, test, names, where = _load_folder(config, path, input_shape)
        return train, test, path, names, where
    from cnnctl.data.builtin import CLASS_NAMES, locate_builtin

    split, where = locate_builtin(source, data.data_dir)
    return *split, source, CLASS_NAMES.get(source), where


def _load_arrays(config: Config, path: str):
    """Train, test and where from an IDX folder or a .npz file: read into memory, or memory-mapped
    (`cnnctl.data.mapped`), as `data.cache` says or the images' size chooses."""
    from cnnctl.data.cache import choose_cache
    from cnnctl.data.mapped import decoded_size, map_source

    data = config.data
    choice = choose_cache(data.cache, decoded_size(data.source, path), data.cache_dir)
    where = {"path": path, **choice.report()}
    if choice.kind != "memory":
        return *map_source(data.source, path, choice.kind, data.cache_dir), where
    if data.source == "idx":
        from cnnctl.data.idx import read_idx_folder

        return *read_idx_folder(path), where
    from cnnctl.data.npz import read_npz

    return *read_npz(path), where


def _load_folder(config: Config, path: str, input_shape: tuple[int, ...]):
    """Train and test from class sub-folders, at the model input's size, in an order fixed by the folder.

    The files are listed and their headers checked, then kept as `data.cache` says (`cnnctl.data.cache`):
    decoded into memory or a disk cache, or left in the files (`ImageFiles`), read a batch at a time.
    The test split is drawn from the list, so it is the same images whichever the cache.
    """
    from cnnctl.data.cache import choose_cache, keep_images
    from cnnctl.data.folder import index_image_folder

    height, width, channels = input_shape  # three, and a channel count Keras reads, as check_input made sure
    data, on_corrupt = config.data, config.data.on_corrupt or "stop"
    files, y, names = index_image_folder(path, height, width, channels, None, on_corrupt)
    test_files = y_test = None
    if data.test_path:
        test_files, y_test, _ = index_image_folder(os.path.expanduser(data.test_path), height, width, channels,
                                                   names, on_corrupt)
    images = len(files) + (len(test_files) if test_files is not None else 0)
    choice = choose_cache(data.cache, images * height * width * channels, data.cache_dir)
    x, good = keep_images(files, choice.kind, data.cache_dir)
    y = y[good]
    where = {"path": path, **choice.report(), "skipped_files": files.skipped}  # the list grows if training skips
    rng = np.random.default_rng(FOLDER_SEED)
    order = rng.permutation(len(y))  # read class by class: mixed, so `limit` takes every class
    if test_files is not None:
        x_test, good = keep_images(test_files, choice.kind, data.cache_dir)
        y_test = y_test[good]
        files.skipped.extend(file for file in test_files.skipped if file not in files.skipped)
        test_order = rng.permutation(len(y_test))
        return (x[order], y[order]), (x_test[test_order], y_test[test_order]), names, where
    train, test = stratified_split(Split(x[order], y[order]), data.test_split or TEST_SPLIT, FOLDER_SEED)
    if not len(test):  # a class's lone image stays in training: with one image per class none is left to test on
        raise CnnctlError(Problem("every class folder holds a single image: none is left for the test split",
                                  file=path, hint="add images, or give a test folder as data.test_path"))
    return (train.x, train.y), (test.x, test.y), names, where


def _fit_to_input(config: Config, x: np.ndarray, input_shape: tuple[int, ...], origin: str) -> np.ndarray:
    """Add the channel axis of grey images; grey <-> RGB when the model asks for the other; resize if asked."""
    problem = shape_problem(config, x.shape[1:], input_shape, origin)
    if problem is not None:
        raise CnnctlError(problem)
    x = _fit_mapped(config, x, input_shape)
    if x.ndim == len(input_shape):  # (n, h, w) for (h, w, 1)
        x = x[..., np.newaxis]
    want = input_shape[-1]
    have = x.shape[-1]
    if have != want and {have, want} == {1, 3}:
        x = np.repeat(x, 3, axis=-1) if want == 3 else np.round(x.mean(axis=-1, keepdims=True)).astype(x.dtype)
    if config.data.resize and x.ndim == 4 and len(input_shape) == 3 and x.shape[1:3] != tuple(input_shape[:2]):
        x = resize(x, input_shape[0], input_shape[1])
    return x


def _fit_mapped(config: Config, x: Any, input_shape: tuple[int, ...]) -> Any:
    """A memory-mapped array keeps its map when only a channel axis is missing (a view); converting grey and
    RGB, or resizing, reads it into memory (the conversion makes a new array anyway)."""
    from cnnctl.data.ondisk import MappedImages

    if not isinstance(x, MappedImages):
        return x
    if x.ndim == len(input_shape) and input_shape[-1] == 1 and not _resized(config, x.shape, input_shape):
        return MappedImages(x.array[..., np.newaxis], x.rows)
    if x.shape[-1] == input_shape[-1] and not _resized(config, x.shape, input_shape):
        return x
    return np.asarray(x)


def _resized(config: Config, shape: tuple[int, ...], input_shape: tuple[int, ...]) -> bool:
    return bool(config.data.resize) and len(input_shape) == 3 and tuple(shape[1:3]) != tuple(input_shape[:2])


def resize(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """Images resized (bilinear, antialiased when shrinking), in their own dtype, a chunk at a time."""
    from cnnctl.keras_catalog import keras

    keras()
    import tensorflow as tf

    out = np.empty((len(images), height, width, images.shape[-1]), images.dtype)
    for start in range(0, len(images), 4096):
        chunk = tf.image.resize(images[start:start + 4096], (height, width), antialias=True).numpy()
        if images.dtype.kind in "biu":
            info = np.iinfo(images.dtype)
            chunk = np.clip(np.round(chunk), info.min, info.max)
        out[start:start + len(chunk)] = chunk
    return out


def stratified_split(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """Hold out `fraction` of every class, chosen by `seed`, so both parts keep the class balance."""
    rng = np.random.default_rng(seed)
    held = []
    for label in np.unique(split.y):
        members = np.flatnonzero(split.y == label)
        count = round(len(members) * fraction) or (1 if len(members) > 1 else 0)  # a lone image stays in training
        held.append(rng.permutation(members)[:count])
    mask = np.zeros(len(split), bool)
    mask[np.concatenate(held or [np.zeros(0, int)])] = True
    return Split(split.x[~mask], split.y[~mask]), Split(split.x[mask], split.y[mask])


def _preprocess(config: Config, train: Split, classes: int) -> Preprocess:
    """Scale from the stored pixels; standardization statistics from the training split only; augmentation."""
    scale = pixel_scale(train.x)
    mean = std = None
    if config.data.scale == "standardize":
        mean, std = channel_stats(statistics_images(train.x, config.train.seed), scale)
    augmentation = None
    if config.data.augment:
        from cnnctl.data.augment import TRIAL_IMAGES, build_augmentation

        augmentation = build_augmentation(config.data.augment)
        if len(train):
            sample = train.x[:TRIAL_IMAGES].astype(np.float32) * np.float32(scale * 255)  # 0-255, as in training
            augmentation.check(sample, classes, "sparse" in config.loss.name.lower(), config.error)
    return Preprocess(scale, mean, std, augmentation)


def _report(config: Config, train: Split, validation: Split | None, test: Split, classes: int,
            prepare: Preprocess, where: dict[str, Any], names: list[str] | None) -> dict[str, Any]:
    """What the run trains on: counts and class balance of every split, image shape, preparation.

    The image shape is in the config's order (`[1, 28, 28]` for channels_first), as the summary prints it.
    """
    splits = {"train": train, "validation": validation, "test": test}
    counts = {part: np.bincount(s.y, minlength=classes).tolist() for part, s in splits.items() if s is not None}
    report: dict[str, Any] = {
        "source": config.data.source,
        **where,  # the file or folder read, for built-in datasets too
        "train": len(train),
        "validation": len(validation) if validation is not None else 0,
        "test": len(test),
        "image_shape": list(config.in_config_order(train.x.shape[1:])),  # as the config writes input_shape
        "classes": classes,
        **({"class_names": names} if names else {}),
        "class_counts": counts,
        "class_balance": balance(counts["train"]),
        "scale": config.data.scale,
    }
    if prepare.mean is not None:
        report.update(mean=[round(m, 6) for m in prepare.mean], std=[round(s, 6) for s in prepare.std],
                      standardize_images=len(statistics_images(train.x, config.train.seed)))
    if prepare.augmentation is not None:
        report["augment"] = [step.name for step in prepare.augmentation.steps]
    return report


def statistics_images(images: Any, seed: int) -> Any:
    """The training images the standardization statistics come from: all of them, unless they are image
    files read from disk, of which a seeded sample of `STATISTICS_SAMPLE` (decoding every file once more
    would cost a whole epoch before the first step). A memory-mapped array is read in chunks, all of it."""
    from cnnctl.data.ondisk import ImageFiles

    if not isinstance(images, ImageFiles) or len(images) <= STATISTICS_SAMPLE:
        return images
    return images[np.sort(np.random.default_rng(seed).choice(len(images), STATISTICS_SAMPLE, replace=False))]


def balance(counts: list[int]) -> str:
    """`balanced (600 per class)`, or the smallest and the largest class: `40 (class 3) to 600 (class 0) per class`."""
    if not counts or max(counts) == 0:
        return "empty"
    low, high = int(np.argmin(counts)), int(np.argmax(counts))
    if counts[high] - counts[low] <= 1:
        return f"balanced ({counts[low]}{'' if counts[low] == counts[high] else f'-{counts[high]}'} per class)"
    return f"{counts[low]} (class {low}) to {counts[high]} (class {high}) per class"


def describe(data: Data) -> str:
    """The one-line data report printed as training starts."""
    r = data.report
    cache = f"; cache {r['cache']} ({r['cache_reason']})" if "cache" in r else ""
    return (f"data: {r['train']} train, {r['validation']} validation, {r['test']} test images of "
            f"{'×'.join(map(str, r['image_shape']))}, {plural(data.classes, 'class', 'classes')}, "
            f"{r['class_balance']} in train{cache}")


def check_labels(data: Data, output_units: int, config: Config) -> None:
    """The last layer must have one unit per class (or one unit for two classes), as `validate` checks it."""
    problem = class_problem(config, output_units, data.classes, data.origin)
    if problem is not None:
        raise CnnctlError(problem)
