"""Metric registry: name -> fn(ScoreInputs) -> dict[str, float].

Each metric lives in its own module (ssim.py, inception_score.py, fid.py,
psnr_l1.py, lpips.py, gfla_fid.py, gfla_reconstruction.py, pckh.py); this file
only maps names to them under a protocol. Keys of the returned dicts are flat
and JSON-friendly: `<metric>_mean`, `<metric>_std`. The two FIDs have distinct
keys: `fid_dpig_keras_inception` (Keras InceptionV3, SPEC 5) and
`fid_gfla_torchvision` (EVALUATION.md 3).
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from dpig_tf.errors import UsageError
from dpig_tf.eval import gfla_reconstruction
from dpig_tf.eval import psnr_l1
from dpig_tf.eval import ssim

PROTOCOLS = ("dpig", "patn", "gfla", "cfld")
GFLA_FAMILY = ("gfla", "cfld")  # GFLA script/metrics.py and its descendants (EVALUATION.md 3-4)
# IS batch per protocol: DPIG tflib 100, PATN tool/inception_score.py 10.
IS_BATCH_SIZE = {"dpig": 100, "patn": 10, "gfla": 10, "cfld": 10}
FID_DPIG_KEY = "fid_dpig_keras_inception"
# Every metric of a protocol (`--metrics=all`; the score CLI's default for gfla / cfld, while
# dpig / patn keep their historical default LEGACY_DEFAULT). mask_lpips is added for gfla /
# cfld when masks are given (Market).
PROTOCOL_METRICS = {
    "dpig": ("ssim", "mask_ssim", "is", "mask_is", "fid"),
    "patn": ("ssim", "mask_ssim", "is", "mask_is", "pckh"),
    "gfla": ("fid_gfla", "lpips", "ssim", "ssim_256", "psnr", "l1", "mae", "pckh"),
    "cfld": ("fid_gfla", "lpips", "ssim", "ssim_256", "psnr", "pckh"),
}


@dataclasses.dataclass
class ScoreInputs:
    """Everything a metric may need; heavy models are loaded lazily, once.

    Args:
        generated, targets: (N, H, W, 3) uint8.
        masks: (N, H, W) uint8 (x255 pose masks) or None.
        protocol: "dpig" or "patn".
        inception_graph: path of classify_image_graph_def.pb (IS, mask-IS).
        fid_weights: path of the InceptionV3 no-top .h5 (FID).
        batch_size: IS / FID batch (None: protocol default for IS, 50 for FID;
            GFLA FID and LPIPS: 64).
        splits: IS splits.
        lpips_weights: LPIPS `.npz` (convert_weights) (lpips, mask_lpips).
        gfla_inception_weights: torchvision Inception-v3 `.pth` or `.npz` (fid_gfla).
        reals: (M, H', W', 3) uint8 real images for fid_gfla (None: the targets).
        target_keypoints: (N, 18, 3) RCV keypoints of the targets for pckh (None:
            re-detected on the target images, as the field's scripts do).
        pose_graph: the pose estimator's graph (pckh; None: the default path).
        progress: show progress bars on the long metrics.
    """

    generated: np.ndarray
    targets: np.ndarray
    masks: np.ndarray | None
    protocol: str
    inception_graph: str | None = None
    fid_weights: str | None = None
    batch_size: int | None = None
    splits: int = 10
    lpips_weights: str | None = None
    gfla_inception_weights: str | None = None
    reals: np.ndarray | None = None
    target_keypoints: np.ndarray | None = None
    pose_graph: str | None = None
    progress: bool = False
    _graph: object = None
    _fid_model: object = None
    _lpips: object = None

    def require_masks(self, metric: str) -> np.ndarray:
        if self.masks is None:
            raise UsageError(f"metric {metric!r} needs a masks folder (--masks=DIR)")
        return self.masks

    def graph(self):
        if self._graph is None:
            from dpig_tf.eval.inception_score import InceptionGraph

            self._graph = InceptionGraph(self.inception_graph)
        return self._graph

    def fid_model(self):
        if self._fid_model is None:
            from dpig_tf.eval.fid import load_fid_model

            self._fid_model = load_fid_model(self.fid_weights)
        return self._fid_model

    def lpips_model(self):
        if self._lpips is None:
            from dpig_tf.eval import lpips
            from dpig_tf.eval import lpips_weights

            if not self.lpips_weights:
                raise FileNotFoundError(lpips_weights.missing_weights_message())
            self._lpips = lpips.LPIPS(lpips_weights.load_weights(npz=self.lpips_weights))
        return self._lpips

    def close(self) -> None:
        """Release the Inception graph's session, if one was opened."""
        if self._graph is not None:
            self._graph.close()
            self._graph = None

    def is_batch_size(self) -> int:
        return self.batch_size or IS_BATCH_SIZE[self.protocol]


def _stats(name: str, values: np.ndarray) -> dict[str, float]:
    return {f"{name}_mean": float(np.mean(values)), f"{name}_std": float(np.std(values))}


def _ssim(inp: ScoreInputs) -> dict[str, float]:
    fn = {"dpig": ssim.dpig_ssim, "patn": ssim.patn_ssim}.get(inp.protocol,
                                                             gfla_reconstruction.gfla_ssim)
    return _stats("ssim", fn(inp.generated, inp.targets))


def _ssim_256(inp: ScoreInputs) -> dict[str, float]:
    return _stats("ssim_256", gfla_reconstruction.gfla_ssim_256(inp.generated, inp.targets))


def _mask_ssim(inp: ScoreInputs) -> dict[str, float]:
    masks = inp.require_masks("mask_ssim")
    fn = ssim.dpig_mask_ssim if inp.protocol == "dpig" else ssim.patn_mask_ssim  # gfla: PATN
    return _stats("mask_ssim", fn(inp.generated, inp.targets, masks))


def _inception(name: str, images: np.ndarray, inp: ScoreInputs) -> dict[str, float]:
    from dpig_tf.eval.inception_score import inception_score

    result = inception_score(images, inp.graph(), inp.is_batch_size(), inp.splits)
    return {f"{name}_mean": result["mean"], f"{name}_std": result["std"]}


def _is(inp: ScoreInputs) -> dict[str, float]:
    return _inception("is", inp.generated, inp)


def _mask_is(inp: ScoreInputs) -> dict[str, float]:
    masks = inp.require_masks("mask_is")
    return _inception("mask_is", ssim.apply_mask(inp.generated, masks), inp)


def _fid(inp: ScoreInputs) -> dict[str, float]:
    from dpig_tf.eval.fid import DEFAULT_BATCH_SIZE
    from dpig_tf.eval.fid import fid

    value = fid(inp.generated, inp.targets, inp.fid_model(),
                inp.batch_size or DEFAULT_BATCH_SIZE)
    return {FID_DPIG_KEY: value}


def _fid_gfla(inp: ScoreInputs) -> dict[str, float]:
    from dpig_tf.eval import gfla_fid

    model = gfla_fid.GflaInception(gfla_fid.load_weights(
        npz=inp.gfla_inception_weights if str(inp.gfla_inception_weights).endswith(".npz")
        else None, torch_file=inp.gfla_inception_weights))
    reals = inp.targets if inp.reals is None else inp.reals
    return gfla_fid.gfla_fid(inp.generated, reals, model,
                             inp.batch_size or gfla_fid.GFLA_BATCH_SIZE, inp.progress)


def _lpips(name: str, inp: ScoreInputs, masks) -> dict[str, float]:
    from dpig_tf.eval import lpips

    values = lpips.lpips_per_image(inp.lpips_model(), inp.generated, inp.targets, masks,
                                   inp.batch_size or lpips.GFLA_BATCH_SIZE,
                                   drop_remainder=True, progress=inp.progress)
    return {name: float(np.mean(values)), f"{name}_images_used": int(len(values))}


def _lpips_all(inp: ScoreInputs) -> dict[str, float]:
    return _lpips("lpips", inp, None)


def _mask_lpips(inp: ScoreInputs) -> dict[str, float]:
    return _lpips("mask_lpips", inp, inp.require_masks("mask_lpips"))


def _pckh(inp: ScoreInputs) -> dict:
    from dpig_tf.eval import pckh
    from dpig_tf.pose.estimator import PoseEstimator

    estimator = PoseEstimator(inp.pose_graph)
    detected = pckh.detect(inp.generated, estimator, inp.progress)
    targets = inp.target_keypoints
    if targets is None:
        targets = pckh.detect(inp.targets, estimator, inp.progress)
    return pckh.pckh(detected, targets)


def _psnr(inp: ScoreInputs) -> dict[str, float]:
    if inp.protocol in GFLA_FAMILY:
        return _stats("psnr", gfla_reconstruction.gfla_psnr(inp.generated, inp.targets))
    return _stats("psnr", psnr_l1.dpig_psnr(inp.generated, inp.targets))


def _l1(inp: ScoreInputs) -> dict[str, float]:
    if inp.protocol in GFLA_FAMILY:  # on [0, 1] images, no l2
        return _stats("l1", gfla_reconstruction.gfla_l1(inp.generated, inp.targets))
    l1, l2 = psnr_l1.dpig_l1_l2(inp.generated, inp.targets)
    return {**_stats("l1", l1), **_stats("l2", l2)}


def _mae(inp: ScoreInputs) -> dict[str, float]:
    return _stats("mae", gfla_reconstruction.gfla_mae(inp.generated, inp.targets))


def _mask_psnr(inp: ScoreInputs) -> dict[str, float]:
    masks = inp.require_masks("mask_psnr")
    return _stats("mask_psnr", psnr_l1.masked_psnr(inp.generated, inp.targets, masks))


def _mask_l1(inp: ScoreInputs) -> dict[str, float]:
    masks = inp.require_masks("mask_l1")
    l1, l2 = psnr_l1.masked_l1_l2(inp.generated, inp.targets, masks)
    return {**_stats("mask_l1", l1), **_stats("mask_l2", l2)}


METRICS: dict[str, Callable[[ScoreInputs], dict[str, float]]] = {
    "ssim": _ssim,
    "mask_ssim": _mask_ssim,
    "is": _is,
    "mask_is": _mask_is,
    "fid": _fid,
    "psnr": _psnr,
    "l1": _l1,
    "mask_psnr": _mask_psnr,
    "mask_l1": _mask_l1,
    "fid_gfla": _fid_gfla,
    "lpips": _lpips_all,
    "mask_lpips": _mask_lpips,
    "ssim_256": _ssim_256,
    "mae": _mae,
    "pckh": _pckh,
}
MASK_METRICS = ("mask_ssim", "mask_is", "mask_psnr", "mask_l1", "mask_lpips")


LEGACY_DEFAULT = ("ssim", "psnr", "l1")


def default_metrics(protocol: str, with_masks: bool) -> list[str]:
    """The score CLI's metrics without --metrics."""
    if protocol in GFLA_FAMILY:
        return protocol_metrics(protocol, with_masks)
    return list(LEGACY_DEFAULT)


def protocol_metrics(protocol: str, with_masks: bool) -> list[str]:
    """Every metric of `protocol` (mask-LPIPS of gfla / cfld only when masks are given)."""
    metrics = list(PROTOCOL_METRICS[protocol])
    if protocol in GFLA_FAMILY and with_masks:
        metrics.insert(metrics.index("lpips") + 1, "mask_lpips")
    return metrics


def check_metrics(metrics) -> list[str]:
    """Validate metric names (a list or a comma-separated string)."""
    if isinstance(metrics, str):
        metrics = [m for m in metrics.split(",") if m]
    metrics = [m.strip() for m in metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise UsageError(f"unknown metric(s) {unknown}; available: {', '.join(METRICS)}")
    if not metrics:
        raise UsageError(f"no metric requested; available: {', '.join(METRICS)}")
    return metrics
