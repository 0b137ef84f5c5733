"""In-graph TensorFlow versions of the keypoint-derived inputs.

Batched over any leading axes (..., 18, 3), traceable with a static image size
and a dynamic batch, and built only from TFLite builtin ops (scatter_nd,
cumsum, strided slices, max_pool, comparisons, gathers, where) so the inference
model and the exported models can rebuild heatmaps and masks from keypoints. Each function
equals its NumPy reference in `pose.py` exactly (tests/data/pose_tf_test.py).

Reference: SPEC.md sections 1.4-1.6 and 2.7.
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf

from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import pose as pose_np

NUM_JOINTS = 18
_BIG = 1 << 20


def _flatten(keypoints, inner: int = 2, tail=(NUM_JOINTS, 3)):
    # Leading (batch) axes are folded into one; their static sizes are kept.
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    lead = (tf.shape(keypoints)[:-inner], keypoints.shape[:-inner])
    return tf.reshape(keypoints, [-1, *tail]), lead


def _unflatten(x, lead, tail):
    dynamic, static = lead
    out = tf.reshape(x, tf.concat([dynamic, tf.constant(tail, tf.int32)], axis=0))
    out.set_shape(static.concatenate(tail))
    return out


def keypoints_to_heatmaps(keypoints, height: int, width: int, radius: int = 4):
    """(..., 18, 3) RCV -> (..., H, W, 18) float32: +1 in visible joints' disks, -1 elsewhere."""
    kps, lead = _flatten(keypoints)
    vis = kps[:, :, 2] > 0.5  # (B, 18)
    # Truncation as int() in the original; small integers are exact in float32.
    centre = tf.cast(tf.cast(kps[:, :, :2], tf.int32), tf.float32)
    dr = tf.range(height, dtype=tf.float32)[None, :, None] - centre[:, None, :, 0]  # (B, H, 18)
    dc = tf.range(width, dtype=tf.float32)[None, :, None] - centre[:, None, :, 1]  # (B, W, 18)
    # Inside iff r^2 - dr^2 - dc^2 >= 0; an invisible joint gets a negative budget.
    budget = tf.where(vis[:, None, :], float(radius * radius) - dr * dr, -1.0)  # (B, H, 18)
    margin = budget[:, :, None, :] - (dc * dc)[:, None, :, :]  # (B, H, W, 18), integer-valued
    heat = tf.sign(margin + 0.5)  # +1 inside (margin >= 0), -1 outside (margin <= -1)
    return _unflatten(heat, lead, [height, width, NUM_JOINTS])


def _disk_rows(radius: int) -> list[tuple[int, int]]:
    """(row offset di, half width w) of the disk: |dj| <= w on row di."""
    out = []
    for di in range(-radius, radius + 1):
        w = max(dj for d, dj in pose_np.disk_offsets(radius) if d == di)
        out.append((di, w))
    return out


def _stamp_disks(grid, height: int, width: int, radius: int):
    """(B, H+2r, W+2r) centre counts -> (B, H, W) disk coverage counts.

    A disk is a stack of horizontal runs; each run is a window sum read off a
    cumulative sum along the columns (exact for these small integer counts).
    """
    r = radius
    zeros = tf.zeros_like(grid[:, :, :1])
    csum = tf.concat([zeros, tf.cumsum(grid, axis=2)], axis=2)  # (B, H+2r, W+2r+1)
    runs = {}
    for _, w in _disk_rows(r):
        if w not in runs:  # window sum of columns [j+r-w, j+r+w] of padded column j+r
            runs[w] = csum[:, :, r + w + 1:r + w + 1 + width] - csum[:, :, r - w:r - w + width]
    out = None
    for di, w in _disk_rows(r):
        part = runs[w][:, r + di:r + di + height, :]
        out = part if out is None else out + part
    return out


