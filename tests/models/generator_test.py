"""Generator U-Net (SPEC 2.2, 2.3)."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.config_io import load_config
from dpig_tf.models import factory
from dpig_tf.models.generator import Generator
from dpig_tf.testing import test_case

TINY = dict(channels=4, stages=3, bottleneck_dim=8, output_channels=3)


def _inputs(batch=2, emb=36, height=32, width=16, seed=0):
    rng = np.random.default_rng(seed)
    e = rng.normal(size=(batch, emb)).astype("float32")
    p = np.where(rng.uniform(size=(batch, height, width, 18)) < 0.1, 1.0, -1.0).astype("float32")
    return [e, p]


def _reference(model, inputs):
    """SPEC 2.3 written out with the model's own sub-layers."""
    e, p = inputs
    b, h, w = p.shape[:3]
    x = tf.concat([tf.broadcast_to(e[:, None, None, :], (b, h, w, e.shape[1])), p], -1)  # [e, P]
    x = model.conv_in(x)
    skips = []
    for k in range(model.stages):
        x = model.trunk.units[k](x)
        skips.append(x)
        if k < model.stages - 1:
            x = model.trunk.downs[k](x)
    x = model.fc_expand(model.fc_bottleneck(tf.reshape(x, (b, -1))))
    div = 2 ** (model.stages - 1)
    x = tf.reshape(x, (b, h // div, w // div, model.channels))
    for k in range(model.stages):
        x = tf.concat([x, skips[model.stages - 1 - k]], -1)  # [decoder, skip]
        x = model.dec_res[k](x)
        if k < model.stages - 1:
            x = tf.repeat(tf.repeat(x, 2, axis=1), 2, axis=2)  # nearest x2
            x = model.dec_conv[k](x)
    return model.conv_out(x).numpy()


def test_basics():
    test_case.run_network_test(Generator, TINY, _inputs(), expected_output_shape=(2, 32, 16, 3),
                               mixed_precision_dtype="float32")


def test_matches_spec_structure():
    inputs = _inputs(seed=1)
    model = Generator(**TINY)
    out = model(inputs).numpy()
    np.testing.assert_allclose(out, _reference(model, inputs), atol=1e-5)
    assert model.conv_in.kernel.shape == (3, 3, 36 + 18, 4)
    assert model.conv_out.activation.__name__ == "linear"
    assert model.fc_bottleneck.activation.__name__ == "linear"
    assert model.fc_expand.activation.__name__ == "linear"
    assert model.fc_expand.kernel.shape == (8, 8 * 4 * 4)  # 32x16 / 4 = 8x4 map of n


def test_market_widths():
    model = Generator(channels=128, stages=5, bottleneck_dim=64)
    assert model.decoder_widths == [768, 1024, 768, 512, 256]


def test_output_float32_under_mixed_precision():
    with test_case.dtype_policy("mixed_bfloat16"):
        model = Generator(**TINY)
        out = model(_inputs())
    assert out.dtype == tf.float32
    assert model.conv_in.compute_dtype == "bfloat16"


def test_bad_size_is_a_clear_error():
    model = Generator(**TINY)
    with pytest.raises(ValueError, match="divisible by 4"):
        model(_inputs(height=30))


@pytest.mark.parametrize("name", ["tiny", "demo"])
def test_factory_configs(name):
    cfg = load_config(name)
    model = factory.build_generator(cfg)
    h, w = cfg.data.image_height, cfg.data.image_width
    out = model(_inputs(emb=cfg.model.embedding_dim, height=h, width=w))
    assert out.shape == (2, h, w, 3)
