"""Code-swap invariance (the demo's disentanglement aid): roles, swapped codes, loss regions,
and the Stage-I generator step that uses them."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import config_io
from dpig_tf.config import ConfigError
from dpig_tf.data import features
from dpig_tf.models import factory
from dpig_tf.training import code_swap
from dpig_tf.training import optimizers
from dpig_tf.training.stage1_gan import ENCODER_KEYS
from dpig_tf.training.stage1_gan import Stage1GAN

FG, BG = code_swap.FOREGROUND_SWAPPED, code_swap.BACKGROUND_SWAPPED


@pytest.mark.parametrize("n,expected", [(4, [FG, FG, BG, BG]), (3, [FG, FG, BG]), (1, [FG]),
                                        (0, [])])
def test_roles(n, expected):
    assert code_swap.roles(n).numpy().tolist() == expected


def test_swap_codes_takes_one_code_from_the_partner():
    embedding = np.arange(3 * 5, dtype=np.float32).reshape(3, 5)  # foreground = dims 0-2
    partner = -embedding - 1
    out = code_swap.swap_codes(tf.constant(embedding), tf.constant(partner),
                               tf.constant([FG, BG, FG]), foreground_dim=3).numpy()
    np.testing.assert_array_equal(out[0], np.concatenate([partner[0, :3], embedding[0, 3:]]))
    np.testing.assert_array_equal(out[1], np.concatenate([embedding[1, :3], partner[1, 3:]]))
    np.testing.assert_array_equal(out[2], np.concatenate([partner[2, :3], embedding[2, 3:]]))


def test_loss_region_keeps_off_the_mask_border():
    mask = np.zeros((2, 12, 10, 1), np.float32)
    mask[:, 3:9, 3:7] = 1  # a 6x4 block
    region = code_swap.loss_region(tf.constant(mask), tf.constant([FG, BG]), 1).numpy()
    grown = np.zeros((12, 10, 1), np.float32)
    grown[2:10, 2:8] = 1
    shrunk = np.zeros((12, 10, 1), np.float32)
    shrunk[4:8, 4:6] = 1
    np.testing.assert_array_equal(region[0], 1 - grown)  # foreground swapped: background only
    np.testing.assert_array_equal(region[1], shrunk)  # background swapped: person only
    no_margin = code_swap.loss_region(tf.constant(mask), tf.constant([FG, BG]), 0).numpy()
    np.testing.assert_array_equal(no_margin[0], 1 - mask[0])
    np.testing.assert_array_equal(no_margin[1], mask[1])


def _gan(cfg, fraction=0.5, masked_l1_weight=0.0):
    tf.keras.utils.set_random_seed(3)
    gan = Stage1GAN(factory.build_encoder(cfg), factory.build_generator(cfg),
                    factory.build_discriminator(cfg), l1_weight=cfg.stage1.l1_weight,
                    masked_l1_weight=masked_l1_weight, code_swap_fraction=fraction,
                    code_swap_margin=0)  # the tiny images' masks are too thin to shrink
    gan.compile(g_optimizer=optimizers.adam(2e-4, 0.5, 0.999, 1e-8, 1000),
                d_optimizer=optimizers.adam(2e-4, 0.5, 0.999, 1e-8, 1000))
    gan.build_optimizers()
    return gan


def test_swap_loss_is_the_change_a_swap_causes_where_the_kept_code_owns_the_pixels(
        tiny_cfg, tiny_batches):
    # 4 examples, 0 and 1 get a second, swapped decode. The tiny batch repeats its first image
    # (sampling follows the partner counts), so put the distinct one first: no partner is a copy.
    batch = {k: tf.gather(v, [3, 0, 1, 2]) for k, v in tiny_batches[0].items()}
    gan = _gan(tiny_cfg, masked_l1_weight=3.0)
    fake, swap_loss = gan._reconstruct_with_swaps(batch)
    plain = gan.reconstruct(batch).numpy()
    np.testing.assert_allclose(fake.numpy(), plain, atol=1e-5)  # the plain decodes unchanged
    e = gan.encoder({k: batch[k] for k in ENCODER_KEYS}).numpy()
    fg_dim = gan.encoder.num_parts * gan.encoder.part_dim
    mixed = np.stack([np.concatenate([e[3, :fg_dim], e[0, fg_dim:]]),  # 0: foreground of 3
                      np.concatenate([e[1, :fg_dim], e[0, fg_dim:]])])  # 1: background of 0
    swapped = gan.generator([tf.constant(mixed), batch[features.HEATMAPS][:2]]).numpy()
    mask = batch[features.POSE_MASK][:2].numpy()
    region = np.stack([1 - mask[0], mask[1]])
    # Pixel weights as in the reconstruction loss: l1_weight, plus masked_l1_weight in the mask.
    weights = gan.l1_weight + 3.0 * mask
    expected = (np.abs(swapped - plain[:2]) * region * weights).mean(axis=(1, 2, 3))
    assert expected.min() > 0
    np.testing.assert_allclose(swap_loss.numpy()[:2], expected, rtol=1e-4, atol=1e-7)
    assert swap_loss.numpy()[2:].tolist() == [0.0, 0.0]
    gan._generator_step(batch, adversarial=False)
    np.testing.assert_allclose(gan.swap_loss_tracker.result().numpy(), expected.sum() / 4,
                               rtol=1e-4)


def test_swap_loss_is_logged_only_when_swapping(tiny_cfg):
    assert "swap_loss" in [m.name for m in _gan(tiny_cfg, 0.5).metrics]
    assert "swap_loss" not in [m.name for m in _gan(tiny_cfg, 0.0).metrics]


def test_swapping_trains_encoder_and_generator(tiny_cfg, tiny_batches):
    gan = _gan(tiny_cfg, 0.5)
    before = [v.numpy().copy() for v in gan.generator_variables]
    step = tf.function(lambda b: gan.train_step(b))
    for _ in range(2):
        metrics = step(tiny_batches)
    assert all(np.isfinite(float(v)) for v in metrics.values()) and metrics["swap_loss"] > 0
    moved = [not np.array_equal(b, v.numpy()) for b, v in zip(before, gan.generator_variables)]
    assert np.mean(moved) > 0.9


def test_swapping_needs_a_background_code():
    cfg = config_io.load_config("tiny", ["model.background=false", "data.dataset=deepfashion"])
    with pytest.raises(ValueError, match="background code"):
        _gan(cfg, 0.5)


@pytest.mark.parametrize("overrides,message", [
    (["stage1.code_swap_fraction=1.5"], "stage1.code_swap_fraction must be in"),
    (["stage1.code_swap_weight=-1"], "stage1.code_swap_weight must be >= 0"),
    (["stage1.code_swap_margin=-1"], "stage1.code_swap_margin must be >= 0"),
    (["stage1.code_swap_ramp_steps=-1"], "stage1.code_swap_ramp_steps must be >= 0"),
    (["stage1.code_swap_start_step=-5"], "stage1.code_swap_start_step must be >= 0, got -5"),
    (["stage1.code_swap_fraction=0.5", "model.background=false", "data.dataset=deepfashion"],
     "needs model.background=true"),
])
def test_config_rejects_bad_swap_settings(overrides, message):
    with pytest.raises(ConfigError, match=message):
        config_io.load_config("tiny", overrides)


def test_swap_penalty_ramps_in(tiny_cfg, tiny_batches):
    batch = {k: tf.gather(v, [3, 0, 1, 2]) for k, v in tiny_batches[0].items()}
    gan = _gan(tiny_cfg)
    full = gan._reconstruct_with_swaps(batch)[1].numpy()
    gan.code_swap_ramp_steps = 100
    assert gan._reconstruct_with_swaps(batch)[1].numpy().tolist() == [0.0] * 4  # step 0
    gan.step.assign(25)
    np.testing.assert_allclose(gan._reconstruct_with_swaps(batch)[1].numpy(), full / 4, rtol=1e-5)
    gan.step.assign(400)
    np.testing.assert_allclose(gan._reconstruct_with_swaps(batch)[1].numpy(), full, rtol=1e-5)


def test_swap_penalty_starts_late(tiny_cfg, tiny_batches):
    batch = {k: tf.gather(v, [3, 0, 1, 2]) for k, v in tiny_batches[0].items()}
    gan = _gan(tiny_cfg)
    full = gan._reconstruct_with_swaps(batch)[1].numpy()
    assert full.max() > 0
    gan.code_swap_start_step = 50
    gan.step.assign(49)
    assert gan._reconstruct_with_swaps(batch)[1].numpy().tolist() == [0.0] * 4
    gan.step.assign(50)  # no ramp: full weight at once
    np.testing.assert_allclose(gan._reconstruct_with_swaps(batch)[1].numpy(), full, rtol=1e-5)
    gan.code_swap_ramp_steps = 100
    gan.step.assign(75)
    np.testing.assert_allclose(gan._reconstruct_with_swaps(batch)[1].numpy(), full / 4, rtol=1e-5)
    gan.step.assign(150)
    np.testing.assert_allclose(gan._reconstruct_with_swaps(batch)[1].numpy(), full, rtol=1e-5)
    assert Stage1GAN.from_config(gan.get_config()).code_swap_start_step == 50



def test_before_the_start_step_the_step_is_the_plain_one(tiny_cfg, tiny_batches):
    swapping, plain = _gan(tiny_cfg, 0.5), _gan(tiny_cfg, 0.0)  # same seed, same weights
    out = swapping.train_step(tiny_batches, swap_codes=False)
    reference = plain.train_step(tiny_batches)
    assert float(swapping.swap_loss_tracker.count) == 0.0  # no swapped decodes made
    np.testing.assert_allclose(float(out["g_loss"]), float(reference["g_loss"]), rtol=1e-5)
