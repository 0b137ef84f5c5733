"""Re-ID baseline (ResNet-50, identity softmax) and the Market-1501 evaluator.

DPIG's re-ID experiment (SPEC 4.4) trains a ResNet-50 re-ID model on the
generated VirtualMarket identities and tests it on Market-1501
(query vs bounding_box_test). This module gives that baseline and the
standard evaluation:

  python -m dpig_tf.eval.reid train --data=DIR --out=DIR [--epochs=60 --weights=H5
      --height=256 --width=128 --batch_size=32 --lr=0.01]
  python -m dpig_tf.eval.reid evaluate --model=DIR --query=DIR --gallery=DIR [--out=JSON]

Data: Market-format folders, names `<id>_c<cam>s<seq>_<frame>_<det>.jpg`
(`0002_c1s1_000451_03.jpg`, junk `-1_c1s1_...`, distractors `0000_...`;
VirtualMarket's `%04d_c1s1_%06d_%05d_%f.png` parses the same way).
Training ignores ids -1 and 0.

Model: `keras.applications.ResNet50(include_top=False, pooling="avg")`
(random init, or weights from a local file such as
`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`; nothing is downloaded),
a dropout and a linear identity classifier trained with softmax cross-entropy
(SGD momentum 0.9). Input: bilinear resize to height x width (256x128
default), random horizontal flips in training, Keras ResNet50
`preprocess_input` (caffe: BGR, ImageNet mean). Features: the 2048-d pooled
vector, L2-normalised.

Evaluation (Market-1501 protocol, Zheng et al. 2015): Euclidean distance of
the normalised features; for each query the gallery entries with the same id
AND the same camera, and the junk entries (id -1), are removed; distractors
(id 0000) stay as negatives. CMC rank-k = fraction of queries whose first
correct match (same id, other camera) is within the top k; AP = mean of the
precision at each correct match (non-interpolated); `mAP_market` is the
official Market code's trapezoidal AP, for comparison. Queries with no
correct match in the gallery are skipped (counted in `num_skipped_queries`).
"""

from __future__ import annotations

import json
import os
import re

import numpy as np

from dpig_tf import cli
from dpig_tf.errors import UserError

NAME_RE = re.compile(r"^(-?\d+)_c(\d+)")
JUNK_ID = -1
DISTRACTOR_ID = 0
MODEL_FILE = "reid_model.keras"
META_FILE = "reid_meta.json"
DEFAULT_RANKS = (1, 5, 10)
RESNET_WEIGHTS_FILE = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"
RESNET_WEIGHTS_URL = ("https://storage.googleapis.com/tensorflow/keras-applications/resnet/"
                      + RESNET_WEIGHTS_FILE)


class ReidDataError(UserError):
    """A re-ID folder or file name that does not follow the Market format."""


def parse_market_name(name: str) -> tuple[int, int]:
    """(identity, camera) of a Market-format file name."""
    match = NAME_RE.match(os.path.basename(name))
    if not match:
        raise ReidDataError(f"{name}: not a Market-1501 file name "
                            "(expected <id>_c<camera>..., e.g. 0002_c1s1_000451_03.jpg)")
    return int(match.group(1)), int(match.group(2))


