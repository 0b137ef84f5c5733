"""RoiCrop: the gather rewrite matches tf.image.crop_and_resize (SPEC 8.1, STACK 3.4)."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.models.roi_crop import RoiCrop
from dpig_tf.testing import test_case


def _features_and_boxes(seed=0, batch=3, height=13, width=9, channels=5, boxes=7):
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(batch, height, width, channels)).astype("float32")
    b = rng.uniform(-0.4, 1.4, size=(batch, boxes, 4)).astype("float32")  # many outside
    # The original's special cases: a missing ROI is the pixel box [0, 0, 1, 1]
    # normalised by H and W; plus empty, flipped, whole-image and exact-edge boxes.
    b[0, 0] = [0, 0, 1 / height, 1 / width]
    b[0, 1] = [0, 0, 0, 0]
    b[0, 2] = [1, 1, 0, 0]
    b[0, 3] = [0, 0, 1, 1]
    b[0, 4] = [(height - 1) / height, (width - 1) / width, 1, 1]
    b[0, 5] = [0.5, 0.5, 0.5, 0.5]
    b[0, 6] = [-1, -1, 2, 2]
    if batch > 1:
        b[1, 2] = [2 / height, 1 / width, 11 / height, 8 / width]  # a typical pixel box
    return features, b


def _reference(features, boxes, size):
    b, k = boxes.shape[:2]
    return tf.image.crop_and_resize(features, boxes.reshape(-1, 4), np.repeat(np.arange(b), k),
                                    (size, size), method="bilinear", extrapolation_value=0)


@pytest.mark.parametrize("size", [1, 2, 3, 8, 48])
def test_gather_matches_crop_and_resize(size):
    features, boxes = _features_and_boxes(seed=size)
    expected = _reference(features, boxes, size).numpy()
    got = RoiCrop(size, method="gather")([features, boxes]).numpy()
    tf_got = RoiCrop(size, method="tf")([features, boxes]).numpy()
    np.testing.assert_array_equal(tf_got, expected)
    assert got.shape == (3 * 7, size, size, 5)
    np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0)
    # Boxes reaching outside the image really produce zero rows/columns.
    assert np.any(expected == 0.0)


def test_gather_matches_in_graph_mode_and_many_random_boxes():
    features, _ = _features_and_boxes(batch=4, height=32, width=16, channels=3)
    rng = np.random.default_rng(7)
    boxes = rng.uniform(-0.2, 1.2, size=(4, 50, 4)).astype("float32")
    layer = RoiCrop(16, method="gather")
    expected = _reference(features, boxes, 16).numpy()
    np.testing.assert_allclose(layer([features, boxes]).numpy(), expected, atol=1e-5, rtol=0)
    # In a tf.function grappler folds the constant chain (y2-y1)*(H-1)/(s-1) into
    # one multiplier, moving sample positions by a few float32 ulps (<1e-5 px),
    # so values move by up to ~|d feature/d pixel| * 1e-5.
    got = tf.function(lambda f, b: layer([f, b]))(features, boxes).numpy()
    np.testing.assert_allclose(got, expected, atol=5e-5, rtol=0)


def test_unmerged_layout_and_order():
    features, boxes = _features_and_boxes()
    merged = RoiCrop(4)([features, boxes]).numpy()
    split = RoiCrop(4, merge_boxes=False)([features, boxes]).numpy()
    assert split.shape == (3, 7, 4, 4, 5)
    # Image-major: the 7 crops of image 0 come first.
    np.testing.assert_array_equal(split.reshape(21, 4, 4, 5), merged)


def test_method_switch_after_construction_and_errors():
    features, boxes = _features_and_boxes()
    layer = RoiCrop(6)
    tf_out = layer([features, boxes]).numpy()
    layer.method = "gather"
    assert layer.get_config()["method"] == "gather"
    np.testing.assert_allclose(layer([features, boxes]).numpy(), tf_out, atol=1e-5)
    with pytest.raises(ValueError, match="method must be one of"):
        layer.method = "nearest"
    with pytest.raises(ValueError, match="method must be one of"):
        RoiCrop(6, method="bicubic")


def test_gather_graph_has_no_crop_and_resize_op():
    features, boxes = _features_and_boxes()
    layer = RoiCrop(6, method="gather")
    fn = tf.function(lambda f, b: layer([f, b]))
    graph = fn.get_concrete_function(tf.TensorSpec(features.shape),
                                     tf.TensorSpec(boxes.shape)).graph
    op_types = {op.type for op in graph.get_operations()}
    assert "CropAndResize" not in op_types
    assert "GatherV2" in op_types


def test_gather_converts_to_tflite_builtins():
    features, boxes = _features_and_boxes(batch=1)
    layer = RoiCrop(4, method="gather")

    @tf.function(input_signature=[tf.TensorSpec(features.shape), tf.TensorSpec(boxes.shape)])
    def crop(f, b):
        return layer([f, b])

    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [crop.get_concrete_function()], layer)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    model = converter.convert()  # raises if any op is not a builtin
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    interpreter.allocate_tensors()
    ins = interpreter.get_input_details()
    by_shape = {tuple(d["shape"]): d["index"] for d in ins}
    interpreter.set_tensor(by_shape[features.shape], features)
    interpreter.set_tensor(by_shape[boxes.shape], boxes)
    interpreter.invoke()
    out = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    np.testing.assert_allclose(out, _reference(features, boxes, 4).numpy(), atol=1e-5)


@pytest.mark.parametrize("method", ["tf", "gather"])
def test_layer_basics(method):
    features, boxes = _features_and_boxes()
    test_case.run_network_test(
        RoiCrop, {"crop_size": 4, "method": method, "merge_boxes": True}, [features, boxes],
        expected_output_shape=(21, 4, 4, 5), check_mixed_precision=False,
        atol=5e-5 if method == "gather" else 1e-6)


@pytest.mark.parametrize("method", ["tf", "gather"])
def test_bfloat16_features_keep_dtype(method):
    features, boxes = _features_and_boxes()
    out = RoiCrop(5, method=method)([tf.cast(features, tf.bfloat16), boxes])
    assert out.dtype == tf.bfloat16
    ref = _reference(tf.cast(tf.cast(features, tf.bfloat16), tf.float32), boxes, 5)
    np.testing.assert_allclose(tf.cast(out, tf.float32).numpy(), ref.numpy(), atol=2e-2)
