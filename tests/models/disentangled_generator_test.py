"""DisentangledGenerator: in-graph encode/decode, the sampled-pose fix, loading from a run dir."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.models.disentangled_generator import MissingWeightsError
from dpig_tf.testing.run_dirs import write_untrained_run

LEFT_ARM_ROI, LEFT_ARM_JOINTS = 3, (5, 6, 7)  # SPEC 1.6


@pytest.fixture(scope="module")
def cfg():
    return config_io.load_config("tiny")


@pytest.fixture(scope="module")
def run_dir(cfg, tmp_path_factory):
    return write_untrained_run(cfg, tmp_path_factory.mktemp("dg") / "run")


@pytest.fixture(scope="module")
def model(run_dir):
    return DisentangledGenerator.from_run_dir(run_dir, require_stage2=True)


def _inputs(cfg, n=2, seed=0):
    rng = np.random.default_rng(seed)
    h, w = cfg.data.image_height, cfg.data.image_width
    kp = np.zeros((n, 18, 3), np.float32)
    kp[:, :, 0] = rng.integers(1, h - 1, (n, 18))
    kp[:, :, 1] = rng.integers(1, w - 1, (n, 18))
    kp[:, :, 2] = 1
    return rng.uniform(-1, 1, (n, h, w, 3)).astype(np.float32), kp


def test_encode_decode_transfer(cfg, model):
    image, kp = _inputs(cfg)
    codes = model.encode(image, kp)
    assert codes["foreground"].shape == (2, cfg.model.foreground_dim)
    assert codes["background"].shape == (2, cfg.model.background_dim)
    assert codes["pose"].shape == (2, cfg.model.pose_embedding_dim)
    target = kp[::-1].copy()
    out = model.transfer(image, kp, target).numpy()
    assert out.shape == (2, cfg.data.image_height, cfg.data.image_width, 3)
    np.testing.assert_allclose(
        out, model.decode(codes["foreground"], codes["background"], target).numpy(), atol=1e-5)


def test_body_region_without_visible_joint_has_zero_code(cfg, model):
    image, kp = _inputs(cfg)
    kp[0, list(LEFT_ARM_JOINTS)] = 0  # the left arm of image 0 is not visible
    fg = model.encode(image, kp)["foreground"].numpy()
    d = cfg.model.part_dim
    np.testing.assert_array_equal(fg[0, LEFT_ARM_ROI * d:(LEFT_ARM_ROI + 1) * d], 0.0)
    assert np.abs(fg[1, LEFT_ARM_ROI * d:(LEFT_ARM_ROI + 1) * d]).sum() > 0


def test_zero_visible_keypoints_documented_behaviour(cfg, model):
    # Documented: no mask and no visible region -> an all-zero foreground code; finite output.
    image, _ = _inputs(cfg, n=1)
    codes = model.encode(image, np.zeros((1, 18, 3), np.float32))
    np.testing.assert_array_equal(codes["foreground"].numpy(), 0.0)
    assert np.isfinite(codes["background"].numpy()).all()


def test_decode_pose_code_gives_pixel_keypoints(cfg, model):
    z = model.noise(3, 4, "pose")
    kp = model.decode_pose_code(model.pose_mapping(z)).numpy()
    assert kp.shape == (4, 18, 3)
    assert set(np.unique(kp[..., 2])) <= {0.0, 1.0}
    assert (kp[..., 0] <= cfg.data.image_height - 1).all() and (kp[..., 0] >= 0).all()
    assert (kp[..., 1] <= cfg.data.image_width - 1).all() and (kp[..., 1] >= 0).all()
    np.testing.assert_array_equal(kp[kp[..., 2] == 0], 0.0)


def test_sampled_pose_is_decoder_of_mapped_noise(cfg, model):
    """SPEC 3.4 / 8.2 #1: sampled pose = decoder(Phi_P(z)), not the real pose's code."""
    image, kp = _inputs(cfg)
    codes = model.encode(image, kp)
    outs = []
    for seed in (1, 2):
        z = model.noise(seed, 2, "pose")
        out = model.sample(noise={"pose": z}, sample_fg=False, sample_bg=False, sample_pose=True,
                           image=image, keypoints=kp).numpy()
        expected = model.decode_codes(codes["foreground"], codes["background"],
                                      model.pose_mapping(z)).numpy()
        np.testing.assert_allclose(out, expected, atol=1e-5)
        outs.append(out)
    assert np.abs(outs[0] - outs[1]).max() > 1e-3  # the output follows z_pose
    buggy = model.decode_codes(codes["foreground"], codes["background"], codes["pose"]).numpy()
    assert np.abs(outs[0] - buggy).max() > 1e-3


