"""Inference benchmark: latency / throughput per backend, FLOP utilization, video fps.

    python bench/inference.py                       # market + lite, batch 1 and 16
    python bench/inference.py --smoke               # tiny sizes, seconds (checks it runs)

Prints one JSON object. Workload: the `decode` endpoint (codes + target
keypoints -> image: in-graph heatmaps + the U-Net generator, i.e. the
per-frame path of pose-driven video) with random weights (speed does not
depend on their values). Backends: the plain Keras call, tf.function without
and with XLA, the SavedModel signature, LiteRT fp32 / fp16 / int8 (full int8,
synthetic calibration) and onnxruntime, each at a static batch. FLOPs per image
are 2 x the generator's MACs from `dpig_tf.models.factory.model_summary`; the
utilization is relative to the fp32 4096^3 tf.matmul peak measured in the
same run. Video: appearance encoded once, its first-conv contribution cached
as a bias map (export/video_decoder.py), then frames decoded in chunks.

Top-level keys: `lite_video_fps` (best video variant, lite config),
`best_flops_utilization` (market generator, best backend, any batch),
`best_export_speedup_b1` (best exported format - SavedModel, LiteRT, ONNX -
over the plain Keras call at batch 1, best config; per config in `configs`).
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python bench/inference.py`
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import json
import os
import shutil
import tempfile
import time

import numpy as np

from dpig_tf import cli

BACKENDS = ("keras", "tf_function", "tf_function_xla", "saved_model", "litert_fp32",
            "litert_fp16", "litert_int8", "onnxruntime")
REDUCED_PRECISION_BACKENDS = ("litert_fp16", "litert_int8")
EXPORT_BACKENDS = ("saved_model", "litert_fp32", "litert_fp16", "litert_int8", "onnxruntime")


def timed(fn, min_time: float, max_iters: int, warmup: int = 1) -> float:
    """Median seconds per call over repeated calls (after `warmup` calls)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_iters and (time.perf_counter() - start < min_time or len(times) < 3):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_peak(min_time: float, size: int = 4096) -> float:
    """fp32 GFLOP/s of a size^3 tf.matmul (the machine's reference peak)."""
    import tensorflow as tf

    a = tf.random.normal((size, size))
    b = tf.random.normal((size, size))
    mm = tf.function(lambda: tf.matmul(a, b))
    sec = timed(lambda: mm().numpy(), min_time, 50, warmup=2)
    return 2 * size ** 3 / sec / 1e9


def random_inputs(dims, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    kp = np.stack([rng.uniform(0, dims.height - 1, (batch, 18)),
                   rng.uniform(0, dims.width - 1, (batch, 18)),
                   (rng.uniform(size=(batch, 18)) > 0.2)], -1).astype(np.float32)
    out = {"foreground": rng.normal(0, 0.5, (batch, dims.foreground_dim)).astype(np.float32)}
    if dims.has_background:
        out["background"] = rng.normal(0, 0.5, (batch, dims.background_dim)).astype(np.float32)
    out["target_keypoints"] = kp
    return out


def backend_callable(name, model, dims, batch, inputs, tmp: pathlib.Path):
    """A zero-argument callable running one batch on backend `name`."""
    import tensorflow as tf

    from export import signatures
    from export.run_loader import LoadedRun

    fn = signatures.endpoint_function(model, dims, signatures.DECODE)
    specs = list(signatures.endpoint_specs(dims, signatures.DECODE, batch).values())
    tensors = {k: tf.constant(v) for k, v in inputs.items()}
    if name == "keras":
        return lambda: fn(**inputs)["generated"].numpy()
    if name in ("tf_function", "tf_function_xla"):
        f = tf.function(fn, input_signature=specs, jit_compile=name.endswith("xla"))
        return lambda: f(**tensors)["generated"].numpy()
    loaded = LoadedRun(run_dir=tmp, cfg=None, dims=dims, model=model, has_stage2=False)
    if name == "saved_model" or name.startswith("litert"):
        from export.saved_model import build_archive

        sm_dir = tmp / f"sm_b{batch}"
        if not sm_dir.exists():
            build_archive(loaded, [signatures.DECODE], batch_size=batch,
                          serving_default=None).write_out(str(sm_dir), verbose=False)
        if name == "saved_model":
            sig = tf.saved_model.load(str(sm_dir)).signatures[signatures.DECODE]
            return lambda: sig(**tensors)["generated"].numpy()
        from export import tflite_export

        quant = name.split("_", 1)[1]
        calib = _calibration(dims, batch) if quant == "int8" else None
        content = tflite_export.convert(str(sm_dir), signatures.DECODE, quant, calib, batch)
        runner = tflite_export.interpreter(content, num_threads=os.cpu_count() or 2)
        runner = runner.get_signature_runner(signatures.DECODE)
        return lambda: runner(**inputs)["generated"]
    if name == "onnxruntime":
        from export import onnx_export

        path = tmp / f"decode_b{batch}.onnx"
        onnx_export.convert(loaded, signatures.DECODE, batch, path)
        sess = onnx_export.session(path, threads=os.cpu_count() or 2)
        return lambda: sess.run(None, inputs)[0]
    raise ValueError(f"unknown backend {name!r}")


def _calibration(dims, batch: int, count: int = 4) -> dict[str, np.ndarray]:
    """`count` batches of synthetic calibration inputs, concatenated."""
    rows = [random_inputs(dims, batch, seed) for seed in range(count)]
    return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}


