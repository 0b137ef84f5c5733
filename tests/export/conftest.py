"""A tiny run directory to export, shared by the export tests.

The run dir has the layout of a trained run (RUN/config.yaml and the
checkpoints named by dpig_tf/checkpoint.py). Its weights come from the real
training loop (`dpig_tf.training.run.train`, 2 tiny steps per stage) when that
is available; otherwise the inference networks are built from
configs/tiny.yaml and checkpointed under the same names. The biases are set to
small random values so that parity checks see non-trivial activations.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf.config_io import dump_config
from dpig_tf.config_io import load_config


def build_run_dir(run_dir: pathlib.Path, config: str = "tiny", stage2: bool = True,
                  overrides=(), seed: int = 0) -> pathlib.Path:
    """Writes RUN/config.yaml + Stage-I, pose-AE (and Stage-II) checkpoints."""
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    run_dir.mkdir(parents=True, exist_ok=True)
    data_dir = run_dir.parent / "tiny_data"
    paths = [f"data.{p}{k}=" for p in ("", "test_") for k in ("images", "annotations", "pairs")]
    cfg = load_config(config, [f"data.demo_dir={data_dir}", *paths, *overrides])
    tf.keras.utils.set_random_seed(seed)
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=stage2)
    rng = np.random.default_rng(seed)
    for v in model.weights:
        if v.path.endswith("bias"):
            v.assign(rng.normal(0.0, 0.05, v.shape).astype(np.float32))
    dump_config(cfg, run_dir / names.CONFIG_FILE)
    groups = {names.STAGE1_DIR: {names.ENCODER: model.encoder, names.GENERATOR: model.generator},
              names.POSE_AE_DIR: {names.POSE_ENCODER: model.pose_encoder,
                                  names.POSE_DECODER: model.pose_decoder}}
    if stage2:
        groups[names.STAGE2_DIR] = {names.FG_MAPPING: model.fg_mapping,
                                    names.BG_MAPPING: model.bg_mapping,
                                    names.POSE_MAPPING: model.pose_mapping}
    for sub, nets in groups.items():
        ckpt = tf.train.Checkpoint(**nets)
        tf.train.CheckpointManager(ckpt, str(run_dir / sub), max_to_keep=1).save()
    return run_dir


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> pathlib.Path:
    return build_run_dir(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="session")
def stage1_run_dir(tmp_path_factory) -> pathlib.Path:
    return build_run_dir(tmp_path_factory.mktemp("export_s1") / "run", stage2=False)
