"""Shared plumbing of the applications: model loading, real inputs, image files."""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image

from dpig_tf.data import keypoints_csv
from dpig_tf.data import pipeline
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError
from dpig_tf.models.disentangled_generator import BACKGROUND
from dpig_tf.models.disentangled_generator import FOREGROUND
from dpig_tf.models.disentangled_generator import POSE
from dpig_tf.models.disentangled_generator import DisentangledGenerator

# AppOptions factor names -> code names of the inference object.
FACTOR_CODES = {"fg": FOREGROUND, "bg": BACKGROUND, "pose": POSE}


def load_model(opts, require_stage2: bool = False) -> DisentangledGenerator:
    if not opts.run_dir:
        raise UsageError("--run_dir is required (a trained run directory)")
    return DisentangledGenerator.from_run_dir(opts.run_dir, require_stage2=require_stage2)


def out_dir(opts) -> pathlib.Path:
    if not opts.out:
        raise UsageError("--out is required")
    path = pathlib.Path(opts.out)
    path.mkdir(parents=True, exist_ok=True)
    return path


def codes_of(model, factors) -> list[str]:
    """AppOptions factors -> the model's code names (bg dropped without a BG branch)."""
    out = []
    for f in factors:
        code = FACTOR_CODES[f]
        if code == BACKGROUND and not model.has_background:
            continue
        out.append(code)
    return out


class RealImages:
    """Real images and their keypoints: `images` folder + PG2 annotation CSV.

    Images must have the network size (H x W), or be narrower and padded like
    the training data (`data.pad_width_to`, keypoint columns shifted).
    """

    def __init__(self, images: str | None, annotations: str | None, height: int, width: int,
                 pad_width_to: int = 0):
        if not images or not annotations:
            raise UsageError("this application needs --images (folder) and --annotations "
                             "(PG2 keypoint CSV)")
        self.folder = pathlib.Path(images)
        if not self.folder.is_dir():
            raise DataError("image folder not found", str(self.folder))
        self.annotations = annotations
        self.rows = keypoints_csv.read_annotation_csv_with_lines(annotations)
        self.height, self.width, self.pad_width_to = height, width, pad_width_to

    @property
    def names(self) -> list[str]:
        return list(self.rows)

    def keypoints(self, name: str) -> np.ndarray:
        if name not in self.rows:
            raise DataError(f"image {name!r} has no row in the annotation CSV", self.annotations)
        rcv, line = self.rows[name]
        if not (rcv[:, 2] > 0).any():
            # Documented: no visible joint means no pose mask, no body region and an
            # all -1 heatmap; the result would be meaningless, so refuse it.
            raise DataError(f"image {name!r} has no visible keypoint (all joints -1); "
                            "cannot encode its appearance or pose", self.annotations, line)
        return rcv

    def load(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(image (H, W, 3) float32 in [-1, 1], keypoints (18, 3) pixels)."""
        rcv = self.keypoints(name).copy()
        path = self.folder / name
        if not path.is_file():
            raise DataError("image file not found (named in the annotation CSV)", str(path))
        try:
            with Image.open(path) as img:
                pixels = np.asarray(img.convert("RGB"), np.uint8)
        except OSError as err:
            raise DataError(f"cannot decode the image ({err})", str(path)) from None
        h, w = pixels.shape[:2]
        if (h, w) != (self.height, self.width):
            pad = self.pad_width_to
            if pad and pad == self.width and h == self.height and w < pad:
                left = (pad - w) // 2
                pixels = np.pad(pixels, ((0, 0), (left, pad - w - left), (0, 0)),
                                constant_values=255)
                rcv[:, 1] += np.where(rcv[:, 2] > 0, left, 0)
            else:
                raise DataError(f"image is {h}x{w} (HxW); the model expects "
                                f"{self.height}x{self.width}", str(path))
        return pixels.astype(np.float32) / 127.5 - 1.0, rcv

    def batch(self, names) -> tuple[np.ndarray, np.ndarray]:
        loaded = [self.load(n) for n in names]
        return (np.stack([a for a, _ in loaded]), np.stack([b for _, b in loaded]))


def real_images(opts, model) -> RealImages:
    """--images/--annotations, else the run's test split (never its training images)."""
    cfg = getattr(model, "config", None)
    if cfg is None:
        return RealImages(opts.images, opts.annotations, model.image_height, model.image_width)
    images, annotations = pipeline.images_and_annotations(cfg.data, "test", opts.images,
                                                          opts.annotations)
    return RealImages(images, annotations, model.image_height, model.image_width,
                      cfg.data.pad_width_to)


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float images -> uint8, clipped as the original `denorm_img` (SPEC 1.1)."""
    return np.clip((np.asarray(images, np.float32) + 1.0) * 127.5, 0, 255).astype(np.uint8)


def grid(rows, pad: int = 2) -> np.ndarray:
    """A list of rows, each a list/array of (H, W, 3) uint8 images -> one image."""
    rows = [list(r) for r in rows]
    h, w = rows[0][0].shape[:2]
    cols = max(len(r) for r in rows)
    out = np.full((len(rows) * (h + pad) + pad, cols * (w + pad) + pad, 3), 255, np.uint8)
    for i, row in enumerate(rows):
        for j, img in enumerate(row):
            y, x = pad + i * (h + pad), pad + j * (w + pad)
            out[y:y + h, x:x + w] = img
    return out


def save_png(image: np.ndarray, path) -> str:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    return str(path)


def batched(fn, count: int, batch_size: int):
    """Concatenates fn(start, n) over batches covering `count` items."""
    parts = []
    for start in range(0, count, batch_size):
        parts.append(np.asarray(fn(start, min(batch_size, count - start))))
    return np.concatenate(parts, axis=0)
