"""What `validate` learns of the data without loading an image: paths, header shapes, classes."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.data import builtin, idx
from cnnctl.data.metadata import count_classes, data_problems, read_facts
from cnnctl.errors import CnnctlError

MODEL = "model: {input_shape: [8, 8, 1], layers: [Flatten, {Dense: {units: 3, activation: softmax}}]}\n"


def config(data: str):
    return parse_config(f"data: {data}\n{MODEL}")


def test_idx_classes_come_from_the_labels_and_shapes_from_the_headers(tmp_path, write_idx, monkeypatch):
    rng = np.random.default_rng(0)
    files = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (20, 8, 8), dtype=np.uint8),
             "train-labels-idx1-ubyte.gz": np.arange(20, dtype=np.uint8) % 4,
             "t10k-images-idx3-ubyte": rng.integers(0, 256, (6, 8, 8), dtype=np.uint8),
             "t10k-labels-idx1-ubyte": np.arange(6, dtype=np.uint8) % 2}
    for name, array in files.items():
        write_idx(tmp_path / name, array, gz=name.endswith(".gz"))
    read = []
    monkeypatch.setattr(idx, "read_idx", lambda path, real=idx.read_idx: read.append(path) or real(path))
    facts = read_facts(config(f"{{source: idx, path: {tmp_path}}}"))
    assert (facts.classes, facts.image_shapes, facts.origin) == (4, ((8, 8),), str(tmp_path))
    assert all("labels" in path for path in read), read  # images: headers only
    [problem] = data_problems(config(f"{{source: idx, path: {tmp_path}}}"), (8, 8, 1), units=3)
    assert "the last layer gives 3 outputs but the data has 4 classes" in str(problem)


def test_a_test_folder_with_other_classes_is_refused_at_its_key(tmp_path):
    for folder, names in (("train", "abc"), ("test", "abd")):
        for name in names:
            (tmp_path / folder / name).mkdir(parents=True)
            (tmp_path / folder / name / "1.png").write_bytes(b"")
    found = data_problems(config(f"{{source: folder, path: {tmp_path / 'train'}, test_path: {tmp_path / 'test'}}}"),
                          (8, 8, 1), units=3)
    assert [p.path for p in found] == ["data.test_path"]
    assert f"{tmp_path / 'test'}: classes a, b, d differ from the training folder's a, b, c" in str(found[0])


def test_builtin_datasets_are_known_without_their_files(monkeypatch):
    monkeypatch.setattr(builtin, "_download", lambda name: pytest.fail("validate must not download"))
    facts = read_facts(config("{source: cifar100}"))
    assert (facts.classes, facts.image_shapes) == (100, ((32, 32, 3),))
    [problem] = data_problems(config("{source: cifar10}"), (8, 8, 1), units=10)
    assert "the cifar10 images are 32×32×1, the model input is 8×8×1" in str(problem)  # made grey, as train would
    assert problem.path == "model.input_shape"


def test_a_data_dir_that_is_a_file_is_refused_at_its_line(tmp_path):
    (tmp_path / "mnist.npz").write_bytes(b"")
    [problem] = data_problems(parse_config(f"data:\n  source: mnist\n  data_dir: {tmp_path / 'mnist.npz'}\n{MODEL}"),
                              (28, 28, 1), units=10)
    assert str(problem) == (f"<string>:3: data.data_dir: not a folder: {tmp_path / 'mnist.npz'} "
                            "(expected a folder holding mnist)")


def test_a_builtin_dataset_whose_files_hold_more_classes_is_refused():
    with pytest.raises(CnnctlError, match="labels go up to 11, but mnist has 10 classes"):
        count_classes(config("{source: mnist}"), [np.arange(12)], "/data/mnist.npz")
    assert count_classes(config("{source: mnist}"), [np.arange(3)], "/data/mnist.npz") == 10  # a `limit` of few


def test_an_input_too_small_for_synthetic_images_hides_no_class_mismatch():
    found = data_problems(parse_config("model: {input_shape: [6, 6, 1], layers: [Flatten, {Dense: {units: 10}}]}"),
                          (6, 6, 1), units=10)
    assert [p.path for p in found] == ["model.input_shape", "model.layers.1"], found
    assert "the data has 4 classes" in found[1].message
