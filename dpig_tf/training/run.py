"""Training runs: `train(cfg, stage, run_dir, init_from)` and `dry_run(cfg, stage)`.

Stage 1 trains two independent things, each into its own checkpoint folder of the run dir:
  - the pose auto-encoder (`stage1.train_pose_ae`, SPEC 2.7) -> RUN/checkpoints/pose_ae,
  - the image GAN E+G+D (`stage1.train_image_gan`, SPEC 2.5-2.6) -> RUN/checkpoints/stage1.
Stage 2 is delegated to `dpig_tf.training.stage2_run.train_stage2`.

This module (with `models/factory.py`) is where the config becomes objects: the networks,
optimizers, datasets and loop settings. See docs/TRAINING.md.
"""

from __future__ import annotations

import pathlib
import sys
import tempfile

import tensorflow as tf

from dpig_tf import checkpoint as names
from dpig_tf.config import ConfigError
from dpig_tf.config import ExperimentConfig
from dpig_tf.data import features
from dpig_tf.training import checkpoint_io
from dpig_tf.training import loop
from dpig_tf.training import optimizers
from dpig_tf.training import run_dir as run_dirs
from dpig_tf.training import run_lock
from dpig_tf.training import runtime
from dpig_tf.training import sample_grid
from dpig_tf.training.metrics_log import MetricsLog
from dpig_tf.training.metrics_log import ProgressBar

SAMPLE_ROWS = 8


def train(cfg: ExperimentConfig, stage: int, run_dir: str | None = None,
          init_from: str | None = None) -> str:
    """Trains `stage` (1 or 2) of `cfg` in `run_dir` (new numbered dir if None); returns the dir.

    An existing run dir is resumed from its latest checkpoints (the step count continues).
    """
    if stage == 2:
        return _train_stage2(cfg, run_dir, init_from)
    if stage != 1:
        raise ConfigError(f"stage must be 1 or 2, got {stage}")
    if init_from:
        raise ConfigError("--init_from is a Stage-2 option (the Stage-I run to restore); "
                          "to resume Stage I pass --run_dir")
    if cfg.runtime.strategy == "multi_worker" and run_dir is None:
        raise ConfigError("runtime.strategy=multi_worker needs --run_dir (the same directory "
                          "on every worker)")
    strategy = runtime.setup(cfg.runtime)
    cfg.validate(strategy.num_replicas_in_sync)  # before any graph is built
    if cfg.runtime.jit_compile and strategy.num_replicas_in_sync > 1:
        raise ConfigError("runtime.jit_compile=true works with one replica only "
                          f"(runtime.strategy={cfg.runtime.strategy} has "
                          f"{strategy.num_replicas_in_sync})")
    chief = runtime.is_chief(strategy)
    path, _ = run_dirs.prepare(cfg, 1, run_dir, write=chief)
    with run_lock.hold(path, enabled=chief):  # a second process on this run dir refuses
        print(f"Stage I in {path}: {strategy.num_replicas_in_sync} replica(s) "
              f"({type(strategy).__name__})", flush=True)
        if cfg.stage1.train_pose_ae:
            train_pose_autoencoder(cfg, strategy, path, chief)
        if cfg.stage1.train_image_gan:
            train_image_gan(cfg, strategy, path, chief)
    return str(path)


def dry_run(cfg: ExperimentConfig, stage: int) -> dict:
    """Pulls two batches through the data pipeline, prints their shapes, returns model_summary."""
    from dpig_tf.data.pipeline import build_dataset
    from dpig_tf.models.factory import model_summary

    batch_size = cfg.stage1.batch_size if stage == 1 else cfg.stage2.batch_size
    try:
        dataset = build_dataset(cfg.data, "train", batch_size, shuffle=False, repeat=False)
        for i, batch in enumerate(dataset.take(2)):
            shapes = ", ".join(f"{k} {tuple(v.shape)} {v.dtype.name}" for k, v in batch.items())
            print(f"batch {i}: {shapes}")
    except (ValueError, FileNotFoundError) as err:
        # A dry run still reports the network sizes when the dataset is not on this machine
        # yet; the data problem is printed so it cannot be missed.
        print(f"WARNING: data check failed, no batches pulled: {err}", file=sys.stderr)
    return model_summary(cfg)


