"""The input pipeline: seeded order per epoch, exact resume, training-only augmentation, per-batch preparation."""

import numpy as np
import pytest

from cnnctl.data.pipeline import eval_dataset, label_encoder, train_dataset
from cnnctl.data.prepare import Split
from cnnctl.data.preprocess import Preprocess


def split(n=50, seed=0):
    rng = np.random.default_rng(seed)
    return Split(rng.integers(0, 256, (n, 6, 6, 1), dtype=np.uint8), rng.integers(0, 3, n))


def batches(dataset):
    return [(x.numpy(), y.numpy()) for x, y in dataset]


def flip():
    from cnnctl.data.augment import build_augmentation

    return build_augmentation([{"RandomFlip": {"mode": "horizontal"}}])


@pytest.fixture(scope="module")
def encode():
    return label_encoder("categorical_crossentropy", 3)


def test_every_image_once_per_epoch_in_a_seeded_order(encode):
    data = split()
    dataset, steps = train_dataset(data, 16, 7, 0, 3, Preprocess(1 / 255), encode)
    got = batches(dataset)
    assert steps == 4 and len(got) == 12 and [len(x) for x, _ in got[:4]] == [16, 16, 16, 2]
    epochs = [np.concatenate([x for x, _ in got[e * 4:(e + 1) * 4]]) for e in range(3)]
    stored = np.sort((data.x / 255).astype(np.float32).reshape(50, -1), axis=0)
    for images in epochs:
        np.testing.assert_allclose(np.sort(images.reshape(50, -1), axis=0), stored, rtol=1e-6)
    assert not np.array_equal(epochs[0], epochs[1])  # a new order each epoch
    labels = np.concatenate([y for _, y in got[:4]])
    assert labels.shape == (50, 3) and labels.sum() == 50  # one-hot


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_resuming_at_an_epoch_gives_the_same_batches(encode, augment):
    prepare = Preprocess(1 / 255, augmentation=flip() if augment else None)
    full = batches(train_dataset(split(), 16, 3, 0, 3, prepare, encode)[0])
    prepare = Preprocess(1 / 255, augmentation=flip() if augment else None)  # a new process: new layers
    resumed = batches(train_dataset(split(), 16, 3, 2, 3, prepare, encode)[0])
    assert len(resumed) == 4
    for (x, y), (rx, ry) in zip(full[8:], resumed):
        np.testing.assert_array_equal(x, rx)
        np.testing.assert_array_equal(y, ry)


def test_other_seed_other_order(encode):
    a = batches(train_dataset(split(), 50, 1, 0, 1, Preprocess(1 / 255), encode)[0])
    b = batches(train_dataset(split(), 50, 2, 0, 1, Preprocess(1 / 255), encode)[0])
    assert not np.array_equal(a[0][0], b[0][0])


def test_evaluation_is_in_order_and_never_augmented(encode):
    data = split()
    prepare = Preprocess(1 / 255, mean=(0.5,), std=(0.25,), augmentation=flip())
    got = batches(eval_dataset(data, 16, prepare, encode))
    images = np.concatenate([x for x, _ in got])
    np.testing.assert_allclose(images, (data.x / 255 - 0.5) / 0.25, rtol=1e-5, atol=1e-5)
    assert np.concatenate([y for _, y in got]).argmax(axis=1).tolist() == data.y.tolist()


def test_sparse_labels_stay_integers():
    dataset, _ = train_dataset(split(), 16, 0, 0, 1, Preprocess(1 / 255, augmentation=flip()),
                               label_encoder("sparse_categorical_crossentropy", 3))
    _, y = next(iter(dataset))
    assert y.dtype.is_integer and y.shape == (16,)
