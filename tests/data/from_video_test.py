"""A Market-style training set from a video: naming, crops, CSVs, contact sheet."""

import os
import re

import numpy as np
import pytest
from PIL import Image

from dpig_tf.data import from_video
from dpig_tf.data import keypoints_csv
from dpig_tf.errors import UserError
from dpig_tf.pose import media


def _joints(points):
    j = np.zeros((18, 3), np.float32)
    for k, (r, c) in points.items():
        j[k] = (r, c, 1)
    return j


def test_crop_box_has_market_aspect_and_contains_the_joints():
    joints = _joints({0: (100, 50), 10: (200, 40), 13: (198, 70), 4: (150, 20)})
    top, left, height, width = from_video.person_crop_box(joints)
    assert height == pytest.approx(2 * width)
    assert top < 100 and top + height > 200 and left < 20 and left + width > 70


def test_crop_maps_joints_onto_the_same_image_content():
    frame = np.zeros((300, 400, 3), np.uint8)
    points = {0: (60, 200), 1: (80, 200), 10: (250, 180), 13: (250, 225), 4: (150, 150)}
    for r, c in points.values():
        frame[r - 3:r + 4, c - 3:c + 4] = (255, 255, 255)
    crop, kp = from_video.crop_person(frame, _joints(points))
    assert crop.shape == (128, 64, 3) and crop.dtype == np.uint8
    for k in points:
        r, c = int(round(kp[k, 0])), int(round(kp[k, 1]))
        assert crop[r, c].min() > 100, (k, kp[k])  # the white square under the joint
    assert kp[5, 2] == 0 and kp[5, :2].tolist() == [0, 0]


def test_crop_outside_the_frame_is_padded_black():
    frame = np.full((100, 100, 3), 200, np.uint8)
    crop, _ = from_video.crop_person(frame, _joints({0: (5, 50), 10: (95, 50), 1: (20, 50)}))
    # The box reaches above and below the frame (head and feet margins).
    assert crop[0].max() < 10 and crop[-1].max() < 10
    assert crop[64, 32].min() > 150


def test_a_joint_grouped_from_another_person_is_dropped():
    points = {0: (186, 440), 1: (192, 452), 2: (192, 456), 5: (194, 448), 8: (214, 456),
              11: (214, 452), 9: (228, 458), 12: (228, 452), 10: (242, 462), 13: (242, 454),
              14: (188, 388)}  # a right eye 60 px away: another person's (vtest.avi frame 48)
    cleaned = from_video.drop_outlier_joints(_joints(points))
    assert cleaned[14].tolist() == [0, 0, 0]
    np.testing.assert_array_equal(cleaned[:14], _joints(points)[:14])
    far_wrist = {**points, 4: (100, 700)}
    assert from_video.drop_outlier_joints(_joints(far_wrist))[4].tolist() == [0, 0, 0]
    upright = {0: (10, 20), 14: (8, 18), 15: (8, 22), 16: (9, 15), 17: (9, 25), 1: (22, 20),
               4: (0, 5), 10: (95, 14), 13: (95, 26), 8: (55, 14), 11: (55, 26)}
    np.testing.assert_array_equal(from_video.drop_outlier_joints(_joints(upright)),
                                  _joints(upright))  # hands up: nothing dropped


def test_pairs_and_identity_renumbering():
    names = ["0001_c1s1_000000_00.jpg", "0001_c1s1_000005_00.jpg", "0002_c1s1_000000_00.jpg"]
    assert from_video.same_identity_pairs(names) == [(names[0], names[1]), (names[1], names[0])]
    crops = [from_video.Crop(t, f, None, None) for t, f in [(3, 0), (7, 0), (3, 1), (9, 1), (7, 2)]]
    kept = from_video.renumber_identities(crops, min_track_length=2)
    assert [(c.track_id, c.frame_index) for c in kept] == [(1, 0), (2, 0), (1, 1), (2, 2)]
    assert from_video.crop_name(kept[3]) == "0002_c1s1_000002_00.jpg"


def test_undecodable_video_exits_with_a_clear_message(tmp_path):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFF" + b"\x00" * 500)
    with pytest.raises(UserError, match="cannot decode video .*bad.avi"):
        from_video.main([f"--video={bad}", f"--out={tmp_path / 'out'}"])


@pytest.mark.media
def test_pedestrian_video_to_training_set(tmp_path):
    reason = media.missing_reason(graph=True, media=("vtest.avi",))
    if reason:
        pytest.skip(reason)
    out = tmp_path / "set"
    summary = from_video.build_from_video(str(media.media_path("vtest.avi")), str(out),
                                          max_frames=4, every=3, log=None)
    names = sorted(os.listdir(out / "bounding_box_train"))
    assert summary["images"] == len(names) >= 8
    assert summary["identities"] >= 3
    assert all(re.fullmatch(r"\d{4}_c1s1_\d{6}_\d{2}\.jpg", n) for n in names)
    for n in names[:5]:
        assert Image.open(out / "bounding_box_train" / n).size == (64, 128)
    rows = keypoints_csv.read_annotation_csv(str(out / "market-annotation-train.csv"))
    assert sorted(rows) == names
    for rcv in rows.values():
        vis = rcv[:, 2] > 0
        assert vis.sum() >= 8
        assert (rcv[vis, 0] <= 127).all() and (rcv[vis, 1] <= 63).all()
        # an upright pedestrian: head joints above the ankles
        if rcv[0, 2] and rcv[10, 2]:
            assert rcv[0, 0] < rcv[10, 0]
    pairs = keypoints_csv.read_pairs_csv(str(out / "market-pairs-train.csv"))
    assert len(pairs) == summary["pairs"] > 0
    assert all(a[:4] == b[:4] and a != b for a, b in pairs)
    assert set(pairs) == {(b, a) for a, b in pairs}  # both orders
    sheet = Image.open(out / "contact_sheet.png")
    assert sheet.size[1] == summary["identities"] * 130
