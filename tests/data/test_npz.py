import numpy as np
import pytest

from cnnctl.data.npz import read_npz
from cnnctl.errors import CnnctlError


def arrays(seed=0, channels=()):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (6, 5, 4, *channels), dtype=np.uint8),
            "y_train": rng.integers(0, 3, 6), "x_test": rng.integers(0, 256, (4, 5, 4, *channels), dtype=np.uint8),
            "y_test": rng.integers(0, 3, (4, 1))}


@pytest.mark.parametrize("save, channels", [(np.savez, ()), (np.savez_compressed, (3,))])
def test_round_trip(tmp_path, save, channels):
    saved = arrays(channels=channels)
    save(tmp_path / "d.npz", **saved)
    (x_train, y_train), (x_test, y_test) = read_npz(tmp_path / "d.npz")
    np.testing.assert_array_equal(x_train, saved["x_train"])
    np.testing.assert_array_equal(x_test, saved["x_test"])
    assert y_train.tolist() == saved["y_train"].tolist() and y_test.tolist() == saved["y_test"].ravel().tolist()
    assert y_test.dtype == np.int64


def test_missing_array_is_named(tmp_path):
    saved = arrays()
    del saved["y_test"]
    np.savez(tmp_path / "d.npz", **saved)
    with pytest.raises(CnnctlError, match="no array y_test"):
        read_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("damage", [
    lambda p: p.write_bytes(p.read_bytes()[:200]),
    lambda p: p.write_bytes(b"not a zip file at all"),
], ids=["truncated", "not an archive"])
def test_damaged_archive(tmp_path, damage):
    path = tmp_path / "d.npz"
    np.savez(path, **arrays())
    damage(path)
    with pytest.raises(CnnctlError, match="cannot read|damaged") as err:
        read_npz(path)
    assert err.value.file == str(path)


def test_single_array_and_missing_file_and_folder(tmp_path):
    np.save(tmp_path / "one.npy", np.zeros(3))
    with pytest.raises(CnnctlError, match="single array"):
        read_npz(tmp_path / "one.npy")
    with pytest.raises(CnnctlError, match="file not found") as err:
        read_npz(tmp_path / "nope.npz")
    assert err.value.file == str(tmp_path / "nope.npz")
    with pytest.raises(CnnctlError, match="a folder"):
        read_npz(tmp_path)


def test_pickled_objects_are_refused(tmp_path):
    saved = arrays()
    saved["y_train"] = np.array([object()] * 6, dtype=object)
    np.savez(tmp_path / "d.npz", **saved)
    with pytest.raises(CnnctlError, match="cannot read"):
        read_npz(tmp_path / "d.npz")


@pytest.mark.parametrize("key, value, words", [
    ("y_train", np.arange(5), "expected 6 y_train"),
    ("y_test", np.array([0, 1, -2, 1]), "y_test must be 0 or more"),
    ("x_test", np.zeros((4, 20)), "x_test: expected images"),
])
def test_labels_and_images_are_checked(tmp_path, key, value, words):
    np.savez(tmp_path / "d.npz", **{**arrays(), key: value})
    with pytest.raises(CnnctlError, match=words) as err:
        read_npz(tmp_path / "d.npz")
    assert err.value.file == str(tmp_path / "d.npz")
