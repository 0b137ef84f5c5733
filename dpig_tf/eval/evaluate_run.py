"""Evaluate a trained run on pose-guided transfer (SPEC 4.2, 5).

For every (from, to) row of a pairs CSV, the run's `DisentangledGenerator`
transfers the source image into the target's pose; the folders the original
testers wrote are recreated and scored:

  OUT/generated/%05d.png   G: transfer(source, source keypoints, target keypoints)
  OUT/targets/%05d.png     x_target: the real target image (uint8, as read)
  OUT/masks/%05d.png       pose mask x 255, mode L:
                             dpig: the SOURCE image's mask with the model's
                             mask radius (Market r7; SPEC 5.2: the testers'
                             `mask_fixed`);
                             patn: the TARGET image's r4 mask (PATN masks with
                             target keypoints; our limb-disk mask of SPEC 1.5 at
                             radius 4 stands in for PATN's `produce_ma_mask`
                             polygons, so patn mask metrics are close to, not
                             identical with, PATN's)
                           gfla / cfld: as patn (GFLA's mask-LPIPS uses the
                           target keypoints' `produce_ma_mask`)
  OUT/target_keypoints.csv PG2 annotation CSV of the target files (%05d.png; the
                           known target keypoints PCKh is measured against)
  OUT/pairs.csv            index,from,to of every written image
  OUT/report.json          `score_folders` report + run_dir / pairs / images
  RUN/metrics.jsonl        one appended line {"phase": "evaluate", "step": Stage-I
                           step, "protocol", "num_images", "out_dir", <metrics>}

Generated images are converted like the original `denorm_img` + save:
uint8(clip((g + 1) * 127.5, 0, 255)) (truncation). Every pair of the CSV is
generated once, in file order (the original sampled 19,200 Market images with
repeats from a shuffled queue; SPEC 4.2).

CLI: `python -m dpig_tf.main --mode=evaluate --run_dir=RUN --pairs=CSV --out=DIR
[--images=DIR --annotations=CSV --metrics=...|all --protocol=dpig|patn|gfla|cfld
--lpips_weights=NPZ --gfla_inception_weights=PTH --fid_reals=DIR]`.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
from PIL import Image

from dpig_tf.data import pipeline
from dpig_tf.errors import UsageError
from dpig_tf.eval import image_folder
from dpig_tf.eval import registry
from dpig_tf.eval import score
from dpig_tf.pretrained import presets

GENERATED_DIR = "generated"
TARGETS_DIR = "targets"
MASKS_DIR = "masks"
PAIRS_FILE = "pairs.csv"
TARGET_KEYPOINTS_FILE = "target_keypoints.csv"
REPORT_FILE = "report.json"
PATN_MASK_RADIUS = 4
DEFAULT_METRICS = ("ssim", "mask_ssim", "psnr", "l1")


def to_uint8(images) -> np.ndarray:
    """Generator output in ~[-1, 1] -> uint8 as the original denorm_img + save."""
    return np.clip((np.asarray(images, np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)


def _prepare_outputs(out_dir: str) -> dict[str, str]:
    dirs = {role: os.path.join(out_dir, role) for role in (GENERATED_DIR, TARGETS_DIR, MASKS_DIR)}
    for role, path in dirs.items():
        if os.path.isdir(path) and any(
                os.path.splitext(n)[1].lower() in image_folder.IMAGE_EXTENSIONS
                for n in os.listdir(path)):
            raise UsageError(f"{path} already holds images of an earlier evaluation; "
                             "choose a new --out (results are never overwritten)")
        os.makedirs(path, exist_ok=True)
    return dirs


def _load_network_image(path: str, height: int, width: int, pad_to: int):
    """(H, W, 3) uint8 at the network size and the left pad (DeepFashion 176 -> 256)."""
    image = image_folder.load_rgb(path)
    h, w = image.shape[:2]
    if (h, w) == (height, width):
        return image, 0
    if pad_to and pad_to == width and h == height and w < pad_to:
        left = (pad_to - w) // 2
        padded = np.pad(image, ((0, 0), (left, pad_to - w - left), (0, 0)), constant_values=255)
        return padded, left
    raise image_folder.ImageFolderError(
        f"{path}: size {w}x{h}, but the run's model takes {width}x{height} images")


def _shift_columns(keypoints: np.ndarray, left: int) -> np.ndarray:
    kp = keypoints.copy()
    visible = kp[:, 2] > 0.5
    kp[:, 1] = np.where(visible, kp[:, 1] + left, 0)
    return kp


def generate_pairs(model, pairs, annotations, images_dir, dirs, protocol, pad_to=0,
                   batch_size=16):
    """Write generated / target / mask images for every pair; returns the rows written.

    `pad_to`: the config's `data.pad_width_to` (narrower images padded with white).
    """
    import tensorflow as tf

    from dpig_tf.data import pose

    height, width = model.image_height, model.image_width
    rows = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        sources, targets, kp_src, kp_tgt = [], [], [], []
        for src_name, tgt_name in chunk:
            src, left_s = _load_network_image(os.path.join(images_dir, src_name), height,
                                              width, pad_to)
            tgt, left_t = _load_network_image(os.path.join(images_dir, tgt_name), height,
                                              width, pad_to)
            sources.append(src)
            targets.append(tgt)
            kp_src.append(_shift_columns(annotations[src_name], left_s))
            kp_tgt.append(_shift_columns(annotations[tgt_name], left_t))
        src_batch = np.stack(sources).astype(np.float32) / 127.5 - 1.0
        generated = model.transfer(tf.constant(src_batch), tf.constant(np.stack(kp_src)),
                                   tf.constant(np.stack(kp_tgt)))
        generated = to_uint8(generated)
        for i, (src_name, tgt_name) in enumerate(chunk):
            index = start + i
            if protocol == "dpig":
                mask = pose.pose_mask(kp_src[i], height, width, model.mask_radius)
            else:
                mask = pose.pose_mask(kp_tgt[i], height, width, PATN_MASK_RADIUS)
            name = f"{index:05d}.png"
            Image.fromarray(generated[i]).save(os.path.join(dirs[GENERATED_DIR], name))
            Image.fromarray(targets[i]).save(os.path.join(dirs[TARGETS_DIR], name))
            Image.fromarray((mask > 0).astype(np.uint8) * 255, "L").save(
                os.path.join(dirs[MASKS_DIR], name))
            rows.append((index, src_name, tgt_name, kp_tgt[i]))
    return rows


def _stage1_step(run_dir) -> int:
    """The Stage-I training step stored in the run's latest checkpoint (0 if absent)."""
    import tensorflow as tf

    from dpig_tf import checkpoint as names

    path = tf.train.latest_checkpoint(os.path.join(str(run_dir), names.STAGE1_DIR))
    try:
        return int(tf.train.load_variable(path, f"{names.STEP}/.ATTRIBUTES/VARIABLE_VALUE"))
    except (ValueError, TypeError, tf.errors.OpError):
        return 0


