"""Pytest options and markers shared by every test.

- `large` tests (full-size networks, long runs) run only with --run_large.
- `gpu` tests need a GPU / TensorRT and are skipped where there is none.
Logical CPU devices for distribution tests are configured per test process by
`dpig_tf.testing.devices.use_logical_cpus` before TensorFlow initialises them.
"""

import os

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_addoption(parser):
    parser.addoption("--run_large", action="store_true", default=False,
                     help="also run tests marked `large` (slow, full-size)")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run_large"):
        return
    skip_large = pytest.mark.skip(reason="large test: run with --run_large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip_large)


def _split_cpu_for_distribution_tests():
    # Two logical CPU devices for MirroredStrategy tests (STACK.md 2.1). This must
    # happen before TensorFlow initialises its devices, hence at conftest import.
    import tensorflow as tf

    cpus = tf.config.list_physical_devices("CPU")
    try:
        tf.config.set_logical_device_configuration(
            cpus[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    except RuntimeError:  # devices already initialised by an earlier import
        pass


_split_cpu_for_distribution_tests()
