"""LiteRT (.tflite) export with TFLite BUILTIN ops only, and a parity report.

    python export/tflite_export.py --run_dir=RUN --out=DIR \
        [--quantize=fp32,fp16,dynamic_int8,int8,int8_mixed] \
        [--endpoints=transfer,decode]

One file per endpoint and quantization, `DIR/dpig_<endpoint>_<quant>.tflite`,
static batch 1. `int8` quantizes every op it can (weights per channel); the
in-graph keypoint -> heatmap arithmetic then breaks (docs/EXPORT.md, "Faithful
int8"). `int8_mixed` keeps that arithmetic and the sensitive layers
(`MIXED_FLOAT_LAYERS`) in float and quantizes the rest to int8. The encoder's ROI crops use the gather implementation (the
`tf.image.crop_and_resize` op is not a TFLite builtin, STACK.md 3.4), and the
conversion goes through a SavedModel written by `keras.export.ExportArchive`
(a plain tf.Module loses the weights, STACK.md 3.3). Full int8 calibrates on
the run's own dataset. Each file is run through
`ai_edge_litert.interpreter.Interpreter` and compared with the Keras model
(crop_and_resize); `DIR/tflite_report.json` records sizes, op lists and
errors. fp32 must be within 1e-4 or the script fails. Each file's quality
(PSNR/SSIM against the Keras model on the run's TEST split, export/quality.py)
and batch-1 latency go into `DIR/variants.json` (export/variants.py); a file
below the faithful bar gets a `warning:` line on stderr.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/tflite_export.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import functools
import json
import shutil
import tempfile

import numpy as np

from dpig_tf import cli
from export import quality
from export import representative_data
from export import run_loader
from export import signatures
from export import variants
from export.run_loader import ExportError
from export.run_loader import LoadedRun
from export.run_loader import load_run
from export.run_loader import set_crop_method

QUANTIZATIONS = ("fp32", "fp16", "dynamic_int8", "int8", "int8_mixed")
# int8_mixed: layers kept in float (besides every op outside the networks, i.e. the
# in-graph keypoint/heatmap/ROI-box arithmetic). Found by `export/int8_layers.py`
# (docs/EXPORT.md, "Faithful int8").
MIXED_FLOAT_LAYERS = ("conv_in", "fc_bottleneck", "fc_expand", "conv_out")
# Top-level network scopes of the traced endpoint functions (tensor name prefixes).
NETWORK_SCOPES = ("generator", "encoder")
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
    elif quantization in ("int8", "int8_mixed"):
        if representative is None:
            raise ValueError(f"{quantization} needs representative data")
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        # int8 kernels where they exist, float builtins elsewhere; float I/O. Conv/FC
        # weights are quantized per output channel (the default).
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                               tf.lite.OpsSet.TFLITE_BUILTINS]
        converter.representative_dataset = lambda: batches(representative, batch_size)
        if quantization == "int8_mixed":
            return convert_mixed(converter, MIXED_FLOAT_LAYERS)
    elif quantization != "fp32":
        raise ValueError(f"quantization must be one of {QUANTIZATIONS}, got {quantization!r}")
    return converter.convert()


def batches(arrays: dict[str, np.ndarray], batch_size: int):
    """Calibration batches as dicts keyed by input name (STACK.md 3.3)."""
    n = len(next(iter(arrays.values()))) // batch_size
    for i in range(n):
        yield {k: v[i * batch_size:(i + 1) * batch_size] for k, v in arrays.items()}


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


def calibrated_model(converter) -> bytes:
    """The float model with calibration statistics (what the quantizer consumes)."""
    converter.experimental_new_quantizer = True
    converter._experimental_calibrate_only = True  # as tf.lite's QuantizationDebugger does
    return converter.convert()


def quantize_calibrated(calibrated: bytes, denylisted_nodes=()) -> bytes:
    """Quantizes a calibrated model to int8 (weights per channel, float I/O), keeping
    the ops of `denylisted_nodes` (output tensor names) in float."""
    from tensorflow.lite.python import convert as lite_convert

    return lite_convert.mlir_quantize(calibrated, denylisted_nodes=list(denylisted_nodes) or None)


def float_nodes(model_content: bytes, float_layers=MIXED_FLOAT_LAYERS) -> list[str]:
    """Output tensor names to keep in float: every op outside the networks (the in-graph
    keypoint, heatmap, mask and ROI-box arithmetic) and the ops of `float_layers`."""
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_content=model_content)  # op list only: no allocation
    tensors = {t["index"]: t["name"] for t in interp.get_tensor_details()}
    keep = []
    for op in interp._get_ops_details():
        if op["op_name"] in ("QUANTIZE", "DEQUANTIZE"):
            continue
        for index in op["outputs"]:
            name = tensors.get(index, "")
            scopes = [part.split("/")[0] for part in name.split(";")]
            inside = any(s.startswith(NETWORK_SCOPES) for s in scopes)
            sensitive = any(f"/{layer}_" in name or f"/{layer}/" in name
                            for layer in float_layers)
            if not inside or sensitive:
                keep.append(name)
    return keep


def convert_mixed(converter, float_layers=MIXED_FLOAT_LAYERS) -> bytes:
    """int8 conversion with `float_nodes(float_layers)` kept in float."""
    calibrated = calibrated_model(converter)
    keep = float_nodes(quantize_calibrated(calibrated), float_layers)
    return quantize_calibrated(calibrated, keep)


def export_tflite(run_dir: str, out: str, quantizations=QUANTIZATIONS,
                  endpoints=DEFAULT_ENDPOINTS, num_calibration: int = 32,
                  num_parity: int = 8, loaded: LoadedRun | None = None,
                  latency_time: float = 1.0) -> dict:
    """Writes the .tflite files, the report and variants.json; returns the report.

    Calibration uses `num_calibration` train-split examples; parity and quality are
    measured on `num_parity` test-split examples (the images a user would generate).
    """
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
    train = representative_data.dataset_examples(loaded.cfg, num_calibration)
    test = representative_data.dataset_examples(loaded.cfg, num_parity, split="test")
    report = {"run_dir": str(run_dir), "fp32_tolerance": FP32_TOLERANCE,
              "parity_examples": num_parity, "parity_split": "test",
              "calibration_examples": num_calibration, "calibration_split": "train",
              "models": {}}
    failures = []
    measured = []
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dpig_tflite_"))
    try:
        for endpoint in endpoints:
            calib = representative_data.endpoint_arrays(loaded.model, loaded.dims, endpoint,
                                                        train)
            parity_in = representative_data.endpoint_arrays(loaded.model, loaded.dims,
                                                            endpoint, test)
            # Reference: the Keras model with the training crop (tf.image.crop_and_resize).
            set_crop_method(loaded.model, "tf")
            fn = signatures.endpoint_function(loaded.model, loaded.dims, endpoint)
            reference = [fn(**representative_data.rows(parity_in, i, 1)) for i in range(num_parity)]
            reference = {k: np.concatenate([np.asarray(r[k]) for r in reference])
                         for k in reference[0]}
            set_crop_method(loaded.model, "gather")
            sm_dir = tmp / endpoint
            build_archive(loaded, [endpoint], batch_size=1, serving_default=None).write_out(
                str(sm_dir), verbose=False)
            for quant in quantizations:
                content = convert(str(sm_dir), endpoint, quant, calib)
                path = out / f"dpig_{endpoint}_{quant}.tflite"
                path.write_bytes(content)
                interp = interpreter(content)
                ops = op_names(interp)
                runner = interp.get_signature_runner(endpoint)
                got = [runner(**representative_data.rows(parity_in, i, 1))
                       for i in range(num_parity)]
                got = {k: np.concatenate([np.asarray(g[k]) for g in got]) for k in reference}
                errors = {k: {"max_abs": float(np.abs(got[k] - v).max()),
                              "mean_abs": float(np.abs(got[k] - v).mean())}
                          for k, v in reference.items()}
                non_builtin = [o for o in ops if o.startswith("Flex") or o == "CUSTOM"]
                max_abs = max(v["max_abs"] for v in errors.values())
                entry = {"endpoint": endpoint, "quantization": quant,
                         "bytes": len(content), "ops": ops, "errors_vs_keras": errors,
                         "max_abs_error": max_abs}
                if signatures.OUTPUT_IMAGE in reference:
                    q = quality.compare(reference[signatures.OUTPUT_IMAGE],
                                        got[signatures.OUTPUT_IMAGE])
                    one = representative_data.rows(parity_in, 0, 1)
                    sec = variants.median_latency(functools.partial(runner, **one), latency_time)
                    entry["quality_vs_keras"] = q.as_dict()
                    entry["latency_ms_b1"] = 1e3 * sec
                    measured.append(variants.Variant.measured(
                        path.name, endpoint, "litert", quant, 1, 1e3 * sec, q))
                report["models"][path.name] = entry
                if non_builtin:
                    failures.append(f"{path.name}: non-builtin ops {non_builtin}")
                if quant == "fp32" and not max_abs <= FP32_TOLERANCE:
                    failures.append(f"{path.name}: fp32 max abs error {max_abs:.3g} "
                                    f"> {FP32_TOLERANCE}")
                del interp, runner
    finally:
        set_crop_method(loaded.model, "tf")
        shutil.rmtree(tmp, ignore_errors=True)
    report["failures"] = failures
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    if failures:
        raise ExportError("LiteRT export failed its checks: " + "; ".join(failures))
    if measured:
        variants.record(out, loaded.dims, measured)
    return report


def warn_unfaithful(report: dict, out: pathlib.Path) -> list[str]:
    """One `warning:` line per written model below the faithful bar."""
    lines = []
    for name, entry in report["models"].items():
        q = entry.get("quality_vs_keras")
        if q and not q["faithful"]:
            q = {k: v for k, v in q.items() if k != "faithful"}
            lines.append(quality.warning_line(str(out / name), quality.Quality(**q)))
    return lines


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
    parser.add_argument("--num_parity", type=int, default=8,
                        help="test-split examples for parity, PSNR and SSIM")
    args = parser.parse_args(argv)
    report = export_tflite(args.run_dir, args.out, _csv(args.quantize), _csv(args.endpoints),
                           args.num_calibration, args.num_parity)
    for name, entry in report["models"].items():
        q = entry.get("quality_vs_keras")
        extra = (f", {quality.Quality(**{k: v for k, v in q.items() if k != 'faithful'}).summary()}"
                 f", {entry['latency_ms_b1']:.1f} ms, {'faithful' if q['faithful'] else 'NOT faithful'}"
                 if q else "")
        print(f"{name}: {entry['bytes'] / 1e6:.2f} MB, max |diff| vs Keras "
              f"{entry['max_abs_error']:.3g}, {len(entry['ops'])} op types{extra}")
    for line in warn_unfaithful(report, pathlib.Path(args.out)):
        print(line, file=sys.stderr)
    print(f"report: {pathlib.Path(args.out) / REPORT_FILE}")
    print(f"variants: {pathlib.Path(args.out) / variants.VARIANTS_FILE}")
    return 0


if __name__ == "__main__":
    cli.run(main)
