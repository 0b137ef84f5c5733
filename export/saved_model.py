"""SavedModel export for TF Serving: `OUT/dpig/<version>/` + `OUT/models.config`.

    python export/saved_model.py --run_dir=RUN --out=DIR [--version=1] [--require_sample]

Signatures (inputs declared once in export/signatures.py): `transfer` (also
`serving_default`), `encode`, `decode` and, when the run has Stage-II weights,
`sample`. Written with `keras.export.ExportArchive`, which tracks the
networks' variables (STACK.md 3.1 C, 3.3). Serve it as in docs/EXPORT.md.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python export/saved_model.py` (STYLE 2.1)
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import dataclasses
import json
import shutil
import warnings

from dpig_tf import cli
from export import run_loader
from export import signatures
from export.run_loader import ExportError
from export.run_loader import LoadedRun
from export.run_loader import load_run

MODEL_NAME = "dpig"
MODELS_CONFIG = "models.config"
CONTRACT_FILE = "assets.extra/dpig_signatures.json"


def build_archive(loaded: LoadedRun, endpoints=signatures.ENDPOINTS,
                  batch_size: int | None = None, serving_default: str | None = signatures.TRANSFER):
    """A `keras.export.ExportArchive` with the requested endpoints."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(loaded.model)  # the inference model only: no discriminator, no optimizer
    for name in endpoints:
        fn = signatures.endpoint_function(loaded.model, loaded.dims, name, check_finite=True)
        specs = list(signatures.endpoint_specs(loaded.dims, name, batch_size).values())
        archive.add_endpoint(name=name, fn=fn, input_signature=specs)
        if name == serving_default:
            archive.add_endpoint(name=signatures.SERVING_DEFAULT, fn=fn, input_signature=specs)
    return archive


def models_config_text(model_name: str, base_path: str) -> str:
    """TF Serving's `--model_config_file` (a ModelServerConfig text proto)."""
    return (
        "model_config_list {\n"
        "  config {\n"
        f'    name: "{model_name}"\n'
        f'    base_path: "{base_path}"\n'
        '    model_platform: "tensorflow"\n'
        "  }\n"
        "}\n")


def export_saved_model(run_dir: str, out: str, version: int = 1, require_sample: bool = False,
                       serving_base: str = "/models", overwrite: bool = False,
                       loaded: LoadedRun | None = None) -> pathlib.Path:
    """Writes OUT/dpig/<version> and OUT/models.config; returns the version dir.

    `loaded` reuses an already loaded run (tests, export_all).
    """
    if version < 1:
        raise ExportError(f"--version must be >= 1, got {version}")
    loaded = loaded or load_run(run_dir, require_stage2=require_sample)
    endpoints = [signatures.TRANSFER, signatures.ENCODE, signatures.DECODE]
    if loaded.has_stage2:
        endpoints.append(signatures.SAMPLE)
    else:
        warnings.warn(f"{run_dir}: no Stage-II weights; the `sample` signature is skipped "
                      f"(use --require_sample to make this an error)", stacklevel=2)
    out = pathlib.Path(out)
    path = out / MODEL_NAME / str(version)
    if path.exists():
        if not overwrite:
            raise ExportError(f"{path} exists; choose another --version or pass --overwrite")
        shutil.rmtree(path)
    archive = build_archive(loaded, endpoints)
    archive.write_out(str(path), verbose=False)
    contract = path / CONTRACT_FILE
    contract.parent.mkdir(parents=True, exist_ok=True)
    contract.write_text(json.dumps({
        "model_name": MODEL_NAME, "version": version, "run_dir": str(loaded.run_dir),
        "dims": dataclasses.asdict(loaded.dims), "endpoints": endpoints,
        "serving_default": signatures.TRANSFER}, indent=2))
    (out / MODELS_CONFIG).write_text(
        models_config_text(MODEL_NAME, f"{serving_base.rstrip('/')}/{MODEL_NAME}"))
    return path


def call_endpoint(saved_model, dims: signatures.ModelDims, endpoint: str,
                  inputs: dict) -> dict:
    """Calls a signature of a loaded SavedModel (`tf.saved_model.load`).

    The inputs are validated against the declared specs first, so a wrong
    shape, dtype or keypoint count is a SignatureInputError naming the input.
    """
    import tensorflow as tf

    if endpoint not in saved_model.signatures:
        raise signatures.SignatureInputError(
            f"the SavedModel has no {endpoint!r} signature "
            f"(has {', '.join(sorted(saved_model.signatures))})")
    contract = signatures.TRANSFER if endpoint == signatures.SERVING_DEFAULT else endpoint
    arrays = signatures.validate_inputs(signatures.endpoint_specs(dims, contract), inputs,
                                        endpoint)
    outputs = saved_model.signatures[endpoint](**{k: tf.constant(v) for k, v in arrays.items()})
    return {k: v.numpy() for k, v in outputs.items()}


def main(argv=None) -> int:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    run_loader.add_model_arguments(parser)
    parser.add_argument("--out", required=True, help="export root (mounted as /models)")
    parser.add_argument("--version", type=int, default=1, help="model version directory")
    parser.add_argument("--require_sample", action="store_true",
                        help="fail if the run has no Stage-II weights for `sample`")
    parser.add_argument("--serving_base", default="/models",
                        help="where --out is mounted inside the serving container")
    parser.add_argument("--overwrite", action="store_true")
    args = parser.parse_args(argv)
    path = export_saved_model(args.run_dir, args.out, args.version, args.require_sample,
                              args.serving_base, args.overwrite)
    print(f"SavedModel: {path}")
    print(f"TF Serving config: {pathlib.Path(args.out) / MODELS_CONFIG}")
    return 0


if __name__ == "__main__":
    cli.run(main)
