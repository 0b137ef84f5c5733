"""The IoU / keypoint-distance tracker on synthetic detections."""

import numpy as np

from dpig_tf.pose import tracker


def _joints(r, c, h=60.0):
    j = np.zeros((18, 3), np.float32)
    j[:, 0] = r + np.linspace(0, h, 18)
    j[:, 1] = c + np.tile([0, 10], 9)
    j[:, 2] = 1
    return j


def _box(j):
    return (j[:, 0].min(), j[:, 1].min(), j[:, 0].max(), j[:, 1].max())


def test_box_iou():
    assert tracker.box_iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert tracker.box_iou((0, 0, 10, 10), (0, 5, 10, 15)) == 50 / 150
    assert tracker.box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0


def test_two_walkers_keep_their_ids_and_a_newcomer_gets_a_new_one():
    t = tracker.PersonTracker()
    ids_seen = []
    for step in range(6):
        a, b = _joints(100, 50 + 3 * step), _joints(100, 200 - 3 * step)
        dets = [b, a] if step % 2 else [a, b]  # detection order changes
        ids = t.update([_box(d) for d in dets], dets)
        ids_seen.append(ids if step % 2 == 0 else ids[::-1])
    assert all(ids == [1, 2] for ids in ids_seen)
    c = _joints(300, 400)
    assert t.update([_box(c)], [c]) == [3]


def test_fast_motion_matches_by_keypoints_and_tracks_expire():
    t = tracker.PersonTracker(max_age=2)
    j0 = _joints(100, 100)
    assert t.update([_box(j0)], [j0]) == [1]
    j1 = _joints(100, 118)  # boxes no longer overlap; joints moved 0.3 heights
    assert tracker.box_iou(_box(j0), _box(j1)) == 0
    assert t.update([_box(j1)], [j1]) == [1]
    for _ in range(3):
        t.update([], [])
    assert t.update([_box(j1)], [j1]) == [2]  # the old track expired


def test_a_much_larger_detection_does_not_continue_a_track():
    t = tracker.PersonTracker()
    j0 = _joints(100, 100, h=60)
    t.update([_box(j0)], [j0])
    big = _joints(100, 100, h=150)
    assert t.update([_box(big)], [big]) == [2]
