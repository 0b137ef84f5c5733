"""How faithful a fast inference path is: its images against the fp32 Keras model's.

Every speed figure of an export or benchmark row carries these numbers, measured
on the same inputs as the fp32 reference (real test-split examples of a trained
run where one is given):

- PSNR in dB on the [-1, 1] images (data range 2), the mean over images of the
  per-image PSNR; identical images are reported as `PSNR_CAP_DB`;
- SSIM: our exact (skimage-equivalent) SSIM, `dpig_tf.eval.ssim.ssim_batch`, on
  the RGB images mapped to [0, 1] (data range 1, 7x7 uniform window, sample
  covariance, mean over channels), the mean over images;
- mean and max absolute error on the [-1, 1] scale.

A path is *faithful* when PSNR >= 35 dB and SSIM >= 0.98 against fp32.
"""

from __future__ import annotations

import dataclasses

import numpy as np

FAITHFUL_PSNR_DB = 35.0
FAITHFUL_SSIM = 0.98
# Identical outputs have an infinite PSNR; JSON has no infinity, so they are capped.
PSNR_CAP_DB = 100.0


@dataclasses.dataclass(frozen=True)
class Quality:
    """Output quality of one inference path against the fp32 reference.

    Args:
        psnr_db: mean per-image PSNR in dB (capped at PSNR_CAP_DB).
        ssim: mean per-image SSIM.
        mean_abs_error, max_abs_error: on the [-1, 1] image scale.
        images: how many images were compared.
    """

    psnr_db: float
    ssim: float
    mean_abs_error: float
    max_abs_error: float
    images: int

    @property
    def faithful(self) -> bool:
        return self.psnr_db >= FAITHFUL_PSNR_DB and self.ssim >= FAITHFUL_SSIM

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "faithful": self.faithful}

    def summary(self) -> str:
        return (f"PSNR {self.psnr_db:.1f} dB, SSIM {self.ssim:.4f}, mean |diff| "
                f"{self.mean_abs_error:.3g}, max {self.max_abs_error:.3g}")


def compare(reference: np.ndarray, output: np.ndarray) -> Quality:
    """Quality of `output` against `reference`, both (N, H, W, 3) images in [-1, 1]."""
    from dpig_tf.eval.ssim import ssim_batch

    ref = np.asarray(reference, np.float64)
    out = np.asarray(output, np.float64)
    if ref.shape != out.shape or ref.ndim != 4:
        raise ValueError(f"quality: expected two (N, H, W, C) image batches of one shape, "
                         f"got {ref.shape} and {out.shape}")
    diff = np.abs(out - ref)
    mse = np.mean(diff ** 2, axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        psnr = np.minimum(10 * np.log10(2.0 ** 2 / mse), PSNR_CAP_DB)
    # The images as a viewer sees them: clipped to the valid range, in [0, 1].
    to_unit = lambda x: (np.clip(x, -1.0, 1.0) + 1.0) / 2.0  # noqa: E731
    ssim = ssim_batch(to_unit(ref), to_unit(out), 1.0, channels=True)
    return Quality(psnr_db=float(np.mean(psnr)), ssim=float(np.mean(ssim)),
                   mean_abs_error=float(diff.mean()), max_abs_error=float(diff.max()),
                   images=int(ref.shape[0]))


def warning_line(what: str, quality: Quality) -> str:
    """The one-line warning an export prints for a model below the bar."""
    return (f"warning: {what} is NOT faithful to the fp32 model ({quality.summary()}; "
            f"needs PSNR >= {FAITHFUL_PSNR_DB:g} dB and SSIM >= {FAITHFUL_SSIM:g}): "
            f"its images differ visibly, do not serve it")
