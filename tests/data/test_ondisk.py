"""Images read from disk a batch at a time: the same pixels, order and batches as in memory; damaged files named."""

from __future__ import annotations

import numpy as np
import pytest

from cnnctl.data.folder import index_image_folder, read_image_folder
from cnnctl.data.ondisk import ImageFiles, MappedImages, corrupt_file_error
from cnnctl.data.pipeline import eval_dataset, steps_per_epoch, train_dataset
from cnnctl.data.prepare import Split
from cnnctl.data.preprocess import Preprocess
from cnnctl.errors import CnnctlError

BATCH = 8
PREPARE = Preprocess(1 / 255)


def images(seed, n, shape):
    return np.random.default_rng(seed).integers(0, 256, (n, *shape), dtype=np.uint8)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Three classes of 12×10 PNGs, and one class of 20×16 ones that are resized when read."""
    from tests.data.conftest import _write_image_folder

    root = tmp_path_factory.mktemp("ondisk") / "train"
    _write_image_folder(root, {"ant": images(0, 13, (12, 10, 3)), "bee": images(1, 11, (12, 10, 3)),
                               "cat": images(2, 12, (12, 10, 3))})
    _write_image_folder(root, {"dog": images(3, 9, (20, 16, 3))})
    return root


@pytest.fixture(scope="module")
def streamed(folder):
    files, y, names = index_image_folder(folder, 12, 10, 3)
    return files, y, names


def damaged(folder, tmp_path, name="bee/004.png"):
    """A copy of `folder` with one PNG cut in half: its header reads, its pixels do not decode."""
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(folder, copy)
    target = copy / name
    target.write_bytes(target.read_bytes()[:len(target.read_bytes()) // 2])
    return copy, str(target)


def batches(dataset, count=None):
    out = []
    for x, y in dataset.take(count) if count else dataset:
        out.append((x.numpy(), y.numpy()))
    return out


def test_files_are_listed_as_keras_lists_them_and_decode_to_the_same_pixels(folder, streamed):
    files, y, names = streamed
    x, labels, keras_names = read_image_folder(folder, 12, 10, 3)  # Keras' image_dataset_from_directory
    assert names == keras_names and y.tolist() == labels.tolist()
    assert isinstance(files, ImageFiles) and files.shape == x.shape and files.dtype == np.uint8
    np.testing.assert_array_equal(np.asarray(files), x)  # at the model's size, and resized (dog)
    assert files.files[0].endswith("ant/000.png") and files.files[-1].endswith("dog/008.png")


def test_indexing_narrows_without_reading(streamed):
    files, _, _ = streamed
    part = files[np.array([40, 3, 17])][1:]
    assert isinstance(part, ImageFiles) and part.rows.tolist() == [3, 17]
    np.testing.assert_array_equal(np.asarray(part), np.asarray(files)[[3, 17]])
    np.testing.assert_array_equal(files[5], np.asarray(files)[5])
    assert files[np.arange(len(files)) % 2 == 0].rows.tolist() == list(range(0, len(files), 2))


def test_each_epoch_streams_the_batches_memory_gives_in_the_seed_epoch_order(streamed):
    files, y, _ = streamed
    on_disk, in_memory = Split(files, y), Split(np.asarray(files), y)
    steps = steps_per_epoch(len(y), BATCH)
    encode = lambda labels: labels  # noqa: E731
    whole, _ = train_dataset(on_disk, BATCH, 7, 0, 3, PREPARE, encode)
    expected, _ = train_dataset(in_memory, BATCH, 7, 0, 3, PREPARE, encode)
    got, want = batches(whole), batches(expected)
    assert len(got) == len(want) == 3 * steps
    for (x, labels), (x_memory, labels_memory) in zip(got, want):
        np.testing.assert_array_equal(x, x_memory)
        np.testing.assert_array_equal(labels, labels_memory)
    resumed, _ = train_dataset(on_disk, BATCH, 7, 2, 3, PREPARE, encode)  # from epoch 2, as a resume starts
    for (x, labels), (x_whole, labels_whole) in zip(batches(resumed), got[2 * steps:]):
        np.testing.assert_array_equal(x, x_whole)
        np.testing.assert_array_equal(labels, labels_whole)
    other, _ = train_dataset(on_disk, BATCH, 8, 0, 1, PREPARE, encode)
    assert not np.array_equal(batches(other)[0][1], got[0][1])  # another seed, another order


def test_evaluation_batches_are_the_split_in_order(streamed):
    files, y, _ = streamed
    got = batches(eval_dataset(Split(files[5:], y[5:]), BATCH, PREPARE, lambda labels: labels))
    np.testing.assert_allclose(np.concatenate([x for x, _ in got]), np.asarray(files)[5:] / np.float32(255))
    assert np.concatenate([labels for _, labels in got]).tolist() == y[5:].tolist()


def test_a_damaged_file_mid_epoch_stops_with_its_name(folder, tmp_path):
    import tensorflow as tf

    copy, bad = damaged(folder, tmp_path)
    files, y, _ = index_image_folder(copy, 12, 10, 3)  # its header reads: listed
    assert bad in files.files
    data, _ = train_dataset(Split(files, y), BATCH, 0, 0, 1, PREPARE, lambda labels: labels)
    with pytest.raises(tf.errors.OpError) as info:
        batches(data)
    error = corrupt_file_error(info.value)
    assert isinstance(error, CnnctlError)
    assert str(error).startswith(f"{bad}: cannot decode image: ")
    assert "data.on_corrupt: skip" in str(error)
    assert corrupt_file_error(ValueError("something else")) is None


def test_a_damaged_file_mid_epoch_is_skipped_and_the_next_images_fill_the_epoch(folder, tmp_path):
    copy, bad = damaged(folder, tmp_path)
    files, y, _ = index_image_folder(copy, 12, 10, 3, on_corrupt="skip")
    position = files.files.index(bad)
    clean = np.asarray(files[np.arange(len(files)) != position])  # every other image, read once
    decoded = np.zeros((len(files), 12, 10, 3), np.uint8)
    decoded[np.arange(len(files)) != position] = clean
    steps = steps_per_epoch(len(y), BATCH)
    data, _ = train_dataset(Split(files, y), BATCH, 3, 0, 2, Preprocess(1.0), lambda labels: labels)
    got = batches(data)
    assert len(got) == 2 * steps and all(len(x) == BATCH for x, _ in got)  # full batches, every epoch
    assert files.skipped == [bad]  # named once, though met in both epochs
    import tensorflow as tf

    for epoch in range(2):
        order = tf.random.experimental.stateless_shuffle(tf.range(len(y), dtype=tf.int64), seed=[3, epoch]).numpy()
        kept = [p for p in np.concatenate([order, order]) if p != position][:steps * BATCH]
        x = np.concatenate([x for x, _ in got[epoch * steps:(epoch + 1) * steps]])
        np.testing.assert_array_equal(x, decoded[kept])


def test_a_damaged_evaluation_image_stops_even_when_training_skips(folder, tmp_path):
    import tensorflow as tf

    copy, bad = damaged(folder, tmp_path)
    files, y, _ = index_image_folder(copy, 12, 10, 3, on_corrupt="skip")
    with pytest.raises(tf.errors.OpError) as info:
        batches(eval_dataset(Split(files, y), BATCH, PREPARE, lambda labels: labels))
    assert str(corrupt_file_error(info.value)).startswith(f"{bad}: cannot decode image: ")
    assert "never skipped" in str(corrupt_file_error(info.value))


def test_an_unreadable_header_is_skipped_when_listing(folder, tmp_path):
    copy, _ = damaged(folder, tmp_path)
    (copy / "cat" / "003.png").write_bytes(b"not an image")
    with pytest.raises(CnnctlError, match="cat/003.png: cannot decode image"):
        index_image_folder(copy, 12, 10, 3)
    files, y, _ = index_image_folder(copy, 12, 10, 3, on_corrupt="skip")
    assert len(files) == len(y) == 44 and files.skipped == [str(copy / "cat" / "003.png")]


def test_a_memory_mapped_array_reads_rows_in_any_order(tmp_path):
    array = images(5, 30, (4, 4, 1))
    np.save(tmp_path / "a.npy", array)
    mapped = MappedImages(np.load(tmp_path / "a.npy", mmap_mode="r"))
    part = mapped[np.array([29, 0, 7, 7])]
    np.testing.assert_array_equal(np.asarray(part), array[[29, 0, 7, 7]])
    y = np.arange(30) % 3
    got, want = (batches(train_dataset(Split(x, y), 4, 1, 0, 2, PREPARE, lambda labels: labels)[0])
                 for x in (mapped, array))
    assert len(got) == len(want) == 14
    for (x, labels), (x_memory, labels_memory) in zip(got, want):
        np.testing.assert_array_equal(x, x_memory)
        np.testing.assert_array_equal(labels, labels_memory)


def test_a_damaged_last_file_is_found_too(folder, tmp_path):
    copy, bad = damaged(folder, tmp_path, "dog/008.png")  # the last file listed
    files, y, _ = index_image_folder(copy, 12, 10, 3)
    assert files.files[-1] == bad
    with pytest.raises(CnnctlError, match="dog/008.png: cannot decode image"):
        np.asarray(files)
    skipping, _, _ = index_image_folder(copy, 12, 10, 3, on_corrupt="skip")
    _, good = skipping.read_decodable(skipping.rows)
    assert good.tolist() == [True] * 44 + [False] and skipping.skipped == [bad]


def test_no_rows_read_as_no_images(streamed):
    files, _, _ = streamed
    assert np.asarray(files[[]]).shape == (0, 12, 10, 3)
