"""dpig_tf.training.run: run-dir layout, resume, SIGKILL, NaN stop, architecture check, workers.

Slow (4.4 min measured under `bazel test` on 2 shared cores): most tests train a tiny run of
their own through `run.train`, which builds the networks and traces every train step.
"""

import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.config import ConfigError
from dpig_tf.models import factory
from dpig_tf.training import run
from dpig_tf.training.loop import NonFiniteLossError

REPO = pathlib.Path(__file__).resolve().parents[2]


def tiny(*overrides):
    return config_io.load_config("tiny", list(overrides))


def metrics(run_dir, phase):
    lines = (pathlib.Path(run_dir) / names.METRICS_FILE).read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["phase"] == phase]


def checkpoint_steps(directory):
    state = tf.train.get_checkpoint_state(str(directory))
    return [int(p.rsplit("-", 1)[-1]) for p in state.all_model_checkpoint_paths]


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run") / "r"
    out = run.train(tiny("stage1.steps=4", "stage1.pose_ae_steps=4"), 1, str(run_dir))
    assert out == str(run_dir)
    return run_dir


def test_stage1_run_dir_layout(trained_run):
    saved = config_io.read_saved_config(trained_run / names.CONFIG_FILE)
    assert saved.name == "tiny" and saved.stage1.steps == 4
    assert checkpoint_steps(trained_run / names.STAGE1_DIR) == [2, 4]
    assert checkpoint_steps(trained_run / names.POSE_AE_DIR) == [2, 4]
    reader = tf.train.load_checkpoint(str(trained_run / names.STAGE1_DIR))
    assert reader.get_tensor(names.STEP + "/.ATTRIBUTES/VARIABLE_VALUE") == 4
    # What inference code does: restore only the networks it needs, by object name.
    cfg = config_io.read_saved_config(trained_run / names.CONFIG_FILE)
    networks = {names.ENCODER: factory.build_encoder(cfg),
                names.GENERATOR: factory.build_generator(cfg)}
    fresh = [v.numpy().copy() for v in networks[names.GENERATOR].weights]
    tf.train.Checkpoint(**networks).restore(
        tf.train.latest_checkpoint(str(trained_run / names.STAGE1_DIR))
    ).expect_partial().assert_existing_objects_matched()
    assert any(not np.array_equal(a, v.numpy())
               for a, v in zip(fresh, networks[names.GENERATOR].weights))
    pose_reader = tf.train.load_checkpoint(str(trained_run / names.POSE_AE_DIR))
    assert pose_reader.get_tensor(names.POSE_AE_STEP + "/.ATTRIBUTES/VARIABLE_VALUE") == 4

    gan = metrics(trained_run, "stage1")
    assert [r["step"] for r in gan] == [1, 2, 3, 4]  # tiny: log_every 1
    for key in ("g_loss", "d_loss", "l1_loss", "masked_l1_loss", "lr"):
        assert np.isfinite(gan[-1][key]), key
    assert gan[0]["g_loss"] == 0.0  # step 0 (the first step) updates only D
    assert gan[-1]["sec_per_step"] > 0 and gan[-1]["examples_per_sec"] > 0
    assert [r["step"] for r in metrics(trained_run, "pose_ae")] == [1, 2, 3, 4]
    assert [r["step"] for r in metrics(trained_run, "stage1_eval")] == [0, 2, 4]
    samples = sorted(p.name for p in (trained_run / names.SAMPLES_DIR).iterdir())
    assert samples == ["stage1-000000.png", "stage1-000002.png", "stage1-000004.png"]
    for phase in ("stage1", "pose_ae", "stage1_eval"):
        assert list((trained_run / names.TENSORBOARD_DIR / phase).glob("events.out.tfevents.*"))


def test_adversarial_warmup_trains_the_discriminator_only_after_it(tmp_path):
    def discriminator_weights(path):
        reader = tf.train.load_checkpoint(path)
        return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
                if k.startswith(names.DISCRIMINATOR + "/") and "OPTIMIZER" not in k}

    base = ("stage1.train_pose_ae=false", "stage1.adversarial_warmup_steps=3",
            "stage1.checkpoint_every=1", "stage1.log_every=1", "stage1.keep_checkpoints=10")
    run_dir = tmp_path / "warm"
    run.train(tiny(*base, "stage1.steps=5"), 1, str(run_dir))
    ckpt = {int(p.rsplit("-", 1)[-1]): p for p in tf.train.get_checkpoint_state(
        str(run_dir / names.STAGE1_DIR)).all_model_checkpoint_paths}
    weights = {step: discriminator_weights(path) for step, path in ckpt.items()}
    assert sorted(weights) == [1, 2, 3, 4, 5] and weights[1]
    for step in (2, 3):  # warm-up steps: D untouched
        for key in weights[1]:
            np.testing.assert_array_equal(weights[step][key], weights[1][key], err_msg=key)
    # Step 3 (0-based) is the first with the adversarial term: D trains from there on.
    assert any(not np.array_equal(weights[4][k], weights[3][k]) for k in weights[1])
    logged = metrics(run_dir, "stage1")
    assert [r["d_loss"] for r in logged[:3]] == [0.0, 0.0, 0.0]  # no D update, no D loss
    assert all(r["d_loss"] > 0 for r in logged[3:])
    assert all(r["l1_loss"] > 0 for r in logged[1:])  # step 0 has no generator update