# --- Stage I phases -----------------------------------------------------------------------
def train_image_gan(cfg: ExperimentConfig, strategy, run_dir: pathlib.Path, chief: bool):
    """The Stage-I image GAN (E, G, D) until `stage1.steps`; returns the trained Stage1GAN."""
    from dpig_tf.models import factory
    from dpig_tf.training.stage1_gan import INPUT_KEYS
    from dpig_tf.training.stage1_gan import Stage1GAN

    s1, rt = cfg.stage1, cfg.runtime
    with strategy.scope():
        model = Stage1GAN(factory.build_encoder(cfg), factory.build_generator(cfg),
                          factory.build_discriminator(cfg), l1_weight=s1.l1_weight,
                          adversarial_warmup_steps=s1.adversarial_warmup_steps,
                          masked_l1_weight=s1.masked_l1_weight,
                          code_swap_fraction=s1.code_swap_fraction,
                          code_swap_weight=s1.code_swap_weight,
                          code_swap_margin=s1.code_swap_margin,
                          code_swap_ramp_steps=s1.code_swap_ramp_steps,
                          code_swap_start_step=s1.code_swap_start_step)
        model.compile(g_optimizer=_stage1_adam(cfg, "g_optimizer"),
                      d_optimizer=_stage1_adam(cfg, "d_optimizer"))
        model.build_optimizers()
    checkpoint = tf.train.Checkpoint(**{
        names.ENCODER: model.encoder, names.GENERATOR: model.generator,
        names.DISCRIMINATOR: model.discriminator, names.G_OPTIMIZER: model.g_optimizer,
        names.D_OPTIMIZER: model.d_optimizer, names.STEP: model.step})
    start = _restore(checkpoint, run_dir / names.STAGE1_DIR)
    if start >= s1.steps:
        print(f"[stage1] already at step {start} >= stage1.steps={s1.steps}; nothing to do")
        return model

    log = MetricsLog(run_dir, "stage1", enabled=chief)
    eval_log = MetricsLog(run_dir, "stage1_eval", enabled=chief)
    log.drop_after(start)
    eval_log.drop_after(start)
    samples = _sample_batch(cfg) if chief else None
    reconstruct = tf.function(model.reconstruct)

    def on_image(step):
        if samples is None:
            return
        fake = reconstruct(samples).numpy()
        image = samples[features.IMAGE].numpy()
        l1 = float(abs(fake - image).mean())
        grid = sample_grid.reconstruction_grid(image, fake, samples[features.HEATMAPS].numpy(),
                                               SAMPLE_ROWS)
        sample_grid.save_png(grid, run_dir / names.SAMPLES_DIR / f"stage1-{step:06d}.png")
        eval_log.image(step, "input|reconstruction|pose", grid)
        eval_log.write(step, {"sample_l1": l1})

    if start == 0:
        on_image(0)
    settings = loop.LoopSettings(
        steps=s1.steps, log_every=s1.log_every, checkpoint_every=s1.checkpoint_every,
        image_every=s1.image_every, examples_per_step=2 * s1.batch_size,
        progress_bar=rt.progress_bar and chief)
    # Two batches per step (G, D); a resumed run continues the uninterrupted example stream.
    iterator = iter(_distributed_dataset(strategy, cfg, s1.batch_size, seed=rt.seed,
                                         skip_batches=2 * start, keys=INPUT_KEYS))
    functions = {}

    def step_function(update_generator=True, update_discriminator=True, swap_codes=True):
        """The traced step for these Python-level flags (Stage1GAN.train_step)."""
        key = (update_generator, update_discriminator, swap_codes)
        if key not in functions:
            functions[key] = loop.make_train_function(
                strategy, model, 2, rt.jit_compile, update_generator=update_generator,
                update_discriminator=update_discriminator, swap_codes=swap_codes)
        return functions[key]

    def train_function_for_step(step):
        return step_function(**stage1_step_flags(s1, step))

    train_function = step_function()
    try:
        loop.run(
            strategy, model, train_function, iterator,
            _manager(checkpoint, run_dir, names.STAGE1_DIR, s1.keep_checkpoints, chief),
            settings, log, ProgressBar("stage1", s1.steps, settings.progress_bar),
            learning_rates=lambda: {
                "lr": optimizers.current_learning_rate(model.g_optimizer),
                "d_lr": optimizers.current_learning_rate(model.d_optimizer)},
            on_image=on_image, train_function_for_step=train_function_for_step)
    finally:
        log.close()
        eval_log.close()
    return model


def stage1_step_flags(s1, step: int) -> dict:
    """Stage1GAN.train_step's Python-level flags for 0-based `step` of the image GAN.

    Step 0 skips the generator update (SPEC 2.6). During an adversarial warm-up the
    discriminator's output is unused, so D is neither run nor trained (a warm-up step costs
    ~30% less); it starts learning when the adversarial term joins. Before
    stage1.code_swap_start_step the swapped decodes (weight 0 there) are not made.
    """
    if step == 0:
        return {"update_generator": False, "swap_codes": False,
                "update_discriminator": not s1.adversarial_warmup_steps}
    return {"update_generator": True,
            "update_discriminator": step >= s1.adversarial_warmup_steps,
            "swap_codes": step >= s1.code_swap_start_step}


