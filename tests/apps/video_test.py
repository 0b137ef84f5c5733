"""--mode=video: one frame per pose (CSV or OpenPose JSON), .gif/.mp4, bad pose files."""

import json

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.apps import video
from dpig_tf.apps.options import AppOptions
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.models.disentangled_generator import DisentangledGenerator


def _pose(shift):
    kp = np.zeros((18, 3), np.float32)
    kp[:, 0] = np.linspace(3, 28, 18)
    kp[:, 1] = 4 + shift + (np.arange(18) % 3)
    kp[:, 2] = 1
    return kp


def _openpose_json(path, kp, joints=18):
    flat = []
    for r, c, v in kp[:joints]:
        flat += [float(c), float(r), 0.9 if v else 0.0]
    flat += [0.0] * 3 * max(0, joints - 18)
    path.write_text(json.dumps({"version": 1.3, "people": [{"pose_keypoints_2d": flat}]}))


def test_csv_poses_to_gif_one_frame_each(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    poses = tmp_path / "poses.csv"
    frames = {f"frame{i:03d}.jpg": _pose(i) for i in range(5)}
    keypoints_csv.write_annotation_csv(str(poses), frames)
    s = video.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "v.gif"), images=images,
                             annotations=annotations, source=names[0], poses=str(poses), fps=5))
    assert s["num_frames"] == 5 and s["generation_fps"] > 0
    with Image.open(tmp_path / "v.gif") as gif:
        assert gif.n_frames == 5
    # Frame 3 is decode(E(source), pose 3).
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, 32, 16)
    image, kp = real.batch([names[0]])
    codes = model.encode(image, kp)
    expected = common.to_uint8(
        model.decode(codes["foreground"], codes["background"], _pose(3)[None]).numpy())[0]
    got = np.asarray(Image.open(tmp_path / "v_frames" / "frame_00003.png"))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_openpose_json_folder_to_mp4(tiny_run, tiny_images, tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    images, annotations, names = tiny_images
    folder = tmp_path / "json"
    folder.mkdir()
    for i in range(3):
        _openpose_json(folder / f"clip_{i:012d}_keypoints.json", _pose(i))
    s = video.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "v.mp4"), images=images,
                             annotations=annotations, source=names[1], poses=str(folder)))
    assert s["num_frames"] == 3
    reader = imageio.get_reader(str(tmp_path / "v.mp4"))
    assert sum(1 for _ in reader) == 3


def test_wrong_joint_count_in_csv_names_file_and_line(tmp_path):
    poses = tmp_path / "poses.csv"
    ys = ", ".join(["5"] * 18)
    bad = ", ".join(["5"] * 17)
    poses.write_text(f"name:keypoints_y:keypoints_x\na.jpg: [{ys}]: [{ys}]\n"
                     f"b.jpg: [{bad}]: [{bad}]\n")
    with pytest.raises(DataError, match=r"poses.csv:3:"):
        video.read_pose_sequence(str(poses), 32, 16)


def test_unreadable_and_wrong_openpose_frames_name_the_frame(tmp_path):
    good, broken, wrong = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    _openpose_json(good, _pose(0))
    broken.write_text("{not json")
    with pytest.raises(DataError, match=r"b.json: frame 1: unreadable OpenPose JSON"):
        video.read_pose_sequence(f"{good},{broken}", 32, 16)
    wrong.write_text(json.dumps({"people": [{"pose_keypoints_2d": [1.0] * 60}]}))
    with pytest.raises(DataError, match=r"c.json: frame 0: .*60 values"):
        video.read_pose_sequence(str(wrong), 32, 16)


def test_frame_without_visible_joint_is_an_error(tmp_path):
    poses = tmp_path / "poses.csv"
    keypoints_csv.write_annotation_csv(str(poses), {"a.jpg": _pose(0),
                                                    "b.jpg": np.zeros((18, 3), np.float32)})
    with pytest.raises(DataError, match=r"poses.csv:3: frame 1 .*no visible keypoint"):
        video.read_pose_sequence(str(poses), 32, 16)
    empty = tmp_path / "empty.json"
    empty.write_text(json.dumps({"people": []}))
    with pytest.raises(DataError, match="no person"):
        video.read_pose_sequence(str(empty), 32, 16)


def test_person_crop_keypoints_fits_the_person_into_the_network_aspect():
    rcv = np.zeros((18, 3), np.float32)
    rcv[0] = (100, 300, 1)   # nose
    rcv[10] = (500, 280, 1)  # right ankle
    rcv[13] = (500, 320, 1)  # left ankle
    out = video.person_crop_keypoints(rcv, 128, 64)
    span = 400.0
    top, crop_h = 100 - 0.15 * span, span * (1 + 0.15 + 0.08)
    scale = 128 / crop_h
    np.testing.assert_allclose(out[0, :2], [(100 - top) * scale, 32.0], atol=1e-4)
    np.testing.assert_allclose(out[10, 0], (500 - top) * scale, atol=1e-4)
    assert out[1].tolist() == [0, 0, 0]  # invisible joints stay (0, 0, 0)
    assert (out[[0, 10, 13], 0] < 128).all() and (out[[0, 10, 13], 1] < 64).all()


@pytest.mark.media
def test_video_file_as_pose_source(tiny_run, tiny_images, tmp_path):
    from dpig_tf.pose import media

    reason = media.missing_reason(graph=True, media=("vtest.avi",))
    if reason:
        pytest.skip(reason)
    import imageio.v3 as iio

    # A short clip of the pedestrian video: one output frame per input frame.
    frames = [f for _, f in zip(range(3), iio.imiter(media.media_path("vtest.avi")))]
    clip = tmp_path / "clip.mp4"
    iio.imwrite(clip, np.stack(frames), fps=5, codec="libx264")
    poses = video.read_pose_sequence(str(clip), 32, 16)
    assert len(poses) == 3
    for _, rcv in poses:
        vis = rcv[:, 2] > 0
        assert vis.sum() >= 5
        assert (rcv[vis, 0] < 32).all() and (rcv[vis, 1] < 16).all()
    images, annotations, names = tiny_images
    s = video.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "v.gif"), images=images,
                             annotations=annotations, source=names[0], poses=str(clip), fps=5))
    assert s["num_frames"] == 3