def pose_mask(keypoints, height: int, width: int, radius: int):
    """(..., 18, 3) RCV -> (..., H, W, 1) float32 {0, 1} limb mask after a 5x5 closing.

    Disk centres (limb ends and interior points) are scattered into a grid
    padded by r (scatter_nd), then disks are stamped as sums of horizontal runs
    (cumsum differences). The closing is a 5x5 SAME max-pool dilation and
    min-pool erosion, which for max/min equals the reflect border of the
    original. Keypoints are expected inside the image, as the loader and
    `pose_vector_to_keypoints` clip them (the interior-point budget is sized
    by the image diagonal).
    """
    kps, lead = _flatten(keypoints)
    limbs = np.asarray(pose_np.LIMBS, np.int32)
    vis = kps[:, :, 2] > 0.5
    p0 = tf.gather(kps[:, :, :2], limbs[:, 0], axis=1)  # (B, L, 2)
    p1 = tf.gather(kps[:, :, :2], limbs[:, 1], axis=1)
    ok = tf.logical_and(tf.gather(vis, limbs[:, 0], axis=1),
                        tf.gather(vis, limbs[:, 1], axis=1))  # (B, L)
    d = p1 - p0
    dist = tf.sqrt(tf.reduce_sum(d * d, axis=-1))  # (B, L)
    n = tf.floor(dist / float(radius))  # int(dist / r) for dist >= 0
    # At most this many segments fit the image diagonal.
    max_n = int(math.sqrt((height - 1) ** 2 + (width - 1) ** 2) / radius) + 1
    steps = tf.range(1, max_n, dtype=tf.float32)  # (K,)
    n_safe = tf.maximum(n, 1.0)[:, :, None, None]
    interior = p0[:, :, None, :] + d[:, :, None, :] * steps[None, None, :, None] / n_safe
    interior_ok = tf.logical_and(ok[:, :, None],
                                 steps[None, None, :] < n[:, :, None])  # 1 <= i <= N-1
    centres = tf.concat([p0[:, :, None, :], p1[:, :, None, :], interior], axis=2)
    valid = tf.concat([ok[:, :, None], ok[:, :, None], interior_ok], axis=2)
    centres = tf.reshape(centres, [tf.shape(kps)[0], -1, 2])  # (B, C, 2)
    valid = tf.reshape(valid, [tf.shape(kps)[0], -1])
    batch = tf.shape(kps)[0]
    ij = tf.cast(centres, tf.int32) + radius  # padded-grid indices
    # Centres off the padded grid cannot reach the image: they are dropped.
    hp, wp = height + 2 * radius, width + 2 * radius
    valid = (valid & (ij[:, :, 0] >= 0) & (ij[:, :, 0] < hp)
             & (ij[:, :, 1] >= 0) & (ij[:, :, 1] < wp))
    ij = tf.where(tf.expand_dims(valid, -1), ij, 0)
    b = tf.broadcast_to(tf.reshape(tf.range(batch), [-1, 1, 1]), tf.shape(ij[:, :, :1]))
    grid = tf.scatter_nd(tf.reshape(tf.concat([b, ij], axis=2), [-1, 3]),
                         tf.reshape(tf.cast(valid, tf.float32), [-1]),
                         tf.stack([batch, hp, wp]))  # (B, H+2r, W+2r) centre counts
    stamped = _stamp_disks(grid, height, width, radius)[:, :, :, None]
    mask = tf.cast(stamped > 0.5, tf.float32)  # (B, H, W, 1)
    size = pose_np.CLOSING_SIZE
    # A square window is separable for max/min: rows then columns.
    mask = tf.nn.max_pool2d(tf.nn.max_pool2d(mask, (size, 1), 1, "SAME"), (1, size), 1, "SAME")
    mask = -tf.nn.max_pool2d(tf.nn.max_pool2d(-mask, (size, 1), 1, "SAME"), (1, size), 1, "SAME")
    return _unflatten(mask, lead, [height, width, 1])


