"""Data files that would hang cnnctl or exhaust memory are refused, by name, before they are read in full."""

from __future__ import annotations

import gzip
import os
import struct
import threading
import tracemalloc
import zipfile

import numpy as np
import pytest

from cnnctl.data import folder as folder_module
from cnnctl.data.cifar import read_cifar_batch
from cnnctl.data.folder import read_image_folder
from cnnctl.data.idx import read_idx
from cnnctl.data.npz import read_npz
from cnnctl.errors import CnnctlError
from tests.data.conftest import MiB, gzip_of_zeros_after, idx_bytes, png_of_zeros


def blocked_or_raised(read, fifo) -> BaseException | None:
    """What `read()` raised; a read still blocked on `fifo` after 30 s is released (a writer opens and closes
    the pipe) and fails the test, so a regression hangs nothing."""
    outcome: dict[str, BaseException] = {}

    def run():
        try:
            read()
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome["raised"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(30)
    if thread.is_alive():
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))  # the blocked open returns; its read sees EOF
        thread.join(30)
        pytest.fail(f"reading the named pipe {fifo} blocked")
    return outcome.get("raised")


def peak_bytes(read) -> tuple[int, BaseException | None]:
    """Peak Python and NumPy allocations while `read()` runs, and what it raised."""
    tracemalloc.start()
    try:
        read()
        raised = None
    except BaseException as exc:  # noqa: BLE001
        raised = exc
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, raised


def test_named_pipe_as_idx_file_is_refused_at_once(tmp_path):
    fifo = tmp_path / "train-images-idx3-ubyte"
    os.mkfifo(fifo)
    raised = blocked_or_raised(lambda: read_idx(fifo), fifo)
    assert isinstance(raised, CnnctlError) and raised.file == str(fifo)
    assert "named pipe (FIFO), not a regular file" in str(raised)


def test_named_pipe_as_npz_or_cifar_batch_is_refused_at_once(tmp_path):
    fifo = tmp_path / "d.npz"
    os.mkfifo(fifo)
    for read in (read_npz, read_cifar_batch):
        raised = blocked_or_raised(lambda: read(fifo), fifo)
        assert isinstance(raised, CnnctlError) and "named pipe" in str(raised) and raised.file == str(fifo)


def test_named_pipe_in_an_image_folder_is_refused_at_once(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "imgs", {c: np.zeros((2, 6, 5, 3), np.uint8) for c in "ab"})
    fifo = root / "b" / "002.png"
    os.mkfifo(fifo)
    raised = blocked_or_raised(lambda: read_image_folder(root, 6, 5, 3), fifo)
    assert isinstance(raised, CnnctlError) and "named pipe" in str(raised) and raised.file == str(fifo)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_idx_file_linked_to_dev_zero_is_refused_before_reading(tmp_path):
    link = tmp_path / "train-images-idx3-ubyte"
    link.symlink_to("/dev/zero")
    with pytest.raises(CnnctlError, match="a link to /dev/zero, a character device, not a regular file") as err:
        read_idx(link)
    assert err.value.file == str(link)


def test_folder_given_as_a_data_file_is_named(tmp_path):
    (tmp_path / "x").mkdir()
    with pytest.raises(CnnctlError, match="a folder, not a regular file"):
        read_idx(tmp_path / "x")


def test_gzip_bomb_stops_at_the_size_the_header_promises(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip_of_zeros_after(idx_bytes(np.zeros((10, 4, 4), np.uint8)), 256 * MiB))
    assert path.stat().st_size < MiB
    peak, raised = peak_bytes(lambda: read_idx(path))
    assert isinstance(raised, CnnctlError) and raised.file == str(path), raised
    assert "(10, 4, 4) (160 bytes of values) but the file decompresses to more" in str(raised)
    assert peak < 4 * MiB, f"inflated {peak / MiB:.0f} MiB of a 160-byte dataset"


def test_header_promising_more_than_a_gzip_can_hold_allocates_nothing(tmp_path):
    path = tmp_path / "x.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((1, 1), np.uint8))[:4] + struct.pack(">II", 2**31, 2**31)))
    peak, raised = peak_bytes(lambda: read_idx(path))
    assert isinstance(raised, CnnctlError) and "cannot hold that much" in str(raised), raised
    assert peak < MiB


