"""The TF1 importer computes the original functions: parity with the rebuilt original graphs.

Each original model (Market 1-4, DeepFashion 101-102) is rebuilt in a tf.compat.v1 graph
with tf-slim (dpig_tf/testing/tf1_reference.py), initialised randomly, run and saved with
tf.compat.v1.train.Saver; the import must give the same embeddings, images, logits and
codes (max abs difference <= 1e-4).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.models import factory
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.models.disentangled_generator import restore_networks
from dpig_tf.pretrained.tf1_import import IMPORT_FILE
from dpig_tf.pretrained.tf1_import import ImportSources
from dpig_tf.pretrained.tf1_import import import_tf1
from tests.pretrained.conftest import WIDTH
from tests.pretrained.conftest import stage1_inputs

TOLERANCE = 1e-4
ENCODER_KEYS = ("image", "pose_mask", "roi_boxes", "roi_vis")


def _max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))))


def _stage1_parity(run, inputs, values):
    model = DisentangledGenerator.from_run_dir(run)
    embedding = model.encoder({k: inputs[k] for k in ENCODER_KEYS}).numpy()
    generated = model.generator([embedding, inputs["heatmaps"]]).numpy()
    cfg = config_io.read_saved_config(run / names.CONFIG_FILE)
    discriminator = factory.build_discriminator(cfg)
    restore_networks(run / names.STAGE1_DIR, "Stage-I", {names.DISCRIMINATOR: discriminator})
    logits = discriminator(inputs["image"]).numpy()
    assert _max_diff(embedding, values["embedding"]) <= TOLERANCE
    assert _max_diff(generated, values["generated"]) <= TOLERANCE
    assert _max_diff(logits, values["d_logits"]) <= TOLERANCE
    assert np.abs(values["generated"]).max() > 0.1  # a real image, not an all-zero output
    return cfg


def test_market_model_1_encoder_generator_discriminator(market_originals, market_import):
    _, inputs, values = market_originals["stage1"]
    cfg = _stage1_parity(market_import, inputs, values)
    assert cfg.model.channels == WIDTH and cfg.data.dataset == "market"
    assert values["embedding"].shape == (2, 352)


def test_market_model_2_pose_autoencoder(market_originals, market_import):
    _, inputs, values = market_originals["pose_ae"]
    model = DisentangledGenerator.from_run_dir(market_import)
    code = model.pose_encoder(inputs["pose_vector"]).numpy()
    assert _max_diff(code, values["pose_code"]) <= TOLERANCE
    decoded = model.pose_decoder(values["pose_code"]).numpy()
    assert _max_diff(decoded, values["pose_vector_out"]) <= TOLERANCE


@pytest.mark.parametrize("kind,factors", [("stage2_app", ("fg", "bg")),
                                          ("stage2_pose", ("pose",))])
def test_market_models_3_and_4_mapping_networks_and_critics(market_originals, market_import,
                                                            kind, factors):
    _, inputs, values = market_originals[kind]
    cfg = config_io.read_saved_config(market_import / names.CONFIG_FILE)
    critics = factory.build_critics(cfg)
    full = {"fg": "foreground", "bg": "background", "pose": "pose"}
    restore_networks(market_import / names.STAGE2_DIR, "Stage-II critics",
                     {f"{f}_critic": critics[full[f]] for f in factors})
    model = DisentangledGenerator.from_run_dir(market_import, require_stage2=True)
    for f in factors:
        code = model.mapping(full[f])(inputs[f"noise_{f}"]).numpy()
        assert _max_diff(code, values[f"{f}_code"]) <= TOLERANCE
        critic = critics[full[f]](values[f"{f}_code"]).numpy().reshape(-1)
        assert _max_diff(critic, values[f"{f}_critic"]) <= TOLERANCE


def test_import_record_and_steps(market_originals, market_import):
    record = json.loads((market_import / IMPORT_FILE).read_text())
    assert record["dataset"] == "market"
    assert {k: s["model_id"] for k, s in record["sources"].items()} == {
        "stage1": 1, "pose_ae": 2, "stage2_app": 3, "stage2_pose": 4}
    stage1 = record["sources"]["stage1"]
    assert stage1["step"] == 999 and len(stage1["sha256"]) == 2  # .index + one data shard
    assert all(len(h) == 64 for h in stage1["sha256"].values())
    # Optimizer slots and counters were recognised and skipped, not imported.
    assert stage1["skipped_variables"] > stage1["imported_variables"]
    import tensorflow as tf

    assert tf.train.latest_checkpoint(str(market_import / names.STAGE1_DIR)).endswith("ckpt-1000")


def test_deepfashion_model_101_reduced_width(deepfashion_stage1, tmp_path):
    sources = ImportSources(stage1=str(deepfashion_stage1["stage1"][0]),
                            pose_ae=str(deepfashion_stage1["pose_ae"][0]))
    run = tmp_path / "df"
    import_tf1("deepfashion", sources, str(run))
    _, inputs, values = deepfashion_stage1["stage1"]
    cfg = _stage1_parity(run, inputs, values)
    assert cfg.model.discriminator_head == "channel_chunks" and not cfg.model.background
    assert values["d_logits"].shape == (2, 8) and values["embedding"].shape == (2, 224)
    _, pose, pose_values = deepfashion_stage1["pose_ae"]
    model = DisentangledGenerator.from_run_dir(run)
    assert _max_diff(model.pose_encoder(pose["pose_vector"]), pose_values["pose_code"]) <= TOLERANCE


@pytest.mark.large
def test_market_full_width_parity(tmp_path):
    """The paper's Market Stage I (n = 128, 118.6 M parameters in E + G)."""
    from dpig_tf.testing import tf1_reference

    inputs = stage1_inputs(128, 64, seed=7)
    values = tf1_reference.build_and_save("stage1", "market", tmp_path / "1", inputs, seed=7)
    run = tmp_path / "run"
    import_tf1("market", ImportSources(stage1=str(tmp_path / "1")), str(run))
    cfg = config_io.read_saved_config(run / names.CONFIG_FILE)
    assert factory.trainable_count(factory.build_generator(cfg)) == 71_197_123
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=False)
    restore_networks(run / names.STAGE1_DIR, "Stage-I",
                     {names.ENCODER: model.encoder, names.GENERATOR: model.generator})
    embedding = model.encoder({k: inputs[k] for k in ENCODER_KEYS}).numpy()
    generated = model.generator([embedding, inputs["heatmaps"]]).numpy()
    assert _max_diff(embedding, values["embedding"]) <= TOLERANCE
    assert _max_diff(generated, values["generated"]) <= TOLERANCE
