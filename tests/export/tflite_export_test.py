"""LiteRT export: BUILTIN ops only, fp32 parity <= 1e-4, quantized errors reported."""

import json

import pytest

from export import tflite_export
from export.run_loader import ExportError


def _check(report, out, quantizations, endpoints):
    saved = json.loads((out / tflite_export.REPORT_FILE).read_text())
    assert saved["failures"] == [] and sorted(saved["models"]) == sorted(report["models"])
    for endpoint in endpoints:
        for q in quantizations:
            name = f"dpig_{endpoint}_{q}.tflite"
            entry = report["models"][name]
            assert (out / name).stat().st_size == entry["bytes"]
            assert not [o for o in entry["ops"] if o.startswith("Flex") or o == "CUSTOM"]
            assert "CONV_2D" in entry["ops"]
            if q == "fp32":
                assert entry["max_abs_error"] <= 1e-4
            else:
                assert 0 < entry["max_abs_error"] < 5  # reported, random weights
    return saved


def test_fp32_and_int8(run_dir, loaded, tmp_path):
    report = tflite_export.export_tflite(str(run_dir), str(tmp_path), ["fp32", "int8"],
                                         ["transfer"], num_calibration=8, num_parity=2,
                                         loaded=loaded)
    saved = _check(report, tmp_path, ["fp32", "int8"], ["transfer"])
    entry = saved["models"]["dpig_transfer_int8.tflite"]
    assert "QUANTIZE" in entry["ops"] and "GATHER" in entry["ops"]  # the gather RoiCrop
    assert "CROP_AND_RESIZE" not in " ".join(entry["ops"])
    # The interpreter takes dicts keyed by input name (STACK.md 3.3).
    interp = tflite_export.interpreter((tmp_path / "dpig_transfer_fp32.tflite").read_bytes())
    runner = interp.get_signature_runner("transfer")
    assert sorted(runner.get_input_details()) == ["image", "keypoints", "target_keypoints"]


@pytest.mark.large
def test_every_quantization_and_endpoint(run_dir, loaded, tmp_path):
    report = tflite_export.export_tflite(str(run_dir), str(tmp_path), loaded=loaded,
                                         num_calibration=8, num_parity=2)
    _check(report, tmp_path, tflite_export.QUANTIZATIONS, tflite_export.DEFAULT_ENDPOINTS)


def test_bad_options(run_dir, tmp_path):
    with pytest.raises(ExportError, match="unknown 'int4'"):
        tflite_export.export_tflite(str(run_dir), str(tmp_path), ["int4"])
    with pytest.raises(ExportError, match="'sample' cannot be exported to LiteRT"):
        tflite_export.export_tflite(str(run_dir), str(tmp_path), ["fp32"], ["sample"])
    with pytest.raises(ExportError):  # the command prints it as one line, exit 2 (dpig_tf.cli)
        tflite_export.main([f"--run_dir={tmp_path}", f"--out={tmp_path}"])
