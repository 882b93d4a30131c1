"""tf.data pipelines over in-memory splits.

The training order of epoch `e` is a permutation drawn from `(seed, e)`
alone, never from an iterator's hidden state, and augmentation draws its
randomness from `(seed, e, step)`, so a run resumed at epoch `e` sees exactly
the batches an uninterrupted run would. Work is done per batch, never per
image: one gather of stored (uint8) images, one cast and multiply-add.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from cnnctl.data.prepare import Split
from cnnctl.data.preprocess import Preprocess
from cnnctl.keras_catalog import keras

Encode = Callable[[Any], Any]


def train_dataset(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int, prepare: Preprocess,
                  encode: Encode) -> tuple[Any, int]:
    """Batches for epochs `first_epoch`..`epochs - 1`, and the number of steps per epoch.

    `prepare` turns stored images into model inputs and augments them
    (`Data.prepare`); `encode` turns labels into what the loss takes.
    """
    keras()
    import tensorflow as tf

    n = len(split)
    steps = math.ceil(n / batch_size)
    x, y = tf.constant(split.x), tf.constant(split.y)
    seed = tf.constant(seed, tf.int64)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([seed, e]))
        batches = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
        return batches.enumerate().map(lambda step, idx: (e, step, idx))

    def fetch(e, step, idx):
        key = tf.random.experimental.stateless_fold_in(tf.stack([seed, e]), step)
        return prepare.train_inputs(tf.gather(x, idx), encode(tf.gather(y, idx)), key)

    data = (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
            .map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    return data, steps


def eval_dataset(split: Split, batch_size: int, prepare: Preprocess, encode: Encode) -> Any:
    """Batches in order, once, for validation and test: never augmented."""
    keras()
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((split.x, split.y)).batch(batch_size)
    return data.map(lambda x, y: (prepare.inputs(x), encode(y)), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def label_encoder(loss_name: str, output_units: int) -> Encode:
    """Labels as the loss needs them: integers for sparse losses, a 0/1 column for one sigmoid unit, else one-hot."""
    import tensorflow as tf

    if "sparse" in loss_name.lower():
        return lambda y: y
    if output_units == 1:
        return lambda y: tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
    return lambda y: tf.one_hot(y, output_units)