def test_sample_factors_and_tensor_flags(cfg, model):
    image, kp = _inputs(cfg)
    plain = model.transfer(image, kp, kp).numpy()
    # Nothing sampled = reconstruction with the real pose.
    same = model.sample(seed=0, sample_fg=False, sample_bg=False, sample_pose=False,
                        image=image, keypoints=kp).numpy()
    np.testing.assert_allclose(same, plain, atol=1e-5)
    fg_only = model.sample(seed=5, sample_fg=True, sample_bg=False, sample_pose=False,
                           image=image, keypoints=kp).numpy()
    assert np.abs(fg_only - plain).max() > 1e-3
    fn = tf.function(lambda s, a, b, p: model.sample(seed=s, sample_fg=a, sample_bg=b,
                                                     sample_pose=p, image=image, keypoints=kp))
    for flags in ((True, False, False), (False, True, True), (True, True, True)):
        eager = model.sample(seed=5, sample_fg=flags[0], sample_bg=flags[1],
                             sample_pose=flags[2], image=image, keypoints=kp).numpy()
        graph = fn(tf.constant(5), *[tf.constant(f) for f in flags]).numpy()
        np.testing.assert_allclose(graph, eager, atol=1e-5)
    everything = model.sample(seed=5, batch_size=3).numpy()
    np.testing.assert_array_equal(everything, model.sample(seed=5, batch_size=3).numpy())
    assert everything.shape[0] == 3
    with pytest.raises(ValueError, match="not sampled come from"):
        model.sample(seed=0, sample_fg=True, sample_bg=False, sample_pose=True, batch_size=2)


def test_from_run_dir_restores_every_weight(cfg, run_dir, model):
    # A second load (fresh random init before restore) must give identical weights:
    # no variable may keep its initial value.
    again = DisentangledGenerator.from_run_dir(run_dir, require_stage2=True)
    assert len(again.weights) == len(model.weights)
    for a, b in zip(model.weights, again.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run_dir / names.STAGE1_DIR)))
    key = next(k for k in reader.get_variable_to_shape_map()
               if k.startswith(names.GENERATOR + "/") and "kernel" in k)
    saved = reader.get_tensor(key)
    assert any(np.array_equal(saved, v.numpy()) for v in model.generator.weights)


def test_missing_stage2_weights_is_a_clear_error(cfg, tmp_path):
    run = write_untrained_run(cfg, tmp_path / "no_stage2", stage2=False)
    loaded = DisentangledGenerator.from_run_dir(run)  # fine without sampling
    assert not loaded.has_stage2
    with pytest.raises(MissingWeightsError, match="no Stage-II weights.*--stage=2"):
        DisentangledGenerator.from_run_dir(run, require_stage2=True)
    image, kp = _inputs(cfg)
    with pytest.raises(MissingWeightsError, match="mapping network"):
        loaded.sample(seed=0, image=image, keypoints=kp)


def test_directly_built_mapping_network_is_fully_checkpointed(cfg):
    from dpig_tf.models.disentangled_generator import untracked_weights
    from dpig_tf.models.mapping_network import MappingNetwork

    raw = MappingNetwork(cfg.model.foreground_dim, cfg.model.fg_mapping_hidden,
                         cfg.model.mapping_blocks)  # not via the factory
    raw.build((None, cfg.model.foreground_dim))
    ckpt = tf.train.Checkpoint(**{names.FG_MAPPING: raw})
    assert untracked_weights(ckpt, {names.FG_MAPPING: raw}) == []


def test_layers_in_lists_must_be_tracked(cfg, run_dir):
    import keras

    from dpig_tf.models.disentangled_generator import restore_networks

    class ListHolder(keras.Model):  # layers in a Python list: invisible to tf.train.Checkpoint
        def __init__(self):
            super().__init__()
            self.fcs = [keras.layers.Dense(4), keras.layers.Dense(4)]

        def call(self, x):
            for fc in self.fcs:
                x = fc(x)
            return x

    raw = ListHolder()
    raw(tf.zeros((1, 4)))
    with pytest.raises(MissingWeightsError, match="not tracked by tf.train.Checkpoint"):
        restore_networks(run_dir / names.STAGE2_DIR, "Stage-II", {names.FG_MAPPING: raw})


def test_checkpoint_of_another_architecture_is_a_clear_error(cfg, tmp_path):
    run = write_untrained_run(cfg, tmp_path / "arch", stage2=False)
    other = config_io.load_config("tiny", ["model.part_dim=6"])
    config_io.dump_config(other, run / names.CONFIG_FILE)
    with pytest.raises(MissingWeightsError, match="does not fit"):
        DisentangledGenerator.from_run_dir(run)


def test_keras_serialization_round_trip(cfg, model, tmp_path):
    image, kp = _inputs(cfg)
    ref = model.transfer(image, kp, kp).numpy()
    clone = DisentangledGenerator.from_config(model.get_config())
    clone.build_networks()
    clone.set_weights(model.get_weights())
    np.testing.assert_allclose(clone.transfer(image, kp, kp).numpy(), ref, atol=1e-6)
