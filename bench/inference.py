"""Inference benchmark: latency / throughput per backend, FLOP utilization, video fps.

    python bench/inference.py                       # market + lite, batch 1 and 16
    python bench/inference.py --smoke               # tiny sizes, seconds (checks it runs)
    python bench/inference.py --run_dir=runs/demo   # a trained run: quality on its test split

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

Quality next to speed: every row's output is compared with the fp32 Keras
model's on the same inputs (export/quality.py: PSNR, SSIM, mean/max abs error);
with `--run_dir` the inputs are real test-split examples of that trained run
(codes from its encoder), otherwise random codes and poses on random weights
(labelled `"weights": "random"`: a smoke/proxy figure, not a trained model's).
A row is `faithful` at PSNR >= 35 dB and SSIM >= 0.98.

bf16 rows (`*_bf16`: the model under Keras `mixed_bfloat16`, fp32 weights cast
to bf16) run only where the CPU has avx512_bf16 or amx_bf16 (read from
/proc/cpuinfo at run time; otherwise the rows say why they were skipped); their
utilization is relative to a bf16 4096^3 tf.matmul peak of the same run.

Top-level keys (faithful rows only): `lite_video_fps` (best faithful video
variant, lite config), `best_faithful_flops_utilization` (market generator, best
faithful fp32/bf16 row against its own precision's peak), `best_faithful_speedup_b1`
(best faithful row over the plain fp32 Keras call at batch 1, best config). Raw
figures, whatever the quality: `lite_video_fps_any_quality`,
`best_flops_utilization`, `best_export_speedup_b1_any_quality`.
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
            "litert_fp16", "litert_dynamic_int8", "litert_int8", "litert_int8_mixed",
            "onnxruntime", "keras_bf16", "tf_function_bf16", "tf_function_xla_bf16")
# Integer kernels: their GFLOP/s exceed the fp32 peak, so they are reported apart.
INT8_BACKENDS = ("litert_dynamic_int8", "litert_int8", "litert_int8_mixed")
REDUCED_PRECISION_BACKENDS = ("litert_fp16",) + INT8_BACKENDS
BF16_BACKENDS = ("keras_bf16", "tf_function_bf16", "tf_function_xla_bf16")
EXPORT_BACKENDS = ("saved_model", "litert_fp32", "litert_fp16", "litert_dynamic_int8",
                   "litert_int8", "litert_int8_mixed", "onnxruntime")
BF16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")


def cpu_features() -> dict[str, bool]:
    """The CPU flags that decide the bf16/int8 paths, read at run time (Linux)."""
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    flags = set()
    for line in text.splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    return {f: f in flags for f in ("amx_bf16", "amx_int8", "amx_tile", "avx512_bf16",
                                    "avx512_vnni", "avx512f")}


def has_bf16_hardware(features: dict[str, bool]) -> bool:
    return any(features.get(f) for f in BF16_CPU_FLAGS)


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


def matmul_peak(min_time: float, size: int = 4096, dtype: str = "float32") -> float:
    """GFLOP/s of a size^3 tf.matmul in `dtype` (the machine's reference peak)."""
    import tensorflow as tf

    a = tf.cast(tf.random.normal((size, size)), dtype)
    b = tf.cast(tf.random.normal((size, size)), dtype)
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


def bf16_copy(model, cfg):
    """The same networks built under `mixed_bfloat16` (bf16 compute, fp32 weights), with
    `model`'s weights."""
    import keras

    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        copy = DisentangledGenerator.from_config_object(cfg, crop_method="gather",
                                                        with_mapping=False)
    finally:
        keras.mixed_precision.set_global_policy(previous)
    source = {v.path: v for v in model.weights}
    for v in copy.weights:
        v.assign(source[v.path])
    return copy


def backend_runner(name, model, dims, batch, tmp: pathlib.Path, calib=None, cfg=None):
    """A callable running one batch (dict of numpy inputs) on backend `name` -> image."""
    import tensorflow as tf

    from export import signatures
    from export.run_loader import LoadedRun

    if name in BF16_BACKENDS:
        model = bf16_copy(model, cfg)
        name = name[:-len("_bf16")]
    fn = signatures.endpoint_function(model, dims, signatures.DECODE)
    specs = list(signatures.endpoint_specs(dims, signatures.DECODE, batch).values())
    const = lambda x: {k: tf.constant(v) for k, v in x.items()}  # noqa: E731
    if name == "keras":
        return lambda x: np.asarray(fn(**x)["generated"], np.float32)
    if name in ("tf_function", "tf_function_xla"):
        f = tf.function(fn, input_signature=specs, jit_compile=name.endswith("xla"))
        return lambda x: f(**const(x))["generated"].numpy().astype(np.float32)
    loaded = LoadedRun(run_dir=tmp, cfg=None, dims=dims, model=model, has_stage2=False)
    if name == "saved_model" or name.startswith("litert"):
        from export.saved_model import build_archive

        sm_dir = tmp / f"sm_b{batch}"
        if not sm_dir.exists():
            build_archive(loaded, [signatures.DECODE], batch_size=batch,
                          serving_default=None).write_out(str(sm_dir), verbose=False)
        if name == "saved_model":
            sig = tf.saved_model.load(str(sm_dir)).signatures[signatures.DECODE]
            return lambda x: sig(**const(x))["generated"].numpy()
        from export import tflite_export

        quant = name.split("_", 1)[1]
        content = tflite_export.convert(str(sm_dir), signatures.DECODE, quant,
                                        calib if "int8" in quant else None, batch)
        runner = tflite_export.interpreter(content, num_threads=os.cpu_count() or 2)
        runner = runner.get_signature_runner(signatures.DECODE)
        return lambda x: runner(**x)["generated"]
    if name == "onnxruntime":
        from export import onnx_export

        path = tmp / f"decode_b{batch}.onnx"
        onnx_export.convert(loaded, signatures.DECODE, batch, path)
        sess = onnx_export.session(path, threads=os.cpu_count() or 2)
        return lambda x: sess.run(None, x)[0]
    raise ValueError(f"unknown backend {name!r}")


def batched(run, inputs: dict[str, np.ndarray], batch: int) -> np.ndarray:
    """`run` over `inputs` in static batches of `batch` (len a multiple of batch)."""
    n = len(next(iter(inputs.values())))
    return np.concatenate([run({k: v[i:i + batch] for k, v in inputs.items()})
                           for i in range(0, n, batch)])


def quality_inputs(model, dims, cfg, count: int, trained: bool) -> dict[str, np.ndarray]:
    """`count` decode inputs: real test-split examples of a trained run (codes from its
    encoder), or random codes and poses."""
    if not trained:
        return random_inputs(dims, count, seed=7)
    from export import representative_data
    from export import signatures

    examples = representative_data.dataset_examples(cfg, count, split="test")
    return representative_data.endpoint_arrays(model, dims, signatures.DECODE, examples)


def fit_rows(inputs: dict[str, np.ndarray], batch: int) -> dict[str, np.ndarray]:
    """Repeats rows so that the count is a positive multiple of `batch`."""
    n = len(next(iter(inputs.values())))
    want = max(batch, -(-n // batch) * batch)
    idx = np.arange(want) % n
    return {k: v[idx] for k, v in inputs.items()}


def calibration(model, dims, cfg, batch: int, trained: bool,
                count: int = 32) -> dict[str, np.ndarray]:
    """Calibration inputs for int8: `count` train-split examples of a trained run, else
    synthetic ones (whole batches)."""
    count = max(batch, count // batch * batch)
    if not trained:
        rows = [random_inputs(dims, batch, seed) for seed in range(count // batch)]
        return {k: np.concatenate([r[k] for r in rows]) for k in rows[0]}
    from export import representative_data
    from export import signatures

    examples = representative_data.dataset_examples(cfg, count, split="train")
    return representative_data.endpoint_arrays(model, dims, signatures.DECODE, examples)


def video_fps(model, dims, frames: int, chunk: int, min_time: float,
              tmp: pathlib.Path, codes=None, poses=None, bf16_model=None) -> dict:
    """Frames/s and quality of pose-driven video: one appearance, `frames` poses.

    Each variant's frames are compared with the fp32 naive decode (export/quality.py);
    `fps` counts every variant, `faithful` says which may be reported as a video speed.
    """
    import tensorflow as tf

    from export import quality
    from export.video_decoder import VideoDecoder

    codes = codes or random_inputs(dims, 1, seed=1)
    if poses is None:
        poses = random_inputs(dims, frames, seed=2)["target_keypoints"]
    frames = len(poses)

    def repeat(x, kp):
        return tf.repeat(x, tf.shape(kp)[0], 0)

    def naive_fn(m):
        return lambda kp: m.decode(repeat(codes["foreground"], kp),
                                   repeat(codes["background"], kp) if dims.has_background
                                   else None, kp)

    reference = np.concatenate([np.asarray(naive_fn(model)(poses[i:i + 1]), np.float32)
                                for i in range(frames)])
    out = {}

    def measure(key, f, size, *args):
        chunks = [tf.constant(poses[i:i + size]) for i in range(0, frames - size + 1, size)]
        got = np.concatenate([np.asarray(f(*args, c), np.float32) for c in chunks])
        q = quality.compare(reference[:len(got)], got)

        def go():
            for c in chunks:
                f(*args, c).numpy()

        out[key] = {"fps": len(chunks) * size / timed(go, min_time, 20), **q.as_dict()}

    variants = [("", model)] + ([("_bf16", bf16_model)] if bf16_model is not None else [])
    for suffix, m in variants:
        video = VideoDecoder(m)
        bias = video.appearance_bias(codes["foreground"], codes.get("background"))
        for xla in (False, True):
            for size in sorted({1, chunk}):
                key = f"chunk{size}{'_xla' if xla else ''}{suffix}"
                measure(f"cached_bias_{key}", tf.function(video.frame, jit_compile=xla), size,
                        bias)
                measure(f"naive_{key}", tf.function(naive_fn(m), jit_compile=xla), size)
    video = VideoDecoder(model)
    bias = video.appearance_bias(codes["foreground"], codes.get("background"))
    for size in sorted({1, chunk}):
        # The cached-bias frame function through onnxruntime (static shapes).
        key = f"cached_bias_chunk{size}_onnxruntime"
        try:
            sess = _frame_session(video, bias, size, tmp)
        except Exception as err:  # report, keep the other variants
            out[key] = {"error": str(err).splitlines()[0][:300]}
            continue
        feeds = [{"bias": bias.numpy(), "keypoints": poses[i:i + size]}
                 for i in range(0, frames - size + 1, size)]
        got = np.concatenate([sess.run(None, f)[0] for f in feeds])
        q = quality.compare(reference[:len(got)], got)

        def go():
            for f in feeds:
                sess.run(None, f)

        out[key] = {"fps": len(feeds) * size / timed(go, min_time, 20), **q.as_dict()}
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


def load_model(name: str, overrides, run_dir: str):
    """(cfg, model, weights label): a trained run's model, or random weights of `name`."""
    import tensorflow as tf

    if run_dir:
        from export.run_loader import load_run

        loaded = load_run(run_dir, crop_method="gather")
        return loaded.cfg, loaded.model, f"trained run {run_dir}"
    from dpig_tf.config_io import load_config
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    cfg = load_config(name, overrides)
    tf.keras.utils.set_random_seed(0)
    model = DisentangledGenerator.from_config_object(cfg, with_mapping=False,
                                                     crop_method="gather")
    return cfg, model, "random (no trained model: quality figures are a smoke/proxy check)"


def bench_config(name: str, overrides, batch_sizes, backends, args, peaks: dict,
                 run_dir: str = "") -> dict:
    from dpig_tf.models import factory
    from export import quality
    from export import signatures

    cfg, model, weights = load_model(name, overrides, run_dir)
    trained = bool(run_dir)
    dims = signatures.ModelDims.from_config(cfg)
    summary = factory.model_summary(cfg)
    gflop = 2 * summary["gmac_per_image"]["generator"]
    features = cpu_features()
    result = {"config": cfg.name if trained else name, "overrides": list(overrides),
              "weights": weights,
              "quality_inputs": ("test split of the run" if trained
                                 else "random codes and keypoints"),
              "image": [cfg.data.image_height, cfg.data.image_width],
              "generator_params": summary["params"]["generator"],
              "generator_gflop_per_image": gflop,
              "encoder_gflop_per_image": 2 * summary["gmac_per_image"]["encoder"],
              "backends": {}}
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="dpig_bench_"))
    examples = quality_inputs(model, dims, cfg, args.quality_examples, trained)
    from export.signatures import endpoint_function

    fp32 = endpoint_function(model, dims, signatures.DECODE)
    try:
        for batch in batch_sizes:
            inputs = random_inputs(dims, batch)
            rows = fit_rows(examples, batch)
            reference = batched(lambda x: np.asarray(fp32(**x)["generated"]), rows, batch)
            calib = None
            for backend in backends:
                key = f"{backend}_b{batch}"
                if backend in BF16_BACKENDS and not has_bf16_hardware(features):
                    result["backends"][key] = {
                        "skipped": "no bf16 hardware (neither amx_bf16 nor avx512_bf16 in "
                                   "/proc/cpuinfo): the fp32 rows are the fallback"}
                    continue
                try:
                    if "int8" in backend and calib is None:
                        calib = calibration(model, dims, cfg, batch, trained)
                    run = backend_runner(backend, model, dims, batch, tmp, calib, cfg)
                    q = quality.compare(reference, batched(run, rows, batch))
                    sec = timed(lambda: run(inputs), args.min_time, args.max_iters)
                except Exception as err:  # a backend failing must not hide the others
                    result["backends"][key] = {"error": f"{type(err).__name__}: "
                                                        f"{str(err).splitlines()[0][:300]}"}
                    continue
                ips = batch / sec
                peak_kind = "bf16" if backend in BF16_BACKENDS else "fp32"
                result["backends"][key] = {
                    "backend": backend, "batch": batch, "latency_ms": 1e3 * sec,
                    "images_per_s": ips, "gflop_per_s": ips * gflop,
                    "flops_utilization": ips * gflop / peaks[peak_kind],
                    "utilization_peak": peak_kind, **q.as_dict()}
                print(f"{name} {key}: {1e3 * sec:.2f} ms/batch, {ips:.1f} img/s, "
                      f"{q.summary()}{'' if q.faithful else ' NOT faithful'}", file=sys.stderr)
        # Video only for the real-time (lite) setting and trained runs: the market-size
        # video variants (XLA, chunks) pushed one process past 24 GB RSS.
        if args.video_frames and (name == "lite" or trained or args.smoke):
            codes = poses = None
            if trained:
                codes = {k: examples[k][:1] for k in (signatures.FOREGROUND,
                                                      signatures.BACKGROUND) if k in examples}
                poses = fit_rows(examples, args.video_frames)[signatures.TARGET_KEYPOINTS][
                    :args.video_frames]
            bf16 = bf16_copy(model, cfg) if has_bf16_hardware(features) else None
            result["video_fps"] = video_fps(model, dims, args.video_frames,
                                            max(batch_sizes), args.min_time, tmp,
                                            codes, poses, bf16)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return summarize(result)


def _rows(result: dict, batch: int | None = None) -> list[dict]:
    return [v for v in result["backends"].values()
            if "latency_ms" in v and (batch is None or v["batch"] == batch)]


def summarize(result: dict) -> dict:
    """Adds the per-config summary keys computed from `result["backends"]`."""
    b = result["backends"]
    keras = b.get("keras_b1", {}).get("latency_ms")
    b1 = _rows(result, 1)
    exports = [r["latency_ms"] for r in b1 if r["backend"] in EXPORT_BACKENDS]
    result["export_speedup_b1_any_quality"] = (keras / min(exports)
                                               if keras and exports else None)
    faithful = [r for r in b1 if r.get("faithful") and r["backend"] != "keras"]
    best = min(faithful, key=lambda r: r["latency_ms"]) if faithful else None
    result["faithful_speedup_b1"] = keras / best["latency_ms"] if keras and best else None
    result["faithful_speedup_b1_backend"] = best["backend"] if best else None
    # Utilization is against the peak of the row's own precision (fp32 or bf16 matmul);
    # integer kernels have no such peak and are reported separately.
    rows = _rows(result)
    float_rows = [r for r in rows if r["backend"] not in REDUCED_PRECISION_BACKENDS]
    low = [r["flops_utilization"] for r in rows if r["backend"] in REDUCED_PRECISION_BACKENDS]
    result["best_flops_utilization"] = (max(r["flops_utilization"] for r in float_rows)
                                        if float_rows else None)
    good = [r["flops_utilization"] for r in float_rows if r.get("faithful")]
    result["best_faithful_flops_utilization"] = max(good) if good else None
    result["best_fp32_equivalent_utilization_reduced_precision"] = max(low) if low else None
    video = result.get("video_fps") or {}
    fps = {k: v["fps"] for k, v in video.items() if isinstance(v, dict) and "fps" in v}
    good_fps = {k: v["fps"] for k, v in video.items()
                if isinstance(v, dict) and v.get("faithful")}
    result["video_fps_any_quality"] = max(fps.values()) if fps else None
    result["video_fps_faithful"] = max(good_fps.values()) if good_fps else None
    result["video_best_faithful_variant"] = (max(good_fps, key=good_fps.get)
                                             if good_fps else None)
    return result


def bench_config_isolated(key: str, backends, args, peaks: dict) -> dict:
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
               f"--peak={peaks['fp32']}", f"--bf16_peak={peaks['bf16']}",
               f"--quality_examples={args.quality_examples}"]
        if args.run_dir:
            cmd.append(f"--run_dir={args.run_dir}")
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
    if args.video_frames and (key == "lite" or args.run_dir):
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
                        help="which of market, lite to measure (both for the top-level keys); "
                             "with --run_dir: `run`")
    parser.add_argument("--run_dir", default="",
                        help="a trained run (or preset): benchmark ITS model, quality on its "
                             "test split (config key `run`)")
    parser.add_argument("--quality_examples", type=int, default=16,
                        help="images per row compared with the fp32 Keras output")
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
                        help="fp32 matmul peak in GFLOP/s to use instead of measuring it")
    parser.add_argument("--bf16_peak", type=float, default=0.0,
                        help="bf16 matmul peak in GFLOP/s to use instead of measuring it")
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
    if args.run_dir:
        configs = {"run": ("run", [])}
        args.configs = "run"
    wanted = [c for c in args.configs.split(",") if c]
    for c in wanted:
        if c not in configs:
            parser.error(f"--configs: unknown {c!r}; choose from {', '.join(configs)}")
    configs = {k: v for k, v in configs.items() if k in wanted}
    features = cpu_features()
    peaks = {"fp32": args.peak or matmul_peak(args.min_time, peak_size)}
    # bf16 reference peak only where bf16 runs natively (else the rows are skipped).
    peaks["bf16"] = args.bf16_peak or (matmul_peak(args.min_time, peak_size, "bfloat16")
                                       if has_bf16_hardware(features) else 0.0)
    isolate = not (args.no_isolate or args.smoke)
    report = {"machine": {"cpu_count": os.cpu_count(), "matmul_size": peak_size,
                          "matmul_fp32_gflop_per_s": peaks["fp32"],
                          "matmul_bf16_gflop_per_s": peaks["bf16"] or None,
                          "cpu_features": features, "load_average_at_start": os.getloadavg()},
              "smoke": args.smoke, "workload": "decode endpoint (heatmaps + generator)",
              "faithful_bar": {"psnr_db": 35.0, "ssim": 0.98, "reference": "fp32 Keras call"},
              "configs": {}}
    for key, (name, overrides) in configs.items():
        if isolate:
            report["configs"][key] = bench_config_isolated(key, backends, args, peaks)
        else:
            report["configs"][key] = bench_config(name, overrides, batch_sizes, backends, args,
                                                  peaks, args.run_dir)
    report["machine"]["load_average_at_end"] = os.getloadavg()
    lite = report["configs"].get("lite", {})
    report["lite_video_fps"] = lite.get("video_fps_faithful")
    report["lite_video_best_variant"] = lite.get("video_best_faithful_variant")
    report["lite_video_fps_any_quality"] = lite.get("video_fps_any_quality")
    market = report["configs"].get("market", {})
    report["best_faithful_flops_utilization"] = market.get("best_faithful_flops_utilization")
    report["best_flops_utilization"] = market.get("best_flops_utilization")

    def best(key):
        found = {k: c[key] for k, c in report["configs"].items() if c.get(key)}
        return (max(found.values()), max(found, key=found.get)) if found else (None, None)

    report["best_faithful_speedup_b1"], report["best_faithful_speedup_b1_config"] = best(
        "faithful_speedup_b1")
    report["best_export_speedup_b1_any_quality"], _ = best("export_speedup_b1_any_quality")
    report["targets"] = {"lite_video_fps": 30, "best_faithful_flops_utilization": 0.70,
                         "best_faithful_speedup_b1": 2}
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        pathlib.Path(args.out).write_text(text)
    return 0


if __name__ == "__main__":
    cli.run(main)
