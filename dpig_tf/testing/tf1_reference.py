"""Test-side rebuild of the ORIGINAL TF1 graphs, to check the TF1 checkpoint importer.

Builds the authors' networks as models.py / wgan_gp.py / trainer*.py do, in a
`tf.compat.v1` graph with tf-slim (the same variable names, shapes and layouts, including
the optimizer slots and counters the original checkpoints hold), initialises them
randomly, runs them on given inputs, and saves a `tf.compat.v1.train.Saver` checkpoint
`model.ckpt-<step>`. Test code only: tf-slim is a test dependency.

One deliberate difference, which does not change any value: tflib ran the DCGAN
discriminator channels-first (NCHW), which TensorFlow's CPU kernels do not support; its
convs and batch norm are computed here as NHWC ops between transposes, and the flatten
before its output Linear is taken on the NCHW map, as in the original.
"""

from __future__ import annotations

import math
import pathlib

import numpy as np
import tensorflow as tf

v1 = tf.compat.v1


def _slim():
    import tf_slim

    return tf_slim


def _relu_conv(x, n, stride=1, activation=tf.nn.relu):
    return _slim().conv2d(x, n, 3, stride, activation_fn=activation)


def _residual_trunk(x, n, stages, skips=None):
    """The stage loop of models.py (encoders and the U-Net encoder)."""
    for idx in range(stages):
        res = x
        x = _relu_conv(x, n * (idx + 1))
        x = _relu_conv(x, n * (idx + 1))
        x = x + res
        if skips is not None:
            skips.append(x)
        if idx < stages - 1:
            x = _relu_conv(x, n * (idx + 2), stride=2)
    return x


def _flatten(x):
    return tf.reshape(x, [x.get_shape().as_list()[0], -1])


def encoder(image, mask, boxes, vis, n, roi_size, roi_stages, bg_stages):
    """`GeneratorCNN_ID_Encoder_BodyROIVis[_FgBgFeaTwoBranch]` under Encoder/G_encoder."""
    slim = _slim()
    batch, height, width = image.get_shape().as_list()[:3]
    with v1.variable_scope("Encoder"), v1.variable_scope("G_encoder"):
        x = _relu_conv(image, n)
        res = x
        x = _relu_conv(_relu_conv(x, n), n) + res
        fg = x * mask if bg_stages else x
        crops = []
        for i in range(boxes.get_shape().as_list()[1]):
            box = boxes[:, i, :] / tf.constant([height, width, height, width], tf.float32)
            crops.append(tf.image.crop_and_resize(fg, box, tf.range(batch), [roi_size] * 2))
        regions = _residual_trunk(tf.concat(crops, axis=0), n, roi_stages)
        codes = slim.fully_connected(_flatten(regions), 32, activation_fn=None)
        parts = tf.split(codes, len(crops), axis=0)
        parts = [p * tf.tile(vis[:, i:i + 1], [1, 32]) for i, p in enumerate(parts)]
        if bg_stages:
            bg = _residual_trunk(x * (1.0 - mask), n, bg_stages)
            parts.append(slim.fully_connected(_flatten(bg), 128, activation_fn=None))
        return tf.concat(parts, axis=-1)


def generator(embedding, heatmaps, n, stages):
    """`GeneratorCNN_ID_UAEAfterResidual` under ID_AE/G on [tiled embedding, heatmaps]."""
    slim = _slim()
    batch, height, width = heatmaps.get_shape().as_list()[:3]
    tiled = tf.tile(embedding[:, None, None, :], [1, height, width, 1])
    with v1.variable_scope("ID_AE"), v1.variable_scope("G"):
        x = _relu_conv(tf.concat([tiled, heatmaps], 3), n)
        skips = []
        x = _residual_trunk(x, n, stages, skips)
        shape = x.get_shape().as_list()
        x = slim.fully_connected(_flatten(x), 64, activation_fn=None)
        x = slim.fully_connected(x, shape[1] * shape[2] * n, activation_fn=None)
        x = tf.reshape(x, [-1, shape[1], shape[2], n])
        for idx in range(stages):
            x = tf.concat([x, skips[stages - 1 - idx]], axis=-1)
            c = x.get_shape().as_list()[-1]
            x = _relu_conv(_relu_conv(x, c), c) + x
            if idx < stages - 1:
                h, w = x.get_shape().as_list()[1:3]
                x = v1.image.resize_nearest_neighbor(x, (2 * h, 2 * w))
                x = slim.conv2d(x, n * (stages - idx - 1), 1, 1, activation_fn=tf.nn.relu)
        return slim.conv2d(x, 3, 3, 1, activation_fn=None)


