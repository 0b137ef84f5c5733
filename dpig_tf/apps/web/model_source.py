"""Which model the page serves: --run_dir, --preset, or the bundled demo model.

The demo model is what `python -m dpig_tf.main --stage=1` trains: a run
directory under runs/ whose saved config is named "demo" (runs/00001-demo-stage1,
or runs/demo as in the README's chain). The newest one with a Stage-I
checkpoint wins. Without one the page still starts and says which command
makes it.
"""

from __future__ import annotations

import dataclasses
import pathlib

import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf.config_io import read_saved_config

RUNS_ROOT = "runs"
DEMO_CONFIG_NAME = "demo"
TRAIN_DEMO_COMMAND = "python -m dpig_tf.main --stage=1"
TRAIN_STAGE2_COMMAND = "python -m dpig_tf.main --stage=2 --init_from={run_dir}"


@dataclasses.dataclass
class ModelSource:
    """Where the model comes from.

    Attributes:
        kind: "run_dir", "preset" or "demo".
        path: the run directory or preset file; None when no demo model exists.
    """

    kind: str
    path: str | None

    @property
    def found(self) -> bool:
        return self.path is not None

    def describe(self) -> str:
        if self.kind == "preset":
            return f"preset {self.path}"
        if self.kind == "demo":
            return f"the bundled demo model ({self.path})"
        return f"run directory {self.path}"


def missing_demo_message(root: str | pathlib.Path = RUNS_ROOT) -> str:
    """What the page shows when there is no demo model under `root`."""
    return (f"No trained demo model found under `{root}/`. Train it with "
            f"`{TRAIN_DEMO_COMMAND}` (about 13 minutes on 2 CPU cores; it renders the demo "
            f"data first), then for the Sampling tab `{TRAIN_STAGE2_COMMAND.format(run_dir='RUN')}`"
            f" with the run directory it prints, and restart this page. Or start the page "
            f"with `--run_dir=DIR` for another trained run.")


def has_stage1_checkpoint(run_dir: pathlib.Path) -> bool:
    return tf.train.latest_checkpoint(str(run_dir / names.STAGE1_DIR)) is not None


def stage1_steps(run_dir: str | pathlib.Path) -> int | None:
    """The Stage-I training step of a run's latest checkpoint (None if unreadable)."""
    path = tf.train.latest_checkpoint(str(pathlib.Path(run_dir) / names.STAGE1_DIR))
    if path is None:
        return None
    try:
        return int(tf.train.load_variable(path, f"{names.STEP}/.ATTRIBUTES/VARIABLE_VALUE"))
    except (tf.errors.OpError, ValueError):
        return None


def find_demo_run(root: str | pathlib.Path = RUNS_ROOT) -> pathlib.Path | None:
    """The newest run directory under `root` trained with the demo config, or None.

    Newest = the most recently written Stage-I checkpoint; run directories with
    an unreadable config.yaml are skipped (they are not the demo model).
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        return None
    candidates = []
    for run_dir in root.iterdir():
        config = run_dir / names.CONFIG_FILE
        if not config.is_file() or not has_stage1_checkpoint(run_dir):
            continue
        try:
            if read_saved_config(config).name != DEMO_CONFIG_NAME:
                continue
        except ValueError:
            continue
        written = (run_dir / names.STAGE1_DIR / "checkpoint").stat().st_mtime
        candidates.append((written, run_dir.name, run_dir))
    return max(candidates)[2] if candidates else None


def resolve(run_dir: str | None, preset: str | None,
            root: str | pathlib.Path = RUNS_ROOT) -> ModelSource:
    """The source chosen by the flags (at most one of them); see the module docstring."""
    if run_dir and preset:
        raise ValueError("give either --run_dir or --preset, not both")
    if preset:
        if not pathlib.Path(preset).exists():
            raise FileNotFoundError(f"{preset}: preset not found")
        return ModelSource("preset", preset)
    if run_dir:
        path = pathlib.Path(run_dir)
        if not (path / names.CONFIG_FILE).is_file():
            raise FileNotFoundError(f"{run_dir}: expected a run directory with "
                                    f"{names.CONFIG_FILE}, found none")
        return ModelSource("run_dir", run_dir)
    demo = find_demo_run(root)
    return ModelSource("demo", None if demo is None else str(demo))


def load(source: ModelSource):
    """The `DisentangledGenerator` of a found source."""
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    if not source.found:
        raise ValueError("no model to load")
    if source.kind == "preset":
        from dpig_tf.pretrained import presets

        return presets.load_preset(source.path)  # a PresetError names a bad preset file
    return DisentangledGenerator.from_run_dir(source.path)
