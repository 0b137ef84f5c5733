"""GFLA `script/metrics.py` reconstruction metrics (EVALUATION.md 3), per image pair.

On float images in [0, 1] (imread / 255), ground truth first:
  ssim     = compare_ssim(gt, pred, data_range=1, win_size=51, multichannel=True)
             (uniform 51 x 51 window, sample covariance);
  ssim_256 = compare_ssim(gt*255, pred*255, gaussian_weights=True, sigma=1.5,
             use_sample_covariance=False, multichannel=True,
             data_range=pred.max()-pred.min()) (the PATN call, `ssim.patn_ssim`);
  psnr     = compare_psnr(gt, pred, data_range=1);
  l1       = mean |gt - pred|;  mae = sum |gt - pred| / sum (gt + pred).
"""

from __future__ import annotations

import numpy as np

from dpig_tf.eval import psnr_l1
from dpig_tf.eval import ssim
from dpig_tf.eval.chunks import map_chunks

GFLA_SSIM_WINDOW = 51


def _unit(images) -> np.ndarray:
    return np.asarray(images, np.float64) / 255.0


def gfla_ssim(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return map_chunks(lambda g, t: ssim.ssim_batch(_unit(t), _unit(g), 1.0, channels=True,
                                                   win_size=GFLA_SSIM_WINDOW),
                      generated, targets)


def gfla_ssim_256(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return ssim.patn_ssim(generated, targets)


def gfla_psnr(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return map_chunks(lambda g, t: psnr_l1.psnr(_unit(t), _unit(g), 1.0), generated, targets)


def gfla_l1(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    return map_chunks(lambda g, t: np.abs(_unit(t) - _unit(g)).mean(axis=(1, 2, 3)),
                      generated, targets)


def gfla_mae(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    def chunk(g, t):
        g, t = _unit(g), _unit(t)
        return np.abs(t - g).sum(axis=(1, 2, 3)) / (t + g).sum(axis=(1, 2, 3))

    return map_chunks(chunk, generated, targets)
