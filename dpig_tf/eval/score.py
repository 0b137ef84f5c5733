"""Score folders of generated / target (/ mask) images under a protocol.

  python -m dpig_tf.eval.score --generated=G --targets=T [--masks=M] \
      --protocol=dpig|patn|gfla|cfld [--metrics=...] --out=report.json \
      [--inception_graph=PB] [--fid_weights=H5] [--lpips_weights=NPZ] \
      [--gfla_inception_weights=PTH|NPZ] [--fid_reals=DIR] \
      [--target_keypoints=CSV] [--pose_graph=PB] [--batch_size=N] [--splits=10]

Files are paired by sorted file stem (SPEC 8.2 #5, #10: a missing or extra
file is an error listing the names). `--metrics=all` computes every metric of
the protocol (`registry.PROTOCOL_METRICS`); that is the default of gfla and
cfld, while dpig and patn keep their historical default ssim,psnr,l1. The JSON report (written
atomically) holds every number, the protocol, the image counts, the resize,
the input folders, the weight files with their SHA-256, the settings and the
package versions; a small table is printed. See docs/EVALUATION.md.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import tempfile
import time

import numpy as np
from PIL import Image

from dpig_tf import cli
from dpig_tf.errors import UsageError
from dpig_tf.eval import image_folder
from dpig_tf.eval import registry
from dpig_tf.eval import weight_files

VERSIONED_PACKAGES = ("tensorflow", "keras", "numpy", "scipy", "scikit-image", "pillow",
                      "protobuf", "h5py")
# How images reach each metric (GFLA-family resizes happen inside the metrics).
RESIZE = {
    "dpig": "none (paired images must have one size); IS/FID: bilinear to 299x299",
    "patn": "none (paired images must have one size); IS: bilinear to 299x299",
    "gfla": "none for SSIM/PSNR/L1/LPIPS; fid_gfla_torchvision: bilinear to 299x299 "
            "(align_corners=False)",
    "cfld": "generated -> target size, PIL bicubic, uint8 (when sizes differ); "
            "fid_gfla_torchvision: bilinear to 299x299",
}


def package_versions() -> dict[str, str]:
    """Installed versions of the packages the metrics depend on."""
    versions = {"python": platform.python_version()}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _resize_bicubic(images: np.ndarray, height: int, width: int) -> np.ndarray:
    """CFLD: generated images upsampled to the target size (bicubic) and quantised to uint8."""
    return np.stack([np.asarray(Image.fromarray(im).resize((width, height), Image.BICUBIC))
                     for im in images])


def load_folders(generated: str, targets: str, masks: str | None,
                 resize_generated: bool = False):
    """Pair and load the folders -> (stems, generated, targets, masks or None, target paths)."""
    folders = {"generated": generated, "targets": targets}
    if masks:
        folders["masks"] = masks
    stems, paths = image_folder.pair_folders(folders)
    stacks = {"generated": image_folder.load_stack(paths["generated"], image_folder.load_rgb),
              "targets": image_folder.load_stack(paths["targets"], image_folder.load_rgb)}
    if masks:
        stacks["masks"] = image_folder.load_stack(paths["masks"], image_folder.load_mask)
    if resize_generated and stacks["generated"].shape[1:3] != stacks["targets"].shape[1:3]:
        stacks["generated"] = _resize_bicubic(stacks["generated"],
                                              *stacks["targets"].shape[1:3])
    image_folder.check_same_size(stacks, paths)
    return stems, stacks["generated"], stacks["targets"], stacks.get("masks"), paths["targets"]


def load_reals(folder: str) -> np.ndarray:
    """Every image of a folder (FID reals); sizes may differ from the generated images."""
    paths = sorted(image_folder.list_images(folder, "FID reals").values())
    images = [image_folder.load_rgb(p) for p in paths]
    sizes = {im.shape for im in images}
    if len(sizes) > 1:
        raise UsageError(f"{folder}: expected FID reals of one size, found {sorted(sizes)}")
    return np.stack(images)


def load_target_keypoints(csv: str, target_paths: list[str]) -> np.ndarray:
    """(N, 18, 3) RCV keypoints of the target files from a PG2 annotation CSV (by file name)."""
    from dpig_tf.data import keypoints_csv

    rows = keypoints_csv.read_annotation_csv_with_lines(csv)
    out = []
    for path in target_paths:
        name = os.path.basename(path)
        if name not in rows:
            raise UsageError(f"{csv}: expected a row for target image {name}, found none")
        out.append(rows[name][0])
    return np.stack(out).astype(np.float32)


def weight_file_report(paths: dict[str, str | None]) -> dict:
    """{role: {"path", "sha256"}} of the model files that were used."""
    return {role: {"path": os.path.abspath(p), "sha256": weight_files.sha256(p)}
            for role, p in paths.items() if p}


def check_model_files(metrics, inception_graph: str | None, fid_weights: str | None,
                      lpips_weights: str | None = None,
                      gfla_inception_weights: str | None = None,
                      pose_graph: str | None = None) -> None:
    """Fail on a missing model file before any time is spent reading or generating images."""
    if ("lpips" in metrics or "mask_lpips" in metrics) and \
            (not lpips_weights or not os.path.isfile(lpips_weights)):
        from dpig_tf.eval.lpips_weights import missing_weights_message

        raise FileNotFoundError(missing_weights_message(lpips_weights))
    if "fid_gfla" in metrics and (not gfla_inception_weights or
                                  not os.path.isfile(gfla_inception_weights)):
        from dpig_tf.eval.gfla_fid import missing_weights_message

        raise FileNotFoundError(missing_weights_message(gfla_inception_weights))
    if "pckh" in metrics:
        from dpig_tf.pose import graph_file

        graph = pose_graph or str(graph_file.DEFAULT_GRAPH_PATH)
        if not os.path.isfile(graph):
            raise FileNotFoundError(f"{graph}: expected the pose estimator graph for pckh, "
                                    "found no such file (run `bash scripts/fetch_pose_graph.sh`"
                                    " or pass --pose_graph=PB)")
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
                  batch_size: int | None = None, splits: int = 10,
                  lpips_weights: str | None = None, gfla_inception_weights: str | None = None,
                  fid_reals: str | None = None, target_keypoints: str | None = None,
                  pose_graph: str | None = None, progress: bool = False) -> dict:
    """Compute `metrics` over paired folders; returns the JSON-ready report.

    Args:
        generated, targets: folders of 8-bit RGB images, paired by file stem.
        masks: folder of 8-bit single-channel x255 pose masks (mask metrics).
            dpig: the SOURCE image's r7 mask (SPEC 5.2); patn: the target's.
        protocol: "dpig" (SPEC 5; DPIG/PG2 score.py), "patn" (EVALUATION.md 2.2),
            "gfla" (EVALUATION.md 3) or "cfld" (EVALUATION.md 4).
        metrics: names from `registry.METRICS`; "all": every metric of the protocol;
            None: gfla / cfld every metric, dpig / patn ssim, psnr, l1.
        inception_graph: classify_image_graph_def.pb path (is, mask_is).
        fid_weights: InceptionV3 no-top weights path (fid).
        batch_size: IS/FID batch (default: dpig IS 100, patn IS 10, FID 50).
        splits: IS splits.
        lpips_weights: LPIPS .npz (lpips, mask_lpips).
        gfla_inception_weights: torchvision Inception-v3 .pth / .npz (fid_gfla).
        fid_reals: folder of real images for fid_gfla (default: the targets).
        target_keypoints: PG2 CSV of the target files' keypoints for pckh
            (default: re-detected on the targets with the same estimator).
        pose_graph: pose estimator graph for pckh (default: third_party/models/).
        progress: progress bars on LPIPS / GFLA FID / PCKh.
    """
    if protocol not in registry.PROTOCOLS:
        raise UsageError(f"unknown protocol {protocol!r}; expected one of {registry.PROTOCOLS}")
    if metrics is None:
        metrics = registry.default_metrics(protocol, bool(masks))
    elif metrics == "all" or list(metrics) == ["all"]:
        metrics = registry.protocol_metrics(protocol, bool(masks))
    metrics = registry.check_metrics(metrics)
    needs_masks = [m for m in metrics if m in registry.MASK_METRICS]
    if needs_masks and not masks:
        raise UsageError(f"metric(s) {needs_masks} need --masks=DIR")
    check_model_files(metrics, inception_graph, fid_weights, lpips_weights,
                      gfla_inception_weights, pose_graph)
    if batch_size is not None and batch_size < 1:
        raise UsageError(f"batch_size must be >= 1, got {batch_size}")

    stems, gen, tgt, msk, target_paths = load_folders(generated, targets, masks,
                                                      resize_generated=protocol == "cfld")
    reals = load_reals(fid_reals) if fid_reals and "fid_gfla" in metrics else None
    keypoints = load_target_keypoints(target_keypoints, target_paths) if \
        target_keypoints and "pckh" in metrics else None
    inputs = registry.ScoreInputs(gen, tgt, msk, protocol, inception_graph, fid_weights,
                                  batch_size, splits, lpips_weights, gfla_inception_weights,
                                  reals, keypoints, pose_graph, progress)
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
                        fid_features=f"{registry.FID_DPIG_KEY}: keras InceptionV3 no-top "
                                     "avg-pool, bilinear 299x299, x/127.5-1; reals = targets "
                                     "folder")
    if "fid_gfla" in metrics:
        settings.update(fid_gfla_features="fid_gfla_torchvision: torchvision Inception-v3 "
                                          "pool3, [0,1] -> bilinear 299 -> transform_input "
                                          "quirk; batch 64, remainder dropped",
                        fid_reals=os.path.abspath(fid_reals) if fid_reals else
                        "targets folder")
    if "lpips" in metrics or "mask_lpips" in metrics:
        settings.update(lpips="lpips v0.1 alex, [-1,1] inputs, batch 64, remainder dropped")
    if "pckh" in metrics:
        settings.update(pckh_targets=os.path.abspath(target_keypoints) if target_keypoints
                        else "re-detected on the targets", pckh_alpha=0.5)
    pose_graph_used = None
    if "pckh" in metrics:
        from dpig_tf.pose import graph_file

        pose_graph_used = pose_graph or str(graph_file.DEFAULT_GRAPH_PATH)
    counts = {"generated": int(gen.shape[0]), "targets": int(tgt.shape[0])}
    if reals is not None:
        counts["fid_reals"] = int(reals.shape[0])
    return {
        "protocol": protocol,
        "num_images": int(gen.shape[0]),
        "image_counts": counts,
        "image_size": [int(gen.shape[1]), int(gen.shape[2])],
        "resize": RESIZE[protocol],
        "metric_names": list(metrics),
        "metrics": values,
        "weight_files": weight_file_report({
            "inception_graph": inception_graph if ("is" in metrics or "mask_is" in metrics)
            else None,
            "fid_weights": fid_weights if "fid" in metrics else None,
            "lpips_weights": lpips_weights if ("lpips" in metrics or "mask_lpips" in metrics)
            else None,
            "gfla_inception_weights": gfla_inception_weights if "fid_gfla" in metrics
            else None,
            "pose_graph": pose_graph_used}),
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
    """Write the report as indented JSON, atomically (temp file + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".report-", suffix=".json", dir=directory)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(report, f, indent=1, sort_keys=False)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def format_table(report: dict) -> str:
    """A small two-column table of the scalar metrics (per-joint PCKh in the JSON only)."""
    rows = [(k, v) for k, v in report["metrics"].items() if isinstance(v, (int, float))]
    width = max([len(k) for k, _ in rows] + [len("metric")])
    lines = [f"protocol {report['protocol']}, {report['num_images']} images",
             f"{'metric':<{width}}  value", f"{'-' * width}  {'-' * 10}"]
    for key, value in rows:
        text = str(value) if isinstance(value, int) else f"{value:.4f}"
        lines.append(f"{key:<{width}}  {text}")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m dpig_tf.eval.score",
        description="Score generated images against targets (DPIG/PG2 or PATN protocol).")
    parser.add_argument("--generated", required=True, help="folder of generated images")
    parser.add_argument("--targets", required=True, help="folder of target images")
    parser.add_argument("--masks", default=None,
                        help="folder of x255 masks (dpig: source r7 mask; patn: target mask)")
    parser.add_argument("--protocol", default="dpig", choices=registry.PROTOCOLS)
    parser.add_argument("--metrics", default=None,
                        help=f"comma-separated subset of {','.join(registry.METRICS)}, or all "
                             "(every metric of the protocol); default: all for gfla/cfld, "
                             "ssim,psnr,l1 for dpig/patn")
    parser.add_argument("--out", required=True, help="report.json path")
    parser.add_argument("--inception_graph", default=None,
                        help="path of classify_image_graph_def.pb (inception-2015-12-05.tgz)")
    parser.add_argument("--fid_weights", default=None,
                        help="path of inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5")
    parser.add_argument("--batch_size", type=int, default=None,
                        help="IS/FID batch size (default: dpig IS 100, patn IS 10, FID 50)")
    parser.add_argument("--splits", type=int, default=10, help="IS splits")
    parser.add_argument("--lpips_weights", default=None,
                        help="LPIPS .npz (python -m dpig_tf.eval.convert_weights --alexnet=... "
                             "--lpips=... --out=lpips_alex.npz)")
    parser.add_argument("--gfla_inception_weights", default=None,
                        help="torchvision Inception-v3 weights (.pth or converted .npz) for "
                             "fid_gfla_torchvision")
    parser.add_argument("--fid_reals", default=None,
                        help="folder of real images for fid_gfla_torchvision (the papers: the "
                             "whole training set); default: the targets folder")
    parser.add_argument("--target_keypoints", default=None,
                        help="PG2 annotation CSV of the target files for pckh; default: "
                             "re-detect keypoints on the targets")
    parser.add_argument("--pose_graph", default=None,
                        help="pose estimator graph for pckh (default: third_party/models/)")
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    report = score_folders(args.generated, args.targets, args.masks, args.protocol,
                           args.metrics, args.inception_graph, args.fid_weights,
                           args.batch_size, args.splits, args.lpips_weights,
                           args.gfla_inception_weights, args.fid_reals,
                           args.target_keypoints, args.pose_graph, progress=True)
    write_report(report, args.out)
    print(format_table(report))
    print(f"report: {args.out}")
    return 0


if __name__ == "__main__":
    cli.run(main)
