"""Stage-II training run: `train_stage2(cfg, run_dir, init_from) -> run dir`.

Restores the frozen Stage-I encoder and generator (RUN/checkpoints/stage1) and
the pose auto-encoder (RUN/checkpoints/pose_ae) of the Stage-I run `init_from`,
every variable matched, then trains two phases into RUN/checkpoints/stage2:

1. "stage2": the foreground (+ background on Market) mapping networks and
   critics on image batches (stage2.batch_size, stage2.steps);
2. "stage2_pose": the pose mapping network and critic on pose vectors
   (stage2.pose_batch_size, stage2.pose_steps).

Both phases share one checkpoint (all mapping networks, critics, optimizers
and the two step counters), so a killed run resumes where it stopped.
Reference: SPEC 3.3 (schedules, restored scopes, fixes #2/#3 of 8.2).
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile

import numpy as np
import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf import config_io
from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig
from dpig_tf.data import features
from dpig_tf.models import factory
from dpig_tf.models.disentangled_generator import DisentangledGenerator
from dpig_tf.models.disentangled_generator import restore_networks
from dpig_tf.models.disentangled_generator import untracked_weights
from dpig_tf.training import checkpoint_io
from dpig_tf.training import loop
from dpig_tf.training import optimizers
from dpig_tf.training import run_dir as run_dirs
from dpig_tf.training import run_lock
from dpig_tf.training import runtime
from dpig_tf.training import sample_grid
from dpig_tf.training.metrics_log import MetricsLog
from dpig_tf.training.metrics_log import ProgressBar
from dpig_tf.training.stage2_gan import POSE
from dpig_tf.training.stage2_gan import Stage2GAN
from dpig_tf.training.stage2_gan import build_rmsprop
from dpig_tf.training.stage2_gan import make_rmsprop

SHORT = {"foreground": "fg", "background": "bg", "pose": "pose"}
POSE_STEP = "pose_step"
SAMPLE_COUNT = 8


def train_stage2(cfg: ExperimentConfig, run_dir=None, init_from=None) -> str:
    """Trains the Stage-II mapping networks; returns the run directory.

    Args:
        cfg: the experiment config; its architecture must equal the Stage-I run's.
        run_dir: where checkpoints/stage2 goes. Default: `init_from` itself.
            A different (new) directory gets a copy of the Stage-I checkpoints
            so that it is a complete run directory for the applications.
        init_from: the Stage-I run directory (default: `run_dir`, for resuming).
    """
    source = pathlib.Path(init_from or run_dir or "")
    if not (init_from or run_dir):
        raise ConfigError("Stage 2 needs --init_from=RUN (the Stage-I run directory)")
    _check_stage1_run(source, cfg)
    strategy = runtime.setup(cfg.runtime)
    cfg.validate(strategy.num_replicas_in_sync)
    chief = runtime.is_chief(strategy)
    target = pathlib.Path(run_dir) if run_dir else source
    path, _ = run_dirs.prepare(cfg, 2, target, write=chief)
    with run_lock.hold(path, enabled=chief):  # a second process on this run dir refuses
        return _train_stage2_locked(cfg, strategy, chief, source, target, path)


def _train_stage2_locked(cfg: ExperimentConfig, strategy, chief: bool, source: pathlib.Path,
                         target: pathlib.Path, path: pathlib.Path) -> str:
    """The body of `train_stage2`, run while holding the run directory's lock."""
    if target.resolve() != source.resolve():
        _copy_stage1(source, target, chief)
    print(f"Stage II in {path} (Stage I from {source}): {strategy.num_replicas_in_sync} "
          f"replica(s)", flush=True)

    with strategy.scope():
        model = DisentangledGenerator.from_config_object(cfg)
        critics = factory.build_critics(cfg)
    # Frozen Stage-I networks: every variable must come from the checkpoint.
    restore_networks(source / names.STAGE1_DIR, "Stage-I",
                     {names.ENCODER: model.encoder, names.GENERATOR: model.generator})
    restore_networks(source / names.POSE_AE_DIR, "pose auto-encoder",
                     {names.POSE_ENCODER: model.pose_encoder,
                      names.POSE_DECODER: model.pose_decoder})
    mappings = {f: model.mapping(f) for f in model.factors}
    s2 = cfg.stage2
    with strategy.scope():
        appearance = _stage2_gan(cfg, {f: mappings[f] for f in model.factors if f != POSE},
                                 critics, model, "appearance")
        pose = _stage2_gan(cfg, {POSE: mappings[POSE]}, critics, model, "pose")
    objects = {names.STEP: appearance.step, POSE_STEP: pose.step}
    for gan in (appearance, pose):
        for f in gan.factors:
            objects[f"{SHORT[f]}_mapping"] = gan.mappings[f]
            objects[f"{SHORT[f]}_critic"] = gan.critics[f]
            objects[f"{SHORT[f]}_mapping_optimizer"] = gan.mapping_optimizers[f]
            objects[f"{SHORT[f]}_critic_optimizer"] = gan.critic_optimizers[f]
    checkpoint = tf.train.Checkpoint(**objects)
    hidden = untracked_weights(checkpoint, {k: v for k, v in objects.items()
                                            if k.endswith(("_mapping", "_critic"))})
    if hidden:
        raise ConfigError(f"Stage-II variables not tracked by the checkpoint: {hidden[:3]}")
    latest = checkpoint_io.restore_latest(checkpoint, path / names.STAGE2_DIR)
    if latest:
        print(f"Resumed {latest} (step {int(appearance.step.numpy())}, pose step "
              f"{int(pose.step.numpy())})", flush=True)
    # Every worker saves (collective reads); only the chief into the run dir.
    directory = path / names.STAGE2_DIR if chief else tempfile.mkdtemp(prefix="dpig_ckpt_")
    manager = tf.train.CheckpointManager(checkpoint, str(directory),
                                         max_to_keep=s2.keep_checkpoints)
    sample = _sampler(model, path, chief)
    image_keys = ("image", "pose_mask", "roi_boxes", "roi_vis")
    _run_phase(strategy, cfg, appearance, manager, path, chief, "stage2", s2.steps,
               s2.batch_size, image_keys, offset=0, on_image=sample)
    _run_phase(strategy, cfg, pose, manager, path, chief, "stage2_pose", s2.pose_steps,
               s2.pose_batch_size, (features.POSE_VECTOR,), offset=s2.steps, on_image=sample)
    return str(path)


