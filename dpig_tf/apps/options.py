"""The options of every application (`python -m dpig_tf.main --mode=...`)."""

from __future__ import annotations

import dataclasses
import os

from dpig_tf import run_format
from dpig_tf.errors import UsageError
from dpig_tf.errors import UserError

FACTOR_NAMES = ("fg", "bg", "pose")


@dataclasses.dataclass
class AppOptions:
    """Options shared by the applications in `dpig_tf.apps` (each reads the ones it needs).

    Attributes:
        run_dir: trained run directory (config.yaml + checkpoints/).
        out: output folder (video: the .mp4/.gif file, or a folder for it).
        seed: every application is a deterministic function of its inputs and this.
        num: number of images to generate (sample).
        factors: any of "fg", "bg", "pose" (DeepFashion: "fg" = appearance): the
            factors sampled (sample) or interpolated (interpolate).
        images: folder of real images; annotations: their PG2 keypoint CSV.
        pairs: PG2 pairs CSV (from,to) for transfer.
        from_image, to_image: interpolation end points (names in `images`).
        steps: interpolation steps (images per row, end points included).
        interpolation: "linear" or "slerp".
        space: "embedding" (interpolate the codes) or "noise" (inverse-map the
            codes to z through the mapping networks, interpolate z, map back).
        source: the appearance image of a video (a name in `images`).
        poses: a PG2 CSV (one row per frame, in file order), a folder of
            OpenPose JSON frames, or a comma-separated list of JSON files.
        fps: frames per second of the video.
        num_ids, per_id, candidates, pose_source: VirtualMarket size, ranking
            (keep the per_id best of `candidates` by D score; 0 = no ranking) and
            where poses come from ("real" training poses or "sampled").
        batch_size: images per network call.
        fg_image, bg_image, pose_image: mixed transfer (foreground, background
            and pose from three images).
        regions: transfer: comma-separated body-region names (`apps.regions.REGION_NAMES`)
            taken from the donor (`from`); the rest comes from the target (`to`).
        background_from: region transfer: "target" (default) or "donor".
    """

    run_dir: str = ""
    out: str = ""
    seed: int = 0
    num: int = 16
    factors: tuple = FACTOR_NAMES
    images: str | None = None
    annotations: str | None = None
    pairs: str | None = None
    from_image: str | None = None
    to_image: str | None = None
    steps: int = 8
    interpolation: str = "linear"
    space: str = "embedding"
    source: str | None = None
    poses: str | None = None
    fps: int = 10
    num_ids: int = 10
    per_id: int = 24
    candidates: int = 0
    pose_source: str = "real"
    batch_size: int = 16
    fg_image: str | None = None
    bg_image: str | None = None
    pose_image: str | None = None
    regions: str | None = None
    background_from: str | None = None

    def __post_init__(self):
        self.factors = tuple(f.strip() for f in self.factors if f.strip())
        bad = [f for f in self.factors if f not in FACTOR_NAMES]
        if bad:
            raise UsageError(f"--factors: unknown factor(s) {bad}; use any of fg, bg, pose")
        for key, value, choices in (("interpolation", self.interpolation, ("linear", "slerp")),
                                    ("space", self.space, ("embedding", "noise")),
                                    ("pose_source", self.pose_source, ("real", "sampled"))):
            if value not in choices:
                raise UsageError(f"--{key} must be one of {', '.join(choices)}; got {value!r}")
        for key in ("num", "steps", "fps", "num_ids", "per_id", "batch_size"):
            if getattr(self, key) < 1:
                raise UsageError(f"--{key} must be >= 1, got {getattr(self, key)}")
        if self.candidates < 0:
            raise UsageError(f"--candidates must be >= 0, got {self.candidates}")

    def check_paths(self) -> None:
        """Fails fast, before TensorFlow is imported, on a missing run or input path."""
        run_format.check_run_dir(self.run_dir)
        for field, value, want_dir in (("--images", self.images, True),
                                       ("--annotations", self.annotations, False),
                                       ("--pairs", self.pairs, False)):
            if value and not (os.path.isdir(value) if want_dir else os.path.isfile(value)):
                kind = "folder" if want_dir else "file"
                found = "a file" if os.path.isfile(value) else (
                    "a folder" if os.path.isdir(value) else "nothing")
                raise UserError(f"expected an existing {kind}, found {found}", value,
                                field=field)
        if self.poses and "," not in self.poses and not os.path.exists(self.poses):
            raise UserError("expected a PG2 CSV, a folder of OpenPose JSON files or a video, "
                            "found nothing", self.poses, field="--poses")
