"""ONNX export: opset 17, static shapes, onnxruntime parity <= 1e-4."""

import json
import pathlib
import subprocess
import sys

import onnx
import pytest

from export import onnx_export
from export.run_loader import ExportError

REPO = pathlib.Path(__file__).resolve().parents[2]
MARKET_PEAK_RSS_GB = 12.0


@pytest.mark.parametrize("endpoints,batch_sizes", [
    (["transfer"], [2]),
    pytest.param(["transfer", "decode"], [1, 16], marks=pytest.mark.large)])
def test_static_onnx_parity(run_dir, loaded, tmp_path, endpoints, batch_sizes):
    report = onnx_export.export_onnx(str(run_dir), str(tmp_path), batch_sizes, endpoints,
                                     loaded=loaded)
    saved = json.loads((tmp_path / onnx_export.REPORT_FILE).read_text())
    assert saved["failures"] == []
    for endpoint in endpoints:
        for b in batch_sizes:
            path = onnx_export.onnx_path(tmp_path, endpoint, b)
            model = onnx.load(str(path))
            onnx.checker.check_model(model)
            assert model.opset_import[0].version == 17
            assert onnx_export.non_static_dims(model) == []
            entry = report["models"][path.name]
            assert entry["max_abs_error"] <= 1e-4 and entry["non_static_dims"] == 0
            assert "CropAndResize" not in entry["op_types"]
            names = [i.name for i in model.graph.input]
            assert names == list(entry["inputs"])
            assert all(dims[0] == b for dims in entry["inputs"].values())
    if "decode" in endpoints:
        assert report["models"]["dpig_decode_b1.onnx"]["inputs"] == {
            "foreground": [1, 28], "background": [1, 8], "target_keypoints": [1, 18, 3]}


def test_non_static_dims_are_detected(tmp_path):
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["batch", 3])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)
    graph = onnx.helper.make_graph([onnx.helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    assert onnx_export.non_static_dims(model) == ["x[0]=batch", "y[0]=batch"]


def test_bad_options(run_dir, tmp_path):
    with pytest.raises(ExportError, match="'sample' cannot be exported to ONNX"):
        onnx_export.export_onnx(str(run_dir), str(tmp_path), [1], ["sample"])
    with pytest.raises(ExportError, match="--batch_sizes must be >= 1"):
        onnx_export.export_onnx(str(run_dir), str(tmp_path), [0])


def build_market_run_dir(run_dir: pathlib.Path) -> pathlib.Path:
    """Untrained configs/market.yaml networks (generator 71.2 M, encoder 47.4 M
    parameters) on a small demo dataset rendered at Market's 128x64."""
    from dpig_tf.config_io import load_config
    from dpig_tf.testing.run_dirs import write_untrained_run

    paths = [f"data.{p}{k}=" for p in ("", "test_") for k in ("images", "annotations", "pairs")]
    cfg = load_config("market", ["data.dataset=demo", f"data.demo_dir={run_dir.parent / 'data'}",
                                 "data.demo_num_ids=6", "data.demo_images_per_id=4", *paths])
    return write_untrained_run(cfg, run_dir, stage2=False)


@pytest.mark.large
def test_market_size_export_parity_and_peak_memory(tmp_path):
    # The CLI in a child of a child, so that RUSAGE_CHILDREN is its own peak RSS.
    run_dir = build_market_run_dir(tmp_path / "run")
    out = tmp_path / "onnx"
    peak = ("import resource, subprocess, sys\n"
            "done = subprocess.run(sys.argv[1:])\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
            "sys.exit(done.returncode)\n")
    res = subprocess.run([sys.executable, "-c", peak, sys.executable, "export/onnx_export.py",
                          f"--run_dir={run_dir}", f"--out={out}"],
                         cwd=REPO, capture_output=True, text=True, timeout=3600)
    assert res.returncode == 0, res.stderr[-3000:]
    peak_gb = int(res.stdout.split()[-1]) * 1024 / 1e9  # ru_maxrss is in KiB on Linux
    report = json.loads((out / onnx_export.REPORT_FILE).read_text())
    assert report["failures"] == []
    assert set(report["models"]) == {f"dpig_{e}_b{b}.onnx" for e in ("transfer", "decode")
                                     for b in (1, 16)}
    for name, entry in report["models"].items():
        assert entry["max_abs_error"] <= 1e-4, name
        assert entry["non_static_dims"] == 0, name
    # ~475 MB of fp32 weights in transfer, ~285 MB in decode.
    assert report["models"]["dpig_transfer_b1.onnx"]["bytes"] > 400e6
    assert peak_gb < MARKET_PEAK_RSS_GB, f"peak RSS {peak_gb:.2f} GB"
