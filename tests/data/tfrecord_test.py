import dataclasses
import os

import numpy as np
import pytest

from dpig_tf.config import DataConfig
from dpig_tf.data import pipeline
from dpig_tf.data import tfrecord
from dpig_tf.data.errors import DataError


def _batches(cfg, split="train"):
    ds = pipeline.build_dataset(cfg, split, 8, shuffle=False, repeat=False)
    return [{k: v.numpy() for k, v in b.items()} for b in ds]


def test_tfrecord_reads_back_through_the_same_contract(tmp_path, tiny_dir):
    out = str(tmp_path / "train.tfrecord")
    tfrecord.main(["--dataset=demo", f"--images={tiny_dir}/bounding_box_train",
                   f"--annotations={tiny_dir}/demo-annotation-train.csv", f"--out={out}"])
    assert len(tfrecord.read_records(out)) == 24
    folder = DataConfig(dataset="market", images=f"{tiny_dir}/bounding_box_train",
                        annotations=f"{tiny_dir}/demo-annotation-train.csv",
                        pairs=f"{tiny_dir}/demo-pairs-train.csv",
                        image_height=32, image_width=16, mask_radius=2, heatmap_radius=1)
    packed = dataclasses.replace(folder, images="", annotations="", tfrecord=out)
    a, b = _batches(folder), _batches(packed)
    assert len(a) == len(b) == 9  # 24 images x 3 partners / 8
    for x, y in zip(a, b):
        assert set(x) == set(y)
        for key in x:
            np.testing.assert_array_equal(x[key], y[key], err_msg=key)


def test_tfrecord_split_placeholder_and_errors(tmp_path, tiny_dir):
    tfrecord.write_tfrecord(f"{tiny_dir}/bounding_box_test",
                            f"{tiny_dir}/demo-annotation-test.csv",
                            str(tmp_path / "data-test.tfrecord"))
    cfg = DataConfig(dataset="market", tfrecord=str(tmp_path / "data-{split}.tfrecord"),
                     image_height=32, image_width=16, mask_radius=2, heatmap_radius=1)
    assert len(pipeline.build_index(cfg, "test")) == 8
    with pytest.raises(DataError, match="data-train.tfrecord: TFRecord file not found"):
        pipeline.build_index(cfg, "train")
    bad = tmp_path / "data-test.tfrecord"
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="data-test.tfrecord: corrupt or truncated TFRecord"):
        pipeline.build_index(cfg, "test")
    os.remove(f"{tmp_path}/data-test.tfrecord")
    with pytest.raises(DataError, match="listed in the annotations is missing"):
        tfrecord.write_tfrecord(str(tmp_path), f"{tiny_dir}/demo-annotation-test.csv",
                                str(tmp_path / "x.tfrecord"))
