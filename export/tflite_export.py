"""LiteRT (.tflite) export with TFLite BUILTIN ops only, and a parity report.

    python export/tflite_export.py --run_dir=RUN --out=DIR \
        [--quantize=fp32,fp16,dynamic_int8,int8] [--endpoints=transfer,decode]

One file per endpoint and quantization, `DIR/dpig_<endpoint>_<quant>.tflite`,
static batch 1. The encoder's ROI crops use the gather implementation (the
`tf.image.crop_and_resize` op is not a TFLite builtin, STACK.md 3.4), and the
conversion goes through a SavedModel written by `keras.export.ExportArchive`
(a plain tf.Module loses the weights, STACK.md 3.3). Full int8 calibrates on
the run's own dataset. Each file is run through
`ai_edge_litert.interpreter.Interpreter` and compared with the Keras model
(crop_and_resize); `DIR/tflite_report.json` records sizes, op lists and
errors. fp32 must be within 1e-4 or the script fails.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/tflite_export.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import json
import shutil
import tempfile

import numpy as np

from dpig_tf import cli
from export import representative_data
from export import run_loader
from export import signatures
from export.run_loader import ExportError
from export.run_loader import LoadedRun
from export.run_loader import load_run
from export.run_loader import set_crop_method

QUANTIZATIONS = ("fp32", "fp16", "dynamic_int8", "int8")
DEFAULT_ENDPOINTS = (signatures.TRANSFER, signatures.DECODE)
FP32_TOLERANCE = 1e-4
REPORT_FILE = "tflite_report.json"


def convert(saved_model_dir: str, endpoint: str, quantization: str,
            representative: dict[str, np.ndarray] | None = None,
            batch_size: int = 1) -> bytes:
    """One endpoint of a SavedModel -> .tflite bytes, BUILTIN ops only.

    `representative` holds calibration examples (first axis), fed in batches of
    the signature's static `batch_size`.
    """
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(saved_model_dir, signature_keys=[endpoint])
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantization == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantization == "dynamic_int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantization == "int8":
        if representative is None:
            raise ValueError("int8 needs representative data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # int8 kernels where they exist, float builtins elsewhere; float I/O.
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        n = len(next(iter(representative.values()))) // batch_size

        def dataset():
            for i in range(n):  # dicts keyed by input name (STACK.md 3.3)
                yield {k: v[i * batch_size:(i + 1) * batch_size]
                       for k, v in representative.items()}

        converter.representative_dataset = dataset
    elif quantization != "fp32":
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    return converter.convert()


def interpreter(model_content: bytes, num_threads: int = 2):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_content, num_threads=num_threads)
    interp.allocate_tensors()
    return interp


def op_names(interp) -> list[str]:
    """Sorted distinct op names of a loaded model."""
    return sorted({d["op_name"] for d in interp._get_ops_details()} - {"DELEGATE"})


def run_signature(interp, endpoint: str, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return interp.get_signature_runner(endpoint)(**inputs)


def export_tflite(run_dir: str, out: str, quantizations=QUANTIZATIONS,
                  endpoints=DEFAULT_ENDPOINTS, num_calibration: int = 32,
                  num_parity: int = 4, loaded: LoadedRun | None = None) -> dict:
    """Writes the .tflite files and the report; returns the report."""
    for q in quantizations:
        if q not in QUANTIZATIONS:
            raise ExportError(f"--quantize: unknown {q!r}; choose from {', '.join(QUANTIZATIONS)}")
    for e in endpoints:
        if e not in DEFAULT_ENDPOINTS + (signatures.ENCODE,):
            raise ExportError(f"--endpoints: {e!r} cannot be exported to LiteRT "
                              f"(choose from transfer, encode, decode)")
    from export.saved_model import build_archive

    loaded = loaded or load_run(run_dir, crop_method="gather")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    examples = representative_data.dataset_examples(loaded.cfg, max(num_calibration, num_parity))
    report = {"run_dir": str(run_dir), "fp32_tolerance": FP32_TOLERANCE,
              "parity_examples": num_parity, "calibration_examples": num_calibration,
              "models": {}}
    failures = []
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dpig_tflite_"))
    try:
        for endpoint in endpoints:
            arrays = representative_data.endpoint_arrays(loaded.model, loaded.dims, endpoint,
                                                         examples)
            # Reference: the Keras model with the training crop (tf.image.crop_and_resize).
            set_crop_method(loaded.model, "tf")
            fn = signatures.endpoint_function(loaded.model, loaded.dims, endpoint)
            parity_in = representative_data.rows(arrays, 0, num_parity)
            reference = [fn(**representative_data.rows(parity_in, i, 1)) for i in range(num_parity)]
            set_crop_method(loaded.model, "gather")
            sm_dir = tmp / endpoint
            build_archive(loaded, [endpoint], batch_size=1, serving_default=None).write_out(
                str(sm_dir), verbose=False)
            calib = representative_data.rows(arrays, 0, num_calibration)
            for quant in quantizations:
                content = convert(str(sm_dir), endpoint, quant, calib)
                path = out / f"dpig_{endpoint}_{quant}.tflite"
                path.write_bytes(content)
                interp = interpreter(content)
                ops = op_names(interp)
                errors = {}
                for i in range(num_parity):
                    got = run_signature(interp, endpoint, representative_data.rows(parity_in, i, 1))
                    for name, ref in reference[i].items():
                        d = np.abs(np.asarray(got[name]) - np.asarray(ref))
                        e = errors.setdefault(name, {"max_abs": 0.0, "sum_abs": 0.0, "n": 0})
                        e["max_abs"] = max(e["max_abs"], float(d.max()))
                        e["sum_abs"] += float(d.sum())
                        e["n"] += d.size
                errors = {k: {"max_abs": v["max_abs"], "mean_abs": v["sum_abs"] / v["n"]}
                          for k, v in errors.items()}
                non_builtin = [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
                max_abs = max(v["max_abs"] for v in errors.values())
                report["models"][path.name] = {
                    "endpoint": endpoint, "quantization": quant,
                    "bytes": len(content), "ops": ops, "errors_vs_keras": errors,
                    "max_abs_error": max_abs}
                if non_builtin:
                    failures.append(f"{path.name}: non-builtin ops {non_builtin}")
                if quant == "fp32" and not max_abs <= FP32_TOLERANCE:
                    failures.append(f"{path.name}: fp32 max abs error {max_abs:.3g} "
                                    f"> {FP32_TOLERANCE}")
    finally:
        set_crop_method(loaded.model, "tf")
        shutil.rmtree(tmp, ignore_errors=True)
    report["failures"] = failures
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    if failures:
        raise ExportError("LiteRT export failed its checks: " + "; ".join(failures))
    return report


def _csv(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_loader.add_model_arguments(parser)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quantize", default=",".join(QUANTIZATIONS),
                        help=f"comma list of {', '.join(QUANTIZATIONS)}")
    parser.add_argument("--endpoints", default=",".join(DEFAULT_ENDPOINTS))
    parser.add_argument("--num_calibration", type=int, default=32)
    args = parser.parse_args(argv)
    report = export_tflite(args.run_dir, args.out, _csv(args.quantize), _csv(args.endpoints),
                           args.num_calibration)
    for name, entry in report["models"].items():
        print(f"{name}: {entry['bytes'] / 1e6:.2f} MB, max |diff| vs Keras "
              f"{entry['max_abs_error']:.3g}, {len(entry['ops'])} op types")
    print(f"report: {pathlib.Path(args.out) / REPORT_FILE}")
    return 0


if __name__ == "__main__":
    cli.run(main)
