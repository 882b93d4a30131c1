"""Images that stay on disk until a batch needs them: a folder's image files, or a memory-mapped array.

A folder of 100k photos decoded whole does not fit in memory, and decoding
it takes minutes before the first step. These classes stand where a NumPy
array of images stands in a `Split` (`shape`, `dtype`, `len`, indexing by a
slice, an index array or a mask), but indexing only narrows a list of rows:
nothing is read until `np.asarray` (a few images: the augmentation trial,
the mistakes drawn, the statistics sample) or until the input pipeline asks
`batches` for them, inside tf.data, in parallel and in order. Memory then
holds the file list and the batches in flight, whatever the image count.

A file that cannot be decoded is found when it is read and named: with
`data.on_corrupt: stop` (the default) the run stops with its name; with
`skip` it is left out of training (every epoch still has its full batches:
spare images of the epoch's own order take its place), named once on
stderr and listed under `skipped_files` in results.json.
"""

from __future__ import annotations

import re
import sys
from typing import Any

import numpy as np

from cnnctl.errors import CnnctlError, Problem

# Marks a corrupt file inside a TensorFlow error: the pipeline's Python callback raises it, tf.data wraps it
# in its own error, and `corrupt_file_error` finds the file's name again.
MARK = "cnnctl-corrupt-image<{}:{}>"  # training or evaluation, and the file
MARK_PATTERN = re.compile(r"cnnctl-corrupt-image<(training|evaluation):(.*?)>")
READ_CHUNK = 256  # images decoded per batch when images are read whole (np.asarray, the disk cache)


class DiskImages:
    """Rows of an image source on disk; `x[rows]` narrows, `np.asarray(x)` reads."""

    def __init__(self, rows: np.ndarray, item_shape: tuple[int, ...], dtype: np.dtype):
        self.rows = np.asarray(rows, np.int64)
        self.item_shape = tuple(item_shape)
        self.dtype = np.dtype(dtype)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.rows), *self.item_shape)

    @property
    def ndim(self) -> int:
        return 1 + len(self.item_shape)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (int, np.integer)):
            return np.asarray(self.narrow(self.rows[[key]]))[0]
        return self.narrow(self.rows[key])

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        images = self.read(self.rows)
        return images if dtype is None else images.astype(dtype)

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))

    def astype(self, dtype: Any) -> np.ndarray:
        return np.asarray(self).astype(dtype)

    def max(self) -> Any:
        """The largest value, read `READ_CHUNK` images at a time."""
        return max(np.asarray(self[start:start + READ_CHUNK]).max() for start in range(0, len(self), READ_CHUNK))

    def narrow(self, rows: np.ndarray) -> "DiskImages":
        raise NotImplementedError

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The images at `rows` (of the source), decoded, in that order."""
        raise NotImplementedError

    def batches(self, order: Any, batch_size: int, drop_remainder: bool, training: bool) -> Any:
        """A tf.data dataset of `(uint8 images, positions)` batches of the images at `order` (a 1-D tensor of
        positions in this split), in that order.

        `training`: a corrupt file may be skipped (`on_corrupt: skip`); in validation and test it always
        stops the run, since scores over other images would not compare with other runs'.
        """
        raise NotImplementedError


class ImageFiles(DiskImages):
    """Image files decoded and resized to `height`×`width`×`channels` as Keras' `image_dataset_from_directory`
    does it (decode, bilinear resize), then rounded to uint8 as cnnctl stores a folder in memory."""

    def __init__(self, paths: np.ndarray, rows: np.ndarray | None, height: int, width: int, channels: int,
                 on_corrupt: str = "stop", skipped: list[str] | None = None, resize: bool = True):
        super().__init__(np.arange(len(paths)) if rows is None else rows, (height, width, channels), np.uint8)
        self.paths = np.asarray(paths, dtype=object)
        self.on_corrupt = on_corrupt
        self.skipped = [] if skipped is None else skipped  # shared by every narrowing: one list for the run
        self.resize = resize  # False: every header said the model's size, so no image needs resizing

    @property
    def files(self) -> list[str]:
        return [str(p) for p in self.paths[self.rows]]

    def narrow(self, rows: np.ndarray) -> "ImageFiles":
        height, width, channels = self.item_shape
        return ImageFiles(self.paths, rows, height, width, channels, self.on_corrupt, self.skipped, self.resize)

    def read(self, rows: np.ndarray) -> np.ndarray:
        """As `DiskImages.read`; with `on_corrupt: skip`, without the images that cannot be decoded (read
        here: the statistics sample, the augmentation trial, a few test images shown after testing them)."""
        images, good = self.read_decodable(rows)
        return images

    def read_decodable(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The images at `rows` that can be decoded (all, or it raises, unless `on_corrupt: skip`), and which.
        Training images (what is read whole is: the check images, the statistics sample)."""
        out = np.empty((len(rows), *self.item_shape), np.uint8)
        good = self.narrow(rows)._decode(out, training=True)
        return (out if good.all() else out[good]), good

    def decode_into(self, out: np.ndarray) -> np.ndarray:
        """Decode every image into `out` (an array or a memory map); which could be (all, unless skipped)."""
        return self._decode(out, training=True)

    def _decode(self, out: np.ndarray, training: bool) -> np.ndarray:
        import tensorflow as tf

        good = np.zeros(len(self), bool)
        if not len(self):  # nothing to read (no mistakes to show, say): tf.data is not needed
            return good
        try:
            for images, where in self.batches(tf.range(len(self), dtype=tf.int64), READ_CHUNK, False, training,
                                              to_end=True):
                out[where.numpy()] = images.numpy()
                good[where.numpy()] = True
        except tf.errors.OpError as exc:
            raise corrupt_file_error(exc) or exc from None
        return good

    def batches(self, order: Any, batch_size: int, drop_remainder: bool, training: bool,
                to_end: bool | None = None) -> Any:
        import tensorflow as tf

        to_end = not training if to_end is None else to_end
        paths = tf.constant(self.files, tf.string)  # typed: an empty split is a list of no strings
        height, width, channels = self.item_shape
        order = tf.convert_to_tensor(order, tf.int64)
        end = tf.size(order, tf.int64)

        def decode(k: Any) -> Any:
            image = tf.image.decode_image(tf.io.read_file(paths[order[k]]), channels=channels,
                                          expand_animations=False)
            if not self.resize:  # as the headers said: a file changed since fails ensure_shape, and is named
                return tf.ensure_shape(image, self.item_shape), k
            size = tf.shape(image)[:2]
            image = tf.cond(  # an image already at the model's size is left as decoded: resizing is the identity
                tf.reduce_all(size == (height, width)), lambda: image,
                lambda: tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, (height, width), method="bilinear")),
                                                 0, 255), tf.uint8))
            return tf.ensure_shape(image, self.item_shape), k

        def missing(last: Any, item: Any) -> Any:
            """The files between the last image decoded and this one could not be: named, then skipped or raised."""
            x, k = item
            named = tf.cond(k > last + 1, lambda: tf.py_function(
                lambda gap: all(self._corrupt(int(p), training) for p in gap.numpy()), [order[last + 1:k]], tf.bool),
                lambda: tf.constant(True))
            with tf.control_dependencies([named]):
                return tf.identity(k), (x, order[tf.minimum(k, end - 1)], k)

        # tf.data has no per-image try: images that fail to decode are dropped (ignore_errors), and the gap they
        # leave in the numbering is found, in order, by the scan. Training reads on into the spare images that
        # follow an epoch's order (see pipeline._train_from_disk), so only evaluation, which reads to the end,
        # (or a whole read: `to_end`) needs an end marker to find a gap at the end.
        data = tf.data.Dataset.range(end).map(decode, num_parallel_calls=tf.data.AUTOTUNE,
                                              deterministic=True).ignore_errors()
        if to_end:
            data = data.concatenate(tf.data.Dataset.from_tensors((tf.zeros(self.item_shape, tf.uint8), end)))
        data = data.scan(tf.constant(-1, tf.int64), missing)
        if to_end:
            data = data.filter(lambda x, position, k: k < end)
        return data.map(lambda x, position, k: (x, position)).batch(batch_size, drop_remainder=drop_remainder)

    def _corrupt(self, position: int, training: bool) -> bool:
        """A file that cannot be decoded: named and skipped (returns False), or named in the error that stops."""
        file = str(self.paths[self.rows[position]])
        if training and self.on_corrupt == "skip":
            if file not in self.skipped:
                self.skipped.append(file)
                print(f"warning: {file}: cannot decode image, skipped (data.on_corrupt: skip)", file=sys.stderr)
            return False
        raise RuntimeError(MARK.format("training" if training else "evaluation", file))


