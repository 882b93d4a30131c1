"""tf.data pipelines over splits held in memory or read from disk (`cnnctl.data.ondisk`).

The training order of epoch `e` is a permutation drawn from `(seed, e)`
alone, never from an iterator's hidden state, and augmentation draws its
randomness from `(seed, e, step)`, so a run resumed at epoch `e` sees exactly
the batches an uninterrupted run would. Work is done per batch, never per
image: one gather of stored (uint8) images, one cast and multiply-add. Images
left on disk (`cnnctl.data.ondisk`: `data.cache: none` or `disk`) follow the
same order: the batch's files are decoded in parallel, in order, or its rows
read from a memory map, and the batches are those of the same split in memory.

Every training batch is full: an epoch is `n // batch_size` steps, and the
few images left over are different ones each epoch, so every image is still
seen. A short last batch gives its few images the step a whole batch would
have: with 7,201 images at batch 100, the lecture's SGD 0.1 took a full step
on one image at the end of every epoch, and that step alone blew the network
up (issue #14).
"""

from __future__ import annotations

from typing import Any, Callable

from cnnctl.data.ondisk import DiskImages
from cnnctl.data.prepare import Split
from cnnctl.data.preprocess import Preprocess
from cnnctl.keras_catalog import keras

Encode = Callable[[Any], Any]
# Batches made ready ahead when images are read from disk: a fixed few, not AUTOTUNE, whose buffers grow
# while the model waits (evaluation, faster than training, waits most) and with them the memory.
DISK_PREFETCH = 4


def train_dataset(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int, prepare: Preprocess,
                  encode: Encode) -> tuple[Any, int]:
    """Batches for epochs `first_epoch`..`epochs - 1`, and the number of steps per epoch.

    `prepare` turns stored images into model inputs and augments them
    (`Data.prepare`); `encode` turns labels into what the loss takes.
    """
    keras()
    import tensorflow as tf

    n = len(split)
    steps = steps_per_epoch(n, batch_size)
    if isinstance(split.x, DiskImages):
        return _train_from_disk(split, batch_size, seed, first_epoch, epochs, prepare, encode), steps
    x, y = tf.constant(split.x), tf.constant(split.y)
    seed = tf.constant(seed, tf.int64)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([seed, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size, drop_remainder=n >= batch_size)
        return batches.enumerate().map(lambda step, idx: (e, step, idx))

    def fetch(e, step, idx):
        key = tf.random.experimental.stateless_fold_in(tf.stack([seed, e]), step)
        return prepare.train_inputs(tf.gather(x, idx), encode(tf.gather(y, idx)), key)

    data = (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
            .map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    return data, steps


def _train_from_disk(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int, prepare: Preprocess,
                     encode: Encode) -> Any:
    """`train_dataset` for images read from disk a batch at a time (`cnnctl.data.ondisk`): the same epoch
    order, batches and augmentation keys as in memory, image for image.

    The epoch's order is followed by itself once more: if a damaged file is skipped (`on_corrupt: skip`),
    the next images of the order fill its batch, so every epoch still has its `steps` full batches and a
    resumed run sees what an uninterrupted one saw.
    """
    import tensorflow as tf

    n, images = len(split), split.x
    steps = steps_per_epoch(n, batch_size)
    y, seed = tf.constant(split.y), tf.constant(seed, tf.int64)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([seed, e]))
        spares = tf.concat([order, order], 0) if n >= batch_size else order
        batches = images.batches(spares, batch_size, n >= batch_size, training=True).take(steps)
        return batches.enumerate().map(lambda step, batch: (e, step, batch[0], batch[1]))

    def fetch(e, step, x, where):
        key = tf.random.experimental.stateless_fold_in(tf.stack([seed, e]), step)
        return prepare.train_inputs(x, encode(tf.gather(y, where)), key)

    return (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
            .map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(DISK_PREFETCH))


def steps_per_epoch(images: int, batch_size: int) -> int:
    """Full batches only; one short batch if there are fewer images than one batch."""
    return max(1, images // batch_size)


def eval_dataset(split: Split, batch_size: int, prepare: Preprocess, encode: Encode) -> Any:
    """Batches in order, once, for validation and test: never augmented."""
    keras()
    import tensorflow as tf

    if isinstance(split.x, DiskImages):  # read a batch at a time; a damaged file stops (see ondisk)
        y = tf.constant(split.y)
        data = split.x.batches(tf.range(len(split), dtype=tf.int64), batch_size, False, training=False).map(
            lambda x, where: (x, tf.gather(y, where)))
        # nothing is left out here, so Keras may know the count (else it warns that the input ran out)
        data = data.apply(tf.data.experimental.assert_cardinality(-(-len(split) // batch_size)))
    else:
        data = tf.data.Dataset.from_tensor_slices((split.x, split.y)).batch(batch_size)
    return data.map(lambda x, y: (prepare.inputs(x), encode(y)), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        DISK_PREFETCH if isinstance(split.x, DiskImages) else tf.data.AUTOTUNE)


CHECK_IMAGES = 1000


def check_dataset(split: Split, batch_size: int, seed: int, prepare: Preprocess, encode: Encode) -> Any:
    """The divergence guard's check images: a fixed, seeded sample of up to `CHECK_IMAGES` training images,
    never augmented, so their loss compares one epoch's weights with another's."""
    import numpy as np

    from cnnctl.data.ondisk import ImageFiles

    n = len(split)
    chosen = np.sort(np.random.default_rng(seed).choice(n, min(n, CHECK_IMAGES), replace=False))
    x, y = split.x[chosen], split.y[chosen]
    if isinstance(x, ImageFiles):  # decoded once, not at every epoch's end; skipped as training skips
        x, good = x.read_decodable(x.rows)
        y = y[good]
    return eval_dataset(Split(x, y), batch_size, prepare, encode)


def label_encoder(loss_name: str, output_units: int) -> Encode:
    """Labels as the loss needs them: integers for sparse losses, a 0/1 column for one sigmoid unit, else one-hot."""
    import tensorflow as tf

    if "sparse" in loss_name.lower():
        return lambda y: y
    if output_units == 1:
        return lambda y: tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
    return lambda y: tf.one_hot(y, output_units)
