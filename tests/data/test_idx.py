import gzip
from pathlib import Path

import numpy as np
import pytest

from cnnctl.data.idx import read_idx
from cnnctl.errors import CnnctlError

MNIST_TEST = Path("/work/shared/data/mnist")


@pytest.mark.parametrize("gz", [False, True])
def test_round_trip_uint8_images(tmp_path, write_idx, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 4, 3), dtype=np.uint8)
    path = write_idx(tmp_path / ("images.gz" if gz else "images"), images, gz=gz)
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == (5, 4, 3)
    np.testing.assert_array_equal(back, images)


def test_gzip_is_told_by_content_not_name(tmp_path, write_idx):
    labels = np.array([3, 1, 4, 1, 5], np.uint8)
    path = write_idx(tmp_path / "labels-no-suffix", labels, gz=True)
    np.testing.assert_array_equal(read_idx(path), labels)


@pytest.mark.parametrize("values", [
    np.array([[-1, 2], [100, -7]], np.int8),
    np.array([[-1, 2], [300, -7]], np.int16),
    np.array([[-1, 2], [70000, -7]], np.int32),
    np.array([[1.5, -2.25], [1e6, 0]], np.float32),
    np.array([[1.5, -2.25], [1e300, 0]], np.float64),
], ids=lambda v: v.dtype.name)
def test_big_endian_values_come_back_native(tmp_path, write_idx, values):
    back = read_idx(write_idx(tmp_path / "values", values))
    assert back.dtype == values.dtype and back.dtype.isnative
    np.testing.assert_array_equal(back, values)


def test_result_is_writable(tmp_path, write_idx):
    back = read_idx(write_idx(tmp_path / "x", np.zeros((2, 2), np.uint8), gz=True))
    back[0, 0] = 9
    assert back[0, 0] == 9


@pytest.mark.parametrize("gz", [False, True])
def test_truncated_payload_names_the_file(tmp_path, write_idx, gz):
    raw = write_idx(tmp_path / "raw", np.zeros((10, 4, 4), np.uint8)).read_bytes()[:-5]
    path = tmp_path / "short"
    path.write_bytes(gzip.compress(raw) if gz else raw)
    with pytest.raises(CnnctlError) as err:
        read_idx(path)
    assert err.value.file == str(path)
    assert "(10, 4, 4)" in str(err.value) and "155" in str(err.value)


def test_trailing_bytes_are_refused(tmp_path, write_idx):
    path = write_idx(tmp_path / "long", np.zeros(4, np.uint8))
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(CnnctlError, match="5"):
        read_idx(path)


def test_truncated_gzip_stream(tmp_path, write_idx):
    path = write_idx(tmp_path / "x.gz", np.arange(2000, dtype=np.int32), gz=True)
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(CnnctlError) as err:
        read_idx(path)
    assert err.value.file == str(path)


@pytest.mark.parametrize("content", [b"", b"\x00\x00", b"hello world, not idx", b"\x00\x00\x07\x01\x00\x00\x00\x01x",
                                     b"\x00\x00\x08\x03\x00\x00\x00\x01"])
def test_not_idx(tmp_path, content):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(CnnctlError) as err:
        read_idx(path)
    assert str(err.value).startswith(f"{path}: ")


def test_missing_file(tmp_path):
    with pytest.raises(CnnctlError, match="not found") as err:
        read_idx(tmp_path / "nope.gz")
    assert err.value.file == str(tmp_path / "nope.gz")


def test_real_mnist_test_set():
    images_path = MNIST_TEST / "t10k-images-idx3-ubyte.gz"
    labels_path = MNIST_TEST / "t10k-labels-idx1-ubyte.gz"
    if not (images_path.exists() and labels_path.exists()):
        pytest.skip(f"real MNIST test files not in {MNIST_TEST}")
    images, labels = read_idx(images_path), read_idx(labels_path)
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (10000,) and set(np.unique(labels)) == set(range(10))
    assert labels[:5].tolist() == [7, 2, 1, 0, 4]  # MNIST's well-known first test digits
    assert images.max() == 255 and images[:, 0, 0].max() == 0  # strokes, blank corners
