"""ONNX export (tf2onnx, opset 17, static shapes) with onnxruntime parity.

    python export/onnx_export.py --run_dir=RUN --out=DIR [--batch_sizes=1,16] \
        [--endpoints=transfer,decode]

One file per endpoint and batch size, `DIR/dpig_<endpoint>_b<N>.onnx`. Every
shape is static (TensorRT needs no optimization profile then, STACK.md 4.4):
`onnx.shape_inference.infer_shapes(strict_mode=True)` must leave 0 non-static
dims. The ROI crops use the gather implementation (no CropAndResize). Each
file is checked against the Keras model (crop_and_resize) with onnxruntime;
max |diff| must be <= 1e-4. `DIR/onnx_report.json` has op types and errors.
onnx, tf2onnx and onnxruntime are imported lazily.

Memory: tf2onnx as is needs > 24 GB RSS for one Market-size conversion (the
generator's 71 M parameters); `export/onnx_memory.py` works around the two
causes (protobuf arenas that grow with every optimizer pass, and grappler's
copies of the weights): one Market-size `transfer` conversion at batch 16
peaks at ~7.5 GB, the whole default export (4 files + parity) at ~8.3 GB,
and the memory is handed back after each file.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/onnx_export.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import argparse
import json

import numpy as np

from dpig_tf import cli
from export import representative_data
from export import run_loader
from export import signatures
from export.run_loader import ExportError
from export.run_loader import LoadedRun
from export.run_loader import load_run
from export.run_loader import set_crop_method

OPSET = 17
DEFAULT_ENDPOINTS = (signatures.TRANSFER, signatures.DECODE)
DEFAULT_BATCH_SIZES = (1, 16)
TOLERANCE = 1e-4
REPORT_FILE = "onnx_report.json"


def onnx_path(out: pathlib.Path, endpoint: str, batch_size: int) -> pathlib.Path:
    return pathlib.Path(out) / f"dpig_{endpoint}_b{batch_size}.onnx"


def convert(loaded: LoadedRun, endpoint: str, batch_size: int, path: pathlib.Path) -> None:
    """Writes one endpoint at a static batch to `path` (gather crops)."""
    import onnx
    import tensorflow as tf

    from export import onnx_memory

    specs = signatures.endpoint_specs(loaded.dims, endpoint, batch_size)
    # tf2onnx loses a graph input whose name equals an inner op name (e.g. the
    # encoder's "image" input): trace with prefixed names, rename afterwards.
    traced = [tf.TensorSpec(s.shape, s.dtype, name=_TRACE_PREFIX + k) for k, s in specs.items()]
    fn = tf.function(signatures.endpoint_function(loaded.model, loaded.dims, endpoint),
                     input_signature=traced)
    model = function_to_onnx(fn, traced)
    rename_inputs(model, {_TRACE_PREFIX + k: k for k in specs})
    onnx.save(model, str(path))
    del model, fn
    onnx_memory.release_memory()


_TRACE_PREFIX = "input_"


def function_to_onnx(fn, input_signature):
    """tf2onnx of a tf.function at OPSET, with tf2onnx's memory kept bounded (onnx_memory)."""
    import tf2onnx

    from export import onnx_memory

    with onnx_memory.fresh_node_protos(), onnx_memory.lean_freezing():
        model, _ = tf2onnx.convert.from_function(fn, input_signature=input_signature,
                                                 opset=OPSET)
    return model


def rename_inputs(model, mapping: dict[str, str]) -> None:
    """Renames graph inputs (and their uses) of an ONNX model in place."""
    g = model.graph
    taken = set(mapping.values()) - {o.name for o in g.output}
    inner = {o: o + "__inner" for n in g.node for o in n.output if o in taken}
    _rename_uses(g, inner)
    for node in g.node:
        for i, name in enumerate(node.output):
            if name in inner:
                node.output[i] = inner[name]
    for info in g.value_info:
        if info.name in inner:
            info.name = inner[info.name]
    for inp in g.input:
        if inp.name in mapping:
            inp.name = mapping[inp.name]
    _rename_uses(g, mapping)


def _rename_uses(graph, mapping: dict[str, str]) -> None:
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in mapping:
                node.input[i] = mapping[name]
    for out in graph.output:
        if out.name in mapping:
            out.name = mapping[out.name]


