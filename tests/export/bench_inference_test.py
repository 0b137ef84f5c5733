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
    for key in ("lite_video_fps", "best_faithful_flops_utilization", "best_faithful_speedup_b1",
                "best_flops_utilization", "best_export_speedup_b1_any_quality"):
        assert report[key] > 0
    market = report["configs"]["market"]
    assert market["generator_gflop_per_image"] > 0 and market["weights"].startswith("random")
    assert {"keras_b1", "tf_function_b2", "onnxruntime_b1"} <= set(market["backends"])
    for row in market["backends"].values():  # quality next to every speed
        assert {"psnr_db", "ssim", "mean_abs_error", "max_abs_error", "faithful"} <= set(row)
    assert market["backends"]["onnxruntime_b1"]["faithful"]
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
    assert report["lite_video_fps"] > 0 and report["best_faithful_speedup_b1"] > 0


def _row(backend, batch, latency, faithful, util=0.5):
    return {"backend": backend, "batch": batch, "latency_ms": latency, "images_per_s": 1,
            "flops_utilization": util, "psnr_db": 40.0 if faithful else 20.0,
            "ssim": 0.99 if faithful else 0.6, "faithful": faithful}


def test_faithful_keys_count_faithful_rows_only():
    sys.path.insert(0, str(REPO))
    from bench import inference

    result = {"backends": {
        "keras_b1": _row("keras", 1, 100.0, True, 0.3),
        "tf_function_b1": _row("tf_function", 1, 50.0, True, 0.6),
        "litert_int8_b1": _row("litert_int8", 1, 10.0, False, 2.0),
        "tf_function_bf16_b16": _row("tf_function_bf16", 16, 500.0, False, 0.9),
        "onnxruntime_b1": {"error": "child process exited with -9"}},
        "video_fps": {"naive_chunk1": {"fps": 50.0, "faithful": True},
                      "cached_bias_chunk1_bf16": {"fps": 120.0, "faithful": False}}}
    out = inference.summarize(result)
    assert out["faithful_speedup_b1"] == 2.0 and out["faithful_speedup_b1_backend"] == "tf_function"
    assert out["export_speedup_b1_any_quality"] == 10.0  # the broken int8 row, kept as raw
    assert out["best_faithful_flops_utilization"] == 0.6
    assert out["best_flops_utilization"] == 0.9
    assert out["video_fps_faithful"] == 50.0 and out["video_fps_any_quality"] == 120.0


def test_bf16_rows_need_bf16_hardware():
    sys.path.insert(0, str(REPO))
    from bench import inference

    features = inference.cpu_features()
    assert set(inference.BF16_CPU_FLAGS) <= set(features)
    assert not inference.has_bf16_hardware({"amx_bf16": False, "avx512_bf16": False})
    assert inference.has_bf16_hardware({"amx_bf16": False, "avx512_bf16": True})
