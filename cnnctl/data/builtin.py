"""Keras' built-in datasets, found on disk first and downloaded by Keras only as a last resort.

Classrooms and clusters are often offline, so files already on the machine
win: the folder given as `data_dir`, then `$CNNCTL_DATA_DIR`, then Keras' own
download cache, then system packages (Debian's `dataset-fashion-mnist`).
In each folder the dataset may sit directly or in a subfolder named after it.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from cnnctl.data.cifar import read_cifar_batch
from cnnctl.data.idx import read_idx_pair
from cnnctl.data.npz import read_npz
from cnnctl.errors import CnnctlError, Problem, did_you_mean

Arrays = tuple[np.ndarray, np.ndarray]
Split = tuple[Arrays, Arrays]

ENV_VAR = "CNNCTL_DATA_DIR"
NAMES = ("mnist", "fashion_mnist", "cifar10", "cifar100")
# What each dataset is, known without finding it: its classes, and one image's shape as `load_builtin` gives it.
CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}  # CIFAR-100: the fine labels
IMAGE_SHAPES = {"mnist": (28, 28), "fashion_mnist": (28, 28), "cifar10": (32, 32, 3), "cifar100": (32, 32, 3)}
# Class names, in label order, as the datasets' own pages give them (Keras' dataset docs list the same);
# MNIST's classes are their digits, and CIFAR-100's fine labels are left as numbers.
CLASS_NAMES = {
    "fashion_mnist": ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                      "Ankle boot"],
    "cifar10": ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"],
}

# Subfolders a dataset may sit in, Keras' cache layout first.
SUBFOLDERS = {
    "mnist": ["mnist"],
    "fashion_mnist": ["fashion-mnist", "fashion_mnist"],
    "cifar10": ["cifar-10-batches-py-target/cifar-10-batches-py", "cifar-10-batches-py", "cifar10"],
    "cifar100": ["cifar-100-python-target/cifar-100-python", "cifar-100-python", "cifar100"],
}
SYSTEM_FOLDERS = {"fashion_mnist": ["/usr/share/datasets/fashion-mnist"]}  # apt-get install dataset-fashion-mnist

# Files a folder must hold, in the order (x_train, y_train, x_test, y_test) or (train..., test...).
IDX_FILES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]
CIFAR_FILES = {
    "cifar10": [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"],
    "cifar100": ["train", "test"],
}
CIFAR_LABELS = {"cifar10": "labels", "cifar100": "fine_labels"}  # Keras' default label_mode is "fine"

HINTS = {
    "mnist": "put mnist.npz, or the 4 IDX files train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
             "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (raw or gzipped), in a folder "
             f"and set data_dir or ${ENV_VAR} to it",
    "fashion_mnist": "run `apt-get install dataset-fashion-mnist`, or put the 4 Fashion-MNIST IDX files "
                     "(train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, "
                     f"t10k-labels-idx1-ubyte.gz) in a folder and set data_dir or ${ENV_VAR} to it",
    "cifar10": "extract cifar-10-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) into a folder "
               f"and set data_dir or ${ENV_VAR} to it",
    "cifar100": "extract cifar-100-python.tar.gz (https://www.cs.toronto.edu/~kriz/cifar.html) into a folder "
                f"and set data_dir or ${ENV_VAR} to it",
}


def load_builtin(name: str, data_dir: str | None = None) -> Split:
    """Load a Keras built-in dataset, from local files when they exist.

    Args:
        name: `mnist`, `fashion_mnist`, `cifar10` or `cifar100`.
        data_dir: a folder to look in first (optional).

    Returns:
        `(x_train, y_train), (x_test, y_test)` as Keras' loaders give them:
        uint8 images `(N, 28, 28)` for the MNISTs and `(N, 32, 32, 3)` for
        CIFAR, labels 1-D (CIFAR's are flattened from Keras' `(N, 1)`).

    Raises:
        CnnctlError: unknown name, `data_dir` missing, damaged files, or the
            dataset is nowhere on disk and Keras cannot download it.

    Example:

    ```python
    (x_train, y_train), (x_test, y_test) = load_builtin("fashion_mnist")
    ```
    """
    return locate_builtin(name, data_dir)[0]


def locate_builtin(name: str, data_dir: str | None = None) -> tuple[Split, dict[str, Any]]:
    """`load_builtin`, and where the arrays came from, for results.json.

    With several copies on a machine (a course's folder, Keras' cache, a system package) a run must
    say which it trained on: `{"path": "<folder or name.npz>"}`, with `"downloaded": true` when Keras
    fetched it (the path is then where Keras put it, or None if it cannot be found there).
    """
    if name not in NAMES:
        raise CnnctlError(Problem(f"unknown dataset '{name}'",
                                  hint=did_you_mean(name, NAMES) or f"choose one of {', '.join(NAMES)}"))
    if data_dir is not None and not os.path.isdir(os.path.expanduser(data_dir)):
        raise CnnctlError(Problem("data_dir is not a folder", file=data_dir, hint=f"expected a folder holding {name}"))
    lacking = []
    for folder in candidate_folders(name, data_dir):
        where = _where(name, folder)
        if where is not None:
            return _read(name, where), {"path": where}
        missing = _missing(name, folder)
        if len(missing) < len(_required(name)):
            lacking.append(f"{folder} lacks {', '.join(missing)}")
    try:
        split = _download(name)
    except Exception as exc:  # Keras raises bare Exceptions for network failures
        raise _not_found(name, data_dir, lacking, exc) from exc
    found = (_where(name, folder) for folder in candidate_folders(name, data_dir))
    return split, {"path": next((where for where in found if where is not None), None), "downloaded": True}


def candidate_folders(name: str, data_dir: str | None = None) -> list[str]:
    """Every folder `load_builtin` looks in, in order, each once."""
    folders = []
    for root in search_roots(data_dir):
        folders += [os.path.join(root, sub) for sub in SUBFOLDERS[name]] + [root]
    return list(dict.fromkeys(folders + SYSTEM_FOLDERS.get(name, [])))


def search_roots(data_dir: str | None = None) -> list[str]:
    """The folders given by the user, then Keras' download cache."""
    roots = [data_dir, os.environ.get(ENV_VAR)] + keras_cache_dirs()
    return list(dict.fromkeys(os.path.normpath(os.path.expanduser(root)) for root in roots if root))