def test_raw_file_longer_than_its_header_says_is_refused_before_reading(tmp_path):
    path = tmp_path / "x"
    with open(path, "wb") as f:
        f.write(idx_bytes(np.zeros((10, 4, 4), np.uint8)))
        f.truncate(256 * MiB)  # sparse: no disk space taken
    peak, raised = peak_bytes(lambda: read_idx(path))
    assert isinstance(raised, CnnctlError) and f"but the file holds {256 * MiB - 16}" in str(raised), raised
    assert peak < MiB


def test_npz_array_header_promising_more_than_the_archive_holds(tmp_path):
    path = tmp_path / "d.npz"
    arrays = {"x_train": np.zeros((3, 4, 4), np.uint8), "y_train": np.zeros(3, np.uint8),
              "x_test": np.zeros((2, 4, 4), np.uint8), "y_test": np.zeros(2, np.uint8)}
    np.savez(path, **arrays)
    with zipfile.ZipFile(path, "a") as archive:  # a second x_train.npy entry: the one NumPy reads
        header = tmp_path / "header"
        with open(header, "wb") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (10**6, 10**6, 1)})
            f.write(bytes(64))
        with pytest.warns(UserWarning, match="Duplicate name"):
            archive.write(header, "x_train.npy")
    peak, raised = peak_bytes(lambda: read_npz(path))
    assert isinstance(raised, CnnctlError), raised
    assert "x_train: its header says shape (1000000, 1000000, 1) of float32 (4,000,000,000,000 bytes) " \
           "but the archive holds 64" in str(raised)
    assert peak < 4 * MiB


def test_huge_png_is_refused_from_its_header(tmp_path, write_image_folder):
    root = write_image_folder(tmp_path / "imgs", {c: np.zeros((2, 6, 5, 3), np.uint8) for c in "ab"})
    bomb = root / "b" / "bomb.png"
    bomb.write_bytes(png_of_zeros(20000, 20000))
    assert bomb.stat().st_size < MiB
    with pytest.raises(CnnctlError, match="image of 400,000,000 pixels is over the limit of 89,478,485 pixels "
                                          r"\(a guard against decompression bombs\)") as err:
        read_image_folder(root, 6, 5, 3)
    assert err.value.file == str(bomb)


def test_image_over_the_limit_is_named_with_its_size(tmp_path, write_image_folder, monkeypatch):
    monkeypatch.setattr(folder_module, "MAX_IMAGE_PIXELS", 40)
    root = write_image_folder(tmp_path / "imgs", {"a": np.zeros((1, 6, 5, 3), np.uint8),
                                                  "b": np.zeros((1, 9, 5, 3), np.uint8)})
    with pytest.raises(CnnctlError, match="image of 9×5 = 45 pixels is over the limit of 40 pixels") as err:
        read_image_folder(root, 6, 5, 3)
    assert err.value.file == str(root / "b" / "000.png")


def test_every_frame_of_a_gif_counts(tmp_path, write_image_folder, monkeypatch):
    from PIL import Image

    monkeypatch.setattr(folder_module, "MAX_IMAGE_PIXELS", 100)
    root = write_image_folder(tmp_path / "imgs", {c: np.zeros((1, 6, 5, 3), np.uint8) for c in "ab"})
    frames = [Image.new("L", (5, 6), shade) for shade in (0, 120, 240)]  # 30 pixels each, 90 in all
    frames[0].save(root / "a" / "ok.gif", save_all=True, append_images=frames[1:])
    read_image_folder(root, 6, 5, 3)
    frames = [Image.new("L", (5, 6), shade) for shade in (0, 60, 120, 180)]  # 120 pixels in all
    frames[0].save(root / "b" / "long.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(CnnctlError, match="4 frames of 6×5 = 120 pixels is over the limit of 100"):
        read_image_folder(root, 6, 5, 3)


def test_a_single_array_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "d.npy"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False, "shape": (10**6, 10**6)})
        f.write(bytes(64))
    peak, raised = peak_bytes(lambda: read_npz(path))
    assert isinstance(raised, CnnctlError) and "a single array, not an archive" in str(raised), raised
    assert peak < MiB
