"""The one custom training loop, for every strategy (default, mirrored, multi-worker).

`strategy.run(model.train_step, ...)` inside a `tf.function` over a dataset distributed with
`strategy.distribute_datasets_from_function`. Keras `fit` is not used: it fails under
MultiWorkerMirroredStrategy (STACK.md 2.4), and one loop for all strategies keeps the
checkpoint, logging and kill/resume behaviour identical everywhere.

The model is any `keras.Model` with `train_step(batch)`, loss trackers in `metrics` and an int64
`step` variable that `train_step` increments (Stage1GAN, PoseAutoencoderTrainer).
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import Callable

import tensorflow as tf

from dpig_tf.config import ConfigError
from dpig_tf.errors import UserError
from dpig_tf.training import checkpoint_io
from dpig_tf.training.metrics_log import MetricsLog
from dpig_tf.training.metrics_log import ProgressBar


class NonFiniteLossError(UserError):
    """A loss became NaN or Inf; training stopped before the next checkpoint."""


@dataclasses.dataclass
class LoopSettings:
    """How long a phase trains and how often it reports.

    Attributes:
        steps: the phase ends when the model's step counter reaches this.
        log_every: steps between metrics.jsonl lines (loss means over the interval).
        checkpoint_every: steps between checkpoints (and one at the end).
        image_every: steps between sample grids (0 = none).
        examples_per_step: global examples consumed per step (for examples/s).
        progress_bar: draw the console bar.
    """

    steps: int
    log_every: int
    checkpoint_every: int
    image_every: int = 0
    examples_per_step: int = 1
    progress_bar: bool = True


def make_train_function(strategy, model, batches_per_step: int = 1, jit_compile: bool = False,
                        **step_kwargs):
    """A tf.function(iterator) -> {tracker name: value} running one step on every replica.

    `step_kwargs` are passed to `model.train_step` as Python values (traced into the graph).
    """
    # A nested tf.function around train_step breaks tf.distribute's merge_call (BN moving
    # statistics, optimizer updates), so XLA is only used on a single replica.
    def replica_step(batch):
        return model.train_step(batch, **step_kwargs)

    if jit_compile:
        if strategy.num_replicas_in_sync > 1:
            raise ConfigError("runtime.jit_compile=true works with one replica only "
                              "(runtime.strategy=default)")
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def train_function(iterator):
        batches = tuple(next(iterator) for _ in range(batches_per_step))
        strategy.run(replica_step, args=(batches[0] if batches_per_step == 1 else batches,))
        # Tracker variables are sync-on-read: reading them here reduces over replicas.
        return {m.name: m.result() for m in model.metrics}

    return train_function


def run(strategy, model, train_function, iterator, manager: tf.train.CheckpointManager,
        settings: LoopSettings, log: MetricsLog, bar: ProgressBar,
        learning_rates: Callable[[], dict] = dict,
        on_image: Callable[[int], None] | None = None,
        train_function_for_step: Callable[[int], Callable] | None = None) -> int:
    """Trains until `model.step == settings.steps`; returns the final step.

    `train_function_for_step(step)`, if given, picks the function that runs `step`
    (0-based) instead of `train_function`: Stage I skips the generator update at step 0
    (SPEC 2.6) and the discriminator update during an adversarial warm-up.

    Every step's tracker means are checked: a NaN/Inf stops training with NonFiniteLossError
    naming the step and the loss, before anything else is saved (the last good checkpoint
    stays the latest).
    """
    step = int(model.step.numpy())
    for metric in model.metrics:
        metric.reset_state()
    traced = set()
    seconds, timed_steps = 0.0, 0  # step time since the last log line, tracing calls excluded
    while step < settings.steps:
        function = train_function_for_step(step) if train_function_for_step else train_function
        start = time.perf_counter()
        values = {k: float(v) for k, v in function(iterator).items()}
        if id(function) in traced:
            seconds += time.perf_counter() - start
            timed_steps += 1
        traced.add(id(function))
        step += 1
        bad = {k: v for k, v in values.items() if not math.isfinite(v)}
        if bad:
            name, value = next(iter(bad.items()))
            raise NonFiniteLossError(
                f"{log.phase}: loss {name} = {value} at step {step}; training stopped. "
                f"The last good checkpoint is {manager.latest_checkpoint or '(none yet)'}.")
        sec_per_step = seconds / timed_steps if timed_steps else 0.0
        last = step == settings.steps
        if bar.tty and not last:
            bar.update(step, sec_per_step, values)
        if step % settings.log_every == 0 or last:
            record = dict(values)
            record.update(learning_rates())
            if timed_steps:
                record["sec_per_step"] = sec_per_step
                record["examples_per_sec"] = settings.examples_per_step / sec_per_step
            log.write(step, record)
            bar.update(step, sec_per_step, values, final=last)
            for metric in model.metrics:
                metric.reset_state()
            seconds, timed_steps = 0.0, 0
        if step % settings.checkpoint_every == 0 or last:
            checkpoint_io.save(manager, step)
        if on_image and settings.image_every and (step % settings.image_every == 0 or last):
            on_image(step)
    return step
