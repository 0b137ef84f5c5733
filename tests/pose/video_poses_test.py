"""`estimate_video_poses`: one (18, 3) pose per frame, largest person (marker `media`)."""

import imageio.v2 as imageio
import numpy as np
import pytest

from dpig_tf.pose import estimator as estimator_lib
from dpig_tf.pose import media
from dpig_tf.pose import video_reader
from dpig_tf.pose.video_poses import estimate_video_poses


@pytest.mark.media
def test_one_pose_per_frame_following_the_person(tmp_path):
    reason = media.missing_reason(graph=True, media=("basketball1.png",))
    if reason:
        pytest.skip(reason)
    image = estimator_lib.load_image(media.media_path("basketball1.png"))[:, :320]
    shifts = [0, 40, 80]
    frames = [np.roll(image, s, axis=1) for s in shifts] + [np.full_like(image, 90)]
    path = tmp_path / "clip.mp4"
    with imageio.get_writer(path, format="FFMPEG", fps=5, codec="libx264", quality=9) as w:
        for f in frames:
            w.append_data(f)
    poses = estimate_video_poses(path)
    assert len(poses) == 4
    for pose, shift in zip(poses, shifts):
        assert pose.shape == (18, 3)
        assert pose[0, 2] == 1
        assert np.hypot(pose[0, 0] - 115, pose[0, 1] - (94 + shift)) <= 8  # nose, hand-checked
    np.testing.assert_array_equal(poses[3], np.zeros((18, 3)))  # no person: all missing


def test_undecodable_video(tmp_path):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    path = tmp_path / "x.mp4"
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(video_reader.VideoDecodeError, match="x.mp4"):
        estimate_video_poses(path)
