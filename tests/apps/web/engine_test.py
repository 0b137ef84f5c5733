"""The page's model calls: same results as the library, cached codes, uploads, videos."""

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.apps.web.engine import Engine
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND
from dpig_tf.models.disentangled_generator import POSE
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.models.disentangled_generator import MissingWeightsError
from dpig_tf.testing.run_dirs import write_untrained_run


def _real(engine, name):
    image, kp = engine.test_set.load(name)
    return image[None], kp[None]


def test_transfer_is_decode_of_the_cached_codes(engine, web_model):
    a, b = engine.test_names[:2]
    person = engine.test_person(a)
    assert engine.test_person(a) is person  # encoded once
    target = engine.test_keypoints(b)
    got = engine.transfer(person, target)
    image, kp = _real(engine, a)
    expected = common.to_uint8(web_model.transfer(image, kp, target[None]).numpy())[0]
    assert got.shape == (32, 16, 3) and got.dtype == np.uint8
    assert np.abs(got.astype(int) - expected).max() <= 1


@pytest.mark.parametrize("factor", [FOREGROUND, BACKGROUND, POSE])
def test_sample_matches_the_model_sample(engine, web_model, factor):
    name = engine.test_names[2]
    got = engine.sample(engine.test_person(name), factor, seed=7)
    image, kp = _real(engine, name)
    expected = web_model.sample(seed=7, sample_fg=factor == FOREGROUND,
                                sample_bg=factor == BACKGROUND, sample_pose=factor == POSE,
                                image=image, keypoints=kp)
    assert np.abs(got.astype(int) - common.to_uint8(expected.numpy())[0]).max() <= 1
    assert not np.array_equal(got, engine.sample(engine.test_person(name), factor, seed=8))


def test_interpolation_end_points(engine, web_model):
    a, b = (engine.test_person(n) for n in engine.test_names[:2])
    assert np.array_equal(engine.interpolate(a, b, [FOREGROUND], 0.0),
                          engine.transfer(a, a.keypoints))
    end = engine.interpolate(a, b, [FOREGROUND], 1.0)
    expected = web_model.decode(b.codes[FOREGROUND], a.codes[BACKGROUND], a.keypoints[None])
    assert np.abs(end.astype(int) - common.to_uint8(expected.numpy())[0]).max() <= 1
    with pytest.raises(ValueError, match="at least one factor"):
        engine.interpolate(a, b, [], 0.5)


def test_video_one_frame_per_pose(engine, tmp_path):
    person = engine.test_person(engine.test_names[0])
    poses = np.stack([engine.test_keypoints(n) for n in engine.test_names[:5]])
    path = engine.video(person, poses, tmp_path / "v.gif", fps=5)
    with Image.open(path) as gif:
        assert gif.n_frames == 5
        gif.seek(3)
        frame3 = np.asarray(gif.convert("RGB"))
    # GIF palettes quantise colours: compare with the direct transfer coarsely.
    expected = engine.transfer(person, poses[3]).astype(int)
    assert np.abs(frame3.astype(int) - expected).mean() < 8


def test_video_as_mp4(engine, tmp_path):
    imageio = pytest.importorskip("imageio.v2")
    pytest.importorskip("imageio_ffmpeg")
    person = engine.test_person(engine.test_names[1])
    poses = np.stack([engine.test_keypoints(n) for n in engine.test_names[:3]])
    path = engine.video(person, poses, tmp_path / "v.mp4", fps=5)
    assert sum(1 for _ in imageio.get_reader(path)) == 3
    with pytest.raises(ValueError, match="expected 1 to 300 poses, found 0"):
        engine.video(person, poses[:0], tmp_path / "e.gif")


def test_pose_files_the_video_app_reads(engine, tmp_path):
    csv = tmp_path / "poses.csv"
    keypoints_csv.write_annotation_csv(
        str(csv), {f"f{i}.jpg": engine.test_keypoints(n) for i, n in
                   enumerate(engine.test_names[:3])})
    assert engine.read_pose_sequence(str(csv)).shape == (3, 18, 3)
    unknown = tmp_path / "poses.txt"
    unknown.write_text("frame 1: arms up\n")
    with pytest.raises(DataError, match=r"poses.txt:1: expected the header"):
        engine.read_pose_sequence(str(unknown))


