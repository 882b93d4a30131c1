from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from cnnctl import keras_catalog
from cnnctl.data import builtin
from cnnctl.data.builtin import candidate_folders, load_builtin, locate_builtin
from cnnctl.errors import CnnctlError

FASHION = Path("/usr/share/datasets/fashion-mnist")


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """No env var, an empty Keras cache, and a Keras whose loaders fail as they do offline.

    Returns the list of dataset names Keras was asked for.
    """
    monkeypatch.delenv(builtin.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    (tmp_path / "keras-home").mkdir()
    calls = []

    def loader(name):
        def load_data():
            calls.append(name)
            raise Exception(f"URL fetch failure on https://example/{name}: None -- no network in tests")
        return SimpleNamespace(load_data=load_data)

    fake = SimpleNamespace(datasets=SimpleNamespace(**{name: loader(name) for name in builtin.NAMES}))
    monkeypatch.setattr(keras_catalog, "keras", lambda: fake)
    return calls


def mnist_like(seed, train=6, test=4):
    rng = np.random.default_rng(seed)
    return ((rng.integers(0, 256, (train, 28, 28), dtype=np.uint8), rng.integers(0, 10, train, dtype=np.uint8)),
            (rng.integers(0, 256, (test, 28, 28), dtype=np.uint8), rng.integers(0, 10, test, dtype=np.uint8)))


def write_idx_set(folder, split, write_idx, gz=True):
    folder.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = split
    suffix = ".gz" if gz else ""
    for name, array in [("train-images-idx3-ubyte", x_train), ("train-labels-idx1-ubyte", y_train),
                        ("t10k-images-idx3-ubyte", x_test), ("t10k-labels-idx1-ubyte", y_test)]:
        write_idx(folder / (name + suffix), array, gz=gz)
    return folder


def assert_same(got, expected):
    for got_part, expected_part in zip(got, expected):
        for g, e in zip(got_part, expected_part):
            assert g.shape == e.shape
            np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("gz", [True, False])
def test_idx_files_in_data_dir(tmp_path, write_idx, offline, gz):
    split = mnist_like(0)
    folder = write_idx_set(tmp_path / "data", split, write_idx, gz=gz)
    got = load_builtin("mnist", str(folder))
    assert_same(got, split)
    assert got[0][0].dtype == np.uint8 and got[0][1].ndim == 1
    assert offline == []  # found on disk: no download attempted


def test_dataset_subfolder_and_env_var(tmp_path, write_idx, offline, monkeypatch):
    split = mnist_like(1)
    write_idx_set(tmp_path / "all-data" / "fashion-mnist", split, write_idx)
    monkeypatch.setenv(builtin.ENV_VAR, str(tmp_path / "all-data"))
    assert_same(load_builtin("fashion_mnist"), split)


def test_data_dir_wins_over_env_var(tmp_path, write_idx, offline, monkeypatch):
    write_idx_set(tmp_path / "env", mnist_like(1), write_idx)
    mine = mnist_like(2)
    write_idx_set(tmp_path / "mine", mine, write_idx)
    monkeypatch.setenv(builtin.ENV_VAR, str(tmp_path / "env"))
    assert_same(load_builtin("mnist", str(tmp_path / "mine")), mine)


def test_keras_cache_mnist_npz(tmp_path, offline):
    split = mnist_like(3)
    (x_train, y_train), (x_test, y_test) = split
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir()
    np.savez(cache / "mnist.npz", x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    assert_same(load_builtin("mnist"), split)
    assert offline == []


def test_keras_cache_fashion_layout(tmp_path, write_idx, offline):
    split = mnist_like(4)
    write_idx_set(tmp_path / "keras-home" / "datasets" / "fashion-mnist", split, write_idx)
    assert_same(load_builtin("fashion_mnist"), split)


def test_cifar10_batches(tmp_path, write_cifar, offline):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(5)
    batches = [(rng.integers(0, 256, (2, 32, 32, 3), dtype=np.uint8), [i, 9 - i]) for i in range(6)]
    for file, (images, labels) in zip([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"], batches):
        write_cifar(folder / file, images, labels)
    (x_train, y_train), (x_test, y_test) = load_builtin("cifar10", str(tmp_path / "data"))
    assert x_train.shape == (10, 32, 32, 3) and x_test.shape == (2, 32, 32, 3)
    np.testing.assert_array_equal(x_train[4:6], batches[2][0])  # batches concatenated in order
    assert y_train.tolist() == [0, 9, 1, 8, 2, 7, 3, 6, 4, 5] and y_test.tolist() == [5, 4]


def test_cifar100_fine_labels(tmp_path, write_cifar, offline):
    folder = tmp_path / "keras-home" / "datasets" / "cifar-100-python-target" / "cifar-100-python"
    folder.mkdir(parents=True)
    images = np.zeros((3, 32, 32, 3), np.uint8)
    write_cifar(folder / "train", images, [99, 0, 50], label_key="fine_labels")
    write_cifar(folder / "test", images[:1], [7], label_key="fine_labels")
    (x_train, y_train), (x_test, y_test) = load_builtin("cifar100")
    assert y_train.tolist() == [99, 0, 50] and y_test.tolist() == [7] and x_test.shape == (1, 32, 32, 3)


def test_label_count_must_match_image_count(tmp_path, write_idx, offline):
    (x_train, y_train), test = mnist_like(6)
    folder = write_idx_set(tmp_path / "data", ((x_train, y_train[:-1]), test), write_idx)
    with pytest.raises(CnnctlError, match="expected 6 labels") as err:
        load_builtin("mnist", str(folder))
    assert err.value.file == str(folder / "train-labels-idx1-ubyte.gz")


def test_offline_failure_lists_every_place(tmp_path, write_idx, offline, monkeypatch):
    data_dir, env_dir = tmp_path / "data", tmp_path / "env"
    data_dir.mkdir()
    monkeypatch.setenv(builtin.ENV_VAR, str(env_dir))
    # Only the test half, as in /work/shared/data/mnist: noted, not used.
    (_, _), (x_test, y_test) = mnist_like(7)
    write_idx(data_dir / "t10k-images-idx3-ubyte.gz", x_test, gz=True)
    write_idx(data_dir / "t10k-labels-idx1-ubyte.gz", y_test, gz=True)
    with pytest.raises(CnnctlError) as err:
        load_builtin("mnist", str(data_dir))
    message = str(err.value)
    assert offline == ["mnist"]  # Keras' loader was tried once
    assert "\n" not in message and "no network in tests" in message
    for place in [data_dir, env_dir, tmp_path / "keras-home" / "datasets"]:
        assert str(place) in message
    assert f"{data_dir} lacks train-images-idx3-ubyte, train-labels-idx1-ubyte" in message
    assert "t10k-labels-idx1-ubyte.gz" in message and "data_dir" in message  # the hint: what to put where


def test_offline_fashion_mentions_the_debian_package(tmp_path, offline, monkeypatch):
    system = tmp_path / "usr-share-datasets-fashion-mnist"
    monkeypatch.setitem(builtin.SYSTEM_FOLDERS, "fashion_mnist", [str(system)])
    with pytest.raises(CnnctlError) as err:
        load_builtin("fashion_mnist")
    assert str(system) in str(err.value) and "apt-get install dataset-fashion-mnist" in str(err.value)


def test_keras_download_is_the_last_resort(tmp_path, offline, monkeypatch):
    x = np.zeros((3, 32, 32, 3), np.uint8)
    y = np.array([[1], [2], [3]], np.uint8)  # Keras' CIFAR labels are (N, 1)
    fake = SimpleNamespace(datasets=SimpleNamespace(cifar10=SimpleNamespace(load_data=lambda: ((x, y), (x, y)))))
    monkeypatch.setattr(keras_catalog, "keras", lambda: fake)
    (x_train, y_train), (_, y_test) = load_builtin("cifar10")
    assert x_train.shape == (3, 32, 32, 3) and y_train.tolist() == [1, 2, 3] and y_test.shape == (3,)


def test_search_order(tmp_path, monkeypatch):
    monkeypatch.setenv(builtin.ENV_VAR, "/env")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    folders = candidate_folders("fashion_mnist", "/mine")
    assert folders[:3] == ["/mine/fashion-mnist", "/mine/fashion_mnist", "/mine"]
    assert folders[3:6] == ["/env/fashion-mnist", "/env/fashion_mnist", "/env"]
    assert folders[6] == str(tmp_path / "datasets" / "fashion-mnist")
    assert folders[-1] == "/usr/share/datasets/fashion-mnist"


def test_unknown_name_suggests(offline):
    with pytest.raises(CnnctlError, match="unknown dataset 'fashion-mnist'.*'fashion_mnist'"):
        load_builtin("fashion-mnist")


def test_missing_data_dir_is_named(tmp_path, offline):
    with pytest.raises(CnnctlError, match="not a folder") as err:
        load_builtin("mnist", str(tmp_path / "typo"))
    assert err.value.file == str(tmp_path / "typo")
    assert offline == []


def test_real_fashion_mnist(offline):
    if not all((FASHION / f"{name}.gz").exists() for name in builtin.IDX_FILES):
        pytest.skip(f"Fashion-MNIST not in {FASHION} (apt-get install dataset-fashion-mnist)")
    (x_train, y_train), (x_test, y_test) = load_builtin("fashion_mnist")
    assert x_train.shape == (60000, 28, 28) and x_test.shape == (10000, 28, 28)
    assert x_train.dtype == np.uint8 and y_train.shape == (60000,) and y_test.shape == (10000,)
    assert np.bincount(y_train).tolist() == [6000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    assert offline == []


def test_where_the_data_was_read_is_said(tmp_path, write_idx, offline, monkeypatch):
    """Several copies on one machine: the run records which one it read."""
    mine = write_idx_set(tmp_path / "mine" / "fashion-mnist", mnist_like(1), write_idx)
    monkeypatch.setenv(builtin.ENV_VAR, str(tmp_path / "mine"))
    assert locate_builtin("fashion_mnist")[1] == {"path": str(mine)}
    cache = tmp_path / "keras-home" / "datasets"
    cache.mkdir()
    np.savez(cache / "mnist.npz", **dict(zip(["x_train", "y_train", "x_test", "y_test"],
                                             [a for part in mnist_like(2) for a in part])))
    assert locate_builtin("mnist")[1] == {"path": str(cache / "mnist.npz")}


def test_a_download_is_recorded_as_one(tmp_path, offline, monkeypatch):
    x, y = np.zeros((3, 32, 32, 3), np.uint8), np.array([[1], [2], [3]], np.uint8)
    fake = SimpleNamespace(datasets=SimpleNamespace(cifar10=SimpleNamespace(load_data=lambda: ((x, y), (x, y)))))
    monkeypatch.setattr(keras_catalog, "keras", lambda: fake)
    assert locate_builtin("cifar10")[1] == {"path": None, "downloaded": True}  # this fake writes no files


def test_the_data_report_holds_the_folder_read(tmp_path, write_idx):  # found in data_dir: no download
    from cnnctl.config import parse_config
    from cnnctl.data.prepare import load_data

    folder = write_idx_set(tmp_path / "course" / "mnist", mnist_like(3), write_idx)
    config = parse_config(f"""
data: {{source: mnist, data_dir: {tmp_path / 'course'}}}
model: {{input_shape: [28, 28, 1], layers: [Flatten, {{Dense: {{units: 10, activation: softmax}}}}]}}
train: {{validation: null}}
""")
    report = load_data(config, (28, 28, 1)).report
    assert report["source"] == "mnist" and report["path"] == str(folder)
