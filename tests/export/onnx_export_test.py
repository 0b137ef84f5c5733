"""ONNX export: opset 17, static shapes, onnxruntime parity <= 1e-4."""

import json

import onnx
import pytest

from export import onnx_export
from export.run_loader import ExportError


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
