"""Metric registry: name -> fn(ScoreInputs) -> dict[str, float].

Each metric lives in its own module (ssim.py, inception_score.py, fid.py,
psnr_l1.py); this file only maps names to them under a protocol. Keys of the
returned dicts are flat and JSON-friendly: `<metric>_mean`, `<metric>_std`.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

from dpig_tf.errors import UsageError
from dpig_tf.eval import psnr_l1
from dpig_tf.eval import ssim

PROTOCOLS = ("dpig", "patn")
# IS batch per protocol: DPIG tflib 100, PATN tool/inception_score.py 10.
IS_BATCH_SIZE = {"dpig": 100, "patn": 10}


@dataclasses.dataclass
class ScoreInputs:
    """Everything a metric may need; heavy models are loaded lazily, once.

    Args:
        generated, targets: (N, H, W, 3) uint8.
        masks: (N, H, W) uint8 (x255 pose masks) or None.
        protocol: "dpig" or "patn".
        inception_graph: path of classify_image_graph_def.pb (IS, mask-IS).
        fid_weights: path of the InceptionV3 no-top .h5 (FID).
        batch_size: IS / FID batch (None: protocol default for IS, 50 for FID).
        splits: IS splits.
    """

    generated: np.ndarray
    targets: np.ndarray
    masks: np.ndarray | None
    protocol: str
    inception_graph: str | None = None
    fid_weights: str | None = None
    batch_size: int | None = None
    splits: int = 10
    _graph: object = None
    _fid_model: object = None

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
    fn = ssim.dpig_ssim if inp.protocol == "dpig" else ssim.patn_ssim
    return _stats("ssim", fn(inp.generated, inp.targets))


def _mask_ssim(inp: ScoreInputs) -> dict[str, float]:
    masks = inp.require_masks("mask_ssim")
    fn = ssim.dpig_mask_ssim if inp.protocol == "dpig" else ssim.patn_mask_ssim
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
    return {"fid": value}


def _psnr(inp: ScoreInputs) -> dict[str, float]:
    return _stats("psnr", psnr_l1.dpig_psnr(inp.generated, inp.targets))


def _l1(inp: ScoreInputs) -> dict[str, float]:
    l1, l2 = psnr_l1.dpig_l1_l2(inp.generated, inp.targets)
    return {**_stats("l1", l1), **_stats("l2", l2)}


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
}
MASK_METRICS = ("mask_ssim", "mask_is", "mask_psnr", "mask_l1")


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
