"""PCKh@0.5: are the joints re-detected on generated images where the target's are?

The field's definition (PATN `tool/calPCKH_market.py` / `calPCKH_fashion.py`,
Zhu et al. CVPR 2019; reused unchanged by GFLA, DPTN, PIDM, CFLD papers):
  - head size of a target (per image): the bounding box of its visible head
    joints {nose, neck, right/left eye, right/left ear} (COCO-18 indices 0, 1,
    14, 15, 16, 17): w = x_max - x_min, h = y_max - y_min; images with fewer
    than 2 visible head joints are skipped entirely;
  - a joint is correct when both it and the target joint are detected and
    |x_pred - x_t| < alpha * w AND |y_pred - y_t| < alpha * h (strict, per axis,
    alpha = 0.5);
  - PCKh = sum(correct) / sum(visible target joints) over the kept images (a
    joint missed by the detector counts as wrong).
We also report it per joint (same ratio, one joint at a time) and the mean of
the per-joint values. Keypoints are (18, 3) RCV (row, col, visible), SPEC 1.2.
"""

from __future__ import annotations

import numpy as np

from dpig_tf.data.keypoints import JOINT_NAMES
from dpig_tf.errors import UserError

HEAD_JOINTS = (0, 1, 14, 15, 16, 17)
ALPHA = 0.5


def head_size(keypoints: np.ndarray) -> tuple[float, float] | None:
    """(w, h) of the visible head joints' box in pixels, or None with < 2 of them."""
    head = np.asarray(keypoints, np.float64)[list(HEAD_JOINTS)]
    head = head[head[:, 2] > 0]
    if len(head) < 2:
        return None
    return float(np.ptp(head[:, 1])), float(np.ptp(head[:, 0]))


def pckh_counts(predicted: np.ndarray, targets: np.ndarray, alpha: float = ALPHA):
    """(correct (18,), visible (18,), images kept) over (N, 18, 3) RCV keypoint arrays."""
    predicted = np.asarray(predicted, np.float64)
    targets = np.asarray(targets, np.float64)
    if predicted.shape != targets.shape or predicted.shape[1:] != (len(JOINT_NAMES), 3):
        raise UserError(f"PCKh: expected two (N, 18, 3) keypoint arrays, found "
                         f"{predicted.shape} and {targets.shape}")
    correct = np.zeros(len(JOINT_NAMES), np.int64)
    visible = np.zeros(len(JOINT_NAMES), np.int64)
    kept = 0
    for pred, tgt in zip(predicted, targets):
        size = head_size(tgt)
        if size is None:
            continue
        kept += 1
        w, h = size
        t_vis = tgt[:, 2] > 0
        both = t_vis & (pred[:, 2] > 0)
        dx = np.abs(pred[:, 1] - tgt[:, 1])
        dy = np.abs(pred[:, 0] - tgt[:, 0])
        visible += t_vis
        correct += both & (dx < alpha * w) & (dy < alpha * h)
    return correct, visible, kept


def pckh(predicted: np.ndarray, targets: np.ndarray, alpha: float = ALPHA) -> dict:
    """{"pckh", "pckh_joint_mean", "pckh_per_joint": {joint: value}, "pckh_images"}."""
    correct, visible, kept = pckh_counts(predicted, targets, alpha)
    if visible.sum() == 0:
        raise UserError("PCKh: expected target keypoints with >= 2 visible head joints in at "
                         "least one image, found none")
    per_joint = {name: (float(c / v) if v else None)
                 for name, c, v in zip(JOINT_NAMES, correct, visible)}
    defined = [v for v in per_joint.values() if v is not None]
    return {"pckh": float(correct.sum() / visible.sum()),
            "pckh_joint_mean": float(np.mean(defined)),
            "pckh_per_joint": per_joint,
            "pckh_images": int(kept)}


def detect(images: np.ndarray, estimator, progress: bool = False) -> np.ndarray:
    """(N, 18, 3) RCV keypoints re-detected on (N, H, W, 3) uint8 images (one person each)."""
    out = np.zeros((len(images), len(JOINT_NAMES), 3), np.float32)
    bar = None
    if progress:
        from keras.utils import Progbar

        bar = Progbar(len(images), unit_name="image")
    for i, image in enumerate(images):
        out[i] = estimator.estimate_single(image)
        if bar is not None:
            bar.update(i + 1)
    return out
