"""The serving contract: specs per endpoint and clear input errors."""

import numpy as np
import pytest
import tensorflow as tf

from export import signatures as S

DIMS = S.ModelDims(height=32, width=16, foreground_dim=28, background_dim=8, pose_dim=8)
NO_BG = S.ModelDims(height=32, width=16, foreground_dim=28, background_dim=0, pose_dim=8)


def _good(dims, endpoint, batch=2):
    out = {}
    for name, spec in S.endpoint_specs(dims, endpoint).items():
        shape = [batch if d is None else d for d in spec.shape.as_list()]
        out[name] = np.zeros(shape, spec.dtype.as_numpy_dtype)
    return out


def test_specs_per_endpoint():
    assert list(S.endpoint_specs(DIMS, S.TRANSFER)) == ["image", "keypoints", "target_keypoints"]
    assert list(S.endpoint_specs(DIMS, S.ENCODE)) == ["image", "keypoints"]
    assert list(S.endpoint_specs(DIMS, S.DECODE)) == ["foreground", "background",
                                                      "target_keypoints"]
    assert list(S.endpoint_specs(NO_BG, S.DECODE)) == ["foreground", "target_keypoints"]
    assert list(S.endpoint_specs(DIMS, S.SAMPLE)) == [
        "image", "keypoints", "seed", "sample_foreground", "sample_background", "sample_pose"]
    assert "sample_background" not in S.endpoint_specs(NO_BG, S.SAMPLE)
    spec = S.endpoint_specs(DIMS, S.TRANSFER)["image"]
    assert spec.shape.as_list() == [None, 32, 16, 3] and spec.name == "image"
    assert S.endpoint_specs(DIMS, S.DECODE, batch_size=1)["foreground"].shape.as_list() == [1, 28]
    assert S.output_names(DIMS, S.ENCODE) == ("foreground", "background", "pose")
    with pytest.raises(S.SignatureInputError, match="unknown endpoint"):
        S.endpoint_specs(DIMS, "reconstruct")


@pytest.mark.parametrize("endpoint", S.ENDPOINTS)
def test_valid_inputs_pass_and_cast(endpoint):
    inputs = _good(DIMS, endpoint)
    if "image" in inputs:
        inputs["image"] = inputs["image"].astype(np.float64)  # JSON gives float64
    out = S.validate_inputs(S.endpoint_specs(DIMS, endpoint), inputs, endpoint)
    for name, spec in S.endpoint_specs(DIMS, endpoint).items():
        assert out[name].dtype == spec.dtype.as_numpy_dtype


@pytest.mark.parametrize("endpoint", S.ENDPOINTS)
def test_bad_inputs_name_the_problem(endpoint):
    specs = S.endpoint_specs(DIMS, endpoint)
    first = next(iter(specs))
    bad = _good(DIMS, endpoint)
    bad[first] = bad[first][..., :-1]  # wrong last dim
    with pytest.raises(S.SignatureInputError, match=f"endpoint '{endpoint}': input '{first}' "
                                                     r"has shape .* expected \(batch"):
        S.validate_inputs(specs, bad, endpoint)
    bad = _good(DIMS, endpoint)
    bad[first] = bad[first].astype(np.bool_) if specs[first].dtype != tf.bool else \
        bad[first].astype(np.float32)
    with pytest.raises(S.SignatureInputError, match=f"input '{first}' has dtype"):
        S.validate_inputs(specs, bad, endpoint)
    bad = _good(DIMS, endpoint)
    bad.pop(first)
    with pytest.raises(S.SignatureInputError, match=f"missing \\['{first}'\\]"):
        S.validate_inputs(specs, bad, endpoint)


@pytest.mark.parametrize("endpoint", [S.TRANSFER, S.ENCODE, S.DECODE, S.SAMPLE])
def test_keypoint_count_and_batch_mismatch(endpoint):
    specs = S.endpoint_specs(DIMS, endpoint)
    key = "target_keypoints" if "target_keypoints" in specs else "keypoints"
    bad = _good(DIMS, endpoint)
    bad[key] = np.zeros((2, 17, 3), np.float32)
    with pytest.raises(S.SignatureInputError, match="18 OpenPose/COCO joints.*got 17 joints"):
        S.validate_inputs(specs, bad, endpoint)
    bad = _good(DIMS, endpoint)
    bad[key] = np.zeros((3, 18, 3), np.float32)
    with pytest.raises(S.SignatureInputError, match="same batch"):
        S.validate_inputs(specs, bad, endpoint)
    bad = _good(DIMS, endpoint)
    bad[key][0, 0, 0] = np.nan
    with pytest.raises(S.SignatureInputError, match="NaN"):
        S.validate_inputs(specs, bad, endpoint)


def test_in_graph_batch_assert():
    @tf.function(input_signature=[tf.TensorSpec((None, 2), tf.float32, name="a"),
                                  tf.TensorSpec((None, 3), tf.float32, name="b")])
    def fn(a, b):
        with tf.control_dependencies(S.assert_same_batch({"a": a, "b": b}, "demo")):
            return tf.identity(a)

    fn(tf.zeros((2, 2)), tf.zeros((2, 3)))
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match="endpoint demo: inputs b and a must have the same batch size"):
        fn(tf.zeros((2, 2)), tf.zeros((1, 3)))