class MappedImages(DiskImages):
    """Rows of an array on disk (`np.memmap`, or a .npy opened with `mmap_mode`), read a batch at a time."""

    def __init__(self, array: np.ndarray, rows: np.ndarray | None = None):
        super().__init__(np.arange(len(array)) if rows is None else rows, array.shape[1:], array.dtype)
        self.array = array

    def narrow(self, rows: np.ndarray) -> "MappedImages":
        return MappedImages(self.array, rows)

    def read(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")  # ascending offsets read the file forwards
        out = np.empty((len(rows), *self.item_shape), self.dtype.newbyteorder("="))
        out[order] = self.array[np.asarray(rows)[order]]
        return out

    def batches(self, order: Any, batch_size: int, drop_remainder: bool, training: bool) -> Any:
        import tensorflow as tf

        dtype = tf.as_dtype(self.dtype.newbyteorder("="))

        def gather(where: Any) -> Any:
            images = tf.numpy_function(lambda p: self.read(self.rows[p]), [where], dtype, stateful=False)
            return tf.ensure_shape(images, (None, *self.item_shape)), where

        return tf.data.Dataset.from_tensor_slices(tf.convert_to_tensor(order, tf.int64)).batch(
            batch_size, drop_remainder=drop_remainder).map(gather, num_parallel_calls=tf.data.AUTOTUNE,
                                                           deterministic=True)


def corrupt_file_error(exc: BaseException) -> CnnctlError | None:
    """The one-line error for a TensorFlow error raised by a corrupt file in the pipeline, or None if not one."""
    found = MARK_PATTERN.search(str(getattr(exc, "message", None) or exc))
    if not found:
        return None
    role, file = found.groups()
    skip = ("set data.on_corrupt: skip to train without it" if role == "training" else
            "a validation or test image is never skipped: scores over other images would not compare")
    return CnnctlError(Problem(f"cannot decode image: {_reason(file)}", file=file,
                               hint=f"replace or remove the file, or {skip}; `cnnctl resume` continues the run"
                               if role == "training" else
                               f"replace or remove the file ({skip}); `cnnctl resume` continues the run"))


def _reason(file: str) -> str:
    """What TensorFlow says of the file, decoded again now that its name is known."""
    import tensorflow as tf

    try:
        tf.io.decode_image(tf.io.read_file(file), expand_animations=False)
    except Exception as err:  # noqa: BLE001 - any failure is the reason
        reason = (getattr(err, "message", None) or str(err)).splitlines()[0]
        return re.sub(r"\{\{.*?\}\}\s*|\s*\[Op:.*$", "", reason)  # TensorFlow's node and op names
    return "it could not be read during training"
