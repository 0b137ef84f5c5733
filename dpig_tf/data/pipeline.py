"""`build_dataset`: images + keypoint CSVs -> batched feature dicts (features.py).

Indexing happens once in Python: the annotation CSV defines the examples; each
image is opened and fully decoded with PIL to catch missing, corrupt,
truncated, unsupported or wrongly sized files with an error naming the file
(or, with `data.on_bad_example=skip`, a counted and logged skip). TensorFlow
then only reads files that are known to decode. Heatmaps, pose masks, ROI boxes
and pose vectors are computed per batch in-graph by `pose_tf` (equal to the
NumPy references of `pose.py`).

Choices (documented deviations / interpretations):
- Training images are sampled with frequency proportional to their number of
  partners in the pairs CSV (rows with the image as `from`), as the original
  trains on the `image_raw_0` of every pair (SPEC 1.3). Without a pairs CSV,
  and for the test split, every image is used once per epoch.
- `paired=True` iterates the pairs CSV rows (from -> `target_*`).
- Shuffling permutes example indices (a full, seeded shuffle per epoch), so
  no shuffle buffer is needed; ordering is deterministic given `seed`.
- DeepFashion 256x176 (PATN) images are padded left and right with white to
  `data.pad_width_to` (40 px each side for 176 -> 256); keypoint columns shift
  by the left pad. Identities are indices of the sorted identity keys of the
  split (`deepfashion_identity`: `name.split('_')[0]`, or up to the `id`
  digits for PATN names whose category contains '_'); the camera is -1.
- Market (and the demo dataset, which is Market format): ID = int(name[0:4]),
  camera = int(name[6]); junk `-1_*` and distractor `0000_*` rows are skipped.
- Keypoints outside the image are clipped to it and counted in the log.
- When repeating, batches drop the remainder (static batch shape); a single
  pass (`repeat=False`) keeps the final partial batch.
- `data.cache` keeps the decoded images in memory (decoded once by TF).
- `data.tfrecord` (written by `dpig_tf.data.tfrecord`) replaces the image
  folder and annotation CSV of the train split; a `{split}` placeholder in the
  path selects a file per split. The pairs CSV still applies.

Reference: SPEC.md section 1 (data rules), docs/ARCHITECTURE.md (contract).
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import io
import logging
import os
import re

import numpy as np
import tensorflow as tf
from PIL import Image

from dpig_tf.data import features as F
from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pose_tf
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError

SPLITS = ("train", "test")
# Formats both PIL (validation) and tf.io.decode_image (reading) handle.
DECODABLE_FORMATS = ("JPEG", "PNG", "BMP", "GIF")

_log = logging.getLogger(__name__)


@dataclasses.dataclass
class ExampleIndex:
    """The validated examples of one split.

    Args:
        names: image file names, sorted.
        sources: file paths, or encoded image bytes (TFRecord input).
        keypoints: (N, 18, 3) float32 RCV in network-image pixels (after padding).
        identity, camera: (N,) int32.
        pad: (N, 2) int32 left/right white padding of each image.
        pairs: (P, 2) int32 indices of the pairs CSV rows (P = 0 without one).
        skipped: reason -> count of examples left out.
        clipped: number of keypoints clipped into the image.
    """

    names: list
    sources: list
    keypoints: np.ndarray
    identity: np.ndarray
    camera: np.ndarray
    pad: np.ndarray
    pairs: np.ndarray
    skipped: dict
    clipped: int

    def __len__(self) -> int:
        return len(self.names)


def split_paths(data_cfg, split: str) -> dict[str, str]:
    """The images / annotations / pairs / tfrecord inputs of a split (demo defaults filled)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    prefix = "" if split == "train" else "test_"
    paths = {key: getattr(data_cfg, prefix + key) for key in ("images", "annotations", "pairs")}
    if data_cfg.dataset == "demo":
        root = data_cfg.demo_dir
        defaults = {"images": os.path.join(root, f"bounding_box_{split}"),
                    "annotations": os.path.join(root, f"demo-annotation-{split}.csv"),
                    "pairs": os.path.join(root, f"demo-pairs-{split}.csv")}
        paths = {k: v or defaults[k] for k, v in paths.items()}
    tfrecord = data_cfg.tfrecord
    if tfrecord and "{split}" in tfrecord:
        tfrecord = tfrecord.replace("{split}", split)
    elif split != "train":
        tfrecord = ""
    paths["tfrecord"] = tfrecord
    return paths


def _render_demo_if_needed(data_cfg) -> None:
    if data_cfg.dataset == "demo":
        from dpig_tf.data import synthetic

        synthetic.ensure_demo_dataset(data_cfg)


