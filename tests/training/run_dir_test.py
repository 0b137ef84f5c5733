"""Run directories: numbering, config record, architecture check."""

import pytest

from dpig_tf import config_io
from dpig_tf.config import ConfigError
from dpig_tf.training import run_dir


def test_new_run_dirs_are_numbered_and_never_reused(tmp_path):
    cfg = config_io.load_config("tiny")
    first = run_dir.new_run_dir(cfg, 1, root=tmp_path)
    (tmp_path / "00007-other-stage2").mkdir()
    second = run_dir.new_run_dir(cfg, 1, root=tmp_path)
    assert first.name == "00001-tiny-stage1"
    assert second.name == "00008-tiny-stage1"


def test_prepare_writes_config_then_resumes(tmp_path):
    cfg = config_io.load_config("tiny")
    path, resuming = run_dir.prepare(cfg, 1, tmp_path / "r")
    assert not resuming and (path / "config.yaml").is_file()
    longer = config_io.load_config("tiny", ["stage1.steps=9"])
    path, resuming = run_dir.prepare(longer, 1, tmp_path / "r")
    assert resuming
    assert config_io.read_saved_config(path / "config.yaml").stage1.steps == 9


def test_architecture_differences_name_the_keys(tmp_path):
    cfg = config_io.load_config("tiny")
    run_dir.prepare(cfg, 1, tmp_path / "r")
    before = (tmp_path / "r" / "config.yaml").read_text()
    other = config_io.load_config("tiny", ["model.part_dim=8", "stage1.steps=9"])
    with pytest.raises(ConfigError, match=r"model\.part_dim: saved 4, now 8"):
        run_dir.prepare(other, 1, tmp_path / "r")
    assert (tmp_path / "r" / "config.yaml").read_text() == before
    diffs = run_dir.architecture_differences(cfg, other)
    assert list(diffs) == ["model.part_dim"]


def test_checkpoints_without_config_are_refused(tmp_path):
    (tmp_path / "r" / "checkpoints" / "stage1").mkdir(parents=True)
    with pytest.raises(ConfigError, match="no config.yaml"):
        run_dir.prepare(config_io.load_config("tiny"), 1, tmp_path / "r")


def test_non_chief_workers_need_an_explicit_run_dir():
    with pytest.raises(ConfigError, match="explicit run directory"):
        run_dir.prepare(config_io.load_config("tiny"), 1, None, write=False)
