"""The training runtime: devices, threads, tf.distribute strategy, seed, precision policy.

`setup(runtime_cfg)` must run before TensorFlow initialises its devices (before the first op):
logical CPU devices and thread pools cannot be changed afterwards. It returns the strategy in
which every variable-owning object is then created (STACK.md 2.1).

Reference: STACK.md 2.1 (MirroredStrategy on logical CPUs), 2.4 (MultiWorkerMirroredStrategy
only through a custom loop).
"""

from __future__ import annotations

import json
import os

import keras
import tensorflow as tf

from dpig_tf.config import ConfigError


def configure_devices(num_cpu_devices: int = 0, intra_op_threads: int = 0,
                      inter_op_threads: int = 0) -> None:
    """Splits the CPU into logical devices and sets the thread pools (before TF init).

    If TensorFlow is already initialised with the requested device count (e.g. by
    tests/conftest.py), this is a no-op; a different count is a clear error.
    """
    if num_cpu_devices:
        cpus = tf.config.list_physical_devices("CPU")
        try:
            tf.config.set_logical_device_configuration(
                cpus[0], [tf.config.LogicalDeviceConfiguration()] * num_cpu_devices)
        except RuntimeError:
            have = len(tf.config.list_logical_devices("CPU"))
            if have != num_cpu_devices:
                raise ConfigError(
                    f"runtime.num_cpu_devices={num_cpu_devices}, but TensorFlow is already "
                    f"initialised with {have} CPU device(s); set it before any TF op runs"
                ) from None
    for setter, value in ((tf.config.threading.set_intra_op_parallelism_threads, intra_op_threads),
                          (tf.config.threading.set_inter_op_parallelism_threads, inter_op_threads)):
        if value:
            try:
                setter(value)
            except RuntimeError:  # already initialised: keep TF's pools (tests share a process)
                pass


def mirrored_strategy(devices: list[str]) -> tf.distribute.MirroredStrategy:
    """MirroredStrategy over `devices`; on CPUs without collective ops.

    On CPU devices the all-reduce goes through `ReductionToOneDevice`: there is no NCCL to
    gain from, and collective ops key their instances process-wide, so two strategies in one
    process (tests, notebooks) can collide ("Shape mismatch in the collective instance").
    """
    on_cpu = all("CPU" in d.upper() for d in devices)
    cross_device_ops = tf.distribute.ReductionToOneDevice() if on_cpu else None
    return tf.distribute.MirroredStrategy(devices=devices, cross_device_ops=cross_device_ops)


def make_strategy(kind: str) -> tf.distribute.Strategy:
    """`default` (one device), `mirrored` (all GPUs, else all logical CPUs) or `multi_worker`."""
    if kind == "default":
        return tf.distribute.get_strategy()
    if kind == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in (gpus or tf.config.list_logical_devices("CPU"))]
        return mirrored_strategy(devices)
    if kind == "multi_worker":
        if "TF_CONFIG" in os.environ:
            try:
                json.loads(os.environ["TF_CONFIG"])
            except json.JSONDecodeError as err:
                raise ConfigError(f"runtime.strategy=multi_worker: TF_CONFIG is not JSON: {err}")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ConfigError(f"runtime.strategy must be default, mirrored or multi_worker; got {kind!r}")


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes files (always true outside multi-worker training)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type in ("chief",) or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict())


def set_precision(policy: str) -> None:
    """Sets the Keras dtype policy (float32, mixed_bfloat16 or mixed_float16) for new layers."""
    keras.mixed_precision.set_global_policy(policy)


def set_seed(seed: int) -> None:
    """Seeds Python, NumPy, TensorFlow and Keras' global seed generator."""
    keras.utils.set_random_seed(seed)


def setup(runtime) -> tf.distribute.Strategy:
    """Devices, threads, strategy, seed and precision from a `RuntimeConfig`."""
    configure_devices(runtime.num_cpu_devices, runtime.intra_op_threads, runtime.inter_op_threads)
    strategy = make_strategy(runtime.strategy)
    set_seed(runtime.seed)
    set_precision(runtime.mixed_precision)
    return strategy
