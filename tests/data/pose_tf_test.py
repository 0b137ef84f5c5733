import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.data import pose
from dpig_tf.data import pose_tf

CASES = [  # (H, W, mask radius, heatmap radius, box rule)
    (128, 64, 7, 4, "market"),
    (128, 64, 4, 4, "market"),
    (256, 256, 8, 4, "deepfashion"),
    (32, 16, 2, 1, "market"),
]


def random_keypoints(rng, n, height, width, integer):
    kps = np.zeros((n, 18, 3), np.float32)
    kps[..., 0] = rng.uniform(0, height - 1, (n, 18))
    kps[..., 1] = rng.uniform(0, width - 1, (n, 18))
    if integer:  # CSV keypoints are integers
        kps[..., :2] = np.floor(kps[..., :2])
    vis = rng.random((n, 18)) < rng.uniform(0.3, 1.0, (n, 1))
    kps[..., 2] = vis
    kps[..., :2] *= vis[..., None]
    return kps


@pytest.mark.parametrize("height, width, mask_r, heat_r, rule", CASES)
@pytest.mark.parametrize("integer", [True, False])
def test_tf_equals_numpy(height, width, mask_r, heat_r, rule, integer):
    rng = np.random.default_rng([height, width, mask_r, int(integer)])
    n = 12 if height == 256 else 24
    kps = random_keypoints(rng, n, height, width, integer)
    kps[0, :, 2] = 0  # nobody
    kps[1, :, 2] = 1  # everybody, some joints on the border
    kps[1, :3, :2] = [[0, 0], [height - 1, width - 1], [0, width - 1]]
    masks = pose_tf.pose_mask(kps, height, width, mask_r).numpy()
    heat = pose_tf.keypoints_to_heatmaps(kps, height, width, heat_r).numpy()
    boxes, vis = pose_tf.roi_boxes(kps, height, width, rule)
    vec = pose_tf.pose_vector(kps, height, width).numpy()
    np.testing.assert_array_equal(heat, pose.keypoints_to_heatmaps(kps, height, width, heat_r))
    np.testing.assert_array_equal(vec, pose.pose_vector(kps, height, width))
    np.testing.assert_array_equal(pose_tf.pose_vector_to_keypoints(vec, height, width).numpy(),
                                  pose.pose_vector_to_keypoints(vec, height, width))
    for i in range(n):
        np.testing.assert_array_equal(masks[i, :, :, 0],
                                      pose.pose_mask(kps[i], height, width, mask_r),
                                      err_msg=f"example {i}")
        ref_boxes, ref_vis = pose.roi_boxes(kps[i], height, width, rule)
        np.testing.assert_array_equal(boxes[i].numpy(), ref_boxes)
        np.testing.assert_array_equal(vis[i].numpy(), ref_vis)


def test_decoded_vectors_round_trip():
    rng = np.random.default_rng(1)
    vec = rng.uniform(-1.3, 1.3, (16, 54)).astype(np.float32)  # decoder output, unclipped
    np.testing.assert_array_equal(pose_tf.pose_vector_to_keypoints(vec, 128, 64).numpy(),
                                  pose.pose_vector_to_keypoints(vec, 128, 64))


def test_flip_matches_numpy():
    kps = random_keypoints(np.random.default_rng(2), 5, 128, 64, False)
    np.testing.assert_array_equal(pose_tf.flip_keypoints(kps, 64).numpy(),
                                  pose.flip_keypoints(kps, 64))


def test_dynamic_batch_and_leading_axes():
    fn = tf.function(lambda k: pose_tf.pose_mask(k, 32, 16, 2),
                     input_signature=[tf.TensorSpec([None, 18, 3], tf.float32)])
    out = fn.get_concrete_function().structured_outputs
    assert out.shape.as_list() == [None, 32, 16, 1]
    kps = random_keypoints(np.random.default_rng(3), 6, 32, 16, True)
    for n in (1, 6):
        assert fn(kps[:n]).shape == (n, 32, 16, 1)
    nested = kps.reshape(2, 3, 18, 3)
    heat = pose_tf.keypoints_to_heatmaps(nested, 32, 16, 1)
    assert heat.shape == (2, 3, 32, 16, 18)
    np.testing.assert_array_equal(heat.numpy().reshape(6, 32, 16, 18),
                                  pose.keypoints_to_heatmaps(kps, 32, 16, 1))
    boxes, vis = pose_tf.roi_boxes(nested, 32, 16)
    assert boxes.shape == (2, 3, 7, 4) and vis.shape == (2, 3, 7)
    assert pose_tf.pose_vector(nested, 32, 16).shape == (2, 3, 54)


def test_converts_to_tflite_builtins_only():
    from ai_edge_litert.interpreter import Interpreter

    h, w = 32, 16

    class Poses(tf.Module):
        @tf.function(input_signature=[tf.TensorSpec([None, 18, 3], tf.float32)])
        def serve(self, keypoints):
            boxes, vis = pose_tf.roi_boxes(keypoints, h, w)
            vec = pose_tf.pose_vector(keypoints, h, w)
            return {"heatmaps": pose_tf.keypoints_to_heatmaps(keypoints, h, w, 1),
                    "mask": pose_tf.pose_mask(keypoints, h, w, 2), "boxes": boxes,
                    "vis": vis, "vector": vec,
                    "back": pose_tf.pose_vector_to_keypoints(vec, h, w)}

    module = Poses()
    converter = tf.lite.TFLiteConverter.from_concrete_functions(
        [module.serve.get_concrete_function()], module)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    runner = Interpreter(model_content=converter.convert()).get_signature_runner()
    kps = random_keypoints(np.random.default_rng(4), 3, h, w, True)
    got = runner(keypoints=kps)
    want = module.serve(kps)
    for key, value in want.items():
        np.testing.assert_array_equal(got[key], value.numpy(), err_msg=key)
