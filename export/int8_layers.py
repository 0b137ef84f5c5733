"""Which layers break full-int8 LiteRT: per-layer error and a float-layer ablation.

    python export/int8_layers.py --run_dir=RUN --out=DIR [--endpoint=decode] \
        [--num_calibration=32] [--num_test=8]

Two measurements on one calibrated model (train-split calibration, test-split
evaluation, the fp32 Keras model as reference):

1. Per layer, from `tf.lite.experimental.QuantizationDebugger`: each quantized
   op's output compared with the float op on the same float input (no error
   accumulation), as RMSE over the op's quantization scale (~0.29 is pure
   rounding; larger means the range does not fit int8). `DIR/int8_layers.csv`
   has the debugger's full dump.
2. Ablation: the endpoint's output quality (export/quality.py) when groups of
   ops are kept in float: none (full int8), the in-graph keypoint/heatmap
   arithmetic, then that plus each sensitive layer, plus all of
   `tflite_export.MIXED_FLOAT_LAYERS` (the shipped `int8_mixed`).

Prints a table; `DIR/int8_layers.json` has both.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/int8_layers.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import argparse
import io
import json
import shutil
import tempfile

import numpy as np

from export import quality
from export import representative_data
from export import run_loader
from export import signatures
from export import tflite_export
from export.run_loader import ExportError
from export.run_loader import load_run
from export.run_loader import set_crop_method

RESULT_FILE = "int8_layers.json"
CSV_FILE = "int8_layers.csv"


def layer_statistics(sm_dir: str, endpoint: str, calib: dict[str, np.ndarray],
                     test: dict[str, np.ndarray]) -> tuple[list[dict], str]:
    """The QuantizationDebugger's per-layer statistics on `test` (worst first) and its CSV."""
    import tensorflow as tf

    float_model = tf.lite.TFLiteConverter.from_saved_model(
        sm_dir, signature_keys=[endpoint]).convert()
    names = [d["name"] for d in tflite_export.interpreter(float_model).get_input_details()]
    keys = sorted(test, key=len, reverse=True)  # target_keypoints before keypoints
    order = [next(k for k in keys if k in n) for n in names]
    converter = _int8_converter(sm_dir, endpoint, calib)

    def listed():  # the debugger feeds lists in input order (a dict fails inside it)
        for b in tflite_export.batches(test, 1):
            yield [b[k] for k in order]

    debugger = tf.lite.experimental.QuantizationDebugger(converter=converter,
                                                         debug_dataset=listed)
    debugger.run()
    text = io.StringIO()
    debugger.layer_statistics_dump(text)
    rows = []
    lines = text.getvalue().strip().splitlines()
    header = lines[0].split(",")
    for line in lines[1:]:
        row = dict(zip(header, line.split(",", len(header) - 1)))
        scale = float(row["scale"])
        rmse = float(row["mean_squared_error"]) ** 0.5
        rows.append({"op": row["op_name"], "tensor": row["tensor_name"],
                     "rmse_over_scale": rmse / scale if scale else 0.0,
                     "max_abs_error": float(row["max_abs_error"]), "scale": scale})
    return sorted(rows, key=lambda r: -r["rmse_over_scale"]), text.getvalue()


def _int8_converter(sm_dir: str, endpoint: str, calib: dict[str, np.ndarray]):
    import tensorflow as tf

    converter = tf.lite.TFLiteConverter.from_saved_model(sm_dir, signature_keys=[endpoint])
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                                           tf.lite.OpsSet.TFLITE_BUILTINS]
    converter.representative_dataset = lambda: tflite_export.batches(calib, 1)
    return converter


def ablation(sm_dir: str, endpoint: str, calib, test, reference) -> dict[str, dict]:
    """Output quality with each group of ops kept in float (one calibration)."""
    calibrated = tflite_export.calibrated_model(_int8_converter(sm_dir, endpoint, calib))
    full = tflite_export.quantize_calibrated(calibrated)
    layers = tflite_export.MIXED_FLOAT_LAYERS
    groups = {"full int8 (nothing float)": None,
              "keypoint/heatmap arithmetic float": ()}
    for layer in layers:
        groups[f"arithmetic + {layer} float"] = (layer,)
    groups[f"arithmetic + {', '.join(layers)} float (int8_mixed)"] = layers
    out = {}
    for label, float_layers in groups.items():
        keep = [] if float_layers is None else tflite_export.float_nodes(full, float_layers)
        content = tflite_export.quantize_calibrated(calibrated, keep)
        runner = tflite_export.interpreter(content).get_signature_runner(endpoint)
        n = len(next(iter(test.values())))
        got = np.concatenate([runner(**representative_data.rows(test, i, 1))[
            signatures.OUTPUT_IMAGE] for i in range(n)])
        q = quality.compare(reference, got)
        out[label] = {**q.as_dict(), "float_ops": len(keep)}
        print(f"{label:60s} {q.summary()}{'' if q.faithful else '  NOT faithful'}")
    return out


def analyse(run_dir: str, out: str, endpoint: str = signatures.DECODE,
            num_calibration: int = 32, num_test: int = 8) -> dict:
    from export.saved_model import build_archive

    loaded = load_run(run_dir, crop_method="gather")
    out = pathlib.Path(out)
    out.mkdir(parents=True, exist_ok=True)
    calib = representative_data.endpoint_arrays(
        loaded.model, loaded.dims, endpoint,
        representative_data.dataset_examples(loaded.cfg, num_calibration))
    test = representative_data.endpoint_arrays(
        loaded.model, loaded.dims, endpoint,
        representative_data.dataset_examples(loaded.cfg, num_test, split="test"))
    set_crop_method(loaded.model, "tf")
    fn = signatures.endpoint_function(loaded.model, loaded.dims, endpoint)
    reference = np.asarray(fn(**test)[signatures.OUTPUT_IMAGE])
    set_crop_method(loaded.model, "gather")
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dpig_int8_layers_"))
    try:
        sm_dir = str(tmp / endpoint)
        build_archive(loaded, [endpoint], batch_size=1, serving_default=None).write_out(
            sm_dir, verbose=False)
        stats, dump = layer_statistics(sm_dir, endpoint, calib, test)
        (out / CSV_FILE).write_text(dump)
        print("worst layers (RMSE / quantization scale; ~0.29 is rounding only):")
        for row in stats[:15]:
            print(f"  {row['rmse_over_scale']:8.2f}  {row['op']:16s} {row['tensor'][:90]}")
        result = {"run_dir": str(run_dir), "endpoint": endpoint,
                  "calibration_examples": num_calibration, "test_examples": num_test,
                  "worst_layers": stats[:30], "ablation": ablation(
                      sm_dir, endpoint, calib, test, reference)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    (out / RESULT_FILE).write_text(json.dumps(result, indent=2))
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_loader.add_model_arguments(parser)
    parser.add_argument("--out", required=True)
    parser.add_argument("--endpoint", default=signatures.DECODE,
                        choices=(signatures.DECODE, signatures.TRANSFER))
    parser.add_argument("--num_calibration", type=int, default=32)
    parser.add_argument("--num_test", type=int, default=8)
    args = parser.parse_args(argv)
    try:
        analyse(args.run_dir, args.out, args.endpoint, args.num_calibration, args.num_test)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"results: {pathlib.Path(args.out) / RESULT_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
