"""Real-image loading of the applications: clear errors for bad inputs."""

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError


def test_loads_images_in_minus_one_one(tiny_cfg, tiny_images):
    images, annotations, names = tiny_images
    real = common.RealImages(images, annotations, tiny_cfg.data.image_height,
                             tiny_cfg.data.image_width)
    image, kp = real.load(names[0])
    assert image.shape == (32, 16, 3) and -1 <= image.min() and image.max() <= 1
    assert kp.shape == (18, 3)


def test_zero_visible_keypoints_names_csv_line(tiny_cfg, tmp_path):
    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((32, 16, 3), np.uint8)).save(tmp_path / "img" / "a.png")
    csv = tmp_path / "ann.csv"
    keypoints_csv.write_annotation_csv(str(csv), {"a.png": np.zeros((18, 3), np.float32)})
    real = common.RealImages(str(tmp_path / "img"), str(csv), 32, 16)
    with pytest.raises(DataError, match=r"ann.csv:2: .*no visible keypoint"):
        real.load("a.png")


def test_wrong_size_and_missing_image(tiny_cfg, tmp_path):
    (tmp_path / "img").mkdir()
    Image.fromarray(np.zeros((40, 16, 3), np.uint8)).save(tmp_path / "img" / "big.png")
    kp = np.zeros((18, 3), np.float32)
    kp[:, 2] = 1
    csv = tmp_path / "ann.csv"
    keypoints_csv.write_annotation_csv(str(csv), {"big.png": kp, "gone.png": kp})
    real = common.RealImages(str(tmp_path / "img"), str(csv), 32, 16)
    with pytest.raises(DataError, match=r"big.png: image is 40x16 .*expects 32x16"):
        real.load("big.png")
    with pytest.raises(DataError, match=r"gone.png: image file not found"):
        real.load("gone.png")
    with pytest.raises(DataError, match="no row in the annotation CSV"):
        real.load("other.png")
