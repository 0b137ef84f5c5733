"""A Market-1501-style training set from a video: detect, track, crop, annotate.

    python -m dpig_tf.data.from_video --video=FILE --out=DIR [--max_frames=N] [--every=K]

Every kept frame goes through the pose estimator's multi-person grouping;
joints grouped with the wrong person are dropped (`drop_outlier_joints`); the
people are followed across frames by `dpig_tf.pose.tracker.PersonTracker`
(one track = one identity). Each detection is cropped around its joints
(expanded to cover head and feet, then padded with black to the 2:1 aspect),
resized to 128x64 and written as

    DIR/bounding_box_train/%04d_c1s1_%06d_%02d.jpg   (identity, frame index, 00)
    DIR/market-annotation-train.csv                  (keypoints in crop pixels, -1 = missing)
    DIR/market-pairs-train.csv                       (from,to: every ordered same-identity pair)
    DIR/contact_sheet.png                            (crops with their joints, one row per identity)

so that a config with `data.images`, `data.annotations`, `data.pairs` pointing
there trains on it. Keypoints are mapped from the frame into the crop; with
--reestimate they are instead estimated again on the (3x upscaled) crop.
Identities with fewer than `--min_track_length` crops are dropped and the rest
renumbered from 1.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
from PIL import Image
from PIL import ImageDraw

from dpig_tf import cli
from dpig_tf.data import keypoints_csv
from dpig_tf.pose import estimator as estimator_lib
from dpig_tf.pose import graph_file
from dpig_tf.pose import skeleton
from dpig_tf.pose import tracker as tracker_lib
from dpig_tf.pose import video_reader

CROP_HEIGHT, CROP_WIDTH = 128, 64
IMAGE_DIR = "bounding_box_train"
ANNOTATION_FILE = "market-annotation-train.csv"
PAIRS_FILE = "market-pairs-train.csv"
CONTACT_SHEET_FILE = "contact_sheet.png"
NAME_FORMAT = "%04d_c1s1_%06d_%02d.jpg"
FRAME_MAX_SIDE = 1280  # frames keep their resolution: people in them are small


@dataclasses.dataclass
class Crop:
    track_id: int
    frame_index: int
    image: np.ndarray     # (128, 64, 3) uint8
    keypoints: np.ndarray  # (18, 3) RCV in crop pixels


def person_crop_box(joints: np.ndarray, aspect: float = CROP_HEIGHT / CROP_WIDTH
                    ) -> tuple[float, float, float, float]:
    """(top, left, height, width) of a crop around a person's visible joints.

    The joint box is extended upwards (the head reaches above the eyes and
    ears), downwards (feet below the ankles) and sideways, then widened or
    heightened about its centre to `aspect` = height / width.
    """
    vis = joints[:, 2] > 0
    rows, cols = joints[vis, 0], joints[vis, 1]
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    extent = max(r1 - r0, c1 - c0, 8.0)
    r0, r1 = r0 - 0.15 * extent, r1 + 0.1 * extent
    c0, c1 = c0 - 0.1 * extent, c1 + 0.1 * extent
    height, width = r1 - r0, c1 - c0
    height = max(height, width * aspect)
    width = height / aspect
    centre_r, centre_c = (r0 + r1) / 2, (c0 + c1) / 2
    return centre_r - height / 2, centre_c - width / 2, height, width


def crop_person(frame: np.ndarray, joints: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(128, 64, 3) crop of the person and its joints mapped to crop pixels.

    Parts of the crop box outside the frame are black.
    """
    top, left, height, width = person_crop_box(joints)
    # PIL's crop pads outside the image with zeros; a BILINEAR affine resample of the box.
    image = Image.fromarray(frame).transform(
        (CROP_WIDTH, CROP_HEIGHT), Image.EXTENT,
        (left, top, left + width, top + height), resample=Image.BILINEAR, fillcolor=(0, 0, 0))
    keypoints = np.zeros_like(joints, dtype=np.float32)
    vis = joints[:, 2] > 0
    # Pixel centres: continuous coordinate r + 0.5 maps linearly onto the crop.
    keypoints[vis, 0] = (joints[vis, 0] + 0.5 - top) * CROP_HEIGHT / height - 0.5
    keypoints[vis, 1] = (joints[vis, 1] + 0.5 - left) * CROP_WIDTH / width - 0.5
    keypoints[vis, 0] = np.clip(keypoints[vis, 0], 0, CROP_HEIGHT - 1)
    keypoints[vis, 1] = np.clip(keypoints[vis, 1], 0, CROP_WIDTH - 1)
    keypoints[vis, 2] = 1.0
    return np.asarray(image), keypoints


FACE_JOINTS = (0, 14, 15, 16, 17)  # nose, eyes, ears


