"""Video decoding through imageio's FFMPEG plugin, and its errors."""

import imageio.v2 as imageio
import numpy as np
import pytest

from dpig_tf.pose import video_reader


def _write_video(path, frames, fps=5):
    with imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264",
                            quality=9, macro_block_size=8) as w:
        for f in frames:
            w.append_data(f)


@pytest.fixture(scope="module")
def ramp_video(tmp_path_factory):
    """10 frames whose brightness encodes the frame index."""
    path = tmp_path_factory.mktemp("video") / "ramp.mp4"
    _write_video(path, [np.full((48, 64, 3), 20 * i + 10, np.uint8) for i in range(10)])
    return path


def test_all_frames_in_order(ramp_video):
    frames = video_reader.read_frames(ramp_video)
    assert [i for i, _ in frames] == list(range(10))
    for i, f in frames:
        assert f.shape == (48, 64, 3) and f.dtype == np.uint8
        assert abs(float(f.mean()) - (20 * i + 10)) < 4


def test_every_and_max_frames(ramp_video):
    assert [i for i, _ in video_reader.read_frames(ramp_video, every=3)] == [0, 3, 6, 9]
    assert [i for i, _ in video_reader.read_frames(ramp_video, every=2, max_frames=3)] == [0, 2, 4]
    with pytest.raises(ValueError, match="every"):
        video_reader.read_frames(ramp_video, every=0)


def test_undecodable_video_is_a_clear_error(tmp_path):
    path = tmp_path / "garbage.avi"
    path.write_bytes(np.random.default_rng(0).bytes(5000))
    with pytest.raises(video_reader.VideoDecodeError, match="cannot decode video .*garbage.avi"):
        video_reader.read_frames(path)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    with pytest.raises(video_reader.VideoDecodeError, match="empty.mp4"):
        video_reader.read_frames(empty)
    with pytest.raises(video_reader.VideoDecodeError, match="not found: .*nothere.mp4"):
        video_reader.read_frames(tmp_path / "nothere.mp4")


def test_text_file_renamed_to_video(tmp_path):
    path = tmp_path / "notes.mp4"
    path.write_text("this is not a video\n" * 50)
    with pytest.raises(video_reader.VideoDecodeError, match="notes.mp4"):
        video_reader.read_frames(path)
