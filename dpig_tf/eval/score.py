"""Score folders of generated / target (/ mask) images under a protocol.

  python -m dpig_tf.eval.score --generated=G --targets=T [--masks=M] \
      --protocol=dpig|patn --metrics=ssim,mask_ssim,is,mask_is,fid,psnr,l1 \
      --out=report.json [--inception_graph=PB] [--fid_weights=H5] \
      [--batch_size=N] [--splits=10]

Files are paired by sorted file stem (SPEC 8.2 #5, #10: a missing or extra
file is an error listing the names). The JSON report holds every number, the
protocol, the image count, the input folders, the settings and the package
versions. See docs/EVALUATION.md for the protocols.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import time

from dpig_tf import cli
from dpig_tf.errors import UsageError
from dpig_tf.eval import image_folder
from dpig_tf.eval import registry

VERSIONED_PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "scikit-image", "pillow",
                      "protobuf", "h5py")


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the metrics depend on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def load_folders(generated: str, targets: str, masks: str | None):
    """Pair and load the folders -> (stems, generated, targets, masks or None)."""
    folders = {"generated": generated, "targets": targets}
    if masks:
        folders["masks"] = masks
    stems, paths = image_folder.pair_folders(folders)
    stacks = {"generated": image_folder.load_stack(paths["generated"], image_folder.load_rgb),
              "targets": image_folder.load_stack(paths["targets"], image_folder.load_rgb)}
    if masks:
        stacks["masks"] = image_folder.load_stack(paths["masks"], image_folder.load_mask)
    image_folder.check_same_size(stacks, paths)
    return stems, stacks["generated"], stacks["targets"], stacks.get("masks")


def check_model_files(metrics, inception_graph: str | None, fid_weights: str | None) -> None:
    """Fail on a missing model file before any time is spent reading or generating images."""
    if "is" in metrics or "mask_is" in metrics:
        from dpig_tf.eval.inception_score import InceptionGraphError
        from dpig_tf.eval.inception_score import missing_graph_message

        if not inception_graph or not os.path.isfile(inception_graph):
            raise InceptionGraphError(missing_graph_message(inception_graph))
    if "fid" in metrics and (not fid_weights or not os.path.isfile(fid_weights)):
        from dpig_tf.eval.fid import load_fid_model

        load_fid_model(fid_weights)  # raises the explanatory FidWeightsError


def score_folders(generated: str, targets: str, masks: str | None = None,
                  protocol: str = "dpig", metrics=("ssim", "psnr", "l1"),
                  inception_graph: str | None = None, fid_weights: str | None = None,
                  batch_size: int | None = None, splits: int = 10) -> dict:
    """Compute `metrics` over paired folders; returns the JSON-ready report.

    Args:
        generated, targets: folders of 8-bit RGB images, paired by file stem.
        masks: folder of 8-bit single-channel x255 pose masks (mask metrics).
            dpig: the SOURCE image's r7 mask (SPEC 5.2); patn: the target's.
        protocol: "dpig" (SPEC 5; DPIG/PG2 score.py) or "patn" (EVALUATION.md 2.2).
        metrics: names from `registry.METRICS`.
        inception_graph: classify_image_graph_def.pb path (is, mask_is).
        fid_weights: InceptionV3 no-top weights path (fid).
        batch_size: IS/FID batch (default: dpig IS 100, patn IS 10, FID 50).
        splits: IS splits.
    """
    if protocol not in registry.PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; expected one of {registry.PROTOCOLS}")
    metrics = registry.check_metrics(metrics)
    needs_masks = [m for m in metrics if m in registry.MASK_METRICS]
    if needs_masks and not masks:
        raise UsageError(f"metric(s) {needs_masks} need --masks=DIR")
    check_model_files(metrics, inception_graph, fid_weights)
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")

    stems, gen, tgt, msk = load_folders(generated, targets, masks)
    inputs = registry.ScoreInputs(gen, tgt, msk, protocol, inception_graph, fid_weights,
                                  batch_size, splits)
    values, timings = {}, {}
    settings = {"pairing": "sorted file stem"}
    try:
        for name in metrics:
            start = time.perf_counter()
            values.update(registry.METRICS[name](inputs))
            timings[name] = round(time.perf_counter() - start, 3)
        if "is" in metrics or "mask_is" in metrics:
            settings.update(is_batch_size=inputs.is_batch_size(), is_splits=splits,
                            is_num_classes=inputs.graph().num_classes,
                            inception_graph=os.path.abspath(inception_graph))
    finally:
        inputs.close()
    if "fid" in metrics:
        settings.update(fid_weights=os.path.abspath(fid_weights),
                        fid_features="keras InceptionV3 no-top avg-pool, bilinear 299x299, "
                                     "x/127.5-1; reals = targets folder")
    return {
        "protocol": protocol,
        "num_images": int(gen.shape[0]),
        "image_size": [int(gen.shape[1]), int(gen.shape[2])],
        "metrics": values,
        "inputs": {"generated": os.path.abspath(generated),
                   "targets": os.path.abspath(targets),
                   "masks": os.path.abspath(masks) if masks else None},
        "first_file": stems[0],
        "last_file": stems[-1],
        "settings": settings,
        "seconds": timings,
        "versions": package_versions(),
    }


def write_report(report: dict, path: str) -> None:
    """Write the report as indented JSON (non-finite values as JSON Infinity/NaN)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
        f.write("\n")


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m dpig_tf.eval.score",
        description="Score generated images against targets (DPIG/PG2 or PATN protocol).")
    parser.add_argument("--generated", required=True, help="folder of generated images")
    parser.add_argument("--targets", required=True, help="folder of target images")
    parser.add_argument("--masks", default=None,
                        help="folder of x255 masks (dpig: source r7 mask; patn: target mask)")
    parser.add_argument("--protocol", default="dpig", choices=registry.PROTOCOLS)
    parser.add_argument("--metrics", default="ssim,psnr,l1",
                        help=f"comma-separated subset of {','.join(registry.METRICS)}")
    parser.add_argument("--out", required=True, help="report.json path")
    parser.add_argument("--inception_graph", default=None,
                        help="path of classify_image_graph_def.pb (inception-2015-12-05.tgz)")
    parser.add_argument("--fid_weights", default=None,
                        help="path of inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
    parser.add_argument("--batch_size", type=int, default=None,
                        help="IS/FID batch size (default: dpig IS 100, patn IS 10, FID 50)")
    parser.add_argument("--splits", type=int, default=10, help="IS splits")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    report = score_folders(args.generated, args.targets, args.masks, args.protocol,
                           args.metrics, args.inception_graph, args.fid_weights,
                           args.batch_size, args.splits)
    write_report(report, args.out)
    print(json.dumps({"num_images": report["num_images"], **report["metrics"]}, indent=1))
    return 0


if __name__ == "__main__":
    cli.run(main)
