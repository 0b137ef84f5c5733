"""export/quality.py: PSNR/SSIM/abs errors against the fp32 output, the faithful bar."""

import numpy as np
import pytest

from dpig_tf.eval.ssim import ssim_batch
from export import quality


def _images(seed=0, n=3):
    rng = np.random.default_rng(seed)
    return np.tanh(rng.normal(0, 0.7, (n, 32, 16, 3))).astype(np.float32)


def test_identical_images_are_capped_and_faithful():
    ref = _images()
    q = quality.compare(ref, ref.copy())
    assert q.psnr_db == quality.PSNR_CAP_DB and q.ssim == pytest.approx(1.0)
    assert q.max_abs_error == 0 and q.images == 3 and q.faithful
    assert q.as_dict()["faithful"] is True


def test_psnr_matches_the_formula_and_ssim_is_the_exact_ssim():
    ref = _images()
    noise = np.random.default_rng(1).normal(0, 0.02, ref.shape).astype(np.float32)
    out = np.clip(ref + noise, -1, 1)
    q = quality.compare(ref, out)
    mse = ((out.astype(np.float64) - ref) ** 2).mean(axis=(1, 2, 3))
    assert q.psnr_db == pytest.approx(np.mean(10 * np.log10(4 / mse)), rel=1e-9)
    want = ssim_batch((ref + 1) / 2, (out + 1) / 2, 1.0, channels=True).mean()
    assert q.ssim == pytest.approx(want, rel=1e-9)
    assert q.mean_abs_error == pytest.approx(np.abs(out - ref).mean(), rel=1e-5)


def test_below_the_bar_is_not_faithful_and_the_warning_says_so():
    ref = _images()
    out = np.clip(ref + np.random.default_rng(2).normal(0, 0.15, ref.shape), -1, 1)
    q = quality.compare(ref, out)
    assert q.psnr_db < quality.FAITHFUL_PSNR_DB and not q.faithful
    line = quality.warning_line("m.tflite", q)
    assert line.startswith("warning: m.tflite is NOT faithful") and "\n" not in line
    # Either criterion alone fails a row.
    assert not quality.Quality(40.0, 0.97, 0, 0, 1).faithful
    assert not quality.Quality(34.9, 0.99, 0, 0, 1).faithful
    assert quality.Quality(35.0, 0.98, 0, 0, 1).faithful


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match="one shape"):
        quality.compare(_images(n=2), _images(n=3))
