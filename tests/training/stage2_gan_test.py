"""Stage2GAN: WGAN step order, weight clipping, frozen Stage-I nets, RMSProp slots."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import config_io
from dpig_tf.data import pose_tf
from dpig_tf.models import factory
from dpig_tf.training.stage2_gan import Stage2GAN
from dpig_tf.training.stage2_gan import build_rmsprop
from dpig_tf.training.stage2_gan import make_rmsprop
from dpig_tf.training import runtime

CRITIC_STEPS = 5
BATCH = 4  # critic batch; a train_step batch holds CRITIC_STEPS x BATCH examples


def _batch(cfg, n, seed=0):
    rng = np.random.default_rng(seed)
    h, w = cfg.data.image_height, cfg.data.image_width
    kp = np.zeros((n, 18, 3), "float32")
    kp[:, :, 0] = rng.integers(0, h, (n, 18))
    kp[:, :, 1] = rng.integers(0, w, (n, 18))
    kp[:, :, 2] = 1.0
    kp = tf.constant(kp)
    boxes, vis = pose_tf.roi_boxes(kp, h, w, dataset=cfg.data.dataset)
    return {"image": tf.constant(rng.uniform(-1, 1, (n, h, w, 3)).astype("float32")),
            "pose_mask": pose_tf.pose_mask(kp, h, w, cfg.data.mask_radius),
            "roi_boxes": boxes, "roi_vis": vis, "pose_vector": pose_tf.pose_vector(kp, h, w)}


def _values(variables):
    return [v.numpy().copy() for v in variables]


def _changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def _gan(cfg, loss="wgan", pose_only=False, critic_steps=CRITIC_STEPS):
    mappings = factory.build_mapping_networks(cfg)
    critics = factory.build_critics(cfg)
    if pose_only:
        mappings, critics = {"pose": mappings["pose"]}, {"pose": critics["pose"]}
    gan = Stage2GAN(mappings, critics,
                    encoder=None if pose_only else factory.build_encoder(cfg),
                    pose_encoder=factory.build_pose_encoder(cfg),
                    foreground_dim=cfg.model.foreground_dim, noise_std=cfg.stage2.noise_std,
                    critic_steps=critic_steps, loss=loss, clip_value=cfg.stage2.clip_value)
    gan.build_all()
    s2 = cfg.stage2
    m_opt = {f: make_rmsprop(s2.learning_rate, s2.rho, s2.epsilon, s2.lr_decay_steps)
             for f in gan.factors}
    c_opt = {f: make_rmsprop(s2.learning_rate, s2.rho, s2.epsilon, s2.lr_decay_steps,
                             critic_steps) for f in gan.factors}
    gan.compile(m_opt, c_opt)
    for f in gan.factors:
        build_rmsprop(m_opt[f], mappings[f].trainable_variables, s2.rmsprop_initial_accumulator)
        build_rmsprop(c_opt[f], critics[f].trainable_variables, s2.rmsprop_initial_accumulator)
    return gan


@pytest.fixture(scope="module")
def cfg():
    return config_io.load_config("tiny", ["stage2.learning_rate=0.01"])


def test_critic_step_clips_and_leaves_mapping_and_frozen_nets(cfg):
    gan = _gan(cfg)
    assert gan.factors == ("foreground", "background", "pose")
    # TF1 RMSProp accumulator starts at 1.0.
    for f in gan.factors:
        for slot in gan.critic_optimizers[f]._velocities:
            np.testing.assert_array_equal(slot.numpy(), 1.0)
    frozen = gan.encoder.weights + gan.pose_encoder.weights
    mapping_vars = [v for f in gan.factors for v in gan.mappings[f].trainable_variables]
    critic_vars = [v for f in gan.factors for v in gan.critics[f].trainable_variables]
    frozen0, mapping0, critic0 = _values(frozen), _values(mapping_vars), _values(critic_vars)

    # Eager (tracing the unrolled 3 x 5 critic updates costs more than running them here;
    # the tf.function / strategy path is covered by test_mirrored_strategy_step and
    # tests/apps/stage2_chain_test.py).
    logs = gan.train_step(_batch(cfg, CRITIC_STEPS * BATCH), update_mapping=False)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert not any(_changed(frozen0, frozen))
    assert not any(_changed(mapping0, mapping_vars))  # step 0: no mapping update
    # Every critic kernel moved (the output bias cancels in mean D(fake) - mean D(real)).
    assert all(c for c, v in zip(_changed(critic0, critic_vars), critic_vars)
               if "kernel" in v.path)
    for v in critic_vars:  # clipped after every critic step
        assert np.abs(v.numpy()).max() <= cfg.stage2.clip_value + 1e-7
    # Five critic updates per step, one per slice of the batch.
    for f in gan.factors:
        assert int(gan.critic_optimizers[f].iterations.numpy()) == CRITIC_STEPS
        assert int(gan.mapping_optimizers[f].iterations.numpy()) == 0

    gan.train_step(_batch(cfg, CRITIC_STEPS * BATCH, seed=1))
    assert not any(_changed(frozen0, frozen))
    assert all(_changed(mapping0, mapping_vars))
    for v in critic_vars:
        assert np.abs(v.numpy()).max() <= cfg.stage2.clip_value + 1e-7
    for f in gan.factors:
        assert int(gan.critic_optimizers[f].iterations.numpy()) == 2 * CRITIC_STEPS
        assert int(gan.mapping_optimizers[f].iterations.numpy()) == 1


def test_mapping_step_changes_only_mapping_variables(cfg):
    gan = _gan(cfg)
    everything = (gan.encoder.weights + gan.pose_encoder.weights
                  + [v for f in gan.factors for v in gan.critics[f].weights])
    before = _values(everything)
    for f in gan.factors:
        m_before = _values(gan.mappings[f].trainable_variables)
        gan._mapping_step(f, BATCH, 1)
        assert all(_changed(m_before, gan.mappings[f].trainable_variables))
    assert not any(_changed(before, everything))


def test_wgan_gp_option_trains_without_clipping(cfg):
    gan = _gan(cfg, loss="wgan_gp", pose_only=True)
    # Start with large critic weights: GP training must not clip them to 0.01.
    for v in gan.critics["pose"].trainable_variables:
        v.assign(tf.fill(v.shape, 0.05))
    batch = {"pose_vector": _batch(cfg, CRITIC_STEPS * BATCH)["pose_vector"]}
    logs = gan.train_step(batch)
    assert all(np.isfinite(float(v)) for v in logs.values())
    assert max(np.abs(v.numpy()).max() for v in gan.critics["pose"].trainable_variables) > 0.02


def test_pose_only_gan_needs_only_pose_vectors(cfg):
    mappings = factory.build_mapping_networks(cfg)
    critics = factory.build_critics(cfg)
    gan = Stage2GAN({"pose": mappings["pose"]}, {"pose": critics["pose"]},
                    pose_encoder=factory.build_pose_encoder(cfg), critic_steps=CRITIC_STEPS)
    gan.compile({"pose": make_rmsprop(1e-3)}, {"pose": make_rmsprop(1e-3)})
    batch = {"pose_vector": _batch(cfg, CRITIC_STEPS * BATCH)["pose_vector"]}
    logs = gan.train_step(batch)
    assert set(logs) == {"pose_critic_loss", "pose_mapping_loss", "pose_wasserstein"}
    with pytest.raises(ValueError, match="need the Stage-I encoder"):
        Stage2GAN({"foreground": mappings["foreground"]}, {"foreground": critics["foreground"]})


@pytest.mark.distributed
def test_mirrored_strategy_step(cfg):
    cpus = tf.config.list_logical_devices("CPU")
    if len(cpus) < 2:
        pytest.skip("needs 2 logical CPU devices (tests/conftest.py)")
    strategy = runtime.mirrored_strategy([d.name for d in cpus[:2]])
    with strategy.scope():
        gan = _gan(cfg, pose_only=True, critic_steps=2)
    data = {"pose_vector": _batch(cfg, 2 * 2 * BATCH)["pose_vector"]}
    dist = strategy.experimental_distribute_dataset(
        tf.data.Dataset.from_tensors(data).unbatch().batch(2 * 2 * BATCH))

    @tf.function
    def step(b):
        return strategy.run(gan.train_step, args=(b,))

    before = [v.numpy().copy() for v in gan.mappings["pose"].trainable_variables]
    for b in dist:
        step(b)
    assert int(gan.step.numpy()) == 1
    assert all(not np.array_equal(a, v.numpy())
               for a, v in zip(before, gan.mappings["pose"].trainable_variables))
    for f in gan.factors:
        for v in gan.critics[f].trainable_variables:
            assert np.abs(v.numpy()).max() <= cfg.stage2.clip_value + 1e-7
