"""A small multi-person tracker over per-frame pose detections (IoU + keypoint distance).

Each detection (a box and its 18 joints) is matched to the live track it
overlaps most (box IoU), or, when the boxes barely overlap (fast motion, low
frame rate), to the track whose last joints are closest (mean distance over
the joints seen in both, relative to the track's box height). Matching is
greedy by affinity, one detection per track. Unmatched detections start new
tracks; a track unseen for more than `max_age` updates is closed.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class Track:
    """One tracked person.

    Args:
        track_id: 1-based id in order of creation.
        box: last (row_min, col_min, row_max, col_max).
        joints: last (18, 3) RCV keypoints.
        last_update: index of the update that last matched it.
        length: number of matched detections.
    """

    track_id: int
    box: np.ndarray
    joints: np.ndarray
    last_update: int
    length: int = 1


def box_iou(a, b) -> float:
    """IoU of two (row_min, col_min, row_max, col_max) boxes."""
    inter_h = min(a[2], b[2]) - max(a[0], b[0])
    inter_w = min(a[3], b[3]) - max(a[1], b[1])
    if inter_h <= 0 or inter_w <= 0:
        return 0.0
    inter = inter_h * inter_w
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def keypoint_distance(joints_a: np.ndarray, joints_b: np.ndarray, scale: float) -> float:
    """Mean distance of the joints visible in both, divided by `scale`; inf if none shared."""
    shared = (joints_a[:, 2] > 0) & (joints_b[:, 2] > 0)
    if not shared.any() or scale <= 0:
        return float("inf")
    d = np.hypot(*(joints_a[shared, :2] - joints_b[shared, :2]).T)
    return float(d.mean() / scale)


def _size(box) -> float:
    return max(box[2] - box[0], box[3] - box[1], 1.0)


class PersonTracker:
    """Assigns a persistent id to each detected person across frames.

    Args:
        iou_threshold: minimum box IoU for an IoU match.
        max_keypoint_distance: maximum mean joint distance (in track box heights)
            for a keypoint match.
        max_age: updates a track may go unmatched before it is closed.
        max_scale_change: a detection whose box size (longer side) differs from
            the track's by more than this factor never matches it (another person, or a
            wrongly grouped skeleton).
    """

    def __init__(self, iou_threshold: float = 0.3, max_keypoint_distance: float = 0.5,
                 max_age: int = 5, max_scale_change: float = 1.5):
        self.max_scale_change = max_scale_change
        self.iou_threshold = iou_threshold
        self.max_keypoint_distance = max_keypoint_distance
        self.max_age = max_age
        self.tracks: list[Track] = []  # live tracks
        self._next_id = 1
        self._step = -1

    def update(self, boxes: list, joints: list[np.ndarray]) -> list[int]:
        """Matches one frame's detections; returns the track id of each detection."""
        self._step += 1
        self.tracks = [t for t in self.tracks if self._step - t.last_update <= self.max_age]
        pairs = []
        for ti, track in enumerate(self.tracks):
            height = max(track.box[2] - track.box[0], 1.0)
            for di, (box, kp) in enumerate(zip(boxes, joints)):
                ratio = _size(box) / _size(track.box)
                if not 1 / self.max_scale_change <= ratio <= self.max_scale_change:
                    continue
                iou = box_iou(track.box, box)
                dist = keypoint_distance(track.joints, kp, height)
                if iou >= self.iou_threshold or dist <= self.max_keypoint_distance:
                    pairs.append((iou - min(dist, 10.0), ti, di))
        pairs.sort(key=lambda p: -p[0])
        ids = [0] * len(boxes)
        used_tracks = set()
        for _, ti, di in pairs:
            if ti in used_tracks or ids[di]:
                continue
            used_tracks.add(ti)
            track = self.tracks[ti]
            track.box, track.joints = np.asarray(boxes[di], np.float32), joints[di]
            track.last_update, track.length = self._step, track.length + 1
            ids[di] = track.track_id
        for di, (box, kp) in enumerate(zip(boxes, joints)):
            if not ids[di]:
                track = Track(self._next_id, np.asarray(box, np.float32), kp, self._step)
                self._next_id += 1
                self.tracks.append(track)
                ids[di] = track.track_id
        return ids
