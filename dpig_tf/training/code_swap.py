"""Code-swap invariance: teaches G which code paints which pixels (a demo aid, off in the paper).

With the paper's loss, E and G only ever see an image's own codes together, so nothing
stops G from painting background from the part codes (whose ROI crops see the background
pixels inside the pose mask) or parts of the person from the background code (whose
features see a few pixels into the mask). Swapping codes exposes it: on the demo data the
paper's loss leaves a foreground swap changing pixels inside the mask only ~2x as much as
outside, against ~17x when the ground-truth renderer swaps the identity
(docs/APPLICATIONS.md).

For the first n = round(fraction * B) examples of each batch, G decodes a second time
with one code replaced by another example's (the previous one in the batch); the first
half of those (rounded up) get a foreground swap, the rest a background swap. The swapped
decode must equal the plain one where the kept code owns the pixels:

- foreground swapped: outside the pose mask grown by `margin` px (the background);
- background swapped: inside the pose mask shrunk by `margin` px (the person).

The margin keeps the loss off the mask border, where the radius-r limb mask and the body
disagree (demo data, margin 2: 4% of the body lies outside the grown mask, 3% of the
shrunk mask is background). Needs a background code (Market / demo models).
"""

from __future__ import annotations

import tensorflow as tf

FOREGROUND_SWAPPED, BACKGROUND_SWAPPED = 1, 2


def roles(n):
    """int32 (n,): FOREGROUND_SWAPPED for the first half (rounded up), then BACKGROUND_SWAPPED."""
    index = tf.range(n)
    return tf.where(index < (n + 1) // 2, FOREGROUND_SWAPPED, BACKGROUND_SWAPPED)


def swap_codes(embedding, partner, example_roles, foreground_dim: int):
    """`embedding` (n, E) with each example's foreground (the first `foreground_dim`
    values) or background code, per `example_roles`, taken from `partner` (n, E)."""
    is_foreground = tf.range(tf.shape(embedding)[1]) < foreground_dim
    take = ((example_roles == FOREGROUND_SWAPPED)[:, None] & is_foreground[None, :]) | (
        (example_roles == BACKGROUND_SWAPPED)[:, None] & ~is_foreground[None, :])
    return tf.where(take, partner, embedding)


def loss_region(pose_mask, example_roles, margin: int):
    """(n, H, W, 1) float: the pixels each swapped decode must leave unchanged."""
    mask = tf.cast(pose_mask, tf.float32)
    if margin > 0:
        size = 2 * margin + 1
        grown = tf.nn.max_pool2d(mask, size, 1, "SAME")
        shrunk = -tf.nn.max_pool2d(-mask, size, 1, "SAME")  # min filter = erosion
    else:
        grown = shrunk = mask
    role = example_roles[:, None, None, None]
    return tf.where(role == FOREGROUND_SWAPPED, 1.0 - grown, shrunk)