def append_run_metrics(run_dir, report: dict, out_dir: str) -> None:
    """Append the evaluation to RUN/metrics.jsonl (the run's metric log, one JSON per line)."""
    from dpig_tf import checkpoint as names

    record = {"phase": "evaluate", "step": _stage1_step(run_dir), "time": round(time.time(), 3),
              "protocol": report["protocol"], "num_images": report["num_images"],
              "out_dir": os.path.abspath(out_dir), **report["metrics"]}
    with open(os.path.join(str(run_dir), names.METRICS_FILE), "a") as f:
        f.write(json.dumps(record) + "\n")


def evaluate_run(run_dir, pairs_csv, images_dir, annotations_csv, out_dir,
                 metrics=DEFAULT_METRICS, protocol="dpig", inception_graph=None,
                 fid_weights=None, batch_size: int = 16, splits: int = 10,
                 max_pairs: int | None = None, lpips_weights=None,
                 gfla_inception_weights=None, fid_reals=None, pose_graph=None,
                 progress: bool = False) -> dict:
    """Generate the test pairs of a run and score them; writes OUT/report.json.

    Args:
        run_dir: trained run directory (config.yaml + checkpoints).
        pairs_csv: PG2 pairs CSV (`from,to`).
        images_dir, annotations_csv: the images and their PG2 keypoint CSV
            (None: the run config's test split).
        out_dir: output folder (must not already hold generated images).
        metrics, protocol, inception_graph, fid_weights, splits, lpips_weights,
            gfla_inception_weights, fid_reals, pose_graph: see `score.score_folders`
            (metrics may be "all": every metric of the protocol). PCKh is measured
            against the known target keypoints (OUT/target_keypoints.csv).
        batch_size: generation batch size.
        max_pairs: only the first `max_pairs` pairs (None: all).
        progress: progress bars on the long metrics (LPIPS, GFLA FID, PCKh).

    Returns:
        The report dict (also written to OUT/report.json and appended to
        RUN/metrics.jsonl).
    """
    from dpig_tf.data import keypoints_csv
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    if protocol not in registry.PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; expected one of {registry.PROTOCOLS}")
    if metrics == "all" or list(metrics) == ["all"]:
        metrics = registry.protocol_metrics(protocol, with_masks=True)
    metrics = registry.check_metrics(metrics)
    score.check_model_files(metrics, inception_graph, fid_weights, lpips_weights,
                            gfla_inception_weights, pose_graph)
    pairs = keypoints_csv.read_pairs_csv(pairs_csv)
    if max_pairs is not None:
        pairs = pairs[:max_pairs]
    if not pairs:
        raise UsageError(f"{pairs_csv}: no pairs to evaluate")
    model = DisentangledGenerator.from_run_dir(run_dir)
    images_dir, annotations_csv = pipeline.images_and_annotations(
        model.config.data, "test", images_dir, annotations_csv)
    annotations = keypoints_csv.read_annotation_csv(annotations_csv)
    unannotated = sorted({n for pair in pairs for n in pair if n not in annotations})
    if unannotated:
        raise UsageError(f"{pairs_csv}: {len(unannotated)} image(s) of the pairs have no "
                         f"keypoints in {annotations_csv}: {', '.join(unannotated[:10])}")
    missing = sorted({n for pair in pairs for n in pair
                      if not os.path.isfile(os.path.join(images_dir, n))})
    if missing:
        raise image_folder.ImageFolderError(
            f"{len(missing)} image(s) of {pairs_csv} not found in {images_dir}: "
            f"{', '.join(missing[:10])}")

    dirs = _prepare_outputs(out_dir)
    rows = generate_pairs(model, pairs, annotations, images_dir, dirs, protocol,
                          model.config.data.pad_width_to, batch_size)
    with open(os.path.join(out_dir, PAIRS_FILE), "w") as f:
        f.write("index,from,to\n")
        f.writelines(f"{i:05d},{a},{b}\n" for i, a, b, _ in rows)
    target_kp_csv = os.path.join(out_dir, TARGET_KEYPOINTS_FILE)
    keypoints_csv.write_annotation_csv(target_kp_csv, {f"{i:05d}.png": kp for i, _, _, kp in rows})
    report = score.score_folders(dirs[GENERATED_DIR], dirs[TARGETS_DIR], dirs[MASKS_DIR],
                                 protocol, metrics, inception_graph, fid_weights,
                                 splits=splits, lpips_weights=lpips_weights,
                                 gfla_inception_weights=gfla_inception_weights,
                                 fid_reals=fid_reals, target_keypoints=target_kp_csv,
                                 pose_graph=pose_graph, progress=progress)
    report["run"] = {"run_dir": os.path.abspath(str(run_dir)),
                     "pairs_csv": os.path.abspath(pairs_csv),
                     "images_dir": os.path.abspath(images_dir),
                     "annotations_csv": os.path.abspath(annotations_csv),
                     "mask": (f"source pose mask r{model.mask_radius}" if protocol == "dpig"
                              else f"target pose mask r{PATN_MASK_RADIUS}")}
    score.write_report(report, os.path.join(out_dir, REPORT_FILE))
    if not presets.is_preset(run_dir):  # a preset folder is read-only input
        append_run_metrics(run_dir, report, out_dir)
    return report


if __name__ == "__main__":  # python -m dpig_tf.eval.evaluate_run: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("evaluate")
