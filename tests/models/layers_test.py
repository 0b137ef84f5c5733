"""Shared layers (SPEC 0.3, 2.1, 2.3, 2.7)."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.models import layers
from dpig_tf.testing import test_case


def _x(shape, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype("float32")


def test_conv3_is_slim_conv():
    conv = layers.conv3(8)
    conv.build((None, 5, 5, 3))
    assert conv.kernel.shape == (3, 3, 3, 8) and conv.padding == "same"
    assert conv.activation.__name__ == "relu"
    assert type(conv.kernel_initializer).__name__ == "GlorotUniform"
    np.testing.assert_array_equal(conv.bias.numpy(), 0.0)
    assert layers.conv3(8, strides=2).compute_output_shape((None, 5, 3, 4)) == (None, 3, 2, 8)


def test_residual_unit():
    x = _x((2, 6, 4, 5))
    unit = test_case.run_network_test(layers.ResidualUnit, {"channels": 5}, x,
                                      expected_output_shape=(2, 6, 4, 5),
                                      mixed_precision_dtype="bfloat16")
    expected = x + unit.conv_b(unit.conv_a(x)).numpy()
    np.testing.assert_allclose(unit(x).numpy(), expected, atol=1e-6)
    assert sum(int(np.prod(v.shape)) for v in unit.trainable_weights) == 2 * (9 * 25 + 5)
    with pytest.raises(ValueError, match="must be equal"):
        layers.ResidualUnit(4)(x)


def test_residual_trunk_shapes_and_skips():
    x = _x((2, 16, 8, 3))
    trunk = layers.ResidualTrunk(3, 3, return_skips=True)
    out, skips = trunk(x)
    assert out.shape == (2, 4, 2, 9)
    assert [tuple(s.shape) for s in skips] == [(2, 16, 8, 3), (2, 8, 4, 6), (2, 4, 2, 9)]
    test_case.run_network_test(layers.ResidualTrunk,
                               {"channels": 3, "stages": 3, "return_skips": False}, x,
                               expected_output_shape=(2, 4, 2, 9),
                               mixed_precision_dtype="bfloat16")


def test_residual_trunk_market_roi_count():
    # SPEC 7: ROI trunk (5 stages on n=128) + FC 5760 -> 32 = 22,308,384.
    trunk = layers.ResidualTrunk(128, 5)
    trunk.build((None, 48, 48, 128))
    n = sum(int(np.prod(v.shape)) for v in trunk.trainable_weights)
    assert n + 5760 * 32 + 32 == 22_308_384


def test_tile():
    e = _x((2, 5))
    ref = _x((2, 4, 3, 7))
    tile = test_case.run_network_test(layers.Tile, {}, [e, ref],
                                      expected_output_shape=(2, 4, 3, 5),
                                      mixed_precision_dtype="bfloat16")
    out = tile([e, ref]).numpy()
    np.testing.assert_array_equal(out, np.broadcast_to(e[:, None, None, :], (2, 4, 3, 5)))


def test_residual_dense():
    x = _x((3, 6))
    block = test_case.run_network_test(layers.ResidualDense,
                                       {"units": 6, "negative_slope": 0.2,
                                        "kernel_initializer": "he_uniform"},
                                       x, expected_output_shape=(3, 6),
                                       mixed_precision_dtype="bfloat16")
    h = tf.nn.leaky_relu(block.dense_a(x), 0.2)
    expected = x + tf.nn.leaky_relu(block.dense_b(h), 0.2).numpy()
    np.testing.assert_allclose(block(x).numpy(), expected, atol=1e-6)
    assert type(block.dense_a.kernel_initializer).__name__ == "HeUniform"
    with pytest.raises(ValueError, match="must be equal"):
        layers.ResidualDense(4)(x)
