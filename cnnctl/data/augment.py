"""Augmentation: Keras' image preprocessing layers on training batches, inside tf.data, seeded per batch.

Keras' random layers draw from a `SeedGenerator` whose state is a variable,
so what a batch gets depends on how many batches came before: a resumed run
would augment differently from an uninterrupted one, and parallel map calls
would race for the state. Here each layer's generator is replaced by one that
derives every seed from a key made of (train.seed, epoch, step) alone, so a
batch is augmented the same way in every run, resumed or not, in any order.
Keras' random layers take their seeds from `self.generator`, as its
`DataLayer` documents; that attribute is what is replaced. Importing this
module imports Keras: `cnnctl.data.prepare` does so only for configs that augment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from cnnctl.config.data import augment_entries, augmentation_layers
from cnnctl.errors import CnnctlError
from cnnctl.keras_catalog import keras

ErrorAt = Callable[..., CnnctlError]  # Config.error: (key path, message, hint) -> CnnctlError
TRIAL_IMAGES = 8


class BatchSeeds(keras().random.SeedGenerator):
    """A layer's seed generator without state: `start(key)` per batch, then one seed per random op, from the key."""

    def __init__(self) -> None:  # no super().__init__(): no state variable to race for
        self.name = "batch_seeds"
        self.key: Any = None
        self.count = 0

    def start(self, key: Any) -> None:
        self.key, self.count = key, 0

    def next(self, ordered: bool = True) -> Any:
        import tensorflow as tf

        self.count += 1  # counted while tracing: each random op in the graph gets its own seed
        return tf.random.experimental.stateless_fold_in(self.key, self.count)


@dataclass(frozen=True)
class Step:
    """One configured layer: the Keras layer, its seeds and where the config names it."""

    path: tuple
    name: str
    layer: Any
    seeds: BatchSeeds


class Augmentation:
    """The `data.augment` layers, applied in order to a batch of images in 0-255 and their encoded labels.

    Labels go through the layers too when they are floats (one-hot or a 0/1
    column), so MixUp and CutMix mix them; integer labels (sparse losses) are
    left alone, and a layer that would mix them is refused by `check`.
    """

    def __init__(self, steps: list[Step]):
        self.steps = steps

    def __call__(self, images: Any, labels: Any, key: Any) -> tuple[Any, Any]:
        import tensorflow as tf

        for i, step in enumerate(self.steps):
            images, labels = _apply(step, images, labels, tf.random.experimental.stateless_fold_in(key, i))
        return images, labels

    def check(self, images: np.ndarray, classes: int, sparse: bool, error: ErrorAt) -> None:
        """Run each layer once on a few training images, as the pipeline will, so mistakes surface before training.

        Raises `CnnctlError` at the layer's entry when Keras refuses the
        images, when a layer mixes labels that a sparse loss keeps as
        integers, or when the augmentation changes the image size
        (evaluation images are not augmented, and the model takes one size).
        """
        import tensorflow as tf

        x = images[:TRIAL_IMAGES].astype(np.float32)
        y = np.eye(max(classes, 2), dtype=np.float32)[np.arange(len(x)) % max(classes, 2)]
        resized_by = None
        for i, step in enumerate(self.steps):
            try:  # Keras raises while the map is traced or while it runs
                trial = tf.data.Dataset.from_tensors((x, y)).map(
                    lambda x, y, step=step, i=i: _apply(step, x, y, tf.constant([i, 0], tf.int64)))
                out_x, out_y = (t.numpy() for t in next(iter(trial)))
            except Exception as exc:  # Keras' own message, at the entry that caused it
                raise error(step.path + (step.name,),
                            f"{step.name} cannot augment the training images: {_reason(exc)}") from None
            if sparse and (out_y.shape != y.shape or not np.allclose(out_y, y)):
                raise error(step.path + (step.name,), f"{step.name} mixes labels, which a sparse loss keeps as "
                                                      "integers", "use categorical_crossentropy")
            resized_by = step if out_x.shape != x.shape else resized_by
            x, y = out_x, out_y
        if x.shape[1:] != images.shape[1:]:
            raise error(resized_by.path + (resized_by.name,),
                        f"the augmentation turns {_dims(images.shape[1:])} images into {_dims(x.shape[1:])} "
                        f"(last resized by {resized_by.name}), but the model takes one size and only training "
                        "images are augmented", "keep the size: e.g. Resizing larger, then RandomCrop to the "
                                                "model input")


def build_augmentation(raw: list[Any]) -> Augmentation | None:
    """Keras layers for the (validated) `data.augment` entries, seeded per batch; None when there are none."""
    if not raw:
        return None
    classes = augmentation_layers()
    steps = []
    for path, name, args in augment_entries(raw):
        layer = classes[name](**{"dtype": "float32", **args})  # float32 whatever the precision policy
        seeds = BatchSeeds()
        _reseed(layer, seeds)
        steps.append(Step(path, name, layer, seeds))
    return Augmentation(steps)


def _reseed(layer: Any, seeds: BatchSeeds) -> None:
    """Point every SeedGenerator of `layer` and its sub-layers (RandAugment's) at `seeds`."""
    for owner in [layer, *layer._flatten_layers(include_self=False)]:
        for attr, value in list(vars(owner).items()):
            if isinstance(value, keras().random.SeedGenerator):
                object.__setattr__(owner, attr, seeds)  # past Keras' tracking: it holds no variable


def _apply(step: Step, images: Any, labels: Any, key: Any) -> tuple[Any, Any]:
    import tensorflow as tf

    step.seeds.start(key)
    if not labels.dtype.is_floating:
        return step.layer(images, training=True), labels
    try:
        out = step.layer({"images": images, "labels": labels}, training=True)
    except NotImplementedError:  # a layer that does not say what it does to labels leaves them alone
        step.seeds.start(key)
        return step.layer(images, training=True), labels
    return out["images"], tf.cast(out["labels"], labels.dtype)


def _dims(shape: tuple) -> str:
    return "×".join(map(str, shape))


def _reason(exc: Exception) -> str:
    """The line of a Keras or TensorFlow error that says what is wrong, without traceback or colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", getattr(exc, "message", None) or str(exc))
    called = re.search(r"Exception encountered when calling [^\n]*\n\s*\n\s*(\S[^\n]*)", text)
    if called:
        return called.group(1).strip()
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line and line != "in user code:" and not line.startswith("File ")]
    return lines[0] if lines else type(exc).__name__
