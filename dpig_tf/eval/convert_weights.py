"""Convert downloaded PyTorch metric weights to one `.npz` (torch is not needed).

  python -m dpig_tf.eval.convert_weights --alexnet=alexnet-owt-7be5be79.pth \
      --lpips=alex.pth --out=lpips_alex.npz
  python -m dpig_tf.eval.convert_weights --inception=inception_v3_google-0cc3c7bd.pth \
      --out=gfla_inception.npz

The first writes the torchvision AlexNet `features` convolutions + the lpips
v0.1 linear heads (LPIPS, `dpig_tf.eval.lpips`); the second the torchvision
Inception-v3 blocks up to Mixed_7c (GFLA-protocol FID, `dpig_tf.eval.gfla_fid`).
Array names stay torch's state-dict names. The output is written atomically and
its SHA-256 printed.
"""

from __future__ import annotations

import argparse

from dpig_tf import cli
from dpig_tf.errors import UserError
from dpig_tf.eval import weight_files


def convert(out: str, alexnet: str | None = None, lpips_heads: str | None = None,
            inception: str | None = None) -> dict:
    if inception and (alexnet or lpips_heads):
        raise UserError("--inception: expected it alone (one .npz per metric), found it with "
                         "--alexnet/--lpips")
    if inception:
        from dpig_tf.eval import gfla_fid

        arrays = gfla_fid.load_weights(torch_file=inception)
        kind = "gfla_inception"
    elif alexnet and lpips_heads:
        from dpig_tf.eval import lpips_weights

        arrays = lpips_weights.load_weights(alexnet=alexnet, heads=lpips_heads)
        kind = "lpips_alex"
    else:
        raise UserError("expected --alexnet=PTH and --lpips=PTH (LPIPS) or --inception=PTH "
                         "(GFLA FID), found neither complete")
    weight_files.save_npz(arrays, out)
    return {"out": out, "kind": kind, "arrays": len(arrays), "sha256": weight_files.sha256(out)}


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(prog="python -m dpig_tf.eval.convert_weights",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--alexnet", help="torchvision AlexNet ImageNet weights "
                        "(alexnet-owt-7be5be79.pth)")
    parser.add_argument("--lpips", help="lpips v0.1 heads (lpips/weights/v0.1/alex.pth)")
    parser.add_argument("--inception", help="torchvision Inception-v3 ImageNet weights "
                        "(inception_v3_google-0cc3c7bd.pth)")
    parser.add_argument("--out", required=True, help="output .npz")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    result = convert(args.out, args.alexnet, args.lpips, args.inception)
    print(f"wrote {result['out']} ({result['kind']}, {result['arrays']} arrays, "
          f"sha256 {result['sha256']})")
    return 0


if __name__ == "__main__":
    cli.run(main)
