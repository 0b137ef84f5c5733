"""The 18-joint OpenPose/COCO keypoint schema and conversions into RCV.

RCV is the original system's keypoint format: a float32 (18, 3) array of
(row, col, visible) in image pixels, a missing joint being (0, 0, 0).
Conversions from the PG2/PATN CSV lists, OpenPose JSON (COCO-18 and BODY_25)
and COCO-17 (with the synthesised neck of `mat2dic_maskrcnn.py`) land here.

Reference: SPEC.md section 1.2 (joint order, RCV, CSV lists, COCO-17 mapping)
and section 8.2 #6 (flip: copy, col -> W - 1 - c, swap left/right joints).
"""

from __future__ import annotations

import json
import logging
import os
from typing import Iterable, Sequence

import numpy as np

from dpig_tf.data.errors import DataError

NUM_JOINTS = 18
MISSING_VALUE = -1  # PG2/PATN CSV marker of a missing joint

JOINT_NAMES = (
    "nose", "neck",
    "right_shoulder", "right_elbow", "right_wrist",
    "left_shoulder", "left_elbow", "left_wrist",
    "right_hip", "right_knee", "right_ankle",
    "left_hip", "left_knee", "left_ankle",
    "right_eye", "left_eye", "right_ear", "left_ear",
)
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}

# Index of the mirrored joint: used when an image is flipped horizontally.
FLIP_PERMUTATION = (0, 1, 5, 6, 7, 2, 3, 4, 11, 12, 13, 8, 9, 10, 15, 14, 17, 16)

# OpenPose BODY_25 -> our 18 joints (BODY_25 adds MidHip=8 and 6 foot points).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)

# COCO-17 (nose, l_eye, r_eye, l_ear, r_ear, l_sho, r_sho, l_elb, r_elb, l_wri,
# r_wri, l_hip, r_hip, l_kne, r_kne, l_ank, r_ank) -> our 18 joints. The neck
# (our joint 1) has no COCO-17 source: it is the shoulder midpoint.
COCO17_TO_COCO18 = (0, None, 6, 8, 10, 5, 7, 9, 12, 14, 16, 11, 13, 15, 2, 1, 4, 3)

_log = logging.getLogger(__name__)


def empty_keypoints() -> np.ndarray:
    """An all-missing (18, 3) RCV array."""
    return np.zeros((NUM_JOINTS, 3), np.float32)


def from_pg2_lists(ys: Sequence[int], xs: Sequence[int]) -> np.ndarray:
    """PG2/PATN `keypoints_y`, `keypoints_x` lists (-1 = missing) -> RCV.

    A joint is visible when both values differ from -1 (SPEC 1.2).
    """
    ys = np.asarray(ys, np.float32).reshape(-1)
    xs = np.asarray(xs, np.float32).reshape(-1)
    if ys.shape != (NUM_JOINTS,) or xs.shape != (NUM_JOINTS,):
        raise DataError(f"expected {NUM_JOINTS} y and {NUM_JOINTS} x values, "
                        f"got {ys.size} and {xs.size}")
    vis = (ys != MISSING_VALUE) & (xs != MISSING_VALUE)
    rcv = np.stack([np.where(vis, ys, 0), np.where(vis, xs, 0), vis], axis=-1)
    return rcv.astype(np.float32)


def to_pg2_lists(rcv: np.ndarray) -> tuple[list[int], list[int]]:
    """RCV -> PG2/PATN integer lists (truncated pixels, -1 for missing)."""
    rcv = np.asarray(rcv, np.float32)
    _check_rcv(rcv)
    vis = rcv[:, 2] > 0.5
    ys = [int(r) if v else MISSING_VALUE for r, v in zip(rcv[:, 0], vis)]
    xs = [int(c) if v else MISSING_VALUE for c, v in zip(rcv[:, 1], vis)]
    return ys, xs


def clip_to_image(rcv: np.ndarray, height: int, width: int) -> tuple[np.ndarray, int]:
    """Clips visible joints into [0, H-1] x [0, W-1]; returns (rcv, number clipped)."""
    rcv = np.array(rcv, np.float32, copy=True)
    _check_rcv(rcv)
    vis = rcv[:, 2] > 0.5
    out = vis & ((rcv[:, 0] < 0) | (rcv[:, 0] > height - 1)
                 | (rcv[:, 1] < 0) | (rcv[:, 1] > width - 1))
    rcv[:, 0] = np.where(vis, np.clip(rcv[:, 0], 0, height - 1), 0)
    rcv[:, 1] = np.where(vis, np.clip(rcv[:, 1], 0, width - 1), 0)
    rcv[:, 2] = vis
    return rcv, int(out.sum())


