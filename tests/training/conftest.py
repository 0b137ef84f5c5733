"""Shared fixtures of the training tests: the tiny config and real batches of its demo data."""

import pytest

from dpig_tf import config_io


@pytest.fixture(scope="session")
def tiny_cfg():
    return config_io.load_config("tiny")


@pytest.fixture(scope="session")
def tiny_batches(tiny_cfg):
    """Two global batches (4 examples each) from the real pipeline over the tiny demo data."""
    from dpig_tf.data.pipeline import build_dataset

    dataset = build_dataset(tiny_cfg.data, "train", tiny_cfg.stage1.batch_size, shuffle=False)
    iterator = iter(dataset)
    return next(iterator), next(iterator)
