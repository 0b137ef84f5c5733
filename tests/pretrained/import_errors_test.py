"""A checkpoint that does not fit gets one clear error naming the variable; nothing is written."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from dpig_tf.pretrained.tf1_checkpoint import ImportCheckpointError
from dpig_tf.pretrained.tf1_import import ImportSources
from dpig_tf.pretrained.tf1_import import import_tf1
from dpig_tf.testing.tf1_reference import rewrite_checkpoint

CONV5 = "ID_AE/G/Conv_5/weights"


def _import_error(tmp_path, sources, dataset="market") -> str:
    out = tmp_path / "out" / "run"
    with pytest.raises(ImportCheckpointError) as err:
        import_tf1(dataset, sources, str(out))
    assert not out.exists()
    leftovers = list((tmp_path / "out").iterdir()) if (tmp_path / "out").exists() else []
    assert leftovers == []  # no half-written run dir and no temporary folder
    return str(err.value)


@pytest.fixture(scope="module")
def stage1_dir(market_originals):
    return market_originals["stage1"][0]


def test_missing_variable(stage1_dir, tmp_path):
    rewrite_checkpoint(stage1_dir, tmp_path / "bad", drop=[CONV5])
    msg = _import_error(tmp_path, ImportSources(stage1=str(tmp_path / "bad")))
    assert CONV5 in msg and "missing" in msg
    assert "expected a variable of shape (3, 3, 16, 16)" in msg


def test_unknown_extra_variable(stage1_dir, tmp_path):
    rewrite_checkpoint(stage1_dir, tmp_path / "bad",
                       add={"ID_AE/G/Conv_99/weights": np.zeros((3, 3, 16, 16), np.float32)})
    msg = _import_error(tmp_path, ImportSources(stage1=str(tmp_path / "bad")))
    assert "ID_AE/G/Conv_99/weights" in msg and "unknown variable of shape (3, 3, 16, 16)" in msg


def test_wrong_shape(stage1_dir, tmp_path):
    rewrite_checkpoint(stage1_dir, tmp_path / "bad",
                       replace={CONV5: np.zeros((3, 3, 16, 17), np.float32)})
    msg = _import_error(tmp_path, ImportSources(stage1=str(tmp_path / "bad")))
    assert CONV5 in msg and "expected shape (3, 3, 16, 16), found (3, 3, 16, 17)" in msg


def test_wrong_dataset(deepfashion_stage1, tmp_path):
    msg = _import_error(tmp_path, ImportSources(stage1=str(deepfashion_stage1["stage1"][0])),
                        dataset="market")
    assert "expected a market checkpoint" in msg and "found a deepfashion one" in msg
    assert "242 channels" in msg


def test_wrong_model_for_the_flag(market_originals, tmp_path):
    msg = _import_error(tmp_path, ImportSources(stage1=str(market_originals["pose_ae"][0])))
    assert "--stage1: expected a Stage-I encoder + generator" in msg
    assert "found pose auto-encoder (model 2 / 102)" in msg


def test_truncated_checkpoint(stage1_dir, tmp_path):
    rewrite_checkpoint(stage1_dir, tmp_path / "bad")
    data = next((tmp_path / "bad").glob("*.data-*"))
    data.write_bytes(data.read_bytes()[:1000])
    msg = _import_error(tmp_path, ImportSources(stage1=str(tmp_path / "bad")))
    assert "corrupt or truncated" in msg


def test_flags_and_existing_output(market_originals, tmp_path):
    stage1 = str(market_originals["stage1"][0])
    with pytest.raises(ImportCheckpointError, match="--stage2_pose: expected both"):
        import_tf1("market", ImportSources(stage1=stage1, pose_ae=stage1,
                                           stage2_app=stage1), str(tmp_path / "x"))
    with pytest.raises(ImportCheckpointError, match="--stage1: expected the Stage-I"):
        import_tf1("market", ImportSources(), str(tmp_path / "x"))
    (tmp_path / "exists").mkdir()
    with pytest.raises(ImportCheckpointError, match="expected a new run directory"):
        import_tf1("market", ImportSources(stage1=stage1), str(tmp_path / "exists"))
    with pytest.raises(ImportCheckpointError, match="found no .index file"):
        import_tf1("market", ImportSources(stage1=str(tmp_path / "exists")), str(tmp_path / "y"))


def test_cli_one_error_line_and_exit_2(stage1_dir, tmp_path):
    rewrite_checkpoint(stage1_dir, tmp_path / "bad",
                       replace={CONV5: np.zeros((3, 3, 16, 17), np.float32)})
    proc = subprocess.run(
        [sys.executable, "-m", "dpig_tf.tools.import_tf1", "--dataset=market",
         f"--stage1={tmp_path / 'bad'}", f"--out={tmp_path / 'run'}"],
        capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and CONV5 in errors[0] and "(3, 3, 16, 17)" in errors[0]
    assert "Traceback" not in proc.stderr and not (tmp_path / "run").exists()
