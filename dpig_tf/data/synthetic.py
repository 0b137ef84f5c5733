"""The synthetic demo dataset: procedurally rendered persons with known factors.

Each identity is a fixed set of foreground parameters (skin, hair, clothing
colours and textures per body region, body proportions); each image draws its
own background (gradient, wide bands, soft blocks; all with a floor) and pose
(view, walking-cycle phase, arm swing, scale and position jitter, joints out of
view or occluded). Backgrounds are low-frequency and garments mostly solid or
broadly striped, like Market's blurry street scenes: the factors are then
learnable by the demo networks in CPU minutes (fine random-angle stripes and
checks, the first version, kept every model at the mean colour). Backgrounds
are never uniform, so the background seen near the body (inside the pose mask,
which the foreground encoder sees) does not predict the rest of it; and
bodies are broad enough to fill ~88% of the radius-7 pose mask.
The body is an articulated figure built from the 18 OpenPose/COCO keypoints,
so the annotation is exact. Everything is a deterministic function of the seed.

The output is exactly the Market-1501 layout read by the real Market loader:
`DIR/bounding_box_{train,test}/%04d_c%ds1_%06d_%02d.jpg` (JPEG quality 95),
`DIR/demo-annotation-{train,test}.csv`, `DIR/demo-pairs-{train,test}.csv`
(all ordered same-ID pairs) and `DIR/factors-{train,test}.json` (per-image
ground-truth factors). Train and test identities are disjoint, as in Market:
`num_ids` train identities and max(2, num_ids // 4) test identities.

Usage:
    python -m dpig_tf.data.synthetic --out=demo_data [--num_ids=40
        --images_per_id=12 --seed=0 --height=128 --width=64]

Reference: SPEC.md section 1.1-1.2 (Market layout, names, keypoint order);
the demo dataset has no counterpart in the original.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import tempfile

import numpy as np
from PIL import Image
from scipy import ndimage

from dpig_tf import cli
from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError

JPEG_QUALITY = 95
MANIFEST = "manifest.json"
VIEWS = ("front", "back", "left", "right")
PATTERNS = ("solid", "hstripes", "vstripes")
PATTERN_WEIGHTS = (0.5, 0.3, 0.2)
BACKGROUNDS = ("gradient", "bands", "blocks")
# Bumped with deliberate rendering changes; the manifest also records a fingerprint of
# this file, so a folder rendered by any other version of it (e.g. a local edit) is
# re-rendered instead of silently reused.
STYLE_VERSION = 2

# Joint template: (row as a fraction of the body height, column offset in body
# heights; negative = the person's right, which faces the viewer's left).
_TEMPLATE = {
    0: (0.075, 0.0), 1: (0.17, 0.0),
    2: (0.19, -0.11), 3: (0.36, -0.13), 4: (0.50, -0.13),
    5: (0.19, 0.11), 6: (0.36, 0.13), 7: (0.50, 0.13),
    8: (0.52, -0.065), 9: (0.73, -0.065), 10: (0.95, -0.065),
    11: (0.52, 0.065), 12: (0.73, 0.065), 13: (0.95, 0.065),
    14: (0.06, -0.025), 15: (0.06, 0.025), 16: (0.07, -0.05), 17: (0.07, 0.05),
}


def split_sizes(num_ids: int) -> dict[str, int]:
    """Identities per split: `num_ids` train, max(2, num_ids // 4) test."""
    return {"train": num_ids, "test": max(2, num_ids // 4)}


def identity_params(rng: np.random.Generator) -> dict:
    """The fixed foreground factors of one identity."""
    def colour():
        return [int(v) for v in rng.integers(20, 236, size=3)]

    def garment():
        return {"colour": colour(), "colour2": colour(),
                "pattern": PATTERNS[int(rng.choice(len(PATTERNS), p=PATTERN_WEIGHTS))],
                "period": int(rng.integers(5, 10))}

    skin_tone = rng.uniform(0.35, 1.0)
    return {
        "skin": [int(230 * skin_tone), int(180 * skin_tone), int(150 * skin_tone)],
        "hair": colour() if rng.random() < 0.3 else [int(v) for v in rng.integers(10, 90, 3)],
        "long_hair": bool(rng.random() < 0.35),
        "upper": garment(),
        "lower": garment(),
        "short_sleeves": bool(rng.random() < 0.4),
        "shorts": bool(rng.random() < 0.3),
        "shoes": colour(),
        "width": float(rng.uniform(0.85, 1.2)),
        "height": float(rng.uniform(0.78, 0.9)),
    }


def background_params(rng: np.random.Generator) -> dict:
    """The per-image background factors."""
    return {"kind": BACKGROUNDS[int(rng.integers(len(BACKGROUNDS)))],
            "colour": [int(v) for v in rng.integers(0, 256, 3)],
            "colour2": [int(v) for v in rng.integers(0, 256, 3)],
            "period": int(rng.integers(20, 40)),
            "angle": float(rng.uniform(0, np.pi)),
            "floor": float(rng.uniform(0.6, 0.9)),
            "noise_seed": int(rng.integers(1 << 31))}


def pose_params(rng: np.random.Generator) -> dict:
    """The per-image pose factors."""
    return {"view": VIEWS[int(rng.integers(len(VIEWS)))],
            "phase": float(rng.uniform(0, 2 * np.pi)),
            "stride": float(rng.uniform(0.15, 0.45)),
            "arm_swing": float(rng.uniform(0.1, 0.5)),
            "scale": float(rng.uniform(0.9, 1.1)),
            "dx": float(rng.uniform(-0.12, 0.12)),
            "dy": float(rng.uniform(-0.04, 0.04)),
            "cut": ("bottom" if rng.random() < 0.12 else "top" if rng.random() < 0.06 else ""),
            "occlusion_seed": int(rng.integers(1 << 31))}


def pose_keypoints(fg: dict, pose: dict, height: int, width: int) -> np.ndarray:
    """Float (18, 2) joint positions (row, col) in pixels, possibly outside the image."""
    body = height * fg["height"] * pose["scale"]
    if pose["cut"] == "bottom":
        body *= 1.2
    top = height * (0.5 - fg["height"] * pose["scale"] / 2 + pose["dy"])
    if pose["cut"] == "top":
        top -= 0.12 * height
    cx = width / 2 + pose["dx"] * width
    view = pose["view"]
    side = view in ("left", "right")
    mirror = -1.0 if view == "back" else 1.0  # seen from behind, the right side is on the right
    width_f = fg["width"] * (0.35 if side else 1.0)
    facing = {"left": -1.0, "right": 1.0}.get(view, 0.0)
    swing_x = 1.0 if side else 0.15
    out = np.zeros((18, 2), np.float64)
    for j, (fy, fx) in _TEMPLATE.items():
        x = fx * mirror * (width_f if j not in (0, 14, 15, 16, 17) else (0.4 if side else 1.0))
        out[j] = (top + fy * body, cx + x * body)
    if side:  # the face points towards the walking direction
        for j in (0, 14, 15):
            out[j, 1] += facing * 0.04 * body
    # Walking cycle: legs swing in opposition, arms opposite to the legs.
    s = np.sin(pose["phase"])
    for hip, knee, ankle, sign in ((8, 9, 10, 1.0), (11, 12, 13, -1.0)):
        theta = sign * pose["stride"] * s
        bend = 0.25 * max(0.0, -sign * s)
        thigh, shin = 0.21 * body, 0.22 * body
        dirx = facing if side else 1.0
        out[knee] = out[hip] + (thigh * np.cos(theta), dirx * swing_x * thigh * np.sin(theta))
        out[ankle] = out[knee] + (shin * np.cos(theta - bend),
                                  dirx * swing_x * shin * np.sin(theta - bend))
    for sho, elb, wri, sign in ((2, 3, 4, -1.0), (5, 6, 7, 1.0)):
        alpha = sign * pose["arm_swing"] * s
        upper, fore = 0.17 * body, 0.15 * body
        dirx = facing if side else 1.0
        base_e = out[elb, 1] - out[sho, 1]  # template lateral offsets
        base_w = out[wri, 1] - out[elb, 1]
        out[elb] = (out[sho, 0] + upper * np.cos(alpha),
                    out[sho, 1] + base_e + dirx * swing_x * upper * np.sin(alpha))
        out[wri] = (out[elb, 0] + fore * np.cos(1.3 * alpha),
                    out[elb, 1] + base_w + dirx * swing_x * fore * np.sin(1.3 * alpha))
    return out


def visibility(fg: dict, pose: dict, yx: np.ndarray, height: int, width: int) -> np.ndarray:
    """Which joints an annotator would mark: in view and not hidden."""
    vis = ((yx[:, 0] >= 0) & (yx[:, 0] <= height - 1)
           & (yx[:, 1] >= 0) & (yx[:, 1] <= width - 1))
    view = pose["view"]
    if view == "back":
        vis[[0, 14, 15]] = False
    elif view == "left":  # walking to the viewer's left: the right side is far
        vis[[14, 16]] = False
    elif view == "right":
        vis[[15, 17]] = False
    rng = np.random.default_rng(pose["occlusion_seed"])
    vis &= rng.random(18) >= 0.04  # random occlusions
    return vis


def _texture(garment: dict, yy: np.ndarray, xx: np.ndarray, scale: float) -> np.ndarray:
    p = max(1.0, garment["period"] * scale)
    kind = garment["pattern"]
    if kind == "solid":
        t = np.zeros_like(yy, bool)
    elif kind == "hstripes":
        t = (yy // p) % 2 == 1
    else:
        t = (xx // p) % 2 == 1
    c1 = np.asarray(garment["colour"], np.float32)
    c2 = np.asarray(garment["colour2"], np.float32)
    return np.where(t[..., None], c2, c1)


def render_background(bg: dict, height: int, width: int) -> np.ndarray:
    """(H, W, 3) float32 background image."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    c1 = np.asarray(bg["colour"], np.float32)
    c2 = np.asarray(bg["colour2"], np.float32)
    scale = height / 128.0
    kind = bg["kind"]
    if kind == "gradient":
        t = (np.cos(bg["angle"]) * yy / height + np.sin(bg["angle"]) * xx / width)
        t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    elif kind == "bands":  # wide vertical bands: doors, windows, pillars
        p = max(1.0, bg["period"] * scale)
        t = ((xx + bg["angle"] / np.pi * p) // p) % 2
    else:  # soft blocks: a coarse random grid, smoothed
        rng = np.random.default_rng(bg["noise_seed"])
        coarse = rng.random((height // 32 + 2, width // 32 + 2)).astype(np.float32)
        t = np.kron(coarse, np.ones((32, 32), np.float32))[:height, :width]
        t = ndimage.uniform_filter(t, size=max(1, int(16 * scale)), mode="nearest")
    img = c1 + (c2 - c1) * t[..., None]
    floor = int(bg["floor"] * height)
    img[floor:] = img[floor:] * 0.7 + 0.3 * (255 - c1)  # a ground plane
    return img.astype(np.float32)


def _segment_distance(yy, xx, a, b):
    ay, ax = a
    by, bx = b
    dy, dx = by - ay, bx - ax
    den = dy * dy + dx * dx
    t = np.zeros_like(yy) if den == 0 else np.clip(((yy - ay) * dy + (xx - ax) * dx) / den, 0, 1)
    return np.hypot(yy - (ay + t * dy), xx - (ax + t * dx))


def render_person(fg: dict, pose: dict, bg: dict, height: int, width: int):
    """Renders one image; returns (uint8 (H, W, 3), RCV keypoints (18, 3))."""
    yx = pose_keypoints(fg, pose, height, width)
    img = render_background(bg, height, width)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    body = height * fg["height"] * pose["scale"]
    scale = height / 128.0
    skin = np.asarray(fg["skin"], np.float32)
    upper = _texture(fg["upper"], yy, xx, scale)
    lower = _texture(fg["lower"], yy, xx, scale)
    sleeve = skin if fg["short_sleeves"] else upper
    shin = skin if fg["shorts"] else lower
    view = pose["view"]
    # Far limbs (behind the torso) first; for side views that is the far side.
    far, near = ((2, 3, 4, 8, 9, 10), (5, 6, 7, 11, 12, 13))
    if view in ("right", "front"):
        far, near = near, far

    def paint(mask, colour):
        nonlocal img
        img = np.where(mask[..., None], colour, img)

    def limb(a, b, radius, colour):
        paint(_segment_distance(yy, xx, yx[a], yx[b]) <= max(0.6, radius * body), colour)

    def limbs(js):
        sho, elb, wri, hip, kne, ank = js
        limb(hip, kne, 0.068 * fg["width"], lower)
        limb(kne, ank, 0.058 * fg["width"], shin)
        paint(np.hypot(yy - yx[ank][0] - 0.015 * body, xx - yx[ank][1]) <= 0.035 * body,
              np.asarray(fg["shoes"], np.float32))
        limb(sho, elb, 0.052 * fg["width"], upper if not fg["short_sleeves"] else sleeve)
        limb(elb, wri, 0.044 * fg["width"], sleeve)
        paint(np.hypot(yy - yx[wri][0], xx - yx[wri][1]) <= 0.03 * body, skin)

    limbs(far)
    mid_sho = (yx[2] + yx[5]) / 2
    mid_hip = (yx[8] + yx[11]) / 2
    torso_w = (0.11 if view in ("front", "back") else 0.08) * fg["width"]
    paint(_segment_distance(yy, xx, yx[2], yx[5]) <= 0.045 * body, upper)  # shoulders
    paint(_segment_distance(yy, xx, mid_sho, mid_hip) <= torso_w * body, upper)
    pelvis = _segment_distance(yy, xx, mid_hip, mid_hip + (0.06 * body, 0)) <= torso_w * body
    paint(pelvis | (_segment_distance(yy, xx, yx[8], yx[11]) <= 0.05 * body), lower)
    limbs(near)
    # Head: neck, face disk and hair.
    limb(1, 0, 0.03, skin)
    head_c = (yx[0][0] - 0.01 * body, (yx[16][1] + yx[17][1]) / 2)
    head = np.hypot(yy - head_c[0], xx - head_c[1]) <= 0.065 * body
    paint(head, skin)
    hair = head & (yy < head_c[0] - 0.015 * body)
    if view == "back":
        hair = head
    if fg["long_hair"]:
        beside = np.abs(xx - head_c[1])
        hair |= ((beside <= 0.07 * body) & (yy >= head_c[0]) & (yy <= head_c[0] + 0.12 * body)
                 & ((view != "front") | (beside > 0.045 * body)))
    paint(hair, np.asarray(fg["hair"], np.float32))
    if view != "back":  # eyes
        for j in (14, 15):
            if view == "front" or (view == "left") == (j == 15):
                paint(np.hypot(yy - yx[j][0], xx - yx[j][1]) <= max(0.5, 0.008 * body),
                      np.asarray([20, 20, 20], np.float32))
    rng = np.random.default_rng(pose["occlusion_seed"] + 1)
    img = img + rng.normal(0, 3.0, img.shape).astype(np.float32)  # sensor noise
    vis = visibility(fg, pose, yx, height, width)
    rcv = np.zeros((18, 3), np.float32)
    rcv[vis, 0] = np.floor(yx[vis, 0])
    rcv[vis, 1] = np.floor(yx[vis, 1])
    rcv[vis, 2] = 1.0
    return np.clip(np.rint(img), 0, 255).astype(np.uint8), rcv


def render_dataset(out: str, num_ids: int = 40, images_per_id: int = 12, seed: int = 0,
                   height: int = 128, width: int = 64) -> dict:
    """Writes the demo dataset into `out` (Market layout); returns its manifest."""
    if num_ids < 1 or images_per_id < 2:
        raise UsageError("num_ids must be >= 1 and images_per_id >= 2 (pairs need 2 images)")
    os.makedirs(out, exist_ok=True)
    first_id = 1  # Market ID 0000 marks distractors
    frame = 0
    for split, n_ids in split_sizes(num_ids).items():
        folder = os.path.join(out, f"bounding_box_{split}")
        os.makedirs(folder, exist_ok=True)
        annotations, factors, by_id = {}, {}, {}
        for k in range(n_ids):
            pid = first_id + k
            fg = identity_params(np.random.default_rng([seed, 1, pid]))
            for n in range(images_per_id):
                rng = np.random.default_rng([seed, 2, pid, n])
                bg, pose = background_params(rng), pose_params(rng)
                camera = int(rng.integers(1, 7))
                frame += 1
                name = "%04d_c%ds1_%06d_%02d.jpg" % (pid, camera, frame, n + 1)
                img, rcv = render_person(fg, pose, bg, height, width)
                Image.fromarray(img).save(os.path.join(folder, name), quality=JPEG_QUALITY)
                annotations[name] = rcv
                ys, xs = kp_lib.to_pg2_lists(rcv)
                factors[name] = {"identity": pid, "camera": camera, "foreground": fg,
                                 "background": bg,
                                 "pose": dict(pose, keypoints_y=ys, keypoints_x=xs)}
                by_id.setdefault(pid, []).append(name)
        first_id += n_ids
        pairs = [(a, b) for names in by_id.values() for a in names for b in names if a != b]
        keypoints_csv.write_annotation_csv(
            os.path.join(out, f"demo-annotation-{split}.csv"), annotations)
        keypoints_csv.write_pairs_csv(os.path.join(out, f"demo-pairs-{split}.csv"), pairs)
        with open(os.path.join(out, f"factors-{split}.json"), "w") as f:
            json.dump(factors, f)
    manifest = {"num_ids": num_ids, "images_per_id": images_per_id, "seed": seed,
                "height": height, "width": width, "style": STYLE_VERSION,
                "renderer": renderer_fingerprint()}
    with open(os.path.join(out, MANIFEST), "w") as f:
        json.dump(manifest, f)
    return manifest


def ensure_demo_dataset(data_cfg) -> None:
    """Renders the demo dataset into `data_cfg.demo_dir` unless it is already there.

    The directory holds a manifest of the rendering parameters; a dataset
    rendered with other parameters (size, seed, counts) or by another version
    of this renderer is re-rendered. A non-empty directory without a manifest
    is never overwritten.
    """
    out = data_cfg.demo_dir
    want = {"num_ids": data_cfg.demo_num_ids, "images_per_id": data_cfg.demo_images_per_id,
            "seed": data_cfg.demo_seed, "height": data_cfg.image_height,
            "width": data_cfg.image_width}
    # What render_dataset(**want) writes.
    expected = dict(want, style=STYLE_VERSION, renderer=renderer_fingerprint())
    if _read_manifest(out) == expected:
        return
    parent = os.path.dirname(os.path.abspath(out))
    os.makedirs(parent, exist_ok=True)
    # One renderer at a time: two runs started together on stale data once each deleted
    # the folder the other had just swapped in and was reading.
    lock = os.path.join(parent, f".{os.path.basename(os.path.abspath(out))}.render-lock")
    with _exclusive_lock(lock):
        if _read_manifest(out) == expected:  # rendered by another process while we waited
            return
        foreign = os.path.isdir(out) and os.listdir(out)
        if foreign and not os.path.isfile(os.path.join(out, MANIFEST)):
            raise DataError(f"data.demo_dir exists, is not empty and holds no {MANIFEST}; "
                            "refusing to render the demo dataset over it", out)
        # Render next to the target and swap in: a reader never sees half a dataset.
        tmp = tempfile.mkdtemp(prefix=".demo-", dir=parent)
        os.chmod(tmp, 0o755)
        try:
            render_dataset(tmp, **want)
            if os.path.isdir(out):
                shutil.rmtree(out)
            os.replace(tmp, out)
        finally:
            if os.path.isdir(tmp):
                shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _exclusive_lock(path: str):
    """An advisory lock file (POSIX flock); no locking where fcntl does not exist."""
    try:
        import fcntl
    except ImportError:  # Windows: concurrent first renders are left to chance
        yield
        return
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@functools.lru_cache(maxsize=1)
def renderer_fingerprint() -> str:
    """sha256 (16 hex digits) of this module's source: any edit re-renders the demo data."""
    with open(__file__, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _read_manifest(out: str):
    try:
        with open(os.path.join(out, MANIFEST)) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError):
        return None


def main(argv=None) -> None:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="output folder (Market layout)")
    parser.add_argument("--num_ids", type=int, default=40, help="train identities")
    parser.add_argument("--images_per_id", type=int, default=12)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--height", type=int, default=128)
    parser.add_argument("--width", type=int, default=64)
    args = parser.parse_args(argv)
    for field, value, least in (("--num_ids", args.num_ids, 1), ("--images_per_id",
                                args.images_per_id, 2), ("--height", args.height, 16),
                                ("--width", args.width, 8)):
        if value < least:
            raise UsageError(f"expected an integer >= {least}, found {value}", field=field)
    manifest = render_dataset(args.out, args.num_ids, args.images_per_id, args.seed,
                              args.height, args.width)
    print(json.dumps({"out": args.out, **manifest}))


if __name__ == "__main__":
    cli.run(main)
