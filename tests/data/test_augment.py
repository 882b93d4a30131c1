"""Augmentation: Keras layers by name, training batches only, seeded per batch, mistakes caught before training."""

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.data.pipeline import eval_dataset, label_encoder, train_dataset
from cnnctl.data.prepare import load_data
from cnnctl.errors import CnnctlError


def config(augment, loss="categorical_crossentropy", units=4, validation=0.1):
    return parse_config(f"""
data:
  synthetic: {{train_size: 120, test_size: 40}}
  augment: {augment}
model:
  input_shape: [16, 16, 1]
  layers: [Flatten, {{Dense: {{units: {units}, activation: softmax}}}}]
train: {{loss: {loss}, validation: {validation}}}
""")


def train_images(data, loss="categorical_crossentropy", epochs=1):
    dataset, _ = train_dataset(data.train, 200, 0, 0, epochs, data.prepare, label_encoder(loss, data.classes))
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def test_flips_touch_training_batches_only():
    cfg = config("[{RandomFlip: {mode: horizontal}}]")
    data = load_data(cfg, (16, 16, 1))
    [(images, _)] = train_images(data)
    # the batch is the whole split in a shuffled order: match each image to a stored one, as is or mirrored
    stored = data.train.x.reshape(len(data.train), -1)
    mirrored = data.train.x[:, :, ::-1].reshape(len(data.train), -1)
    flat = images.reshape(len(images), -1)
    as_is = np.abs(flat[:, None] - stored[None]).max(axis=2).min(axis=1) < 1e-5
    flipped = np.abs(flat[:, None] - mirrored[None]).max(axis=2).min(axis=1) < 1e-5
    assert (as_is | flipped).all() and 0.3 < (flipped & ~as_is).mean() < 0.7
    for split in (data.validation, data.test):
        batches = eval_dataset(split, 500, data.prepare, label_encoder("categorical_crossentropy", data.classes))
        np.testing.assert_array_equal(next(iter(batches))[0].numpy(), split.x)
    assert data.report["augment"] == ["RandomFlip"]


def test_same_batches_in_every_run_different_in_every_epoch():
    cfg = config("[{RandomRotation: {factor: 0.1}}, {RandomZoom: {height_factor: 0.2}}, {RandomContrast: {factor: 0.3}}]")
    first = train_images(load_data(cfg, (16, 16, 1)), epochs=2)
    second = train_images(load_data(cfg, (16, 16, 1)), epochs=2)
    for (x1, y1), (x2, y2) in zip(first, second):
        np.testing.assert_array_equal(x1, x2)
        np.testing.assert_array_equal(y1, y2)
    plain = train_images(load_data(config("[]"), (16, 16, 1)))
    assert not np.allclose(first[0][0], plain[0][0], atol=1e-3)  # augmented at all
    order = np.argsort(first[0][1].argmax(1), kind="stable"), np.argsort(first[1][1].argmax(1), kind="stable")
    assert not np.allclose(np.sort(first[0][0].ravel()), np.sort(first[1][0].ravel()))  # epoch 2 draws anew
    assert len(order[0]) == 108


def test_pixels_reach_the_layers_in_0_to_255():
    """Keras' colour layers default to value_range [0, 255]; with [0, 1] pixels this inversion would give ~254."""
    data = load_data(config("[{RandomInvert: {factor: 1.0}}]"), (16, 16, 1))
    [(images, _)] = train_images(data)
    assert images.min() >= -1e-5 and images.max() <= 1 + 1e-5 and images.mean() > 0.5


def test_mixup_mixes_one_hot_labels():
    data = load_data(config("[MixUp]"), (16, 16, 1))
    [(_, labels)] = train_images(data)
    np.testing.assert_allclose(labels.sum(axis=1), 1, rtol=1e-5)
    assert ((labels > 0.01) & (labels < 0.99)).any()


def test_mixup_with_a_sparse_loss_is_refused():
    cfg = config("[RandomFlip, MixUp]", loss="sparse_categorical_crossentropy")
    with pytest.raises(CnnctlError, match="MixUp mixes labels, which a sparse loss keeps as integers") as err:
        load_data(cfg, (16, 16, 1))
    assert err.value.path == "data.augment.1.MixUp" and err.value.line == 4


def test_a_layer_that_changes_the_size_is_refused():
    with pytest.raises(CnnctlError, match=r"turns 16×16×1 images into 12×12×1 \(last resized by RandomCrop\)") as err:
        load_data(config("[{RandomCrop: {height: 12, width: 12}}]"), (16, 16, 1))
    assert err.value.path == "data.augment.0.RandomCrop"
    data = load_data(config("[{Resizing: {height: 20, width: 20}}, {RandomCrop: {height: 16, width: 16}}]"),
                     (16, 16, 1))
    assert train_images(data)[0][0].shape == (108, 16, 16, 1)


def test_keras_refusing_the_images_is_reported_at_the_entry():
    with pytest.raises(CnnctlError) as err:  # colour jitter needs RGB images
        load_data(config("[{RandomHue: {factor: 0.5}}]"), (16, 16, 1))
    assert err.value.path == "data.augment.0.RandomHue" and "cannot augment the training images" in str(err.value)


def test_layers_keep_float32_under_mixed_precision():
    from cnnctl.keras_catalog import keras

    k = keras()
    k.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        data = load_data(config("[{RandomTranslation: {height_factor: 0.1, width_factor: 0.1}}]"), (16, 16, 1))
        [(images, labels)] = train_images(data)
    finally:
        k.mixed_precision.set_global_policy("float32")
    assert images.dtype == np.float32 and labels.dtype == np.float32
