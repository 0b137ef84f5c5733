"""LPIPS weights: torchvision AlexNet `features` convs + lpips v0.1 linear heads.

Read from the user's downloaded files (no torch needed, `torch_pickle`) or from
the `.npz` written by `python -m dpig_tf.eval.convert_weights`; nothing is
downloaded. Array names stay torch's state-dict names.
"""

from __future__ import annotations

import os

import numpy as np

from dpig_tf.eval import weight_files

# torchvision `features` index of each conv; kernel, stride, padding; max-pool before it?
ALEXNET_CONVS = ((0, 11, 4, 2, False), (3, 5, 1, 2, True), (6, 3, 1, 1, True),
                 (8, 3, 1, 1, False), (10, 3, 1, 1, False))
ALEXNET_CHANNELS = (64, 192, 384, 256, 256)


def alexnet_keys() -> list[str]:
    return [f"features.{i}.{p}" for i, *_ in ALEXNET_CONVS for p in ("weight", "bias")]


def head_keys() -> list[str]:
    return [f"lin{k}.model.1.weight" for k in range(len(ALEXNET_CONVS))]


def check_weights(weights: dict, path: str) -> dict[str, np.ndarray]:
    """The arrays LPIPS needs from a torch-named dict, shape-checked."""
    shapes = {}
    cin = 3
    for (idx, k, _, _, _), cout in zip(ALEXNET_CONVS, ALEXNET_CHANNELS):
        shapes[f"features.{idx}.weight"] = (cout, cin, k, k)
        shapes[f"features.{idx}.bias"] = (cout,)
        cin = cout
    for k, c in enumerate(ALEXNET_CHANNELS):
        shapes[f"lin{k}.model.1.weight"] = (1, c, 1, 1)
    return weight_files.select(weights, shapes, path)


def load_weights(npz: str | None = None, alexnet: str | None = None,
                 heads: str | None = None) -> dict[str, np.ndarray]:
    """Weights from a converted `.npz`, or from the two torch `.pth` files (no torch needed)."""
    if npz:
        return check_weights(weight_files.load_npz(npz, "LPIPS"), npz)
    if not alexnet or not heads:
        raise FileNotFoundError(missing_weights_message())
    for path in (alexnet, heads):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: expected a PyTorch .pth weights file, "
                                    "found no such file")
    from dpig_tf.eval.torch_pickle import load_state_dict

    weights = {**weight_files.select_present(load_state_dict(alexnet), alexnet_keys()),
               **weight_files.select_present(load_state_dict(heads), head_keys())}
    return check_weights(weights, f"{alexnet} + {heads}")


def missing_weights_message(path: str | None = None) -> str:
    where = f"{path}: " if path else ""
    return (f"{where}expected LPIPS weights, found none: download the torchvision AlexNet "
            "weights (alexnet-owt-7be5be79.pth) and the lpips v0.1 heads (lpips/weights/v0.1/"
            "alex.pth in the `lpips` package), then run `python -m dpig_tf.eval.convert_weights "
            "--alexnet=alexnet-owt-7be5be79.pth --lpips=alex.pth --out=lpips_alex.npz` and pass "
            "--lpips_weights=lpips_alex.npz")
