"""GFLA-protocol FID (`fid_gfla_torchvision`): torchvision Inception-v3 pool3 features in TF.

GFLA `script/metrics.py` (EVALUATION.md 3), reused by DPTN, PISE, PIDM, CFLD:
  - features: `torchvision.models.inception_v3(pretrained=True)` (ImageNet
    torchvision weights, not the TF-FID weights of pytorch-fid / clean-fid),
    blocks Conv2d_1a_3x3 .. Mixed_7c + global average pool -> 2048-d;
  - input: imread / 255 in [0, 1], bilinear resize to 299 x 299
    (align_corners=False), then torchvision's `transform_input`
    x * (std / 0.5) + (mean - 0.5) / 0.5 per channel (mean 0.485, 0.456, 0.406;
    std 0.229, 0.224, 0.225) applied to the [0, 1] input: a quirk that defines
    the numbers;
  - batches of 64, `N // 64` of them: the remainder is dropped (a set smaller
    than 64 is one batch of all of it);
  - reals: a folder (the whole training set in the papers); Frechet distance
    with scipy sqrtm and the eps = 1e-6 fallback (`fid.frechet_distance`).
Every op is the torch one: BasicConv2d = conv (no bias, symmetric zero
padding) + BatchNorm (eps 1e-3, running statistics) + ReLU; max-pools 3/2
floor mode; the branch average pools 3/1 pad 1 count the padding.
Weights: `inception_v3_google-0cc3c7bd.pth` read without torch, or its `.npz`
from `python -m dpig_tf.eval.convert_weights --inception=...`.
"""

from __future__ import annotations

import os

import numpy as np

from dpig_tf.errors import UserError
from dpig_tf.eval import weight_files

NAME = "fid_gfla_torchvision"
GFLA_BATCH_SIZE = 64
INPUT_SIZE = 299
FEATURE_DIM = 2048
BN_EPS = 1e-3
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)

# Stem: (BasicConv2d name, stride, (pad rows, pad cols)); "pool" = MaxPool2d(3, 2).
STEM = (("Conv2d_1a_3x3", 2, (0, 0)), ("Conv2d_2a_3x3", 1, (0, 0)),
        ("Conv2d_2b_3x3", 1, (1, 1)), "pool", ("Conv2d_3b_1x1", 1, (0, 0)),
        ("Conv2d_4a_3x3", 1, (0, 0)), "pool")
# Mixed blocks: branches of (conv name, stride, padding) chains; "avg" = avg-pool 3/1/1
# before the chain, "max" = max-pool 3/2 alone; a tuple of chains = a split branch
# (InceptionE) whose outputs are concatenated.
_A = ((("branch1x1", 1, (0, 0)),),
      (("branch5x5_1", 1, (0, 0)), ("branch5x5_2", 1, (2, 2))),
      (("branch3x3dbl_1", 1, (0, 0)), ("branch3x3dbl_2", 1, (1, 1)),
       ("branch3x3dbl_3", 1, (1, 1))),
      ("avg", ("branch_pool", 1, (0, 0))))
_B = ((("branch3x3", 2, (0, 0)),),
      (("branch3x3dbl_1", 1, (0, 0)), ("branch3x3dbl_2", 1, (1, 1)),
       ("branch3x3dbl_3", 2, (0, 0))),
      ("max",))
_C = ((("branch1x1", 1, (0, 0)),),
      (("branch7x7_1", 1, (0, 0)), ("branch7x7_2", 1, (0, 3)), ("branch7x7_3", 1, (3, 0))),
      (("branch7x7dbl_1", 1, (0, 0)), ("branch7x7dbl_2", 1, (3, 0)),
       ("branch7x7dbl_3", 1, (0, 3)), ("branch7x7dbl_4", 1, (3, 0)),
       ("branch7x7dbl_5", 1, (0, 3))),
      ("avg", ("branch_pool", 1, (0, 0))))
_D = ((("branch3x3_1", 1, (0, 0)), ("branch3x3_2", 2, (0, 0))),
      (("branch7x7x3_1", 1, (0, 0)), ("branch7x7x3_2", 1, (0, 3)),
       ("branch7x7x3_3", 1, (3, 0)), ("branch7x7x3_4", 2, (0, 0))),
      ("max",))
