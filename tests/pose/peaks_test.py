"""Peak extraction on synthetic heatmaps (no graph needed)."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.pose import peaks


def _gaussian(h, w, r, c, sigma=2.0, amp=1.0):
    rr, cc = np.mgrid[0:h, 0:w]
    return amp * np.exp(-((rr - r) ** 2 + (cc - c) ** 2) / (2 * sigma ** 2))


def test_upsample_matches_tf_bilinear_half_pixel():
    rng = np.random.default_rng(0)
    maps = rng.normal(size=(7, 5, 3)).astype(np.float32)
    ours = peaks.upsample_maps(maps, 4)
    ref = tf.image.resize(maps[None], (28, 20), method="bilinear", antialias=False)[0].numpy()
    np.testing.assert_allclose(ours, ref, atol=1e-5)


def test_upsample_factor_one_is_identity():
    maps = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    np.testing.assert_array_equal(peaks.upsample_maps(maps, 1), maps)


def test_find_peaks_locates_every_joint_and_ignores_background():
    h, w = 40, 30
    heat = np.zeros((h, w, 19), np.float32)
    expected = {}
    for j in range(18):
        r, c = 3 + (j * 7) % 34, 2 + (j * 5) % 26
        heat[:, :, j] = _gaussian(h, w, r, c, amp=0.5 + j / 40)
        expected[j] = (r, c)
    heat[:, :, 18] = 1.0  # background channel: never a joint
    found = peaks.find_peaks(heat)
    assert len(found) == 18
    for j, (r, c) in expected.items():
        assert found[j].shape == (1, 3)
        np.testing.assert_allclose(found[j][0], [r, c, 0.5 + j / 40], atol=1e-5)


def test_two_peaks_of_one_joint_and_threshold():
    heat = np.zeros((50, 50, 18), np.float32)
    heat[:, :, 0] = _gaussian(50, 50, 10, 10, amp=0.9) + _gaussian(50, 50, 35, 40, amp=0.6)
    heat[:, :, 1] = _gaussian(50, 50, 20, 20, amp=0.04)  # below the threshold after smoothing
    found = peaks.find_peaks(heat)
    np.testing.assert_allclose(found[0][:, :2], [[10, 10], [35, 40]])
    assert found[1].shape == (0, 3)
    assert all(found[j].shape == (0, 3) for j in range(2, 18))


def test_smoothing_suppresses_a_single_pixel_spike_next_to_a_real_peak():
    heat = np.zeros((40, 40, 18), np.float32)
    heat[:, :, 0] = _gaussian(40, 40, 20, 20, sigma=3.0, amp=0.8)
    heat[17, 24, 0] += 0.3  # noise spike on the flank: a local max without smoothing
    assert len(peaks.find_peaks(heat, sigma=0)[0]) == 2
    found = peaks.find_peaks(heat)
    assert len(found[0]) == 1
    np.testing.assert_allclose(found[0][0, :2], [20, 20], atol=1)


def test_bad_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="heatmaps must be"):
        peaks.find_peaks(np.zeros((10, 10, 5)))
