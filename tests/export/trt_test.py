"""TensorRT: everything up to the GPU boundary here; engines only on a GPU host."""

import numpy as np
import onnx
import pytest

from export import onnx_export
from export import trt
from export import trt_runner
from export.trt_calibration import CalibrationBatches

NO_GPU = bool(trt_runner.missing_gpu_requirements())


@pytest.mark.skipif(not NO_GPU, reason="this machine can build TensorRT engines")
def test_without_gpu_writes_onnx_and_exits_2(run_dir, tmp_path, capsys):
    argv = [f"--run_dir={run_dir}", f"--out={tmp_path}", "--precision=int8",
            "--batch_size=2", "--endpoints=decode", "--num_calibration=4", "--tftrt"]
    assert trt.main(argv) == trt.EXIT_MISSING == 2
    err = capsys.readouterr().err
    missing = trt_runner.missing_gpu_requirements()
    for item in missing:
        assert item in err
    assert "TF-TRT: this TensorFlow" in err  # compiled out of the 2.21 wheels
    assert f"python export/trt.py {' '.join(argv)}" in err
    assert "trtexec --onnx=" in err
    path = onnx_export.onnx_path(tmp_path, "decode", 2)
    assert str(path) in err
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    assert onnx_export.non_static_dims(model) == []
    calib = CalibrationBatches.load(trt.calibration_path(tmp_path, "decode", 2), 2)
    assert sorted(calib.arrays) == ["background", "foreground", "target_keypoints"]
    assert calib.num_batches == 2 and np.isfinite(calib.arrays["foreground"]).all()


def test_missing_requirements_are_named():
    missing = trt_runner.missing_gpu_requirements()
    if NO_GPU:
        assert any("NVIDIA GPU" in m or "tensorrt" in m or "cuda-python" in m for m in missing)
    assert trt.tftrt_available() in (True, False)


@pytest.mark.gpu
@pytest.mark.skipif(NO_GPU, reason="needs a GPU, tensorrt and cuda-python")
@pytest.mark.parametrize("precision", ["fp16", "int8"])
def test_engine_matches_onnxruntime(run_dir, tmp_path, precision):
    argv = [f"--run_dir={run_dir}", f"--out={tmp_path}", f"--precision={precision}",
            "--batch_size=2", "--endpoints=decode,transfer", "--num_calibration=8"]
    assert trt.main(argv) == 0
    for endpoint in ("decode", "transfer"):
        runner = trt_runner.TrtRunner(trt.engine_path(tmp_path, endpoint, 2, precision))
        assert "generated" in runner.outputs
