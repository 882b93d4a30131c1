"""tf.data pipelines over in-memory splits.

The training order of epoch `e` is a permutation drawn from `(seed, e)`
alone, never from an iterator's hidden state, so a run resumed at epoch `e`
sees exactly the batches an uninterrupted run would.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from cnnctl.data.prepare import Split
from cnnctl.keras_catalog import keras

Encode = Callable[[Any], Any]


def train_dataset(split: Split, batch_size: int, seed: int, first_epoch: int, epochs: int, scale: float,
                  encode: Encode) -> tuple[Any, int]:
    """Batches for epochs `first_epoch`..`epochs - 1`, and the number of steps per epoch."""
    keras()
    import tensorflow as tf

    n = len(split)
    steps = math.ceil(n / batch_size)
    x, y = tf.constant(split.x), tf.constant(split.y)

    def epoch(e):
        order = tf.random.experimental.stateless_shuffle(tf.range(n, dtype=tf.int64), seed=tf.stack([seed, e]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def fetch(idx):
        return _prepare(tf.gather(x, idx), scale), encode(tf.gather(y, idx))

    data = (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch)
            .map(fetch, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE))
    return data, steps


def eval_dataset(split: Split, batch_size: int, scale: float, encode: Encode) -> Any:
    """Batches in order, once, for validation and test."""
    keras()
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((split.x, split.y)).batch(batch_size)
    return data.map(lambda x, y: (_prepare(x, scale), encode(y)), num_parallel_calls=tf.data.AUTOTUNE).prefetch(
        tf.data.AUTOTUNE)


def _prepare(x: Any, scale: float) -> Any:
    import tensorflow as tf

    x = tf.cast(x, tf.float32)
    return x * scale if scale != 1.0 else x


def label_encoder(loss_name: str, output_units: int) -> Encode:
    """Labels as the loss needs them: integers for sparse losses, a 0/1 column for one sigmoid unit, else one-hot."""
    import tensorflow as tf

    if "sparse" in loss_name.lower():
        return lambda y: y
    if output_units == 1:
        return lambda y: tf.cast(tf.reshape(y, (-1, 1)), tf.float32)
    return lambda y: tf.one_hot(y, output_units)
