"""Fixtures of the application tests (untrained run directories, image folders).

Trained runs are built by the `large` tests.
"""

from __future__ import annotations

import pytest

from dpig_tf import config_io
from dpig_tf.testing.run_dirs import write_images
from dpig_tf.testing.run_dirs import write_untrained_run


@pytest.fixture(scope="session")
def tiny_cfg():
    return config_io.load_config("tiny")


@pytest.fixture(scope="session")
def tiny_run(tiny_cfg, tmp_path_factory):
    return write_untrained_run(tiny_cfg, tmp_path_factory.mktemp("run") / "run")


@pytest.fixture(scope="session")
def tiny_images(tiny_cfg, tmp_path_factory):
    return write_images(tiny_cfg, tmp_path_factory.mktemp("data"))
