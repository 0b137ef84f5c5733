"""The clickable pose editor: a skeleton drawn over an image, moved joint by joint.

The editor image is the network-size image enlarged by an integer factor
(`editor_scale`) so that joints are easy to hit; a click at editor pixel
(x, y) moves the selected joint to the network pixel under it and makes the
joint visible.
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from PIL import ImageDraw

from dpig_tf.data import keypoints as kp_lib
from dpig_tf.pose import skeleton

EDITOR_TARGET_HEIGHT = 384
# The person's right side red, the left blue, the centre line green (the usual convention).
RIGHT, LEFT, CENTRE = (230, 40, 40), (40, 110, 240), (40, 200, 60)
RIGHT_JOINTS = frozenset(i for i, n in enumerate(kp_lib.JOINT_NAMES) if n.startswith("right"))
LEFT_JOINTS = frozenset(i for i, n in enumerate(kp_lib.JOINT_NAMES) if n.startswith("left"))
SELECTED = (255, 220, 0)


def editor_scale(height: int) -> int:
    """Integer enlargement of the editor image (3 for Market's 128 rows, 2 for 256)."""
    return max(1, round(EDITOR_TARGET_HEIGHT / height))


def joint_colour(joint: int) -> tuple[int, int, int]:
    if joint in RIGHT_JOINTS:
        return RIGHT
    if joint in LEFT_JOINTS:
        return LEFT
    return CENTRE


def draw(image: np.ndarray, keypoints: np.ndarray, selected: int | None = None,
         scale: int = 1) -> np.ndarray:
    """uint8 (H, W, 3) image -> (H*scale, W*scale, 3) with limbs, joints and the selection."""
    h, w = image.shape[:2]
    out = Image.fromarray(image).resize((w * scale, h * scale), Image.NEAREST)
    pen = ImageDraw.Draw(out)

    def centre(j):  # network pixel centre -> editor pixel centre
        return ((keypoints[j, 1] + 0.5) * scale - 0.5, (keypoints[j, 0] + 0.5) * scale - 0.5)

    line_width = max(1, scale // 2 + 1)
    for a, b in skeleton.LIMBS[:skeleton.NUM_SEED_LIMBS]:
        if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
            colour = joint_colour(b) if b != 0 else CENTRE
            pen.line([centre(a), centre(b)], fill=colour, width=line_width)
    radius = max(2.0, 1.7 * scale)
    for j in range(kp_lib.NUM_JOINTS):
        if keypoints[j, 2] <= 0:
            continue
        x, y = centre(j)
        if j == selected:
            ring = radius + max(2, scale)
            pen.ellipse([x - ring, y - ring, x + ring, y + ring], outline=SELECTED,
                        width=max(1, scale // 2))
        pen.ellipse([x - radius, y - radius, x + radius, y + radius], fill=joint_colour(j),
                    outline=(255, 255, 255))
    return np.asarray(out)


def click_to_pixel(x: float, y: float, scale: int, height: int, width: int
                   ) -> tuple[float, float]:
    """Editor pixel (x, y) -> network (row, col), clipped to the image."""
    row = (y + 0.5) / scale - 0.5
    col = (x + 0.5) / scale - 0.5
    return float(np.clip(row, 0, height - 1)), float(np.clip(col, 0, width - 1))


def move_joint(keypoints: np.ndarray, joint: int, row: float, col: float) -> np.ndarray:
    """A copy of `keypoints` with `joint` at (row, col) and visible."""
    out = np.array(keypoints, np.float32, copy=True)
    out[joint] = (round(row), round(col), 1.0)
    return out


def hide_joint(keypoints: np.ndarray, joint: int) -> np.ndarray:
    """A copy with `joint` missing (as the CSVs' -1: (0, 0, 0))."""
    out = np.array(keypoints, np.float32, copy=True)
    out[joint] = 0.0
    return out
