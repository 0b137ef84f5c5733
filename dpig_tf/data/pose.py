"""NumPy reference implementations of the keypoint-derived inputs.

These follow the original converters loop by loop (disk offsets, limb
stamping, per-part min/max) so they can serve as the ground truth that the
in-graph TensorFlow versions in `pose_tf.py` are tested against. Keypoints are
RCV (row, col, visible) float32 arrays of shape (18, 3) (or (..., 18, 3) where
noted); a joint is visible when v > 0.5.

Reference: SPEC.md sections 1.4 (heatmaps), 1.5 (pose mask), 1.6 (ROI boxes),
2.7 (pose vector), 8.2 #6 (flip).
"""

from __future__ import annotations

import math

import numpy as np
import scipy.ndimage

from dpig_tf.data import keypoints as kp_lib

NUM_PARTS = 7

# The 23 limbs of `_getPoseMask` (0-based joints, SPEC 1.5).
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17), (1, 16), (1, 17),
    (8, 11), (11, 5), (8, 2), (16, 17),
)

# Joints of the 7 body ROIs used by DPIG (SPEC 1.6).
PART_JOINTS = (
    (0, 1, 2, 5, 14, 15, 16, 17),  # head
    (2, 3, 4, 5, 6, 7, 8, 11),  # upper body
    (8, 9, 10, 11, 12, 13),  # lower body
    (5, 6, 7),  # left arm
    (2, 3, 4),  # right arm
    (11, 12, 13),  # left leg
    (8, 9, 10),  # right leg
)
ABSENT_BOX = (0, 0, 1, 1)

# Box rules at the datasets' native heights (SPEC 1.6): margin with >= 2 joints,
# margin with a single joint; DeepFashion (whole body, otherwise) with nose shift.
MARKET_NATIVE_HEIGHT = 128
MARKET_MARGINS = (6, 10)
DEEPFASHION_NATIVE_HEIGHT = 256
DEEPFASHION_WHOLE_BODY = (10, 20, 10)  # margin, single-joint margin, nose shift
DEEPFASHION_PARTIAL = (20, 40, 25)
CLOSING_SIZE = 5


def disk_offsets(radius: int) -> list[tuple[int, int]]:
    """Integer offsets (di, dj) with sqrt(di^2 + dj^2) <= radius (49 for r=4)."""
    return [(i, j) for i in range(-radius, radius + 1) for j in range(-radius, radius + 1)
            if math.sqrt(i * i + j * j) <= radius]


def keypoints_to_heatmaps(keypoints: np.ndarray, height: int, width: int,
                          radius: int = 4) -> np.ndarray:
    """(..., 18, 3) RCV -> (..., H, W, 18) float32, +1 in each joint's disk, -1 elsewhere.

    Centres are truncated to int; disk pixels outside the image are skipped.
    """
    keypoints = np.asarray(keypoints, np.float32)
    lead = keypoints.shape[:-2]
    flat = keypoints.reshape(-1, kp_lib.NUM_JOINTS, 3)
    out = np.zeros((flat.shape[0], height, width, kp_lib.NUM_JOINTS), np.float32)
    offsets = disk_offsets(radius)
    for b, kps in enumerate(flat):
        for k, (r, c, v) in enumerate(kps):
            if v > 0.5:
                _stamp(out[b, :, :, k], int(r), int(c), offsets)
    return (out * 2 - 1).reshape(*lead, height, width, kp_lib.NUM_JOINTS)


def pose_mask(keypoints: np.ndarray, height: int, width: int, radius: int) -> np.ndarray:
    """(18, 3) RCV -> (H, W) uint8 {0, 1} limb mask after a 5x5 closing.

    Each limb with both ends visible stamps radius-r disks at both ends and at
    the N - 1 interior points p0 + (p1 - p0) * i / N, N = int(dist / r)
    (computed in float32, as the TF version). The closing uses reflect border
    semantics (skimage 0.13 / scipy.ndimage default).
    """
    kps = np.asarray(keypoints, np.float32)
    mask = np.zeros((height, width), np.uint8)
    offsets = disk_offsets(radius)
    rad = np.float32(radius)
    for a, b in LIMBS:
        if kps[a, 2] <= 0.5 or kps[b, 2] <= 0.5:
            continue
        r0, c0 = kps[a, 0], kps[a, 1]
        r1, c1 = kps[b, 0], kps[b, 1]
        _stamp(mask, int(r0), int(c0), offsets)
        _stamp(mask, int(r1), int(c1), offsets)
        dr, dc = r1 - r0, c1 - c0
        dist = np.sqrt(dr * dr + dc * dc)
        n = int(dist / rad)
        if n > 1:
            nf = np.float32(n)
            for i in range(1, n):
                fi = np.float32(i)
                _stamp(mask, int(r0 + dr * fi / nf), int(c0 + dc * fi / nf), offsets)
    size = (CLOSING_SIZE, CLOSING_SIZE)
    mask = scipy.ndimage.grey_dilation(mask, size=size, mode="reflect")
    return scipy.ndimage.grey_erosion(mask, size=size, mode="reflect").astype(np.uint8)