def video_fps(model, dims, frames: int, chunk: int, min_time: float,
              tmp: pathlib.Path) -> dict:
    """Frames/s of pose-driven video: one appearance, `frames` poses."""
    import tensorflow as tf

    from export.video_decoder import VideoDecoder

    codes = random_inputs(dims, 1, seed=1)
    poses = random_inputs(dims, frames, seed=2)["target_keypoints"]
    video = VideoDecoder(model)
    bias = video.appearance_bias(codes["foreground"], codes.get("background"))
    out = {}
    for xla in (False, True):
        for size in sorted({1, chunk}):
            step = tf.function(video.frame, jit_compile=xla)
            naive = tf.function(lambda kp: model.decode(
                tf.repeat(codes["foreground"], tf.shape(kp)[0], 0),
                tf.repeat(codes["background"], tf.shape(kp)[0], 0)
                if dims.has_background else None, kp), jit_compile=xla)
            chunks = [tf.constant(poses[i:i + size]) for i in range(0, frames - size + 1, size)]

            def run(f, *args):
                def go():
                    for c in chunks:
                        f(*args, c).numpy()
                return go

            n = len(chunks) * size
            key = f"chunk{size}{'_xla' if xla else ''}"
            out[f"cached_bias_{key}"] = n / timed(run(step, bias), min_time, 20)
            out[f"naive_{key}"] = n / timed(run(naive), min_time, 20)
    for size in sorted({1, chunk}):
        # The cached-bias frame function through onnxruntime (static shapes).
        try:
            sess = _frame_session(video, bias, size, tmp)
        except Exception as err:  # report, keep the other variants
            out[f"cached_bias_chunk{size}_onnxruntime_error"] = str(err).splitlines()[0][:300]
            continue
        feeds = [{"bias": bias.numpy(), "keypoints": poses[i:i + size]}
                 for i in range(0, frames - size + 1, size)]

        def go():
            for f in feeds:
                sess.run(None, f)

        out[f"cached_bias_chunk{size}_onnxruntime"] = len(feeds) * size / timed(go, min_time, 20)
    return out


def _frame_session(video, bias, size: int, tmp: pathlib.Path):
    import tensorflow as tf

    from export import onnx_export

    specs = [tf.TensorSpec(bias.shape, tf.float32, name="in_bias"),
             tf.TensorSpec((size, 18, 3), tf.float32, name="in_keypoints")]
    fn = tf.function(lambda in_bias, in_keypoints: {"frame": video.frame(in_bias, in_keypoints)},
                     input_signature=specs)
    model = onnx_export.function_to_onnx(fn, specs)
    onnx_export.rename_inputs(model, {"in_bias": "bias", "in_keypoints": "keypoints"})
    path = tmp / f"frame_{size}.onnx"
    path.write_bytes(model.SerializeToString())
    return onnx_export.session(path, threads=os.cpu_count() or 2)


