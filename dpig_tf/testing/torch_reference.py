"""Reference numbers from the PyTorch implementations, for the parity tests (test-only).

Runs in its own process: importing torch after TensorFlow crashes in one
process (both bundle their own native libraries), and the tests import TF.

  python -m dpig_tf.testing.torch_reference lpips DIR
      DIR/inputs.npz (a, b: uint8 (N,H,W,3); optional masks (N,H,W) uint8 x255)
      -> DIR/alexnet-random.pth (torchvision names), DIR/reference.npz (distances,
      masked_distances): pip lpips v0.1 net='alex' with a seeded random trunk
      and the package's v0.1 heads.
  python -m dpig_tf.testing.torch_reference inception DIR
      DIR/inputs.npz (images: uint8 (N,H,W,3))
      -> DIR/inception-random.pth, DIR/reference.npz (features (N, 2048)):
      torchvision inception_v3 with seeded random (He-scaled) weights and random
      BatchNorm statistics, run the GFLA way (EVALUATION.md 3).
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch  # noqa: I001 - torch before anything that may load TensorFlow
import torch.nn.functional as F

SEED = 0


def _nchw(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)


def lpips_reference(folder: str) -> None:
    import lpips

    torch.manual_seed(SEED)
    model = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True,
                        verbose=False).eval()
    alexnet = {}
    for name, value in model.net.state_dict().items():  # sliceK.<i>.weight -> features.<i>.weight
        _, index, kind = name.split(".")
        alexnet[f"features.{index}.{kind}"] = value.clone()
    torch.save(alexnet, os.path.join(folder, "alexnet-random.pth"))
    torch.save(alexnet, os.path.join(folder, "alexnet-random-legacy.pth"),
               _use_new_zipfile_serialization=False)
    data = np.load(os.path.join(folder, "inputs.npz"))
    a = data["a"].astype(np.float32) / 127.5 - 1.0
    b = data["b"].astype(np.float32) / 127.5 - 1.0
    out = {}
    with torch.no_grad():
        out["distances"] = model(_nchw(a), _nchw(b)).reshape(-1).numpy()
        if "masks" in data.files:
            m = (data["masks"] > 127).astype(np.float32)[..., None]
            out["masked_distances"] = model(_nchw(a * m), _nchw(b * m)).reshape(-1).numpy()
    np.savez(os.path.join(folder, "reference.npz"), **out)


def inception_reference(folder: str) -> None:
    import torchvision

    torch.manual_seed(SEED)
    model = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=True,
                                            transform_input=True).eval()
    generator = torch.Generator().manual_seed(SEED + 1)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.Conv2d):  # He init keeps 2048-d features O(1)
                fan_in = module.weight[0].numel()
                module.weight.copy_(torch.randn(module.weight.shape, generator=generator) *
                                    (2.0 / fan_in) ** 0.5)
            if isinstance(module, torch.nn.BatchNorm2d):  # non-trivial eval statistics
                n = module.num_features
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
    torch.save(model.state_dict(), os.path.join(folder, "inception-random.pth"))
    images = np.load(os.path.join(folder, "inputs.npz"))["images"]
    x = _nchw(images.astype(np.float32) / 255.0)  # GFLA: imread / 255, [0, 1]
    with torch.no_grad():
        # pytorch-fid InceptionV3 wrapper as GFLA uses it: bilinear resize to 299 ...
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        # ... then torchvision's transform_input (made for [-1, 1]-free ImageNet input) on [0, 1].
        x = model._transform_input(x)
        for name in ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool1",
                     "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool2", "Mixed_5b", "Mixed_5c",
                     "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d", "Mixed_6e",
                     "Mixed_7a", "Mixed_7b", "Mixed_7c", "avgpool"):
            x = getattr(model, name)(x)
    np.savez(os.path.join(folder, "reference.npz"), features=x.reshape(x.shape[0], -1).numpy())


def main(argv) -> int:
    what, folder = argv[1], argv[2]
    {"lpips": lpips_reference, "inception": inception_reference}[what](folder)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
