import pickle

import numpy as np
import pytest

from cnnctl.data.cifar import read_cifar_batch
from cnnctl.errors import CnnctlError


def test_planes_become_channels_last(tmp_path, write_cifar):
    images = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    path = write_cifar(tmp_path / "data_batch_1", images, [4, 0, 9])
    x, y = read_cifar_batch(path)
    assert x.shape == (3, 32, 32, 3) and x.dtype == np.uint8
    np.testing.assert_array_equal(x, images)
    assert y.tolist() == [4, 0, 9] and y.dtype == np.uint8


def test_layout_matches_the_published_format(tmp_path):
    data = np.zeros((1, 3072), np.uint8)
    data[0, 0 * 1024 + 1 * 32 + 2] = 200  # red plane, row 1, column 2
    data[0, 2 * 1024 + 31 * 32 + 0] = 50  # blue plane, row 31, column 0
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"data": data, b"labels": [1]}, protocol=3))
    x, _ = read_cifar_batch(path)
    assert x[0, 1, 2, 0] == 200 and x[0, 31, 0, 2] == 50 and x.sum() == 250


def test_original_files_from_numpy_1_are_allowed(tmp_path, write_cifar):
    path = write_cifar(tmp_path / "b", np.ones((1, 32, 32, 3), np.uint8), [2])
    path.write_bytes(path.read_bytes().replace(b"numpy._core.multiarray", b"numpy.core.multiarray"))
    assert b"numpy.core.multiarray" in path.read_bytes()
    assert read_cifar_batch(path)[1].tolist() == [2]


def test_cifar100_label_key(tmp_path, write_cifar):
    path = write_cifar(tmp_path / "train", np.zeros((2, 32, 32, 3), np.uint8), [99, 42], label_key="fine_labels")
    assert read_cifar_batch(path, "fine_labels")[1].tolist() == [99, 42]
    with pytest.raises(CnnctlError, match="fine_labels"):
        read_cifar_batch(write_cifar(tmp_path / "b", np.zeros((2, 32, 32, 3), np.uint8), [1, 2]), "fine_labels")


class _Evil:
    def __reduce__(self):
        import os
        return (os.system, ("touch pwned",))


def test_code_in_the_pickle_is_not_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil"
    path.write_bytes(pickle.dumps({b"data": _Evil(), b"labels": []}, protocol=3))
    with pytest.raises(CnnctlError, match="refusing") as err:
        read_cifar_batch(path)
    assert err.value.file == str(path)
    assert not (tmp_path / "pwned").exists()


def test_truncated_batch(tmp_path, write_cifar):
    path = write_cifar(tmp_path / "b", np.zeros((4, 32, 32, 3), np.uint8), [0, 1, 2, 3])
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(CnnctlError) as err:
        read_cifar_batch(path)
    assert err.value.file == str(path)


def test_label_count_must_match_images(tmp_path):
    path = tmp_path / "b"
    path.write_bytes(pickle.dumps({b"data": np.zeros((2, 3072), np.uint8), b"labels": [0, 1, 2]}, protocol=3))
    with pytest.raises(CnnctlError, match="3 labels"):
        read_cifar_batch(path)


def test_missing_and_not_a_dict(tmp_path):
    with pytest.raises(CnnctlError, match="not found"):
        read_cifar_batch(tmp_path / "nope")
    (tmp_path / "list").write_bytes(pickle.dumps([1, 2, 3]))
    with pytest.raises(CnnctlError, match="dict"):
        read_cifar_batch(tmp_path / "list")
