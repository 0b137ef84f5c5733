"""Interpolation between two real images, per factor, in code or noise space.

`--space=embedding`: interpolate the chosen factors' codes directly.
`--space=noise` ("inverse mapping", the paper's figures): find z with
Phi(z) ~= e for each end point (Adam on ||Phi(z) - e||^2, z initialised from
N(0, noise_std^2)), interpolate z, and map back through Phi. The pose is
interpolated in the pose auto-encoder's code space and decoded to keypoints by
the pose decoder; factors not chosen stay those of `from`.

Reference: SPEC.md 4.3 (the original code defines the flags and `slerp` but
never uses them; this follows the suggested implementation).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from dpig_tf.apps import common
from dpig_tf.errors import UsageError
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND
from dpig_tf.models.disentangled_generator import POSE

INVERSION_STEPS = 600
INVERSION_LR = 0.05


def lerp(a, b, t):
    return (1.0 - t) * a + t * b


def slerp(a, b, t):
    """Spherical interpolation of two vectors (rows), linear when they are parallel."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    na, nb = np.linalg.norm(a, axis=-1, keepdims=True), np.linalg.norm(b, axis=-1, keepdims=True)
    cos = np.sum(a * b, axis=-1, keepdims=True) / np.maximum(na * nb, 1e-12)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    so = np.sin(omega)
    safe = so > 1e-6
    s = np.where(safe, so, 1.0)
    out = np.where(safe, np.sin((1 - t) * omega) / s * a + np.sin(t * omega) / s * b,
                   lerp(a, b, t))
    return out.astype(np.float32)


def invert(mapping, target, noise_std: float, seed: int, steps: int = INVERSION_STEPS,
           learning_rate: float = INVERSION_LR):
    """z (B, d) minimising ||mapping(z) - target||^2 with Adam; returns (z, relative error)."""
    target = tf.convert_to_tensor(target, tf.float32)
    z0 = noise_std * tf.random.stateless_normal(tf.shape(target), seed=[seed, 7])
    z = tf.Variable(z0)
    opt = tf.keras.optimizers.Adam(learning_rate)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(mapping(z, training=False) - target))
        opt.apply_gradients([(tape.gradient(loss, z), z)])
        return loss

    for _ in range(steps):
        step()
    residual = tf.norm(mapping(z, training=False) - target) / tf.maximum(tf.norm(target), 1e-12)
    return z.numpy(), float(residual)


def run(opts) -> dict:
    if not opts.from_image or not opts.to_image:
        raise UsageError("--mode=interpolate needs --from and --to (image names in --images)")
    noise_space = opts.space == "noise"
    model = common.load_model(opts, require_stage2=noise_space)
    out = common.out_dir(opts)
    real = common.real_images(opts, model)
    images, kps = real.batch([opts.from_image, opts.to_image])
    codes = {k: v.numpy() for k, v in model.encode(images, kps).items()}
    chosen = common.codes_of(model, opts.factors)
    if not chosen:
        raise UsageError("--factors: nothing to interpolate")
    ts = np.linspace(0.0, 1.0, opts.steps, dtype=np.float32)[:, None]
    mix = slerp if opts.interpolation == "slerp" else lerp
    path = {}
    residuals = {}
    for f in chosen:
        a, b = codes[f][0:1], codes[f][1:2]
        if noise_space:
            z, residuals[f] = invert(model.mapping(f), np.concatenate([a, b]), model.noise_std,
                                     opts.seed)
            zs = mix(z[0:1], z[1:2], ts)
            path[f] = model.mapping(f)(tf.constant(zs, tf.float32), training=False).numpy()
        else:
            path[f] = mix(a, b, ts)
    n = opts.steps
    fg = path.get(FOREGROUND, np.repeat(codes[FOREGROUND][0:1], n, 0))
    bg = None
    if model.has_background:
        bg = path.get(BACKGROUND, np.repeat(codes[BACKGROUND][0:1], n, 0))
    if POSE in path:
        kp = model.decode_pose_code(path[POSE]).numpy()
    else:
        kp = np.repeat(kps[0:1], n, 0)
    frames = common.to_uint8(common.batched(
        lambda s, m: model.decode(fg[s:s + m], None if bg is None else bg[s:s + m],
                                  kp[s:s + m]), n, opts.batch_size))
    files = [common.save_png(img, out / f"interp_{i:02d}.png") for i, img in enumerate(frames)]
    row = [common.to_uint8(images[0])] + list(frames) + [common.to_uint8(images[1])]
    grid = common.save_png(common.grid([row]), out / "grid.png")
    summary = {"mode": "interpolate", "from": opts.from_image, "to": opts.to_image,
               "factors": chosen, "space": opts.space, "interpolation": opts.interpolation,
               "steps": n, "num_images": len(files), "grid": grid, "out": str(out)}
    if noise_space:
        summary["inversion_relative_error"] = residuals
    return summary


if __name__ == "__main__":  # python -m dpig_tf.apps.interpolate: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("interpolate")
