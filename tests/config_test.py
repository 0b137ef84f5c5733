"""Tests of the typed config schema and its strict loader (dpig_tf/config.py, config_io.py)."""

import dataclasses

import pytest

from dpig_tf import config_io
from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig


@pytest.mark.parametrize("name", sorted(p.stem for p in config_io.CONFIG_DIR.glob("*.yaml")))
def test_every_named_config_loads_and_validates(name):
    cfg = config_io.load_config(name)
    assert cfg.name == name


def test_market_is_the_paper_setting():
    cfg = config_io.load_config("configs/market.yaml")
    assert (cfg.data.image_height, cfg.data.image_width) == (128, 64)
    assert cfg.encoder_stages == 5 and cfg.generator_stages == 5
    assert cfg.model.channels == 128 and cfg.model.embedding_dim == 352
    assert cfg.stage1.l1_weight == 20.0 and cfg.stage1.learning_rate == 2e-5
    assert cfg.stage2.clip_value == 0.01 and cfg.stage2.critic_steps == 5


def test_deepfashion_sizes():
    cfg = config_io.load_config("deepfashion")
    assert cfg.model.embedding_dim == 224 and not cfg.model.background
    assert cfg.generator_stages == 5 and cfg.model.roi_size == 64 and cfg.model.roi_stages == 7


def test_base_chain_and_override_precedence():
    cfg = config_io.load_config("tiny", ["stage1.steps=7", "model.width_multiplier=2"])
    assert cfg.stage1.steps == 7
    assert cfg.model.width_multiplier == 2.0  # int accepted for a float field
    assert cfg.model.roi_size == 8  # from tiny.yaml, over demo.yaml's 16


@pytest.mark.parametrize("override, message", [
    ("stage1.stepz=3", "unknown config key 'stage1.stepz'"),
    ("nosuch.steps=3", "unknown config key 'nosuch'"),
    ("stage1.steps=abc", "stage1.steps must be of type int"),
    ("stage1.steps=1.5", "stage1.steps must be of type int"),
    ("model.background=1", "model.background must be of type bool"),
    ("stage1=3", "stage1 is a section"),
    ("stage1.steps", "expected key=value"),
    ("runtime.strategy=ring", "runtime.strategy must be one of"),
    ("data.image_height=30", "cannot be halved"),
    ("stage1.batch_size=0", "stage1.batch_size must be > 0"),
])
def test_bad_overrides_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        config_io.load_config("tiny", [override])


def test_unknown_key_in_yaml_names_file_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("stage1:\n  stepz: 4\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: unknown config key 'stage1.stepz'"):
        config_io.load_config(str(path))


def test_global_batch_must_divide_by_replicas():
    cfg = config_io.load_config("tiny", ["stage1.batch_size=3"])
    with pytest.raises(ConfigError, match="not divisible by the 2 replicas"):
        cfg.validate(num_replicas=2)


def test_missing_config_lists_named_configs():
    with pytest.raises(ConfigError, match="named configs: .*market"):
        config_io.load_config("nosuchconfig")


def test_yaml_round_trip(tmp_path):
    cfg = config_io.load_config("deepfashion", ["stage2.loss=wgan_gp"])
    config_io.dump_config(cfg, tmp_path / "config.yaml")
    again = config_io.read_saved_config(tmp_path / "config.yaml")
    assert dataclasses.asdict(again) == dataclasses.asdict(cfg)


def test_market_yaml_differs_from_defaults_only_in_data_paths():
    market = dataclasses.asdict(config_io.load_config("market"))
    defaults = dataclasses.asdict(ExperimentConfig().validate())
    for section in ("model", "stage1", "stage2", "runtime"):
        assert market[section] == defaults[section], section
