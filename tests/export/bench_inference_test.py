"""bench/inference.py runs end to end with tiny settings and prints the keys."""

import json
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.large
def test_smoke_run_prints_the_json(tmp_path):
    res = subprocess.run([sys.executable, "bench/inference.py", "--smoke",
                          "--backends=keras,tf_function,onnxruntime", "--video_frames=2",
                          f"--out={tmp_path / 'bench.json'}"],
                         cwd=REPO, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads(res.stdout)
    assert report == json.loads((tmp_path / "bench.json").read_text())
    for key in ("lite_video_fps", "best_flops_utilization", "best_export_speedup_b1"):
        assert report[key] > 0
    market = report["configs"]["market"]
    assert market["generator_gflop_per_image"] > 0
    assert {"keras_b1", "tf_function_b2", "onnxruntime_b1"} <= set(market["backends"])
    assert "cached_bias_chunk2_onnxruntime" in report["configs"]["lite"]["video_fps"]


@pytest.mark.large
def test_isolated_run_merges_one_child_per_backend(tmp_path):
    # The default (non-smoke) mode measures every backend in its own process.
    res = subprocess.run([sys.executable, "bench/inference.py", "--configs=lite",
                          "--backends=keras,saved_model", "--batch_sizes=1", "--min_time=0.2",
                          "--video_frames=2", f"--out={tmp_path / 'bench.json'}"],
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    report = json.loads((tmp_path / "bench.json").read_text())
    lite = report["configs"]["lite"]
    assert set(lite["backends"]) == {"keras_b1", "saved_model_b1"}
    assert all("latency_ms" in v for v in lite["backends"].values())
    assert report["lite_video_fps"] > 0 and report["best_export_speedup_b1"] > 0
