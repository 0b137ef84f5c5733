"""Optimizers of Stage I: Adam with the learning rate halved every `halve_every` steps."""

from __future__ import annotations

import keras


def halving_schedule(learning_rate: float, halve_every: int):
    """lr * 0.5 ** floor(iterations / halve_every), a Keras schedule (SPEC 2.6)."""
    return keras.optimizers.schedules.ExponentialDecay(
        learning_rate, decay_steps=halve_every, decay_rate=0.5, staircase=True)


def adam(learning_rate: float, beta_1: float, beta_2: float, epsilon: float, halve_every: int,
         mixed_precision: str = "float32", name: str | None = None):
    """Adam(lr halved every `halve_every` steps); wrapped in loss scaling for mixed_float16.

    Reference: SPEC 2.6 / 8.1 (Adam 2e-5, beta_1 0.5, beta_2 0.999, epsilon 1e-8).
    """
    optimizer = keras.optimizers.Adam(
        learning_rate=halving_schedule(learning_rate, halve_every),
        beta_1=beta_1, beta_2=beta_2, epsilon=epsilon, name=name)
    if mixed_precision == "mixed_float16":  # bfloat16 has float32's range: no scaling needed
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer, name=name)
    return optimizer


def current_learning_rate(optimizer) -> float:
    """The learning rate the next update will use."""
    inner = getattr(optimizer, "inner_optimizer", optimizer)
    return float(keras.ops.convert_to_numpy(inner.learning_rate))
