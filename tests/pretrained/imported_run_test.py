"""An imported run directory (and its preset) works like a trained one: apps, export, Stage II."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf import config_io
from dpig_tf import from_preset
from dpig_tf.apps import common
from dpig_tf.apps import transfer
from dpig_tf.apps.options import AppOptions
from dpig_tf.data import keypoints_csv
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.pretrained import presets
from dpig_tf.testing.run_dirs import write_images

ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}


@pytest.fixture(scope="module")
def market_images(tmp_path_factory):
    """Market-size (128x64) images in the PG2 layout, a pairs CSV."""
    folder = tmp_path_factory.mktemp("market_data")
    images, annotations, names = write_images(config_io.load_config("market"), folder, count=4)
    pairs = folder / "pairs.csv"
    keypoints_csv.write_pairs_csv(str(pairs), [(names[0], names[1]), (names[2], names[3])])
    return images, annotations, str(pairs), names


@pytest.fixture(scope="module")
def market_preset(market_import, tmp_path_factory):
    return presets.save_preset(market_import, tmp_path_factory.mktemp("presets") / "market")


def _not_blank(png) -> bool:
    pixels = np.asarray(Image.open(png)).astype(int)
    return pixels.std() > 1.0


def test_transfer_app_on_imported_run(market_import, market_images, tmp_path):
    images, annotations, pairs, names = market_images
    s = transfer.run(AppOptions(run_dir=str(market_import), out=str(tmp_path), images=images,
                                annotations=annotations, pairs=pairs))
    assert s["num_images"] == 2 and _not_blank(tmp_path / "00000.png")
    model = DisentangledGenerator.from_run_dir(market_import)
    real = common.RealImages(images, annotations, 128, 64)
    src, src_kp = real.batch([names[0]])
    _, tgt_kp = real.batch([names[1]])
    expected = common.to_uint8(model.transfer(src, src_kp, tgt_kp).numpy())[0]
    got = np.asarray(Image.open(tmp_path / "00000.png")).astype(int)
    assert np.abs(got - expected).max() <= 1


def test_sample_cli_on_imported_run(market_import, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "dpig_tf.main", "--mode=sample", f"--run_dir={market_import}",
         "--num=3", "--factors=fg,bg,pose", f"--out={tmp_path}"],
        capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pngs = sorted(p for p in tmp_path.rglob("*.png"))
    assert len(pngs) >= 3 and all(_not_blank(p) for p in pngs[:3])


def test_saved_model_export_of_imported_run(market_import, market_images, tmp_path):
    import tensorflow as tf

    from export.saved_model import export_saved_model

    version_dir = export_saved_model(str(market_import), str(tmp_path / "export"))
    served = tf.saved_model.load(str(version_dir))
    assert {"transfer", "sample", "encode", "decode"} <= set(served.signatures)
    images, annotations, _, names = market_images
    real = common.RealImages(images, annotations, 128, 64)
    src, src_kp = real.batch([names[0]])
    _, tgt_kp = real.batch([names[1]])
    model = DisentangledGenerator.from_run_dir(market_import)
    expected = model.transfer(src, src_kp, tgt_kp).numpy()
    out = served.signatures["transfer"](image=tf.constant(src), keypoints=tf.constant(src_kp),
                                        target_keypoints=tf.constant(tgt_kp))
    got = next(iter(out.values())).numpy()
    assert np.abs(got - expected).max() < 1e-4


def test_stage2_trains_from_imported_run(market_import, market_images, tmp_path):
    from dpig_tf.training import run

    images, annotations, pairs, _ = market_images
    saved = config_io.read_saved_config(market_import / "config.yaml")
    cfg = config_io.load_config("market", [
        f"model.base_channels={saved.model.channels}", f"data.images={images}",
        f"data.annotations={annotations}", f"data.pairs={pairs}", "stage2.steps=2",
        "stage2.pose_steps=2", "stage2.batch_size=2", "stage2.pose_batch_size=2",
        "stage2.checkpoint_every=2", "stage2.log_every=1",
        "runtime.progress_bar=false"])
    out = run.train(cfg, 2, run_dir=str(tmp_path / "stage2"), init_from=str(market_import))
    model = DisentangledGenerator.from_run_dir(out, require_stage2=True)
    assert model.has_stage2


# --- presets --------------------------------------------------------------------------------
def test_preset_layout_and_metadata(market_preset, market_import):
    metadata = presets.read_metadata(market_preset)
    assert metadata["dataset"] == "market" and metadata["image_size"] == [128, 64]
    assert metadata["has_stage2"] is True
    assert metadata["source"]["kind"] == "tf1_import"
    assert metadata["source"]["checkpoints"]["stage1"]["model_id"] == 1
    assert all(len(h) == 64 for h in metadata["source"]["checkpoints"]["stage1"]["sha256"]
               .values())
    for name in ("encoder", "generator", "pose_encoder", "pose_decoder", "discriminator",
                 "fg_mapping", "bg_mapping", "pose_mapping"):
        assert (market_preset / name / "model.weights.h5").is_file()
        assert json.loads((market_preset / name / "config.json").read_text())
    assert (market_preset / "config.json").is_file()


def test_from_preset_equals_the_run(market_preset, market_import, market_images):
    images, annotations, _, names = market_images
    real = common.RealImages(images, annotations, 128, 64)
    src, src_kp = real.batch(names[:2])
    _, tgt_kp = real.batch(names[2:4])
    a = from_preset(market_preset, require_stage2=True)
    b = DisentangledGenerator.from_run_dir(market_import, require_stage2=True)
    assert np.array_equal(a.transfer(src, src_kp, tgt_kp).numpy(),
                          b.transfer(src, src_kp, tgt_kp).numpy())
    assert np.array_equal(a.sample(seed=3, batch_size=2).numpy(),
                          b.sample(seed=3, batch_size=2).numpy())


def _copy(preset, tmp_path):
    import shutil

    target = tmp_path / "copy"
    shutil.copytree(preset, target)
    return target


def test_truncated_weights_file_is_a_clear_error(market_preset, tmp_path):
    broken = _copy(market_preset, tmp_path)
    weights = broken / "generator" / "model.weights.h5"
    weights.write_bytes(weights.read_bytes()[:5000])
    with pytest.raises(presets.PresetError, match=r"generator/model.weights.h5: expected sha256"):
        from_preset(broken)


def test_wrong_weights_file_is_a_clear_error(market_preset, tmp_path):
    broken = _copy(market_preset, tmp_path)
    swapped = broken / "encoder" / "model.weights.h5"
    swapped.write_bytes((broken / "pose_encoder" / "model.weights.h5").read_bytes())
    metadata = json.loads((broken / "metadata.json").read_text())
    metadata["networks"]["encoder"]["sha256"] = presets.sha256_of(swapped)
    (broken / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(presets.PresetError, match=r"expected weights for the encoder"):
        from_preset(broken)


def test_newer_format_is_refused(market_preset, tmp_path):
    broken = _copy(market_preset, tmp_path)
    metadata = json.loads((broken / "metadata.json").read_text())
    metadata["format_version"] = 99
    (broken / "metadata.json").write_text(json.dumps(metadata))
    with pytest.raises(presets.PresetError, match="format_version: expected <= 1"):
        from_preset(broken)


def test_preset_flag_on_cli_transfer_and_export(market_preset, market_images, tmp_path):
    images, annotations, pairs, _ = market_images
    proc = subprocess.run(
        [sys.executable, "-m", "dpig_tf.apps.transfer", f"--preset={market_preset}",
         f"--images={images}", f"--annotations={annotations}", f"--pairs={pairs}",
         f"--out={tmp_path / 'transfer'}"], capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert _not_blank(tmp_path / "transfer" / "00000.png")
    proc = subprocess.run(
        [sys.executable, "export/saved_model.py", f"--preset={market_preset}",
         f"--out={tmp_path / 'export'}"], capture_output=True, text=True, env=ENV,
        cwd=str(config_io.REPO_ROOT))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (tmp_path / "export" / "dpig" / "1" / "saved_model.pb").is_file()


def test_preset_unpacks_to_a_stage2_ready_run_dir(market_preset, tmp_path):
    run = presets.write_run_dir(market_preset, tmp_path / "run")
    model = DisentangledGenerator.from_run_dir(run)
    reference = from_preset(market_preset)
    z = np.zeros((1, 352), np.float32)
    kp = np.zeros((1, 18, 3), np.float32)
    assert np.array_equal(model.decode(z[:, :224], z[:, 224:], kp).numpy(),
                          reference.decode(z[:, :224], z[:, 224:], kp).numpy())


def test_virtual_market_ranks_with_the_imported_discriminator(market_import, market_preset,
                                                              market_images, tmp_path):
    from dpig_tf.apps import virtual_market

    _, annotations, _, _ = market_images
    scores = []
    for name, path in (("run", market_import), ("preset", market_preset)):
        virtual_market.run(AppOptions(run_dir=str(path), out=str(tmp_path / name), num_ids=1,
                                      per_id=2, candidates=3, pose_source="real",
                                      annotations=annotations, seed=1))
        summary = json.loads((tmp_path / name / "summary.json").read_text())
        scores.append([r["d_score"] for r in summary["images"]])
    assert len(scores[0]) == 2 and scores[0] == scores[1]  # the same D from either form


def test_evaluate_on_a_preset_leaves_it_untouched(market_preset, market_images, tmp_path):
    from dpig_tf.eval.evaluate_run import evaluate_run

    images, annotations, pairs, _ = market_images
    before = sorted(p.name for p in market_preset.rglob("*"))
    report = evaluate_run(str(market_preset), pairs, images, annotations, str(tmp_path),
                          metrics=("ssim", "l1"))
    assert (tmp_path / "report.json").is_file() and report["run"]["run_dir"]
    assert sorted(p.name for p in market_preset.rglob("*")) == before


def test_adam_state_is_imported_and_stage1_continues(market_originals, market_import,
                                                     market_images, tmp_path):
    """The TF1 Adam moments land in our optimizers, and --stage=1 resumes the imported run."""
    import shutil

    import tensorflow as tf

    from dpig_tf import checkpoint as names
    from dpig_tf.models import factory
    from dpig_tf.training import optimizers
    from dpig_tf.training import run

    folder, _, _ = market_originals["stage1"]
    reader = tf.train.load_checkpoint(str(folder))
    cfg = config_io.read_saved_config(market_import / "config.yaml")
    encoder, generator = factory.build_encoder(cfg), factory.build_generator(cfg)
    g_opt = optimizers.adam(2e-5, 0.5, 0.999, 1e-8, 50_000, name=names.G_OPTIMIZER)
    g_opt.build(encoder.trainable_variables + generator.trainable_variables)
    tf.train.Checkpoint(**{names.ENCODER: encoder, names.GENERATOR: generator,
                           names.G_OPTIMIZER: g_opt}).restore(
        tf.train.latest_checkpoint(str(market_import / names.STAGE1_DIR))).expect_partial()
    index = g_opt._get_variable_index(generator.conv_out.kernel)
    assert np.array_equal(g_opt._momentums[index].numpy(),
                          reader.get_tensor("ID_AE/G/Conv_29/weights/Adam"))
    assert np.array_equal(g_opt._velocities[index].numpy(),
                          reader.get_tensor("ID_AE/G/Conv_29/weights/Adam_1"))
    assert int(g_opt.iterations.numpy()) == 999  # G updates after the step-999 save
    record = json.loads((market_import / "import.json").read_text())
    assert record["optimizer_state"] == ["d_optimizer", "g_optimizer", "pose_ae_optimizer"]

    copy = tmp_path / "run"
    shutil.copytree(market_import, copy)
    images, annotations, pairs, _ = market_images
    train_cfg = config_io.load_config("market", [
        f"model.base_channels={cfg.model.channels}", f"data.images={images}",
        f"data.annotations={annotations}", f"data.pairs={pairs}", "stage1.batch_size=2",
        "stage1.steps=1001", "stage1.pose_ae_steps=2001", "stage1.pose_ae_batch_size=2",
        "stage1.checkpoint_every=1", "stage1.log_every=1", "stage1.image_every=1000",
        "runtime.progress_bar=false"])
    run.train(train_cfg, 1, run_dir=str(copy))
    assert tf.train.latest_checkpoint(str(copy / names.STAGE1_DIR)).endswith("ckpt-1001")
    assert tf.train.latest_checkpoint(str(copy / names.POSE_AE_DIR)).endswith("ckpt-2001")


def test_import_command_writes_run_dir_and_preset(market_originals, tmp_path):
    folders = {k: v[0] for k, v in market_originals.items()}
    proc = subprocess.run(
        [sys.executable, "-m", "dpig_tf.tools.import_tf1", "--dataset=market",
         f"--stage1={folders['stage1']}", f"--pose_ae={folders['pose_ae']}",
         f"--stage2_app={folders['stage2_app']}", f"--stage2_pose={folders['stage2_pose']}",
         f"--out={tmp_path / 'run'}", f"--preset_out={tmp_path / 'preset'}"],
        capture_output=True, text=True, env=ENV)
    assert proc.returncode == 0, proc.stderr[-2000:]
    summary = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert {k: v["model_id"] for k, v in summary["imported"].items()} == {
        "stage1": 1, "pose_ae": 2, "stage2_app": 3, "stage2_pose": 4}
    assert (tmp_path / "run" / "import.json").is_file()
    assert presets.read_metadata(tmp_path / "preset")["has_stage2"] is True