def box_rules(dataset: str, height: int) -> dict:
    """Integer margins of the ROI box rules, scaled to `height` from the native size.

    At the native sizes (Market 128, DeepFashion 256) these are exactly the
    original values; other sizes (the tiny test config) scale them by
    height / native height, rounded half up.
    """
    def scale(m, native):
        return int(math.floor(m * height / native + 0.5))

    if dataset in ("market", "demo"):
        m, s = (scale(v, MARKET_NATIVE_HEIGHT) for v in MARKET_MARGINS)
        return {"whole": (m, s, 0), "partial": (m, s, 0), "deepfashion": False}
    if dataset == "deepfashion":
        whole = tuple(scale(v, DEEPFASHION_NATIVE_HEIGHT) for v in DEEPFASHION_WHOLE_BODY)
        part = tuple(scale(v, DEEPFASHION_NATIVE_HEIGHT) for v in DEEPFASHION_PARTIAL)
        return {"whole": whole, "partial": part, "deepfashion": True}
    raise ValueError(f"unknown dataset {dataset!r}; expected market, demo or deepfashion")


def roi_boxes(keypoints: np.ndarray, height: int, width: int,
              dataset: str = "market") -> tuple[np.ndarray, np.ndarray]:
    """(18, 3) RCV -> (boxes (7, 4) int32 [y1, x1, y2, x2], vis (7,) int32).

    Market: min/max of the part's visible joints +- 6 (10 for a single joint).
    DeepFashion: "whole body" if (L-knee or L-ankle) and (R-knee or R-ankle)
    are visible: margins 10/20 and the nose moved up 10 px; otherwise 20/40
    and 25 px. Boxes are clipped to [0, H-1] x [0, W-1]; absent parts get
    [0, 0, 1, 1] and vis 0.
    """
    kps = np.asarray(keypoints, np.float32)
    rules = box_rules(dataset, height)
    vis = kps[:, 2] > 0.5
    ys = [int(r) for r in kps[:, 0]]
    xs = [int(c) for c in kps[:, 1]]
    whole = bool((vis[12] or vis[13]) and (vis[9] or vis[10]))
    margin, single, shift = rules["whole"] if whole else rules["partial"]
    if rules["deepfashion"] and vis[0]:
        ys[0] = max(0, ys[0] - shift)
    boxes = np.zeros((NUM_PARTS, 4), np.int32)
    part_vis = np.zeros((NUM_PARTS,), np.int32)
    for p, joints in enumerate(PART_JOINTS):
        sel = [j for j in joints if vis[j]]
        if not sel:
            boxes[p] = ABSENT_BOX
            continue
        part_vis[p] = 1
        m = margin if len(sel) > 1 else single
        boxes[p] = (max(0, min(ys[j] for j in sel) - m),
                    max(0, min(xs[j] for j in sel) - m),
                    min(height - 1, max(ys[j] for j in sel) + m),
                    min(width - 1, max(xs[j] for j in sel) + m))
    return boxes, part_vis


def pose_vector(keypoints: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., 18, 3) RCV -> (..., 54) interleaved [r, c, v] with r, c in [-1, 1].

    r = (row / H) * 2 - 1, c = (col / W) * 2 - 1; a missing joint is (-1, -1, 0).
    """
    kps = np.asarray(keypoints, np.float32)
    vis = kps[..., 2] > 0.5
    r = np.where(vis, kps[..., 0] / np.float32(height) * np.float32(2) - np.float32(1), -1)
    c = np.where(vis, kps[..., 1] / np.float32(width) * np.float32(2) - np.float32(1), -1)
    out = np.stack([r, c, vis.astype(np.float32)], axis=-1).astype(np.float32)
    return out.reshape(*kps.shape[:-2], kp_lib.NUM_JOINTS * 3)


def pose_vector_to_keypoints(vector: np.ndarray, height: int, width: int) -> np.ndarray:
    """(..., 54) pose vector -> (..., 18, 3) RCV pixels.

    row = (r + 1) / 2 * H clipped to [0, H-1] (likewise columns); visible when
    v > 0.5; an invisible joint becomes (0, 0, 0) (SPEC 1.4).
    """
    vec = np.asarray(vector, np.float32)
    vec = vec.reshape(*vec.shape[:-1], kp_lib.NUM_JOINTS, 3)
    vis = vec[..., 2] > 0.5
    r = np.clip((vec[..., 0] + np.float32(1)) / np.float32(2) * np.float32(height), 0, height - 1)
    c = np.clip((vec[..., 1] + np.float32(1)) / np.float32(2) * np.float32(width), 0, width - 1)
    return np.stack([np.where(vis, r, 0), np.where(vis, c, 0), vis], axis=-1).astype(np.float32)


def flip_keypoints(keypoints: np.ndarray, width: int) -> np.ndarray:
    """Keypoints of the mirrored image: col -> W - 1 - col, L/R joints swapped (SPEC 8.2 #6)."""
    return kp_lib.flip_horizontal(keypoints, width)


def _stamp(canvas: np.ndarray, r: int, c: int, offsets) -> None:
    h, w = canvas.shape
    for di, dj in offsets:
        rr, cc = r + di, c + dj
        if 0 <= rr < h and 0 <= cc < w:
            canvas[rr, cc] = 1
