"""Random metric weights with the real shapes, for tests that need a weight file but no parity."""

from __future__ import annotations

import numpy as np

from dpig_tf.eval import lpips_weights
from dpig_tf.eval import weight_files


def write_random_lpips_npz(path, seed: int = 0) -> str:
    """LPIPS .npz: He-scaled random AlexNet convs, small biases, random positive heads."""
    rng = np.random.default_rng(seed)
    arrays, cin = {}, 3
    for (idx, k, _, _, _), cout in zip(lpips_weights.ALEXNET_CONVS,
                                      lpips_weights.ALEXNET_CHANNELS):
        arrays[f"features.{idx}.weight"] = rng.normal(0, (2 / (cin * k * k)) ** 0.5,
                                                      (cout, cin, k, k)).astype(np.float32)
        arrays[f"features.{idx}.bias"] = rng.normal(0, 0.01, cout).astype(np.float32)
        cin = cout
    for k, c in enumerate(lpips_weights.ALEXNET_CHANNELS):
        arrays[f"lin{k}.model.1.weight"] = rng.random((1, c, 1, 1)).astype(np.float32)
    weight_files.save_npz(arrays, str(path))
    return str(path)
