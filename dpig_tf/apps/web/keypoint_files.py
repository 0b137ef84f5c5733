"""The keypoints of one uploaded image, read from a keypoint file the user uploads.

Accepted: a PG2 annotation CSV (`name:keypoints_y:keypoints_x`; the row named
like the image, or the only row) or an OpenPose JSON file (the person with the
most visible joints; COCO-18 or BODY_25). Coordinates are pixels of the
uploaded image, before it is fitted to the network size.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np

from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError

ACCEPTED = "a PG2 annotation CSV (name:keypoints_y:keypoints_x) or an OpenPose .json file"


def read_keypoints(path: str | pathlib.Path, image_name: str, name: str | None = None
                   ) -> np.ndarray:
    """(18, 3) keypoints for the image called `image_name`; DataError naming the file."""
    path = pathlib.Path(path)
    shown = name or path.name
    if path.suffix.lower() == ".json":
        rcv = _from_openpose(path, shown)
    else:
        rcv = _from_csv(path, shown, image_name)
    if not (rcv[:, 2] > 0).any():
        raise DataError("expected at least one visible keypoint, found none", shown)
    return rcv


def _from_openpose(path: pathlib.Path, shown: str) -> np.ndarray:
    try:
        people = kp_lib.from_openpose_json(json.loads(path.read_text()))
    except (ValueError, UnicodeDecodeError) as err:
        message = str(err).replace("<dict>: ", "")
        raise DataError(f"expected {ACCEPTED}, found unreadable OpenPose JSON ({message})",
                        shown) from None
    if not people:
        raise DataError("expected a person in the OpenPose JSON, found an empty 'people' list",
                        shown)
    return max(people, key=lambda rcv: int((rcv[:, 2] > 0).sum()))


def _from_csv(path: pathlib.Path, shown: str, image_name: str) -> np.ndarray:
    try:
        rows = keypoints_csv.read_annotation_csv_with_lines(str(path))
    except DataError as err:
        # Messages name the temporary upload path; name the file as the user knows it.
        raise DataError(str(err).replace(str(path), shown)) from None
    if image_name in rows:
        return rows[image_name][0]
    if len(rows) == 1:
        return next(iter(rows.values()))[0]
    raise DataError(f"expected a row named {image_name!r} (or a single row), found "
                    f"{len(rows)} rows without it", shown)
