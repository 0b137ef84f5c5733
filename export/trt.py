"""TensorRT engines from the static-shape ONNX export (GPU host only).

    python export/trt.py --run_dir=RUN --out=DIR [--precision=fp16|int8] \
        [--batch_size=1] [--endpoints=transfer,decode] [--tftrt]

Steps: (1) write `DIR/dpig_<endpoint>_b<N>.onnx` with export/onnx_export.py
(opset 17, static shapes, checked with onnxruntime); (2) for int8, write the
calibration examples `DIR/calibration_<endpoint>_b<N>.npz` from the run's
dataset; (3) build `DIR/dpig_<endpoint>_b<N>_<precision>.engine` with the
TensorRT Python API (Builder, OnnxParser, IInt8EntropyCalibrator2) and check
it against onnxruntime with export/trt_runner.py.

TF-TRT is compiled out of the TensorFlow 2.21 wheels (STACK.md 4.1); `--tftrt`
converts a SavedModel only where `tf.sysconfig.get_build_info()` reports a
TensorRT build. On a machine without a GPU, TensorRT or cuda-python, steps 1
and 2 still run; then the script prints exactly what is missing and the
command to run on a GPU host, and exits with code 2.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/trt.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import json
import shlex

import numpy as np

from dpig_tf import cli
from export import onnx_export
from export import representative_data
from export import run_loader
from export import signatures
from export import trt_runner
from export.run_loader import ExportError
from export.run_loader import load_run
from export.trt_calibration import CalibrationBatches

PRECISIONS = ("fp32", "fp16", "int8")
EXIT_MISSING = 2
WORKSPACE_BYTES = 2 << 30
REPORT_FILE = "trt_report.json"


def engine_path(out: pathlib.Path, endpoint: str, batch_size: int, precision: str):
    return pathlib.Path(out) / f"dpig_{endpoint}_b{batch_size}_{precision}.engine"


def calibration_path(out: pathlib.Path, endpoint: str, batch_size: int):
    return pathlib.Path(out) / f"calibration_{endpoint}_b{batch_size}.npz"


def tftrt_available() -> bool:
    import tensorflow as tf

    return bool(tf.sysconfig.get_build_info().get("is_tensorrt_build", False))


def build_engine(onnx_file: pathlib.Path, precision: str,
                 calibration: CalibrationBatches | None = None,
                 cache_file: pathlib.Path | None = None) -> bytes:
    """Parses the ONNX file and builds a serialized engine (GPU host only)."""
    import tensorrt as trt

    from export.trt_calibration import make_entropy_calibrator

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):  # TensorRT < 10
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(pathlib.Path(onnx_file).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise ExportError(f"{onnx_file}: TensorRT could not parse the ONNX: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, WORKSPACE_BYTES)
    if precision in ("fp16", "int8") and builder.platform_has_fast_fp16:
        config.set_flag(trt.BuilderFlag.FP16)  # int8 layers fall back to fp16, not fp32
    if precision == "int8":
        if calibration is None:
            raise ExportError("int8 needs calibration data")
        config.set_flag(trt.BuilderFlag.INT8)
        config.int8_calibrator = make_entropy_calibrator(calibration, cache_file)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise ExportError(f"{onnx_file}: TensorRT engine build failed (see the log above)")
    return bytes(serialized)


def missing_message(missing: list[str], argv: list[str], onnx_files: list[pathlib.Path]) -> str:
    lines = ["TensorRT engine not built: this machine lacks"]
    lines += [f"  - {m}" for m in missing]
    lines += ["The ONNX it would use is written and checked:"]
    lines += [f"  {p}" for p in onnx_files]
    lines += ["On a GPU host with TensorRT >= 8.6 and cuda-python installed, run:",
              "  " + " ".join(["python", "export/trt.py"] + [shlex.quote(a) for a in argv]),
              "or build from the ONNX alone with trtexec, e.g.:",
              f"  trtexec --onnx={onnx_files[0]} --saveEngine="
              f"{onnx_files[0].with_suffix('.engine')} --fp16"]
    return "\n".join(lines)


def run(args, argv: list[str]) -> int:
    if args.precision not in PRECISIONS:
        raise ExportError(f"--precision must be one of {PRECISIONS}, got {args.precision!r}")
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    loaded = load_run(args.run_dir, crop_method="gather")
    report = onnx_export.export_onnx(args.run_dir, str(out), [args.batch_size],
                                     args.endpoints, loaded=loaded)
    onnx_files = [onnx_export.onnx_path(out, e, args.batch_size) for e in args.endpoints]
    examples = representative_data.dataset_examples(
        loaded.cfg, max(args.num_calibration, args.batch_size))
    arrays = {e: representative_data.endpoint_arrays(loaded.model, loaded.dims, e, examples)
              for e in args.endpoints}
    calibrations = {}
    if args.precision == "int8":
        for endpoint in args.endpoints:
            shapes = {k: tuple(s.shape) for k, s in
                      signatures.endpoint_specs(loaded.dims, endpoint, args.batch_size).items()}
            batches = CalibrationBatches(arrays[endpoint], args.batch_size, input_shapes=shapes)
            batches.save(calibration_path(out, endpoint, args.batch_size))
            calibrations[endpoint] = batches
    missing = trt_runner.missing_gpu_requirements()
    if args.tftrt and not tftrt_available():
        import tensorflow as tf

        missing.append(f"TF-TRT: this TensorFlow {tf.__version__} is not a TensorRT build "
                       f"(tf.sysconfig.get_build_info()['is_tensorrt_build'] is False; "
                       f"TF-TRT is compiled out of the pip wheels since 2.18, STACK.md 4.1)")
    if missing:
        print(missing_message(missing, argv, onnx_files), file=sys.stderr)
        return EXIT_MISSING

    results = {}
    for endpoint, onnx_file in zip(args.endpoints, onnx_files):
        path = engine_path(out, endpoint, args.batch_size, args.precision)
        path.write_bytes(build_engine(onnx_file, args.precision, calibrations.get(endpoint),
                                      out / f"{path.stem}.calib_cache"))
        inputs = representative_data.rows(arrays[endpoint], 0, args.batch_size)
        got = trt_runner.TrtRunner(path)(**inputs)
        sess = onnx_export.session(onnx_file)
        ref = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, inputs)))
        results[path.name] = {k: float(np.abs(got[k] - ref[k]).max()) for k in ref}
        print(f"{path}: max |diff| vs onnxruntime {results[path.name]}")
    if args.tftrt:
        results["tftrt"] = str(convert_tftrt(args, out))
    (out / REPORT_FILE).write_text(json.dumps({"onnx": report, "engines": results}, indent=2))
    return 0


def convert_tftrt(args, out: pathlib.Path) -> pathlib.Path:
    """A TF-TRT converted SavedModel (only on a TensorRT build of TensorFlow)."""
    from tensorflow.python.compiler.tensorrt import trt_convert as tftrt

    from export.saved_model import export_saved_model

    source = export_saved_model(args.run_dir, str(out / "tftrt_source"), overwrite=True)
    precision = {"fp32": tftrt.TrtPrecisionMode.FP32, "fp16": tftrt.TrtPrecisionMode.FP16,
                 "int8": tftrt.TrtPrecisionMode.INT8}[args.precision]
    converter = tftrt.TrtGraphConverterV2(input_saved_model_dir=str(source),
                                          precision_mode=precision)
    converter.convert()
    target = out / "tftrt" / "1"
    converter.save(str(target))
    return target


def main(argv=None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_loader.add_model_arguments(parser)
    parser.add_argument("--out", required=True)
    parser.add_argument("--precision", default="fp16", choices=PRECISIONS)
    parser.add_argument("--batch_size", type=int, default=1)
    parser.add_argument("--endpoints", default="transfer,decode",
                        type=lambda v: [e.strip() for e in v.split(",") if e.strip()])
    parser.add_argument("--num_calibration", type=int, default=64)
    parser.add_argument("--tftrt", action="store_true",
                        help="also write a TF-TRT converted SavedModel (TensorRT builds of TF)")
    args = parser.parse_args(argv)
    return run(args, argv)


if __name__ == "__main__":
    cli.run(main)
