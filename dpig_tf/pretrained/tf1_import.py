"""Import the authors' TF1 checkpoints (models 1-4 / 101-104) into a dpig_tf run directory.

The run directory is the one training writes (config.yaml + checkpoints/stage1, pose_ae,
stage2, see `dpig_tf.checkpoint`), plus `import.json` recording where every network came
from (paths, original model IDs, steps, SHA-256 of the checkpoint files). It is built in a
temporary sibling folder and renamed into place at the end, so a failed import leaves
nothing behind.
"""

from __future__ import annotations

import dataclasses
import datetime
import functools
import json
import pathlib
import shutil
import tempfile

import numpy as np

from dpig_tf import __version__
from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf import run_format
from dpig_tf.pretrained import tf1_names
from dpig_tf.pretrained.tf1_checkpoint import ENCODER_STEM
from dpig_tf.pretrained.tf1_checkpoint import ImportCheckpointError
from dpig_tf.pretrained.tf1_checkpoint import check_kind_and_dataset
from dpig_tf.pretrained.tf1_checkpoint import check_variables
from dpig_tf.pretrained.tf1_checkpoint import open_checkpoint

DATASETS = ("market", "deepfashion")
IMPORT_FILE = "import.json"
IMPORT_FORMAT = "dpig_tf-tf1-import/1"
STAGE2_POSE_STEP = "pose_step"  # the Stage-II pose phase counter (training/stage2_run.py)


@dataclasses.dataclass
class ImportSources:
    """The checkpoint (folder or prefix) given for each original model; None = not imported."""

    stage1: str | None = None
    pose_ae: str | None = None
    stage2_app: str | None = None
    stage2_pose: str | None = None

    def given(self) -> dict:
        return {k: v for k, v in dataclasses.asdict(self).items() if v}


def import_tf1(dataset: str, sources: ImportSources, out: str, overrides=()) -> dict:
    """Imports `sources` into a new run directory `out`; returns the import record.

    Args:
        dataset: "market" (models 1-4) or "deepfashion" (101-104).
        sources: the checkpoints; Stage I is required, Stage II needs both of its models.
        out: the run directory to create (must not exist).
        overrides: extra `--set key=value` config overrides (e.g. for reduced widths; the
            conv width `model.base_channels` is read from the checkpoint unless given).

    Raises:
        ImportCheckpointError: bad flags, unreadable checkpoints, missing / unknown
            variables, wrong shapes or the wrong dataset (the message names which).
    """
    _check_request(dataset, sources, out)
    checkpoints = {}
    for kind, path in sources.given().items():
        ckpt = open_checkpoint(path)
        check_kind_and_dataset(ckpt, kind, kind, dataset)
        checkpoints[kind] = ckpt
    cfg = _config(dataset, checkpoints, overrides)

    from dpig_tf.models import factory

    nets = {names.ENCODER: factory.build_encoder(cfg),
            names.GENERATOR: factory.build_generator(cfg),
            names.DISCRIMINATOR: factory.build_discriminator(cfg),
            names.POSE_ENCODER: factory.build_pose_encoder(cfg),
            names.POSE_DECODER: factory.build_pose_decoder(cfg)}
    short = {"foreground": "fg", "background": "bg", "pose": "pose"}
    for factor, net in factory.build_mapping_networks(cfg).items():
        nets[f"{short[factor]}_mapping"] = net
    for factor, net in factory.build_critics(cfg).items():
        nets[f"{short[factor]}_critic"] = net

    arch = tf1_names.architecture_of(cfg)
    optimizers = {}
    record = {"format": IMPORT_FORMAT, "dataset": dataset, "dpig_tf_version": __version__,
              "imported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(
                  timespec="seconds"),
              "sources": {}}
    for kind, ckpt in checkpoints.items():
        rows = tf1_names.table(kind, dataset, arch)
        expected = {row.tf1_name: tuple(_weight(nets, row).shape) for row in rows}
        check_variables(ckpt, kind, rows, expected)
        for row in rows:
            _weight(nets, row).assign(_transformed(ckpt.tensor(row.tf1_name), row, arch))
        by_var = {id(_weight(nets, row)): row for row in rows}
        for name, variables, updates in _adam_groups(kind, nets, ckpt):
            if _has_adam_slots(ckpt, by_var, variables):
                optimizers[name] = _import_adam(cfg, name, variables, updates, ckpt, by_var,
                                                arch)
        record["sources"][kind] = {
            "path": ckpt.prefix, "model_id": tf1_names.MODEL_IDS[dataset][kind],
            "step": ckpt.step, "imported_variables": len(rows),
            "skipped_variables": len(ckpt.shapes) - len(rows), "sha256": ckpt.sha256()}
    record["optimizer_state"] = sorted(optimizers)
    _write_run_dir(pathlib.Path(out), cfg, nets, optimizers, checkpoints, record)
    return record