def bench_config(name: str, overrides, batch_sizes, backends, args, peak) -> dict:
    import tensorflow as tf

    from dpig_tf.config_io import load_config
    from dpig_tf.models import factory
    from dpig_tf.models.disentangled_generator import DisentangledGenerator
    from export import signatures

    cfg = load_config(name, overrides)
    tf.keras.utils.set_random_seed(0)
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=False)
    dims = signatures.ModelDims.from_config(cfg)
    summary = factory.model_summary(cfg)
    gflop = 2 * summary["gmac_per_image"]["generator"]
    result = {"config": name, "overrides": list(overrides),
              "image": [cfg.data.image_height, cfg.data.image_width],
              "generator_params": summary["params"]["generator"],
              "generator_gflop_per_image": gflop,
              "encoder_gflop_per_image": 2 * summary["gmac_per_image"]["encoder"],
              "backends": {}}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dpig_bench_"))
    try:
        for batch in batch_sizes:
            inputs = random_inputs(dims, batch)
            for backend in backends:
                key = f"{backend}_b{batch}"
                try:
                    call = backend_callable(backend, model, dims, batch, inputs, tmp)
                    sec = timed(call, args.min_time, args.max_iters)
                except Exception as err:  # a backend failing must not hide the others
                    result["backends"][key] = {"error": f"{type(err).__name__}: "
                                                        f"{str(err).splitlines()[0][:300]}"}
                    continue
                ips = batch / sec
                result["backends"][key] = {
                    "backend": backend, "batch": batch, "latency_ms": 1e3 * sec,
                    "images_per_s": ips, "gflop_per_s": ips * gflop,
                    "flops_utilization": ips * gflop / peak}
                print(f"{name} {key}: {1e3 * sec:.2f} ms/batch, {ips:.1f} img/s", file=sys.stderr)
        # Video only for the real-time (lite) setting: the top-level key is lite_video_fps, and
        # the market-size video variants (XLA, chunks) pushed one process past 24 GB RSS.
        if args.video_frames and (name == "lite" or args.smoke):
            result["video_fps"] = video_fps(model, dims, args.video_frames,
                                            max(batch_sizes), args.min_time, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summarize(result)


def summarize(result: dict) -> dict:
    """Adds the per-config summary keys computed from `result["backends"]`."""
    b1 = result["backends"]
    keras = b1.get("keras_b1", {}).get("latency_ms")
    exports = [b1[f"{e}_b1"]["latency_ms"] for e in EXPORT_BACKENDS
               if "latency_ms" in b1.get(f"{e}_b1", {})]
    result["export_speedup_b1"] = keras / min(exports) if keras and exports else None
    # Utilization is against the fp32 matmul peak, so only fp32 backends count for it; the
    # reduced-precision ones (LiteRT fp16 weights, int8) are reported separately.
    fp32 = [v["flops_utilization"] for v in b1.values()
            if "flops_utilization" in v and v["backend"] not in REDUCED_PRECISION_BACKENDS]
    low = [v["flops_utilization"] for v in b1.values()
           if "flops_utilization" in v and v["backend"] in REDUCED_PRECISION_BACKENDS]
    result["best_flops_utilization"] = max(fp32) if fp32 else None
    result["best_fp32_equivalent_utilization_reduced_precision"] = max(low) if low else None
    return result


def bench_config_isolated(key: str, backends, args, peak: float) -> dict:
    """bench_config with every backend (and the video) in its own process.

    One process holding every Market-size converter, interpreter and session grew past
    24 GB RSS; a child per backend frees everything between measurements, and a child that
    dies (e.g. out of memory) costs only its own rows.
    """
    import subprocess

    def child(child_backends, video_frames):
        cmd = [sys.executable, str(pathlib.Path(__file__).resolve()), "--no_isolate",
               f"--configs={key}", f"--backends={','.join(child_backends)}",
               f"--batch_sizes={args.batch_sizes}", f"--min_time={args.min_time}",
               f"--max_iters={args.max_iters}", f"--video_frames={video_frames}",
               f"--peak={peak}"]
        done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
        if done.returncode != 0:
            return None, f"child process exited with {done.returncode}"
        return json.loads(done.stdout)["configs"][key], None

    result = None
    for backend in backends:
        part, error = child([backend], 0)
        if part is None:
            part = {"backends": {f"{backend}_b{b}": {"error": error}
                                 for b in args.batch_sizes.split(",")}}
        if result is None:
            result = part
        else:
            result["backends"].update(part["backends"])
            result.update({k: v for k, v in part.items() if k not in result})
    if args.video_frames and key == "lite":
        part, error = child([], args.video_frames)
        if result is None:
            result = {"backends": {}}
        result["video_fps"] = part["video_fps"] if part else {"error": error}
    return summarize(result or {"backends": {}})


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true",
                        help="tiny configs and timings: check that everything runs")
    parser.add_argument("--configs", default="market,lite",
                        help="which of market, lite to measure (both for the top-level keys)")
    parser.add_argument("--batch_sizes", default="1,16")
    parser.add_argument("--backends", default=",".join(BACKENDS))
    parser.add_argument("--min_time", type=float, default=3.0, help="seconds per measurement")
    parser.add_argument("--max_iters", type=int, default=200)
    parser.add_argument("--video_frames", type=int, default=64)
    parser.add_argument("--out", default="", help="also write the JSON here")
    parser.add_argument("--no_isolate", action="store_true",
                        help="measure every backend in this process (default: one child "
                             "process per backend, see bench_config_isolated)")
    parser.add_argument("--peak", type=float, default=0.0,
                        help="matmul peak in GFLOP/s to use instead of measuring it")
    args = parser.parse_args(argv)
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    backends = [b for b in args.backends.split(",") if b]
    for b in backends:
        if b not in BACKENDS:
            parser.error(f"unknown backend {b!r}; choose from {', '.join(BACKENDS)}")
    if args.smoke:
        configs = {"market": ("tiny", []), "lite": ("tiny", ["model.width_multiplier=0.5"])}
        args.min_time, args.max_iters = 0.05, 5
        batch_sizes = [1, 2]
        args.video_frames = min(args.video_frames, 4)
        peak_size = 512
    else:
        configs = {"market": ("market", []), "lite": ("lite", [])}
        peak_size = 4096
    wanted = [c for c in args.configs.split(",") if c]
    for c in wanted:
        if c not in configs:
            parser.error(f"--configs: unknown {c!r}; choose from market, lite")
    configs = {k: v for k, v in configs.items() if k in wanted}
    peak = args.peak or matmul_peak(args.min_time, peak_size)
    isolate = not (args.no_isolate or args.smoke)
    report = {"machine": {"cpu_count": os.cpu_count(), "matmul_size": peak_size,
                          "matmul_fp32_gflop_per_s": peak},
              "smoke": args.smoke, "workload": "decode endpoint (heatmaps + generator)",
              "configs": {}}
    for key, (name, overrides) in configs.items():
        if isolate:
            report["configs"][key] = bench_config_isolated(key, backends, args, peak)
        else:
            report["configs"][key] = bench_config(name, overrides, batch_sizes, backends, args,
                                                  peak)
    lite_video = report["configs"].get("lite", {}).get("video_fps", {})
    fps = {k: v for k, v in lite_video.items() if isinstance(v, float)}
    report["lite_video_fps"] = max(fps.values()) if fps else None
    report["lite_video_best_variant"] = max(fps, key=fps.get) if fps else None
    report["best_flops_utilization"] = report["configs"].get("market", {}).get(
        "best_flops_utilization")
    speedups = {k: c["export_speedup_b1"] for k, c in report["configs"].items()
                if c.get("export_speedup_b1")}
    report["best_export_speedup_b1"] = max(speedups.values()) if speedups else None
    report["best_export_speedup_b1_config"] = (max(speedups, key=speedups.get)
                                                if speedups else None)
    report["targets"] = {"lite_video_fps": 30, "best_flops_utilization": 0.70,
                         "best_export_speedup_b1": 2}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    cli.run(main)