def test_code_swap_starts_at_its_start_step(tmp_path):
    run_dir = tmp_path / "swap"
    # Every example swapped, no margin: the penalised regions are never empty.
    run.train(tiny("stage1.train_pose_ae=false", "stage1.code_swap_fraction=1.0",
                   "stage1.code_swap_margin=0", "stage1.code_swap_start_step=3",
                   "stage1.code_swap_ramp_steps=0", "stage1.log_every=1",
                   "stage1.steps=5"), 1, str(run_dir))
    swap = [r["swap_loss"] for r in metrics(run_dir, "stage1")]
    # Steps 0-2: no swapped decodes are made (step 0 has no generator update at all).
    assert swap[:3] == [0.0, 0.0, 0.0] and all(v > 0 for v in swap[3:]), swap
    assert len(swap) == 5


def test_stage1_step_flags_follow_the_schedules():
    s1 = tiny("stage1.adversarial_warmup_steps=4", "stage1.code_swap_start_step=2").stage1
    flags = [run.stage1_step_flags(s1, step) for step in range(6)]
    assert [f["update_generator"] for f in flags] == [False] + [True] * 5
    assert [f["update_discriminator"] for f in flags] == [False] * 4 + [True] * 2
    # Before the start step the swapped decodes are not even made (weight 0 there).
    assert [f["swap_codes"] for f in flags] == [False, False, True, True, True, True]
    paper = tiny("stage1.adversarial_warmup_steps=0").stage1
    assert run.stage1_step_flags(paper, 0) == {
        "update_generator": False, "update_discriminator": True, "swap_codes": False}


def test_architecture_change_is_refused_and_nothing_is_overwritten(trained_run):
    files = {p: p.stat().st_mtime_ns for p in trained_run.rglob("*") if p.is_file()}
    with pytest.raises(ConfigError, match=r"model\.base_channels: saved 4, now 8") as err:
        run.train(tiny("model.base_channels=8", "model.bottleneck_dim=16"), 1, str(trained_run))
    assert "model.bottleneck_dim" in str(err.value)
    assert {p: p.stat().st_mtime_ns for p in trained_run.rglob("*") if p.is_file()} == files


def test_resume_continues_the_step_count(trained_run, capsys):
    run.train(tiny("stage1.steps=6", "stage1.pose_ae_steps=4"), 1, str(trained_run))
    out = capsys.readouterr().out
    assert "Resumed" in out and "ckpt-4 (step 4)" in out
    assert checkpoint_steps(trained_run / names.STAGE1_DIR)[-1] == 6
    assert checkpoint_steps(trained_run / names.POSE_AE_DIR)[-1] == 4  # already finished
    assert [r["step"] for r in metrics(trained_run, "stage1")] == [1, 2, 3, 4, 5, 6]
    saved = config_io.read_saved_config(trained_run / names.CONFIG_FILE)
    assert saved.stage1.steps == 6


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    # An infinite L1 weight makes the first generator update (step index 1) non-finite.
    cfg = tiny("stage1.l1_weight=.inf", "stage1.train_pose_ae=false", "stage1.steps=5",
               "stage1.checkpoint_every=1")
    with pytest.raises(NonFiniteLossError, match=r"loss g_loss = inf at step 2") as err:
        run.train(cfg, 1, str(tmp_path / "r"))
    assert "ckpt-1" in str(err.value)
    assert checkpoint_steps(tmp_path / "r" / names.STAGE1_DIR) == [1]
    reader = tf.train.load_checkpoint(str(tmp_path / "r" / names.STAGE1_DIR))
    for key, dtype in reader.get_variable_to_dtype_map().items():
        if dtype.is_floating:
            assert np.all(np.isfinite(reader.get_tensor(key))), key


@pytest.mark.distributed
def test_indivisible_global_batch_fails_before_anything_is_built(tmp_path):
    cfg = tiny("runtime.strategy=mirrored", "stage1.batch_size=3")
    with pytest.raises(ConfigError, match=r"stage1.batch_size=3 .* not divisible by the 2 replicas"):
        run.train(cfg, 1, str(tmp_path / "r"))
    assert not (tmp_path / "r").exists()