def _check_request(dataset: str, sources: ImportSources, out: str) -> None:
    if dataset not in DATASETS:
        raise ImportCheckpointError(f"--dataset: expected one of {', '.join(DATASETS)}, "
                                    f"found {dataset!r}")
    if not sources.stage1:
        raise ImportCheckpointError("--stage1: expected the Stage-I checkpoint (model 1 / 101: "
                                    "encoder + generator), found none")
    if bool(sources.stage2_app) != bool(sources.stage2_pose):
        given = "--stage2_app" if sources.stage2_app else "--stage2_pose"
        missing = "--stage2_pose" if sources.stage2_app else "--stage2_app"
        raise ImportCheckpointError(f"{missing}: expected both Stage-II checkpoints "
                                    f"(appearance and pose mapping), found only {given}")
    if sources.stage2_app and not sources.pose_ae:
        raise ImportCheckpointError("--pose_ae: expected the pose auto-encoder (model 2 / 102) "
                                    "with the Stage-II checkpoints (sampled poses are decoded "
                                    "by it), found none")
    if not out:
        raise ImportCheckpointError("--out: expected the run directory to create, found none")
    if pathlib.Path(out).exists():
        raise ImportCheckpointError(f"{out}: expected a new run directory, found an existing "
                                    "path (choose another --out or remove it)")


def _config(dataset: str, checkpoints: dict, overrides):
    """The dataset's paper config, with the conv width read off the Stage-I checkpoint."""
    overrides = list(overrides)
    keys = {o.split("=", 1)[0].strip() for o in overrides}
    stage1 = checkpoints.get(tf1_names.STAGE1)
    if stage1 is not None and "model.base_channels" not in keys:
        overrides.append(f"model.base_channels={stage1.shapes[ENCODER_STEM][-1]}")
        if "model.width_multiplier" not in keys:
            overrides.append("model.width_multiplier=1.0")
    if dataset == "deepfashion" and "model.discriminator_head" not in keys:
        # The original DeepFashion D: 4 convs and the channels-first 8-logit reshape (SPEC 2.8).
        overrides.append("model.discriminator_head=channel_chunks")
    return config_io.load_config(dataset, overrides)


def _weight(nets: dict, row: tf1_names.WeightMapping):
    layer = functools.reduce(getattr, row.layer.split("."), nets[row.network])
    return getattr(layer, row.weight)


def _transformed(value: np.ndarray, row: tf1_names.WeightMapping, arch) -> np.ndarray:
    if row.transform == tf1_names.CHW_ROWS_TO_HWC:
        h, w, c = arch.discriminator_map_hwc
        return value.reshape(c, h, w, -1).transpose(1, 2, 0, 3).reshape(h * w * c, -1)
    return value


def _adam_groups(kind: str, nets: dict, ckpt) -> list:
    """(our optimizer name, its variables in our order, updates done) of a checkpoint kind.

    The original updates G (with E) from step 1 and D from step 0 (SPEC 2.6), as our loop
    does, so after the step-N save G has had N updates and D N + 1; the pose AE N.
    """
    step = ckpt.step or 0
    if kind == tf1_names.STAGE1:
        return [(names.G_OPTIMIZER, nets[names.ENCODER].trainable_variables
                 + nets[names.GENERATOR].trainable_variables, step),
                (names.D_OPTIMIZER, nets[names.DISCRIMINATOR].trainable_variables, step + 1)]
    if kind == tf1_names.POSE_AE:
        return [(names.POSE_AE_OPTIMIZER, nets[names.POSE_ENCODER].trainable_variables
                 + nets[names.POSE_DECODER].trainable_variables, step)]
    return []


