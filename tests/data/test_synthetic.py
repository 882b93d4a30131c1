import numpy as np
import pytest

from cnnctl.data.synthetic import SHAPES, make_synthetic
from cnnctl.errors import CnnctlError


def make(count=200, height=16, width=16, channels=1, classes=4, noise=0.1, seed=0):
    return make_synthetic(count, height, width, channels, classes, noise, seed)


def test_same_seed_same_data_other_seed_other_data():
    x1, y1 = make(seed=3)
    x2, y2 = make(seed=3)
    x3, y3 = make(seed=4)
    np.testing.assert_array_equal(x1, x2)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(x1, x3) and not np.array_equal(y1, y3)


@pytest.mark.parametrize("channels", [1, 3])
def test_shapes_dtypes_range(channels):
    x, y = make(count=50, height=20, width=12, channels=channels, classes=5)
    assert x.shape == (50, 20, 12, channels) and x.dtype == np.float32
    assert y.shape == (50,) and y.dtype == np.int64
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert set(y.tolist()) == set(range(5))


@pytest.mark.parametrize("count, classes", [(200, 4), (203, 8), (7, 3)])
def test_classes_are_balanced(count, classes):
    _, y = make(count=count, classes=classes)
    counts = np.bincount(y, minlength=classes)
    assert counts.sum() == count and counts.max() - counts.min() <= 1


def test_labels_are_shuffled():
    _, y = make(count=400, classes=4)
    assert not np.array_equal(y, np.sort(y)) and not np.array_equal(y, np.arange(400) % 4)


def test_every_image_has_a_shape_on_a_dark_background():
    x, _ = make(count=300, classes=8, noise=0.0)
    lit = (x > 0).reshape(300, -1).sum(axis=1)
    assert lit.min() >= 4  # something is drawn in every image
    assert lit.max() < 0.6 * 16 * 16  # and it never fills the image


def test_shapes_move_and_change_size():
    x, y = make(count=400, classes=2, noise=0.0)
    bars = x[y == 0, :, :, 0] > 0  # horizontal bars
    rows = np.array([np.flatnonzero(b.any(axis=1)).mean() for b in bars])
    widths = bars.any(axis=1).sum(axis=1)
    assert rows.std() > 1.5 and widths.std() > 0.5
    assert (bars.any(axis=1).sum(axis=1) > bars.any(axis=2).sum(axis=1)).all()  # wider than tall


def test_classes_differ_on_average():
    x, y = make(count=800, classes=8, noise=0.0)
    means = np.stack([x[y == k].mean(axis=0).ravel() for k in range(8)])
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    assert distances[~np.eye(8, dtype=bool)].min() > 0.5


def test_noise_has_the_requested_spread():
    clean, _ = make(count=100, noise=0.0, seed=1)
    noisy, _ = make(count=100, noise=0.05, seed=1)
    middle = (clean > 0.2) & (clean < 0.8)  # away from the clipping at 0 and 1
    assert abs((noisy - clean)[middle].std() - 0.05) < 0.005
    assert (noisy > 0).mean() > 0.4  # the dark background gets noise too


def test_colour_tint_differs_between_images():
    x, _ = make(count=100, channels=3, noise=0.0)
    peak = x.reshape(100, -1, 3).max(axis=1)  # each image's colour
    ratios = peak[:, 0] / peak.max(axis=1)
    assert ratios.std() > 0.1
    assert (peak.max(axis=1) >= 0.6 - 1e-6).all()  # always bright enough to see


def test_takes_the_first_kinds():
    assert len(SHAPES) == 8
    x, y = make(count=100, classes=2, noise=0.0)
    vertical = x[y == 1, :, :, 0] > 0
    assert (vertical.any(axis=2).sum(axis=1) > vertical.any(axis=1).sum(axis=1)).all()  # taller than wide


@pytest.mark.parametrize("kwargs, words", [
    ({"classes": 1}, "classes must be 2 to 8"),
    ({"classes": 9}, "classes must be 2 to 8"),
    ({"height": 4}, "at least 8×8"),
    ({"noise": -0.1}, "noise"),
    ({"noise": float("nan")}, "noise"),
    ({"channels": 0}, "channels"),
    ({"count": -1}, "count"),
])
def test_bad_arguments(kwargs, words):
    with pytest.raises(CnnctlError, match=words):
        make(**kwargs)


def test_all_problems_at_once():
    with pytest.raises(CnnctlError) as err:
        make(classes=12, height=2)
    assert len(err.value.problems) == 2
