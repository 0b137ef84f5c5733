"""How disentangled are the foreground and background codes? A pixel measurement.

For pairs (i, j) of real images (of different people), decode image i with ONE code swapped
for image j's and compare with the plain reconstruction of i (same pose):

- foreground swap, G(fg_j, bg_i, pose_i) vs G(fg_i, bg_i, pose_i): the change
  should sit inside i's pose mask: `fg_ratio` = mean |change| inside the mask /
  mean |change| outside it (>> 1 when disentangled);
- background swap, G(fg_i, bg_j, pose_i): the change should sit outside:
  `bg_ratio` = mean |change| outside / mean |change| inside (>> 1).

A network that ignored the split would give ratios near 1. `encoder_leakage`
checks the encoder side exactly: the foreground code cannot see pixels far
outside the mask, the background code pixels far inside. Market/demo only
(DeepFashion has no background code). The mask is the model's own pose mask
(radius data.mask_radius), computed from i's keypoints.

Reference: SPEC.md 2.1 (FG/BG split on features by the pose mask), 4.2.
"""

from __future__ import annotations

import json

import numpy as np
import tensorflow as tf
from scipy import ndimage

from dpig_tf.apps import common
from dpig_tf.data import pose_tf
from dpig_tf.errors import UsageError


def measure(model, images, keypoints, batch_size: int = 16, partners=None) -> dict:
    """Disentanglement ratios over the pairs (i, partners[i]) of the images.

    Args:
        model: a `DisentangledGenerator` with a background branch.
        images: (N, H, W, 3) in [-1, 1]; keypoints: (N, 18, 3), N >= 2.
        partners: (N,) index of the image whose code is swapped in; default
            i + N/2 (mod N): datasets list an identity's images together, and a
            partner of the same identity (same clothes) would hide the effect.
    """
    if not model.has_background:
        raise UsageError("disentanglement needs a background branch (Market / demo models)")
    images = np.asarray(images, np.float32)
    keypoints = np.asarray(keypoints, np.float32)
    n = len(images)
    if n < 2:
        raise UsageError("disentanglement needs at least 2 images")
    if partners is None:
        partners = (np.arange(n) + n // 2) % n
    partners = np.asarray(partners)
    sums = {k: 0.0 for k in ("fg_in", "fg_out", "bg_in", "bg_out", "in_px", "out_px")}
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        other = partners[idx]
        codes = model.encode(images[idx], keypoints[idx])
        partner = model.encode(images[other], keypoints[other])
        kp = keypoints[idx]
        base = model.decode(codes["foreground"], codes["background"], kp)
        fg_swap = model.decode(partner["foreground"], codes["background"], kp)
        bg_swap = model.decode(codes["foreground"], partner["background"], kp)
        mask = pose_tf.pose_mask(tf.constant(kp), model.image_height, model.image_width,
                                 model.mask_radius).numpy()[..., 0]  # (B, H, W)
        d_fg = np.abs(fg_swap.numpy() - base.numpy()).mean(-1)
        d_bg = np.abs(bg_swap.numpy() - base.numpy()).mean(-1)
        sums["fg_in"] += float((d_fg * mask).sum())
        sums["fg_out"] += float((d_fg * (1 - mask)).sum())
        sums["bg_in"] += float((d_bg * mask).sum())
        sums["bg_out"] += float((d_bg * (1 - mask)).sum())
        sums["in_px"] += float(mask.sum())
        sums["out_px"] += float((1 - mask).sum())
    eps = 1e-12
    fg_in = sums["fg_in"] / max(sums["in_px"], 1.0)
    fg_out = sums["fg_out"] / max(sums["out_px"], 1.0)
    bg_in = sums["bg_in"] / max(sums["in_px"], 1.0)
    bg_out = sums["bg_out"] / max(sums["out_px"], 1.0)
    return {"fg_ratio": fg_in / max(fg_out, eps), "bg_ratio": bg_out / max(bg_in, eps),
            "fg_change_inside": fg_in, "fg_change_outside": fg_out,
            "bg_change_inside": bg_in, "bg_change_outside": bg_out,
            "mask_fraction": sums["in_px"] / (sums["in_px"] + sums["out_px"]),
            "num_images": n}


# Receptive-field radius of the encoder's stem (conv3 + a residual unit of two conv3) in
# pixels, plus one: pixels farther than this from the mask cannot reach the masked features.
STEM_REACH = 4


def encoder_leakage(model, images, keypoints, seed: int = 0) -> dict:
    """How much each code reacts to pixels it should not see (the encoder-side check).

    The foreground code is computed from stem features times the pose mask, the
    background code from features times (1 - mask) (SPEC 2.1 step 2). Pixels
    more than the stem's reach (STEM_REACH px) outside the mask therefore cannot
    change the foreground code, and pixels that far inside cannot change the
    background code. Returns the relative code changes (exactly 0 when the split
    holds) and, as a control, the changes when the pixels each code SHOULD see
    are replaced (> 0).
    """
    images = np.asarray(images, np.float32)
    keypoints = np.asarray(keypoints, np.float32)
    rng = np.random.default_rng(seed)
    mask = pose_tf.pose_mask(tf.constant(keypoints), model.image_height, model.image_width,
                             model.mask_radius).numpy()[..., 0] > 0.5
    grow = np.ones((1, 2 * STEM_REACH + 1, 2 * STEM_REACH + 1), bool)
    far_outside = ~ndimage.binary_dilation(mask, structure=grow)
    far_inside = ndimage.binary_erosion(mask, structure=grow, border_value=1)
    noise = rng.uniform(-1, 1, images.shape).astype(np.float32)

    def replaced(where):
        return np.where(where[..., None], noise, images)

    base = model.encode(images, keypoints)

    def change(new_images, key):
        new = model.encode(new_images, keypoints)[key].numpy()
        ref = base[key].numpy()
        return float(np.abs(new - ref).sum() / max(np.abs(ref).sum(), 1e-12))

    return {"fg_change_from_far_outside": change(replaced(far_outside), "foreground"),
            "bg_change_from_far_inside": change(replaced(far_inside), "background"),
            "fg_change_from_inside": change(replaced(mask), "foreground"),
            "bg_change_from_outside": change(replaced(~mask), "background"),
            "far_outside_fraction": float(far_outside.mean()),
            "far_inside_fraction": float(far_inside.mean())}


def run(opts) -> dict:
    """Measures the ratios on `opts.num` images of --images/--annotations (seeded pick)."""
    model = common.load_model(opts)
    real = common.real_images(opts, model)
    names = [n for n in real.names if (real.rows[n][0][:, 2] > 0).any()]
    rng = np.random.default_rng(opts.seed)
    picks = sorted(rng.choice(len(names), size=min(opts.num, len(names)), replace=False))
    images, keypoints = real.batch([names[i] for i in picks])
    summary = {"mode": "disentanglement", "run_dir": opts.run_dir}
    summary.update(measure(model, images, keypoints, opts.batch_size))
    summary["encoder"] = encoder_leakage(model, images, keypoints, opts.seed)
    if opts.out:
        out = common.out_dir(opts)
        (out / "disentanglement.json").write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":  # python -m dpig_tf.apps.disentanglement: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("disentanglement")
