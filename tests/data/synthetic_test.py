import dataclasses
import filecmp
import json
import os
import re
import subprocess
import sys
import time

import numpy as np
import pytest
from PIL import Image

from dpig_tf.config_io import load_config
from dpig_tf.data import keypoints
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pipeline
from dpig_tf.data import synthetic
from dpig_tf.data.errors import DataError

from .conftest import TINY

NAME = re.compile(r"(\d{4})_c(\d)s1_(\d{6})_(\d{2})\.jpg")


def test_market_layout_names_and_csvs(tiny_dir):
    sizes = synthetic.split_sizes(TINY["num_ids"])
    seen_ids = {}
    for split in ("train", "test"):
        folder = os.path.join(tiny_dir, f"bounding_box_{split}")
        files = sorted(os.listdir(folder))
        assert len(files) == sizes[split] * TINY["images_per_id"]
        for f in files:
            assert NAME.fullmatch(f), f
            with Image.open(os.path.join(folder, f)) as img:
                assert img.format == "JPEG" and img.size == (16, 32)
        ann = keypoints_csv.read_annotation_csv(
            os.path.join(tiny_dir, f"demo-annotation-{split}.csv"))
        assert sorted(ann) == files
        ids = {f[:4] for f in files}
        seen_ids[split] = ids
        assert "0000" not in ids
        pairs = keypoints_csv.read_pairs_csv(os.path.join(tiny_dir, f"demo-pairs-{split}.csv"))
        n = TINY["images_per_id"]
        assert len(pairs) == len(ids) * n * (n - 1)  # every ordered same-ID pair
        assert all(a[:4] == b[:4] and a != b for a, b in pairs)
        assert len(set(pairs)) == len(pairs)
        factors = json.load(open(os.path.join(tiny_dir, f"factors-{split}.json")))
        assert sorted(factors) == files
        for name, fac in factors.items():
            assert fac["identity"] == int(name[:4]) and fac["camera"] == int(name[6])
            assert set(fac) == {"identity", "camera", "foreground", "background", "pose"}
            pose = fac["pose"]
            assert (pose["keypoints_y"], pose["keypoints_x"]) == keypoints.to_pg2_lists(ann[name])
    assert not seen_ids["train"] & seen_ids["test"]  # disjoint identities, as in Market


def test_identity_factors_are_fixed_and_poses_vary(tiny_dir):
    factors = json.load(open(os.path.join(tiny_dir, "factors-train.json")))
    by_id = {}
    for fac in factors.values():
        by_id.setdefault(fac["identity"], []).append(fac)
    for facs in by_id.values():
        assert all(f["foreground"] == facs[0]["foreground"] for f in facs)
        assert len({json.dumps(f["background"]) for f in facs}) == len(facs)
        assert len({f["pose"]["phase"] for f in facs}) == len(facs)
    fgs = {json.dumps(f[0]["foreground"]) for f in by_id.values()}
    assert len(fgs) == len(by_id)
    # Some joints are missing somewhere (out of view or occluded).
    assert any(-1 in f["pose"]["keypoints_y"] for f in factors.values())


def test_deterministic_from_seed(tmp_path, tiny_dir):
    again = tmp_path / "again"
    synthetic.render_dataset(str(again), **TINY)
    for name in ("demo-annotation-train.csv", "demo-pairs-test.csv", "factors-train.json"):
        assert filecmp.cmp(os.path.join(tiny_dir, name), again / name, shallow=False)
    one = sorted(os.listdir(again / "bounding_box_train"))[0]
    a = np.asarray(Image.open(os.path.join(tiny_dir, "bounding_box_train", one)))
    b = np.asarray(Image.open(again / "bounding_box_train" / one))
    np.testing.assert_array_equal(a, b)
    other = tmp_path / "other"
    synthetic.render_dataset(str(other), **dict(TINY, seed=1))
    assert not filecmp.cmp(os.path.join(tiny_dir, "demo-annotation-train.csv"),
                           other / "demo-annotation-train.csv", shallow=False)


