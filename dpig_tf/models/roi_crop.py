"""Bilinear ROI crops of a feature map (SPEC 2.1 step 3, 8.1; STACK 3.4).

Two interchangeable implementations of
`tf.image.crop_and_resize(features, boxes, box_indices, (s, s), "bilinear",
extrapolation_value=0)`:
- `method="tf"`: the TF op itself (training, SavedModel).
- `method="gather"`: the same arithmetic written with gather, floor, ceil and
  elementwise ops only, which are TFLite builtins (`CropAndResize` is not;
  STACK 3.4). It reproduces the op's float32 sampling formula step by step.

The method is a plain attribute so an exporter can switch an already built and
restored model: `layer.method = "gather"` (no weights are involved).
"""

from __future__ import annotations

import keras
import tensorflow as tf

METHODS = ("tf", "gather")


@keras.saving.register_keras_serializable(package="dpig_tf")
class RoiCrop(keras.layers.Layer):
    """Crops K boxes per image and resizes them to `crop_size` x `crop_size`.

    Call: `RoiCrop(...)([features, boxes])` with features (B, H, W, C) and boxes
    (B, K, 4) normalised [y1, x1, y2, x2] as in `tf.image.crop_and_resize`
    (a box coordinate b samples pixel b*(H-1)). Output: (B*K, s, s, C) with the
    K crops of image 0 first (`merge_boxes=True`, the layout that feeds the
    shared ROI trunk), or (B, K, s, s, C). Pixels sampled outside the image
    are 0. The output has the dtype of `features`; the sampling arithmetic is
    always float32.

    Args:
        crop_size: side s of each crop (Market 48, DeepFashion 64).
        method: "tf" (tf.image.crop_and_resize) or "gather" (TFLite builtins).
        merge_boxes: return (B*K, s, s, C) instead of (B, K, s, s, C).

    Reference: SPEC 2.1 step 3, 8.1 "ROI crops"; STACK 3.4.
    """

    def __init__(self, crop_size: int, method: str = "tf", merge_boxes: bool = True, **kwargs):
        # Boxes must stay float32 under mixed precision (bf16 cannot hold pixel
        # positions), so inputs are not auto-cast.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        self.crop_size = int(crop_size)
        self.merge_boxes = bool(merge_boxes)
        self.method = method

    @property
    def method(self) -> str:
        return self._method

    @method.setter
    def method(self, value: str) -> None:
        if value not in METHODS:
            raise ValueError(f"RoiCrop.method must be one of {METHODS}, got {value!r}")
        self._method = value

    def call(self, inputs):
        features, boxes = inputs
        dtype = features.dtype
        features = tf.cast(features, tf.float32)
        boxes = tf.cast(boxes, tf.float32)
        shape = tf.shape(features)
        batch, num_boxes = shape[0], tf.shape(boxes)[1]
        flat_boxes = tf.reshape(boxes, (-1, 4))
        box_indices = tf.repeat(tf.range(batch), num_boxes)
        if self._method == "tf":
            crops = tf.image.crop_and_resize(
                features, flat_boxes, box_indices, (self.crop_size, self.crop_size),
                method="bilinear", extrapolation_value=0.0)
        else:
            crops = gather_crop_and_resize(features, flat_boxes, box_indices, self.crop_size)
        crops = tf.cast(crops, dtype)
        if not self.merge_boxes:
            channels = features.shape[-1] if features.shape[-1] is not None else shape[3]
            crops = tf.reshape(crops, (batch, num_boxes, self.crop_size, self.crop_size, channels))
        return crops

    def compute_output_shape(self, input_shape):
        f_shape, b_shape = input_shape
        s = self.crop_size
        if self.merge_boxes:
            n = None if f_shape[0] is None or b_shape[1] is None else f_shape[0] * b_shape[1]
            return (n, s, s, f_shape[-1])
        return (f_shape[0], b_shape[1], s, s, f_shape[-1])

    def compute_output_spec(self, inputs):
        features, _ = inputs
        shape = self.compute_output_shape((features.shape, inputs[1].shape))
        return keras.KerasTensor(shape, dtype=features.dtype)

    def get_config(self):
        config = super().get_config()
        config.update(crop_size=self.crop_size, method=self._method,
                      merge_boxes=self.merge_boxes)
        return config


