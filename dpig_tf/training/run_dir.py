"""Run directories: new numbered ones, resuming existing ones, architecture checks.

A run directory is `runs/00001-<config name>-stage<k>` unless given. Its `config.yaml` is the
resolved config of the run; restarting with the same directory resumes from its checkpoints,
which is only allowed when everything that shapes the networks' variables is unchanged.

Reference: docs/TRAINING.md (layout), dpig_tf/checkpoint.py (names).
"""

from __future__ import annotations

import pathlib
import re

from dpig_tf import checkpoint as ckpt_names
from dpig_tf import config_io
from dpig_tf import run_format
from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig

RUNS_ROOT = "runs"

# Config keys that change the variables of a checkpoint: all of `model.*` plus these.
ARCHITECTURE_KEYS = ("data.image_height", "data.image_width", "data.dataset")


def new_run_dir(cfg: ExperimentConfig, stage: int, root: str | pathlib.Path = RUNS_ROOT
                ) -> pathlib.Path:
    """`root/{id:05d}-{name}-stage{stage}` with id one above the largest existing id."""
    root = pathlib.Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ids = [int(m.group(1)) for p in root.iterdir()
           if (m := re.match(r"^(\d{5})-", p.name))]
    name = re.sub(r"[^A-Za-z0-9_.]+", "_", cfg.name) or "run"
    path = root / f"{max(ids, default=0) + 1:05d}-{name}-stage{stage}"
    path.mkdir()
    return path


def _flatten(data: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def config_differences(old: ExperimentConfig, new: ExperimentConfig) -> dict[str, tuple]:
    """{dotted key: (old, new)} for every value that differs."""
    a = _flatten(config_io.config_to_dict(old))
    b = _flatten(config_io.config_to_dict(new))
    return {k: (a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def architecture_differences(old: ExperimentConfig, new: ExperimentConfig) -> dict[str, tuple]:
    """The differences that make the saved checkpoints incompatible with `new`."""
    return {k: v for k, v in config_differences(old, new).items()
            if k.startswith("model.") or k in ARCHITECTURE_KEYS}


def prepare(cfg: ExperimentConfig, stage: int, run_dir: str | pathlib.Path | None,
            write: bool = True) -> tuple[pathlib.Path, bool]:
    """Creates or checks the run directory; returns (path, resuming).

    A new directory gets `config.yaml`. An existing one must hold a config with the same
    architecture (else a ConfigError naming the differing keys; nothing is written); other
    changes (more steps, a new learning rate) are printed and the saved config is updated.
    `write=False` (non-chief workers) neither checks nor writes: that is the chief's job.
    """
    if run_dir is None:
        if not write:
            raise ConfigError("multi-worker training needs an explicit run directory "
                              "(--run_dir) shared by all workers")
        path = new_run_dir(cfg, stage)
    else:
        path = pathlib.Path(run_dir)
    config_file = path / ckpt_names.CONFIG_FILE
    if not write:  # non-chief workers: the chief checks and writes (no read of a half-written file)
        return path, config_file.is_file()
    if config_file.is_file():
        run_format.check_run_dir(path)
        saved = config_io.read_saved_config(config_file)
        arch = architecture_differences(saved, cfg)
        if arch:
            lines = "; ".join(f"{k}: saved {a!r}, now {b!r}" for k, (a, b) in arch.items())
            raise ConfigError(
                f"{path} was trained with a different architecture and cannot be resumed "
                f"with this config ({lines}). Use a new --run_dir, or the saved config "
                f"({config_file}).")
        changes = config_differences(saved, cfg)
        if changes:
            print(f"Resuming {path} with changed settings: " + "; ".join(
                f"{k} {a!r} -> {b!r}" for k, (a, b) in changes.items()))
            config_io.dump_config(cfg, config_file)
        return path, True
    if path.exists() and any(path.iterdir()) and (path / "checkpoints").exists():
        raise ConfigError(f"{path} has checkpoints but no {ckpt_names.CONFIG_FILE}; "
                          "refusing to resume a run whose architecture is unknown")
    path.mkdir(parents=True, exist_ok=True)
    config_io.dump_config(cfg, config_file)
    run_format.write_format(path)
    return path, False
