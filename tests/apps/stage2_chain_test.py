"""Stage-II runs (`train_stage2`) on the tiny config, and the full chain Stage I -> II -> sample.

The default tests start Stage II from a Stage-I run directory with untrained
weights (written by dpig_tf.testing.run_dirs, seconds); the `large` test trains
Stage I first.
"""

import json

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.apps import sample
from dpig_tf.apps.options import AppOptions
from dpig_tf.config import ConfigError
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.training import run
from dpig_tf.testing.run_dirs import write_untrained_run
from dpig_tf.training.stage2_run import train_stage2


def _tiny(root):
    overrides = ["data.demo_dir=" + str(root / "tiny_data"),
                 "data.images=" + str(root / "tiny_data/bounding_box_train"),
                 "data.annotations=" + str(root / "tiny_data/demo-annotation-train.csv"),
                 "data.pairs=" + str(root / "tiny_data/demo-pairs-train.csv"),
                 "data.test_images=" + str(root / "tiny_data/bounding_box_test"),
                 "data.test_annotations=" + str(root / "tiny_data/demo-annotation-test.csv"),
                 "data.test_pairs=" + str(root / "tiny_data/demo-pairs-test.csv"),
                 "stage2.critic_steps=2"]  # fewer unrolled critic updates to trace
    return overrides


@pytest.fixture(scope="module")
def chain(tmp_path_factory):
    root = tmp_path_factory.mktemp("chain")
    overrides = _tiny(root)
    cfg = config_io.load_config("tiny", overrides)
    stage1 = str(write_untrained_run(cfg, root / "run", stage2=False))
    frozen = DisentangledGenerator.from_run_dir(stage1)
    before = [w.numpy().copy() for w in frozen.encoder.weights + frozen.pose_encoder.weights]
    stage2 = train_stage2(config_io.load_config("tiny", overrides), None, stage1)
    return cfg, overrides, root, stage1, stage2, before


def test_stage2_writes_checkpoint_metrics_and_keeps_stage1(chain):
    cfg, _, _, stage1, stage2, before = chain
    assert stage2 == stage1  # default: the Stage-I run directory itself
    assert tf.train.latest_checkpoint(f"{stage2}/{names.STAGE2_DIR}")
    phases = [json.loads(line)["phase"] for line in open(f"{stage2}/{names.METRICS_FILE}")]
    assert "stage2" in phases and "stage2_pose" in phases
    model = DisentangledGenerator.from_run_dir(stage2, require_stage2=True)
    after = [w.numpy() for w in model.encoder.weights + model.pose_encoder.weights]
    for a, b in zip(before, after):  # the Stage-I networks were frozen
        np.testing.assert_array_equal(a, b)
    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(f"{stage2}/{names.STAGE2_DIR}"))
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == cfg.stage2.steps
    assert int(reader.get_tensor("pose_step/.ATTRIBUTES/VARIABLE_VALUE")) == cfg.stage2.pose_steps
    for key in reader.get_variable_to_shape_map():  # critics were clipped
        if "critic/" in key and key.endswith("VARIABLE_VALUE") and "OPTIMIZER" not in key:
            assert np.abs(reader.get_tensor(key)).max() <= cfg.stage2.clip_value + 1e-7


def test_sampling_after_the_chain(chain, tmp_path):
    *_, stage2, _ = chain
    s = sample.run(AppOptions(run_dir=stage2, out=str(tmp_path), num=4, seed=0))
    assert s["num_images"] == 4


@pytest.mark.large
def test_resume_continues_and_new_run_dir_gets_stage1(chain, tmp_path):
    _, overrides, _, stage1, stage2, _ = chain
    more = overrides + ["stage2.steps=6"]
    train_stage2(config_io.load_config("tiny", more), None, stage1)
    latest = tf.train.latest_checkpoint(f"{stage2}/{names.STAGE2_DIR}")
    reader = tf.train.load_checkpoint(latest)
    assert int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE")) == 6
    other = train_stage2(config_io.load_config("tiny", overrides), str(tmp_path / "s2"), stage1)
    DisentangledGenerator.from_run_dir(other, require_stage2=True)


def test_architecture_mismatch_and_missing_stage1(chain, tmp_path):
    _, overrides, _, stage1, *_ = chain
    with pytest.raises(ConfigError, match="model.part_dim: Stage-I run 4, this config 6"):
        train_stage2(config_io.load_config("tiny", overrides + ["model.part_dim=6"]), None,
                     stage1)
    with pytest.raises(ConfigError, match="no config.yaml"):
        train_stage2(config_io.load_config("tiny", overrides), None, str(tmp_path))


@pytest.mark.large
def test_full_chain_stage1_stage2_sample(tmp_path):
    overrides = _tiny(tmp_path)
    stage1 = run.train(config_io.load_config("tiny", overrides), 1, run_dir=str(tmp_path / "run"))
    stage2 = train_stage2(config_io.load_config("tiny", overrides), None, stage1)
    s = sample.run(AppOptions(run_dir=stage2, out=str(tmp_path / "out"), num=4, seed=0))
    assert s["num_images"] == 4