def flip_horizontal(rcv: np.ndarray, width: int) -> np.ndarray:
    """Keypoints of the left-right mirrored image (a new array).

    col -> W - 1 - col for visible joints and left/right joints swapped, which
    fixes the original's `convert_RCV.py` flip (SPEC 8.2 #6).
    """
    rcv = np.array(rcv, np.float32, copy=True)
    vis = rcv[..., 2] > 0.5
    rcv[..., 1] = np.where(vis, (width - 1) - rcv[..., 1], 0)
    return rcv[..., list(FLIP_PERMUTATION), :]


def from_openpose_flat(values: Sequence[float], threshold: float = 0.0) -> np.ndarray:
    """One person's OpenPose `pose_keypoints_2d` (x, y, score triples) -> RCV.

    Accepts COCO-18 (54 values) and BODY_25 (75 values). A joint is visible
    when its score is > `threshold` (OpenPose writes 0, 0, 0 for missing).
    """
    arr = np.asarray(values, np.float32).reshape(-1)
    if arr.size == 54:
        xyc = arr.reshape(18, 3)
    elif arr.size == 75:
        xyc = arr.reshape(25, 3)[list(BODY25_TO_COCO18)]
    else:
        raise DataError(f"pose_keypoints_2d has {arr.size} values; expected 54 "
                        "(COCO-18) or 75 (BODY_25)")
    vis = xyc[:, 2] > threshold
    return np.stack([np.where(vis, xyc[:, 1], 0), np.where(vis, xyc[:, 0], 0), vis],
                    axis=-1).astype(np.float32)


def from_openpose_json(source, threshold: float = 0.0) -> list[np.ndarray]:
    """An OpenPose JSON file path, string or dict -> one RCV per `people[*]`."""
    if isinstance(source, dict):
        doc, where = source, "<dict>"
    elif isinstance(source, os.PathLike) or not source.lstrip().startswith("{"):
        where = os.fspath(source)
        if not os.path.isfile(where):
            raise DataError(f"{where}: OpenPose JSON file not found")
        with open(where) as f:
            try:
                doc = json.load(f)
            except json.JSONDecodeError as err:
                raise DataError(f"{where}: not valid JSON ({err})") from None
    else:
        where = "<string>"
        try:
            doc = json.loads(source)
        except json.JSONDecodeError as err:
            raise DataError(f"{where}: not valid JSON ({err})") from None
    people = doc.get("people")
    if not isinstance(people, list):
        raise DataError(f"{where}: expected a 'people' list (OpenPose JSON)")
    out = []
    for i, person in enumerate(people):
        if "pose_keypoints_2d" not in person:
            raise DataError(f"{where}: people[{i}] has no 'pose_keypoints_2d'")
        try:
            out.append(from_openpose_flat(person["pose_keypoints_2d"], threshold))
        except ValueError as err:
            raise DataError(f"{where}: people[{i}]: {err}") from None
    return out


def from_coco17(keypoints: Iterable[float], threshold: float = 0.0) -> np.ndarray:
    """COCO-17 keypoints ((17, 3) or 51 values of x, y, v) -> RCV.

    The neck is the midpoint of the two shoulders, only when both are visible
    (`datasets/mat2dic_maskrcnn.py`, SPEC 1.2). A joint is visible when v > threshold.
    """
    arr = np.asarray(keypoints, np.float32).reshape(-1)
    if arr.size != 51:
        raise DataError(f"COCO-17 keypoints need 51 values (17 x, y, v); got {arr.size}")
    xyv = arr.reshape(17, 3)
    rcv = empty_keypoints()
    for ours, theirs in enumerate(COCO17_TO_COCO18):
        if theirs is not None and xyv[theirs, 2] > threshold:
            rcv[ours] = (xyv[theirs, 1], xyv[theirs, 0], 1.0)
    lsho, rsho = xyv[5], xyv[6]
    if lsho[2] > threshold and rsho[2] > threshold:
        rcv[1] = ((lsho[1] + rsho[1]) / 2, (lsho[0] + rsho[0]) / 2, 1.0)
    return rcv


def log_clipped(num_clipped: int, where: str) -> None:
    """Logs how many keypoints were clipped into the image."""
    if num_clipped:
        _log.warning("%s: %d keypoint(s) outside the image were clipped", where, num_clipped)


def _check_rcv(rcv: np.ndarray) -> None:
    if rcv.shape[-2:] != (NUM_JOINTS, 3):
        raise ValueError(f"keypoints must have shape (..., {NUM_JOINTS}, 3); got {rcv.shape}")
