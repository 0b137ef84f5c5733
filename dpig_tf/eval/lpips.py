"""LPIPS (Zhang et al. 2018) in TensorFlow: exactly pip `lpips` v0.1, `LPIPS(net='alex')`.

The reference computation (lpips/lpips.py, lpips/pretrained_networks.py,
lpips/__init__.py of lpips 0.1.4), for images x0, x1 in [-1, 1]:
  1. scaling layer: x' = (x - shift) / scale, shift = (-.030, -.088, -.188),
     scale = (.458, .448, .450) per RGB channel (v0.1 only);
  2. torchvision AlexNet `features`, the outputs of relu1..relu5 (layers
     [0:2], [2:5], [5:8], [8:10], [10:12]: conv11/4 p2 + relu; maxpool3/2 +
     conv5 p2 + relu; maxpool3/2 + conv3 p1 + relu; conv3 p1 + relu; conv3 p1 + relu);
  3. per layer l: unit-normalise over channels, f / (sqrt(sum_c f^2) + 1e-10);
  4. d_l = (f0_l - f1_l)^2; 1x1 conv with the learned head w_l (no bias, dropout
     off in eval); spatial average over H, W;
  5. LPIPS = sum over the 5 layers.
Weights are read from files the user downloaded (torchvision
`alexnet-owt-7be5be79.pth` + lpips v0.1 `alex.pth`, or the `.npz` written by
`python -m dpig_tf.eval.convert_weights`); nothing is downloaded here.

GFLA protocol (EVALUATION.md 3): batch 64, the remainder dropped, the mean of
the per-image distances; mask-LPIPS (Market) multiplies both [-1, 1] images by
the target-keypoint mask first.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dpig_tf.errors import UserError
from dpig_tf.eval.lpips_weights import ALEXNET_CONVS
from dpig_tf.eval.lpips_weights import check_weights

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10
GFLA_BATCH_SIZE = 64
MIN_SIZE = 31  # AlexNet's second max-pool needs >= 3 x 3 inputs: images >= 31 x 31


class LPIPS:
    """LPIPS v0.1 'alex' distance: `LPIPS(weights)(x0, x1)` -> (N,) float32.

    Args:
        weights: torch-named arrays (`features.N.weight/bias` of the torchvision
            AlexNet, `linK.model.1.weight` of the heads), e.g. from
            `lpips_weights.load_weights`.
    """

    def __init__(self, weights: dict[str, np.ndarray]):
        w = check_weights(weights, "LPIPS weights")
        # torch OIHW -> TF HWIO
        self.kernels = [tf.constant(np.transpose(w[f"features.{i}.weight"], (2, 3, 1, 0)))
                        for i, *_ in ALEXNET_CONVS]
        self.biases = [tf.constant(w[f"features.{i}.bias"]) for i, *_ in ALEXNET_CONVS]
        self.heads = [tf.constant(w[f"lin{k}.model.1.weight"].reshape(-1))
                      for k in range(len(ALEXNET_CONVS))]
        self._distance = tf.function(self._distance_graph, reduce_retracing=True)

    def features(self, x):
        """(N,H,W,3) in [-1,1] -> [relu1..relu5] of the scaled input."""
        x = (tf.cast(x, tf.float32) - tf.constant(SHIFT)) / tf.constant(SCALE)
        outs = []
        for (_, _, stride, pad, pool), kernel, bias in zip(ALEXNET_CONVS, self.kernels,
                                                          self.biases):
            if pool:  # MaxPool2d(3, 2), floor mode = VALID
                x = tf.nn.max_pool2d(x, 3, 2, "VALID")
            # torch pads symmetrically; TF "SAME" may not, so pad explicitly.
            x = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]])
            x = tf.nn.relu(tf.nn.conv2d(x, kernel, stride, "VALID") + bias)
            outs.append(x)
        return outs

    def _distance_graph(self, x0, x1):
        total = 0.0
        for f0, f1, head in zip(self.features(x0), self.features(x1), self.heads):
            n0 = f0 / (tf.sqrt(tf.reduce_sum(f0 * f0, axis=-1, keepdims=True)) + EPS)
            n1 = f1 / (tf.sqrt(tf.reduce_sum(f1 * f1, axis=-1, keepdims=True)) + EPS)
            weighted = tf.reduce_sum(tf.square(n0 - n1) * head, axis=-1)  # 1x1 conv, no bias
            total += tf.reduce_mean(weighted, axis=[1, 2])
        return total

    def __call__(self, x0, x1) -> np.ndarray:
        h, w = np.shape(x0)[1:3]
        if min(h, w) < MIN_SIZE:
            raise UserError(f"LPIPS: expected images of at least {MIN_SIZE}x{MIN_SIZE} pixels "
                             f"(AlexNet), found {h}x{w}")
        return self._distance(tf.convert_to_tensor(x0, tf.float32),
                              tf.convert_to_tensor(x1, tf.float32)).numpy()


def lpips_per_image(model: LPIPS, generated: np.ndarray, targets: np.ndarray,
                    masks: np.ndarray | None = None, batch_size: int = GFLA_BATCH_SIZE,
                    drop_remainder: bool = True, progress: bool = False) -> np.ndarray:
    """Per-image LPIPS of uint8 (N,H,W,3) folders, GFLA style.

    Images become x/127.5 - 1; with `masks` ((N,H,W) uint8 x255, >127 = person) both
    are multiplied by the mask (mask-LPIPS). GFLA drops the last N % 64 images
    (with fewer than 64, the batch is all of them).
    """
    n = generated.shape[0]
    if n < 1:
        raise UserError("LPIPS: expected at least 1 image pair, found 0")
    if drop_remainder:  # GFLA: a set smaller than a batch is one batch; else N // batch batches
        batch_size = min(batch_size, n)
        n = (n // batch_size) * batch_size
    out = []
    bar = tf.keras.utils.Progbar(n, unit_name="image") if progress else None
    for start in range(0, n, batch_size):
        stop = min(start + batch_size, n)
        a = generated[start:stop].astype(np.float32) / 127.5 - 1.0
        b = targets[start:stop].astype(np.float32) / 127.5 - 1.0
        if masks is not None:
            m = (masks[start:stop] > 127).astype(np.float32)[..., None]
            a, b = a * m, b * m
        out.append(model(a, b))
        if bar is not None:
            bar.update(stop)
    return np.concatenate(out)
