"""IDX and .npz images memory-mapped (`data.cache: none`, `disk`): the same images and splits as read into memory."""

from __future__ import annotations

import json

import numpy as np
import pytest

from cnnctl.config import parse_config
from cnnctl.data.mapped import decoded_size, map_source
from cnnctl.data.ondisk import MappedImages
from cnnctl.data.prepare import load_data
from cnnctl.errors import CnnctlError


def images(seed, n, shape=(6, 5)):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


def labels(n):
    return (np.arange(n) % 3).astype(np.uint8)


@pytest.fixture
def idx_folder(tmp_path, write_idx):
    def make(gz=False):
        folder = tmp_path / ("gz" if gz else "raw")
        folder.mkdir()
        suffix = ".gz" if gz else ""
        write_idx(folder / f"train-images-idx3-ubyte{suffix}", images(0, 30), gz)
        write_idx(folder / f"train-labels-idx1-ubyte{suffix}", labels(30), gz)
        write_idx(folder / f"t10k-images-idx3-ubyte{suffix}", images(1, 9), gz)
        write_idx(folder / f"t10k-labels-idx1-ubyte{suffix}", labels(9), gz)
        return folder
    return make


@pytest.fixture
def npz_file(tmp_path):
    def make(compressed=False, x_train=None):
        path = tmp_path / ("packed.npz" if compressed else "stored.npz")
        save = np.savez_compressed if compressed else np.savez
        save(path, x_train=images(0, 30, (6, 5, 3)) if x_train is None else x_train, y_train=labels(30),
             x_test=images(1, 9, (6, 5, 3)), y_test=labels(9))
        return path
    return make


def test_a_raw_idx_file_is_mapped_not_read(idx_folder):
    folder = idx_folder()
    assert decoded_size("idx", str(folder)) == 39 * 30
    (x, y), (x_test, y_test) = map_source("idx", str(folder), "none", None)
    assert isinstance(x, MappedImages) and isinstance(x.array, np.memmap)
    np.testing.assert_array_equal(np.asarray(x), images(0, 30))
    np.testing.assert_array_equal(np.asarray(x_test[[8, 0]]), images(1, 9)[[8, 0]])
    assert y.tolist() == labels(30).tolist() and y.dtype == np.int64


def test_a_gzipped_idx_file_is_refused_without_a_disk_cache_and_decompressed_once_with_one(idx_folder, tmp_path):
    folder = idx_folder(gz=True)
    assert decoded_size("idx", str(folder)) == 39 * 30
    with pytest.raises(CnnctlError, match=r"train-images-idx3-ubyte.gz: a gzipped IDX file cannot be "
                                          r"memory-mapped \(data.cache: none\) \(gunzip "):
        map_source("idx", str(folder), "none", None)
    (x, _), _ = map_source("idx", str(folder), "disk", str(tmp_path / "cache"))
    np.testing.assert_array_equal(np.asarray(x), images(0, 30))
    assert len(list((tmp_path / "cache").glob("array-*.npy"))) == 2 and not list((tmp_path / "cache").glob("*.tmp*"))


def test_an_uncompressed_archive_is_mapped_and_a_compressed_one_cached(npz_file, tmp_path):
    (x, y), (x_test, _) = map_source("npz", str(npz_file()), "none", None)
    assert isinstance(x.array, np.memmap)
    np.testing.assert_array_equal(np.asarray(x), images(0, 30, (6, 5, 3)))
    np.testing.assert_array_equal(np.asarray(x_test), images(1, 9, (6, 5, 3)))
    packed = npz_file(compressed=True)
    with pytest.raises(CnnctlError, match="a compressed archive"):
        map_source("npz", str(packed), "none", None)
    (x, _), _ = map_source("npz", str(packed), "disk", str(tmp_path / "cache"))
    np.testing.assert_array_equal(np.asarray(x), images(0, 30, (6, 5, 3)))


def test_nan_pixels_are_found_in_a_mapped_array_too(npz_file):
    bad = images(0, 30, (6, 5, 3)).astype(np.float32)
    bad[4, 1, 1, 0] = np.nan
    with pytest.raises(CnnctlError, match="x_train"):
        map_source("npz", str(npz_file(x_train=bad)), "none", None)


def config(source, path, cache, input_shape="[6, 5, 1]"):
    return parse_config(f"data: {{source: {source}, path: {path}, cache: {cache}, limit: 25}}\n"
                        f"model: {{input_shape: {input_shape}, layers: [Flatten, {{Dense: {{units: 3}}}}]}}\n"
                        "train: {validation: 0.2}\n")


@pytest.mark.parametrize("source", ["idx", "npz"])
def test_mapped_data_has_the_splits_and_pixels_of_data_in_memory(source, idx_folder, npz_file):
    path, shape = (idx_folder(), "[6, 5, 1]") if source == "idx" else (npz_file(), "[6, 5, 3]")
    mapped = load_data(config(source, path, "none", shape), tuple(json.loads(shape)))
    memory = load_data(config(source, path, "memory", shape), tuple(json.loads(shape)))
    assert mapped.report["cache"] == "none" and memory.report["cache"] == "memory"
    for part in ("train", "validation", "test"):
        got, want = getattr(mapped, part), getattr(memory, part)
        assert isinstance(got.x, MappedImages) and got.x.shape == want.x.shape
        np.testing.assert_array_equal(np.asarray(got.x), want.x)
        assert got.y.tolist() == want.y.tolist()
