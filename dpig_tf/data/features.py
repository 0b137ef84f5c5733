"""The batch contract: every feature key with its shape, dtype and meaning.

Every dataset (Market-1501, DeepFashion, the synthetic demo, TFRecords) yields
dictionaries with exactly these keys, per example (batching adds a leading
batch axis). Training, evaluation, TFLite calibration and the applications all
consume this one contract.

Conventions (SPEC section 1):
- `image` is RGB in [-1, 1]: x = (uint8 - 127.5) / 127.5.
- keypoints are 18 OpenPose/COCO joints as (row, col, visible) in pixels of
  the network-size image; a missing joint is (0, 0, 0).
- heatmaps are +1 inside a disk of radius 4 around each visible joint and -1
  elsewhere (an invisible joint gives an all -1 channel).
- `pose_mask` is the {0, 1} limb mask of the dataset's primary radius
  (Market 7, DeepFashion 8) after a 5x5 closing.
- `roi_boxes` are [y1, x1, y2, x2] pixel boxes of the 7 body regions
  (head, upper body, lower body, left arm, right arm, left leg, right leg);
  `roi_vis` is 1 where the region has at least one visible joint.
- `pose_vector` is the pose auto-encoder's 54-value input, interleaved per
  joint [r0, c0, v0, r1, c1, v1, ...] with r, c in [-1, 1] and (-1, -1, 0)
  for a missing joint (SPEC 2.7).
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

NUM_JOINTS = 18
NUM_PARTS = 7
POSE_VECTOR_DIM = NUM_JOINTS * 3


@dataclasses.dataclass(frozen=True)
class Feature:
    shape: tuple  # per example; "H"/"W" stand for the image size
    dtype: tf.DType
    doc: str


# Features of the (source) image.
IMAGE = "image"
KEYPOINTS = "keypoints"
HEATMAPS = "heatmaps"
POSE_MASK = "pose_mask"
ROI_BOXES = "roi_boxes"
ROI_VIS = "roi_vis"
POSE_VECTOR = "pose_vector"
IDENTITY = "identity"
CAMERA = "camera"
NAME = "name"

# The paired target (present when a pairs CSV is used, e.g. transfer evaluation).
TARGET_PREFIX = "target_"

FEATURES: dict[str, Feature] = {
    IMAGE: Feature(("H", "W", 3), tf.float32, "RGB image in [-1, 1]"),
    KEYPOINTS: Feature((NUM_JOINTS, 3), tf.float32, "(row, col, visible), pixels"),
    HEATMAPS: Feature(("H", "W", NUM_JOINTS), tf.float32, "+1/-1 disk heatmaps"),
    POSE_MASK: Feature(("H", "W", 1), tf.float32, "{0,1} pose mask, primary radius"),
    ROI_BOXES: Feature((NUM_PARTS, 4), tf.float32, "[y1, x1, y2, x2] pixel boxes"),
    ROI_VIS: Feature((NUM_PARTS,), tf.float32, "{0,1} body-region visibility"),
    POSE_VECTOR: Feature((POSE_VECTOR_DIM,), tf.float32, "pose auto-encoder input"),
    IDENTITY: Feature((), tf.int32, "person identity (Market filename[0:4])"),
    CAMERA: Feature((), tf.int32, "camera (Market filename[6]; DeepFashion -1)"),
    NAME: Feature((), tf.string, "image file name"),
}

# Keys duplicated with TARGET_PREFIX for the paired target image.
PAIRED_KEYS = (IMAGE, KEYPOINTS, HEATMAPS, POSE_MASK, ROI_BOXES, ROI_VIS, POSE_VECTOR,
               IDENTITY, CAMERA, NAME)


def target(key: str) -> str:
    """The feature key of the paired target's `key`."""
    return TARGET_PREFIX + key


def element_spec(height: int, width: int, paired: bool = False) -> dict[str, tf.TensorSpec]:
    """The per-example `tf.TensorSpec` of every key."""
    def spec(key, feature):
        shape = tuple(height if d == "H" else width if d == "W" else d for d in feature.shape)
        return tf.TensorSpec(shape, feature.dtype, name=key)

    out = {k: spec(k, f) for k, f in FEATURES.items()}
    if paired:
        out.update({target(k): spec(target(k), FEATURES[k]) for k in PAIRED_KEYS})
    return out
