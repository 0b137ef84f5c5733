"""PSNR / L1 / L2 against skimage and the original score.py formulas."""

import numpy as np
import pytest
from skimage.color import rgb2gray
from skimage.metrics import peak_signal_noise_ratio

from dpig_tf.eval import psnr_l1

from .conftest import real_looking_pairs


def test_dpig_psnr_matches_skimage_on_gray():
    g, t, _ = real_looking_pairs(n=4)
    ref = []
    for gi, ti in zip(g, t):
        tg, gg = rgb2gray(ti), rgb2gray(gi)
        ref.append(peak_signal_noise_ratio(tg, gg, data_range=tg.max() - tg.min()))
    np.testing.assert_allclose(psnr_l1.dpig_psnr(g, t), ref, rtol=1e-12)


def test_masked_psnr_matches_skimage_uint8_default_range():
    g, t, m = real_looking_pairs(n=3)
    ref = [peak_signal_noise_ratio(np.uint8(mi[..., None] / 255. * ti),
                                   np.uint8(mi[..., None] / 255. * gi), data_range=255)
           for gi, ti, mi in zip(g, t, m)]
    np.testing.assert_allclose(psnr_l1.masked_psnr(g, t, m), ref, rtol=1e-12)


def test_l1_l2_original_normalisation():
    x = np.zeros((1, 2, 2))
    y = np.array([[[1.0, 0.0], [0.0, 3.0]]])
    l1, l2 = psnr_l1.l1_l2(x, y)
    assert l1[0] == pytest.approx(4 / 4)
    assert l2[0] == pytest.approx(np.sqrt(10) / 4)  # sqrt(sum d^2) / numel, as score.py


def test_identical_images_give_infinite_psnr():
    g, _, _ = real_looking_pairs(n=1)
    assert np.isinf(psnr_l1.dpig_psnr(g, g)).all()
