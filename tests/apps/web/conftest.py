"""Fixtures of the web page tests: an untrained tiny run whose test split renders into tmp."""

from __future__ import annotations

import pytest

from dpig_tf import config_io
from dpig_tf.apps import common
from dpig_tf.apps.options import AppOptions
from dpig_tf.apps.web.engine import Engine
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.testing.run_dirs import write_untrained_run


@pytest.fixture(scope="session")
def web_cfg(tmp_path_factory):
    data = tmp_path_factory.mktemp("web_data") / "tiny_data"
    return config_io.load_config("tiny", [f"data.demo_dir={data}"])


@pytest.fixture(scope="session")
def web_run(web_cfg, tmp_path_factory):
    return write_untrained_run(web_cfg, tmp_path_factory.mktemp("web_run") / "run")


@pytest.fixture(scope="session")
def web_model(web_run):
    return DisentangledGenerator.from_run_dir(web_run)


@pytest.fixture(scope="session")
def engine(web_model):
    engine = Engine(web_model, common.real_images(AppOptions(), web_model))
    engine.warm_up()
    return engine