def _sample_positions(lo, hi, size: int, crop_size: int):
    """Float32 sample positions of crop_and_resize along one axis (TF kernel order).

    lo, hi: (N,) normalised box edges; size: image extent (H or W) as float32.
    Returns (N, crop_size) positions in pixels.
    """
    size_m1 = size - 1.0
    if crop_size > 1:
        scale = (hi - lo) * size_m1 / float(crop_size - 1)  # (N,)
        steps = tf.range(crop_size, dtype=tf.float32)
        return lo[:, None] * size_m1 + steps[None, :] * scale[:, None]
    return (0.5 * (lo + hi) * size_m1)[:, None]


def gather_crop_and_resize(features, boxes, box_indices, crop_size: int):
    """`tf.image.crop_and_resize(..., "bilinear", extrapolation_value=0)` with builtin ops.

    Args:
        features: (B, H, W, C) float32.
        boxes: (N, 4) float32 normalised [y1, x1, y2, x2].
        box_indices: (N,) int32 image index of each box.
        crop_size: output side s.

    Returns:
        (N, s, s, C) float32.
    """
    shape = tf.shape(features)
    height, width, channels = shape[1], shape[2], shape[3]
    h_f = tf.cast(height, tf.float32)
    w_f = tf.cast(width, tf.float32)
    in_y = _sample_positions(boxes[:, 0], boxes[:, 2], h_f, crop_size)  # (N, s)
    in_x = _sample_positions(boxes[:, 1], boxes[:, 3], w_f, crop_size)  # (N, s)
    # The op fills a whole row/column with the extrapolation value when its
    # sample position lies outside [0, size-1].
    valid_y = tf.cast((in_y >= 0.0) & (in_y <= h_f - 1.0), tf.float32)
    valid_x = tf.cast((in_x >= 0.0) & (in_x <= w_f - 1.0), tf.float32)
    top = tf.floor(in_y)
    left = tf.floor(in_x)
    y_lerp = in_y - top
    x_lerp = in_x - left
    bottom = tf.math.ceil(in_y)
    right = tf.math.ceil(in_x)
    max_y = tf.cast(height - 1, tf.float32)
    max_x = tf.cast(width - 1, tf.float32)
    # Clamping only affects invalid positions, which are zeroed afterwards.
    top_i = tf.cast(tf.clip_by_value(top, 0.0, max_y), tf.int32)
    bottom_i = tf.cast(tf.clip_by_value(bottom, 0.0, max_y), tf.int32)
    left_i = tf.cast(tf.clip_by_value(left, 0.0, max_x), tf.int32)
    right_i = tf.cast(tf.clip_by_value(right, 0.0, max_x), tf.int32)

    flat = tf.reshape(features, (-1, channels))  # (B*H*W, C)
    base = box_indices * (height * width)  # (N,)

    def rows(idx):  # (N, s) -> (N, s, 1) flat row offsets
        return (base[:, None] + idx * width)[:, :, None]

    def gather(row_off, col_idx):  # -> (N, s, s, C)
        return tf.gather(flat, row_off + col_idx[:, None, :])

    top_rows, bottom_rows = rows(top_i), rows(bottom_i)
    top_left = gather(top_rows, left_i)
    top_right = gather(top_rows, right_i)
    bottom_left = gather(bottom_rows, left_i)
    bottom_right = gather(bottom_rows, right_i)
    xl = x_lerp[:, None, :, None]
    yl = y_lerp[:, :, None, None]
    top_v = top_left + (top_right - top_left) * xl
    bottom_v = bottom_left + (bottom_right - bottom_left) * xl
    crops = top_v + (bottom_v - top_v) * yl
    valid = (valid_y[:, :, None] * valid_x[:, None, :])[:, :, :, None]
    return crops * valid