def _lrelu(x):
    return tf.maximum(0.2 * x, x)


def fc_residual(x, hidden, blocks, out_dim, scope):
    """`PoseEncoderFCRes` / `GaussianFCRes` (LReLU 0.2) inside `scope`; out_dim None: no head."""
    slim = _slim()
    with v1.variable_scope(scope):
        x = slim.fully_connected(x, hidden, activation_fn=_lrelu)
        for _ in range(blocks):
            x = x + slim.fully_connected(slim.fully_connected(x, hidden, activation_fn=_lrelu),
                                         hidden, activation_fn=_lrelu)
        return x if out_dim is None else slim.fully_connected(x, out_dim, activation_fn=None)


def pose_decoder(code, hidden=512, blocks=4):
    """`PoseDecoderFCRes` under G_Pose_Decoder: interleaved [r, c, v] per joint."""
    slim = _slim()
    with v1.variable_scope("G_Pose_Decoder"):
        x = slim.fully_connected(code, hidden, activation_fn=None)
        for _ in range(blocks):
            x = x + slim.fully_connected(slim.fully_connected(x, hidden, activation_fn=_lrelu),
                                         hidden, activation_fn=_lrelu)
        coords = slim.fully_connected(x, 36, activation_fn=None)
        vis = slim.fully_connected(x, 18, activation_fn=tf.sigmoid)
        vis = vis + tf.stop_gradient(tf.round(vis) - vis)  # binaryRound: identity gradient
    return tf.reshape(tf.concat([tf.reshape(coords, [-1, 18, 2]), vis[:, :, None]], -1), [-1, 54])


# --- tflib layers (parameters named `<layer>/<layer>.<param>`) -------------------------------
def _param(layer, suffix, value, trainable=True):
    return v1.Variable(value.astype(np.float32), name=f"{layer}.{suffix}", trainable=trainable)


def _uniform(rng, stdev, shape):
    return rng.uniform(-stdev * math.sqrt(3), stdev * math.sqrt(3), shape)


def tflib_linear(layer, x, in_dim, out_dim, rng, stdev=None):
    with v1.name_scope(layer):
        stdev = stdev or math.sqrt(2.0 / (in_dim + out_dim))
        w = _param(layer, "W", _uniform(rng, stdev, (in_dim, out_dim)))
        b = _param(layer, "b", np.zeros(out_dim))
        return tf.matmul(x, w) + b


def fc_critic(x, prefix, rng, hidden=512, layers=3):
    """wgan_gp `FCDiscriminator(FC_DIM=512, n_layers=3, name=prefix)`."""
    dim = x.get_shape().as_list()[-1]
    x = _lrelu(tflib_linear(f"{prefix}Discriminator.Input.Linear", x, dim, hidden, rng))
    for i in range(layers):
        x = _lrelu(tflib_linear(f"{prefix}Discriminator.{i}.Linear", x, hidden, hidden, rng))
    return tf.reshape(tflib_linear(f"{prefix}Discriminator.Out", x, hidden, 1, rng), [-1])