def list_market_folder(folder: str) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Sorted image paths of a Market-format folder with their ids and cameras."""
    if not os.path.isdir(folder):
        raise ReidDataError(f"re-ID folder {folder!r} does not exist")
    names = sorted(n for n in os.listdir(folder)
                   if os.path.splitext(n)[1].lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    if not names:
        raise ReidDataError(f"re-ID folder {folder!r} holds no images")
    parsed = [parse_market_name(n) for n in names]
    return ([os.path.join(folder, n) for n in names],
            np.array([p[0] for p in parsed], np.int64), np.array([p[1] for p in parsed], np.int64))


# --- ranking math ------------------------------------------------------------------------
def average_precision(hits: np.ndarray) -> tuple[float, float]:
    """(non-interpolated AP, Market trapezoidal AP) of a 0/1 hit vector in rank order."""
    positions = np.flatnonzero(hits)  # 0-based ranks of the correct matches
    num_good = len(positions)
    if num_good == 0:
        return 0.0, 0.0
    precision = np.arange(1, num_good + 1) / (positions + 1)
    old_precision = np.where(positions > 0, np.arange(num_good) / np.maximum(positions, 1), 1.0)
    trapezoid = float(np.sum((old_precision + precision) / 2) / num_good)
    return float(precision.mean()), trapezoid


def evaluate_ranking(query_feats, query_ids, query_cams, gallery_feats, gallery_ids,
                     gallery_cams, ranks=DEFAULT_RANKS) -> dict:
    """Market-1501 CMC and mAP of query vs gallery features (Euclidean distance).

    Args:
        query_feats (Q, D), gallery_feats (G, D): features (normalise them first
            for cosine ranking).
        query_ids, query_cams, gallery_ids, gallery_cams: int arrays; gallery id
            -1 = junk (ignored), 0 = distractor (a negative).
        ranks: CMC ranks to report.

    Returns:
        {"rank1", "rank5", "rank10", "mAP", "mAP_market", "num_queries",
        "num_valid_queries", "num_skipped_queries", "num_gallery"}.
    """
    q = np.asarray(query_feats, np.float64)
    g = np.asarray(gallery_feats, np.float64)
    qid, qcam = np.asarray(query_ids), np.asarray(query_cams)
    gid, gcam = np.asarray(gallery_ids), np.asarray(gallery_cams)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"features must be (Q, D) and (G, D), got {q.shape} and {g.shape}")
    if not (len(qid) == len(qcam) == len(q)) or not (len(gid) == len(gcam) == len(g)):
        raise ValueError("ids / cameras must have one entry per feature row")
    # Squared Euclidean distances; a stable sort keeps gallery order on ties.
    dist = (q ** 2).sum(1)[:, None] + (g ** 2).sum(1)[None, :] - 2 * q @ g.T
    max_rank = max(ranks)
    cmc = np.zeros(max_rank)
    aps, aps_market, valid = [], [], 0
    for i in range(len(q)):
        order = np.argsort(dist[i], kind="stable")
        junk = ((gid[order] == qid[i]) & (gcam[order] == qcam[i])) | (gid[order] == JUNK_ID)
        order = order[~junk]
        hits = (gid[order] == qid[i]) & (gcam[order] != qcam[i])
        if qid[i] == JUNK_ID or not hits.any():
            continue
        valid += 1
        first = int(np.argmax(hits))
        if first < max_rank:
            cmc[first:] += 1
        ap, ap_market = average_precision(hits)
        aps.append(ap)
        aps_market.append(ap_market)
    if valid == 0:
        raise ValueError("no query has a correct match (same id, other camera) in the gallery")
    out = {f"rank{k}": float(cmc[k - 1] / valid) for k in ranks}
    out.update(mAP=float(np.mean(aps)), mAP_market=float(np.mean(aps_market)),
               num_queries=int(len(q)), num_valid_queries=valid,
               num_skipped_queries=int(len(q) - valid), num_gallery=int(len(g)))
    return out


# --- model ---------------------------------------------------------------------------------
def build_reid_model(num_ids: int, height: int = 256, width: int = 128,
                     weights: str | None = None, dropout: float = 0.5):
    """ResNet-50 backbone + identity classifier; the `features` layer gives the embedding."""
    import keras

    if weights is not None and not os.path.isfile(weights):
        raise UserError(
            f"expected the ResNet-50 weights file, found nothing; nothing is downloaded at run "
            f"time: fetch {RESNET_WEIGHTS_URL} once and pass its path (or omit --weights for "
            "random init)", weights, field="--weights")
    backbone = keras.applications.ResNet50(include_top=False, weights=None, pooling="avg",
                                           input_shape=(height, width, 3))
    if weights is not None:
        try:
            backbone.load_weights(weights)
        except Exception as err:  # h5py / Keras raise many types for a bad file
            raise UserError(f"cannot load ResNet-50 no-top weights "
                            f"({type(err).__name__}: {err})", weights, field="--weights") from err
    inputs = keras.Input((height, width, 3), name="image")
    features = keras.layers.Identity(name="features")(backbone(inputs))
    x = keras.layers.Dropout(dropout)(features)
    logits = keras.layers.Dense(num_ids, name="classifier")(x)
    return keras.Model(inputs, logits, name="reid_resnet50")


def _preprocess(images, height, width):
    import keras
    import tensorflow as tf

    images = tf.image.resize(tf.cast(images, tf.float32), (height, width), method="bilinear")
    return keras.applications.resnet50.preprocess_input(images)


def _decode(path, height, width):
    import tensorflow as tf

    image = tf.io.decode_image(tf.io.read_file(path), channels=3, expand_animations=False)
    image.set_shape([None, None, 3])
    return _preprocess(image[None], height, width)[0]


def train(data: str, out: str, epochs: int = 60, weights: str | None = None,
          height: int = 256, width: int = 128, batch_size: int = 32, lr: float = 0.01,
          seed: int = 0, max_steps: int | None = None, run_eagerly: bool = False) -> dict:
    """Train the ResNet-50 identity classifier on a Market-format folder; saves to `out`.

    `max_steps` stops after that many steps (smoke runs); `run_eagerly` skips
    the ~30 s graph tracing of a ResNet-50 train step on CPU (smoke tests).
    """
    import keras
    import tensorflow as tf

    paths, ids, _ = list_market_folder(data)
    keep = (ids != JUNK_ID) & (ids != DISTRACTOR_ID)
    paths = [p for p, k in zip(paths, keep) if k]
    ids = ids[keep]
    if len(paths) == 0:
        raise ReidDataError(f"{data}: no labelled images (ids -1 and 0000 are not trained on)")
    classes = np.unique(ids)
    labels = np.searchsorted(classes, ids).astype(np.int32)
    keras.utils.set_random_seed(seed)
    model = build_reid_model(len(classes), height, width, weights)
    ds = tf.data.Dataset.from_tensor_slices((paths, labels)).shuffle(len(paths), seed=seed)
    ds = ds.map(lambda p, y: (tf.image.random_flip_left_right(_decode(p, height, width),
                                                              seed=seed), y),
                num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.batch(batch_size).prefetch(tf.data.AUTOTUNE)
    steps = None
    if max_steps is not None:
        ds = ds.repeat()
        steps = max_steps
        epochs = 1
    model.compile(optimizer=keras.optimizers.SGD(lr, momentum=0.9, nesterov=True),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"], jit_compile=False,  # XLA: +30 s compile on CPU
                  run_eagerly=run_eagerly)
    history = model.fit(ds, epochs=epochs, steps_per_epoch=steps, verbose=2)
    os.makedirs(out, exist_ok=True)
    model.save(os.path.join(out, MODEL_FILE))
    meta = {"height": height, "width": width, "num_ids": int(len(classes)),
            "num_images": len(paths), "epochs": epochs, "steps": max_steps, "lr": lr,
            "batch_size": batch_size, "weights": weights, "data": os.path.abspath(data),
            "final_loss": float(history.history["loss"][-1])}
    with open(os.path.join(out, META_FILE), "w") as f:
        json.dump(meta, f, indent=1)
    return meta


def load_feature_model(model_path: str):
    """The `features` sub-model and (height, width) of a trained re-ID model (dir or .keras)."""
    import keras

    path = os.path.join(model_path, MODEL_FILE) if os.path.isdir(model_path) else model_path
    if not os.path.isfile(path):
        raise UserError("expected a trained re-ID model, found nothing (train one with "
                        "`python -m dpig_tf.eval.reid train --data=DIR --out=DIR`)", path,
                        field="--model")
    model = keras.saving.load_model(path)
    height, width = model.input_shape[1:3]
    return keras.Model(model.input, model.get_layer("features").output), (height, width)


def extract_features(feature_model, paths, size, batch_size: int = 64) -> np.ndarray:
    """L2-normalised (N, 2048) features of image files."""
    import tensorflow as tf

    ds = tf.data.Dataset.from_tensor_slices(paths).map(lambda p: _decode(p, *size))
    feats = [np.asarray(feature_model(batch, training=False))
             for batch in ds.batch(batch_size)]
    feats = np.concatenate(feats, axis=0)
    return feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)


def evaluate(model: str, query: str, gallery: str, batch_size: int = 64) -> dict:
    """Market-1501 rank-k / mAP of a trained model on query and gallery folders."""
    feature_model, size = load_feature_model(model)
    q_paths, q_ids, q_cams = list_market_folder(query)
    g_paths, g_ids, g_cams = list_market_folder(gallery)
    q = extract_features(feature_model, q_paths, size, batch_size)
    g = extract_features(feature_model, g_paths, size, batch_size)
    result = evaluate_ranking(q, q_ids, q_cams, g, g_ids, g_cams)
    result.update(model=os.path.abspath(model), query=os.path.abspath(query),
                  gallery=os.path.abspath(gallery))
    return result


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog="python -m dpig_tf.eval.reid",
                                     description="ResNet-50 re-ID baseline (SPEC 4.4).")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a Market-format folder")
    t.add_argument("--data", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--weights", default=None, help=f"local {RESNET_WEIGHTS_FILE} (optional)")
    t.add_argument("--height", type=int, default=256)
    t.add_argument("--width", type=int, default=128)
    t.add_argument("--batch_size", type=int, default=32)
    t.add_argument("--lr", type=float, default=0.01)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--max_steps", type=int, default=None, help="stop after N steps (smoke runs)")
    t.add_argument("--run_eagerly", action="store_true",
                   help="no graph tracing (faster for a few steps, slower for real training)")
    e = sub.add_parser("evaluate", help="Market-1501 rank-1/5/10 and mAP")
    e.add_argument("--model", required=True, help="training --out folder or .keras file")
    e.add_argument("--query", required=True)
    e.add_argument("--gallery", required=True)
    e.add_argument("--batch_size", type=int, default=64)
    e.add_argument("--out", default=None, help="write the result JSON here")
    args = parser.parse_args(argv)
    if args.command == "train":
        result = train(args.data, args.out, args.epochs, args.weights, args.height,
                       args.width, args.batch_size, args.lr, args.seed, args.max_steps,
                       args.run_eagerly)
    else:
        result = evaluate(args.model, args.query, args.gallery, args.batch_size)
        if args.out:
            with open(args.out, "w") as f:
                json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    cli.run(main)
