"""Keypoints of an uploaded image from a PG2 CSV row or an OpenPose JSON file."""

import json

import numpy as np
import pytest

from dpig_tf.apps.web import keypoint_files
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError


def _kp(row):
    kp = np.zeros((18, 3), np.float32)
    kp[:5] = (row, 3, 1)
    return kp


def test_csv_row_named_like_the_image_or_the_only_row(tmp_path):
    csv = tmp_path / "k.csv"
    keypoints_csv.write_annotation_csv(str(csv), {"a.png": _kp(4), "b.png": _kp(9)})
    assert keypoint_files.read_keypoints(csv, "b.png")[0, 0] == 9
    with pytest.raises(DataError, match=r"k.csv: expected a row named 'c.png' \(or a single "
                                        r"row\), found 2 rows"):
        keypoint_files.read_keypoints(csv, "c.png")
    keypoints_csv.write_annotation_csv(str(csv), {"a.png": _kp(4)})
    assert keypoint_files.read_keypoints(csv, "other.png")[0, 0] == 4


def test_openpose_json_takes_the_most_complete_person(tmp_path):
    def person(n):
        flat = []
        for j in range(18):
            flat += [2.0, 10.0 + j, 0.9] if j < n else [0.0, 0.0, 0.0]
        return {"pose_keypoints_2d": flat}

    path = tmp_path / "k.json"
    path.write_text(json.dumps({"people": [person(3), person(7)]}))
    rcv = keypoint_files.read_keypoints(path, "x.png")
    assert int(rcv[:, 2].sum()) == 7 and rcv[6, 0] == 16 and rcv[6, 1] == 2


def test_unreadable_files_name_the_upload(tmp_path):
    text = tmp_path / "upload_123"
    text.write_text("left wrist somewhere\n")
    with pytest.raises(DataError, match=r"^mine.txt:1: expected the header"):
        keypoint_files.read_keypoints(text, "x.png", name="mine.txt")
    bad_json = tmp_path / "k.json"
    bad_json.write_text("{not json")
    with pytest.raises(DataError, match=r"k.json: expected a PG2 annotation CSV .* or an "
                                        r"OpenPose .json file, found unreadable OpenPose"):
        keypoint_files.read_keypoints(bad_json, "x.png")
    empty = tmp_path / "e.json"
    empty.write_text(json.dumps({"people": []}))
    with pytest.raises(DataError, match=r"e.json: expected a person"):
        keypoint_files.read_keypoints(empty, "x.png")


def test_no_visible_joint_is_refused(tmp_path):
    csv = tmp_path / "k.csv"
    keypoints_csv.write_annotation_csv(str(csv), {"a.png": np.zeros((18, 3), np.float32)})
    with pytest.raises(DataError, match=r"k.csv: expected at least one visible keypoint"):
        keypoint_files.read_keypoints(csv, "a.png")
