"""Runtime: strategies, device configuration after TF init, precision policy."""

import keras
import pytest
import tensorflow as tf

from dpig_tf.config import ConfigError
from dpig_tf.training import runtime


def test_default_strategy_is_one_replica_and_chief():
    strategy = runtime.make_strategy("default")
    assert strategy.num_replicas_in_sync == 1 and runtime.is_chief(strategy)


@pytest.mark.distributed
def test_mirrored_strategy_uses_the_logical_cpus():
    runtime.configure_devices(num_cpu_devices=2)  # conftest already made 2: a no-op
    strategy = runtime.make_strategy("mirrored")
    assert strategy.num_replicas_in_sync == 2 and runtime.is_chief(strategy)


def test_changing_the_device_count_after_init_is_a_clear_error():
    tf.constant(1.0)  # TF is initialised
    with pytest.raises(ConfigError, match="runtime.num_cpu_devices=3"):
        runtime.configure_devices(num_cpu_devices=3)


def test_unknown_strategy():
    with pytest.raises(ConfigError, match="runtime.strategy"):
        runtime.make_strategy("tpu")


def test_precision_policy():
    try:
        runtime.set_precision("mixed_bfloat16")
        assert keras.mixed_precision.global_policy().compute_dtype == "bfloat16"
    finally:
        runtime.set_precision("float32")