def images_and_annotations(data_cfg, split: str, images: str | None = None,
                           annotations: str | None = None) -> tuple[str, str]:
    """The given image folder and annotation CSV, else the config's files for `split`.

    What the applications and the evaluation read when --images/--annotations are not
    given: the run's own split (the demo dataset is rendered first if needed). Raises
    ValueError naming the flags when neither source has them.
    """
    if images and annotations:
        return images, annotations
    _render_demo_if_needed(data_cfg)
    paths = split_paths(data_cfg, split)
    images, annotations = images or paths["images"], annotations or paths["annotations"]
    if not images or not annotations:
        prefix = "data." + ("" if split == "train" else "test_")
        raise UsageError(f"give --images (folder) and --annotations (PG2 keypoint CSV): the "
                         f"run's config has no {prefix}images / {prefix}annotations")
    return images, annotations


def build_index(data_cfg, split: str) -> ExampleIndex:
    """Reads and validates the examples of a split (see the module docstring)."""
    _render_demo_if_needed(data_cfg)
    paths = split_paths(data_cfg, split)
    prefix = "data." + ("" if split == "train" else "test_")
    if data_cfg.pad_width_to and data_cfg.pad_width_to != data_cfg.image_width:
        raise DataError(f"data.pad_width_to={data_cfg.pad_width_to} must equal "
                        f"data.image_width={data_cfg.image_width} (images are padded to "
                        "the network width) or be 0")
    skip = data_cfg.on_bad_example == "skip"
    skipped: dict[str, int] = {}

    if paths["tfrecord"]:
        from dpig_tf.data import tfrecord as tfrecord_lib

        records = tfrecord_lib.read_records(paths["tfrecord"])
        rows = [(name, raw, rcv, f"{paths['tfrecord']} (record {i})")
                for i, (name, raw, rcv) in enumerate(records)]
    else:
        for key in ("images", "annotations"):
            if not paths[key]:
                raise DataError(f"{prefix}{key} is not set; the {split} split needs an image "
                                "folder and an annotation CSV")
        if not os.path.isdir(paths["images"]):
            raise DataError(f"image folder not found (set by {prefix}images)", paths["images"])
        table = keypoints_csv.read_annotation_csv_with_lines(paths["annotations"])
        rows = [(name, os.path.join(paths["images"], name), rcv,
                 f"{paths['annotations']}:{line}") for name, (rcv, line) in table.items()]
    rows.sort(key=lambda row: row[0])

    # Identity and camera from the file name.
    parsed = []
    for name, source, rcv, where in rows:
        if data_cfg.dataset in ("market", "demo"):
            if name.startswith("-1") or name.startswith("0000"):
                skipped["junk or distractor (-1_*, 0000_*)"] = (
                    skipped.get("junk or distractor (-1_*, 0000_*)", 0) + 1)
                continue
            try:
                pid, cam = market_identity_camera(name)
            except (ValueError, IndexError):
                raise DataError(f"image name {name!r} is not a Market-1501 name "
                                "(expected e.g. 0002_c1s1_000451_03.jpg: ID = name[0:4], "
                                "camera = name[6])", where) from None
        else:
            pid, cam = deepfashion_identity(name), -1
        parsed.append((name, source, rcv, where, pid, cam))

    checks = _validate_images(parsed, data_cfg)
    kept, clipped = [], 0
    for (name, source, rcv, where, pid, cam), (problem, pad) in zip(parsed, checks):
        if problem is not None:
            kind, message = problem
            if kind == "size" or not skip:
                raise DataError(message, _display(source, name, paths), None)
            skipped[kind] = skipped.get(kind, 0) + 1
            _log.warning("skipping %s: %s", _display(source, name, paths), message)
            continue
        rcv = np.array(rcv, np.float32)
        vis = rcv[:, 2] > 0.5
        rcv[:, 1] = np.where(vis, rcv[:, 1] + pad[0], 0)
        rcv, n = kp_lib.clip_to_image(rcv, data_cfg.image_height, data_cfg.image_width)
        clipped += n
        kept.append((name, source, rcv, pid, cam, pad))
    if clipped:
        _log.warning("%s split: %d keypoint(s) outside the image were clipped", split, clipped)
    for reason, count in skipped.items():
        _log.warning("%s split: skipped %d example(s): %s", split, count, reason)
    if not kept:
        raise DataError(f"no usable examples in the {split} split",
                        paths["tfrecord"] or paths["annotations"])

    names = [k[0] for k in kept]
    if data_cfg.dataset == "deepfashion":
        ids = {p: i for i, p in enumerate(sorted({k[3] for k in kept}))}
        identity = np.array([ids[k[3]] for k in kept], np.int32)
    else:
        identity = np.array([k[3] for k in kept], np.int32)
    pairs = _read_pairs(paths["pairs"], names, {r[0] for r in rows}, skipped)
    return ExampleIndex(
        names=names, sources=[k[1] for k in kept],
        keypoints=np.stack([k[2] for k in kept]).astype(np.float32),
        identity=identity, camera=np.array([k[4] for k in kept], np.int32),
        pad=np.array([k[5] for k in kept], np.int32).reshape(-1, 2),
        pairs=pairs, skipped=skipped, clipped=clipped)


