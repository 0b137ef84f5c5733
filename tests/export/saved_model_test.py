"""SavedModel export: TF Serving layout, signatures, parity, input errors."""

import json
import subprocess

import numpy as np
import pytest
import tensorflow as tf

from export import saved_model
from export import signatures as S
from export.run_loader import ExportError

REPO = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def reloaded(exported):
    return tf.saved_model.load(str(exported[1]))


def test_serving_layout_and_models_config(exported):
    out, path = exported
    assert path == out / "dpig" / "3"
    assert (path / "saved_model.pb").is_file() and (path / "variables").is_dir()
    text = (out / "models.config").read_text()
    assert 'name: "dpig"' in text and 'base_path: "/models/dpig"' in text
    assert 'model_platform: "tensorflow"' in text
    contract = json.loads((path / saved_model.CONTRACT_FILE).read_text())
    assert contract["endpoints"] == ["transfer", "encode", "decode", "sample"]
    assert contract["dims"]["foreground_dim"] == 28 and contract["dims"]["background_dim"] == 8


def test_saved_model_cli_lists_signatures(exported):
    _, path = exported
    cli = REPO.parent / "venv" / "bin" / "saved_model_cli"
    cmd = [str(cli)] if cli.exists() else ["saved_model_cli"]
    text = subprocess.run(cmd + ["show", "--dir", str(path), "--all"], capture_output=True,
                          text=True, check=True).stdout
    for name in ("transfer", "serving_default", "encode", "decode", "sample"):
        assert f"signature_def['{name}']" in text
    assert "inputs['target_keypoints']" in text and "(-1, 18, 3)" in text
    assert "outputs['generated']" in text and "(-1, 32, 16, 3)" in text
    assert "inputs['seed']" in text and "DT_INT32" in text and "DT_BOOL" in text


def test_outputs_equal_the_inference_model(loaded, reloaded, examples):
    model, dims = loaded.model, loaded.dims
    loaded = reloaded
    img, kp, tgt = examples["image"], examples["keypoints"], examples["target_keypoints"]

    def call(endpoint, **inputs):
        return saved_model.call_endpoint(loaded, dims, endpoint, inputs)

    want = model.transfer(img, kp, tgt).numpy()
    assert np.abs(want).max() > 1e-3  # a non-trivial output
    np.testing.assert_allclose(call("transfer", image=img, keypoints=kp,
                                    target_keypoints=tgt)["generated"], want, atol=1e-5)
    np.testing.assert_allclose(call("serving_default", image=img, keypoints=kp,
                                    target_keypoints=tgt)["generated"], want, atol=1e-5)
    codes = model.encode(img, kp)
    got = call("encode", image=img, keypoints=kp)
    assert sorted(got) == ["background", "foreground", "pose"]
    for k in got:
        np.testing.assert_allclose(got[k], codes[k].numpy(), atol=1e-5)
    got = call("decode", foreground=got["foreground"], background=got["background"],
               target_keypoints=tgt)["generated"]
    np.testing.assert_allclose(got, want, atol=1e-5)
    for flags in ((True, False, True), (False, True, False)):
        want = model.sample(seed=7, sample_fg=flags[0], sample_bg=flags[1],
                            sample_pose=flags[2], image=img, keypoints=kp).numpy()
        got = call("sample", image=img, keypoints=kp, seed=7, sample_foreground=flags[0],
                   sample_background=flags[1], sample_pose=flags[2])["generated"]
        np.testing.assert_allclose(got, want, atol=1e-5)


