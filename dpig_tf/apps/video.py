"""Pose-driven video: one appearance, one generated frame per pose of a sequence.

The source's codes are computed ONCE; each frame is one `decode` of those codes
with the frame's keypoints (the per-frame path the exported `decode` endpoint
serves). Frames are independent (no temporal model), as in the original's
`test_seq` use of the transfer tester (SPEC 4.5).

Pose sequences (`--poses`):
- a PG2 annotation CSV (`name:keypoints_y:keypoints_x`), one row per frame in
  file order;
- a folder of OpenPose JSON files (sorted by name), or a comma-separated list
  of JSON files; one frame per file, the person with the most visible joints;
- a video file (.mp4, .avi, .mov, .mkv, .webm): keypoints of the largest person
  in every frame from the offline estimator (`dpig_tf.pose`, docs/POSE.md),
  mapped into a person crop of the network's aspect ratio like a Market
  detection box (`person_crop_keypoints`).
Keypoints are pixels of the network-size image (H x W); joints outside it are
clipped (and logged). A frame without any visible joint, a JSON file without a
person, unreadable JSON or a wrong joint count is an error naming the file (and
line or frame).

Output: `--out` ending in .mp4 (imageio + imageio-ffmpeg) or .gif (Pillow, no
ffmpeg needed); any other `--out` is a folder receiving video.gif. The frames
are also written as PNGs next to the video.

Reference: SPEC.md 4.2, 4.5.
"""

from __future__ import annotations

import json
import pathlib
import time

import numpy as np
import tensorflow as tf
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError

VIDEO_SUFFIXES = (".mp4", ".gif")
VIDEO_INPUT_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm")
# Margins of a person crop around the visible joints, as fractions of the joints' height:
# the head top lies above the eyes/nose and the soles below the ankles.
CROP_MARGIN_TOP, CROP_MARGIN_BOTTOM = 0.15, 0.08


def read_pose_sequence(poses: str, height: int, width: int) -> list[tuple[str, np.ndarray]]:
    """[(frame label, keypoints (18, 3))] in frame order; see the module docstring."""
    if not poses:
        raise UsageError("--mode=video needs --poses (a PG2 CSV, a folder of OpenPose JSON "
                         "files, or a comma-separated list of JSON files)")
    path = pathlib.Path(poses)
    if path.suffix.lower() in VIDEO_INPUT_SUFFIXES:
        frames = _video_frames(path, height, width)
    elif path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".json")
        if not files:
            raise DataError("no OpenPose .json files in this folder", str(path))
        frames = [_json_frame(f, i) for i, f in enumerate(files)]
    elif "," in poses or path.suffix.lower() == ".json":
        files = [pathlib.Path(p.strip()) for p in poses.split(",") if p.strip()]
        frames = [_json_frame(f, i) for i, f in enumerate(files)]
    else:
        if not path.is_file():
            raise DataError("pose file not found", str(path))
        rows = keypoints_csv.read_annotation_csv_with_lines(str(path))
        frames = []
        for i, (name, (rcv, line)) in enumerate(rows.items()):
            if not (rcv[:, 2] > 0).any():
                raise DataError(f"frame {i} ({name!r}) has no visible keypoint", str(path), line)
            frames.append((f"{path}:{line} ({name})", rcv))
    if not frames:
        raise DataError("the pose sequence has no frame", str(path))
    out = []
    for label, rcv in frames:
        rcv, clipped = kp_lib.clip_to_image(rcv, height, width)
        kp_lib.log_clipped(clipped, label)
        out.append((label, rcv))
    return out


def person_crop_keypoints(rcv: np.ndarray, height: int, width: int) -> np.ndarray:
    """Maps frame-pixel keypoints into an H x W crop around the person (aspect kept)."""
    vis = rcv[:, 2] > 0
    rows, cols = rcv[vis, 0], rcv[vis, 1]
    span = max(rows.max() - rows.min(), 1.0)
    top, bottom = rows.min() - CROP_MARGIN_TOP * span, rows.max() + CROP_MARGIN_BOTTOM * span
    crop_h = bottom - top
    crop_w = crop_h * width / height
    center_c = (cols.min() + cols.max()) / 2
    if cols.max() - cols.min() > crop_w:  # a wide pose: widen the crop, keep the aspect
        crop_w = (cols.max() - cols.min()) * 1.1
        crop_h = crop_w * height / width
        top = (rows.min() + rows.max()) / 2 - crop_h / 2
    scale = height / crop_h
    out = np.zeros_like(rcv, dtype=np.float32)
    out[vis, 0] = (rows - top) * scale
    out[vis, 1] = (cols - (center_c - crop_w / 2)) * scale
    out[vis, 2] = 1.0
    return out


