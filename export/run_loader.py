"""Loads the inference model of a run directory for export.

Only the inference networks are built (encoder, generator, pose auto-encoder
and, when present, the Stage-II mapping networks) - never the discriminator,
the critics or optimizer state. The architecture comes from RUN/config.yaml
(no overrides), the weights from RUN/checkpoints/ through the object names of
`dpig_tf/checkpoint.py`. A run without weights, or whose checkpoint does not
fit the architecture of its config, is an `ExportError` naming the directory.
"""

from __future__ import annotations

import dataclasses
import pathlib

from dpig_tf import checkpoint as ckpt_names
from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig
from dpig_tf.config_io import read_saved_config
from dpig_tf.errors import UserError
from export import signatures

CROP_METHODS = ("tf", "gather")


class ExportError(UserError):
    """The run directory cannot be exported; the message says why."""


@dataclasses.dataclass
class LoadedRun:
    """A run's config and restored inference model.

    Args:
        run_dir: the run directory.
        cfg: its resolved config (RUN/config.yaml).
        dims: the sizes the export signatures depend on.
        model: the `DisentangledGenerator`.
        has_stage2: whether Stage-II mapping weights were restored (needed by
            the `sample` endpoint).
    """

    run_dir: pathlib.Path
    cfg: ExperimentConfig
    dims: signatures.ModelDims
    model: object
    has_stage2: bool


def read_run_config(run_dir: str | pathlib.Path) -> ExperimentConfig:
    run_dir = pathlib.Path(run_dir)
    if not run_dir.is_dir():
        raise ExportError(f"--run_dir={run_dir}: not a directory")
    try:
        return read_saved_config(run_dir / ckpt_names.CONFIG_FILE)
    except ConfigError as err:
        raise ExportError(f"--run_dir={run_dir}: {err}") from None


def latest_checkpoint(run_dir: pathlib.Path, sub: str) -> str | None:
    import tensorflow as tf

    folder = run_dir / sub
    return tf.train.latest_checkpoint(str(folder)) if folder.is_dir() else None


def load_run(run_dir: str | pathlib.Path, crop_method: str = "tf",
             require_stage2: bool = False) -> LoadedRun:
    """Builds and restores the inference model of `run_dir`.

    `crop_method="gather"` switches every `RoiCrop` to its TFLite-builtin
    gather implementation (same weights, same arithmetic; STACK.md 3.4).
    """
    if crop_method not in CROP_METHODS:
        raise ExportError(f"crop_method must be one of {CROP_METHODS}, got {crop_method!r}")
    run_dir = pathlib.Path(run_dir)
    from dpig_tf.pretrained import presets

    if presets.is_preset(run_dir):
        return _load_preset(run_dir, crop_method, require_stage2)
    cfg = read_run_config(run_dir)
    for sub, what in ((ckpt_names.STAGE1_DIR, "Stage-I encoder/generator"),
                      (ckpt_names.POSE_AE_DIR, "pose auto-encoder")):
        if latest_checkpoint(run_dir, sub) is None:
            raise ExportError(
                f"--run_dir={run_dir}: no {what} weights in {run_dir / sub} "
                f"(train `--stage=1` first); refusing to export random weights")
    has_stage2 = latest_checkpoint(run_dir, ckpt_names.STAGE2_DIR) is not None
    if require_stage2 and not has_stage2:
        raise ExportError(
            f"--run_dir={run_dir}: no Stage-II mapping weights in "
            f"{run_dir / ckpt_names.STAGE2_DIR}; the `sample` signature needs them "
            f"(train `--stage=2`, or export without --require_sample)")

    from dpig_tf.models.disentangled_generator import DisentangledGenerator
    from dpig_tf.models.disentangled_generator import MissingWeightsError

    try:
        model = DisentangledGenerator.from_run_dir(
            str(run_dir), require_stage2=require_stage2, crop_method=crop_method)
    except (MissingWeightsError, ConfigError) as err:
        # A config/checkpoint mismatch, or a checkpoint missing some of the
        # networks' variables, surfaces here naming the file.
        raise ExportError(f"--run_dir={run_dir}: {err}") from None
    return LoadedRun(run_dir=run_dir, cfg=cfg, dims=signatures.ModelDims.from_config(cfg),
                     model=model, has_stage2=bool(model.has_stage2))


def _load_preset(path: pathlib.Path, crop_method: str, require_stage2: bool) -> LoadedRun:
    from dpig_tf.models.disentangled_generator import MissingWeightsError
    from dpig_tf.pretrained import presets

    try:
        model = presets.load_preset(path, require_stage2=require_stage2, crop_method=crop_method)
    except (MissingWeightsError, ConfigError, presets.PresetError) as err:
        raise ExportError(f"--preset={path}: {err}") from None
    return LoadedRun(run_dir=path, cfg=model.config,
                     dims=signatures.ModelDims.from_config(model.config), model=model,
                     has_stage2=bool(model.has_stage2))


def add_model_arguments(parser) -> None:
    """`--run_dir=RUN | --preset=PRESET` (either lands in `args.run_dir`; presets load alike)."""
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--run_dir", help="a dpig_tf run directory (trained or imported)")
    group.add_argument("--preset", dest="run_dir", help="a dpig_tf preset folder")


def set_crop_method(model, method: str) -> int:
    """Sets `method` on every RoiCrop layer inside `model`; returns how many."""
    from dpig_tf.models.roi_crop import RoiCrop

    count = 0
    for layer in model._flatten_layers(include_self=True, recursive=True):
        if isinstance(layer, RoiCrop):
            layer.method = method
            count += 1
    return count