_E = ((("branch1x1", 1, (0, 0)),),
      (("branch3x3_1", 1, (0, 0)),
       ((("branch3x3_2a", 1, (0, 1)),), (("branch3x3_2b", 1, (1, 0)),))),
      (("branch3x3dbl_1", 1, (0, 0)), ("branch3x3dbl_2", 1, (1, 1)),
       ((("branch3x3dbl_3a", 1, (0, 1)),), (("branch3x3dbl_3b", 1, (1, 0)),))),
      ("avg", ("branch_pool", 1, (0, 0))))
MIXED = (("Mixed_5b", _A), ("Mixed_5c", _A), ("Mixed_5d", _A), ("Mixed_6a", _B),
         ("Mixed_6b", _C), ("Mixed_6c", _C), ("Mixed_6d", _C), ("Mixed_6e", _C),
         ("Mixed_7a", _D), ("Mixed_7b", _E), ("Mixed_7c", _E))
BN_PARTS = ("weight", "bias", "running_mean", "running_var")


def _conv_names() -> list[str]:
    names = [s[0] for s in STEM if s != "pool"]

    def walk(block, chain):
        for item in chain:
            if isinstance(item, str):
                continue
            if isinstance(item[0], str):
                names.append(f"{block}.{item[0]}")
            else:
                for sub in item:
                    walk(block, sub)

    for block, branches in MIXED:
        for branch in branches:
            walk(block, branch)
    return names


def weight_keys() -> list[str]:
    keys = []
    for name in _conv_names():
        keys.append(f"{name}.conv.weight")
        keys += [f"{name}.bn.{p}" for p in BN_PARTS]
    return keys


def missing_weights_message(path: str | None = None) -> str:
    where = f"{path}: " if path else ""
    return (f"{where}expected the torchvision Inception-v3 weights for {NAME}, found none: "
            "download inception_v3_google-0cc3c7bd.pth (torchvision's ImageNet weights), "
            "optionally convert it once with `python -m dpig_tf.eval.convert_weights "
            "--inception=inception_v3_google-0cc3c7bd.pth --out=gfla_inception.npz`, and pass "
            "--gfla_inception_weights=PATH (.pth or .npz)")


def load_weights(npz: str | None = None, torch_file: str | None = None) -> dict[str, np.ndarray]:
    """The blocks' arrays (torch names) from a `.npz` or the torchvision `.pth`; checked."""
    path = npz or torch_file
    if not path:
        raise FileNotFoundError(missing_weights_message())
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: expected Inception-v3 weights (.pth or .npz), "
                                "found no such file")
    if npz or path.endswith(".npz"):
        arrays = weight_files.load_npz(path, "Inception-v3")
    else:
        from dpig_tf.eval.torch_pickle import load_state_dict

        arrays = load_state_dict(path)
    keys = weight_keys()
    missing = [k for k in keys if k not in arrays]
    if missing:
        raise UserError(f"{path}: {missing[0]}: expected a torchvision Inception-v3 array, "
                         f"found none ({len(missing)} of {len(keys)} missing)")
    out = {k: np.asarray(arrays[k], np.float32) for k in keys}
    if out["Conv2d_1a_3x3.conv.weight"].shape != (32, 3, 3, 3) or \
            out["Mixed_7c.branch_pool.conv.weight"].shape[0] != 192:
        raise UserError(f"{path}: Conv2d_1a_3x3.conv.weight: expected torchvision "
                         "Inception-v3 shapes, found others")
    return out


