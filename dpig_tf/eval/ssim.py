"""SSIM and mask-SSIM under the DPIG (PG2) and PATN protocols.

A vectorised numpy/scipy re-implementation of scikit-image's
`structural_similarity` (called `skimage.measure.compare_ssim` in skimage
0.13/0.14, the versions the papers used; renamed
`skimage.metrics.structural_similarity` in 0.16, where `multichannel=True`
became `channel_axis=-1`). It computes a batch of images per call, and matches
skimage bit for bit on RGB and to ~1e-14 on gray (tests/eval/ssim_test.py).

Protocols (SPEC 5.1, 5.2; EVALUATION.md 2.1, 2.2):

- dpig `ssim`: gray float [0, 1] (rgb2gray 0.2125/0.7154/0.0721), 7x7 uniform
  window, sample covariance, data_range = target gray max - min.
- dpig `mask_ssim`: uint8(m*G), uint8(m*T) RGB with m = SOURCE mask / 255,
  7x7 uniform window, sample covariance, data_range 255.
- patn `ssim` / `mask_ssim`: uint8 RGB (masked: x * {0,1} TARGET mask),
  Gaussian sigma 1.5 (11 taps), population covariance, data_range = generated
  max - min.

RGB SSIM is the mean over the 3 channels; a border of half the window (3 px
for 7x7, 5 px for the Gaussian) is cropped before averaging, as skimage does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dpig_tf.eval.chunks import map_chunks

K1 = 0.01
K2 = 0.03
GAUSSIAN_SIGMA = 1.5
GAUSSIAN_TRUNCATE = 3.5  # skimage: 11-tap filter for sigma 1.5 (Wang et al. 2004)
UNIFORM_WIN_SIZE = 7
# skimage.color.rgb2gray weights (ITU-R BT.709 luma).
GRAY_WEIGHTS = np.array([0.2125, 0.7154, 0.0721])
# Images per vectorised call: small enough for the ~10 float64 temporaries to stay
# in cache (chunks of 4-16 measured fastest on 128x64; 256 was 2-4x slower).
CHUNK = 8


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
    num_channels = x.shape[-1] if channels else 1
    out = np.empty((x.shape[0], num_channels), dtype=np.float64)
    for start in range(0, x.shape[0], CHUNK):
        stop = start + CHUNK
        xc, yc = x[start:stop], y[start:stop]
        if channels:
            # (n, H, W, C) -> contiguous (n*C, H, W) planes: skimage filters each
            # channel as its own contiguous 2-D image; so do we (cache-friendly).
            xc = np.moveaxis(xc, -1, 1).reshape(-1, height, width)
            yc = np.moveaxis(yc, -1, 1).reshape(-1, height, width)
        ranges = np.repeat(data_range[start:stop], num_channels)
        out[start:stop] = _ssim_planes(
            xc.astype(np.float64), yc.astype(np.float64), ranges, gaussian_weights, sigma,
            use_sample_covariance, win_size).reshape(-1, num_channels)
    # skimage: the mean over the cropped SSIM map per channel, then over channels.
    return out.mean(axis=1)


def _ssim_planes(x, y, data_range, gaussian_weights, sigma, use_sample_covariance,
                 win_size):
    """Mean SSIM of each (H, W) plane of float64 (n, H, W) stacks -> (n,)."""
    # Filter only the two spatial axes, so each plane is filtered exactly as
    # skimage filters one image: the same separable 1-D passes, 'reflect' border.
    if gaussian_weights:
        def filt(a):
            return ndimage.gaussian_filter(a, [0.0, sigma, sigma], mode="reflect",
                                           truncate=GAUSSIAN_TRUNCATE)
    else:
        def filt(a):
            return ndimage.uniform_filter1d(ndimage.uniform_filter1d(a, win_size, axis=1),
                                            win_size, axis=2)

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
    r = data_range.reshape(-1, 1, 1)
    c1 = (K1 * r) ** 2
    c2 = (K2 * r) ** 2
    a1 = 2 * ux * uy + c1
    a2 = 2 * vxy + c2
    b1 = ux ** 2 + uy ** 2 + c1
    b2 = vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    pad = (win_size - 1) // 2
    return s[:, pad:-pad, pad:-pad].mean(axis=(1, 2), dtype=np.float64)


def apply_mask(images: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """DPIG `score_mask.py` masking: uint8(mask[..., None] / 255. * image).

    Args:
        images: (N, H, W, 3) uint8.
        masks: (N, H, W) uint8 in {0..255} (saved pose masks x 255).
    """
    out = np.empty(np.shape(images), np.uint8)
    for start in range(0, len(out), CHUNK):  # float64 temporaries of one chunk only
        stop = start + CHUNK
        out[start:stop] = masks[start:stop, ..., np.newaxis] / 255.0 * images[start:stop]
    return out


def dpig_ssim(generated: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """DPIG/PG2 `score.py` SSIM of uint8 RGB batches -> (N,) (SPEC 5.1)."""

    def chunk(gen, tgt):
        gray_g = rgb_to_gray(gen)
        gray_t = rgb_to_gray(tgt)
        data_range = gray_t.max(axis=(1, 2)) - gray_t.min(axis=(1, 2))
        return ssim_batch(gray_g, gray_t, data_range, channels=False)

    return map_chunks(chunk, generated, targets)


def dpig_mask_ssim(generated: np.ndarray, targets: np.ndarray,
                   masks: np.ndarray) -> np.ndarray:
    """DPIG/PG2 `score_mask.py` mask-SSIM -> (N,) (SPEC 5.2).

    `masks` are the SOURCE image's pose masks x 255 (DPIG r7, PG2 r4).
    """
    def chunk(gen, tgt, msk):
        return ssim_batch(apply_mask(gen, msk), apply_mask(tgt, msk), 255.0, channels=True)

    return map_chunks(chunk, generated, targets, masks)


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
    return map_chunks(lambda g, t, m: patn_ssim(apply_mask(g, m), apply_mask(t, m)),
                      generated, targets, masks)
