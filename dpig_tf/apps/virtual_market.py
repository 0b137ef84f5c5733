"""VirtualMarket: a Market-1501-style re-ID dataset of generated identities.

Per identity one sampled foreground Phi_F(z) (the identity's clothes and
body), per image a new sampled background Phi_B(z_i) and a pose: a random real
training pose (`--pose_source=real`, from `--annotations` or the run's
`data.annotations`) or a sampled one (decoder(Phi_P(z))). With
`--candidates=K` each identity gets K candidates and keeps the `per_id` with
the highest Stage-I discriminator score (the released 500x24 set was
presumably selected this way; the rule is not in the original code).

Writes `OUT/bounding_box_train/%04d_c1s1_%06d_%02d.jpg` (identity from 1,
global image index, rank within the identity) and `OUT/summary.json`.

Reference: SPEC.md 4.4.
"""

from __future__ import annotations

import json
import pathlib

import numpy as np
import tensorflow as tf
from PIL import Image

from dpig_tf import checkpoint as names
from dpig_tf.apps import common
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pipeline
from dpig_tf.errors import UsageError
from dpig_tf.models import factory
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND
from dpig_tf.models.disentangled_generator import POSE
from dpig_tf.models.disentangled_generator import restore_networks
from dpig_tf.pretrained import presets

FOLDER = "bounding_box_train"


def _real_poses(opts, model) -> np.ndarray:
    csv = opts.annotations
    if not csv:  # the training poses of the run's dataset
        _, csv = pipeline.images_and_annotations(model.config.data, "train")
    if not pathlib.Path(csv).is_file():
        raise UsageError(f"--pose_source=real needs --annotations (a PG2 keypoint CSV); "
                         f"{csv!r} not found")
    rows = keypoints_csv.read_annotation_csv(csv)
    poses = [rcv for rcv in rows.values() if (rcv[:, 2] > 0).sum() >= 2]
    if not poses:
        raise UsageError(f"{csv}: no pose with at least 2 visible joints")
    return np.stack(poses).astype(np.float32)


def run(opts) -> dict:
    model = common.load_model(opts, require_stage2=True)
    out = common.out_dir(opts)
    folder = out / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    ranking = opts.candidates > 0
    if ranking and opts.candidates < opts.per_id:
        raise UsageError(f"--candidates={opts.candidates} must be >= --per_id={opts.per_id}")
    per_id_generated = opts.candidates if ranking else opts.per_id
    discriminator = None
    if ranking:
        discriminator = factory.build_discriminator(model.config)
        if presets.is_preset(opts.run_dir):
            presets.load_network_weights(opts.run_dir, names.DISCRIMINATOR, discriminator,
                                         presets.read_metadata(opts.run_dir))
        else:
            restore_networks(pathlib.Path(opts.run_dir) / names.STAGE1_DIR,
                             "Stage-I discriminator", {names.DISCRIMINATOR: discriminator})
    poses = _real_poses(opts, model) if opts.pose_source == "real" else None
    rng = np.random.default_rng(opts.seed)
    records, index = [], 0
    for identity in range(opts.num_ids):
        seed = opts.seed * 10007 + identity
        n = per_id_generated
        noise = {FOREGROUND: tf.repeat(model.noise(seed, 1, FOREGROUND), n, axis=0)}
        if model.has_background:
            noise[BACKGROUND] = model.noise(seed, n, BACKGROUND)
        if poses is None:
            noise[POSE] = model.noise(seed, n, POSE)
            keypoints = None
        else:
            keypoints = poses[rng.integers(0, len(poses), n)]

        def generate(start, m):
            z = {f: v[start:start + m] for f, v in noise.items()}
            codes = model.sample_codes(noise=z)
            kp = (model.decode_pose_code(codes[POSE]) if keypoints is None
                  else keypoints[start:start + m])
            return model.decode(codes[FOREGROUND], codes.get(BACKGROUND), kp)

        images = common.batched(generate, n, opts.batch_size)
        scores = None
        if discriminator is not None:
            logits = common.batched(
                lambda s, m: discriminator(images[s:s + m], training=False), n, opts.batch_size)
            scores = logits.reshape(n, -1).mean(axis=1)
            keep = np.argsort(-scores, kind="stable")[:opts.per_id]
        else:
            keep = np.arange(opts.per_id)
        pixels = common.to_uint8(images)
        for rank, k in enumerate(keep):
            name = f"{identity + 1:04d}_c1s1_{index:06d}_{rank:02d}.jpg"
            Image.fromarray(pixels[k]).save(folder / name, quality=95)
            rec = {"file": f"{FOLDER}/{name}", "identity": identity + 1}
            if scores is not None:
                rec["d_score"] = float(scores[k])
            records.append(rec)
            index += 1
    summary = {"mode": "virtual_market", "num_ids": opts.num_ids, "per_id": opts.per_id,
               "candidates": opts.candidates, "pose_source": opts.pose_source,
               "seed": opts.seed, "num_images": len(records), "folder": str(folder),
               "run_dir": str(opts.run_dir)}
    if ranking:
        summary["mean_d_score"] = float(np.mean([r["d_score"] for r in records]))
    (out / "summary.json").write_text(json.dumps(dict(summary, images=records), indent=1))
    summary["summary_json"] = str(out / "summary.json")
    return summary


if __name__ == "__main__":  # python -m dpig_tf.apps.virtual_market: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("virtual_market")
