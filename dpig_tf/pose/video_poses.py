"""One pose per frame of a video: the pose source of the apps' video mode.

    from dpig_tf.pose.video_poses import estimate_video_poses
    poses = estimate_video_poses("dance.mp4")   # list of (18, 3) RCV, one per frame

The largest person of each frame is kept (its joint box area), in pixels of
the video frame. A frame without a person gives an all-zero (18, 3) array
(every joint missing), so the list always has one entry per decoded frame.
"""

from __future__ import annotations

import os

import numpy as np

from dpig_tf.pose import estimator as estimator_lib
from dpig_tf.pose import video_reader


def estimate_video_poses(video_path: str | os.PathLike,
                         graph_path: str | os.PathLike | None = None, *,
                         max_frames: int | None = None, every: int = 1,
                         estimator: estimator_lib.PoseEstimator | None = None
                         ) -> list[np.ndarray]:
    """(18, 3) RCV keypoints (row, col, visible) of the largest person in each frame.

    Args:
        video_path: any video ffmpeg decodes.
        graph_path: the pose graph; None uses the default location.
        max_frames, every: frame selection as in `video_reader.iter_frames`.
        estimator: an existing `PoseEstimator` to reuse (then `graph_path` is ignored).

    Raises:
        video_reader.VideoDecodeError: the video cannot be decoded.
        graph_file.PoseGraphError: the graph is missing or fails its checksum.
    """
    if estimator is None:
        estimator = estimator_lib.PoseEstimator(graph_path)
    return [estimator.estimate_single(frame, select="largest")
            for _, frame in video_reader.iter_frames(video_path, max_frames=max_frames,
                                                     every=every)]
