"""PoseDecoder (SPEC 2.7): interleaved output, straight-through visibility."""

import numpy as np
import tensorflow as tf

from dpig_tf.config_io import load_config
from dpig_tf.models import factory
from dpig_tf.models.pose_decoder import PoseDecoder
from dpig_tf.models.pose_decoder import straight_through_round
from dpig_tf.testing import test_case


def _codes(batch=3, dim=8, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, dim)).astype("float32")


def test_basics():
    test_case.run_network_test(PoseDecoder, {"hidden": 16, "blocks": 2, "num_joints": 18},
                               _codes(), expected_output_shape=(3, 54))


def test_interleaved_output_and_binary_visibility():
    model = PoseDecoder(hidden=16, blocks=1)
    z = _codes(batch=16)
    out = model(z).numpy()
    h = model.res_blocks[0](model.fc_in(z))  # fc_in is linear
    coords = model.coords(h).numpy().reshape(16, 18, 2)
    vis = tf.sigmoid(model.visibility(h)).numpy()
    per_joint = out.reshape(16, 18, 3)
    np.testing.assert_allclose(per_joint[..., :2], coords, atol=1e-6)  # [r0, c0, v0, r1, ...]
    np.testing.assert_array_equal(per_joint[..., 2], np.round(vis))
    assert set(np.unique(out[:, 2::3])) <= {0.0, 1.0}


def test_straight_through_gradient_equals_upstream():
    x = tf.constant([[0.1, 0.49, 0.51, 0.9]])
    upstream = tf.constant([[1.0, -2.0, 3.0, 0.5]])
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = straight_through_round(x)
        loss = tf.reduce_sum(y * upstream)
    np.testing.assert_array_equal(y.numpy(), [[0.0, 0.0, 1.0, 1.0]])
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), upstream.numpy())

    # Through the model: d loss / d visibility-bias = sum_b upstream * sigmoid'(logit).
    model = PoseDecoder(hidden=16, blocks=1)
    z = _codes(batch=5)
    up = np.random.default_rng(1).normal(size=(5, 18)).astype("float32")
    with tf.GradientTape() as tape:
        out = model(z)
        loss = tf.reduce_sum(out[:, 2::3] * up)
    grad = tape.gradient(loss, model.visibility.bias).numpy()
    h = model.res_blocks[0](model.fc_in(z))
    s = tf.sigmoid(model.visibility(h)).numpy()
    np.testing.assert_allclose(grad, (up * s * (1 - s)).sum(0), rtol=1e-5, atol=1e-6)


def test_paper_count():
    model = PoseDecoder(hidden=512, blocks=4, num_joints=18)
    model.build((None, 32))
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == 2_145_846


def test_factory():
    cfg = load_config("tiny")
    model = factory.build_pose_decoder(cfg)
    assert model(_codes(dim=cfg.model.pose_embedding_dim)).shape == (3, 54)
