"""Read a folder of class sub-folders of images (`cats/001.png`, `dogs/001.jpg`) with Keras' own reader.

`keras.utils.image_dataset_from_directory` decodes and resizes the images;
this module checks the layout first (so an empty class folder is an error,
not a class that silently never appears), then every file Keras listed:
a regular file (a named pipe would hang the reader) whose header, read by
Pillow without decoding, declares a size worth decoding (a 20000×20000 PNG
would take 1.2 GB at full size). When an image cannot be decoded it finds
which one, since TensorFlow's decoder does not say.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cnnctl.data.files import open_regular
from cnnctl.errors import CnnctlError, Problem

if TYPE_CHECKING:
    from cnnctl.data.ondisk import ImageFiles

# The extensions image_dataset_from_directory reads (Keras' ALLOWLIST_FORMATS), any case.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}
LAYOUT = "one sub-folder of images per class, e.g. path/cat/001.png, path/dog/001.jpg"
CHUNK = 256  # images decoded at a time
# Pillow's own decompression-bomb threshold (a quarter GiB of 24-bit pixels): far above any image a CNN is fed.
MAX_IMAGE_PIXELS = 89_478_485


def class_folders(path: str | Path) -> list[str]:
    """The class names: `path`'s sub-folders as Keras lists them (sorted, no hidden ones), none without images."""
    path = str(path)
    if not os.path.isdir(path):
        raise CnnctlError(Problem("no such folder" if not os.path.exists(path) else "not a folder", file=path,
                                  hint=f"expected {LAYOUT}"))
    names = sorted(entry.name for entry in os.scandir(path) if entry.is_dir() and not entry.name.startswith("."))
    if not names:
        raise CnnctlError(Problem("no class sub-folders", file=path, hint=f"expected {LAYOUT}"))
    for name in names:
        if not _has_image(os.path.join(path, name)):
            raise CnnctlError(Problem(f"class folder '{name}' holds no images", file=os.path.join(path, name),
                                      hint=f"expected {', '.join(IMAGE_EXTENSIONS)} files; remove the folder "
                                           "or fill it"))
    return names


def same_classes(path: str | Path, class_names: list[str]) -> list[str]:
    """A test folder's classes, which must be the training folder's `class_names`: a label means one class."""
    found = class_folders(path)
    if found != class_names:
        raise CnnctlError(Problem(f"classes {', '.join(found)} differ from the training folder's "
                                  f"{', '.join(class_names)}", file=str(path),
                                  hint="the test folder needs the same class sub-folders"))
    return found