def market_identity_camera(name: str) -> tuple[int, int]:
    """Market-1501 ID = int(name[0:4]), camera = int(name[6]) (SPEC 1.1)."""
    return int(name[0:4]), int(name[6])


_PATN_DF_NAME = re.compile(r"(fashion.*?id\d{8,})_")


def deepfashion_identity(name: str) -> str:
    """The DeepFashion identity key of an image name.

    SPEC 1.1: name.split('_')[0]. PATN names put the category before the id
    and some categories contain '_' (`fashionWOMENBlouses_Shirtsid0000035501_
    1front.jpg`), where split('_')[0] would merge every item of the category;
    for those the key runs up to the `id` digits instead (equal to
    split('_')[0] whenever the category has no '_').
    """
    match = _PATN_DF_NAME.match(name)
    return match.group(1) if match else name.split("_")[0]


def _display(source, name, paths) -> str:
    if isinstance(source, bytes):
        return f"{paths['tfrecord']} (image {name})"
    return source


def _read_pairs(path: str, names: list, annotated: set, skipped: dict) -> np.ndarray:
    if not path:
        return np.zeros((0, 2), np.int32)
    position = {n: i for i, n in enumerate(names)}
    out = []
    for a, b, line in keypoints_csv.read_pairs_csv_with_lines(path):
        for n in (a, b):
            if n not in annotated:
                raise DataError(f"pair image {n!r} has no row in the annotation CSV", path, line)
        if a in position and b in position:
            out.append((position[a], position[b]))
        else:
            skipped["pair with a skipped image"] = skipped.get("pair with a skipped image", 0) + 1
    return np.array(out, np.int32).reshape(-1, 2)


def _validate_images(parsed, data_cfg):
    """Per example: ((kind, message) or None, (pad_left, pad_right))."""
    height, width, pad_to = data_cfg.image_height, data_cfg.image_width, data_cfg.pad_width_to

    def check(item):
        name, source = item[0], item[1]
        try:
            if isinstance(source, bytes):
                handle = io.BytesIO(source)
            elif not os.path.isfile(source):
                return ("missing", "image file not found"), (0, 0)
            else:
                handle = source
            with Image.open(handle) as img:
                fmt = img.format
                img.load()  # decodes everything: catches corrupt and truncated files
                w, h = img.size
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            return ("corrupt", f"cannot decode the image ({err})"), (0, 0)
        if fmt not in DECODABLE_FORMATS:
            return ("corrupt", f"unsupported image format {fmt}; expected one of "
                               f"{', '.join(DECODABLE_FORMATS)}"), (0, 0)
        if h == height and w == width:
            return None, (0, 0)
        if pad_to and pad_to == width and h == height and w < pad_to:
            left = (pad_to - w) // 2
            return None, (left, pad_to - w - left)
        expected = f"{height}x{width} (HxW)"
        if pad_to:
            expected += (f", or {height} high and at most {pad_to} wide "
                         "(padded by data.pad_width_to)")
        return ("size", f"image is {h}x{w} (HxW); expected {expected}"), (0, 0)

    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(check, parsed))


def _decode(source, pad, height: int, width: int, from_bytes: bool):
    raw = source if from_bytes else tf.io.read_file(source)
    # dtype=uint8 also rescales 16-bit PNGs; channels=3 drops alpha, expands grey.
    img = tf.io.decode_image(raw, channels=3, expand_animations=False, dtype=tf.uint8)
    img = tf.pad(img, [[0, 0], [pad[0], pad[1]], [0, 0]], constant_values=255)
    return tf.ensure_shape(img, [height, width, 3])


