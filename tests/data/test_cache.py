"""`data.cache`: the default chosen by size, and a disk cache written once and reused."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.data import cache
from cnnctl.data.cache import choose_cache, keep_images
from cnnctl.data.folder import index_image_folder
from cnnctl.data.ondisk import ImageFiles, MappedImages

GiB = 2**30


def images(seed, n, shape=(6, 5, 3)):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture
def folder(tmp_path, write_image_folder):
    return write_image_folder(tmp_path / "train", {"a": images(0, 5), "b": images(1, 4)})


def test_the_default_is_memory_while_a_quarter_of_memory_holds_the_images(monkeypatch):
    monkeypatch.setattr(cache, "physical_memory", lambda: 16 * GiB)
    small = choose_cache(None, 4 * GiB, None)
    assert small.kind == "memory" and small.reason == "4.0 GiB decoded, within a quarter of memory (4.0 GiB)"
    large = choose_cache(None, 4 * GiB + 1, None)
    assert large.kind == "none" and "over a quarter of memory" in large.reason and "data.cache_dir" in large.reason
    assert choose_cache(None, 5 * GiB, "/tmp/cache").kind == "disk"
    assert choose_cache("none", 10, None) == cache.CacheChoice("none", "10 B decoded, data.cache: none")
    assert choose_cache("memory", 5 * GiB, None).report() == {"cache": "memory",
                                                              "cache_reason": "5.0 GiB decoded, data.cache: memory"}


def test_memory_and_none_keep_the_same_images(folder):
    files, _, _ = index_image_folder(folder, 6, 5, 3)
    in_memory, good = keep_images(files, "memory", None)
    assert isinstance(in_memory, np.ndarray) and good.all()
    np.testing.assert_array_equal(in_memory, np.concatenate([images(0, 5), images(1, 4)]))
    left, good = keep_images(files, "none", None)
    assert left is files and good.all()


def test_a_disk_cache_is_written_once_then_reused_until_a_file_changes(folder, tmp_path):
    files, _, _ = index_image_folder(folder, 6, 5, 3)
    mapped, good = keep_images(files, "disk", str(tmp_path / "cache"))
    assert isinstance(mapped, MappedImages) and good.all()
    np.testing.assert_array_equal(np.asarray(mapped), np.asarray(files))
    written = sorted((tmp_path / "cache").iterdir())
    assert [p.suffix for p in written] == [".json", ".npy"]  # no temporary file left
    stamp = written[1].stat().st_mtime_ns
    again, _ = keep_images(files, "disk", str(tmp_path / "cache"))
    np.testing.assert_array_equal(np.asarray(again), np.asarray(files))
    assert written[1].stat().st_mtime_ns == stamp  # reused, not decoded again
    (folder / "a" / "000.png").write_bytes((folder / "b" / "000.png").read_bytes())  # a file changed
    changed, _, _ = index_image_folder(folder, 6, 5, 3)
    keep_images(changed, "disk", str(tmp_path / "cache"))
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 2


def test_a_damaged_file_is_left_out_of_memory_when_skipping(folder):
    (folder / "b" / "001.png").write_bytes((folder / "b" / "001.png").read_bytes()[:60])  # header only
    files, y, _ = index_image_folder(folder, 6, 5, 3, on_corrupt="skip")
    assert isinstance(files, ImageFiles) and len(files) == 9
    kept, good = keep_images(files, "memory", None)
    assert good.tolist() == [True] * 6 + [False] + [True] * 2 and len(kept) == 8
    assert files.skipped == [str(folder / "b" / "001.png")]