def dcgan_discriminator(images, rng, dim=64):
    """wgan_gp `DCGANDiscriminator` on NCHW input; returns the flat logits of the reshape."""
    x = tf.transpose(images, [0, 3, 1, 2])
    widths = [3, dim, 2 * dim, 4 * dim, 8 * dim]
    for i in range(4):
        layer = f"Discriminator.{i + 1}"
        with v1.name_scope(layer):
            shape = (5, 5, widths[i], widths[i + 1])
            filters = _param(layer, "Filters", _uniform(rng, 0.02, shape))
            nhwc = tf.nn.conv2d(tf.transpose(x, [0, 2, 3, 1]), filters, [1, 2, 2, 1], "SAME")
            x = tf.transpose(nhwc, [0, 3, 1, 2])
            x = x + _param(layer, "Biases", rng.normal(0, 0.1, widths[i + 1]))[None, :, None, None]
        if i:
            bn = f"Discriminator.BN{i + 1}"
            with v1.name_scope(bn):
                c = widths[i + 1]
                offset = _param(bn, "offset", rng.normal(0, 0.1, c))
                scale = _param(bn, "scale", 1 + rng.normal(0, 0.1, c))
                _param(bn, "moving_mean", rng.normal(0, 0.1, c), trainable=False)
                _param(bn, "moving_variance", 1 + rng.uniform(0, 0.1, c), trainable=False)
                mean, var = tf.nn.moments(x, [0, 2, 3], keepdims=True)
                x = tf.nn.batch_normalization(x, mean, var, offset[None, :, None, None],
                                              scale[None, :, None, None], 1e-5)
        x = _lrelu(x)
    rows = tf.reshape(x, [-1, 8 * 4 * 8 * dim])
    return tf.reshape(tflib_linear("Discriminator.Output", rows, 8 * 4 * 8 * dim, 1, rng,
                                   stdev=0.02), [-1])


# --- whole checkpoints ----------------------------------------------------------------------
MARKET = dict(roi_size=48, roi_stages=5, bg_stages=5, g_stages=5)
DEEPFASHION = dict(roi_size=64, roi_stages=7, bg_stages=0, g_stages=5)


def _stage1_graph(inputs, n, arch):
    p = {k: v1.placeholder(tf.float32, inputs[k].shape, name=k) for k in inputs}
    embedding = encoder(p["image"], p["pose_mask"], p["roi_boxes"], p["roi_vis"], n,
                        arch["roi_size"], arch["roi_stages"], arch["bg_stages"])
    generated = generator(embedding, p["heatmaps"], n, arch["g_stages"])
    return p, embedding, generated


def _counters():
    v1.Variable(999, name="step", trainable=False)
    v1.Variable(2e-5, name="g_lr")
    v1.Variable(2e-5, name="d_lr")
    v1.Variable(True, name="phase")


def _scope_vars(prefix):
    return [v for v in v1.trainable_variables() if v.name.startswith(prefix)]