def train_pose_autoencoder(cfg: ExperimentConfig, strategy, run_dir: pathlib.Path, chief: bool):
    """The pose auto-encoder until `stage1.pose_ae_steps`; returns the PoseAutoencoderTrainer."""
    from dpig_tf.models import factory
    from dpig_tf.training.pose_autoencoder import PoseAutoencoderTrainer

    s1, rt = cfg.stage1, cfg.runtime
    with strategy.scope():
        model = PoseAutoencoderTrainer(factory.build_pose_encoder(cfg),
                                       factory.build_pose_decoder(cfg),
                                       loss_weight=s1.pose_ae_weight)
        model.compile(optimizer=_stage1_adam(cfg, "pose_ae_optimizer"))
        model.build_optimizers()
    checkpoint = tf.train.Checkpoint(**{
        names.POSE_ENCODER: model.pose_encoder, names.POSE_DECODER: model.pose_decoder,
        names.POSE_AE_OPTIMIZER: model.pose_optimizer, names.POSE_AE_STEP: model.step})
    start = _restore(checkpoint, run_dir / names.POSE_AE_DIR)
    if start >= s1.pose_ae_steps:
        print(f"[pose_ae] already at step {start} >= stage1.pose_ae_steps={s1.pose_ae_steps}")
        return model
    log = MetricsLog(run_dir, "pose_ae", enabled=chief)
    log.drop_after(start)
    settings = loop.LoopSettings(
        steps=s1.pose_ae_steps, log_every=s1.log_every, checkpoint_every=s1.checkpoint_every,
        examples_per_step=s1.pose_ae_batch_size, progress_bar=rt.progress_bar and chief)
    dataset = _distributed_dataset(strategy, cfg, s1.pose_ae_batch_size, seed=rt.seed,
                                   skip_batches=start, keys=(features.POSE_VECTOR,))
    try:
        loop.run(
            strategy, model, loop.make_train_function(strategy, model, 1, rt.jit_compile),
            iter(dataset),
            _manager(checkpoint, run_dir, names.POSE_AE_DIR, s1.keep_checkpoints, chief),
            settings, log, ProgressBar("pose_ae", s1.pose_ae_steps, settings.progress_bar),
            learning_rates=lambda: {"lr": optimizers.current_learning_rate(model.pose_optimizer)})
    finally:
        log.close()
    return model


# --- helpers ------------------------------------------------------------------------------
def _stage1_adam(cfg: ExperimentConfig, name: str):
    s1 = cfg.stage1
    return optimizers.adam(s1.learning_rate, s1.beta_1, s1.beta_2, s1.epsilon,
                           s1.lr_decay_steps, cfg.runtime.mixed_precision, name=name)


def _restore(checkpoint: tf.train.Checkpoint, directory: pathlib.Path) -> int:
    """Restores the latest checkpoint in `directory` (read by every worker); the step reached."""
    latest = checkpoint_io.restore_latest(checkpoint, directory)  # skips a corrupt newest
    if not latest:
        return 0
    step = int(latest.rsplit("-", 1)[-1])
    print(f"Resumed {latest} (step {step})", flush=True)
    return step


def _manager(checkpoint, run_dir: pathlib.Path, subdir: str, keep: int, chief: bool):
    # Every worker saves (collective variable reads); only the chief into the run dir.
    directory = run_dir / subdir if chief else tempfile.mkdtemp(prefix="dpig_worker_ckpt_")
    return tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=keep)


def _distributed_dataset(strategy, cfg: ExperimentConfig, global_batch: int, seed: int,
                         keys: tuple | None = None, skip_batches: int = 0):
    from dpig_tf.data.pipeline import build_dataset

    def dataset_fn(context: tf.distribute.InputContext):
        # build_dataset takes the GLOBAL batch and yields this pipeline's share of it.
        dataset = build_dataset(cfg.data, "train", global_batch, input_context=context, seed=seed,
                                skip_batches=skip_batches)
        if keys:
            dataset = dataset.map(lambda batch: {k: batch[k] for k in keys})
        return dataset

    return strategy.distribute_datasets_from_function(dataset_fn)


def _sample_batch(cfg: ExperimentConfig) -> dict:
    """A fixed batch of training images for the reconstruction grids.

    Shuffled with a fixed seed: the unshuffled training sequence repeats each image by its
    pair count, so its first batch can be one image 8 times.
    """
    from dpig_tf.data.pipeline import build_dataset

    dataset = build_dataset(cfg.data, "train", SAMPLE_ROWS, shuffle=True, repeat=False,
                            seed=cfg.runtime.seed)
    return next(iter(dataset))


def _train_stage2(cfg: ExperimentConfig, run_dir, init_from) -> str:
    try:
        from dpig_tf.training import stage2_run
    except ModuleNotFoundError as err:
        if err.name != "dpig_tf.training.stage2_run":
            raise
        raise ConfigError("Stage-2 training (dpig_tf.training.stage2_run) is not available "
                          "in this build") from None
    return str(stage2_run.train_stage2(cfg, run_dir, init_from))