def non_static_dims(model) -> list[str]:
    """Tensors whose shape is not fully static after strict shape inference."""
    import onnx

    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    g = inferred.graph
    bad = []
    for info in list(g.input) + list(g.output) + list(g.value_info):
        t = info.type.tensor_type
        if not t.HasField("shape"):
            bad.append(f"{info.name}: unknown rank")
            continue
        for i, d in enumerate(t.shape.dim):
            if not d.HasField("dim_value"):
                bad.append(f"{info.name}[{i}]={d.dim_param or '?'}")
    return bad


def session(path: pathlib.Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def export_onnx(run_dir: str, out: str, batch_sizes=DEFAULT_BATCH_SIZES,
                endpoints=DEFAULT_ENDPOINTS, loaded: LoadedRun | None = None) -> dict:
    """Writes the ONNX files and the report; returns the report."""
    import onnx

    from export import onnx_memory

    for e in endpoints:
        if e not in (signatures.TRANSFER, signatures.ENCODE, signatures.DECODE):
            raise ExportError(f"--endpoints: {e!r} cannot be exported to ONNX "
                              f"(choose from transfer, encode, decode)")
    if any(b < 1 for b in batch_sizes):
        raise ExportError(f"--batch_sizes must be >= 1, got {list(batch_sizes)}")
    loaded = loaded or load_run(run_dir, crop_method="gather")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    examples = representative_data.dataset_examples(loaded.cfg, max(batch_sizes))
    report = {"run_dir": str(run_dir), "opset": OPSET, "tolerance": TOLERANCE, "models": {}}
    failures = []
    try:
        for endpoint in endpoints:
            arrays = representative_data.endpoint_arrays(loaded.model, loaded.dims, endpoint,
                                                         examples)
            for b in batch_sizes:
                inputs = representative_data.rows(arrays, 0, b)
                set_crop_method(loaded.model, "tf")  # the Keras reference
                fn = signatures.endpoint_function(loaded.model, loaded.dims, endpoint)
                reference = {k: np.asarray(v) for k, v in fn(**inputs).items()}
                set_crop_method(loaded.model, "gather")
                path = onnx_path(out, endpoint, b)
                convert(loaded, endpoint, b, path)
                model = onnx.load(str(path))
                onnx.checker.check_model(model)
                dynamic = non_static_dims(model)
                sess = session(path)
                names = [o.name for o in sess.get_outputs()]
                got = dict(zip(names, sess.run(names, inputs)))
                errors = {k: float(np.abs(got[k] - reference[k]).max()) for k in reference}
                max_abs = max(errors.values())
                report["models"][path.name] = {
                    "endpoint": endpoint, "batch_size": b, "bytes": path.stat().st_size,
                    "op_types": sorted({n.op_type for n in model.graph.node}),
                    "non_static_dims": len(dynamic),
                    "inputs": {i.name: list(i.shape) for i in sess.get_inputs()},
                    "max_abs_error_vs_keras": errors, "max_abs_error": max_abs}
                if dynamic:
                    failures.append(f"{path.name}: non-static dims {dynamic[:5]}")
                if not max_abs <= TOLERANCE:
                    failures.append(f"{path.name}: max abs error {max_abs:.3g} > {TOLERANCE}")
                del model, sess, got, reference
                onnx_memory.release_memory()
    finally:
        set_crop_method(loaded.model, "tf")
    report["failures"] = failures
    (out / REPORT_FILE).write_text(json.dumps(report, indent=2))
    if failures:
        raise ExportError("ONNX export failed its checks: " + "; ".join(failures))
    return report


def csv_ints(value: str) -> list[int]:
    try:
        return [int(v) for v in value.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}")


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_loader.add_model_arguments(parser)
    parser.add_argument("--out", required=True)
    parser.add_argument("--batch_sizes", type=csv_ints, default=list(DEFAULT_BATCH_SIZES))
    parser.add_argument("--endpoints", default=",".join(DEFAULT_ENDPOINTS))
    args = parser.parse_args(argv)
    endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    report = export_onnx(args.run_dir, args.out, args.batch_sizes, endpoints)
    for name, entry in report["models"].items():
        print(f"{name}: max |diff| vs Keras {entry['max_abs_error']:.3g}, "
              f"{entry['non_static_dims']} non-static dims, ops {','.join(entry['op_types'])}")
    print(f"report: {pathlib.Path(args.out) / REPORT_FILE}")
    return 0


if __name__ == "__main__":
    cli.run(main)
