import numpy as np
import pytest

from cnnctl.data.folder import IMAGE_EXTENSIONS, class_folders, read_image_folder
from cnnctl.errors import CnnctlError


def images(seed, n=8, shape=(6, 5, 3)):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path, write_image_folder):
    """Three classes of 8 RGB PNGs, 6×5, written in an order that is not the class order."""
    return write_image_folder(tmp_path / "train", {"zebra": images(0), "ant": images(1), "moth": images(2)})


def test_images_labels_and_class_names(folder):
    x, y, names = read_image_folder(folder, 6, 5, 3)
    assert names == ["ant", "moth", "zebra"]  # Keras' order: sorted
    assert x.shape == (24, 6, 5, 3) and x.dtype == np.uint8 and y.dtype == np.int64
    assert y.tolist() == [0] * 8 + [1] * 8 + [2] * 8
    np.testing.assert_array_equal(x[:8], images(1))  # PNG is lossless and nothing was resized
    np.testing.assert_array_equal(x[16:], images(0))


def test_size_and_colour_come_from_the_model_input(folder):
    grey, _, _ = read_image_folder(folder, 6, 5, 1)
    expected = images(1).astype(float) @ [0.2989, 0.587, 0.114]  # what TensorFlow's rgb_to_grayscale weighs
    assert grey.shape == (24, 6, 5, 1) and np.abs(grey[:8, ..., 0] - expected).max() <= 1
    larger, _, _ = read_image_folder(folder, 12, 10, 3)
    assert larger.shape == (24, 12, 10, 3)
    assert abs(larger[:8].mean() - images(1).mean()) < 2  # resized, not cropped or padded


def test_jpeg_and_upper_case_extensions(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "j", {"a": images(3, 2), "b": images(4, 2)}, ext=".jpg")
    (root / "a" / "000.jpg").rename(root / "a" / "000.JPEG")
    x, y, _ = read_image_folder(root, 6, 5, 3)
    assert x.shape == (4, 6, 5, 3) and y.tolist() == [0, 0, 1, 1]


def test_test_folder_takes_the_training_classes(tmp_path, folder, write_image_folder):
    test = write_image_folder(tmp_path / "test", {"ant": images(5, 2), "zebra": images(6, 2), "moth": images(7, 1)})
    x, y, names = read_image_folder(test, 6, 5, 3, ["ant", "moth", "zebra"])
    assert y.tolist() == [0, 0, 1, 2, 2] and names == ["ant", "moth", "zebra"]
    other = write_image_folder(tmp_path / "other", {"ant": images(5, 2), "bee": images(6, 2)})
    with pytest.raises(CnnctlError, match="classes ant, bee differ from the training folder's ant, moth, zebra") as err:
        read_image_folder(other, 6, 5, 3, ["ant", "moth", "zebra"])
    assert err.value.file == str(other)


def test_hidden_folders_and_other_files_are_not_classes(folder):
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / "README.txt").write_text("notes")
    (folder / "ant" / "notes.txt").write_text("not an image")
    assert class_folders(folder) == ["ant", "moth", "zebra"]
    assert len(read_image_folder(folder, 6, 5, 3)[1]) == 24


def test_empty_class_folder_is_named(folder):
    (folder / "bee").mkdir()
    (folder / "bee" / "notes.txt").write_text("no images yet")
    with pytest.raises(CnnctlError, match="class folder 'bee' holds no images") as err:
        read_image_folder(folder, 6, 5, 3)
    assert err.value.file == str(folder / "bee")


def test_images_in_nested_folders_count(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "n", {"a/2024": images(8, 2), "b": images(9, 1)})
    assert read_image_folder(root, 6, 5, 3)[1].tolist() == [0, 0, 1]


@pytest.mark.parametrize("make, words", [
    (lambda p: None, "no such folder"),
    (lambda p: p.write_text("x"), "not a folder"),
    (lambda p: p.mkdir(), "no class sub-folders"),
])
def test_folder_layout_mistakes(tmp_path, make, words):
    make(tmp_path / "data")
    with pytest.raises(CnnctlError, match=words) as err:
        read_image_folder(tmp_path / "data", 6, 5, 3)
    assert err.value.file == str(tmp_path / "data") and "one sub-folder of images per class" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n but the rest is missing"], ids=["empty", "truncated"])
def test_undecodable_image_is_named(folder, content):
    bad = folder / "moth" / "003.png"
    bad.write_bytes(content)
    with pytest.raises(CnnctlError, match="cannot decode image") as err:
        read_image_folder(folder, 6, 5, 3)
    assert err.value.file == str(bad)


def test_extensions_are_keras_own():
    from keras.src.utils.image_dataset_utils import ALLOWLIST_FORMATS

    assert IMAGE_EXTENSIONS == ALLOWLIST_FORMATS
