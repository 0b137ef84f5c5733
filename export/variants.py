"""`variants.json`: the measured inference variants of an export, and picking one.

An export step (`export/tflite_export.py`, `export/onnx_export.py`) writes, next
to its model files, `OUT/variants.json`: for every file its endpoint, backend,
precision, static batch, measured latency and its quality against the fp32 Keras
model (PSNR/SSIM, `export/quality.py`). Serving (`export/client.py --variants`,
`export/video_decoder.decode_frames`) then runs, by default, the FASTEST
FAITHFUL variant of the endpoint it needs; `--variant=FILE` forces one (a
variant below the bar is then served with a warning line).

    {"dims": {...signatures.ModelDims...},
     "faithful_bar": {"psnr_db": 35.0, "ssim": 0.98},
     "variants": [{"file": "dpig_decode_int8_mixed.tflite", "endpoint": "decode",
                   "backend": "litert", "precision": "int8_mixed", "batch_size": 1,
                   "latency_ms": 41.2, "psnr_db": 41.3, "ssim": 0.995, "mean_abs_error": ...,
                   "max_abs_error": ..., "faithful": true, "quality_examples": 8}, ...]}
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import sys
import tempfile
import time

import numpy as np

from dpig_tf.errors import UserError
from export import quality
from export import signatures

VARIANTS_FILE = "variants.json"
BACKENDS = ("litert", "onnxruntime")


class VariantError(UserError):
    """No usable variant: missing/invalid variants.json, unknown or unfit --variant."""


@dataclasses.dataclass(frozen=True)
class Variant:
    """One exported model file with its measured speed and quality."""

    file: str
    endpoint: str
    backend: str
    precision: str
    batch_size: int
    latency_ms: float
    psnr_db: float
    ssim: float
    mean_abs_error: float
    max_abs_error: float
    faithful: bool
    quality_examples: int

    @classmethod
    def measured(cls, file: str, endpoint: str, backend: str, precision: str, batch_size: int,
                 latency_ms: float, q: quality.Quality) -> "Variant":
        return cls(file=file, endpoint=endpoint, backend=backend, precision=precision,
                   batch_size=batch_size, latency_ms=latency_ms, psnr_db=q.psnr_db,
                   ssim=q.ssim, mean_abs_error=q.mean_abs_error,
                   max_abs_error=q.max_abs_error, faithful=q.faithful,
                   quality_examples=q.images)


def median_latency(fn, min_time: float = 1.0, max_iters: int = 50) -> float:
    """Median seconds of `fn()` over >= 3 calls (after one warm-up call)."""
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < min_time and len(times) < max_iters):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def read(directory: str | pathlib.Path) -> tuple[signatures.ModelDims, list[Variant]]:
    """The dims and variants recorded in DIR/variants.json (or the file itself)."""
    path = pathlib.Path(directory)
    if path.is_dir():
        path = path / VARIANTS_FILE
    if not path.is_file():
        raise VariantError(f"{path}: no {VARIANTS_FILE} (written by export/tflite_export.py "
                           f"and export/onnx_export.py next to the models)")
    try:
        data = json.loads(path.read_text())
        dims = signatures.ModelDims(**data["dims"])
        found = [Variant(**v) for v in data["variants"]]
    except (ValueError, KeyError, TypeError) as err:
        raise VariantError(f"{path}: expected a {VARIANTS_FILE} written by an export step, "
                           f"found unreadable content ({type(err).__name__}: {err})") from None
    return dims, found


def record(directory: str | pathlib.Path, dims: signatures.ModelDims,
           new: list[Variant]) -> pathlib.Path:
    """Adds `new` to DIR/variants.json (same file name replaced), written atomically."""
    directory = pathlib.Path(directory)
    path = directory / VARIANTS_FILE
    kept: list[Variant] = []
    if path.is_file():
        try:
            old_dims, kept = read(directory)
        except VariantError:
            kept = []  # unreadable: rewritten from what this export measured
        else:
            if old_dims != dims:  # another model's variants: not comparable
                kept = []
    names = {v.file for v in new}
    merged = [v for v in kept if v.file not in names] + list(new)
    body = {"dims": dataclasses.asdict(dims),
            "reference": "fp32 Keras model (DisentangledGenerator, crop_and_resize)",
            "faithful_bar": {"psnr_db": quality.FAITHFUL_PSNR_DB, "ssim": quality.FAITHFUL_SSIM},
            "variants": [dataclasses.asdict(v) for v in merged]}
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".variants.", suffix=".tmp")
    with os.fdopen(fd, "w") as f:
        f.write(json.dumps(body, indent=2))
    os.replace(tmp, path)
    return path


def choose(found: list[Variant], endpoint: str, force: str = "") -> Variant:
    """The fastest faithful variant of `endpoint`, or the one named by `force`."""
    if force:
        for v in found:
            if v.file == force or pathlib.Path(v.file).stem == force:
                if v.endpoint != endpoint:
                    raise VariantError(f"--variant={force}: serves endpoint {v.endpoint!r}, "
                                       f"expected {endpoint!r}")
                return v
        raise VariantError(f"--variant={force}: expected one of "
                           f"{', '.join(v.file for v in found) or '(none recorded)'}, "
                           f"found no such variant")
    fitting = [v for v in found if v.endpoint == endpoint]
    faithful = [v for v in fitting if v.faithful]
    if not faithful:
        raise VariantError(
            f"{VARIANTS_FILE}: expected a faithful variant of endpoint {endpoint!r}, found "
            f"{len(fitting)} variant(s) and none faithful; pass --variant=FILE to force one")
    return min(faithful, key=lambda v: v.latency_ms)


def open_runner(directory: str | pathlib.Path, variant: Variant, threads: int = 0):
    """A callable inputs-dict -> outputs-dict running `variant` at any batch size."""
    path = pathlib.Path(directory) / variant.file
    if not path.is_file():
        raise VariantError(f"{path}: listed in {VARIANTS_FILE} but missing")
    threads = threads or os.cpu_count() or 2
    if variant.backend == "litert":
        from ai_edge_litert.interpreter import Interpreter

        interp = Interpreter(model_path=str(path), num_threads=threads)
        interp.allocate_tensors()
        run_batch = interp.get_signature_runner(variant.endpoint)
    elif variant.backend == "onnxruntime":
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]

        def run_batch(**inputs):
            return dict(zip(names, sess.run(names, inputs)))
    else:
        raise VariantError(f"{variant.file}: unknown backend {variant.backend!r}; "
                           f"expected one of {', '.join(BACKENDS)}")
    size = variant.batch_size

    def run(inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # Static-batch files: feed `size` rows at a time (a short last chunk is padded).
        n = len(next(iter(inputs.values())))
        parts = []
        for start in range(0, n, size):
            chunk = {k: np.asarray(v[start:start + size], np.float32) for k, v in inputs.items()}
            short = size - len(next(iter(chunk.values())))
            if short:
                chunk = {k: np.concatenate([v, np.repeat(v[-1:], short, 0)])
                         for k, v in chunk.items()}
            out = run_batch(**chunk)
            parts.append({k: np.asarray(v)[:size - short] for k, v in out.items()})
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    return run


def select(directory: str | pathlib.Path, endpoint: str, force: str = ""):
    """(dims, variant, runner) for `endpoint` from DIR/variants.json; warns on a forced
    variant below the bar (one line on stderr)."""
    dims, found = read(directory)
    variant = choose(found, endpoint, force)
    if not variant.faithful:
        q = quality.Quality(variant.psnr_db, variant.ssim, variant.mean_abs_error,
                            variant.max_abs_error, variant.quality_examples)
        print(quality.warning_line(variant.file, q), file=sys.stderr)
    return dims, variant, open_runner(directory, variant)


def predict_local(directory: str | pathlib.Path, endpoint: str, inputs: dict,
                  force: str = "") -> dict[str, np.ndarray]:
    """Validates `inputs` against the recorded dims and runs the chosen variant."""
    dims, chosen, run = select(directory, endpoint, force)
    print(f"variant: {chosen.file} ({chosen.backend} {chosen.precision}, "
          f"{chosen.latency_ms:.1f} ms, PSNR {chosen.psnr_db:.1f} dB, SSIM {chosen.ssim:.4f})")
    return run(signatures.validate_inputs(signatures.endpoint_specs(dims, endpoint), inputs,
                                          endpoint))


def add_arguments(parser) -> None:
    parser.add_argument("--variants", default="",
                        help=f"run locally with the fastest faithful model in DIR/{VARIANTS_FILE}"
                             " (instead of a server)")
    parser.add_argument("--variant", default="",
                        help=f"with --variants: force this file of {VARIANTS_FILE}")
