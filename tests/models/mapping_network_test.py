"""MappingNetwork: exact SPEC 7 parameter counts, shapes, serialization."""

import numpy as np
import pytest

import keras

from dpig_tf.models.mapping_network import MappingNetwork


def _count(d, h, blocks=4):
    # FC d->h, blocks x 2 x FC h->h, FC h->d (weights + biases).
    return (d * h + h) + blocks * 2 * (h * h + h) + (h * d + d)


@pytest.mark.parametrize("dim,hidden,expected", [
    (224, 512, 2_331_360),  # Phi_F, SPEC 7: 2.33 M
    (128, 256, 592_256),    # Phi_B, SPEC 7: 0.59 M
    (32, 512, 2_134_560),   # Phi_P, SPEC 7: 2.13 M
])
def test_parameter_counts_match_spec_table(dim, hidden, expected):
    net = MappingNetwork(dim, hidden, blocks=4)
    net.build((None, dim))
    assert net.count_params() == expected == _count(dim, hidden)
    assert len(net.trainable_weights) == 2 * (1 + 2 * 4 + 1)


def test_forward_shape_and_residual_structure():
    net = MappingNetwork(8, 16, blocks=2)
    z = np.random.default_rng(0).normal(0, 0.2, (5, 8)).astype("float32")
    out = keras.ops.convert_to_numpy(net(z))
    assert out.shape == (5, 8)
    # With every block's second FC zeroed the blocks are identities: out = W_o lrelu(W_i z).
    for block in net.residual_blocks:
        fc2 = block.dense_b
        fc2.kernel.assign(np.zeros(fc2.kernel.shape, "float32"))
        fc2.bias.assign(np.zeros(fc2.bias.shape, "float32"))
    h = z @ keras.ops.convert_to_numpy(net.input_fc.kernel)
    h = np.where(h > 0, h, 0.2 * h)
    expected = h @ keras.ops.convert_to_numpy(net.output_fc.kernel)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(net(z)), expected, atol=1e-5)


def test_serialization_round_trip(tmp_path):
    net = MappingNetwork(8, 16, blocks=2, name="fg_mapping")
    z = np.ones((2, 8), "float32")
    ref = keras.ops.convert_to_numpy(net(z))
    assert net.get_config() == {"dim": 8, "hidden": 16, "blocks": 2, "name": "fg_mapping"}
    path = tmp_path / "m.keras"
    net.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(loaded(z)), ref, atol=0)
