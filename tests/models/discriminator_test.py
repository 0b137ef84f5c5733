"""Discriminator (SPEC 2.4, 2.8, 8.2 #7)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.config_io import load_config
from dpig_tf.models import factory
from dpig_tf.models.discriminator import Discriminator
from dpig_tf.testing import test_case
from dpig_tf.training import runtime


def _images(batch=4, height=32, width=16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, height, width, 3)).astype("float32")
    x[batch // 2:] += 2.0  # the two halves have different statistics
    return x


def test_basics():
    test_case.run_network_test(Discriminator, {"dim": 4, "head": "flatten", "chunk_size": 1024},
                               _images(), expected_output_shape=(4, 1))


def test_batch_statistics_in_every_call():
    x = _images()
    model = Discriminator(dim=4)
    full = model(x, training=False).numpy()
    # Same in a training call and in graph mode: no moving statistics are used.
    np.testing.assert_allclose(model(x, training=True).numpy(), full, atol=1e-6)
    np.testing.assert_allclose(tf.function(lambda t: model(t, training=False))(x).numpy(), full,
                               atol=1e-6)
    # A sample's logit depends on the rest of its batch (batch statistics) ...
    halves = np.concatenate([model(x[:2], training=False), model(x[2:], training=False)])
    assert np.abs(halves - full).max() > 1e-3
    # ... and not on the moving averages, even if they are garbage.
    for bn in model.norms:
        bn.moving_mean.assign(np.full(bn.moving_mean.shape, 100.0, np.float32))
        bn.moving_variance.assign(np.full(bn.moving_variance.shape, 1e-3, np.float32))
    np.testing.assert_allclose(model(x, training=False).numpy(), full, atol=1e-6)
    # BN matches batch moments with epsilon 1e-5.
    bn = model.norms[0]
    assert bn.epsilon == 1e-5 and bn.synchronized
    h = tf.nn.leaky_relu(model.convs[0](x), 0.2)
    h = model.convs[1](h)
    mean, var = tf.nn.moments(h, axes=[0, 1, 2])
    expected = (h - mean) / tf.sqrt(var + 1e-5) * bn.gamma + bn.beta
    np.testing.assert_allclose(bn(h, training=True).numpy(), expected.numpy(), atol=1e-4)


def test_init_and_counts():
    model = Discriminator(dim=64)
    model.build((None, 128, 64, 3))
    limit = 0.02 * math.sqrt(3)
    for layer in model.convs + [model.logits]:
        k = layer.kernel.numpy()
        assert np.abs(k).max() <= limit
        assert abs(k.std() - 0.02) < 2e-3
        np.testing.assert_array_equal(layer.bias.numpy(), 0.0)
    assert sum(int(np.prod(v.shape)) for v in model.trainable_weights) == 4_324_737
    assert sum(int(np.prod(v.shape)) for v in model.non_trainable_weights) == 1_792


def test_channel_chunks_head_replicates_nchw_reshape():
    # 256x256 at dim 4: final map 16x16x32 = 8192 values, rows of 1024 -> 8 logits.
    x = _images(batch=2, height=256, width=256)
    model = Discriminator(dim=4, head="channel_chunks", chunk_size=1024)
    out = model(x).numpy()
    assert out.shape == (2, 8)
    h = tf.nn.leaky_relu(model.convs[0](x), 0.2)
    for conv, bn in zip(model.convs[1:], model.norms):
        h = tf.nn.leaky_relu(bn(conv(h), training=True), 0.2)
    rows = tf.reshape(tf.transpose(h, (0, 3, 1, 2)), (-1, 1024))  # NCHW rows: 4 channels each
    expected = tf.reshape(model.logits(rows), (2, 8)).numpy()
    np.testing.assert_allclose(out, expected, atol=1e-5)
    with pytest.raises(ValueError, match="not a multiple of chunk_size"):
        Discriminator(dim=4, head="channel_chunks", chunk_size=3000)(x)


def test_channel_chunks_on_market_size_is_flatten_with_permuted_weights():
    x = _images(batch=2, height=128, width=64)
    chunks = Discriminator(dim=4, head="channel_chunks", chunk_size=8 * 4 * 32)
    flat = Discriminator(dim=4, head="flatten")
    chunks.build(x.shape)
    flat.build(x.shape)
    flat.set_weights(chunks.get_weights())
    w = chunks.logits.kernel.numpy().reshape(32, 8, 4)  # rows in (C, H, W) order
    flat.logits.kernel.assign(w.transpose(1, 2, 0).reshape(-1, 1))  # to (H, W, C) order
    np.testing.assert_allclose(chunks(x).numpy(), flat(x).numpy(), atol=1e-5)


def test_five_conv_head():
    x = _images(batch=2, height=256, width=256)
    model = test_case.run_network_test(Discriminator, {"dim": 4, "head": "five_conv",
                                                      "chunk_size": 1024},
                                       x, expected_output_shape=(2, 1))
    assert len(model.convs) == 5 and len(model.norms) == 4
    assert model.logits.kernel.shape == (8 * 8 * 32, 1)


def test_bad_head():
    with pytest.raises(ValueError, match="head must be one of"):
        Discriminator(head="patch")


@pytest.mark.distributed
def test_synchronized_bn_under_mirrored_strategy_equals_single_device():
    devices = tf.config.list_logical_devices("CPU")
    if len(devices) < 2:
        pytest.skip("needs 2 logical CPU devices (tests/conftest.py)")
    x = _images(batch=4)
    single = Discriminator(dim=4)
    expected = single(x).numpy()
    strategy = runtime.mirrored_strategy([d.name for d in devices[:2]])
    with strategy.scope():
        mirrored = Discriminator(dim=4)
        mirrored.build(x.shape)
    mirrored.set_weights(single.get_weights())
    dataset = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensor_slices(x).batch(4))

    @tf.function
    def run(batch):
        return strategy.run(lambda t: mirrored(t, training=True), args=(batch,))

    out = run(next(iter(dataset)))
    got = np.concatenate([t.numpy() for t in strategy.experimental_local_results(out)])
    # Each replica sees 2 images of different statistics, but BN uses the global batch.
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.parametrize("name", ["tiny", "demo"])
def test_factory_configs(name):
    cfg = load_config(name)
    model = factory.build_discriminator(cfg)
    x = _images(batch=2, height=cfg.data.image_height, width=cfg.data.image_width)
    assert model(x).shape == (2, 1)
