"""Run directories and image folders for tests of the inference object and the apps.

`write_untrained_run` writes a complete run directory (config.yaml + Stage-I
image GAN, pose auto-encoder and optionally Stage-II checkpoints, with the
object names of dpig_tf/checkpoint.py) from freshly initialised networks, so
loading and application plumbing is tested in seconds without training.
`write_images` writes PNG images with a PG2 annotation CSV.
"""

from __future__ import annotations

import pathlib

import numpy as np
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.data import keypoints_csv
from dpig_tf.models import factory


def write_untrained_run(cfg, run_dir, stage2: bool = True, seed: int = 0) -> pathlib.Path:
    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_io.dump_config(cfg, run_dir / names.CONFIG_FILE)
    tf.keras.utils.set_random_seed(seed)  # deterministic untrained weights
    stage1 = tf.train.Checkpoint(**{
        names.ENCODER: factory.build_encoder(cfg), names.GENERATOR: factory.build_generator(cfg),
        names.DISCRIMINATOR: factory.build_discriminator(cfg),
        names.STEP: tf.Variable(1, dtype=tf.int64)})
    stage1.save(str(run_dir / names.STAGE1_DIR / "ckpt"))
    pose = tf.train.Checkpoint(**{names.POSE_ENCODER: factory.build_pose_encoder(cfg),
                                  names.POSE_DECODER: factory.build_pose_decoder(cfg)})
    pose.save(str(run_dir / names.POSE_AE_DIR / "ckpt"))
    if stage2:
        maps = factory.build_mapping_networks(cfg)
        objs = {names.FG_MAPPING: maps["foreground"], names.POSE_MAPPING: maps["pose"]}
        if "background" in maps:
            objs[names.BG_MAPPING] = maps["background"]
        tf.train.Checkpoint(**objs).save(str(run_dir / names.STAGE2_DIR / "ckpt"))
    return run_dir


def write_images(cfg, folder, count: int = 4, seed: int = 0):
    """`count` PNG images with PG2-format annotations; returns (dir, csv, names)."""
    from PIL import Image

    folder = pathlib.Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    h, w = cfg.data.image_height, cfg.data.image_width
    rows = {}
    for i in range(count):
        name = f"{i:04d}_c1s1_{i:06d}_00.jpg"
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / "images" / name)
        kp = np.zeros((18, 3), np.float32)
        kp[:, 0] = np.linspace(2, h - 3, 18)
        kp[:, 1] = w // 2 + rng.integers(-2, 3, 18)
        kp[:, 2] = 1
        rows[name] = kp
    csv = folder / "annotations.csv"
    keypoints_csv.write_annotation_csv(str(csv), rows)
    return str(folder / "images"), str(csv), sorted(rows)
