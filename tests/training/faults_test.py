"""Training survives faults: kill -9, corrupt checkpoints, a second process, a full disk.

- five SIGKILLs at random points (one aimed at a checkpoint write), each followed by a
  resume: the run ends at the same weights, bit for bit, as an uninterrupted run with the
  same seed, and metrics.jsonl holds every step exactly once;
- a truncated or corrupt newest checkpoint is skipped with a `warning:` line;
- a second training process on the run dir refuses (RUN/train.lock: pid + host); the
  stale lock of a killed process is taken over;
- a full disk (a 1.5 MB tmpfs in a private mount namespace) stops the run with one
  `error:` line and leaves the last complete checkpoint intact.
"""

import json
import os
import pathlib
import random
import shutil
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
from dpig_tf.errors import UserError
from dpig_tf.training import checkpoint_io
from dpig_tf.training import run
from dpig_tf.training import run_lock

REPO = pathlib.Path(__file__).resolve().parents[2]
STEPS = 20
OVERRIDES = ("stage1.train_pose_ae=false", "stage1.checkpoint_every=1", "stage1.log_every=1",
             "stage1.image_every=0", "stage1.keep_checkpoints=3", f"stage1.steps={STEPS}")


def _env():
    return dict(os.environ, PYTHONPATH=str(REPO))


def _command(run_dir, overrides=OVERRIDES):
    # The demo data is rendered beside the run, not into the checkout (read-only under Bazel).
    data = pathlib.Path(run_dir).parent / "tiny_data"
    return [sys.executable, "-m", "dpig_tf.main", "--stage=1", "--config=tiny",
            f"--run_dir={run_dir}", f"--set=data.demo_dir={data}",
            *[f"--set={o}" for o in overrides]]


def _steps(run_dir, phase="stage1"):
    lines = (pathlib.Path(run_dir) / names.METRICS_FILE).read_text().splitlines()
    return [r["step"] for r in map(json.loads, lines) if r["phase"] == phase]


def _variables(checkpoint_prefix) -> dict:
    reader = tf.train.load_checkpoint(checkpoint_prefix)
    return {k: reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
            if k != "_CHECKPOINTABLE_OBJECT_GRAPH"}


def _latest_step(ckpt_dir) -> int:
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    return int(latest.rsplit("-", 1)[-1]) if latest else 0


# --- (b) corrupt newest checkpoint ------------------------------------------------------------
def _two_checkpoints(tmp_path):
    weights = tf.Variable(tf.random.normal((64, 64), seed=1))
    checkpoint = tf.train.Checkpoint(w=weights)
    manager = tf.train.CheckpointManager(checkpoint, str(tmp_path), max_to_keep=3)
    manager.save(1)
    first = weights.numpy().copy()
    weights.assign_add(tf.ones_like(weights))
    manager.save(2)
    return checkpoint, weights, first


@pytest.mark.parametrize("damage", ["truncate_data", "flip_data_byte", "truncate_index",
                                    "delete_index"])
def test_corrupt_newest_checkpoint_falls_back_with_a_warning(tmp_path, capsys, damage):
    checkpoint, weights, first = _two_checkpoints(tmp_path)
    data = next(tmp_path.glob("ckpt-2.data-*"))
    index = tmp_path / "ckpt-2.index"
    if damage == "truncate_data":
        data.write_bytes(data.read_bytes()[:100])
    elif damage == "flip_data_byte":
        raw = bytearray(data.read_bytes())
        raw[500] ^= 0xFF
        data.write_bytes(bytes(raw))
    elif damage == "truncate_index":
        index.write_bytes(index.read_bytes()[:20])
    else:
        index.unlink()
    weights.assign(tf.zeros_like(weights))
    assert checkpoint_io.restore_latest(checkpoint, tmp_path) == str(tmp_path / "ckpt-1")
    np.testing.assert_array_equal(weights.numpy(), first)
    warnings = [line for line in capsys.readouterr().err.splitlines()
                if line.startswith("warning:")]
    assert len(warnings) == 1 and "ckpt-2" in warnings[0] and "previous" in warnings[0]


def test_all_checkpoints_damaged_is_a_user_error_and_a_mismatch_is_a_config_error(tmp_path):
    checkpoint, _, _ = _two_checkpoints(tmp_path)
    for data in tmp_path.glob("ckpt-*.data-*"):
        data.write_bytes(b"")
    with pytest.raises(UserError, match="only damaged ones"):
        checkpoint_io.restore_latest(checkpoint, tmp_path)
    other = tmp_path / "other"
    _two_checkpoints(other)
    wrong = tf.train.Checkpoint(w=tf.Variable(tf.zeros((3, 3))))
    with pytest.raises(ConfigError, match="cannot restore"):
        checkpoint_io.restore_latest(wrong, other)


# --- (c) one process per run dir --------------------------------------------------------------
def test_lock_refuses_a_live_owner_and_takes_over_a_dead_one(tmp_path, capsys):
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    lock = tmp_path / run_lock.LOCK_FILE
    try:
        lock.write_text(json.dumps({"pid": other.pid, "host": socket.gethostname(),
                                    "started": time.time()}))
        with pytest.raises(run_lock.RunLockedError, match=f"pid {other.pid}") as err:
            run_lock.acquire(tmp_path)
        assert str(lock) in str(err.value)
    finally:
        other.kill()
        other.wait()
    path = run_lock.acquire(tmp_path)  # the owner is dead: taken over with a warning
    assert json.loads(path.read_text())["pid"] == os.getpid()
    assert "stale lock" in capsys.readouterr().err
    run_lock.release(path)
    assert not lock.exists()
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere"}))
    with pytest.raises(run_lock.RunLockedError, match="elsewhere"):
        run_lock.acquire(tmp_path)


