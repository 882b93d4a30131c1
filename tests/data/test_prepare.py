"""`load_data`: each source from files the tests write, fitted to the model input, split, prepared and reported."""

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.data.prepare import balance, check_labels, describe, load_data
from cnnctl.data.preprocess import channel_stats
from cnnctl.errors import CnnctlError


def config(data: str, shape=(8, 8, 1), units=3, validation="0.25", seed=0):
    return parse_config(f"""
data: {data}
model:
  input_shape: {list(shape)}
  layers: [Flatten, {{Dense: {{units: {units}, activation: softmax}}}}]
train: {{validation: {validation}, seed: {seed}}}
""")


def load(data: str, shape=(8, 8, 1), **kwargs):
    return load_data(config(data, shape, **kwargs), shape)


def arrays(seed=0, train=40, test=12, shape=(8, 8), classes=3):
    rng = np.random.default_rng(seed)
    return {"x_train": rng.integers(0, 256, (train, *shape), dtype=np.uint8),
            "y_train": np.arange(train) % classes,
            "x_test": rng.integers(0, 256, (test, *shape), dtype=np.uint8),
            "y_test": np.arange(test) % classes}


@pytest.mark.parametrize("gz", [True, False], ids=["gz", "raw"])
def test_idx_source(tmp_path, write_idx, gz):
    saved = arrays()
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    for key, name in names.items():
        write_idx(tmp_path / (name + (".gz" if gz else "")), saved[key].astype(np.uint8), gz=gz)
    data = load(f"{{source: idx, path: {tmp_path}}}")
    assert (len(data.train), len(data.validation), len(data.test)) == (30, 10, 12)
    assert data.train.x.shape == (30, 8, 8, 1) and data.classes == 3
    np.testing.assert_array_equal(data.test.x[..., 0], saved["x_test"])
    assert data.report["source"] == "idx" and data.report["path"] == str(tmp_path)


def test_npz_source_relative_to_the_current_folder_and_grey_to_rgb(tmp_path, monkeypatch):
    np.savez(tmp_path / "d.npz", **arrays())
    monkeypatch.chdir(tmp_path)
    data = load("{source: npz, path: d.npz}", shape=(8, 8, 3))
    assert data.train.x.shape == (30, 8, 8, 3) and data.train.x.dtype == np.uint8
    np.testing.assert_array_equal(data.train.x[..., 0], data.train.x[..., 2])


def test_resize_only_when_asked(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays())
    with pytest.raises(CnnctlError, match="images are 8×8×1, the model input is 16×16×1") as err:
        load(f"{{source: npz, path: {tmp_path / 'd.npz'}}}", shape=(16, 16, 1))
    assert "data.resize: true" in str(err.value) and err.value.path == "model.input_shape"
    data = load(f"{{source: npz, path: {tmp_path / 'd.npz'}, resize: true}}", shape=(16, 16, 1))
    assert data.train.x.shape == (30, 16, 16, 1) and data.train.x.dtype == np.uint8
    assert abs(float(data.test.x.mean()) - float(arrays()["x_test"].mean())) < 3


@pytest.fixture
def image_folder(tmp_path, write_image_folder):
    rng = np.random.default_rng(0)
    classes = {name: rng.integers(0, 256, (10, 8, 8, 1), dtype=np.uint8) for name in ["a", "b", "c"]}
    return write_image_folder(tmp_path / "imgs", classes)


def test_folder_source_holds_out_a_stratified_test_split_that_train_seed_leaves_alone(image_folder):
    data = load(f"{{source: folder, path: {image_folder}}}", validation="null")
    assert (len(data.train), len(data.test)) == (24, 6)
    assert data.report["class_counts"] == {"train": [8, 8, 8], "test": [2, 2, 2]}
    assert data.report["class_names"] == ["a", "b", "c"]
    other_seed = load(f"{{source: folder, path: {image_folder}}}", validation="null", seed=5)
    np.testing.assert_array_equal(other_seed.test.x, data.test.x)
    half = load(f"{{source: folder, path: {image_folder}, test_split: 0.5}}", validation="null")
    assert len(half.test) == 15


