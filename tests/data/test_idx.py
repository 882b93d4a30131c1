import gzip
from pathlib import Path

import numpy as np
import pytest

from cnnctl.data.idx import read_idx, read_idx_folder
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


def _set(seed=0, train=6, test=4, shape=(5, 4)):
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (train, *shape), dtype=np.uint8), rng.integers(0, 10, train, dtype=np.uint8)),
            (rng.integers(0, 256, (test, *shape), dtype=np.uint8), rng.integers(0, 10, test, dtype=np.uint8)))


def _write_set(folder, split, write_idx, names=("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"), gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = split
    for name, array in zip(names, [x_train, y_train, x_test, y_test]):
        write_idx(folder / (name + (".gz" if gz else "")), array, gz=gz)
    return folder


@pytest.mark.parametrize("gz", [True, False])
def test_folder_of_four_files(tmp_path, write_idx, gz):
    split = _set()
    (x_train, y_train), (x_test, y_test) = read_idx_folder(_write_set(tmp_path / "d", split, write_idx, gz=gz))
    np.testing.assert_array_equal(x_train, split[0][0])
    np.testing.assert_array_equal(x_test, split[1][0])
    assert y_train.dtype == np.int64 and y_train.tolist() == split[0][1].tolist()
    assert y_test.tolist() == split[1][1].tolist()


def test_prefixed_names_test_for_t10k_and_colour_images(tmp_path, write_idx):
    split = _set(shape=(5, 4, 3))
    names = [f"emnist-letters-{part}-{kind}" for part, kind in
             [("train", "images-idx4-ubyte"), ("train", "labels-idx1-ubyte"), ("test", "images-idx4-ubyte"),
              ("test", "labels-idx1-ubyte")]]
    folder = _write_set(tmp_path / "d", split, write_idx, names)
    (x_train, _), (x_test, _) = read_idx_folder(folder)
    assert x_train.shape == (6, 5, 4, 3) and x_test.shape == (4, 5, 4, 3)


def test_raw_and_gz_of_the_same_file_is_one_file(tmp_path, write_idx):
    folder = _write_set(tmp_path / "d", _set(1), write_idx, gz=True)
    _write_set(folder, _set(1), write_idx, gz=False)
    assert read_idx_folder(folder)[0][0].shape == (6, 5, 4)


def test_two_datasets_in_one_folder(tmp_path, write_idx):
    folder = _write_set(tmp_path / "d", _set(), write_idx)
    write_idx(folder / "kmnist-train-images-idx3-ubyte.gz", np.zeros((2, 5, 4), np.uint8), gz=True)
    with pytest.raises(CnnctlError, match="2 sets of train images: kmnist-train-images") as err:
        read_idx_folder(folder)
    assert err.value.file == str(folder)


def test_missing_files_are_all_named(tmp_path, write_idx):
    folder = _write_set(tmp_path / "d", _set(), write_idx)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "t10k-images-idx3-ubyte.gz").unlink()
    with pytest.raises(CnnctlError) as err:
        read_idx_folder(folder)
    assert err.value.file == str(folder)
    assert "no train labels or test images file" in str(err.value) and "t10k-labels-idx1-ubyte" in str(err.value)


@pytest.mark.parametrize("make", [lambda p: None, lambda p: p.write_text("x")], ids=["missing", "a file"])
def test_folder_must_exist(tmp_path, make):
    make(tmp_path / "data")
    with pytest.raises(CnnctlError, match="no such folder|not a folder") as err:
        read_idx_folder(tmp_path / "data")
    assert err.value.file == str(tmp_path / "data")


def test_labels_must_match_images(tmp_path, write_idx):
    (x_train, y_train), test = _set()
    folder = _write_set(tmp_path / "d", ((x_train, y_train[:5]), test), write_idx)
    with pytest.raises(CnnctlError, match="expected 6 labels") as err:
        read_idx_folder(folder)
    assert err.value.file == str(folder / "train-labels-idx1-ubyte.gz")


def test_images_must_be_images(tmp_path, write_idx):
    folder = _write_set(tmp_path / "d", _set(), write_idx)
    write_idx(folder / "t10k-images-idx3-ubyte.gz", np.zeros((4, 20), np.uint8), gz=True)
    with pytest.raises(CnnctlError, match=r"found shape \(4, 20\)") as err:
        read_idx_folder(folder)
    assert err.value.file == str(folder / "t10k-images-idx3-ubyte.gz")
