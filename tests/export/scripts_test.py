"""The export scripts run as `python export/<script>.py` from the repository root
(STYLE 2.1), and no export module imports dpig_tf.training."""

import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPTS = ("saved_model", "tflite_export", "onnx_export", "trt", "client", "int8_layers")
MODULES = SCRIPTS + ("signatures", "run_loader", "representative_data", "trt_calibration",
                     "trt_runner", "quality", "variants")


def test_trt_script_help_from_repo_root():
    res = subprocess.run([sys.executable, "export/trt.py", "--help"], cwd=REPO,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "--run_dir" in res.stdout and "--precision" in res.stdout


@pytest.mark.large
@pytest.mark.parametrize("script", [s for s in SCRIPTS if s != "trt"])
def test_script_help_from_any_directory(script, tmp_path):
    res = subprocess.run([sys.executable, str(REPO / "export" / f"{script}.py"), "--help"],
                         cwd=tmp_path, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_export_never_imports_training():
    code = ("import sys\n"
            + "".join(f"import export.{m}\n" for m in MODULES)
            # what the export modules import lazily, when loading a run:
            + "import dpig_tf.models.disentangled_generator, dpig_tf.data.pipeline\n"
            + "bad = sorted(m for m in sys.modules if m.startswith('dpig_tf.training'))\n"
            + "print('TRAINING_MODULES', bad)\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert "TRAINING_MODULES []" in res.stdout