def test_ensure_demo_dataset_matches_configs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = load_config("tiny")
    data = cfg.data
    synthetic.ensure_demo_dataset(data)
    # The demo paths default to exactly the files the renderer writes.
    for split in ("train", "test"):
        paths = pipeline.split_paths(data, split)
        for key in ("images", "annotations", "pairs"):
            assert os.path.exists(paths[key]), paths[key]
    stamp = os.path.getmtime(os.path.join(data.demo_dir, synthetic.MANIFEST))
    synthetic.ensure_demo_dataset(data)  # already there: untouched
    assert os.path.getmtime(os.path.join(data.demo_dir, synthetic.MANIFEST)) == stamp
    # Moving demo_dir moves every demo path with it (the configs name no other path).
    demo = load_config("demo", ["data.demo_dir=elsewhere"]).data
    assert pipeline.split_paths(demo, "train")["images"] == os.path.join(
        "elsewhere", "bounding_box_train")
    assert pipeline.split_paths(demo, "test")["pairs"] == os.path.join(
        "elsewhere", "demo-pairs-test.csv")


def test_ensure_rerenders_data_from_another_renderer_version(tmp_path):
    # A folder from an edited renderer (same parameters, same STYLE_VERSION) once went
    # unnoticed for hours of experiments; the fingerprint makes it re-render.
    data = dataclasses.replace(load_config("tiny").data, demo_dir=str(tmp_path / "demo"))
    synthetic.ensure_demo_dataset(data)
    manifest_path = os.path.join(data.demo_dir, synthetic.MANIFEST)
    with open(manifest_path) as f:
        manifest = json.load(f)
    assert manifest["renderer"] == synthetic.renderer_fingerprint()
    stale = os.path.join(data.demo_dir, "bounding_box_train", "stale.jpg")
    open(stale, "w").close()
    with open(manifest_path, "w") as f:
        json.dump(dict(manifest, renderer="0" * 16), f)
    synthetic.ensure_demo_dataset(data)
    assert not os.path.exists(stale)
    with open(manifest_path) as f:
        assert json.load(f) == manifest


def test_ensure_waits_for_a_concurrent_render(tmp_path):
    """A second process does not touch the folder while another one holds the render lock."""
    data = dataclasses.replace(load_config("tiny").data, demo_dir=str(tmp_path / "demo"))
    script = (
        "import dataclasses, sys\n"
        "from dpig_tf.config_io import load_config\n"
        "from dpig_tf.data import synthetic\n"
        f"data = dataclasses.replace(load_config('tiny').data, demo_dir={data.demo_dir!r})\n"
        "print('ready', flush=True)\n"
        "synthetic.ensure_demo_dataset(data)\n")
    lock = str(tmp_path / ".demo.render-lock")
    with synthetic._exclusive_lock(lock):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(1.5)
        assert proc.poll() is None  # blocked on the lock
        assert not os.path.exists(data.demo_dir)
    assert proc.wait(timeout=120) == 0
    synthetic.ensure_demo_dataset(data)  # rendered by the other process: nothing to do
    assert len(os.listdir(os.path.join(data.demo_dir, "bounding_box_train"))) > 0


def test_ensure_refuses_foreign_folder(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "precious.txt").write_text("x")
    cfg = dataclasses.replace(load_config("tiny").data, demo_dir=str(foreign))
    with pytest.raises(DataError, match="mine.*refusing"):
        synthetic.ensure_demo_dataset(cfg)
    assert (foreign / "precious.txt").exists()


def test_cli(tmp_path):
    synthetic.main([f"--out={tmp_path / 'cli'}", "--num_ids=2", "--images_per_id=2",
                    "--height=32", "--width=16", "--seed=3"])
    assert len(os.listdir(tmp_path / "cli" / "bounding_box_train")) == 4
