"""Stage-I Adam: parameters and the halving schedule (SPEC 2.6)."""

import keras
import numpy as np
import pytest

from dpig_tf.training import optimizers


def test_learning_rate_halves_every_decay_steps():
    schedule = optimizers.halving_schedule(2e-5, 50_000)
    for step, lr in ((0, 2e-5), (49_999, 2e-5), (50_000, 1e-5), (120_000, 5e-6)):
        assert float(schedule(step)) == pytest.approx(lr)


def test_adam_parameters_and_current_learning_rate():
    opt = optimizers.adam(2e-4, 0.5, 0.999, 1e-8, 2)
    assert isinstance(opt, keras.optimizers.Adam)
    assert (opt.beta_1, opt.beta_2, opt.epsilon) == (0.5, 0.999, 1e-8)
    var = keras.Variable(np.ones(3, np.float32))
    opt.build([var])
    assert optimizers.current_learning_rate(opt) == pytest.approx(2e-4)
    for _ in range(2):
        opt.apply([np.ones(3, np.float32)], [var])
    assert optimizers.current_learning_rate(opt) == pytest.approx(1e-4)


def test_mixed_float16_wraps_adam_in_loss_scaling():
    opt = optimizers.adam(2e-4, 0.5, 0.999, 1e-8, 10, mixed_precision="mixed_float16")
    assert isinstance(opt, keras.optimizers.LossScaleOptimizer)
    assert optimizers.current_learning_rate(opt) == pytest.approx(2e-4)
