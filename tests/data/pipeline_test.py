import dataclasses
import os
import re
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from dpig_tf.config import DataConfig
from dpig_tf.config_io import load_config
from dpig_tf.data import features as F
from dpig_tf.data import keypoints_csv
from dpig_tf.data import pipeline
from dpig_tf.data import pose
from dpig_tf.data.errors import DataError


def _take(ds, n):
    return [{k: v.numpy() for k, v in b.items()} for b in ds.take(n)]


def _market_copy(tiny_dir, tmp_path, **kwargs):
    """A writable copy of the tiny demo data, read as Market (explicit paths)."""
    root = tmp_path / "market"
    shutil.copytree(tiny_dir, root)
    cfg = DataConfig(dataset="market", images=str(root / "bounding_box_train"),
                     annotations=str(root / "demo-annotation-train.csv"),
                     pairs=str(root / "demo-pairs-train.csv"),
                     test_images=str(root / "bounding_box_test"),
                     test_annotations=str(root / "demo-annotation-test.csv"),
                     test_pairs=str(root / "demo-pairs-test.csv"),
                     image_height=32, image_width=16, mask_radius=2, heatmap_radius=1)
    return dataclasses.replace(cfg, **kwargs), root


def test_tiny_config_round_trip_through_the_market_loader(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # configs/tiny.yaml renders into ./tiny_data
    data = load_config("tiny").data
    ds = pipeline.build_dataset(data, "train", 4, seed=0)
    spec = F.element_spec(32, 16)
    assert set(ds.element_spec) == set(spec)
    for key, s in spec.items():
        assert ds.element_spec[key].dtype == s.dtype, key
        assert ds.element_spec[key].shape.as_list() == [4, *s.shape.as_list()], key
    paths = pipeline.split_paths(data, "train")
    table = keypoints_csv.read_annotation_csv(paths["annotations"])
    for batch in _take(ds, 2):
        assert batch["image"].min() >= -1 and batch["image"].max() <= 1
        for i, name in enumerate(batch["name"]):
            name = name.decode()
            kps = table[name]
            np.testing.assert_array_equal(batch["keypoints"][i], kps)
            raw = tf.io.read_file(os.path.join(paths["images"], name))
            img = tf.io.decode_jpeg(raw, channels=3).numpy().astype(np.float32)
            np.testing.assert_array_equal(batch["image"][i], img / 127.5 - 1)
            assert batch["identity"][i] == int(name[:4])
            assert batch["camera"][i] == int(name[6])
            np.testing.assert_array_equal(batch["heatmaps"][i],
                                          pose.keypoints_to_heatmaps(kps, 32, 16, 1))
            np.testing.assert_array_equal(batch["pose_mask"][i, :, :, 0],
                                          pose.pose_mask(kps, 32, 16, 2))
            boxes, vis = pose.roi_boxes(kps, 32, 16, "market")
            np.testing.assert_array_equal(batch["roi_boxes"][i], boxes)
            np.testing.assert_array_equal(batch["roi_vis"][i], vis)
            np.testing.assert_array_equal(batch["pose_vector"][i], pose.pose_vector(kps, 32, 16))


def test_deterministic_given_seed(tiny_cfg):
    a = _take(pipeline.build_dataset(tiny_cfg, "train", 4, seed=5), 4)
    b = _take(pipeline.build_dataset(tiny_cfg, "train", 4, seed=5), 4)
    c = _take(pipeline.build_dataset(tiny_cfg, "train", 4, seed=6), 4)
    for x, y in zip(a, b):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    assert [list(x["name"]) for x in a] != [list(x["name"]) for x in c]


def test_cache_gives_the_same_batches(tiny_cfg):
    plain = _take(pipeline.build_dataset(tiny_cfg, "test", 4, shuffle=False, repeat=False), 9)
    cached = _take(pipeline.build_dataset(dataclasses.replace(tiny_cfg, cache=True), "test", 4,
                                          shuffle=False, repeat=False), 9)
    assert len(plain) == len(cached) == 2  # 8 test images: 4 + 4
    for x, y in zip(plain, cached):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])