@pytest.mark.parametrize("endpoint", S.ENDPOINTS)
def test_wrong_requests_give_clear_errors(reloaded, loaded, examples, endpoint):
    dims = loaded.dims
    loaded = reloaded
    good = {"image": examples["image"][:2], "keypoints": examples["keypoints"][:2],
            "target_keypoints": examples["target_keypoints"][:2],
            "foreground": np.zeros((2, 28), np.float32),
            "background": np.zeros((2, 8), np.float32), "seed": 1,
            "sample_foreground": True, "sample_background": False, "sample_pose": True}
    inputs = {k: good[k] for k in S.endpoint_specs(dims, endpoint)}
    assert saved_model.call_endpoint(loaded, dims, endpoint, inputs)
    key = "target_keypoints" if "target_keypoints" in inputs else "keypoints"
    for bad_value, match in ((np.zeros((2, 17, 3), np.float32), "got 17 joints"),
                             (np.zeros((2, 18, 3), np.int32) + 0.5 > 1, "dtype bool"),
                             (np.zeros((2, 18), np.float32), "has shape \\(2, 18\\)")):
        with pytest.raises(S.SignatureInputError, match=f"endpoint '{endpoint}': .*{match}"):
            saved_model.call_endpoint(loaded, dims, endpoint, {**inputs, key: bad_value})
    # The one dynamic dimension is checked in-graph, also without the helper.
    raw = {k: tf.constant(v) for k, v in inputs.items()}
    raw[key] = raw[key][:1]
    with pytest.raises(tf.errors.InvalidArgumentError, match="must have the same batch size"):
        loaded.signatures[endpoint](**raw)
    # NaN / Inf: refused by the helper and, in-graph, by the served signature itself.
    for bad in (np.nan, np.inf):
        poisoned = np.array(inputs[key], np.float32)
        poisoned[0, 0, 0] = bad
        with pytest.raises(S.SignatureInputError, match=f"'{key}' contains NaN or Inf"):
            saved_model.call_endpoint(loaded, dims, endpoint, {**inputs, key: poisoned})
        raw = {k: tf.constant(v) for k, v in {**inputs, key: poisoned}.items()}
        with pytest.raises(tf.errors.InvalidArgumentError,
                           match=f"endpoint {endpoint}: input {key} contains NaN or Inf"):
            loaded.signatures[endpoint](**raw)


def test_stage1_run_requires_sample_error(stage1_run_dir, tmp_path):
    with pytest.raises(ExportError, match="no Stage-II mapping weights"):
        saved_model.export_saved_model(str(stage1_run_dir), str(tmp_path / "b"),
                                       require_sample=True)
    with pytest.raises(ExportError, match="no Stage-II mapping weights"):
        saved_model.main([f"--run_dir={stage1_run_dir}", f"--out={tmp_path / 'c'}",
                          "--require_sample"])


@pytest.mark.large
def test_stage1_run_skips_sample(stage1_run_dir, tmp_path):
    with pytest.warns(UserWarning, match="`sample` signature is skipped"):
        path = saved_model.export_saved_model(str(stage1_run_dir), str(tmp_path / "a"))
    assert sorted(tf.saved_model.load(str(path)).signatures) == [
        "decode", "encode", "serving_default", "transfer"]


def test_existing_version_is_not_overwritten(run_dir, loaded, exported):
    out, _ = exported
    with pytest.raises(ExportError, match="exists; choose another --version"):
        saved_model.export_saved_model(str(run_dir), str(out), version=3, loaded=loaded)


@pytest.mark.large
def test_export_from_really_trained_run(tmp_path):
    """Stage I + II trained for 2 tiny steps by dpig_tf.training, then exported."""
    from dpig_tf.training.run import train
    from tests.export.conftest import tiny_config

    steps = ["stage1.steps=2", "stage1.pose_ae_steps=2", "stage2.steps=2",
             "stage2.pose_steps=2", "stage1.checkpoint_every=2", "stage2.checkpoint_every=2"]
    cfg = tiny_config(tmp_path / "tiny_data", steps)
    run = tmp_path / "run"
    train(cfg, 1, str(run))
    train(cfg, 2, str(run))
    assert saved_model.main([f"--run_dir={run}", f"--out={tmp_path / 'out'}"]) == 0
    sm = tf.saved_model.load(str(tmp_path / "out" / "dpig" / "1"))
    assert "sample" in sm.signatures
