"""evaluate_run on a real (untrained) run directory and a Market-style folder."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dpig_tf.data import keypoints_csv
from dpig_tf.data import pose
from dpig_tf.eval import evaluate_run as er
from dpig_tf.models.disentangled_generator import DisentangledGenerator


def test_evaluate_run_writes_folders_and_report(tiny_run, fake_inception_graph, tmp_path):
    cfg, run, (images, annotations, pairs_csv) = tiny_run
    graph, _ = fake_inception_graph
    out = tmp_path / "eval"
    report = er.evaluate_run(run, pairs_csv, images, annotations, str(out),
                             metrics=["ssim", "mask_ssim", "is", "mask_is", "psnr", "l1"],
                             protocol="dpig", inception_graph=graph, splits=2)
    pairs = keypoints_csv.read_pairs_csv(pairs_csv)
    assert report["num_images"] == len(pairs)
    assert json.loads((out / "report.json").read_text())["metrics"] == report["metrics"]
    for key in ("ssim_mean", "mask_ssim_mean", "is_mean", "mask_is_mean", "psnr_mean",
                "l1_mean"):
        assert np.isfinite(report["metrics"][key]), key
    assert report["run"]["mask"] == f"source pose mask r{cfg.data.mask_radius}"
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if r["phase"] == "evaluate" and r["out_dir"] == str(out)]
    assert len(logged) == 1 and logged[0]["step"] == 1
    assert logged[0]["ssim_mean"] == report["metrics"]["ssim_mean"]

    src, tgt = pairs[1]
    ann = keypoints_csv.read_annotation_csv(annotations)
    # The target is the real image; the mask is the SOURCE keypoints' mask x 255.
    np.testing.assert_array_equal(np.asarray(Image.open(out / "targets" / "00001.png")),
                                  np.asarray(Image.open(os.path.join(images, tgt))))
    mask = np.asarray(Image.open(out / "masks" / "00001.png"))
    np.testing.assert_array_equal(
        mask, pose.pose_mask(ann[src], cfg.data.image_height, cfg.data.image_width,
                             cfg.data.mask_radius) * 255)
    assert (out / "pairs.csv").read_text().splitlines()[2] == f"00001,{src},{tgt}"


def _checkpoint_misses_variables(run, model):
    """True when the run's checkpoints lack some of the model's variables.

    Keras 3 sub-layers kept in Python lists are not tracked by
    tf.train.Checkpoint, so their kernels are never saved; a restored model then
    keeps fresh random weights there and each load generates different images.
    """
    from dpig_tf import checkpoint as names

    saved = 0
    for directory in (names.STAGE1_DIR, names.POSE_AE_DIR):
        path = tf.train.latest_checkpoint(str(run / directory))
        saved += sum(1 for n, _ in tf.train.list_variables(path) if "VARIABLE_VALUE" in n
                     and not n.startswith(("save_counter", names.STEP)))
    return saved < len(model.weights)


def test_generated_images_are_the_runs_transfer(tiny_run, tmp_path):
    _, run, (images, annotations, pairs_csv) = tiny_run
    out = tmp_path / "eval"
    er.evaluate_run(run, pairs_csv, images, annotations, str(out), metrics=["ssim"])
    model = DisentangledGenerator.from_run_dir(run)
    if _checkpoint_misses_variables(run, model):
        pytest.xfail("dpig_tf.models: sub-layers held in Python lists are not saved by "
                     "tf.train.Checkpoint, so restored runs are not reproducible")
    ann = keypoints_csv.read_annotation_csv(annotations)
    src, tgt = keypoints_csv.read_pairs_csv(pairs_csv)[1]
    source = np.asarray(Image.open(os.path.join(images, src)), np.float32) / 127.5 - 1
    expected = er.to_uint8(model.transfer(tf.constant(source[None]), tf.constant(ann[src][None]),
                                          tf.constant(ann[tgt][None])))[0]
    written = np.asarray(Image.open(out / "generated" / "00001.png"))
    # Batch (16) vs single-image float rounding may move a value across an integer.
    assert np.abs(written.astype(int) - expected.astype(int)).max() <= 1


def test_patn_protocol_uses_target_mask(tiny_run, tmp_path):
    cfg, run, (images, annotations, pairs_csv) = tiny_run
    out = tmp_path / "eval"
    er.evaluate_run(run, pairs_csv, images, annotations, str(out), metrics=["mask_ssim"],
                    protocol="patn", max_pairs=2)
    _, tgt = keypoints_csv.read_pairs_csv(pairs_csv)[0]
    ann = keypoints_csv.read_annotation_csv(annotations)
    np.testing.assert_array_equal(
        np.asarray(Image.open(out / "masks" / "00000.png")),
        pose.pose_mask(ann[tgt], cfg.data.image_height, cfg.data.image_width, 4) * 255)


def test_refuses_to_overwrite_and_reports_missing_images(tiny_run, tmp_path):
    _, run, (images, annotations, pairs_csv) = tiny_run
    out = tmp_path / "eval"
    er.evaluate_run(run, pairs_csv, images, annotations, str(out), metrics=["ssim"],
                    max_pairs=1)
    with pytest.raises(ValueError, match="already holds images"):
        er.evaluate_run(run, pairs_csv, images, annotations, str(out), metrics=["ssim"],
                        max_pairs=1)
    bad_pairs = tmp_path / "pairs.csv"
    keypoints_csv.write_pairs_csv(str(bad_pairs), [("0001_c1s1_000000_00.jpg", "nope.jpg")])
    with pytest.raises(ValueError, match="no keypoints.*nope.jpg"):
        er.evaluate_run(run, str(bad_pairs), images, annotations, str(tmp_path / "e2"),
                        metrics=["ssim"])


def test_missing_graph_fails_before_generating(tiny_run, tmp_path):
    _, run, (images, annotations, pairs_csv) = tiny_run
    with pytest.raises(ValueError, match="inception-2015-12-05"):
        er.evaluate_run(run, pairs_csv, images, annotations, str(tmp_path / "e"),
                        metrics=["is"], inception_graph=None)
    assert not (tmp_path / "e").exists()


def test_narrow_images_are_padded_white_and_keypoints_shifted(tmp_path):
    # DeepFashion 256x176 -> 256x256 (data.pad_width_to), here 32x12 -> 32x16.
    path = str(tmp_path / "narrow.png")
    Image.fromarray(np.zeros((32, 12, 3), np.uint8)).save(path)
    image, left = er._load_network_image(path, 32, 16, pad_to=16)
    assert left == 2 and image.shape == (32, 16, 3)
    assert (image[:, :2] == 255).all() and (image[:, -2:] == 255).all()
    assert (image[:, 2:14] == 0).all()
    kp = np.zeros((18, 3), np.float32)
    kp[0] = (5, 3, 1)
    shifted = er._shift_columns(kp, left)
    assert tuple(shifted[0]) == (5, 5, 1) and tuple(shifted[1]) == (0, 0, 0)
    with pytest.raises(ValueError, match="narrow.png: size 12x32, but the run's model takes 16x32"):
        er._load_network_image(path, 32, 16, pad_to=0)
