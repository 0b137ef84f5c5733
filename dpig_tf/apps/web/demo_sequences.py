"""Built-in pose sequences for the video tab: one walking cycle per view.

The poses come from the demo dataset's articulated figure
(`dpig_tf.data.synthetic.pose_keypoints`) with the walking-cycle phase swept
over one period, so they are the kind of poses the demo model was trained on.
"""

from __future__ import annotations

import numpy as np

from dpig_tf.data import synthetic

FRAMES = 24
# An average demo body: mid width and height (synthetic.identity_params draws 0.85-1.2 and
# 0.78-0.9), centred, with a moderate stride.
_BODY = {"width": 1.0, "height": 0.84}
# synthetic.visibility drops each joint with probability 0.04 (occlusions); this seed's
# draws drop none, so a demo clip keeps every joint in view.
NO_OCCLUSION_SEED = 2
SEQUENCES = {
    "walk to the right": "right",
    "walk to the left": "left",
    "walk towards the camera": "front",
    "walk away": "back",
}


def walking_sequence(view: str, height: int, width: int, frames: int = FRAMES) -> np.ndarray:
    """(frames, 18, 3) keypoints of one walking cycle seen from `view`."""
    out = np.zeros((frames, 18, 3), np.float32)
    for i in range(frames):
        pose = {"view": view, "phase": 2 * np.pi * i / frames, "stride": 0.35,
                "arm_swing": 0.35, "scale": 1.0, "dx": 0.0, "dy": 0.0, "cut": "",
                "occlusion_seed": NO_OCCLUSION_SEED}
        yx = synthetic.pose_keypoints(_BODY, pose, height, width)
        vis = synthetic.visibility(_BODY, pose, yx, height, width)
        out[i, vis, :2] = np.round(yx[vis])
        out[i, vis, 2] = 1.0
    return out


def demo_sequence(name: str, height: int, width: int) -> np.ndarray:
    if name not in SEQUENCES:
        raise ValueError(f"unknown demo sequence {name!r}; expected one of "
                         f"{', '.join(SEQUENCES)}")
    return walking_sequence(SEQUENCES[name], height, width)