def _env():
    env = dict(os.environ, PYTHONPATH=str(REPO), TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("TF_CONFIG", None)
    return env


@pytest.mark.large  # two CLI processes: ~20 s idle, over a minute on a loaded machine
def test_sigkill_then_restart_resumes_from_the_last_checkpoint(tmp_path):
    run_dir = tmp_path / "killed"
    base = [sys.executable, "-m", "dpig_tf.main", "--stage=1", "--config=tiny",
            f"--run_dir={run_dir}", "--set=stage1.train_pose_ae=false",
            "--set=stage1.checkpoint_every=3", "--set=stage1.log_every=1"]
    proc = subprocess.Popen(base + ["--set=stage1.steps=100000"], cwd=REPO, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ckpt_dir = run_dir / names.STAGE1_DIR
    deadline = time.time() + 120
    try:
        while time.time() < deadline and proc.poll() is None:
            if (ckpt_dir / "checkpoint").exists() and checkpoint_steps(ckpt_dir)[-1] >= 6:
                break
            time.sleep(0.2)
        assert proc.poll() is None, "training ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    last = checkpoint_steps(ckpt_dir)[-1]
    assert last >= 6

    result = subprocess.run(base + [f"--set=stage1.steps={last + 4}"], cwd=REPO, env=_env(),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"ckpt-{last} (step {last})" in result.stdout
    assert checkpoint_steps(ckpt_dir)[-1] == last + 4
    for path in tf.train.get_checkpoint_state(str(ckpt_dir)).all_model_checkpoint_paths:
        reader = tf.train.load_checkpoint(path)  # every kept checkpoint is readable
        assert reader.get_tensor(names.STEP + "/.ATTRIBUTES/VARIABLE_VALUE") == int(
            path.rsplit("-", 1)[-1])
    steps = [r["step"] for r in metrics(run_dir, "stage1")]
    # Lines logged after the restored checkpoint by the killed process are dropped on resume.
    assert steps == list(range(1, last + 5))


WORKER = """
import sys
import tensorflow as tf
from dpig_tf import config_io
from dpig_tf.training import run, run_dir, runtime
cfg = config_io.load_config("tiny", ["runtime.strategy=multi_worker",
                                     "stage1.train_pose_ae=false", "stage1.steps=3"])
strategy = runtime.setup(cfg.runtime)
cfg.validate(strategy.num_replicas_in_sync)
chief = runtime.is_chief(strategy)
path, _ = run_dir.prepare(cfg, 1, sys.argv[1], write=chief)
model = run.train_image_gan(cfg, strategy, path, chief)
print("REPLICAS", strategy.num_replicas_in_sync, "CHIEF", chief, "STEP", int(model.step.numpy()))
print("CHECKSUM %.6f" % sum(float(tf.reduce_sum(tf.abs(v))) for v in model.trainable_variables))
"""


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.mark.large  # two worker processes forming a cluster: > 60 s on a loaded machine
@pytest.mark.distributed
def test_multi_worker_training_with_two_local_workers(tmp_path):
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for index in range(2):
        env = _env()
        env["TF_CONFIG"] = json.dumps({"cluster": cluster,
                                       "task": {"type": "worker", "index": index}})
        procs.append(subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path / "mw")],
                                      cwd=REPO, env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    outputs = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=240)
            assert proc.returncode == 0, err[-3000:]
            outputs.append(out)
    finally:
        for proc in procs:
            proc.kill()
    assert "REPLICAS 2 CHIEF True STEP 3" in outputs[0]
    assert "REPLICAS 2 CHIEF False STEP 3" in outputs[1]
    checksums = [line for out in outputs for line in out.splitlines() if "CHECKSUM" in line]
    assert checksums[0] == checksums[1]  # both workers hold the same weights
    assert checkpoint_steps(tmp_path / "mw" / names.STAGE1_DIR)[-1] == 3
    assert [r["step"] for r in metrics(tmp_path / "mw", "stage1")] == [1, 2, 3]


def test_dry_run_prints_batch_shapes_and_returns_model_summary(capsys):
    summary = run.dry_run(tiny(), 1)
    out = capsys.readouterr().out
    assert "batch 0: image (4, 32, 16, 3) float32" in out and "heatmaps (4, 32, 16, 18)" in out
    assert set(summary) == {"params", "gmac_per_image"}
    assert set(summary["params"]) >= {"encoder", "generator", "discriminator", "pose_encoder",
                                      "pose_decoder"}
    json.dumps(summary)  # the CLI prints it as one JSON line


def test_init_from_is_refused_for_stage_1():
    with pytest.raises(ConfigError, match="--init_from is a Stage-2 option"):
        run.train(tiny(), 1, None, init_from="runs/x")