def drop_outlier_joints(joints: np.ndarray, factor: float = 4.0, face: float = 0.25) -> np.ndarray:
    """A copy without joints that belong to someone else (mis-grouped by the PAFs).

    Dropped: a body joint (neck to ankles) farther from the median of the visible
    body joints than `factor` times their median distance to it; a face joint
    farther from its anchor (the nose, else the neck, for eyes and ears) than
    `face` times the size (longer box side) of the body joints, or a nose
    farther than 1.6 times that from the neck. Small face parts are the usual
    mis-grouped joints in crowds.
    """
    joints = np.array(joints, np.float32)
    body = np.zeros(len(joints), bool)
    body[1:14] = joints[1:14, 2] > 0
    if body.sum() >= 3:
        centre = np.median(joints[body, :2], axis=0)
        dist = np.hypot(*(joints[:, :2] - centre).T)
        limit = factor * max(float(np.median(dist[body])), 4.0)
        joints[body & (dist > limit)] = 0
        body &= joints[:, 2] > 0
    if body.sum() >= 2:
        rows, cols = joints[body, 0], joints[body, 1]
        size = max(rows.max() - rows.min(), cols.max() - cols.min(), 4.0)
        for k in FACE_JOINTS:
            anchor = 1 if k == 0 or joints[0, 2] == 0 else 0
            # The nose sits a head's height above the neck; eyes and ears are closer.
            limit = face * size * (1.6 if anchor == 1 else 1.0)
            if joints[k, 2] > 0 and joints[anchor, 2] > 0 and np.hypot(
                    *(joints[k, :2] - joints[anchor, :2])) > limit:
                joints[k] = 0
    return joints


def plausible_person(person, min_joints: int, min_person_height: float,
                     max_aspect: float = 1.5) -> bool:
    """Enough joints, tall enough, and not much wider than tall (a mis-grouped skeleton)."""
    r0, c0, r1, c1 = person.box()
    return (person.num_joints >= min_joints and r1 - r0 >= min_person_height
            and c1 - c0 <= max_aspect * (r1 - r0))


def collect_crops(video: str, estimator: estimator_lib.PoseEstimator, *,
                  max_frames: int | None = None, every: int = 1, min_joints: int = 8,
                  min_person_height: float = 40.0, reestimate: bool = False,
                  log=print) -> list[Crop]:
    """Detects, tracks and crops every sufficiently visible person of the video."""
    tracker = tracker_lib.PersonTracker()
    crops = []
    for frame_index, frame in video_reader.iter_frames(video, max_frames=max_frames,
                                                       every=every):
        people = estimator.estimate(frame)
        for p in people:
            p.joints = drop_outlier_joints(p.joints)
            p.num_joints = int(np.count_nonzero(p.joints[:, 2]))
        people = [p for p in people if plausible_person(p, min_joints, min_person_height)]
        ids = tracker.update([p.box() for p in people], [p.joints for p in people])
        for track_id, person in zip(ids, people):
            image, keypoints = crop_person(frame, person.joints)
            if reestimate:
                keypoints = estimator.estimate_single(image, select="largest")
            crops.append(Crop(track_id, frame_index, image, keypoints))
        if log and len(crops) and frame_index % (50 * every) == 0:
            log(f"frame {frame_index}: {len(people)} people, {len(crops)} crops so far")
    return crops


def renumber_identities(crops: list[Crop], min_track_length: int) -> list[Crop]:
    """Drops short tracks and numbers the rest 1, 2, ... in order of first appearance."""
    counts: dict[int, int] = {}
    for c in crops:
        counts[c.track_id] = counts.get(c.track_id, 0) + 1
    mapping: dict[int, int] = {}
    kept = []
    for c in crops:
        if counts[c.track_id] < min_track_length:
            continue
        if c.track_id not in mapping:
            mapping[c.track_id] = len(mapping) + 1
        kept.append(dataclasses.replace(c, track_id=mapping[c.track_id]))
    return kept


def crop_name(crop: Crop) -> str:
    return NAME_FORMAT % (crop.track_id, crop.frame_index, 0)


def same_identity_pairs(names: list[str]) -> list[tuple[str, str]]:
    """Every ordered pair (a, b), a != b, of names sharing the identity prefix (SPEC 1.3)."""
    by_id: dict[str, list[str]] = {}
    for n in names:
        by_id.setdefault(n[:4], []).append(n)
    return [(a, b) for group in by_id.values() for a in group for b in group if a != b]


