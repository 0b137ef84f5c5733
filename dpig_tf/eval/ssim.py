"""SSIM and mask-SSIM under the DPIG (PG2) and PATN protocols.

A vectorised numpy/scipy re-implementation of scikit-image's
`structural_similarity` (called `skimage.measure.compare_ssim` in skimage
0.13/0.14, the versions the papers used; renamed
`skimage.metrics.structural_similarity` in 0.16, where `multichannel=True`
became `channel_axis=-1`). It computes a whole batch of images at once and
matches skimage to ~1e-12 (tests/eval/ssim_test.py).

Protocols (SPEC 5.1, 5.2; EVALUATION.md 2.1, 2.2):

| variant | input | window | covariance | data_range |
|---|---|---|---|---|
| dpig `ssim` | gray float [0,1] (rgb2gray 0.2125/0.7154/0.0721) | 7x7 uniform | sample | target gray max-min |
| dpig `mask_ssim` | uint8(m*G), uint8(m*T), RGB, m = source mask/255 | 7x7 uniform | sample | 255 |
| patn `ssim` / `mask_ssim` | uint8 RGB (masked: x*{0,1} target mask) | Gaussian sigma 1.5 (11 taps) | population | generated max-min |

RGB SSIM is the mean over the 3 channels; a border of half the window (3 px
for 7x7, 5 px for the Gaussian) is cropped before averaging, as skimage does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

K1 = 0.01
K2 = 0.03
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5  # skimage: 11-tap filter for sigma 1.5 (Wang et al. 2004)
UNIFORM_WIN_SIZE = 7
# skimage.color.rgb2gray weights (ITU-R BT.709 luma).
GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])
# Images per vectorised call: bounds the float64 temporaries (~10 arrays).
CHUNK = 256


def rgb_to_gray(images: np.ndarray) -> np.ndarray:
    """skimage `rgb2gray` of uint8 RGB images (..., 3) -> float64 in [0, 1]."""
    rgb = np.asarray(images, dtype=np.float64) / 255.0  # img_as_float of uint8
    return rgb @ GRAY_WEIGHTS


def ssim_batch(
    x: np.ndarray,
    y: np.ndarray,
    data_range,
    *,
    channels: bool,
    gaussian_weights: bool = False,
    sigma: float = GAUSSIAN_SIGMA,
    use_sample_covariance: bool = True,
    win_size: int | None = None,
) -> np.ndarray:
    """Mean SSIM of each image pair, as skimage `structural_similarity`.

    Args:
        x, y: (N, H, W) or, with `channels=True`, (N, H, W, C) arrays (any
            numeric dtype; computed in float64 as skimage does for uint8 and
            float64 input).
        data_range: scalar or (N,) per-image data range.
        channels: the last axis is a channel axis (skimage `channel_axis=-1`):
            SSIM per channel, averaged.
        gaussian_weights, sigma, use_sample_covariance, win_size: skimage's
            arguments with skimage's defaults.

    Returns:
        (N,) float64 SSIM per image pair.
    """
    x = np.asarray(x)
    y = np.asarray(y)
    if x.shape != y.shape:
        raise ValueError(f"SSIM inputs differ in shape: {x.shape} vs {y.shape}")
    spatial_ndim = x.ndim - 1 - int(channels)
    if spatial_ndim != 2:
        raise ValueError(f"SSIM expects (N, H, W{', C' if channels else ''}) arrays, "
                         f"got shape {x.shape}")
    if gaussian_weights:
        radius = int(GAUSSIAN_TRUNCATE * sigma + 0.5)  # as scipy.ndimage
        win_size = 2 * radius + 1
    elif win_size is None:
        win_size = UNIFORM_WIN_SIZE
    if win_size % 2 != 1:
        raise ValueError(f"SSIM window size must be odd, got {win_size}")
    height, width = x.shape[1:3]
    if height < win_size or width < win_size:
        raise ValueError(f"images of {height}x{width} are smaller than the "
                         f"{win_size}x{win_size} SSIM window")
    data_range = np.asarray(data_range, dtype=np.float64)
    if data_range.ndim == 0:
        data_range = np.full(x.shape[0], float(data_range))
    out = np.empty(x.shape[0], dtype=np.float64)
    for start in range(0, x.shape[0], CHUNK):
        stop = start + CHUNK
        out[start:stop] = _ssim_chunk(
            x[start:stop].astype(np.float64), y[start:stop].astype(np.float64),
            data_range[start:stop], channels, gaussian_weights, sigma,
            use_sample_covariance, win_size)
    return out


def _ssim_chunk(x, y, data_range, channels, gaussian_weights, sigma,
                use_sample_covariance, win_size):
    # Filter only the two spatial axes: the batch (and channel) axes get size 1
    # / sigma 0, which scipy skips, so each image is filtered exactly as skimage
    # filters it alone (same separable 1-D passes, same 'reflect' border).
    if gaussian_weights:
        spatial = [0.0, sigma, sigma] + ([0.0] if channels else [])

        def filt(a):
            return ndimage.gaussian_filter(a, spatial, mode="reflect",
                                           truncate=GAUSSIAN_TRUNCATE)
    else:
        size = [1, win_size, win_size] + ([1] if channels else [])

        def filt(a):
            return ndimage.uniform_filter(a, size=size)

    num_pixels = win_size ** 2
    cov_norm = num_pixels / (num_pixels - 1) if use_sample_covariance else 1.0
    ux = filt(x)
    uy = filt(y)
    uxx = filt(x * x)
    uyy = filt(y * y)
    uxy = filt(x * y)
    vx = cov_norm * (uxx - ux * ux)
    vy = cov_norm * (uyy - uy * uy)
    vxy = cov_norm * (uxy - ux * uy)
    shape = (-1, 1, 1) + ((1,) if channels else ())
    r = data_range.reshape(shape)
    c1 = (K1 * r) ** 2
    c2 = (K2 * r) ** 2
    a1 = 2 * ux * uy + c1
    a2 = 2 * vxy + c2
    b1 = ux ** 2 + uy ** 2 + c1
    b2 = vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    pad = (win_size - 1) // 2
    s = s[:, pad:-pad, pad:-pad]
    if channels:
        # skimage: mean over the cropped map per channel, then over channels.
        per_channel = s.mean(axis=(1, 2), dtype=np.float64)
        return per_channel.mean(axis=-1)
    return s.mean(axis=(1, 2), dtype=np.float64)


def apply_mask(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """DPIG `score_mask.py` masking: uint8(mask[..., None] / 255. * image).

    Args:
        images: (N, H, W, 3) uint8.
        masks: (N, H, W) uint8 in {0..255} (saved pose masks x 255).
    """
    return (masks[..., np.newaxis] / 255.0 * images).astype(np.uint8)


def dpig_ssim(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """DPIG/PG2 `score.py` SSIM of uint8 RGB batches -> (N,) (SPEC 5.1)."""
    gray_g = rgb_to_gray(generated)
    gray_t = rgb_to_gray(targets)
    data_range = gray_t.max(axis=(1, 2)) - gray_t.min(axis=(1, 2))
    return ssim_batch(gray_g, gray_t, data_range, channels=False)


def dpig_mask_ssim(generated: np.ndarray, targets: np.ndarray,
                   masks: np.ndarray) -> np.ndarray:
    """DPIG/PG2 `score_mask.py` mask-SSIM -> (N,) (SPEC 5.2).

    `masks` are the SOURCE image's pose masks x 255 (DPIG r7, PG2 r4).
    """
    masked_g = apply_mask(generated, masks)
    masked_t = apply_mask(targets, masks)
    return ssim_batch(masked_g, masked_t, 255.0, channels=True)


def patn_ssim(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """PATN `getMetrics_*.py` SSIM of uint8 RGB batches -> (N,).

    `compare_ssim(target, generated, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, multichannel=True,
    data_range=generated.max() - generated.min())` (EVALUATION.md 2.2).
    """
    gen = np.asarray(generated)
    data_range = (gen.max(axis=(1, 2, 3)).astype(np.float64)
                  - gen.min(axis=(1, 2, 3)).astype(np.float64))
    return ssim_batch(targets, gen, data_range, channels=True,
                      gaussian_weights=True, sigma=GAUSSIAN_SIGMA,
                      use_sample_covariance=False)


def patn_mask_ssim(generated: np.ndarray, targets: np.ndarray,
                   masks: np.ndarray) -> np.ndarray:
    """PATN mask-SSIM: images x {0,1} TARGET-keypoint mask, then `patn_ssim`."""
    return patn_ssim(apply_mask(generated, masks), apply_mask(targets, masks))