def _decode_all(index: ExampleIndex, height: int, width: int) -> np.ndarray:
    from_bytes = isinstance(index.sources[0], bytes)
    ds = tf.data.Dataset.from_tensor_slices((index.sources, index.pad))
    ds = ds.map(lambda s, p: _decode(s, p, height, width, from_bytes),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return np.concatenate([b.numpy() for b in ds.batch(256)], axis=0)


def _pose_features(batch: dict, prefix: str, height: int, width: int, data_cfg) -> None:
    kps = batch[prefix + F.KEYPOINTS]
    rule = "deepfashion" if data_cfg.dataset == "deepfashion" else "market"
    batch[prefix + F.HEATMAPS] = pose_tf.keypoints_to_heatmaps(
        kps, height, width, data_cfg.heatmap_radius)
    batch[prefix + F.POSE_MASK] = pose_tf.pose_mask(kps, height, width, data_cfg.mask_radius)
    boxes, vis = pose_tf.roi_boxes(kps, height, width, rule)
    batch[prefix + F.ROI_BOXES] = boxes
    batch[prefix + F.ROI_VIS] = vis
    batch[prefix + F.POSE_VECTOR] = pose_tf.pose_vector(kps, height, width)


def sample_sequence(index: ExampleIndex, split: str, paired: bool) -> np.ndarray:
    """The per-epoch sequence of example indices ((P, 2) pairs when paired)."""
    if paired:
        if not len(index.pairs):
            raise DataError(f"paired=True needs a pairs CSV with rows for the {split} split "
                            "(data.pairs / data.test_pairs)")
        return index.pairs
    if split == "train" and len(index.pairs):
        # Frequency proportional to the number of partners (SPEC 1.3).
        counts = np.bincount(index.pairs[:, 0], minlength=len(index))
        return np.repeat(np.arange(len(index), dtype=np.int32), counts)
    return np.arange(len(index), dtype=np.int32)


def build_dataset(data_cfg, split: str, batch_size: int, *, paired: bool = False,
                  shuffle: bool = True, repeat: bool = True,
                  input_context: tf.distribute.InputContext | None = None,
                  seed: int = 0, skip_batches: int = 0) -> tf.data.Dataset:
    """Batched feature dicts of `split` ("train" | "test"), per `features.element_spec`.

    Args:
        data_cfg: `DataConfig`.
        split: "train" or "test".
        batch_size: the GLOBAL batch; with `input_context` each pipeline
            yields `input_context.get_per_replica_batch_size(batch_size)`.
        paired: yield (from, to) pairs of the pairs CSV (`target_*` keys).
        shuffle: seeded full shuffle of the example order each epoch.
        repeat: repeat forever (and drop the final partial batch).
        input_context: shards examples over `num_input_pipelines`.
        seed: shuffle seed; equal seeds give equal batches.
        skip_batches: batches of this pipeline already consumed: a resumed run continues
            the exact example stream of an uninterrupted one. Skipped on the example
            indices, before any image is decoded (cheap).
    """
    if batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")
    index = build_index(data_cfg, split)
    height, width = data_cfg.image_height, data_cfg.image_width
    seq = sample_sequence(index, split, paired)

    per_batch = batch_size
    ds = tf.data.Dataset.from_tensor_slices(seq)
    if input_context is not None:
        per_batch = input_context.get_per_replica_batch_size(batch_size)
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    if shuffle:
        shard_len = -(-len(seq) // (input_context.num_input_pipelines if input_context else 1))
        ds = ds.shuffle(max(1, shard_len), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
        if skip_batches:
            ds = ds.skip(skip_batches * per_batch)

    from_bytes = isinstance(index.sources[0], bytes)
    keypoints = tf.constant(index.keypoints)
    identity = tf.constant(index.identity)
    camera = tf.constant(index.camera)
    names = tf.constant(index.names)
    pads = tf.constant(index.pad)
    if data_cfg.cache:
        images = tf.constant(_decode_all(index, height, width))

        def image_of(i):
            return tf.gather(images, i)
    else:
        sources = tf.constant(index.sources)

        def image_of(i):
            return _decode(tf.gather(sources, i), tf.gather(pads, i), height, width, from_bytes)

    def example(i, prefix=""):
        img = tf.cast(image_of(i), tf.float32) / 127.5 - 1.0
        return {prefix + F.IMAGE: img,
                prefix + F.KEYPOINTS: tf.gather(keypoints, i),
                prefix + F.IDENTITY: tf.gather(identity, i),
                prefix + F.CAMERA: tf.gather(camera, i),
                prefix + F.NAME: tf.gather(names, i)}

    def load(item):
        if paired:
            out = example(item[0])
            out.update(example(item[1], F.TARGET_PREFIX))
            return out
        return example(item)

    def add_pose(batch):
        batch = dict(batch)
        _pose_features(batch, "", height, width, data_cfg)
        if paired:
            _pose_features(batch, F.TARGET_PREFIX, height, width, data_cfg)
        return batch

    ds = ds.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    ds = ds.batch(per_batch, drop_remainder=repeat)
    ds = ds.map(add_pose, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    options = tf.data.Options()
    options.deterministic = True
    ds = ds.with_options(options)
    return ds.prefetch(tf.data.AUTOTUNE)
