"""Uploaded person images: checked, decoded and fitted to the network size.

An upload that is not an image, is too large, or is truncated is a `DataError`
naming the file as the user called it (the page shows the message). An image of
another size is scaled to fit the network's H x W with its aspect kept and
padded with white (as PATN's DeepFashion images are padded to 256x256); the
same mapping moves its keypoints (`Fit.keypoints`).
"""

from __future__ import annotations

import dataclasses
import pathlib
import warnings

import numpy as np
from PIL import Image

from dpig_tf.data.errors import DataError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_SIDE = 4096
PAD_VALUE = 255
READABLE_FORMATS = "PNG, JPEG, BMP, GIF, WebP or TIFF"


def display_name(path: str | pathlib.Path, name: str | None = None) -> str:
    """The name the user knows the file by (uploads are stored under temporary folders)."""
    return name or pathlib.Path(path).name


def read_image(path: str | pathlib.Path, name: str | None = None) -> np.ndarray:
    """An uploaded image file -> (h, w, 3) uint8 RGB; DataError for anything else."""
    path = pathlib.Path(path)
    shown = display_name(path, name)
    if not path.is_file():
        raise DataError("file not found", shown)
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise DataError(f"expected an image file of at most {MAX_FILE_BYTES >> 20} MB, "
                        f"found {size / 2**20:.1f} MB", shown)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                w, h = img.size
                if max(w, h) > MAX_SIDE:
                    raise DataError(f"expected an image of at most {MAX_SIDE} pixels per side, "
                                    f"found {w}x{h} (WxH)", shown)
                return np.asarray(img.convert("RGB"), np.uint8)
    except DataError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DataError(f"expected an image of at most {MAX_SIDE} pixels per side, found "
                        "one too large to decode safely", shown) from None
    except (OSError, ValueError, SyntaxError) as err:  # UnidentifiedImageError is an OSError
        kind = "a file Pillow cannot read" if isinstance(err, Image.UnidentifiedImageError) \
            else f"a damaged image ({err})"
        raise DataError(f"expected an image file ({READABLE_FORMATS}), found {kind}",
                        shown) from None


@dataclasses.dataclass(frozen=True)
class Fit:
    """How an image of `source_size` (h, w) was placed into the network's H x W."""

    source_size: tuple[int, int]
    scale: float
    top: int
    left: int

    @property
    def changed(self) -> bool:
        return self.scale != 1.0 or self.top != 0 or self.left != 0

    def keypoints(self, rcv: np.ndarray) -> np.ndarray:
        """(18, 3) keypoints in source pixels -> network pixels (missing joints stay 0)."""
        out = np.array(rcv, np.float32, copy=True)
        vis = out[:, 2] > 0
        # Pixel centres: source pixel p covers [p, p+1), its centre maps to (p + 0.5) * scale.
        out[vis, 0] = (out[vis, 0] + 0.5) * self.scale - 0.5 + self.top
        out[vis, 1] = (out[vis, 1] + 0.5) * self.scale - 0.5 + self.left
        out[~vis] = 0
        return out


def fit_to_network(pixels: np.ndarray, height: int, width: int) -> tuple[np.ndarray, Fit]:
    """Scales (aspect kept) and pads an RGB image to height x width."""
    h, w = pixels.shape[:2]
    if (h, w) == (height, width):
        return pixels, Fit((h, w), 1.0, 0, 0)
    scale = min(height / h, width / w)
    new_h = max(1, min(height, round(h * scale)))
    new_w = max(1, min(width, round(w * scale)))
    resized = np.asarray(Image.fromarray(pixels).resize((new_w, new_h), Image.LANCZOS))
    top, left = (height - new_h) // 2, (width - new_w) // 2
    out = np.full((height, width, 3), PAD_VALUE, np.uint8)
    out[top:top + new_h, left:left + new_w] = resized
    return out, Fit((h, w), scale, top, left)


def fit_note(fit: Fit, height: int, width: int) -> str | None:
    """The note shown when an upload was resized; None when it had the network size."""
    if not fit.changed:
        return None
    h, w = fit.source_size
    return (f"The image was {h}x{w} (HxW); the model works at {height}x{width}, so it was "
            f"scaled by {fit.scale:.3g} and padded with white.")