def roi_boxes(keypoints, height: int, width: int, dataset: str = "market"):
    """(..., 18, 3) RCV -> (boxes (..., 7, 4) float32 [y1, x1, y2, x2], vis (..., 7) float32).

    The Market / DeepFashion rules of `pose.roi_boxes` (SPEC 1.6).
    """
    kps, lead = _flatten(keypoints)
    rules = pose_np.box_rules(dataset, height)
    vis = kps[:, :, 2] > 0.5  # (B, 18)
    yx = tf.cast(tf.cast(kps[:, :, :2], tf.int32), tf.float32)  # truncated pixels
    whole = tf.logical_and(tf.logical_or(vis[:, 12], vis[:, 13]),
                           tf.logical_or(vis[:, 9], vis[:, 10]))[:, None]  # (B, 1)
    wm, ws, wshift = (float(v) for v in rules["whole"])
    pm, ps, pshift = (float(v) for v in rules["partial"])
    margin = tf.where(whole, wm, pm)
    single = tf.where(whole, ws, ps)
    if rules["deepfashion"]:
        shift = tf.where(whole, wshift, pshift)  # (B, 1)
        nose_y = tf.maximum(0.0, yx[:, 0:1, 0] - shift)
        y = tf.concat([nose_y, yx[:, 1:, 0]], axis=1)
    else:
        y = yx[:, :, 0]
    x = yx[:, :, 1]
    member = np.zeros((pose_np.NUM_PARTS, NUM_JOINTS), bool)
    for p, joints in enumerate(pose_np.PART_JOINTS):
        member[p, list(joints)] = True
    sel = tf.logical_and(vis[:, None, :], member[None])  # (B, 7, 18)
    count = tf.reduce_sum(tf.cast(sel, tf.float32), axis=-1)  # (B, 7)
    y = tf.broadcast_to(y[:, None, :], tf.shape(sel))
    x = tf.broadcast_to(x[:, None, :], tf.shape(sel))
    big = float(_BIG)
    y1 = tf.reduce_min(tf.where(sel, y, big), axis=-1)
    x1 = tf.reduce_min(tf.where(sel, x, big), axis=-1)
    y2 = tf.reduce_max(tf.where(sel, y, -big), axis=-1)
    x2 = tf.reduce_max(tf.where(sel, x, -big), axis=-1)
    m = tf.where(count > 1.5, margin, single)  # (B, 7)
    boxes = tf.stack([tf.maximum(0.0, y1 - m), tf.maximum(0.0, x1 - m),
                      tf.minimum(float(height - 1), y2 + m),
                      tf.minimum(float(width - 1), x2 + m)], axis=-1)
    present = count > 0.5
    absent = tf.constant(pose_np.ABSENT_BOX, tf.float32)
    boxes = tf.where(present[:, :, None], boxes, absent)
    part_vis = tf.cast(present, tf.float32)
    return (_unflatten(boxes, lead, [pose_np.NUM_PARTS, 4]),
            _unflatten(part_vis, lead, [pose_np.NUM_PARTS]))


def pose_vector(keypoints, height: int, width: int):
    """(..., 18, 3) RCV -> (..., 54) interleaved normalised [r, c, v]; missing = (-1, -1, 0)."""
    kps, lead = _flatten(keypoints)
    vis = kps[:, :, 2] > 0.5
    r = tf.where(vis, kps[:, :, 0] / float(height) * 2.0 - 1.0, -1.0)
    c = tf.where(vis, kps[:, :, 1] / float(width) * 2.0 - 1.0, -1.0)
    out = tf.stack([r, c, tf.cast(vis, tf.float32)], axis=-1)
    return _unflatten(out, lead, [NUM_JOINTS * 3])


def pose_vector_to_keypoints(vector, height: int, width: int):
    """(..., 54) pose vector -> (..., 18, 3) RCV pixels (clipped; invisible = 0, 0, 0)."""
    vec, lead = _flatten(vector, inner=1)
    vis = vec[:, :, 2] > 0.5
    r = tf.clip_by_value((vec[:, :, 0] + 1.0) / 2.0 * float(height), 0.0, float(height - 1))
    c = tf.clip_by_value((vec[:, :, 1] + 1.0) / 2.0 * float(width), 0.0, float(width - 1))
    out = tf.stack([tf.where(vis, r, 0.0), tf.where(vis, c, 0.0), tf.cast(vis, tf.float32)],
                   axis=-1)
    return _unflatten(out, lead, [NUM_JOINTS, 3])


def flip_keypoints(keypoints, width: int):
    """Keypoints of the mirrored image: col -> W - 1 - col, left/right joints swapped."""
    keypoints = tf.convert_to_tensor(keypoints, tf.float32)
    vis = keypoints[..., 2] > 0.5
    col = tf.where(vis, float(width - 1) - keypoints[..., 1], 0.0)
    flipped = tf.stack([keypoints[..., 0], col, keypoints[..., 2]], axis=-1)
    return tf.gather(flipped, list(kp_lib.FLIP_PERMUTATION), axis=-2)
