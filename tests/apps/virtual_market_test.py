"""--mode=virtual_market: Market-style names, one foreground per identity, D-score ranking."""

import json
import re

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import virtual_market
from dpig_tf.apps.options import AppOptions

NAME = re.compile(r"^(\d{4})_c1s1_(\d{6})_(\d{2})\.jpg$")


def test_ranked_real_pose_dataset(tiny_run, tiny_images, tmp_path):
    _, annotations, _ = tiny_images
    s = virtual_market.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), num_ids=2,
                                      per_id=3, candidates=5, pose_source="real",
                                      annotations=annotations, seed=1))
    files = sorted(p.name for p in (tmp_path / "bounding_box_train").iterdir())
    assert len(files) == 6 == s["num_images"]
    ids = [int(NAME.match(f).group(1)) for f in files]
    assert sorted(set(ids)) == [1, 2]
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["num_ids"] == 2 and summary["per_id"] == 3 and summary["candidates"] == 5
    for identity in (1, 2):
        scores = [r["d_score"] for r in summary["images"] if r["identity"] == identity]
        assert scores == sorted(scores, reverse=True)  # rank 00 is the best candidate
    with Image.open(tmp_path / "bounding_box_train" / files[0]) as img:
        assert img.size == (16, 32)


def test_identity_keeps_its_foreground_sampled_poses(tiny_run, tmp_path):
    s = virtual_market.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), num_ids=1,
                                      per_id=2, pose_source="sampled", seed=2))
    assert s["num_images"] == 2 and "mean_d_score" not in s
    a = virtual_market.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "again"),
                                      num_ids=1, per_id=2, pose_source="sampled", seed=2))
    first = sorted((tmp_path / "bounding_box_train").iterdir())[0]
    second = sorted((tmp_path / "again" / "bounding_box_train").iterdir())[0]
    np.testing.assert_array_equal(np.asarray(Image.open(first)), np.asarray(Image.open(second)))
    assert a["num_images"] == 2


def test_candidates_must_cover_per_id(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="--candidates=2 must be >= --per_id=3"):
        virtual_market.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), num_ids=1,
                                      per_id=3, candidates=2, pose_source="sampled"))
