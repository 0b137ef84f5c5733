"""Per-region appearance transfer: some body-region codes from a donor, the rest from a target.

The foreground code is 7 region codes of `part_dim` dims each, in the ROI order
of SPEC 1.6 (`dpig_tf.data.pose.PART_JOINTS`); on Market a 128-d background
code follows. `transfer_regions` encodes both images, copies the named region
codes (and optionally the background) from the donor into the target's
embedding and decodes it in the target's pose. docs/regions.png shows the 7
boxes on a demo image.

Reference: the paper's per-region appearance swap (Ma et al. 2018, Fig. 6);
SPEC 1.6 (ROI order), 2.1 step 3 (region codes).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from dpig_tf.errors import UserError
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND

# The 7 region codes in the encoder's ROI order (SPEC 1.6), with the joints that span each box.
REGION_NAMES = ("head", "upper_clothes", "pants", "left_arm", "right_arm", "left_leg",
                "right_leg")
REGION_DESCRIPTIONS = {
    "head": "head (nose, neck, shoulders, eyes, ears)",
    "upper_clothes": "upper body (shoulders, arms, hips)",
    "pants": "lower body (hips, knees, ankles)",
    "left_arm": "left arm (shoulder, elbow, wrist)",
    "right_arm": "right arm (shoulder, elbow, wrist)",
    "left_leg": "left leg (hip, knee, ankle)",
    "right_leg": "right leg (hip, knee, ankle)",
}
BACKGROUND_SOURCES = ("target", "donor")


def parse_regions(regions) -> tuple[str, ...]:
    """"upper_clothes,pants" or a sequence -> validated names in ROI order (duplicates dropped)."""
    if isinstance(regions, str):
        regions = regions.split(",")
    names = [r.strip() for r in regions if r and r.strip()]
    unknown = [r for r in names if r not in REGION_NAMES]
    if unknown:
        raise UserError(f"--regions: expected names from {','.join(REGION_NAMES)}, "
                         f"found {','.join(unknown)}")
    if not names:
        raise UserError(f"--regions: expected at least one of {','.join(REGION_NAMES)}, "
                         "found none")
    return tuple(r for r in REGION_NAMES if r in names)


def check_background_from(value: str | None) -> str:
    value = value or "target"
    if value not in BACKGROUND_SOURCES:
        raise UserError(f"--background-from: expected one of {', '.join(BACKGROUND_SOURCES)}, "
                         f"found {value!r}")
    return value


def region_slices(model) -> dict[str, slice]:
    """Region name -> its dims in the foreground code (requires the ROI encoder)."""
    num_parts = len(REGION_NAMES)
    if getattr(model.encoder, "foreground_encoder", "roi") != "roi" or \
            model.foreground_dim % num_parts:
        raise UserError("per-region transfer needs a model with the ROI foreground encoder "
                         f"({num_parts} region codes); this run's encoder has none")
    part = model.foreground_dim // num_parts
    return {name: slice(i * part, (i + 1) * part) for i, name in enumerate(REGION_NAMES)}


def mix_codes(model, target_codes: dict, donor_codes: dict, regions,
              background_from: str = "target") -> dict:
    """The target's codes with the named region codes (and maybe the background) from the donor."""
    slices = region_slices(model)
    fg = np.array(target_codes[FOREGROUND], np.float32, copy=True)
    donor_fg = np.asarray(donor_codes[FOREGROUND], np.float32)
    for name in parse_regions(regions):
        fg[..., slices[name]] = donor_fg[..., slices[name]]
    out = {FOREGROUND: fg}
    if model.has_background:
        source = donor_codes if check_background_from(background_from) == "donor" else target_codes
        out[BACKGROUND] = np.array(source[BACKGROUND], np.float32, copy=True)
    return out


@dataclasses.dataclass
class RegionTransfer:
    """Result of `transfer_regions` (batched, B >= 1).

    Attributes:
        images: (B, H, W, 3) float32 generated images in ~[-1, 1] (target pose).
        codes: the mixed codes that were decoded ({foreground, [background]}).
        target_codes, donor_codes: the two encodings.
        regions: the swapped region names; background_from: "target" or "donor".
    """

    images: np.ndarray
    codes: dict
    target_codes: dict
    donor_codes: dict
    regions: tuple
    background_from: str


def transfer_regions(model, target_image, target_kp, donor_image, donor_kp, regions,
                     background_from: str | None = None) -> RegionTransfer:
    """Swap body-region appearance from donor to target, keeping the target's pose.

    Args:
        model: a `DisentangledGenerator` (Stage I is enough).
        target_image, donor_image: (H, W, 3) or (B, H, W, 3) float in [-1, 1].
        target_kp, donor_kp: (18, 3) or (B, 18, 3) pixel keypoints (row, col, visible).
        regions: names from `REGION_NAMES` (a list or "a,b").
        background_from: "target" (default) or "donor"; ignored without a background code.
    """
    regions = parse_regions(regions)
    background_from = check_background_from(background_from)
    single = np.ndim(target_image) == 3

    def batch(x):
        x = np.asarray(x, np.float32)
        return x[None] if single else x

    def encode(image, keypoints):
        return {k: np.asarray(v) for k, v in model.encode(image, keypoints).items()}

    t_img, t_kp, d_img, d_kp = (batch(x) for x in (target_image, target_kp, donor_image,
                                                   donor_kp))
    target_codes = encode(t_img, t_kp)
    donor_codes = encode(d_img, d_kp)
    codes = mix_codes(model, target_codes, donor_codes, regions, background_from)
    images = np.asarray(model.decode(codes[FOREGROUND], codes.get(BACKGROUND), t_kp))
    if single:
        images = images[0]
    return RegionTransfer(images, codes, target_codes, donor_codes, regions, background_from)


def region_boxes(model, keypoints) -> np.ndarray:
    """(B, 7, 4) integer pixel boxes [y1, x1, y2, x2] (inclusive) of the regions, ROI order."""
    kp = np.asarray(keypoints, np.float32)
    kp = kp[None] if kp.ndim == 2 else kp
    dummy = np.zeros((len(kp), model.image_height, model.image_width, 3), np.float32)
    boxes = np.asarray(model.encoder_inputs(dummy, kp)["roi_boxes"])
    return np.rint(boxes).astype(np.int64)


def box_mask(box, height: int, width: int) -> np.ndarray:
    y1, x1, y2, x2 = (int(v) for v in box)
    mask = np.zeros((height, width), bool)
    mask[max(y1, 0):y2 + 1, max(x1, 0):x2 + 1] = True
    return mask


def change_inside_vs_outside(result, reference, mask) -> tuple[float, float]:
    """Mean |result - reference| (over channels) inside and outside a (H, W) mask."""
    diff = np.abs(np.asarray(result, np.float64) - np.asarray(reference, np.float64)).mean(-1)
    return float(diff[mask].mean()), float(diff[~mask].mean())