def build_and_save(kind: str, dataset: str, ckpt_dir, inputs: dict, channels: int = 128,
                   seed: int = 0, step: int = 999) -> dict:
    """Builds original model `kind` for `dataset`, runs it on `inputs`, saves model.ckpt-<step>.

    kind "stage1" (model 1/101) takes image, pose_mask, roi_boxes (pixels), roi_vis,
    heatmaps and returns embedding, generated, d_logits (B, k); "pose_ae" (2/102) takes
    pose_vector (B, 54) and returns pose_code, pose_vector_out; "stage2_app" (3/103) takes
    noise_fg [, noise_bg] and returns fg_code [, bg_code], fg_critic [, bg_critic] (the
    critics on the codes); "stage2_pose" (4/104) takes noise_pose and returns pose_code,
    pose_critic. Stage-II graphs also hold the Encoder/ID_AE (and PoseAE) copies and every
    checkpoint the optimizer slots, as the originals do.
    """
    arch = MARKET if dataset == "market" else DEEPFASHION
    rng = np.random.default_rng(seed)
    graph = tf.Graph()
    with graph.as_default():
        v1.set_random_seed(seed)
        outputs, losses = {}, {}
        if kind == "stage1":
            p, embedding, generated = _stage1_graph(inputs, channels, arch)
            logits = dcgan_discriminator(p["image"], rng)
            outputs = {"embedding": embedding, "generated": generated,
                       "d_logits": tf.reshape(logits, [inputs["image"].shape[0], -1])}
            losses = {"G": (tf.reduce_mean(tf.abs(generated)), _scope_vars("Encoder") +
                            _scope_vars("ID_AE")),
                      "D": (tf.reduce_mean(logits), _scope_vars("Discriminator"))}
            optimizer = lambda: v1.train.AdamOptimizer(2e-5, beta1=0.5)  # noqa: E731
        elif kind == "pose_ae":
            p = {"pose_vector": v1.placeholder(tf.float32, inputs["pose_vector"].shape)}
            with v1.variable_scope("PoseAE"):
                code = fc_residual(p["pose_vector"], 512, 4, 32, "G_Pose_Encoder")
                decoded = pose_decoder(code)
            outputs = {"pose_code": code, "pose_vector_out": decoded}
            losses = {"G": (tf.reduce_mean(tf.square(decoded)), _scope_vars("PoseAE"))}
            optimizer = lambda: v1.train.AdamOptimizer(2e-5, beta1=0.5)  # noqa: E731
        else:
            p = {k: v1.placeholder(tf.float32, v.shape, name=k) for k, v in inputs.items()}
            _frozen_copies(kind, dataset, channels, arch)
            if kind == "stage2_app" and dataset == "market":
                heads = [("fg", "Gaussian_FC_Fg", 512, "Fg_FCDis_"),
                         ("bg", "Gaussian_FC_Bg", 256, "Bg_FCDis_")]
            elif kind == "stage2_app":
                heads = [("fg", "Gaussian_FC", 512, "FCDis_")]
            else:
                heads = [("pose", "PoseGaussian", 512, "Pose_emb_")]
            for short, scope, hidden, critic in heads:
                z = p[f"noise_{short}"]
                with v1.variable_scope(scope):
                    code = fc_residual(z, hidden, 4, z.get_shape().as_list()[-1], "G_FC")
                outputs[f"{short}_code"] = code
                outputs[f"{short}_critic"] = fc_critic(code, critic, rng)
                losses[f"G_{short}"] = (-tf.reduce_mean(outputs[f"{short}_critic"]),
                                        _scope_vars(scope))
                losses[f"D_{short}"] = (tf.reduce_mean(outputs[f"{short}_critic"]),
                                        _scope_vars(critic + "Discriminator"))
            optimizer = lambda: v1.train.RMSPropOptimizer(2e-5)  # noqa: E731
        _counters()
        for loss, var_list in losses.values():
            optimizer().minimize(loss, var_list=var_list)
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            for var in v1.global_variables():  # zero-initialised values: make them count
                if var.name.endswith(("biases:0", "/Adam:0", "/Adam_1:0")):
                    value = rng.normal(0, 0.05, var.shape.as_list())
                    if var.name.endswith("/Adam_1:0"):
                        value = np.abs(value)  # a second moment
                    var.load(value.astype(np.float32), sess)
            values = sess.run(outputs, {p[k]: inputs[k] for k in p})
            path = pathlib.Path(ckpt_dir)
            path.mkdir(parents=True, exist_ok=True)
            v1.train.Saver().save(sess, str(path / "model.ckpt"), global_step=step)
    return values


def _frozen_copies(kind, dataset, n, arch):
    """The Stage-I (and pose AE) variables a Stage-II trainer saves with its own."""
    h, w = (128, 64) if dataset == "market" else (256, 256)
    image = tf.zeros([1, h, w, 3])
    embedding = encoder(image, tf.ones([1, h, w, 1]), tf.zeros([1, 7, 4]), tf.ones([1, 7]), n,
                        arch["roi_size"], arch["roi_stages"], arch["bg_stages"])
    generator(embedding, tf.zeros([1, h, w, 18]), n, arch["g_stages"])
    if kind == "stage2_pose":
        with v1.variable_scope("PoseAE"):
            pose_decoder(fc_residual(tf.zeros([1, 54]), 512, 4, 32, "G_Pose_Encoder"))


def rewrite_checkpoint(source_dir, target_dir, drop=(), add=None, replace=None,
                       step: int = 999) -> None:
    """Copies a TF1 checkpoint with variables dropped, added or replaced (error-case tests)."""
    reader = tf.train.load_checkpoint(str(source_dir))
    values = {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map() if k not in drop}
    values.update(add or {})
    values.update(replace or {})
    graph = tf.Graph()
    with graph.as_default():
        variables = [v1.Variable(value, name=name) for name, value in values.items()]
        with v1.Session(graph=graph) as sess:
            sess.run(v1.variables_initializer(variables))
            path = pathlib.Path(target_dir)
            path.mkdir(parents=True, exist_ok=True)
            v1.train.Saver(variables).save(sess, str(path / "model.ckpt"), global_step=step)
