import numpy as np
import pytest

from cnnctl.data.preprocess import Preprocess, channel_stats, pixel_scale


@pytest.mark.parametrize("images, scale", [
    (np.array([0, 255], np.uint8), 1 / 255),
    (np.array([0, 3], np.int16), 1 / 255),
    (np.array([0.0, 0.5, 1.0], np.float32), 1.0),
    (np.array([0.0, 17.0, 255.0], np.float32), 1 / 255),  # 8-bit values stored as floats
])
def test_pixel_scale(images, scale):
    assert pixel_scale(images) == scale


def test_channel_stats_match_numpy_and_do_not_depend_on_chunking(monkeypatch):
    images = np.random.default_rng(0).integers(0, 256, (300, 4, 5, 3), dtype=np.uint8)
    expected_mean = (images / 255).mean(axis=(0, 1, 2))
    expected_std = (images / 255).std(axis=(0, 1, 2))
    monkeypatch.setattr("cnnctl.data.preprocess.CHUNK", 7)
    mean, std = channel_stats(images, 1 / 255)
    np.testing.assert_allclose(mean, expected_mean, rtol=1e-9)
    np.testing.assert_allclose(std, expected_std, rtol=1e-9)


def test_constant_channel_becomes_zero_not_nan():
    images = np.full((10, 2, 2, 1), 7, np.uint8)
    mean, std = channel_stats(images, 1 / 255)
    out = Preprocess(1 / 255, mean, std).inputs(images).numpy()
    assert np.isfinite(out).all() and np.abs(out).max() < 1e-3


def test_standardized_inputs_of_the_statistics_images_have_mean_0_std_1():
    images = np.random.default_rng(1).integers(0, 200, (64, 3, 3, 2), dtype=np.uint8)
    mean, std = channel_stats(images, 1 / 255)
    out = Preprocess(1 / 255, mean, std).inputs(images).numpy()
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-4)


def test_unit_scale_inputs():
    images = np.array([[[[0], [51]], [[255], [102]]]], np.uint8)
    np.testing.assert_allclose(Preprocess(1 / 255).inputs(images).numpy().ravel(), [0, 0.2, 1, 0.4], rtol=1e-6)
    floats = images.astype(np.float32) / 255
    np.testing.assert_array_equal(Preprocess(1.0).inputs(floats).numpy(), floats)
