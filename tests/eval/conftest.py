"""Fixtures of the eval tests: real-looking image pairs and a small Inception graph.

`fake_inception_graph` builds a SMALL, randomly initialised GraphDef with the
2015 Inception graph's interface and node names (DecodeJpeg/contents ->
DecodeJpeg -> Cast -> ExpandDims -> ResizeBilinear -> Sub -> Mul ->
conv/Conv2D -> conv/batchnorm (BatchNormWithGlobalNormalization, the op
removed at GraphDef version 9) -> conv (Relu) -> pool_3 (AvgPool) ->
pool_3/_reshape ([1, D]) -> softmax/logits/MatMul (softmax/weights) ->
softmax/logits (+ softmax/biases) -> softmax), written with an old producer
version like the real file. The weights are returned so tests can compute the
expected probabilities independently.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

GRAPH_RESIZE = (24, 24)
GRAPH_HIDDEN = 16
GRAPH_CLASSES = 1008
BN_EPSILON = 1e-3


def build_fake_inception_graph(path, seed=0, hidden=GRAPH_HIDDEN, classes=GRAPH_CLASSES,
                               resize=GRAPH_RESIZE, add_shapes=False):
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    weights = {
        "conv": rng.normal(0, 0.3, (3, 3, 3, hidden)).astype(np.float32),
        "mean": rng.normal(0, 0.1, hidden).astype(np.float32),
        "var": (rng.random(hidden) + 0.5).astype(np.float32),
        "beta": rng.normal(0, 0.1, hidden).astype(np.float32),
        "gamma": (rng.random(hidden) + 0.5).astype(np.float32),
        "softmax": rng.normal(0, 1.0, (hidden, classes)).astype(np.float32),
        # A large bias: if it leaked into the logits the probabilities would change a lot.
        "bias": rng.normal(0, 5.0, classes).astype(np.float32),
    }
    pool = (resize[0] - 3) // 2 + 1  # VALID 3x3 stride-2 conv output side
    graph = tf.Graph()
    with graph.as_default():
        contents = tf.compat.v1.placeholder(tf.string, [], name="DecodeJpeg/contents")
        x = tf.io.decode_jpeg(contents, channels=3, name="DecodeJpeg")
        x = tf.cast(x, tf.float32, name="Cast")
        x = tf.expand_dims(x, 0, name="ExpandDims")
        x = tf.compat.v1.image.resize_bilinear(x, list(resize), name="ResizeBilinear")
        x = tf.subtract(x, 128.0, name="Sub")
        x = tf.multiply(x, 1.0 / 128.0, name="Mul")
        kernel = tf.constant(weights["conv"], name="conv/conv2d_params")
        x = tf.nn.conv2d(x, kernel, strides=2, padding="VALID", name="conv/Conv2D")
        for key in ("mean", "var", "beta", "gamma"):
            tf.constant(weights[key], name=f"conv/batchnorm/{key}")
        x = tf.identity(x, name="conv/batchnorm")  # replaced by the old BN op below
        x = tf.nn.relu(x, name="conv")
        x = tf.nn.avg_pool2d(x, ksize=pool, strides=1, padding="VALID", name="pool_3")
        x = tf.reshape(x, [1, hidden], name="pool_3/_reshape")
        w = tf.constant(weights["softmax"], name="softmax/weights")
        logits = tf.matmul(x, w, name="softmax/logits/MatMul")
        b = tf.constant(weights["bias"], name="softmax/biases")
        logits = tf.nn.bias_add(logits, b, name="softmax/logits")
        tf.nn.softmax(logits, name="softmax")
    # add_shapes: `_output_shapes` attributes with the single-image batch of 1.
    graph_def = graph.as_graph_def(add_shapes=add_shapes)
    for node in graph_def.node:
        if node.name == "conv/batchnorm":
            node.op = "BatchNormWithGlobalNormalization"
            del node.input[:]
            node.input.extend(["conv/Conv2D"] + [f"conv/batchnorm/{k}"
                                                 for k in ("mean", "var", "beta", "gamma")])
            node.attr.clear()
            node.attr["T"].type = tf.float32.as_datatype_enum
            node.attr["variance_epsilon"].f = BN_EPSILON
            node.attr["scale_after_normalization"].b = True
    graph_def.versions.producer = 5  # pre-version-9 GraphDef, like the 2015 file
    with open(path, "wb") as f:
        f.write(graph_def.SerializeToString())
    return weights


def expected_probs(images, weights, resize=GRAPH_RESIZE):
    """p(y|x) of the fake graph computed eagerly, independently of the graph file."""
    import tensorflow as tf

    x = tf.constant(np.asarray(images, np.float32))
    x = tf.compat.v1.image.resize_bilinear(x, list(resize))
    x = (x - 128.0) / 128.0
    x = tf.nn.conv2d(x, weights["conv"], strides=2, padding="VALID")
    x = ((x - weights["mean"]) / tf.sqrt(weights["var"] + BN_EPSILON) * weights["gamma"]
         + weights["beta"])
    x = tf.nn.relu(x)
    features = tf.reduce_mean(x, axis=[1, 2]).numpy().astype(np.float64)
    logits = features @ weights["softmax"].astype(np.float64)  # no bias
    logits -= logits.max(axis=1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=1, keepdims=True)


@pytest.fixture(scope="session")
def fake_inception_graph(tmp_path_factory):
    """(path, weights) of the small 2015-interface Inception graph."""
    path = str(tmp_path_factory.mktemp("inception") / "classify_image_graph_def.pb")
    weights = build_fake_inception_graph(path)
    return path, weights


def real_looking_pairs(n=6, height=128, width=64, seed=0):
    """(generated, targets, masks) uint8 from skimage sample photos.

    Targets are crops of real photographs; "generated" images are shifted,
    blurred, noisy crops of the same photos (like an imperfect generator);
    masks are x255 elliptical person-like blobs.
    """
    from scipy import ndimage
    from skimage import data

    rng = np.random.default_rng(seed)
    photos = [data.astronaut(), data.chelsea(), data.coffee()]
    generated, targets, masks = [], [], []
    yy, xx = np.mgrid[0:height, 0:width]
    for i in range(n):
        photo = photos[i % len(photos)]
        r = rng.integers(0, photo.shape[0] - height - 8)
        c = rng.integers(0, photo.shape[1] - width - 8)
        target = photo[r:r + height, c:c + width]
        dr, dc = rng.integers(-4, 5, 2)
        gen = photo[r + 4 + dr:r + 4 + dr + height, c + 4 + dc:c + 4 + dc + width]
        gen = ndimage.gaussian_filter(gen.astype(np.float64), (1.0, 1.0, 0))
        gen = np.clip(gen + rng.normal(0, 8, gen.shape), 0, 255).astype(np.uint8)
        ellipse = (((yy - height / 2) / (height * 0.4)) ** 2
                   + ((xx - width / 2 - rng.integers(-5, 6)) / (width * 0.3)) ** 2) <= 1
        generated.append(gen)
        targets.append(np.ascontiguousarray(target))
        masks.append(ellipse.astype(np.uint8) * 255)
    return np.stack(generated), np.stack(targets), np.stack(masks)


def write_folder(folder, arrays, names=None, ext=".png"):
    os.makedirs(folder, exist_ok=True)
    names = names or [f"{i:05d}" for i in range(len(arrays))]
    for name, array in zip(names, arrays):
        Image.fromarray(array).save(os.path.join(folder, name + ext))
    return str(folder)


@pytest.fixture
def scored_folders(tmp_path):
    """Folders G/, T/, M/ of 6 real-looking 128x64 pairs and the arrays."""
    gen, tgt, msk = real_looking_pairs()
    return {
        "generated": write_folder(tmp_path / "G", gen),
        "targets": write_folder(tmp_path / "T", tgt),
        "masks": write_folder(tmp_path / "M", msk),
        "arrays": (gen, tgt, msk),
        "root": tmp_path,
    }


def write_untrained_run(cfg, run_dir, seed=0):
    """A run directory (config.yaml + Stage-I and pose-AE checkpoints) of fresh networks."""
    import pathlib

    import tensorflow as tf

    from dpig_tf import checkpoint as names
    from dpig_tf import config_io
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    run_dir = pathlib.Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config_io.dump_config(cfg, run_dir / names.CONFIG_FILE)
    tf.keras.utils.set_random_seed(seed)
    # Build every variable (a zero batch through each path) before saving: a
    # checkpoint of unbuilt sub-layers would lack their kernels.
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=False)
    tf.train.Checkpoint(**{
        names.ENCODER: model.encoder, names.GENERATOR: model.generator,
        names.STEP: tf.Variable(1, dtype=tf.int64)}).save(str(run_dir / names.STAGE1_DIR / "ckpt"))
    tf.train.Checkpoint(**{names.POSE_ENCODER: model.pose_encoder,
                           names.POSE_DECODER: model.pose_decoder}).save(
        str(run_dir / names.POSE_AE_DIR / "ckpt"))
    return run_dir


def write_market_style_images(folder, height, width, count=5, seed=0):
    """Real-looking images with PG2 annotations and all ordered pairs of 2 identities."""
    import pathlib

    from dpig_tf.data import keypoints_csv

    folder = pathlib.Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    gen, _, _ = real_looking_pairs(n=count, height=height, width=width, seed=seed)
    rng = np.random.default_rng(seed)
    rows = {}
    for i in range(count):
        name = f"{i % 2 + 1:04d}_c{i % 3 + 1}s1_{i:06d}_00.jpg"
        Image.fromarray(gen[i]).save(folder / "images" / name, quality=95)
        kp = np.zeros((18, 3), np.float32)
        kp[:, 0] = np.linspace(2, height - 3, 18)
        kp[:, 1] = width // 2 + rng.integers(-3, 4, 18)
        kp[:, 2] = 1
        kp[3] = 0  # one missing joint
        rows[name] = kp
    keypoints_csv.write_annotation_csv(str(folder / "annotations.csv"), rows)
    names = sorted(rows)
    pairs = [(a, b) for a in names for b in names if a != b and a[:4] == b[:4]]
    keypoints_csv.write_pairs_csv(str(folder / "pairs.csv"), pairs)
    return str(folder / "images"), str(folder / "annotations.csv"), str(folder / "pairs.csv")


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    from dpig_tf import config_io

    cfg = config_io.load_config("tiny")
    run = write_untrained_run(cfg, tmp_path_factory.mktemp("run") / "run")
    data = write_market_style_images(tmp_path_factory.mktemp("data"),
                                     cfg.data.image_height, cfg.data.image_width)
    return cfg, run, data
