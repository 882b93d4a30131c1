"""Checks of the `data:` section that its types alone cannot express.

Which keys a source reads (`path` for your own files, `test_path` for
folders), the `augment` list: Keras image preprocessing layers by name,
with their arguments checked against Keras itself, as model layers are; and
the memory synthetic data would take, known from the config alone.
"""

from __future__ import annotations

import math
from typing import Any

from cnnctl import keras_catalog
from cnnctl.config.arguments import mapping_hint, parse_arguments
from cnnctl.config.source import KeyPath, Origins
from cnnctl.config.spec import DataSection, ModelSection, SyntheticData
from cnnctl.errors import Problem, did_you_mean, human_bytes

SOURCE_KEYS = {"source", "path", "test_path", "test_split", "cache", "cache_dir", "on_corrupt"}
PATH_SOURCES = {"idx": "a folder of IDX files", "npz": "a .npz file", "folder": "a folder of class sub-folders"}
# Randomness in augmentation comes from train.seed, the epoch and the step (see cnnctl.data.augment).
# Synthetic images are generated in memory as float32, about three times that at the peak of generating them;
# past this the config is refused before NumPy tries (a train_size of 10**9 was a MemoryError traceback).
MAX_SYNTHETIC_BYTES = 4 * 2**30
NOT_FROM_CONFIG = {"seed": "augmentation is seeded from train.seed, the epoch and the step",
                   "data_format": "augmentation always sees channels-last images"}


def check_data(data: DataSection, origins: Origins, refused: set[str] | frozenset[str] = frozenset()) -> list[Problem]:
    """Every problem of the data section: keys its source does not read, a missing path, bad augmentation.

    `refused`: keys whose values were refused (wrong type), at their defaults here: what depends on
    them is not judged.
    """
    problems = [] if refused & SOURCE_KEYS else _check_source_keys(data, origins)
    for path, name, args in augment_entries(data.augment):
        problems += _check_augmentation(path, name, args, origins)
    return problems


def _check_source_keys(data: DataSection, origins: Origins) -> list[Problem]:
    """The keys naming files are given where the source reads them, and only there."""
    problems = []
    here = ("data",)
    if data.source in PATH_SOURCES and data.path is None:
        problems.append(origins.problem(here + ("source",), f"source {data.source} needs data.path",
                                        f"set it to {PATH_SOURCES[data.source]}"))
    if data.source not in PATH_SOURCES and data.path is not None:
        hint = "use data.data_dir for a built-in dataset's files" if data.source != "synthetic" else None
        problems.append(origins.problem(here + ("path",), f"source {data.source} reads no path: "
                                        f"only {', '.join(PATH_SOURCES)} do", hint))
    for key in ("test_path", "test_split"):
        if getattr(data, key) is not None and data.source != "folder":
            problems.append(origins.problem(here + (key,), f"only source folder reads {key}"))
    if data.test_path is not None and data.test_split is not None:
        problems.append(origins.problem(here + ("test_split",), "test_split and test_path both give a test split",
                                        "keep one"))
    return problems + _check_cache_keys(data, origins)


def _check_cache_keys(data: DataSection, origins: Origins) -> list[Problem]:
    """`cache`, `cache_dir` and `on_corrupt` where they mean something: files read from disk."""
    problems, here = [], ("data",)
    if data.on_corrupt is not None and data.source != "folder":
        problems.append(origins.problem(here + ("on_corrupt",), "only source folder reads on_corrupt",
                                        "remove data.on_corrupt"))
    if data.cache in ("disk", "none") and data.source not in PATH_SOURCES:
        problems.append(origins.problem(here + ("cache",), f"source {data.source} is always held in memory: "
                                        f"cache {data.cache} is for {', '.join(PATH_SOURCES)}",
                                        "remove data.cache"))
    elif data.cache == "disk" and data.cache_dir is None:
        problems.append(origins.problem(here + ("cache",), "cache disk needs data.cache_dir",
                                        "set data.cache_dir to a folder for the decoded images"))
    if data.cache_dir is not None and data.cache in ("memory", "none"):
        problems.append(origins.problem(here + ("cache_dir",), f"cache {data.cache} writes no files: only cache "
                                        "disk uses cache_dir", "remove data.cache_dir, or set data.cache: disk"))
    return problems


def check_synthetic_size(data: DataSection, model: ModelSection, origins: Origins) -> list[Problem]:
    """Synthetic images (train and test, float32, at the model input's size) must fit `MAX_SYNTHETIC_BYTES`."""
    if data.source != "synthetic":
        return []
    synthetic, per_image = data.synthetic, math.prod(model.input_shape) * 4
    total = (synthetic.train_size + synthetic.test_size) * per_image
    if total <= MAX_SYNTHETIC_BYTES:
        return []
    defaults = SyntheticData.model_fields
    if (defaults["train_size"].default + defaults["test_size"].default) * per_image > MAX_SYNTHETIC_BYTES:
        path = ("model", "input_shape")  # too large even at the default counts: the images are
    else:
        path = ("data", "synthetic", "train_size" if synthetic.train_size >= synthetic.test_size else "test_size")
    shape = "×".join(map(str, model.input_shape))
    return [origins.problem(path, f"synthetic data: {synthetic.train_size:,} train + {synthetic.test_size:,} test "
                                  f"images of {shape} would take {human_bytes(total)} of memory (float32), over "
                                  f"cnnctl's limit of {human_bytes(MAX_SYNTHETIC_BYTES)}",
                            f"each image takes {human_bytes(per_image)}: use fewer images or a smaller "
                            "model.input_shape")]


def augment_entries(raw: list[Any]) -> list[tuple[KeyPath, str, Any]]:
    """`(key path, class name, arguments)` of each `augment` entry, as written."""
    entries = []
    for i, entry in enumerate(raw):
        path = ("data", "augment", i)
        if isinstance(entry, str):
            name, args = entry, {}
        elif isinstance(entry, dict) and len(entry) == 1:
            name, args = next(iter(entry.items()))
        else:
            name, args = "", entry  # not one layer: reported by check_data
        entries.append((path, str(name), {} if args is None else args))
    return entries


def augmentation_layers() -> dict[str, type]:
    """Keras' image preprocessing layers (their module says so): the only layers `augment` takes."""
    return {name: cls for name, cls in keras_catalog.classes("layers").items()
            if ".image_preprocessing." in cls.__module__}


def _check_augmentation(path: KeyPath, name: str, args: Any, origins: Origins) -> list[Problem]:
    if not name:
        return [origins.problem(path, "an augment entry is one Keras layer name, with or without arguments",
                                "e.g. '- RandomFlip: {mode: horizontal}'")]
    known = augmentation_layers()
    if name not in known:
        if name in keras_catalog.classes("layers"):
            hint = f"augment takes Keras image preprocessing layers: {', '.join(sorted(known))}"
            return [origins.problem(path + (name,), f"{name} is not an image augmentation layer", hint)]
        hint = did_you_mean(name, list(known)) or f"choose from {', '.join(sorted(known))}"
        return [origins.problem(path + (name,), f"unknown augmentation layer '{name}'", hint)]
    if not isinstance(args, dict):
        return [origins.problem(path + (name,), f"arguments of {name} must be a mapping of names to values",
                                mapping_hint(known[name], name, args))]
    problems = []
    for key, why in NOT_FROM_CONFIG.items():
        if key in args:
            problems.append(origins.problem(path + (name, key), f"{key} is not set here", why))
    rest = {k: v for k, v in args.items() if k not in NOT_FROM_CONFIG}
    return problems + parse_arguments(known[name], rest, path + (name,), origins)[1]