# --- (a) + (c) kill -9 five times, resume, compare with an uninterrupted run -------------------
def _wait_for(predicate, proc, timeout=240.0, poll=0.005):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        if predicate():
            return True
        time.sleep(poll)
    return False


def test_five_sigkills_then_resume_equal_an_uninterrupted_run(tmp_path):
    rng = random.Random(16)
    killed = tmp_path / "killed"
    ckpt_dir = killed / names.STAGE1_DIR
    kills = []
    second_refused = None
    while len(kills) < 5:
        before = _latest_step(ckpt_dir)
        if before >= STEPS - 1:
            break
        proc = subprocess.Popen(_command(killed), cwd=REPO, env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            # Wait for progress past the restored checkpoint, then kill at a random point.
            started = _wait_for(lambda: _latest_step(ckpt_dir) > before, proc)
            assert started, proc.stderr.read()[-3000:] if proc.poll() is not None else "timeout"
            if second_refused is None:
                second = subprocess.run(_command(killed), cwd=REPO, env=_env(),
                                        capture_output=True, text=True, timeout=240)
                errors = [x for x in second.stderr.splitlines() if x.startswith("error:")]
                second_refused = (second.returncode, errors)
            if not kills:  # aim the first kill at a checkpoint write in progress
                _wait_for(lambda: any("_temp" in p.name for p in ckpt_dir.iterdir()), proc,
                          timeout=20, poll=0.0005)
            else:
                time.sleep(rng.uniform(0.0, 0.6))
            # Only a kill that leaves work to do counts: the resumed run must then take over
            # the dead owner's lock (a kill after the last checkpoint would test nothing).
            if proc.poll() is None and _latest_step(ckpt_dir) < STEPS - 1:
                proc.send_signal(signal.SIGKILL)
                kills.append(sorted(p.name for p in ckpt_dir.iterdir()))
        finally:
            proc.kill()
            proc.wait()
    assert len(kills) == 5, f"the run finished after {len(kills)} kills"
    assert any("_temp" in name for name in kills[0]), kills[0]  # killed mid checkpoint write
    code, errors = second_refused
    assert code == 2 and len(errors) == 1 and run_lock.LOCK_FILE in errors[0], errors
    final = subprocess.run(_command(killed), cwd=REPO, env=_env(), capture_output=True,
                           text=True, timeout=300)
    assert final.returncode == 0, final.stderr[-3000:]
    assert "stale lock" in final.stderr  # the SIGKILLed owner's lock was taken over
    assert _steps(killed) == list(range(1, STEPS + 1))  # every step once, none missing

    reference = tmp_path / "reference"
    cfg = config_io.load_config("tiny", [*OVERRIDES, f"data.demo_dir={tmp_path / 'tiny_data'}"])
    run.train(cfg, 1, str(reference))
    got = _variables(str(ckpt_dir / f"ckpt-{STEPS}"))
    want = _variables(str(reference / names.STAGE1_DIR / f"ckpt-{STEPS}"))
    assert sorted(got) == sorted(want)
    different = [k for k in want if not np.array_equal(got[k], want[k])]
    assert not different, f"{len(different)} variables differ, e.g. {different[:3]}"


# --- (d) disk full ------------------------------------------------------------------------------
FILL_SCRIPT = """
set -u
mount -t tmpfs -o size=1500k tmpfs "$MNT"
cd "$REPO"
"$PY" -m dpig_tf.main --stage=1 --config=tiny --run_dir="$MNT/run" \
    --set=data.demo_dir="$OUT/tiny_data" --set=stage1.train_pose_ae=false --set=stage1.checkpoint_every=2 \
    --set=stage1.log_every=100000 --set=stage1.image_every=0 --set=stage1.steps=100000 \
    --set=stage1.keep_checkpoints=2 >"$OUT/stdout" 2>"$OUT/stderr" &
pid=$!
while [ ! -e "$MNT/run/checkpoints/stage1/checkpoint" ]; do
    kill -0 $pid 2>/dev/null || break
    sleep 0.05
done
dd if=/dev/zero of="$MNT/filler" bs=4k 2>/dev/null
wait $pid
echo $? >"$OUT/rc"
cp -r "$MNT/run" "$OUT/run"
"""


def test_disk_full_stops_with_one_error_and_keeps_the_last_checkpoint(tmp_path):
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) for a private tmpfs")
    probe = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "true"],
                           capture_output=True)
    if probe.returncode != 0:
        pytest.skip("user/mount namespaces are not available here")
    mnt, out = tmp_path / "mnt", tmp_path / "out"
    mnt.mkdir()
    out.mkdir()
    env = dict(_env(), MNT=str(mnt), OUT=str(out), REPO=str(REPO), PY=sys.executable)
    subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "sh", "-c", FILL_SCRIPT],
                   env=env, timeout=300, check=True)
    stderr = (out / "stderr").read_text()
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    assert (out / "rc").read_text().strip() == "2", stderr[-3000:]
    assert "Traceback" not in stderr
    assert len(errors) == 1 and "disk full" in errors[0] and "intact" in errors[0], errors
    ckpt_dir = out / "run" / names.STAGE1_DIR
    latest = tf.train.latest_checkpoint(str(ckpt_dir))
    assert latest is not None
    assert _variables(latest)  # the last complete checkpoint reads back
    step = int(latest.rsplit("-", 1)[-1])
    leftovers = [p.name for p in ckpt_dir.iterdir() if p.name.startswith("ckpt-")
                 and int(p.name.split(".")[0].split("_")[0][5:]) > step]
    assert not leftovers, leftovers  # no partial newer checkpoint files
