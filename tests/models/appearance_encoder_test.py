"""AppearanceEncoder (SPEC 2.1, 2.8)."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.config_io import load_config
from dpig_tf.models import factory
from dpig_tf.models.appearance_encoder import AppearanceEncoder
from dpig_tf.testing import test_case

TINY = dict(channels=4, num_parts=7, part_dim=4, roi_size=8, roi_stages=2, background=True,
            background_dim=8, background_stages=3, foreground_encoder="roi", crop_method="tf")


def _reference(model, inputs):
    """The SPEC 2.1 data flow written out with the model's own sub-layers."""
    image = tf.constant(inputs["image"])
    b, h, w = inputs["image"].shape[:3]
    feats = model.stem_res(model.stem_conv(image))
    fg = feats * inputs["pose_mask"] if model.background else feats
    boxes = inputs["roi_boxes"] / np.array([h, w, h, w], np.float32)  # by H and W, not H-1
    codes = []
    for r in range(model.num_parts):
        crop = tf.image.crop_and_resize(fg, boxes[:, r], np.arange(b), (model.roi_size,) * 2,
                                        extrapolation_value=0)
        code = model.roi_fc(model.roi_flatten(model.roi_trunk(crop)))
        codes.append(code * inputs["roi_vis"][:, r:r + 1])
    parts = [tf.concat(codes, axis=-1)]
    if model.background:
        bg = feats * (1.0 - inputs["pose_mask"])
        parts.append(model.bg_fc(model.bg_flatten(model.bg_trunk(bg))))
    return tf.concat(parts, axis=-1).numpy()


def test_basics():
    inputs = test_case.random_encoder_inputs(2, 32, 16)
    test_case.run_network_test(AppearanceEncoder, TINY, inputs, expected_output_shape=(2, 36))


def test_matches_spec_data_flow_fg_first_in_roi_order():
    inputs = test_case.random_encoder_inputs(3, 32, 16, seed=1)
    model = AppearanceEncoder(**TINY)
    out = model(inputs).numpy()
    np.testing.assert_allclose(out, _reference(model, inputs), atol=1e-5)
    # Missing ROI (vis 0) gives an all-zero code; foreground first, background last.
    np.testing.assert_array_equal(out[:, 24:28], 0.0)
    assert np.abs(out[:, 28:]).sum() > 0


def test_roi_code_depends_only_on_its_own_box():
    inputs = test_case.random_encoder_inputs(2, 32, 16, seed=2)
    model = AppearanceEncoder(**TINY)
    base = model(inputs).numpy()
    moved = dict(inputs, roi_boxes=inputs["roi_boxes"].copy())
    moved["roi_boxes"][:, 3] = [4, 2, 28, 14]
    out = model(moved).numpy()
    changed = np.abs(out - base).reshape(2, -1).max(axis=0) > 0
    assert changed[12:16].all() and not changed[:12].any() and not changed[16:].any()


def test_no_background_branch_deepfashion():
    kwargs = dict(TINY, background=False)
    inputs = test_case.random_encoder_inputs(2, 32, 16)
    model = test_case.run_network_test(AppearanceEncoder, kwargs, inputs,
                                       expected_output_shape=(2, 28))
    np.testing.assert_allclose(model(inputs).numpy(), _reference(model, inputs), atol=1e-5)
    # No mask split: the mask is ignored and may be absent.
    no_mask = {k: v for k, v in inputs.items() if k != "pose_mask"}
    np.testing.assert_allclose(model(no_mask).numpy(), model(inputs).numpy(), atol=1e-6)
    assert not hasattr(model, "bg_trunk")


def test_whole_body_ablation():
    kwargs = dict(TINY, foreground_encoder="whole_body")
    inputs = test_case.random_encoder_inputs(2, 32, 16)
    model = test_case.run_network_test(AppearanceEncoder, kwargs, inputs,
                                       expected_output_shape=(2, 36))
    assert model.roi_fc.kernel.shape[-1] == 28  # one code for the 7 x 4 dims
    # ROI boxes and visibilities are not used.
    other = dict(inputs, roi_boxes=inputs["roi_boxes"] * 0.5, roi_vis=0 * inputs["roi_vis"])
    np.testing.assert_allclose(model(other).numpy(), model(inputs).numpy(), atol=1e-6)
    # It equals the trunk on the whole masked foreground resized to roi_size.
    feats = model.stem_res(model.stem_conv(inputs["image"])) * inputs["pose_mask"]
    whole = tf.image.crop_and_resize(feats, [[0, 0, 1, 1]] * 2, [0, 1], (8, 8))
    code = model.roi_fc(model.roi_flatten(model.roi_trunk(whole))).numpy()
    np.testing.assert_allclose(model(inputs).numpy()[:, :28], code, atol=1e-5)


def test_crop_method_switch_keeps_outputs():
    inputs = test_case.random_encoder_inputs(2, 32, 16, seed=3)
    model = AppearanceEncoder(**TINY)
    a = model(inputs).numpy()
    model.crop_method = "gather"
    assert model.get_config()["crop_method"] == "gather"
    np.testing.assert_allclose(model(inputs).numpy(), a, atol=1e-5)


def test_bad_inputs_are_clear_errors():
    model = AppearanceEncoder(**TINY)
    inputs = test_case.random_encoder_inputs(2, 32, 16)
    with pytest.raises(ValueError, match="lacks \\['pose_mask'\\]"):
        model({k: v for k, v in inputs.items() if k != "pose_mask"})
    with pytest.raises(ValueError, match="roi_boxes must be"):
        model(dict(inputs, roi_boxes=inputs["roi_boxes"][:, :5]))
    with pytest.raises(ValueError, match="expects a dict"):
        model(inputs["image"])
    with pytest.raises(ValueError, match="foreground_encoder"):
        AppearanceEncoder(**dict(TINY, foreground_encoder="parts"))
    with pytest.raises(ValueError, match="cannot be halved"):
        AppearanceEncoder(**dict(TINY, roi_size=6, roi_stages=3))


@pytest.mark.parametrize("name", ["tiny", "demo"])
def test_factory_configs(name):
    cfg = load_config(name)
    model = factory.build_encoder(cfg)
    assert model.built
    inputs = test_case.random_encoder_inputs(2, cfg.data.image_height, cfg.data.image_width)
    assert model(inputs).shape == (2, cfg.model.embedding_dim)
    assert factory.build_encoder(cfg, crop_method="gather").crop_method == "gather"