def test_two_input_pipelines_cover_disjoint_halves(tiny_cfg):
    names = []
    for pid in range(2):
        ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=pid,
                                         num_replicas_in_sync=2)
        ds = pipeline.build_dataset(tiny_cfg, "train", 4, shuffle=True, repeat=False,
                                    input_context=ctx, seed=0)
        got = [n.decode() for b in _take(ds, 100) for n in b["name"]]
        assert all(len(b["name"]) <= 2 for b in _take(ds, 100))  # per-replica batch 4 / 2
        names.append(got)
    seq = pipeline.sample_sequence(pipeline.build_index(tiny_cfg, "train"), "train", False)
    index = pipeline.build_index(tiny_cfg, "train")
    assert len(names[0]) + len(names[1]) == len(seq)
    # Shards take alternate positions of the sampling sequence: disjoint halves.
    expect = [[index.names[i] for i in seq[pid::2]] for pid in range(2)]
    assert sorted(names[0]) == sorted(expect[0]) and sorted(names[1]) == sorted(expect[1])
    plain = []
    for pid in range(2):
        ctx = tf.distribute.InputContext(2, pid, 2)
        ds = pipeline.build_dataset(tiny_cfg, "test", 2, shuffle=False, repeat=False,
                                    input_context=ctx)
        plain.append({n.decode() for b in _take(ds, 100) for n in b["name"]})
    assert not plain[0] & plain[1]
    assert plain[0] | plain[1] == set(pipeline.build_index(tiny_cfg, "test").names)