def test_folder_limit_takes_every_class(image_folder):
    data = load(f"{{source: folder, path: {image_folder}, limit: 9}}", validation="null")
    assert len(data.train) == 9 and set(data.train.y.tolist()) == {0, 1, 2}


def test_folder_with_a_test_folder(tmp_path, image_folder, write_image_folder):
    test = write_image_folder(tmp_path / "test", {n: np.zeros((2, 8, 8, 1), np.uint8) for n in ["a", "b", "c"]})
    data = load(f"{{source: folder, path: {image_folder}, test_path: {test}}}", validation="test")
    assert len(data.train) == 30 and len(data.test) == 6 and data.test.x.max() == 0
    assert data.report["validation"] == 6


def test_standardization_statistics_come_from_the_training_images_only(tmp_path):
    saved = arrays(train=60)
    saved["x_test"][:] = 255  # a test split far from the training one must not move the statistics
    np.savez(tmp_path / "d.npz", **saved)
    data = load(f"{{source: npz, path: {tmp_path / 'd.npz'}, scale: standardize}}")
    mean, std = channel_stats(data.train.x, 1 / 255)  # the images trained on: validation held out first
    assert data.prepare.mean == pytest.approx(mean) and data.prepare.std == pytest.approx(std)
    assert data.prepare.mean != pytest.approx(channel_stats(saved["x_train"][..., None], 1 / 255)[0], abs=1e-6)
    assert data.report["scale"] == "standardize" and data.report["mean"] == pytest.approx(mean, abs=1e-6)
    train = data.prepare.inputs(data.train.x).numpy()
    assert abs(train.mean()) < 1e-4 and abs(train.std() - 1) < 1e-3
    assert data.prepare.inputs(data.test.x).numpy().mean() > 1  # the test split is not re-centred on itself


def test_report_counts_every_split():
    data = load("{synthetic: {train_size: 120, test_size: 40, classes: 3}}", shape=(8, 8, 1), validation="0.25")
    r = data.report
    assert r["class_counts"] == {"train": [30, 30, 30], "validation": [10, 10, 10], "test": [14, 13, 13]}
    assert r["class_balance"] == "balanced (30 per class)" and r["image_shape"] == [8, 8, 1]
    assert describe(data) == ("data: 90 train, 30 validation, 40 test images of 8×8×1, 3 classes, "
                              "balanced (30 per class) in train")


@pytest.mark.parametrize("counts, text", [
    ([5, 5], "balanced (5 per class)"), ([5, 6, 5], "balanced (5-6 per class)"),
    ([40, 600, 90], "40 (class 0) to 600 (class 1) per class"), ([], "empty"),
])
def test_balance(counts, text):
    assert balance(counts) == text


def test_labels_beyond_the_last_layer_name_the_file(tmp_path):
    saved = arrays()
    saved["y_test"][3] = 7
    np.savez(tmp_path / "d.npz", **saved)
    cfg = config(f"{{source: npz, path: {tmp_path / 'd.npz'}}}")
    data = load_data(cfg, (8, 8, 1))
    with pytest.raises(CnnctlError, match=rf"gives 3 outputs but the data has 8 classes \(labels 0 to 7 in "
                                          rf"{tmp_path / 'd.npz'}\)"):
        check_labels(data, 3, cfg)


def test_one_output_is_not_one_outputs(tmp_path):
    np.savez(tmp_path / "d.npz", **arrays())
    cfg = config(f"{{source: npz, path: {tmp_path / 'd.npz'}}}")
    with pytest.raises(CnnctlError, match=r"gives 1 output but the data has 3 classes .*\(end the model with 3 units\)"):
        check_labels(load_data(cfg, (8, 8, 1)), 1, cfg)


def test_a_channels_first_config_reads_its_shape_back_as_written():
    cfg = parse_config("""
data: {synthetic: {train_size: 40, test_size: 12, classes: 3}}
model:
  data_format: channels_first
  input_shape: [3, 10, 8]
  layers: [Flatten, {Dense: {units: 3, activation: softmax}}]
""")
    data = load_data(cfg, (10, 8, 3))
    assert data.train.x.shape[1:] == (10, 8, 3)  # stored channels-last, as the model is built
    assert data.report["image_shape"] == [3, 10, 8]
    assert " test images of 3×10×8, 3 classes, " in describe(data)