class GflaInception:
    """(N, H, W, 3) uint8 -> (N, 2048) pool3 features, exactly GFLA's torchvision path."""

    def __init__(self, weights: dict[str, np.ndarray]):
        import tensorflow as tf

        self.tf = tf
        self.convs = {}
        for name in _conv_names():
            w = weights[f"{name}.conv.weight"]
            gamma, beta, mean, var = (weights[f"{name}.bn.{p}"] for p in BN_PARTS)
            scale = gamma / np.sqrt(var + BN_EPS)
            self.convs[name] = (tf.constant(np.transpose(w, (2, 3, 1, 0))),  # OIHW -> HWIO
                                tf.constant(scale.astype(np.float32)),
                                tf.constant((beta - mean * scale).astype(np.float32)))
        self._features = tf.function(self._graph, reduce_retracing=True)

    def _conv(self, name, x, stride, pad):
        tf = self.tf
        kernel, scale, shift = self.convs[name]
        if pad != (0, 0):
            x = tf.pad(x, [[0, 0], [pad[0], pad[0]], [pad[1], pad[1]], [0, 0]])
        y = tf.nn.conv2d(x, kernel, stride, "VALID")
        return tf.nn.relu(y * scale + shift)

    def _avg_pool_3x3(self, x):
        # F.avg_pool2d(3, 1, padding=1), count_include_pad=True: the zeros count.
        tf = self.tf
        x = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        return tf.nn.avg_pool2d(x, 3, 1, "VALID")

    def _chain(self, block, chain, x):
        for item in chain:
            if item == "avg":
                x = self._avg_pool_3x3(x)
            elif item == "max":
                x = self.tf.nn.max_pool2d(x, 3, 2, "VALID")
            elif isinstance(item[0], str):
                x = self._conv(f"{block}.{item[0]}", x, item[1], item[2])
            else:  # split: parallel sub-chains, concatenated
                return self.tf.concat([self._chain(block, sub, x) for sub in item], axis=-1)
        return x

    def _graph(self, images):
        tf = self.tf
        x = tf.cast(images, tf.float32) / 255.0
        x = tf.image.resize(x, (INPUT_SIZE, INPUT_SIZE), method="bilinear", antialias=False)
        x = x * (tf.constant(STD) / 0.5) + (tf.constant(MEAN) - 0.5) / 0.5
        for item in STEM:
            if item == "pool":
                x = tf.nn.max_pool2d(x, 3, 2, "VALID")
            else:
                x = self._conv(item[0], x, item[1], item[2])
        for block, branches in MIXED:
            x = tf.concat([self._chain(block, branch, x) for branch in branches], axis=-1)
        return tf.reduce_mean(x, axis=[1, 2])

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return self._features(self.tf.convert_to_tensor(images, self.tf.uint8)).numpy()


def used_count(num_images: int, batch_size: int = GFLA_BATCH_SIZE) -> tuple[int, int]:
    """(batch size, images used) under GFLA's rule: N // batch batches; batch = N if N < batch."""
    if num_images < 1:
        raise UserError(f"{NAME}: expected at least 1 image, found 0")
    batch = min(batch_size, num_images)
    return batch, (num_images // batch) * batch


def features(model: GflaInception, images: np.ndarray, batch_size: int = GFLA_BATCH_SIZE,
             progress: bool = False) -> np.ndarray:
    """(N_used, 2048) float64 features of uint8 images; the remainder is dropped (GFLA)."""
    batch, used = used_count(len(images), batch_size)
    bar = None
    if progress:
        from keras.utils import Progbar

        bar = Progbar(used, unit_name="image")
    out = []
    for start in range(0, used, batch):
        out.append(model(images[start:start + batch]).astype(np.float64))
        if bar is not None:
            bar.update(start + batch)
    return np.concatenate(out)


def gfla_fid(generated: np.ndarray, reals: np.ndarray, model: GflaInception,
             batch_size: int = GFLA_BATCH_SIZE, progress: bool = False) -> dict:
    """{NAME: value, "<NAME>_generated_used", "<NAME>_reals_used"}."""
    from dpig_tf.eval.fid import feature_statistics
    from dpig_tf.eval.fid import frechet_distance

    fake = features(model, generated, batch_size, progress)
    real = features(model, reals, batch_size, progress)
    value = frechet_distance(*feature_statistics(real), *feature_statistics(fake))
    return {NAME: float(value), f"{NAME}_generated_used": int(len(fake)),
            f"{NAME}_reals_used": int(len(real))}