def keras_cache_dirs() -> list[str]:
    """Where `keras.utils.get_file` keeps downloads: `$KERAS_HOME` or `~/.keras`, else `/tmp/.keras`."""
    home = os.path.expanduser(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))
    dirs = [os.path.join(home, "datasets")]
    if not os.access(home, os.W_OK):
        dirs.append(os.path.join("/tmp", ".keras", "datasets"))
    return dirs


def _where(name: str, folder: str) -> str | None:
    """`folder/<name>.npz`, or `folder` itself when it holds the format's own files; None when neither."""
    npz = os.path.join(folder, f"{name}.npz")
    if os.path.isfile(npz):
        return npz
    return None if _missing(name, folder) else folder


def _read(name: str, where: str) -> Split:
    """The dataset from what `_where` found."""
    if os.path.isfile(where):
        return read_npz(where)
    paths = [_existing(name, where, file) for file in _required(name)]
    if name in CIFAR_FILES:
        return _read_cifar(name, paths)
    x_train, y_train, x_test, y_test = paths
    return read_idx_pair(x_train, y_train), read_idx_pair(x_test, y_test)


def _required(name: str) -> list[str]:
    return CIFAR_FILES.get(name, IDX_FILES)


def _existing(name: str, folder: str, file: str) -> str | None:
    """`folder/file`, or for IDX files also `folder/file.gz`, if it exists."""
    suffixes = [""] if name in CIFAR_FILES else ["", ".gz"]
    for path in (os.path.join(folder, file + suffix) for suffix in suffixes):
        if os.path.isfile(path):
            return path
    return None


def _missing(name: str, folder: str) -> list[str]:
    return [file for file in _required(name) if _existing(name, folder, file) is None]


def _read_cifar(name: str, paths: list[str]) -> Split:
    *train_paths, test_path = paths
    train = [read_cifar_batch(path, CIFAR_LABELS[name]) for path in train_paths]
    x_train = np.concatenate([images for images, _ in train])
    y_train = np.concatenate([labels for _, labels in train])
    return (x_train, y_train), read_cifar_batch(test_path, CIFAR_LABELS[name])


def _download(name: str) -> Split:
    """Keras' own loader: downloads into its cache (where the next run finds it)."""
    from cnnctl.keras_catalog import keras

    (x_train, y_train), (x_test, y_test) = getattr(keras().datasets, name).load_data()
    return (x_train, y_train.reshape(-1)), (x_test, y_test.reshape(-1))


def _not_found(name: str, data_dir: str | None, lacking: list[str], exc: Exception) -> CnnctlError:
    subs = ", ".join(f"{sub}/" for sub in SUBFOLDERS[name])
    places = [f"{', '.join(search_roots(data_dir))} (each also in {subs})"] + SYSTEM_FOLDERS.get(name, [])
    where = "searched " + ", ".join(places) + "".join(f"; {note}" for note in lacking)
    reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return CnnctlError(Problem(f"{name} is not on this machine and Keras could not download it ({reason}): {where}",
                               hint=HINTS[name]))
