"""Decoding video files to RGB frames (imageio's FFMPEG plugin, offline).

The ffmpeg binary comes inside the pinned `imageio-ffmpeg` wheel, so decoding
needs no system ffmpeg and no network. A file that ffmpeg cannot open or that
yields no frame raises `VideoDecodeError` naming the file.
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from dpig_tf.errors import UsageError
from dpig_tf.errors import UserError


class VideoDecodeError(UserError):
    """The video file is missing, unreadable or has no decodable frame."""


def iter_frames(path: str | os.PathLike, *, max_frames: int | None = None,
                every: int = 1) -> Iterator[tuple[int, np.ndarray]]:
    """Yields (frame index, (H, W, 3) RGB uint8) for every `every`-th frame.

    Args:
        path: a video file (any container/codec ffmpeg decodes).
        max_frames: stop after yielding this many frames (None: all).
        every: keep frames 0, every, 2*every, ...

    Raises:
        VideoDecodeError: missing file, undecodable file, or no frame at all.
    """
    import imageio.v2 as imageio

    path = os.fspath(path)
    if every < 1:
        raise UsageError(f"every must be >= 1, got {every}")
    if max_frames is not None and max_frames < 1:
        raise UsageError(f"max_frames must be >= 1 or None, got {max_frames}")
    if not os.path.isfile(path):
        raise VideoDecodeError(f"video file not found: {path}")
    try:
        reader = imageio.get_reader(path, format="FFMPEG")
    except Exception as e:  # imageio raises OSError/RuntimeError with ffmpeg's log
        raise VideoDecodeError(
            f"cannot decode video {path}: ffmpeg could not open it "
            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    yielded = 0
    try:
        index = 0
        frames = iter(reader)
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                break
            except Exception as e:
                if yielded == 0:
                    raise VideoDecodeError(
                        f"cannot decode video {path}: {str(e).splitlines()[0]}") from None
                break  # a damaged tail: keep what was decoded
            if index % every == 0:
                yield index, np.asarray(frame)[:, :, :3]
                yielded += 1
                if max_frames is not None and yielded >= max_frames:
                    return
            index += 1
    finally:
        reader.close()
    if yielded == 0:
        raise VideoDecodeError(f"cannot decode video {path}: it contains no frames")


def read_frames(path: str | os.PathLike, *, max_frames: int | None = None,
                every: int = 1) -> list[tuple[int, np.ndarray]]:
    """`iter_frames` as a list."""
    return list(iter_frames(path, max_frames=max_frames, every=every))
