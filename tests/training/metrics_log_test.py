"""metrics.jsonl lines, TensorBoard events, the progress line."""

import io
import json

import numpy as np
import tensorflow as tf

from dpig_tf.training.metrics_log import MetricsLog
from dpig_tf.training.metrics_log import ProgressBar


def read_events(folder):
    values = {}
    for path in folder.glob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                values[(value.tag, event.step)] = value
    return values


def test_jsonl_lines_and_tensorboard_scalars_and_images(tmp_path):
    log = MetricsLog(tmp_path, "stage1")
    log.write(1, {"g_loss": 2.5, "lr": 1e-4})
    log.write(2, {"g_loss": float("nan")})
    log.image(2, "grid", np.zeros((4, 6, 3), np.uint8))
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines[0]["phase"] == "stage1" and lines[0]["step"] == 1 and lines[0]["g_loss"] == 2.5
    assert lines[1]["g_loss"] == "nan"  # valid JSON, not a bare NaN token
    events = read_events(tmp_path / "tensorboard" / "stage1")
    scalar = events[("g_loss", 1)]
    assert scalar.metadata.plugin_data.plugin_name == "scalars"
    assert float(tf.make_ndarray(scalar.tensor)) == 2.5
    image = events[("grid", 2)]
    assert image.metadata.plugin_data.plugin_name == "images"
    width, height, png = tf.make_ndarray(image.tensor)
    assert (int(width), int(height)) == (6, 4)
    assert tf.io.decode_png(png).shape == (4, 6, 3)


def test_drop_after_removes_lines_past_the_restored_step(tmp_path):
    log = MetricsLog(tmp_path, "stage1")
    other = MetricsLog(tmp_path, "pose_ae")
    for step in (1, 2, 3):
        log.write(step, {"x": 1.0})
        other.write(step, {"x": 1.0})
    with (tmp_path / "metrics.jsonl").open("a") as f:
        f.write('{"phase": "stage1", "st')  # a line cut by SIGKILL
    log.drop_after(2)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["phase"], r["step"]) for r in lines] == [
        ("stage1", 1), ("pose_ae", 1), ("stage1", 2), ("pose_ae", 2), ("pose_ae", 3)]


def test_disabled_log_writes_nothing(tmp_path):
    log = MetricsLog(tmp_path, "stage1", enabled=False)
    log.write(1, {"x": 1.0})
    assert not list(tmp_path.iterdir())


def test_progress_line():
    stream = io.StringIO()
    ProgressBar("stage1", 10, stream=stream).update(5, 0.5, {"g_loss": 1.25})
    line = stream.getvalue()
    assert line.startswith("[stage1] 5/10 |##########..........|  50.0%")
    assert "ETA 0:00:02" in line and "g_loss=1.25" in line and line.endswith("\n")
    quiet = io.StringIO()
    ProgressBar("stage1", 10, enabled=False, stream=quiet).update(5, 0.5, {})
    assert quiet.getvalue() == ""
