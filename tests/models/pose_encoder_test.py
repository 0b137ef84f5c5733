"""PoseEncoder (SPEC 2.7)."""

import numpy as np
import tensorflow as tf

from dpig_tf.config_io import load_config
from dpig_tf.models import factory
from dpig_tf.models.pose_encoder import PoseEncoder
from dpig_tf.testing import test_case


def _pose_vectors(batch=3, seed=0):
    rng = np.random.default_rng(seed)
    v = rng.uniform(-1, 1, (batch, 18, 3)).astype("float32")
    v[..., 2] = (v[..., 2] > -0.5).astype("float32")
    v[v[..., 2] == 0] = [-1, -1, 0]  # missing joints
    return v.reshape(batch, 54)


def test_basics():
    test_case.run_network_test(PoseEncoder, {"hidden": 16, "blocks": 2, "embedding_dim": 8},
                               _pose_vectors(), expected_output_shape=(3, 8))


def test_structure_and_paper_count():
    model = PoseEncoder(hidden=512, blocks=4, embedding_dim=32)
    model.build((None, 54))
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == 2_145_824
    x = _pose_vectors()
    h = tf.nn.leaky_relu(model.fc_in(x), 0.2)  # LReLU after the input FC
    for block in model.res_blocks:
        h = h + tf.nn.leaky_relu(block.dense_b(tf.nn.leaky_relu(block.dense_a(h), 0.2)), 0.2)
    np.testing.assert_allclose(model(x).numpy(), model.fc_out(h).numpy(), atol=1e-5)


def test_factory():
    cfg = load_config("tiny")
    model = factory.build_pose_encoder(cfg)
    assert model(_pose_vectors()).shape == (3, cfg.model.pose_embedding_dim)
