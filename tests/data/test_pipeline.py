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


def test_full_batches_of_distinct_images_in_a_new_seeded_order_each_epoch(encode):
    """50 images at batch 16: 3 full steps an epoch; the 2 images left over differ from epoch to epoch."""
    data = split()
    dataset, steps = train_dataset(data, 16, 7, 0, 3, Preprocess(1 / 255), encode)
    got = batches(dataset)
    assert steps == 3 and [len(x) for x, _ in got] == [16] * 9
    index = {data.x[i].tobytes(): i for i in range(50)}
    epochs = [[index[np.rint(image * 255).astype(np.uint8).tobytes()] for x, _ in got[e * 3:(e + 1) * 3]
               for image in x] for e in range(3)]
    for seen in epochs:
        assert len(set(seen)) == 48  # no image twice in an epoch
    assert len({frozenset(range(50)) - set(seen) for seen in epochs}) == 3  # other images left over each time
    assert epochs[0] != epochs[1]
    labels = np.concatenate([y for _, y in got[:3]])
    assert labels.shape == (48, 3) and labels.sum() == 48  # one-hot
    assert labels.argmax(axis=1).tolist() == [int(data.y[i]) for i in epochs[0]]


def test_fewer_images_than_a_batch_make_one_short_batch(encode):
    dataset, steps = train_dataset(split(10), 16, 7, 0, 2, Preprocess(1 / 255), encode)
    assert steps == 1 and [len(x) for x, _ in batches(dataset)] == [10, 10]


@pytest.mark.parametrize("augment", [False, True], ids=["plain", "augmented"])
def test_resuming_at_an_epoch_gives_the_same_batches(encode, augment):
    prepare = Preprocess(1 / 255, augmentation=flip() if augment else None)
    full = batches(train_dataset(split(), 16, 3, 0, 3, prepare, encode)[0])
    prepare = Preprocess(1 / 255, augmentation=flip() if augment else None)  # a new process: new layers
    resumed = batches(train_dataset(split(), 16, 3, 2, 3, prepare, encode)[0])
    assert len(full) == 9 and len(resumed) == 3
    for (x, y), (rx, ry) in zip(full[6:], resumed):
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
