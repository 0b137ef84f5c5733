"""Sampling: draw a subset of the factors from noise, take the rest from real images.

The poster's four modes are `--factors=fg,bg,pose` (everything sampled),
`--factors=fg` (new clothes, same background and pose), `--factors=bg` (new
backgrounds) and `--factors=pose` (new poses). The sampled pose is the pose
decoder's output for Phi_P(z) (SPEC 3.4; the original decoded the real pose,
issue #7). Each row keeps one source image fixed (tiled over the row, as the
original testers tile the first image of the batch); column j uses the same
noise in every row, so the rows show one z on different sources.

Reference: SPEC.md 3.4, 4.1.
"""

from __future__ import annotations

import numpy as np

from dpig_tf.apps import common
from dpig_tf.errors import UsageError

MAX_SOURCE_ROWS = 4
ROW_LENGTH = 8


def run(opts) -> dict:
    model = common.load_model(opts, require_stage2=True)
    out = common.out_dir(opts)
    codes = common.codes_of(model, opts.factors)
    if not codes:
        raise UsageError("--factors: nothing to sample")
    flags = {f: f in codes for f in model.factors}
    noise = {f: model.noise(opts.seed, opts.num, f) for f in codes}
    everything = all(flags.values())
    sources = []
    if not everything:
        real = common.real_images(opts, model)
        rng = np.random.default_rng(opts.seed)
        names = real.names
        picks = rng.choice(len(names), size=min(MAX_SOURCE_ROWS, len(names)), replace=False)
        sources = [names[i] for i in sorted(picks)]

    def generate(image=None, keypoints=None):
        def fn(start, n):
            z = {f: v[start:start + n] for f, v in noise.items()}
            kwargs = {}
            if image is not None:
                kwargs = dict(image=np.repeat(image[None], n, 0),
                              keypoints=np.repeat(keypoints[None], n, 0))
            return model.sample(noise=z, sample_fg=flags["foreground"],
                                sample_bg=flags.get("background", False),
                                sample_pose=flags["pose"], batch_size=n, **kwargs)
        return common.to_uint8(common.batched(fn, opts.num, opts.batch_size))

    files, rows = [], []
    if everything:
        images = generate()
        for i, img in enumerate(images):
            files.append(common.save_png(img, out / f"sample_{i:04d}.png"))
        rows = [images[i:i + ROW_LENGTH] for i in range(0, len(images), ROW_LENGTH)]
    else:
        for r, name in enumerate(sources):
            image, kp = real.load(name)
            images = generate(image, kp)
            for i, img in enumerate(images):
                files.append(common.save_png(img, out / f"sample_{r:02d}_{i:04d}.png"))
            rows.append([common.to_uint8(image)] + list(images))
    grid = common.save_png(common.grid(rows), out / "grid.png")
    return {"mode": "sample", "factors": [common.FACTOR_CODES[f] for f in opts.factors
                                          if common.FACTOR_CODES[f] in codes],
            "num_images": len(files), "sources": sources, "grid": grid, "out": str(out),
            "seed": opts.seed}


if __name__ == "__main__":  # python -m dpig_tf.apps.sample: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("sample")
