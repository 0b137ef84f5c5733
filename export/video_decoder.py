"""Pose-driven video: encode the appearance once, decode each frame cheaply.

In a video the appearance codes are constant and only the pose changes. The
generator's first conv sees [tile(e), heatmaps] (SPEC 2.2-2.3); being linear,
it splits exactly into conv(tile(e), K_e) + conv(heatmaps, K_p) + bias. The
first term depends only on the appearance: it is spatially constant except
within one pixel of the border (SAME zero padding), and is computed once per
video as an exact (H, W, n) bias map. Each frame then convolves only the 18
heatmap channels instead of E + 18 (Market 370; 95% of the first conv's MACs,
8.6% of the generator; lite width 0.25: 28%). The rest of the generator is
unchanged, so frames equal `DisentangledGenerator.decode` up to float
rounding (tested).
"""

from __future__ import annotations

import tensorflow as tf


class VideoDecoder:
    """Per-appearance bias map + per-frame decoding for one inference model.

    Args:
        model: a `DisentangledGenerator` (its generator's weights are used).

    Example:
        video = VideoDecoder(model)
        bias = video.appearance_bias(codes["foreground"], codes["background"])
        frame = video.frame(bias, keypoints_t)  # for each frame t

    Reference: SPEC 2.2 (tiling), 2.3 (generator), 4.5 (video); SPEC 7 notes
    the tiled input's conv could be a per-sample bias.
    """

    def __init__(self, model):
        self.model = model
        self.g = model.generator
        kernel = self.g.conv_in.kernel
        self.embedding_dim = int(kernel.shape[2]) - 18
        self.height, self.width = model.image_height, model.image_width

    def appearance_bias(self, foreground, background=None):
        """Codes (B, E) -> (B, H, W, n): the first conv's appearance term + bias."""
        parts = [tf.cast(foreground, tf.float32)]
        if self.model.has_background:
            parts.append(tf.cast(background, tf.float32))
        e = tf.concat(parts, axis=-1)  # (B, E)
        tiled = tf.tile(e[:, None, None, :], [1, self.height, self.width, 1])
        k_e = self.g.conv_in.kernel[:, :, :self.embedding_dim, :]
        return tf.nn.conv2d(tiled, k_e, 1, "SAME") + self.g.conv_in.bias

    def frame(self, bias_map, keypoints):
        """Bias map (B or 1, H, W, n) + (B, 18, 3) keypoints -> (B, H, W, 3) frames."""
        g = self.g
        heat = self.model.heatmaps(keypoints)  # (B, H, W, 18)
        k_p = g.conv_in.kernel[:, :, self.embedding_dim:, :]
        x = tf.nn.relu(tf.nn.conv2d(heat, k_p, 1, "SAME") + bias_map)
        return g.after_input_conv(x)


def decode_frames(variants_dir, foreground, background, keypoints, force: str = ""):
    """Frames (T, H, W, 3) of one appearance (codes (1, E)) in T poses (T, 18, 3), run by
    the fastest faithful `decode` model of DIR/variants.json (export/variants.py), or
    by the file named in `force`. The exported models have no cached bias map; they
    decode each frame whole."""
    import numpy as np

    from export import signatures
    from export import variants

    _, _, run = variants.select(variants_dir, signatures.DECODE, force)
    n = len(keypoints)
    inputs = {signatures.FOREGROUND: np.repeat(np.asarray(foreground, np.float32), n, 0)}
    if background is not None:
        inputs[signatures.BACKGROUND] = np.repeat(np.asarray(background, np.float32), n, 0)
    inputs[signatures.TARGET_KEYPOINTS] = np.asarray(keypoints, np.float32)
    return run(inputs)[signatures.OUTPUT_IMAGE]
