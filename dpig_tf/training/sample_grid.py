"""Image grids of Stage-I samples: one row per example, columns input | reconstruction | pose."""

from __future__ import annotations

import pathlib

import numpy as np
from PIL import Image


def to_uint8(images) -> np.ndarray:
    """[-1, 1] float images -> uint8, clipped like the original `denorm_img` (SPEC 1.1)."""
    images = np.asarray(images, dtype=np.float32)
    return np.clip((images + 1.0) * 127.5, 0, 255).astype(np.uint8)


def pose_image(heatmaps) -> np.ndarray:
    """(B, H, W, 18) +1/-1 heatmaps -> (B, H, W, 3) uint8: white joints on black, one colour per joint."""
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    on = (heatmaps > 0).astype(np.float32)  # (B, H, W, 18)
    hues = np.linspace(0.0, 1.0, heatmaps.shape[-1], endpoint=False)
    palette = np.stack([0.5 + 0.5 * np.cos(2 * np.pi * (hues + s)) for s in (0, 1 / 3, 2 / 3)],
                       axis=-1)  # (18, 3)
    colour = np.einsum("bhwj,jc->bhwc", on, palette)
    return np.clip(colour * 255.0, 0, 255).astype(np.uint8)


def reconstruction_grid(images, reconstructions, heatmaps, max_rows: int = 8) -> np.ndarray:
    """(rows * H, 3 * W, 3) uint8: input | reconstruction | pose for the first `max_rows` examples."""
    n = min(max_rows, len(images))
    columns = [to_uint8(images[:n]), to_uint8(reconstructions[:n]), pose_image(heatmaps[:n])]
    rows = [np.concatenate([c[i] for c in columns], axis=1) for i in range(n)]
    return np.concatenate(rows, axis=0)


def save_png(grid: np.ndarray, path) -> None:
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    Image.fromarray(grid).save(tmp)
    tmp.replace(path)