def _has_adam_slots(ckpt, by_var: dict, variables) -> bool:
    """Whether every variable's table row has both Adam slots in the checkpoint."""
    return all(by_var[id(v)].tf1_name + suffix in ckpt.shapes
               for v in variables for suffix in tf1_names.ADAM_SLOTS.values())


def _import_adam(cfg, name: str, variables, updates: int, ckpt, by_var: dict, arch):
    """Our Stage-I Adam for `variables` (rows in `by_var`, keyed by id), with the TF1 Adam
    moments and iteration count."""
    from dpig_tf.training import optimizers

    s1 = cfg.stage1
    optimizer = optimizers.adam(s1.learning_rate, s1.beta_1, s1.beta_2, s1.epsilon,
                                s1.lr_decay_steps, cfg.runtime.mixed_precision, name=name)
    optimizer.build(variables)
    for variable in variables:
        row = by_var[id(variable)]
        index = optimizer._get_variable_index(variable)
        for slots, suffix in tf1_names.ADAM_SLOTS.items():
            value = _transformed(ckpt.tensor(row.tf1_name + suffix), row, arch)
            getattr(optimizer, f"_{slots}")[index].assign(value)
    optimizer.iterations.assign(updates)
    return optimizer


def _write_run_dir(out: pathlib.Path, cfg, nets: dict, optimizers: dict, checkpoints: dict,
                   record: dict) -> None:
    import tensorflow as tf

    def steps_done(kind):
        step = checkpoints[kind].step
        return 0 if step is None else step + 1  # the original saves after step N (0-based)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{out.name}.importing-", dir=out.parent))
    try:
        config_io.dump_config(cfg, tmp / names.CONFIG_FILE)
        run_format.write_format(tmp)
        groups = {tf1_names.STAGE1: (names.STAGE1_DIR, {
            names.ENCODER: nets[names.ENCODER], names.GENERATOR: nets[names.GENERATOR],
            names.DISCRIMINATOR: nets[names.DISCRIMINATOR],
            names.STEP: tf.Variable(steps_done(tf1_names.STAGE1), dtype=tf.int64),
            **{k: optimizers[k] for k in (names.G_OPTIMIZER, names.D_OPTIMIZER)
               if k in optimizers}})}
        if tf1_names.POSE_AE in checkpoints:
            groups[tf1_names.POSE_AE] = (names.POSE_AE_DIR, {
                names.POSE_ENCODER: nets[names.POSE_ENCODER],
                names.POSE_DECODER: nets[names.POSE_DECODER],
                names.POSE_AE_STEP: tf.Variable(steps_done(tf1_names.POSE_AE), dtype=tf.int64),
                **{k: optimizers[k] for k in (names.POSE_AE_OPTIMIZER,) if k in optimizers}})
        if tf1_names.STAGE2_APP in checkpoints:
            stage2 = {k: v for k, v in nets.items() if k.endswith(("_mapping", "_critic"))}
            stage2[names.STEP] = tf.Variable(steps_done(tf1_names.STAGE2_APP), dtype=tf.int64)
            stage2[STAGE2_POSE_STEP] = tf.Variable(steps_done(tf1_names.STAGE2_POSE),
                                                   dtype=tf.int64)
            groups[tf1_names.STAGE2_APP] = (names.STAGE2_DIR, stage2)
        for kind, (sub, objects) in groups.items():
            manager = tf.train.CheckpointManager(tf.train.Checkpoint(**objects), str(tmp / sub),
                                                 max_to_keep=1)
            manager.save(checkpoint_number=steps_done(kind))
        (tmp / IMPORT_FILE).write_text(json.dumps(record, indent=1) + "\n")
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
