"""PSNR, L1 and L2 as DPIG's `score.py` / `score_mask.py` print them.

- Unmasked (SPEC 5.1): on the rgb2gray images in [0, 1];
  PSNR = `compare_psnr(im_true=T_gray, im_test=G_gray,
  data_range=T_gray.max() - T_gray.min())`.
- Masked: on uint8(m * G), uint8(m * T) RGB with skimage's uint8 default
  data_range 255, values on the 0..255 scale.
- L1 = mean |G - T| over all values; L2 = sqrt(sum (G - T)^2) / number of
  values (the original's normalisation, kept so the numbers compare).

Identical images give PSNR = inf, as skimage does (reported as such).
"""

from __future__ import annotations

import numpy as np

from dpig_tf.eval.chunks import map_chunks
from dpig_tf.eval.ssim import apply_mask
from dpig_tf.eval.ssim import rgb_to_gray


def psnr(true: np.ndarray, test: np.ndarray, data_range) -> np.ndarray:
    """Per-image PSNR (N,) of float arrays (N, ...) with per-image data_range."""
    true = np.asarray(true, dtype=np.float64)
    test = np.asarray(test, dtype=np.float64)
    axes = tuple(range(1, true.ndim))
    mse = np.mean((true - test) ** 2, axis=axes)
    data_range = np.broadcast_to(np.asarray(data_range, dtype=np.float64), mse.shape)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(data_range ** 2 / mse)


def l1_l2(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-image (L1 mean distance, L2 as the original normalises it)."""
    diff = np.asarray(x, dtype=np.float64) - np.asarray(y, dtype=np.float64)
    axes = tuple(range(1, diff.ndim))
    count = np.prod(diff.shape[1:])
    return np.abs(diff).sum(axis=axes) / count, np.sqrt((diff ** 2).sum(axis=axes)) / count


def gray_pair(generated, targets):
    """rgb2gray of both uint8 batches and the targets' per-image data range."""
    gray_g = rgb_to_gray(generated)
    gray_t = rgb_to_gray(targets)
    return gray_g, gray_t, gray_t.max(axis=(1, 2)) - gray_t.min(axis=(1, 2))


def dpig_psnr(generated, targets) -> np.ndarray:
    def chunk(gen, tgt):
        gray_g, gray_t, data_range = gray_pair(gen, tgt)
        return psnr(gray_t, gray_g, data_range)

    return map_chunks(chunk, generated, targets)


def dpig_l1_l2(generated, targets):
    def chunk(gen, tgt):
        gray_g, gray_t, _ = gray_pair(gen, tgt)
        return l1_l2(gray_g, gray_t)

    return map_chunks(chunk, generated, targets)


def masked_psnr(generated, targets, masks) -> np.ndarray:
    return map_chunks(lambda g, t, m: psnr(apply_mask(t, m), apply_mask(g, m), 255.0),
                      generated, targets, masks)


def masked_l1_l2(generated, targets, masks):
    return map_chunks(lambda g, t, m: l1_l2(apply_mask(g, m), apply_mask(t, m)),
                      generated, targets, masks)
