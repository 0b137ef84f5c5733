"""Run directories to export, shared by the export tests.

A run directory has the layout of a trained run (RUN/config.yaml and the
checkpoints named by dpig_tf/checkpoint.py), written from freshly initialised
networks of configs/tiny.yaml by `dpig_tf.testing.run_dirs.write_untrained_run`
(seconds instead of the ~50 s of real tiny training, which a `large` test in
saved_model_test.py runs). The demo dataset is rendered into the test's
temporary folder.
"""

from __future__ import annotations

import pathlib

import pytest

from dpig_tf.config_io import load_config
from dpig_tf.testing.run_dirs import write_untrained_run


def tiny_config(data_dir: pathlib.Path, overrides=()):
    """configs/tiny.yaml with the demo dataset rendered into `data_dir`."""
    paths = [f"data.{p}{k}=" for p in ("", "test_") for k in ("images", "annotations", "pairs")]
    return load_config("tiny", [f"data.demo_dir={data_dir}", *paths, *overrides])


def build_run_dir(run_dir: pathlib.Path, stage2: bool = True, overrides=()) -> pathlib.Path:
    cfg = tiny_config(run_dir.parent / "tiny_data", overrides)
    return write_untrained_run(cfg, run_dir, stage2=stage2)


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> pathlib.Path:
    return build_run_dir(tmp_path_factory.mktemp("export") / "run")


@pytest.fixture(scope="session")
def stage1_run_dir(tmp_path_factory) -> pathlib.Path:
    return build_run_dir(tmp_path_factory.mktemp("export_s1") / "run", stage2=False)


@pytest.fixture(scope="session")
def loaded(run_dir):
    """The run's inference model, loaded once for the export tests."""
    from export.run_loader import load_run

    return load_run(run_dir)


@pytest.fixture(scope="session")
def exported(run_dir, loaded, tmp_path_factory):
    """(OUT, OUT/dpig/3): one SavedModel export shared by several tests."""
    from export import saved_model

    out = tmp_path_factory.mktemp("sm_out")
    return out, saved_model.export_saved_model(str(run_dir), str(out), version=3, loaded=loaded)


@pytest.fixture(scope="session")
def examples(loaded):
    from export import representative_data

    return representative_data.dataset_examples(loaded.cfg, 3)