def _video_frames(path: pathlib.Path, height: int, width: int) -> list[tuple[str, np.ndarray]]:
    from dpig_tf.pose.video_poses import estimate_video_poses

    if not path.is_file():
        raise DataError("pose video not found", str(path))
    frames = []
    for i, rcv in enumerate(estimate_video_poses(path)):
        if not (rcv[:, 2] > 0).any():
            raise DataError(f"frame {i}: the pose estimator found no person", str(path))
        frames.append((f"{path} (frame {i})", person_crop_keypoints(rcv, height, width)))
    return frames


def _json_frame(path: pathlib.Path, index: int) -> tuple[str, np.ndarray]:
    label = f"{path} (frame {index})"
    if not path.is_file():
        raise DataError(f"frame {index}: OpenPose JSON file not found", str(path))
    try:
        people = kp_lib.from_openpose_json(str(path))
    except (ValueError, json.JSONDecodeError) as err:
        raise DataError(f"frame {index}: unreadable OpenPose JSON: {err}", str(path)) from None
    if not people:
        raise DataError(f"frame {index}: no person in this OpenPose frame", str(path))
    best = max(people, key=lambda rcv: int((rcv[:, 2] > 0).sum()))
    if not (best[:, 2] > 0).any():
        raise DataError(f"frame {index}: the person has no visible keypoint", str(path))
    return label, best


def write_video(frames: np.ndarray, path: pathlib.Path, fps: int) -> str:
    """uint8 (T, H, W, 3) frames -> .gif (Pillow) or .mp4 (imageio-ffmpeg)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".gif":
        images = [Image.fromarray(f) for f in frames]
        images[0].save(path, save_all=True, append_images=images[1:],
                       duration=max(1, round(1000 / fps)), loop=0)
    elif path.suffix.lower() == ".mp4":
        try:
            import imageio.v2 as imageio
            import imageio_ffmpeg  # noqa: F401  (the ffmpeg binary comes with the wheel)
        except ImportError as err:
            raise UsageError(f"{path}: writing .mp4 needs imageio-ffmpeg ({err}); "
                             "pip install imageio-ffmpeg, or use a .gif output") from None
        with imageio.get_writer(str(path), fps=fps, codec="libx264", quality=8,
                                macro_block_size=1, ffmpeg_log_level="error") as writer:
            for f in frames:
                writer.append_data(f)
    else:
        raise UsageError(f"{path}: video output must end in .mp4 or .gif")
    return str(path)


def run(opts) -> dict:
    if not opts.source:
        raise UsageError("--mode=video needs --source (the appearance image, a name in --images)")
    model = common.load_model(opts)
    out = pathlib.Path(opts.out or "")
    if not opts.out:
        raise UsageError("--out is required (a .mp4/.gif file or a folder)")
    video_path = out if out.suffix.lower() in VIDEO_SUFFIXES else out / "video.gif"
    frames_dir = video_path.parent / (video_path.stem + "_frames")
    frames_dir.mkdir(parents=True, exist_ok=True)
    real = common.real_images(opts, model)
    image, kp = real.load(opts.source)
    poses = read_pose_sequence(opts.poses, model.image_height, model.image_width)

    t0 = time.perf_counter()
    codes = model.encode(image[None], kp[None])  # the appearance, encoded once
    fg, bg = codes["foreground"], codes.get("background")
    spec = tf.TensorSpec((1, 18, 3), tf.float32)
    decode = tf.function(lambda k: model.decode(fg, bg, k), input_signature=[spec])
    decode(tf.constant(poses[0][1][None]))  # trace once; not counted in the frame rate
    t_ready = time.perf_counter()
    frames = []
    for _, rcv in poses:  # exactly one decode per pose
        frames.append(decode(tf.constant(rcv[None], tf.float32)).numpy()[0])
    t_frames = time.perf_counter()
    frames = common.to_uint8(np.stack(frames))
    files = [common.save_png(f, frames_dir / f"frame_{i:05d}.png") for i, f in enumerate(frames)]
    written = write_video(frames, video_path, opts.fps)
    t_end = time.perf_counter()
    return {"mode": "video", "source": opts.source, "poses": opts.poses,
            "num_frames": len(frames), "video": written, "frames_dir": str(frames_dir),
            "fps": opts.fps, "generation_fps": len(frames) / max(t_frames - t_ready, 1e-9),
            "setup_seconds": t_ready - t0, "total_seconds": t_end - t0,
            "num_images": len(files)}


if __name__ == "__main__":  # python -m dpig_tf.apps.video: the flags of dpig_tf.main
    from dpig_tf.main import run_app_main

    run_app_main("video")
