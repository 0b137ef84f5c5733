"""What a training run reports: metrics.jsonl lines, TensorBoard scalars/images, a console bar.

Only the chief worker reports (multi-worker runs); other workers get a `MetricsLog(enabled=False)`.
"""

from __future__ import annotations

import json
import math
import os
import pathlib
import sys
import time

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2

from dpig_tf import checkpoint as ckpt_names


class MetricsLog:
    """Appends one JSON object per line to RUN/metrics.jsonl and mirrors scalars to TensorBoard.

    Args:
        run_dir: the run directory.
        phase: "stage1", "pose_ae", ... : the `phase` field of each line and the TensorBoard
            sub-folder.
        enabled: False on non-chief workers (nothing is written).
    """

    def __init__(self, run_dir, phase: str, enabled: bool = True):
        self.path = pathlib.Path(run_dir) / ckpt_names.METRICS_FILE
        self.phase = phase
        self.enabled = enabled
        self._writer = None
        if enabled:
            self._writer = tf.summary.create_file_writer(
                str(pathlib.Path(run_dir) / ckpt_names.TENSORBOARD_DIR / phase))

    def drop_after(self, step: int) -> None:
        """Removes this phase's lines with step > `step` (written after the restored checkpoint)."""
        if not self.enabled or not self.path.is_file():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a kill
                continue
            if record.get("phase") == self.phase and record.get("step", 0) > step:
                continue
            kept.append(line)
        # Atomic: a kill during this rewrite must not lose the log.
        tmp = self.path.with_name(f".{self.path.name}.tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, self.path)

    def write(self, step: int, values: dict) -> None:
        if not self.enabled:
            return
        record = {"phase": self.phase, "step": int(step), "time": round(time.time(), 3)}
        record.update({k: _jsonable(v) for k, v in values.items()})
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        with self._writer.as_default(step=int(step)):
            for key, value in values.items():
                if isinstance(value, (int, float)) and math.isfinite(value):
                    tf.summary.write(key, tf.constant(float(value), tf.float32),
                                     metadata=_SCALAR_METADATA)
        self._writer.flush()

    def image(self, step: int, name: str, grid: np.ndarray) -> None:
        """A uint8 (H, W, 3) image to TensorBoard."""
        if not self.enabled:
            return
        png = tf.io.encode_png(tf.constant(grid, tf.uint8))
        blob = tf.stack([tf.as_string(grid.shape[1]), tf.as_string(grid.shape[0]), png])
        with self._writer.as_default(step=int(step)):
            tf.summary.write(name, blob, metadata=_IMAGE_METADATA)
        self._writer.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()


def _plugin_metadata(plugin: str, data_class: int) -> bytes:
    # TensorBoard's scalar/image summary format, written with TF core only (the
    # `tensorboard` package, which tf.summary.scalar/image need, is not a dependency).
    metadata = summary_pb2.SummaryMetadata(data_class=data_class)
    metadata.plugin_data.plugin_name = plugin
    return metadata.SerializeToString()


_SCALAR_METADATA = _plugin_metadata("scalars", summary_pb2.DATA_CLASS_SCALAR)
# An image summary is a string tensor [width, height, png, ...] (TensorBoard image plugin).
_IMAGE_METADATA = _plugin_metadata("images", summary_pb2.DATA_CLASS_BLOB_SEQUENCE)


def _jsonable(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, np.integer):
        return int(value)
    return value


class ProgressBar:
    """A plain-text progress line: `\\r` updates on a terminal, one line per report otherwise.

    Args:
        name: shown first (the phase).
        total: the step count at which the phase ends.
        enabled: runtime.progress_bar (and chief only).
        stream: where to write (default stdout).
    """

    def __init__(self, name: str, total: int, enabled: bool = True, stream=None):
        self.name = name
        self.total = total
        self.enabled = enabled
        self.stream = stream or sys.stdout
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()

    def update(self, step: int, sec_per_step: float, values: dict, final: bool = False) -> None:
        """Redraws the bar (tty) or prints a line (`final` or non-tty callers at log steps)."""
        if not self.enabled:
            return
        frac = min(1.0, step / max(1, self.total))
        bar = "#" * int(frac * 20) + "." * (20 - int(frac * 20))
        eta = (self.total - step) * sec_per_step
        shown = " ".join(f"{k}={v:.4g}" for k, v in values.items() if isinstance(v, float))
        line = (f"[{self.name}] {step}/{self.total} |{bar}| {100 * frac:5.1f}% "
                f"{sec_per_step:.3f}s/step ETA {_duration(eta)} {shown}")
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