def read_image_folder(path: str | Path, height: int, width: int, channels: int,
                      class_names: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Every image under `path`, decoded and resized to `height`×`width` with `channels` channels.

    Args:
        path: the folder of class sub-folders.
        height, width, channels: the model input (channels 1: grey, 3: RGB, 4: RGBA).
        class_names: the classes, in label order (a test folder takes the
            training folder's); default: `path`'s sub-folders.

    Returns:
        `(images, labels, class_names)`: uint8 `(n, height, width, channels)`,
        int64 `(n,)`, in Keras' order (by class, then file name).

    Raises:
        CnnctlError: a missing or empty folder, classes that differ from
            `class_names`, a file that is not a regular file, an image over
            `MAX_IMAGE_PIXELS`, or an image that cannot be decoded.
    """
    from cnnctl.keras_catalog import keras

    path = str(path)
    found = class_folders(path) if class_names is None else same_classes(path, class_names)
    dataset = keras().utils.image_dataset_from_directory(
        path, labels="inferred", label_mode="int", class_names=found, color_mode=COLOR_MODES[channels],
        batch_size=CHUNK, image_size=(height, width), shuffle=False, data_format="channels_last", verbose=False)
    check_image_files(dataset.file_paths)
    images, labels = [], []
    try:
        for x, y in dataset:
            images.append(np.clip(np.round(x.numpy()), 0, 255).astype(np.uint8))
            labels.append(y.numpy().astype(np.int64))
    except Exception as exc:  # tf.errors.InvalidArgumentError: a file TensorFlow cannot decode
        raise _undecodable(dataset.file_paths, exc) from None
    return np.concatenate(images), np.concatenate(labels), found


def index_image_folder(path: str | Path, height: int, width: int, channels: int,
                       class_names: list[str] | None = None, on_corrupt: str = "stop"
                       ) -> tuple["ImageFiles", np.ndarray, list[str]]:
    """The files under `path` and their labels, listed and checked but not decoded: `read_image_folder`'s
    result with images left on disk (`ImageFiles`), in the same order (Keras' own listing, by class,
    then file name).

    Every header is checked as `read_image_folder` checks it; with `on_corrupt: skip` a file whose header
    cannot be read is left out, with a warning naming it, instead of stopping.
    """
    import sys

    from cnnctl.data.ondisk import ImageFiles
    from cnnctl.keras_catalog import keras

    keras()
    # image_dataset_from_directory's own listing (a private module of Keras: the public function decodes too)
    from keras.src.utils.dataset_utils import index_directory

    path = str(path)
    found = class_folders(path) if class_names is None else same_classes(path, class_names)
    files, labels, _ = index_directory(path, "inferred", IMAGE_EXTENSIONS, class_names=found, shuffle=False,
                                       verbose=False)
    skipped: list[str] = []
    sizes = check_image_files(files, skipped if on_corrupt == "skip" else None)
    for file in skipped:
        print(f"warning: {file}: cannot decode image, skipped (data.on_corrupt: skip)", file=sys.stderr)
    left_out = set(skipped)
    keep = np.array([file not in left_out for file in files], bool)
    images = ImageFiles(np.array(files, dtype=object)[keep], None, height, width, channels, on_corrupt, skipped,
                        resize=sizes != {(height, width)})
    return images, np.asarray(labels, np.int64)[keep], found


def check_image_files(paths: list[str], skipped: list[str] | None = None) -> set[tuple[int, int]]:
    """Each file is a regular file whose header (read by Pillow; nothing is decoded) declares at most
    `MAX_IMAGE_PIXELS` pixels: TensorFlow decodes whatever size a header says, at full size, before resizing.
    With `skipped`, a file whose header cannot be read is added to it instead of stopping.
    Returns the `(height, width)` sizes found."""
    from PIL import Image

    sizes = set()
    for file in paths:
        with open_regular(file) as f:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged below, by our limit
                    with Image.open(f) as image:
                        width, height = image.size
                        frames = image.n_frames if image.format == "GIF" else 1  # TensorFlow decodes every frame
            except Image.DecompressionBombError as exc:  # over twice Pillow's limit: it says only the count
                count = re.search(r"\((\d+) pixels\)", str(exc))
                raise _too_large(file, f"{int(count[1]):,}" if count else
                                 f"more than {2 * Image.MAX_IMAGE_PIXELS:,}") from None
            except Exception as exc:  # noqa: BLE001 - Pillow raises many kinds on damaged headers
                if skipped is not None:
                    skipped.append(file)
                    continue
                raise _cannot_decode(file, str(exc) or type(exc).__name__) from None
        if width * height * frames > MAX_IMAGE_PIXELS:
            size = f"{height}×{width}" if frames == 1 else f"{frames} frames of {height}×{width}"  # as shapes read
            raise _too_large(file, f"{size} = {width * height * frames:,}")
        sizes.add((height, width))
    return sizes


def _too_large(file: str, pixels: str) -> CnnctlError:
    return CnnctlError(Problem(f"image of {pixels} pixels is over the limit of {MAX_IMAGE_PIXELS:,} pixels "
                               "(a guard against decompression bombs)", file=file,
                               hint="shrink the image to about the model input's size, or remove it"))


def _cannot_decode(file: str, reason: str) -> CnnctlError:
    reason = re.sub(r" <_io\.\w+ name=[^>]*>", "", reason)  # Pillow names the open file object, not the file
    return CnnctlError(Problem(f"cannot decode image: {reason}", file=file,
                               hint="the file is damaged or not an image; replace or remove it"))


def _has_image(folder: str) -> bool:
    return any(name.lower().endswith(IMAGE_EXTENSIONS) for _, _, files in os.walk(folder) for name in files)


def _undecodable(paths: list[str], exc: Exception) -> CnnctlError:
    """The first file TensorFlow cannot decode (looked for only once decoding failed), named."""
    import tensorflow as tf

    for file in paths:
        try:
            tf.io.decode_image(tf.io.read_file(file), expand_animations=False)
        except Exception as err:  # noqa: BLE001 - any failure names the file
            return _cannot_decode(file, (getattr(err, "message", None) or str(err)).splitlines()[0])
    reason = (getattr(exc, "message", None) or str(exc)).splitlines()[0]
    return CnnctlError(Problem(f"cannot read the images: {reason}", file=os.path.commonpath(paths) if paths else None))
