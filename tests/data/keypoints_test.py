import json

import numpy as np
import pytest

from dpig_tf.data import keypoints as K


def test_schema_names_and_flip_permutation():
    assert len(K.JOINT_NAMES) == 18
    assert K.JOINT_NAMES[14:] == ("right_eye", "left_eye", "right_ear", "left_ear")
    perm = K.FLIP_PERMUTATION
    assert sorted(perm) == list(range(18))
    for i, j in enumerate(perm):
        assert perm[j] == i  # an involution
        a, b = K.JOINT_NAMES[i], K.JOINT_NAMES[j]
        if a.startswith("left_"):
            assert b == "right_" + a[5:]
        elif a.startswith("right_"):
            assert b == "left_" + a[6:]
        else:
            assert a == b


def test_from_pg2_lists_missing_is_zero():
    ys = [5] * 18
    xs = [7] * 18
    ys[3] = -1
    xs[4] = -1
    rcv = K.from_pg2_lists(ys, xs)
    assert rcv.dtype == np.float32 and rcv.shape == (18, 3)
    np.testing.assert_array_equal(rcv[0], [5, 7, 1])
    np.testing.assert_array_equal(rcv[3], [0, 0, 0])
    np.testing.assert_array_equal(rcv[4], [0, 0, 0])
    assert K.to_pg2_lists(rcv) == ([5, 5, 5, -1, -1] + [5] * 13, [7, 7, 7, -1, -1] + [7] * 13)


def test_flip_is_copy_w_minus_1_and_swaps():
    rcv = K.empty_keypoints()
    rcv[2] = (10, 3, 1)  # right shoulder at col 3
    before = rcv.copy()
    flipped = K.flip_horizontal(rcv, width=64)
    np.testing.assert_array_equal(rcv, before)  # SPEC 8.2 #6: no mutation
    np.testing.assert_array_equal(flipped[5], [10, 60, 1])  # becomes the left shoulder
    np.testing.assert_array_equal(flipped[2], [0, 0, 0])
    np.testing.assert_array_equal(K.flip_horizontal(flipped, 64), rcv)


def test_clip_to_image_counts():
    rcv = K.empty_keypoints()
    rcv[0] = (130, 10, 1)
    rcv[1] = (-2, 70, 1)
    rcv[2] = (5, 5, 1)
    out, n = K.clip_to_image(rcv, 128, 64)
    assert n == 2
    np.testing.assert_array_equal(out[0], [127, 10, 1])
    np.testing.assert_array_equal(out[1], [0, 63, 1])
    np.testing.assert_array_equal(out[2], [5, 5, 1])


def test_openpose_coco18_and_body25():
    coco = np.zeros((18, 3), np.float32)
    for j in range(18):
        coco[j] = (100 + j, 200 + j, 0.9)  # x, y, score
    coco[7, 2] = 0.0
    rcv = K.from_openpose_flat(coco.ravel())
    np.testing.assert_array_equal(rcv[3], [203, 103, 1])
    np.testing.assert_array_equal(rcv[7], [0, 0, 0])

    body25 = np.zeros((25, 3), np.float32)
    for j in range(25):
        body25[j] = (j, 50 + j, 1.0)
    rcv = K.from_openpose_flat(body25.ravel())
    # BODY_25 8 is MidHip: our R-hip (8) is BODY_25 9, our L-ear (17) is BODY_25 18.
    np.testing.assert_array_equal(rcv[8], [59, 9, 1])
    np.testing.assert_array_equal(rcv[7], [57, 7, 1])
    np.testing.assert_array_equal(rcv[17], [68, 18, 1])
    with pytest.raises(ValueError, match="54 .*75"):
        K.from_openpose_flat(np.zeros(51))


def test_openpose_json_people(tmp_path):
    doc = {"version": 1.3, "people": [
        {"pose_keypoints_2d": [1.0, 2.0, 0.5] * 18},
        {"pose_keypoints_2d": [3.0, 4.0, 0.5] * 25}]}
    path = tmp_path / "frame_keypoints.json"
    path.write_text(json.dumps(doc))
    people = K.from_openpose_json(str(path))
    assert len(people) == 2
    np.testing.assert_array_equal(people[0][0], [2, 1, 1])
    np.testing.assert_array_equal(people[1][0], [4, 3, 1])
    path.write_text(json.dumps({"people": [{"pose_keypoints_2d": [0.0] * 10}]}))
    with pytest.raises(ValueError, match=r"frame_keypoints.json: people\[0\]"):
        K.from_openpose_json(str(path))


def test_coco17_mapping_and_neck():
    xyv = np.zeros((17, 3), np.float32)
    for j in range(17):
        xyv[j] = (j, 100 + j, 2)
    rcv = K.from_coco17(xyv)
    np.testing.assert_array_equal(rcv[0], [100, 0, 1])  # nose
    np.testing.assert_array_equal(rcv[2], [106, 6, 1])  # R-shoulder = COCO 6
    np.testing.assert_array_equal(rcv[5], [105, 5, 1])  # L-shoulder = COCO 5
    np.testing.assert_array_equal(rcv[14], [102, 2, 1])  # R-eye = COCO right_eye (2)
    np.testing.assert_array_equal(rcv[15], [101, 1, 1])
    np.testing.assert_array_equal(rcv[16], [104, 4, 1])  # R-ear = COCO right_ear (4)
    np.testing.assert_array_equal(rcv[10], [116, 16, 1])  # R-ankle = COCO 16
    np.testing.assert_array_equal(rcv[1], [105.5, 5.5, 1])  # neck = shoulder midpoint
    xyv[6, 2] = 0  # right shoulder missing -> no neck
    rcv = K.from_coco17(xyv)
    np.testing.assert_array_equal(rcv[1], [0, 0, 0])
    np.testing.assert_array_equal(rcv[2], [0, 0, 0])
