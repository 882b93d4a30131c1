"""Image arrays from files: numbers, at least one image, every value finite; refused by file and array otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.data.idx import read_idx_pair
from cnnctl.data.images import image_array
from cnnctl.data.npz import read_npz
from cnnctl.errors import CnnctlError


def arrays(**changes):
    rng = np.random.default_rng(0)
    return {"x_train": rng.random((6, 5, 4), np.float32), "y_train": np.arange(6) % 3,
            "x_test": rng.random((4, 5, 4), np.float32), "y_test": np.arange(4) % 3, **changes}


def test_nan_and_infinite_pixels_are_counted_and_the_first_image_named(tmp_path):
    x = arrays()["x_train"].copy()
    x[2, 0, :3] = np.nan
    x[4, 1, 1] = -np.inf
    np.savez(tmp_path / "d.npz", **arrays(x_train=x))
    with pytest.raises(CnnctlError, match=r"x_train: 4 pixel values are NaN or infinite \(the first in image 2\)") \
            as err:
        read_npz(tmp_path / "d.npz")
    assert err.value.file == str(tmp_path / "d.npz") and "np.nan_to_num" in str(err.value)


def test_one_infinite_pixel_among_many_chunks(monkeypatch):
    import cnnctl.data.images as images

    monkeypatch.setattr(images, "CHUNK", 3)
    x = np.zeros((10, 2, 2, 1), np.float64)
    x[7, 1, 0, 0] = np.inf
    with pytest.raises(CnnctlError, match=r"x_test: 1 pixel value is NaN or infinite \(the first in image 7\)"):
        image_array(x, "f.npz", "x_test")


@pytest.mark.parametrize("x, words", [
    (np.full((6, 5, 4), "a"), "x_train: pixels must be numbers, found <U1 values"),
    (np.zeros((6, 5, 4), complex), "x_train: pixels must be numbers, found complex128"),
    (np.zeros((0, 5, 4), np.uint8), r"x_train: holds no images \(shape \(0, 5, 4\)\)"),
], ids=["strings", "complex", "none"])
def test_images_that_are_not_numbers_or_none_at_all(tmp_path, x, words):
    np.savez(tmp_path / "d.npz", **arrays(x_train=x, y_train=np.arange(len(x)) % 3))
    with pytest.raises(CnnctlError, match=words) as err:
        read_npz(tmp_path / "d.npz")
    assert err.value.file == str(tmp_path / "d.npz")


def test_an_empty_test_split_is_refused_too(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays(x_test=np.zeros((0, 5, 4), np.uint8), y_test=np.zeros(0, np.uint8)))
    with pytest.raises(CnnctlError, match="x_test: holds no images"):
        read_npz(tmp_path / "d.npz")


def test_float_idx_images_are_checked(tmp_path, write_idx):
    x = np.ones((3, 4, 4), np.float32)
    x[1, 2, 2] = np.nan
    images = write_idx(tmp_path / "train-images-idx3-ubyte", x)
    labels = write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(3, np.uint8))
    with pytest.raises(CnnctlError, match="images: 1 pixel value is NaN or infinite") as err:
        read_idx_pair(str(images), str(labels))
    assert err.value.file == str(images)


def test_finite_floats_and_integers_pass_unchanged():
    for x in (np.ones((2, 3, 3), np.float16), np.arange(18, dtype=np.uint8).reshape(2, 3, 3)):
        assert image_array(x, "f") is x