def draw_keypoints(image: np.ndarray, keypoints: np.ndarray) -> Image.Image:
    """The image with limbs (lines) and joints (dots) drawn on it."""
    out = Image.fromarray(image).convert("RGB")
    draw = ImageDraw.Draw(out)
    for a, b in skeleton.LIMBS[:skeleton.NUM_SEED_LIMBS]:
        if keypoints[a, 2] > 0 and keypoints[b, 2] > 0:
            draw.line([(keypoints[a, 1], keypoints[a, 0]), (keypoints[b, 1], keypoints[b, 0])],
                      fill=(0, 255, 0), width=1)
    for k in range(skeleton.NUM_JOINTS):
        if keypoints[k, 2] > 0:
            r, c = keypoints[k, 0], keypoints[k, 1]
            colour = (255, 0, 0) if k in (2, 3, 4, 8, 9, 10, 14, 16) else (0, 128, 255)
            draw.ellipse([c - 1.5, r - 1.5, c + 1.5, r + 1.5], fill=colour)
    return out


def contact_sheet(crops: list[Crop], max_identities: int = 20, per_identity: int = 12
                  ) -> Image.Image:
    """One row per identity (up to `max_identities`), crops spread evenly over the track."""
    by_id: dict[int, list[Crop]] = {}
    for c in crops:
        by_id.setdefault(c.track_id, []).append(c)
    ids = sorted(by_id)[:max_identities]
    label_w = 40
    sheet = Image.new("RGB", (label_w + per_identity * (CROP_WIDTH + 2),
                              max(1, len(ids)) * (CROP_HEIGHT + 2)), (40, 40, 40))
    draw = ImageDraw.Draw(sheet)
    for row, identity in enumerate(ids):
        track = by_id[identity]
        picks = np.unique(np.linspace(0, len(track) - 1, min(per_identity, len(track))).astype(int))
        y = row * (CROP_HEIGHT + 2)
        draw.text((4, y + CROP_HEIGHT // 2 - 6), f"{identity:04d}", fill=(255, 255, 255))
        for col, i in enumerate(picks):
            sheet.paste(draw_keypoints(track[i].image, track[i].keypoints),
                        (label_w + col * (CROP_WIDTH + 2), y))
    return sheet


def build_from_video(video: str, out: str, *, graph_path: str | None = None,
                     max_frames: int | None = None, every: int = 1, min_joints: int = 8,
                     min_person_height: float = 40.0, min_track_length: int = 2,
                     reestimate: bool = False, log=print) -> dict:
    """Writes the crops, annotation CSV, pairs CSV and contact sheet; returns a summary."""
    estimator = estimator_lib.PoseEstimator(graph_path, max_side=FRAME_MAX_SIDE)
    crops = collect_crops(video, estimator, max_frames=max_frames, every=every,
                          min_joints=min_joints, min_person_height=min_person_height,
                          reestimate=reestimate, log=log)
    crops = renumber_identities(crops, min_track_length)
    image_dir = os.path.join(out, IMAGE_DIR)
    os.makedirs(image_dir, exist_ok=True)
    rows = {}
    for c in crops:
        name = crop_name(c)
        Image.fromarray(c.image).save(os.path.join(image_dir, name), quality=95)
        rcv = np.array(c.keypoints, np.float32)
        vis = rcv[:, 2] > 0
        rcv[vis, :2] = np.round(rcv[vis, :2])
        rows[name] = rcv
    names = list(rows)
    pairs = same_identity_pairs(names)
    keypoints_csv.write_annotation_csv(os.path.join(out, ANNOTATION_FILE), rows)
    keypoints_csv.write_pairs_csv(os.path.join(out, PAIRS_FILE), pairs)
    contact_sheet(crops).save(os.path.join(out, CONTACT_SHEET_FILE))
    summary = {"images": len(names), "identities": len({n[:4] for n in names}),
               "pairs": len(pairs)}
    if log:
        log(f"wrote {out}: {summary['images']} crops of {summary['identities']} identities, "
            f"{summary['pairs']} pairs; check {os.path.join(out, CONTACT_SHEET_FILE)}")
    return summary


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--video", required=True, help="video file (anything ffmpeg decodes)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--max_frames", type=int, default=None,
                        help="stop after this many processed frames")
    parser.add_argument("--every", type=int, default=1, help="process every k-th frame")
    parser.add_argument("--graph", default=None,
                        help=f"frozen pose graph (default {graph_file.DEFAULT_GRAPH_PATH})")
    parser.add_argument("--min_joints", type=int, default=8,
                        help="ignore detections with fewer joints")
    parser.add_argument("--min_person_height", type=float, default=40.0,
                        help="ignore detections whose joints span fewer rows (frame pixels)")
    parser.add_argument("--min_track_length", type=int, default=2,
                        help="drop identities with fewer crops")
    parser.add_argument("--reestimate", action="store_true",
                        help="estimate keypoints on each crop instead of mapping them")
    args = parser.parse_args(argv)
    build_from_video(args.video, args.out, graph_path=args.graph,
                     max_frames=args.max_frames, every=args.every,
                     min_joints=args.min_joints, min_person_height=args.min_person_height,
                     min_track_length=args.min_track_length, reestimate=args.reestimate)


if __name__ == "__main__":
    cli.run(main)
