"""Shared fixtures of the data tests: one tiny rendered demo dataset per session."""

import dataclasses

import pytest

from dpig_tf.config import DataConfig
from dpig_tf.data import synthetic

TINY = dict(num_ids=6, images_per_id=4, seed=0, height=32, width=16)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny_demo") / "tiny_data"
    synthetic.render_dataset(str(out), **TINY)
    return str(out)


@pytest.fixture
def tiny_cfg(tiny_dir):
    """A DataConfig of the tiny demo dataset (as configs/tiny.yaml), read as Market."""
    return DataConfig(dataset="demo", demo_dir=tiny_dir, image_height=32, image_width=16,
                      mask_radius=2, heatmap_radius=1, demo_num_ids=6,
                      demo_images_per_id=4, demo_seed=0)


def replace(cfg, **kwargs):
    return dataclasses.replace(cfg, **kwargs)