def test_pair_frequency_sampling(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    names = sorted(os.listdir(root / "bounding_box_train"))[:3]
    keypoints_csv.write_pairs_csv(str(root / "p.csv"), [(names[0], names[1]),
                                                        (names[0], names[2]),
                                                        (names[1], names[0])])
    cfg = dataclasses.replace(cfg, pairs=str(root / "p.csv"))
    index = pipeline.build_index(cfg, "train")
    seq = pipeline.sample_sequence(index, "train", paired=False)
    assert sorted(index.names[i] for i in seq) == [names[0], names[0], names[1]]
    # The test split (and no pairs CSV) use every image once.
    assert len(pipeline.sample_sequence(index, "test", False)) == len(index)
    batch = _take(pipeline.build_dataset(cfg, "train", 3, paired=True, shuffle=False), 1)[0]
    assert [n.decode() for n in batch["name"]] == [names[0], names[0], names[1]]
    assert [n.decode() for n in batch["target_name"]] == [names[1], names[2], names[0]]


def test_paired_batches(tiny_cfg):
    ds = pipeline.build_dataset(tiny_cfg, "test", 4, paired=True, seed=1)
    assert set(ds.element_spec) == set(F.element_spec(32, 16, paired=True))
    batch = _take(ds, 1)[0]
    np.testing.assert_array_equal(batch["identity"], batch["target_identity"])
    assert (batch["name"] != batch["target_name"]).all()
    for i in range(4):
        np.testing.assert_array_equal(
            batch["target_pose_mask"][i, :, :, 0],
            pose.pose_mask(batch["target_keypoints"][i], 32, 16, 2))


def test_missing_image_error_or_counted_skip(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    victim = sorted(os.listdir(root / "bounding_box_train"))[1]
    path = root / "bounding_box_train" / victim
    os.remove(path)
    with pytest.raises(DataError, match=re.escape(str(path)) + ": image file not found"):
        pipeline.build_dataset(cfg, "train", 4)
    skip = dataclasses.replace(cfg, on_bad_example="skip")
    index = pipeline.build_index(skip, "train")
    assert index.skipped == {"missing": 1, "pair with a skipped image": 6}
    assert victim not in index.names and len(index) == 23
    assert len(index.pairs) == 24 * 3 - 6
    names = {n for b in _take(pipeline.build_dataset(skip, "train", 4), 20) for n in b["name"]}
    assert victim.encode() not in names


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_corrupt_or_truncated_image(tmp_path, tiny_dir, damage):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    path = root / "bounding_box_train" / sorted(os.listdir(root / "bounding_box_train"))[2]
    raw = path.read_bytes()
    path.write_bytes({"garbage": os.urandom(500), "truncated": raw[: len(raw) // 2],
                      "empty": b""}[damage])
    with pytest.raises(DataError, match=re.escape(str(path)) + ": cannot decode the image"):
        pipeline.build_dataset(cfg, "train", 4)
    skip = dataclasses.replace(cfg, on_bad_example="skip")
    ds = pipeline.build_dataset(skip, "train", 4, repeat=False, shuffle=False)
    # 20 images keep 3 partners; the 3 of the same ID keep 2.
    assert sum(len(b["name"]) for b in _take(ds, 100)) == 20 * 3 + 3 * 2
    assert pipeline.build_index(skip, "train").skipped["corrupt"] == 1


def test_wrong_size_is_an_error_even_when_skipping(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path, on_bad_example="skip")
    path = root / "bounding_box_train" / sorted(os.listdir(root / "bounding_box_train"))[0]
    Image.new("RGB", (10, 20)).save(path, format="JPEG")
    with pytest.raises(DataError, match=re.escape(str(path))
                       + r": image is 20x10 \(HxW\); expected 32x16 \(HxW\)"):
        pipeline.build_index(cfg, "train")


def test_unsupported_format_is_caught_up_front(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    path = root / "bounding_box_train" / sorted(os.listdir(root / "bounding_box_train"))[0]
    Image.new("RGB", (16, 32)).save(path, format="TIFF")
    with pytest.raises(DataError, match=re.escape(str(path)) + ".*unsupported image format TIFF"):
        pipeline.build_index(cfg, "train")


def test_bad_names_pairs_and_paths(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    ann = root / "demo-annotation-train.csv"
    lines = ann.read_text().splitlines()
    row = lines[1].split(":", 1)[1]
    junk = ["-1_c1s1_000001_00.jpg:" + row, "0000_c1s1_000002_00.jpg:" + row]
    ann.write_text("\n".join(lines + junk) + "\n")
    index = pipeline.build_index(cfg, "train")  # junk and distractors: skipped, no file needed
    assert index.skipped == {"junk or distractor (-1_*, 0000_*)": 2}
    ann.write_text("\n".join(lines + ["abcd_x.jpg:" + row]) + "\n")
    with pytest.raises(DataError, match=re.escape(f"{ann}:{len(lines) + 1}: ")
                       + "image name 'abcd_x.jpg' is not a Market-1501 name"):
        pipeline.build_index(cfg, "train")
    ann.write_text("\n".join(lines) + "\n")
    pairs = root / "demo-pairs-train.csv"
    pairs.write_text(pairs.read_text() + "0001_c1s1_999999_99.jpg,0001_c1s1_000001_01.jpg\n")
    n = len(pairs.read_text().splitlines())
    with pytest.raises(DataError, match=re.escape(f"{pairs}:{n}: ") + "pair image "
                       "'0001_c1s1_999999_99.jpg' has no row in the annotation CSV"):
        pipeline.build_index(cfg, "train")
    missing = dataclasses.replace(cfg, images=str(root / "nowhere"))
    with pytest.raises(DataError, match="nowhere: image folder not found .*data.images"):
        pipeline.build_index(missing, "train")
    with pytest.raises(DataError, match="data.test_annotations is not set"):
        pipeline.build_index(dataclasses.replace(cfg, test_annotations=""), "test")
    with pytest.raises(DataError, match="paired=True needs a pairs CSV"):
        pipeline.build_dataset(dataclasses.replace(cfg, pairs=""), "train", 2, paired=True)


def test_keypoints_outside_are_clipped_and_counted(tmp_path, tiny_dir):
    cfg, root = _market_copy(tiny_dir, tmp_path)
    ann = root / "demo-annotation-train.csv"
    table = keypoints_csv.read_annotation_csv(str(ann))
    name = next(iter(table))
    table[name][0] = (40, 20, 1)  # below and right of a 32x16 image
    keypoints_csv.write_annotation_csv(str(ann), table)
    index = pipeline.build_index(cfg, "train")
    assert index.clipped == 1
    np.testing.assert_array_equal(index.keypoints[index.names.index(name)][0], [31, 15, 1])


def test_deepfashion_padding_identity_and_camera(tmp_path):
    images = tmp_path / "img"
    images.mkdir()
    rng = np.random.default_rng(0)
    table = {}
    for name in ("idB_1front.png", "idA_2side.png", "idA_1front.png"):
        Image.fromarray(rng.integers(0, 255, (32, 22, 3), dtype=np.uint8)).save(images / name)
        rcv = np.zeros((18, 3), np.float32)
        rcv[0] = (10, 3, 1)
        table[name] = rcv
    keypoints_csv.write_annotation_csv(str(tmp_path / "a.csv"), table)
    cfg = DataConfig(dataset="deepfashion", images=str(images),
                     annotations=str(tmp_path / "a.csv"), image_height=32, image_width=32,
                     mask_radius=1, pad_width_to=32)
    batch = _take(pipeline.build_dataset(cfg, "train", 3, shuffle=False, repeat=False), 1)[0]
    assert [n.decode() for n in batch["name"]] == ["idA_1front.png", "idA_2side.png",
                                                  "idB_1front.png"]
    np.testing.assert_array_equal(batch["identity"], [0, 0, 1])
    np.testing.assert_array_equal(batch["camera"], [-1, -1, -1])
    np.testing.assert_array_equal(batch["keypoints"][:, 0], [[10, 8, 1]] * 3)  # 3 + pad 5
    image = np.asarray(Image.open(images / "idA_1front.png"), np.float32) / 127.5 - 1
    np.testing.assert_array_equal(batch["image"][0, :, 5:27], image)
    assert (batch["image"][:, :, :5] == 1).all() and (batch["image"][:, :, 27:] == 1).all()
    unpadded = dataclasses.replace(cfg, pad_width_to=0)
    with pytest.raises(DataError, match=r"idA_1front.png: image is 32x22 \(HxW\); expected 32x32"):
        pipeline.build_index(unpadded, "train")


def test_identity_rules():
    assert pipeline.market_identity_camera("0002_c1s1_000451_03.jpg") == (2, 1)
    assert pipeline.deepfashion_identity("fashionMENDenimid0000008001_1front.jpg") == \
        "fashionMENDenimid0000008001"
    # A PATN category with '_' must not merge all its items into one identity.
    assert pipeline.deepfashion_identity("fashionWOMENBlouses_Shirtsid0000035501_1front.jpg") \
        == "fashionWOMENBlouses_Shirtsid0000035501"
    assert pipeline.deepfashion_identity("abc_01_1_front.jpg") == "abc"  # SPEC: split('_')[0]


def test_pad_width_must_match_network_width(tiny_cfg):
    cfg = dataclasses.replace(tiny_cfg, pad_width_to=20)
    with pytest.raises(DataError, match="data.pad_width_to=20 must equal data.image_width=16"):
        pipeline.build_index(cfg, "train")


@pytest.mark.large
def test_bench_script_prints_json(tmp_path):
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run(
        [sys.executable, "bench/input_pipeline.py", f"--demo_dir={tmp_path / 'demo'}",
         "--batches=3", "--warmup=1", "--batch_size=16", "--num_ids=4", "--images_per_id=4"],
        cwd=root, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["benchmark"] == "input_pipeline" and result["examples_per_sec"] > 0
    assert result["examples_per_cpu_sec"] > 0
