"""Bad data through `cnnctl train`: one line naming the path and what was expected, exit 2, no run folder."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from cnnctl.data import builtin
from tests.conftest import cli
from tests.data.conftest import MiB, gzip_of_zeros_after, idx_bytes, png_of_zeros

NAMES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
         "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}


def arrays():
    rng = np.random.default_rng(0)
    return {"x_train": rng.integers(0, 256, (30, 8, 8), dtype=np.uint8), "y_train": np.arange(30, dtype=np.uint8) % 3,
            "x_test": rng.integers(0, 256, (12, 8, 8), dtype=np.uint8), "y_test": np.arange(12, dtype=np.uint8) % 3}


def idx_folder(tmp, write_idx, **changes):
    folder = tmp / "idx"
    folder.mkdir()
    for key, array in {**arrays(), **changes}.items():
        write_idx(folder / (NAMES[key] + ".gz"), array, gz=True)
    return folder


def npz_file(tmp, **changes):
    np.savez(tmp / "d.npz", **{**arrays(), **changes})
    return tmp / "d.npz"


def image_folder(tmp, write_image_folder):
    rng = np.random.default_rng(0)
    return write_image_folder(tmp / "imgs", {c: rng.integers(0, 256, (4, 8, 8, 1), dtype=np.uint8) for c in "abc"})


def _idx_missing_file(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx)
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    return f"{{source: idx, path: {folder}}}", folder, "no test labels file"


def _idx_truncated(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx)
    path = folder / "train-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:-30])
    return f"{{source: idx, path: {folder}}}", path, "cannot read"


def _idx_label_count(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx, y_test=np.zeros(11, np.uint8))
    return f"{{source: idx, path: {folder}}}", folder / "t10k-labels-idx1-ubyte.gz", "expected 12 labels"


def _idx_not_idx(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(b"<html>Not found</html>"))
    return f"{{source: idx, path: {folder}}}", folder / "train-labels-idx1-ubyte.gz", "not an IDX file"


def _npz_corrupt(tmp, write_idx, write_image_folder):
    path = npz_file(tmp)
    path.write_bytes(path.read_bytes()[:100])
    return f"{{source: npz, path: {path}}}", path, "cannot read"


def _npz_missing(tmp, write_idx, write_image_folder):
    return f"{{source: npz, path: {tmp / 'nope.npz'}}}", tmp / "nope.npz", "data.path: no such file"


def _npz_negative_labels(tmp, write_idx, write_image_folder):
    path = npz_file(tmp, y_train=np.arange(30) % 3 - 1)
    return f"{{source: npz, path: {path}}}", path, "y_train must be 0 or more, found -1"


def _labels_beyond_the_classes(tmp, write_idx, write_image_folder):
    path = npz_file(tmp, y_test=np.arange(12) % 5)
    return f"{{source: npz, path: {path}}}", path, "the last layer gives 3 outputs but the data has 5 classes"


def _folder_undecodable(tmp, write_idx, write_image_folder):
    folder = image_folder(tmp, write_image_folder)
    (folder / "b" / "002.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    return f"{{source: folder, path: {folder}}}", folder / "b" / "002.png", "cannot decode image"


def _folder_empty_class(tmp, write_idx, write_image_folder):
    folder = image_folder(tmp, write_image_folder)
    (folder / "d").mkdir()
    return f"{{source: folder, path: {folder}}}", folder / "d", "class folder 'd' holds no images"


def _folder_missing(tmp, write_idx, write_image_folder):
    return f"{{source: folder, path: {tmp / 'typo'}}}", tmp / "typo", "no such folder"


def _idx_linked_to_dev_zero(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx)
    (folder / "train-labels-idx1-ubyte.gz").unlink()
    (folder / "train-labels-idx1-ubyte").symlink_to("/dev/zero")
    return f"{{source: idx, path: {folder}}}", folder / "train-labels-idx1-ubyte", "a link to /dev/zero, a character"


def _idx_gzip_bomb(tmp, write_idx, write_image_folder):
    folder = idx_folder(tmp, write_idx)
    bomb = folder / "train-images-idx3-ubyte.gz"
    bomb.write_bytes(gzip_of_zeros_after(idx_bytes(arrays()["x_train"]), 64 * MiB))
    return f"{{source: idx, path: {folder}}}", bomb, "but the file decompresses to more"


def _npz_nan_pixels(tmp, write_idx, write_image_folder):
    x = arrays()["x_train"].astype(np.float32) / 255
    x[3, :3, 0] = [np.nan, np.inf, -np.inf]
    path = npz_file(tmp, x_train=x)
    return f"{{source: npz, path: {path}}}", path, "x_train: 3 pixel values are NaN or infinite (the first in image 3)"


def _npz_no_training_images(tmp, write_idx, write_image_folder):
    path = npz_file(tmp, x_train=np.zeros((0, 8, 8), np.uint8), y_train=np.zeros(0, np.uint8))
    return f"{{source: npz, path: {path}}}", path, "x_train: holds no images"


def _npz_string_images(tmp, write_idx, write_image_folder):
    path = npz_file(tmp, x_test=np.full((12, 8, 8), "0"))
    return f"{{source: npz, path: {path}}}", path, "x_test: pixels must be numbers, found <U1 values"


def _folder_huge_png(tmp, write_idx, write_image_folder):
    folder = image_folder(tmp, write_image_folder)
    (folder / "c" / "big.png").write_bytes(png_of_zeros(20000, 20000))
    return f"{{source: folder, path: {folder}}}", folder / "c" / "big.png", "image of 400,000,000 pixels is over"


def _folder_one_image_per_class(tmp, write_idx, write_image_folder):
    folder = write_image_folder(tmp / "imgs", {c: np.zeros((1, 8, 8, 1), np.uint8) for c in "abc"})
    return f"{{source: folder, path: {folder}}}", folder, "every class folder holds a single image: none is left"


CASES = [_idx_missing_file, _idx_truncated, _idx_label_count, _idx_not_idx, _idx_linked_to_dev_zero, _idx_gzip_bomb,
         _npz_corrupt, _npz_missing, _npz_negative_labels, _npz_nan_pixels, _npz_no_training_images,
         _npz_string_images, _labels_beyond_the_classes, _folder_undecodable, _folder_empty_class, _folder_missing,
         _folder_huge_png, _folder_one_image_per_class]


def train(tmp_path, data: str):
    config = tmp_path / "bad.yaml"
    config.write_text(f"data: {data}\nmodel:\n  input_shape: [8, 8, 1]\n"
                      "  layers: [Flatten, {Dense: {units: 3, activation: softmax}}]\ntrain: {epochs: 1}\n")
    return cli("train", config, "--runs-dir", tmp_path / "runs", "--quiet")


def assert_refused(result, tmp_path, path, words):
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert str(path) in lines[0] and words in lines[0]
    assert "Traceback" not in result.output
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir()), "a data error left a run folder"


@pytest.mark.parametrize("case", CASES, ids=[c.__name__.lstrip("_") for c in CASES])
def test_bad_data_is_one_line_exit_2_and_no_run_folder(tmp_path, write_idx, write_image_folder, case):
    data, path, words = case(tmp_path, write_idx, write_image_folder)
    assert_refused(train(tmp_path, data), tmp_path, path, words)


def test_offline_builtin_lists_every_place_searched(tmp_path, monkeypatch):
    def no_network(name):
        raise Exception(f"URL fetch failure on https://storage.googleapis.com/{name}: None -- no network")

    monkeypatch.setattr(builtin, "_download", no_network)
    monkeypatch.delenv(builtin.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    (tmp_path / "mine").mkdir()
    result = train(tmp_path, f"{{source: mnist, data_dir: {tmp_path / 'mine'}}}")
    assert_refused(result, tmp_path, tmp_path / "mine", "mnist is not on this machine")
    assert str(tmp_path / "keras-home" / "datasets") in result.stderr
    assert "t10k-labels-idx1-ubyte.gz" in result.stderr and "CNNCTL_DATA_DIR" in result.stderr


# What headers, labels and folder listings show: `validate` refuses it as `train` does, at the config's line.
SEEN_WITHOUT_IMAGES = [_idx_missing_file, _idx_label_count, _idx_not_idx, _idx_linked_to_dev_zero, _npz_corrupt,
                       _npz_missing, _npz_negative_labels, _npz_no_training_images, _npz_string_images,
                       _labels_beyond_the_classes, _folder_empty_class, _folder_missing]
# What only the pixels show: `validate` reads no image, so it passes these, and `train` refuses them.
SEEN_IN_PIXELS = [_idx_truncated, _idx_gzip_bomb, _npz_nan_pixels, _folder_undecodable, _folder_huge_png]


def validate(tmp_path, data: str):
    train(tmp_path, data)  # writes bad.yaml
    return cli("validate", tmp_path / "bad.yaml")


@pytest.mark.parametrize("case", SEEN_WITHOUT_IMAGES, ids=[c.__name__.lstrip("_") for c in SEEN_WITHOUT_IMAGES])
def test_validate_refuses_the_bad_data_its_labels_and_headers_show(tmp_path, write_idx, write_image_folder, case):
    data, path, words = case(tmp_path, write_idx, write_image_folder)
    result = validate(tmp_path, data)
    assert result.exit_code == 2, result.output
    [line] = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert line.startswith(f"error: {tmp_path / 'bad.yaml'}:") and str(path) in line and words in line, line


@pytest.mark.parametrize("case", SEEN_IN_PIXELS, ids=[c.__name__.lstrip("_") for c in SEEN_IN_PIXELS])
def test_validate_reads_no_image(tmp_path, write_idx, write_image_folder, case):
    data, _, _ = case(tmp_path, write_idx, write_image_folder)
    result = validate(tmp_path, data)
    assert result.exit_code == 0 and result.stdout.startswith("ok: "), result.output
