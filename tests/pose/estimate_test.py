"""`python -m dpig_tf.pose.estimate` writes a PG2 CSV the loaders read (marker `media`)."""

import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf.data import keypoints_csv
from dpig_tf.errors import UserError
from dpig_tf.pose import estimate
from dpig_tf.pose import graph_file
from dpig_tf.pose import media


@pytest.fixture
def image_dir(tmp_path):
    reason = media.missing_reason(graph=True, media=("messi5.jpg", "basketball1.png"))
    if reason:
        pytest.skip(reason)
    d = tmp_path / "images"
    d.mkdir()
    shutil.copy(media.media_path("messi5.jpg"), d / "messi5.jpg")
    shutil.copy(media.media_path("basketball1.png"), d / "basketball1.png")
    Image.new("RGB", (64, 128), (128, 128, 128)).save(d / "0000_empty.jpg")
    (d / "notes.txt").write_text("ignored")
    return d


@pytest.mark.media
def test_cli_writes_annotation_csv(image_dir, tmp_path):
    out = tmp_path / "annotations.csv"
    proc = subprocess.run(
        [sys.executable, "-m", "dpig_tf.pose.estimate", f"--images={image_dir}", f"--out={out}"],
        capture_output=True, text=True, cwd=graph_file.REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = out.read_text().splitlines()
    assert lines[0] == "name:keypoints_y:keypoints_x"
    assert lines[1] == "0000_empty.jpg: " + str([-1] * 18) + ": " + str([-1] * 18)
    rows = keypoints_csv.read_annotation_csv(str(out))
    assert list(rows) == ["0000_empty.jpg", "basketball1.png", "messi5.jpg"]
    messi = rows["messi5.jpg"]
    assert np.hypot(messi[0, 0] - 118, messi[0, 1] - 244) <= 8  # nose, hand-checked
    assert messi[:, 2].sum() >= 15


@pytest.mark.media
def test_single_person_mode_library(image_dir, tmp_path):
    out = tmp_path / "a.csv"
    rows = estimate.estimate_folder(str(image_dir), str(out), single_person=True, log=None)
    # messi5 has blurred spectators too: the largest person is still Messi.
    assert np.hypot(rows["messi5.jpg"][0, 0] - 118, rows["messi5.jpg"][0, 1] - 244) <= 8
    assert rows["0000_empty.jpg"].sum() == 0


def test_missing_graph_exits_with_the_setup_command(tmp_path):
    d = tmp_path / "images"
    d.mkdir()
    Image.new("RGB", (64, 128)).save(d / "a.jpg")
    with pytest.raises(UserError, match="fetch_pose_graph.sh") as err:
        estimate.main([f"--images={d}", f"--out={tmp_path / 'o.csv'}",
                       f"--graph={tmp_path / 'missing.pb'}"])
    assert str(tmp_path / "missing.pb") in str(err.value)
    assert not (tmp_path / "o.csv").exists()


def test_folder_without_images_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="no .* files in"):
        estimate.list_images(str(tmp_path))
    with pytest.raises(ValueError, match="not a directory"):
        estimate.list_images(str(tmp_path / "missing"))
