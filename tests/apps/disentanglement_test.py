"""Disentanglement of the foreground and background codes.

Fast: the encoder-side split is exact (SPEC 2.1 step 2): the foreground code
cannot react to pixels beyond the stem's receptive field outside the pose mask,
the background code to pixels that far inside; checked on untrained networks,
because it is a property of the architecture, not of training.
Short (1000 demo steps, default suite) and large (the full demo schedule, ~12 min):
after Stage-I training on the demo data, swapping the foreground code changes pixels
inside the mask more than outside (far more after the full schedule), and swapping the
background code the reverse (the pixel-level ratios of `disentanglement.measure`, on
64 test images).
Slow (10 min measured under `bazel test` on 2 shared cores): the short test trains 1000 demo
steps.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from dpig_tf import config_io
from dpig_tf.apps import disentanglement
from dpig_tf.models.disentangled_generator import DisentangledGenerator


def _compact_people(n, h, w, seed=0):
    """Keypoints of small people in the image centre: a thick mask with room around it."""
    rng = np.random.default_rng(seed)
    kp = np.zeros((n, 18, 3), np.float32)
    rows = np.array([8, 12, 12, 18, 24, 12, 18, 24, 26, 36, 46, 26, 36, 46, 7, 7, 8, 8], float)
    cols = np.array([16, 16, 12, 10, 9, 20, 22, 23, 13, 13, 13, 19, 19, 19, 15, 17, 14, 18],
                    float)
    for i in range(n):
        kp[i, :, 0] = rows + rng.integers(-2, 3)
        kp[i, :, 1] = cols * w / 32 + rng.integers(-2, 3)
        kp[i, :, 2] = 1
    return rng.uniform(-1, 1, (n, h, w, 3)).astype(np.float32), kp


def test_encoder_codes_do_not_see_the_other_region():
    cfg = config_io.load_config("tiny", ["data.image_height=64", "data.image_width=32",
                                         "data.mask_radius=4"])
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=False)
    images, kp = _compact_people(3, 64, 32)
    leak = disentanglement.encoder_leakage(model, images, kp)
    assert leak["far_outside_fraction"] > 0.2 and leak["far_inside_fraction"] > 0.02
    assert leak["fg_change_from_far_outside"] == 0.0
    assert leak["bg_change_from_far_inside"] == 0.0
    # Control: each code does react to its own region.
    assert leak["fg_change_from_inside"] > 0.05
    assert leak["bg_change_from_outside"] > 0.05


def test_measure_reports_both_ratios(tiny_run, tiny_images):
    from dpig_tf.apps import common

    images, annotations, names = tiny_images
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, 32, 16)
    img, kp = real.batch(names)
    out = disentanglement.measure(model, img, kp)
    for key in ("fg_ratio", "bg_ratio", "fg_change_inside", "bg_change_outside"):
        assert np.isfinite(out[key]) and out[key] > 0
    assert 0 < out["mask_fraction"] < 1 and out["num_images"] == len(names)


def test_cli_mode_writes_the_ratios(tiny_run, tmp_path):
    # No --images: the run's test split is used (rendered into ./tiny_data on demand).
    repo = pathlib.Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-m", "dpig_tf.main", "--mode=disentanglement",
         f"--run_dir={tiny_run}", "--num=6", f"--out={tmp_path / 'out'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(repo)})
    assert result.returncode == 0, result.stderr[-2000:]
    written = json.loads((tmp_path / "out" / "disentanglement.json").read_text())
    assert written["num_images"] == 6 and np.isfinite(written["fg_ratio"])
    assert written["encoder"]["fg_change_from_far_outside"] == 0.0
    assert json.loads(result.stdout[result.stdout.index("{"):])["bg_ratio"] == written["bg_ratio"]


def _train_demo(tmp_path, monkeypatch, overrides=()):
    from dpig_tf.training import run

    monkeypatch.chdir(tmp_path)  # the demo data is rendered into ./demo_data
    cfg = config_io.load_config("demo", ["runtime.progress_bar=false", *overrides])
    run_dir = run.train(cfg, 1, run_dir=str(tmp_path / "run"))
    evals = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").open()]
    return run_dir, [r["sample_l1"] for r in evals if r["phase"] == "stage1_eval"]


def _ratios(run_dir, tmp_path):
    from dpig_tf.apps.options import AppOptions

    return disentanglement.run(AppOptions(run_dir=run_dir, out=str(tmp_path / "dis"), num=64))


SHORT_STEPS = 1000


def test_short_demo_run_keeps_both_codes_in_use(tmp_path, monkeypatch):
    """1000 reconstruction steps of the demo config: both codes own their region.

    The code-swap aid is on from step 750 (ramping in), the window in which it can make
    G drop a code: ramped in from step 0 at weights 2-3 it left the background code
    unused by step 500-1000 (bg ratio 0.5-1.2). Random weights give 0.85-1.13 and the
    early entangled demo configs fg 1.19-1.25; the demo config measured fg 1.79 / bg 2.31
    at step 1000 (1.80 / 2.08 at 750). The far larger separation of the full schedule
    (3.3 / 4.9) is checked by the large test below.
    """
    steps = SHORT_STEPS
    run_dir, _ = _train_demo(tmp_path, monkeypatch, [
        f"stage1.steps={steps}", f"stage1.adversarial_warmup_steps={steps}",
        "stage1.pose_ae_steps=50", f"stage1.checkpoint_every={steps}",
        f"stage1.image_every={steps}"])
    out = _ratios(run_dir, tmp_path)
    assert out["fg_ratio"] > 1.4, out
    assert out["bg_ratio"] > 1.5, out
    assert out["encoder"]["fg_change_from_far_outside"] == 0.0


@pytest.mark.large
def test_demo_stage1_run_is_disentangled(tmp_path, monkeypatch):
    """The demo schedule (configs/demo.yaml, ~13 min) reconstructs and is disentangled.

    Thresholds fg 2.8, bg 3.5: the paper's loss never got past 2.12 on the demo data
    (fg 1.93 / bg 2.12 after 3000 steps, 2.09 / 2.07 after 5000), a generator ignoring the
    split gives ~1, the weaker weight-1 aid ended at 2.68-2.75 / 3.97-4.01, and the demo
    config measured 3.33 / 4.93 after 3000 steps (2.92 / 4.16 from step 2000 on;
    docs/APPLICATIONS.md). Reconstruction: the sample-batch L1 must end below 0.26, well
    under the 0.30 of predicting each image's mean colour.
    """
    run_dir, l1 = _train_demo(tmp_path, monkeypatch)
    assert l1[-1] < 0.26, l1
    out = _ratios(run_dir, tmp_path)
    assert out["fg_ratio"] > 2.8, out
    assert out["bg_ratio"] > 3.5, out
    assert out["encoder"]["fg_change_from_far_outside"] == 0.0
