"""Pose-guided transfer: the appearance of `from` in the pose of `to` (the PG2 task).

Pairs form (`--pairs`): each row of a PG2 pairs CSV (`from,to`) gives
G(tile(E(from)) + heatmaps(to)); on Market the background is the source's
(SPEC 4.2). Mixed form (`--fg_image`, `--bg_image`, `--pose_image`): the
foreground of one image, the background of a second and the pose of a third
(the embedding layout supports it; the original had no script).
Region form (`--regions=upper_clothes,pants`, with `--pairs` or `--from`/`--to`):
the named body-region codes of the donor (`from`) replace the target's (`to`),
everything else (and the background unless `--background-from=donor`) stays the
target's, decoded in the target's pose (`dpig_tf.apps.regions`).

Reference: SPEC.md 4.2.
"""

from __future__ import annotations

import numpy as np

from dpig_tf.apps import common
from dpig_tf.apps import regions as region_codes
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError

GRID_ROWS = 16


def run(opts) -> dict:
    model = common.load_model(opts)
    out = common.out_dir(opts)
    real = common.real_images(opts, model)
    if opts.regions:
        return _regions(opts, model, real, out)
    if opts.background_from:
        raise UsageError("--background-from needs --regions")
    if opts.fg_image or opts.bg_image or opts.pose_image:
        return _mixed(opts, model, real, out)
    if not opts.pairs:
        raise UsageError("--mode=transfer needs --pairs (a from,to CSV) or the mixed form "
                         "--fg_image/--bg_image/--pose_image")
    pairs = _read_pairs(opts, real)
    files, grid = _generate_pairs(
        pairs, opts, real, out,
        generate=lambda src, src_kp, _tgt, tgt_kp: model.transfer(src, src_kp, tgt_kp).numpy(),
        grid_row=lambda src, tgt, fake: [src, tgt, fake])
    return {"mode": "transfer", "pairs": len(pairs), "num_images": len(files), "grid": grid,
            "out": str(out), "columns": ["from", "to", "generated"]}


def _mixed(opts, model, real, out) -> dict:
    missing = [k for k in ("fg_image", "pose_image") if not getattr(opts, k)]
    if model.has_background and not opts.bg_image:
        missing.append("bg_image")
    if missing:
        raise UsageError("mixed transfer needs " + ", ".join(f"--{k}" for k in missing))
    fg_img, fg_kp = real.load(opts.fg_image)
    _, pose_kp = real.load(opts.pose_image)
    fg = model.encode(fg_img[None], fg_kp[None])
    bg = None
    row = [common.to_uint8(fg_img)]
    if model.has_background:
        bg_img, bg_kp = real.load(opts.bg_image)
        bg = model.encode(bg_img[None], bg_kp[None])["background"]
        row.append(common.to_uint8(bg_img))
    row.append(common.to_uint8(real.load(opts.pose_image)[0]))
    fake = common.to_uint8(model.decode(fg["foreground"], bg, pose_kp[None]).numpy())[0]
    path = common.save_png(fake, out / "mixed.png")
    grid = common.save_png(common.grid([row + [fake]]), out / "grid.png")
    return {"mode": "transfer", "form": "mixed", "fg_image": opts.fg_image,
            "bg_image": opts.bg_image if model.has_background else None,
            "pose_image": opts.pose_image, "image": path, "grid": grid, "out": str(out),
            "num_images": 1, "checksum": int(np.asarray(fake, np.int64).sum())}


def _generate_pairs(pairs, opts, real, out, generate, grid_row) -> tuple[list, str]:
    """Runs (first, second) name pairs through `generate` in batches; writes OUT/%05d.png.

    `generate(first, first_kp, second, second_kp)` returns images in [-1, 1];
    `grid_row(first, second, result)` orders the first GRID_ROWS rows of OUT/grid.png.
    Returns (the PNG paths, the grid path).
    """
    files, rows = [], []
    for start in range(0, len(pairs), opts.batch_size):
        chunk = pairs[start:start + opts.batch_size]
        first, first_kp = real.batch([a for a, _ in chunk])
        second, second_kp = real.batch([b for _, b in chunk])
        fake = common.to_uint8(generate(first, first_kp, second, second_kp))
        for i in range(len(chunk)):
            files.append(common.save_png(fake[i], out / f"{start + i:05d}.png"))
            if len(rows) < GRID_ROWS:
                rows.append(grid_row(common.to_uint8(first[i]), common.to_uint8(second[i]),
                                     fake[i]))
    return files, common.save_png(common.grid(rows), out / "grid.png")


def _read_pairs(opts, real) -> list[tuple[str, str]]:
    """The (from, to) rows of --pairs; every name must have keypoints (else file:line error)."""
    pairs = keypoints_csv.read_pairs_csv_with_lines(opts.pairs)
    for a, b, line in pairs:
        for name in (a, b):
            if name not in real.rows:
                raise DataError(f"image {name!r} is not in the annotation CSV "
                                f"{real.annotations}", opts.pairs, line)
    return [(a, b) for a, b, _ in pairs]


def _region_pairs(opts, real) -> list[tuple[str, str]]:
    """(donor, target) names: the rows of --pairs (from = donor, to = target) or --from/--to."""
    if opts.pairs:
        return _read_pairs(opts, real)
    if opts.from_image and opts.to_image:
        return [(opts.from_image, opts.to_image)]
    raise UsageError("--regions needs --pairs (rows donor,target) or --from=DONOR --to=TARGET")


def _regions(opts, model, real, out) -> dict:
    names = region_codes.parse_regions(opts.regions)
    background_from = region_codes.check_background_from(opts.background_from)
    pairs = _region_pairs(opts, real)

    def generate(donor, donor_kp, target, target_kp):
        return region_codes.transfer_regions(model, target, target_kp, donor, donor_kp, names,
                                             background_from).images

    files, grid = _generate_pairs(pairs, opts, real, out, generate,
                                  grid_row=lambda donor, target, fake: [target, donor, fake])
    return {"mode": "transfer", "form": "regions", "regions": list(names),
            "background_from": background_from if model.has_background else None,
            "pairs": len(pairs), "num_images": len(files), "files": files, "grid": grid,
            "out": str(out), "columns": ["target", "donor", "result"]}


if __name__ == "__main__":  # python -m dpig_tf.apps.transfer: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("transfer")