def test_upload_is_fitted_and_its_keypoints_moved(engine, tmp_path):
    name = engine.test_names[0]
    image, kp = engine.test_set.load(name)
    big = Image.fromarray(common.to_uint8(image)).resize((32, 64), Image.NEAREST)  # 2x
    big.save(tmp_path / "me.png")
    big_kp = kp.copy()
    vis = big_kp[:, 2] > 0
    big_kp[vis, :2] = big_kp[vis, :2] * 2 + 0.5  # pixel centres scale about the edge
    keypoints_csv.write_annotation_csv(str(tmp_path / "me.csv"), {"me.png": big_kp})
    person, note = engine.uploaded_person(str(tmp_path / "me.png"),
                                          keypoint_path=str(tmp_path / "me.csv"))
    assert person.label == "me.png" and person.image.shape == (32, 16, 3)
    assert "64x32" in note and "32x16" in note
    assert np.abs(person.keypoints[vis, :2] - kp[vis, :2]).max() <= 0.5
    assert np.abs(person.image.astype(int) - common.to_uint8(image)).mean() < 12


def test_upload_without_keypoints_or_estimator_asks_for_a_keypoint_file(engine, tmp_path):
    no_estimator = Engine(engine.model, engine.test_set, pose_graph=str(tmp_path / "absent.pb"))
    assert not no_estimator.has_pose_estimator and no_estimator.pose_estimator() is None
    Image.new("RGB", (16, 32), (200, 10, 10)).save(tmp_path / "me.png")
    with pytest.raises(DataError, match=r"me.png: no keypoints for this image: upload a "
                                        r"keypoint file"):
        no_estimator.uploaded_person(str(tmp_path / "me.png"))


def test_sampling_without_stage2_names_the_training_command(web_cfg, engine, tmp_path):
    run = write_untrained_run(web_cfg, tmp_path / "run", stage2=False)
    model = DisentangledGenerator.from_run_dir(run)
    stage1_only = Engine(model, engine.test_set, stage2_hint=f"python -m dpig_tf.main "
                                                            f"--stage=2 --init_from={run}")
    assert not stage1_only.can_sample
    stage1_only.warm_up()
    with pytest.raises(MissingWeightsError, match="--stage=2 --init_from="):
        stage1_only.sample(stage1_only.test_person(engine.test_names[0]), FOREGROUND, 0)


@pytest.mark.media
def test_upload_without_keypoint_file_uses_our_estimator(engine):
    from dpig_tf.pose import media

    reason = media.missing_reason(graph=True, media=("basketball1.png",))
    if reason:
        pytest.skip(reason)
    path = media.media_path("basketball1.png")
    person, note = engine.uploaded_person(str(path))
    with Image.open(path) as img:
        width, height = img.size
    assert f"{height}x{width}" in note
    assert (person.keypoints[:, 2] > 0).sum() >= 10
    vis = person.keypoints[:, 2] > 0
    assert (person.keypoints[vis, 0] <= 31).all() and (person.keypoints[vis, 1] <= 15).all()


def test_region_swap_takes_only_the_named_codes(engine, web_model):
    from dpig_tf.apps import regions

    target, donor = (engine.test_person(n) for n in engine.test_names[:2])
    got = engine.swap_regions(target, donor, ["upper_clothes", "pants"], "target")
    codes = regions.mix_codes(web_model, target.codes, donor.codes, ["upper_clothes", "pants"])
    expected = web_model.decode(codes[FOREGROUND], codes[BACKGROUND], target.keypoints[None])
    assert np.abs(got.astype(int) - common.to_uint8(expected.numpy())[0]).max() <= 1
    slices = regions.region_slices(web_model)
    head = slices["head"]
    assert np.array_equal(codes[FOREGROUND][..., head], target.codes[FOREGROUND][..., head])
    assert np.array_equal(engine.swap_regions(target, target, regions.REGION_NAMES),
                          engine.transfer(target, target.keypoints))