# ---------------------------------------------------------------------------------------------
def _check_stage1_run(source: pathlib.Path, cfg: ExperimentConfig) -> None:
    """The Stage-I run must exist, have both checkpoints and the same architecture."""
    config_file = source / names.CONFIG_FILE
    if not config_file.is_file():
        raise ConfigError(f"--init_from={source}: no {names.CONFIG_FILE}; not a dpig_tf run "
                          "directory")
    for sub, what in ((names.STAGE1_DIR, "Stage-I image GAN"),
                      (names.POSE_AE_DIR, "pose auto-encoder")):
        if tf.train.latest_checkpoint(str(source / sub)) is None:
            raise ConfigError(f"--init_from={source}: no {what} checkpoint in {source / sub}; "
                              "train Stage I first (python -m dpig_tf.main --stage=1)")
    saved = config_io.read_saved_config(config_file)
    diff = run_dirs.architecture_differences(saved, cfg)
    if diff:
        lines = "; ".join(f"{k}: Stage-I run {a!r}, this config {b!r}"
                          for k, (a, b) in diff.items())
        raise ConfigError(f"--init_from={source} was trained with a different architecture "
                          f"({lines}). Use the same --config / --set values as Stage I.")


def _copy_stage1(source: pathlib.Path, target: pathlib.Path, chief: bool) -> None:
    if not chief:
        return
    for sub in (names.STAGE1_DIR, names.POSE_AE_DIR):
        if not (target / sub).exists():
            shutil.copytree(source / sub, target / sub)


