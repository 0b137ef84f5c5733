"""Parity of dpig_tf.eval.ssim with scikit-image's structural_similarity.

skimage (0.26 here; `compare_ssim` in the papers' 0.13/0.14) is the reference;
every protocol variant is called with its parameters spelled out explicitly.
"""

import numpy as np
import pytest
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from dpig_tf.eval import ssim

from .conftest import real_looking_pairs

TOL = 1e-6


def _random_pairs(n=5, height=128, width=64, seed=1):
    rng = np.random.default_rng(seed)
    gen = rng.integers(0, 256, (n, height, width, 3), dtype=np.uint8)
    noise = rng.integers(-60, 61, gen.shape)
    tgt = np.clip(gen.astype(int) + noise, 0, 255).astype(np.uint8)
    msk = (rng.random((n, height, width)) > 0.4).astype(np.uint8) * 255
    return gen, tgt, msk


def _datasets():
    return [_random_pairs(), real_looking_pairs(n=6), _random_pairs(3, 256, 256, 2)]


def _ref_dpig(g, t):
    g_gray = rgb2gray(g.clip(0, 255))
    t_gray = rgb2gray(t.clip(0, 255))
    return structural_similarity(g_gray, t_gray, data_range=t_gray.max() - t_gray.min(),
                                 channel_axis=None, win_size=7, gaussian_weights=False,
                                 K1=0.01, K2=0.03, use_sample_covariance=True)


def _ref_dpig_mask(g, t, m):
    mg = np.uint8(m[:, :, np.newaxis] / 255. * g)
    mt = np.uint8(m[:, :, np.newaxis] / 255. * t)
    return structural_similarity(mg, mt, channel_axis=-1, data_range=255, win_size=7,
                                 gaussian_weights=False, use_sample_covariance=True)


def _ref_patn(g, t):
    return structural_similarity(t, g, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=-1,
                                 data_range=g.max() - g.min())


def _ref_patn_mask(g, t, m):
    keep = (m > 0)[..., np.newaxis]
    return _ref_patn(g * keep, t * keep)


@pytest.mark.parametrize("dataset", range(3))
def test_dpig_ssim_matches_skimage(dataset):
    g, t, _ = _datasets()[dataset]
    ours = ssim.dpig_ssim(g, t)
    ref = np.array([_ref_dpig(gi, ti) for gi, ti in zip(g, t)])
    np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("dataset", range(3))
def test_dpig_mask_ssim_matches_skimage(dataset):
    g, t, m = _datasets()[dataset]
    ours = ssim.dpig_mask_ssim(g, t, m)
    ref = np.array([_ref_dpig_mask(gi, ti, mi) for gi, ti, mi in zip(g, t, m)])
    np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("dataset", range(3))
def test_patn_ssim_matches_skimage(dataset):
    g, t, m = _datasets()[dataset]
    np.testing.assert_allclose(
        ssim.patn_ssim(g, t), [_ref_patn(gi, ti) for gi, ti in zip(g, t)], atol=TOL, rtol=0)
    np.testing.assert_allclose(
        ssim.patn_mask_ssim(g, t, m),
        [_ref_patn_mask(gi, ti, mi) for gi, ti, mi in zip(g, t, m)], atol=TOL, rtol=0)


@pytest.mark.parametrize("kwargs", [
    dict(gaussian_weights=False, use_sample_covariance=True),
    dict(gaussian_weights=False, use_sample_covariance=False, win_size=11),
    dict(gaussian_weights=True, sigma=1.2, use_sample_covariance=False),
    dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=True),
])
def test_ssim_batch_generic_matches_skimage(kwargs):
    rng = np.random.default_rng(3)
    x = rng.random((4, 40, 30, 3)) * 200
    y = np.clip(x + rng.normal(0, 20, x.shape), 0, 255)
    ours = ssim.ssim_batch(x, y, 255.0, channels=True, **kwargs)
    ref = [structural_similarity(a, b, data_range=255.0, channel_axis=-1, **kwargs)
           for a, b in zip(x, y)]
    np.testing.assert_allclose(ours, ref, atol=TOL, rtol=0)


def test_rgb_to_gray_matches_skimage():
    g, _, _ = real_looking_pairs(n=2)
    np.testing.assert_allclose(ssim.rgb_to_gray(g), rgb2gray(g), atol=1e-12)


def test_identical_images_score_one():
    g, _, m = _random_pairs(2)
    np.testing.assert_allclose(ssim.dpig_ssim(g, g), 1.0, atol=1e-12)
    np.testing.assert_allclose(ssim.dpig_mask_ssim(g, g, m), 1.0, atol=1e-12)
    np.testing.assert_allclose(ssim.patn_ssim(g, g), 1.0, atol=1e-12)


def test_border_crop_matches_skimage():
    # A difference confined to the top 3 rows: only windows reaching into them
    # see it, and skimage crops a 3-px border before averaging.
    rng = np.random.default_rng(5)
    x = rng.random((1, 32, 32))
    y = x.copy()
    y[:, :3, :] = rng.random((1, 3, 32))
    ours = ssim.ssim_batch(x, y, 1.0, channels=False)
    ref = structural_similarity(x[0], y[0], data_range=1.0)
    np.testing.assert_allclose(ours, [ref], atol=1e-12)
    assert ours[0] < 1.0


def test_mask_is_applied_with_uint8_truncation():
    image = np.full((1, 8, 8, 3), 255, np.uint8)
    mask = np.full((1, 8, 8), 128, np.uint8)
    # 128 / 255 * 255 = 127.99999999999999 -> uint8 truncates to 127 (as np.uint8 did).
    assert ssim.apply_mask(image, mask)[0, 0, 0, 0] == int(np.uint8(128 / 255. * 255))


def test_shape_mismatch_and_small_images_raise():
    with pytest.raises(ValueError, match="differ in shape"):
        ssim.ssim_batch(np.zeros((1, 10, 10)), np.zeros((1, 10, 11)), 1.0, channels=False)
    with pytest.raises(ValueError, match="smaller than"):
        ssim.ssim_batch(np.zeros((1, 5, 10)), np.zeros((1, 5, 10)), 1.0, channels=False)