def _stage2_gan(cfg, mappings, critics, model, kind):
    s2 = cfg.stage2
    gan = Stage2GAN(mappings, {f: critics[f] for f in mappings},
                    encoder=model.encoder if kind == "appearance" else None,
                    pose_encoder=model.pose_encoder if kind == "pose" else None,
                    foreground_dim=cfg.model.foreground_dim, noise_std=s2.noise_std,
                    critic_steps=s2.critic_steps, loss=s2.loss, clip_value=s2.clip_value,
                    gp_weight=s2.gp_weight, name=f"stage2_{kind}")
    gan.build_all()
    m_opt = {f: make_rmsprop(s2.learning_rate, s2.rho, s2.epsilon, s2.lr_decay_steps,
                             name=f"{SHORT[f]}_mapping_optimizer") for f in gan.factors}
    c_opt = {f: make_rmsprop(s2.learning_rate, s2.rho, s2.epsilon, s2.lr_decay_steps,
                             s2.critic_steps, name=f"{SHORT[f]}_critic_optimizer")
             for f in gan.factors}
    gan.compile(m_opt, c_opt)
    for f in gan.factors:  # built in scope, accumulators at the TF1 value (STACK.md 2.1)
        build_rmsprop(m_opt[f], gan.mappings[f].trainable_variables,
                      s2.rmsprop_initial_accumulator)
        build_rmsprop(c_opt[f], gan.critics[f].trainable_variables,
                      s2.rmsprop_initial_accumulator)
    return gan


class _OffsetManager:
    """A CheckpointManager view numbering the pose phase after the appearance phase."""

    def __init__(self, manager, offset):
        self.manager, self.offset = manager, offset

    @property
    def latest_checkpoint(self):
        return self.manager.latest_checkpoint

    @property
    def directory(self):
        return self.manager.directory

    @property
    def checkpoints(self):
        return self.manager.checkpoints

    def save(self, checkpoint_number):
        return self.manager.save(checkpoint_number=self.offset + checkpoint_number)


def _run_phase(strategy, cfg, gan, manager, path, chief, phase, steps, batch_size, keys,
               offset, on_image):
    s2, rt = cfg.stage2, cfg.runtime
    start = int(gan.step.numpy())
    if start >= steps:
        print(f"[{phase}] already at step {start} >= {steps}; nothing to do")
        return start
    from dpig_tf.data.pipeline import build_dataset

    per_step = batch_size * s2.critic_steps  # a fresh real batch for every critic update

    def dataset_fn(context):
        ds = build_dataset(cfg.data, "train", per_step,  # global batch; split by context
                           input_context=context, seed=rt.seed + offset, skip_batches=start)
        return ds.map(lambda b: {k: b[k] for k in keys})

    iterator = iter(strategy.distribute_datasets_from_function(dataset_fn))

    def make(update_mapping):
        @tf.function
        def fn(it):
            strategy.run(lambda b: gan.train_step(b, update_mapping=update_mapping),
                         args=(next(it),))
            return {m.name: m.result() for m in gan.metrics}
        return fn

    first, regular = make(False), make(True)

    def train_function(it):
        # SPEC 3.3: no mapping update at step 0 (a Python switch, not a tf.cond: optimizer
        # updates inside a cond break tf.distribute's merge_call).
        return (first if int(gan.step.numpy()) == 0 else regular)(it)

    log = MetricsLog(path, phase, enabled=chief)
    log.drop_after(start)
    settings = loop.LoopSettings(
        steps=steps, log_every=s2.log_every, checkpoint_every=s2.checkpoint_every,
        image_every=s2.checkpoint_every, examples_per_step=per_step,
        progress_bar=rt.progress_bar and chief)
    opt = next(iter(gan.mapping_optimizers.values()))
    try:
        return loop.run(strategy, gan, train_function, iterator, _OffsetManager(manager, offset),
                        settings, log, ProgressBar(phase, steps, settings.progress_bar),
                        learning_rates=lambda: {"lr": optimizers.current_learning_rate(opt)},
                        on_image=lambda step: on_image(phase, step))
    finally:
        log.close()


def _sampler(model: DisentangledGenerator, path: pathlib.Path, chief: bool):
    """Writes a grid of fully sampled images (fixed seed) to RUN/samples/."""
    def on_image(phase, step):
        if not chief:
            return
        images = model.sample(seed=0, batch_size=SAMPLE_COUNT).numpy()
        row = np.concatenate(list(sample_grid.to_uint8(images)), axis=1)
        sample_grid.save_png(row, path / names.SAMPLES_DIR / f"{phase}-{step:06d}.png")
    return on_image
