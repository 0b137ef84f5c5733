"""Shared checks for Keras layers and models (a `run_layer_test` for dpig_tf networks).

`run_network_test` checks, for one network class and one set of constructor
arguments:
  1. the call on real inputs gives the expected output shape(s) and dtype(s),
     and the same values inside a `tf.function` (graph mode);
  2. `get_config()` holds exactly the constructor arguments (plus `name`) and
     `from_config(get_config())` rebuilds a model with the same config;
  3. a `.keras` save / `keras.models.load_model` round trip gives the same
     outputs on the same inputs, and so does a `tf.train.Checkpoint` round trip
     into a fresh model, whose checkpoint holds EVERY variable (layers kept in
     Python lists are invisible to TF's object graph);
  4. under the `mixed_bfloat16` policy a fresh model runs, has bf16 compute
     variables where expected and returns finite outputs of the expected dtype.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import tempfile

import keras
import numpy as np
import tensorflow as tf


@contextlib.contextmanager
def dtype_policy(name: str):
    """Temporarily sets the global Keras dtype policy (e.g. "mixed_bfloat16")."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(name)
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)


def constructor_args(cls) -> set[str]:
    """Names of the explicit constructor arguments of `cls` (without self/**kwargs)."""
    params = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in params
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _to_numpy(structure):
    return tf.nest.map_structure(lambda t: np.asarray(t), structure)


def assert_allclose_structure(actual, expected, atol=1e-6, rtol=1e-6):
    tf.nest.assert_same_structure(actual, expected)
    for a, e in zip(tf.nest.flatten(actual), tf.nest.flatten(expected)):
        np.testing.assert_allclose(np.asarray(a, np.float32), np.asarray(e, np.float32),
                                   atol=atol, rtol=rtol)


def _check_shapes_dtypes(outputs, expected_shape, expected_dtype):
    flat = tf.nest.flatten(outputs)
    shapes = [expected_shape] if isinstance(expected_shape, tuple) else list(expected_shape)
    assert len(flat) == len(shapes), f"expected {len(shapes)} outputs, got {len(flat)}"
    for out, shape in zip(flat, shapes):
        assert tuple(out.shape) == tuple(shape), f"output shape {tuple(out.shape)} != {shape}"
        if expected_dtype is not None:
            assert out.dtype == tf.as_dtype(expected_dtype), \
                f"output dtype {out.dtype} != {expected_dtype}"


def run_network_test(cls, init_kwargs: dict, inputs, expected_output_shape,
                     expected_output_dtype="float32", mixed_precision_dtype="float32",
                     atol: float = 1e-6, check_mixed_precision: bool = True):
    """Runs the standard checks (see module docstring); returns the built model.

    Args:
        cls: the registered layer/model class.
        init_kwargs: constructor arguments.
        inputs: a numpy/tensor structure as the model is called with.
        expected_output_shape: shape tuple (or list of shape tuples).
        expected_output_dtype: output dtype under float32.
        mixed_precision_dtype: output dtype under mixed_bfloat16 (None = don't check).
        atol: tolerance of the graph-mode and reload comparisons.
        check_mixed_precision: run step 4.
    """
    model = cls(**init_kwargs)
    outputs = model(inputs)
    _check_shapes_dtypes(outputs, expected_output_shape, expected_output_dtype)
    assert model.built, f"{cls.__name__} is not built after a call"

    # Graph mode gives the same values.
    graph_outputs = tf.function(lambda x: model(x))(inputs)
    assert_allclose_structure(graph_outputs, outputs, atol=atol)

    # Config holds exactly the constructor arguments and round-trips.
    config = model.get_config()
    expected_keys = constructor_args(cls)
    extra = set(config) - expected_keys - {"name", "trainable", "dtype"}
    missing = expected_keys - set(config)
    assert not extra and not missing, \
        f"{cls.__name__}.get_config(): extra keys {extra}, missing constructor args {missing}"
    for key, value in init_kwargs.items():
        got = config[key]
        if isinstance(got, dict) and "class_name" in got:  # serialized objects
            continue
        assert got == value, f"get_config()[{key!r}] = {got!r}, constructed with {value!r}"
    clone = cls.from_config(config)
    assert clone.get_config() == config
    clone_outputs = clone(inputs)
    _check_shapes_dtypes(clone_outputs, expected_output_shape, expected_output_dtype)

    # .keras round trip: same class, same outputs.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "model.keras")
        if isinstance(model, keras.Model):
            model.save(path)
            restored = keras.models.load_model(path)
        else:
            wrapper = _wrap_layer(model, inputs)
            wrapper.save(path)
            restored = keras.models.load_model(path).layers[-1]
        assert type(restored) is cls, f"reloaded a {type(restored).__name__}, not {cls.__name__}"
        assert_allclose_structure(restored(inputs), outputs, atol=atol)

    # tf.train.Checkpoint sees every variable and restores into a fresh model.
    assert_checkpoint_round_trip(model, cls.from_config(config), inputs, outputs, atol=atol)

    if check_mixed_precision:
        with dtype_policy("mixed_bfloat16"):
            # Without the saved "dtype" entry, so the global policy applies.
            mixed = cls.from_config({k: v for k, v in config.items() if k != "dtype"})
            mixed_outputs = mixed(inputs)
        for out in tf.nest.flatten(mixed_outputs):
            assert np.all(np.isfinite(np.asarray(out, np.float32))), "non-finite bf16 output"
        _check_shapes_dtypes(mixed_outputs, expected_output_shape, mixed_precision_dtype)
    return model


def assert_checkpoint_round_trip(model, fresh, inputs, outputs, atol: float = 1e-6):
    """Saves `model` with tf.train.Checkpoint, restores into `fresh`, compares outputs.

    Also checks that the checkpoint holds one value per model variable.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = tf.train.Checkpoint(net=model).save(os.path.join(tmp, "ckpt"))
        stored = [name for name, _ in tf.train.list_variables(path)
                  if name.startswith("net/") and name.endswith(".ATTRIBUTES/VARIABLE_VALUE")]
        assert len(stored) == len(model.weights), (
            f"checkpoint holds {len(stored)} variables, {model.name} has {len(model.weights)}")
        fresh(inputs)  # build
        tf.train.Checkpoint(net=fresh).restore(path).assert_existing_objects_matched()
    assert_allclose_structure(fresh(inputs), outputs, atol=atol)


def _wrap_layer(layer, inputs):
    """A functional model around a single layer so it can be saved as `.keras`."""
    specs = tf.nest.map_structure(
        lambda t: keras.Input(shape=tuple(np.shape(t))[1:], batch_size=np.shape(t)[0]), inputs)
    return keras.Model(specs, layer(specs))


def random_encoder_inputs(batch: int, height: int, width: int, num_parts: int = 7,
                          seed: int = 0) -> dict:
    """A random but well-formed `AppearanceEncoder` input dict (float32 numpy).

    Boxes are integer pixel boxes [y1, x1, y2, x2] inside the image (as the data
    pipeline makes them); the last ROI of every image is missing (vis 0, box
    [0, 0, 1, 1], SPEC 1.6).
    """
    rng = np.random.default_rng(seed)
    image = rng.uniform(-1, 1, (batch, height, width, 3)).astype("float32")
    mask = np.zeros((batch, height, width, 1), "float32")
    mask[:, height // 8: height - height // 8, width // 4: width - width // 4] = 1.0
    y = np.sort(rng.integers(0, height, (batch, num_parts, 2)), axis=-1)
    x = np.sort(rng.integers(0, width, (batch, num_parts, 2)), axis=-1)
    boxes = np.stack([y[..., 0], x[..., 0], y[..., 1], x[..., 1]], axis=-1).astype("float32")
    vis = np.ones((batch, num_parts), "float32")
    boxes[:, -1] = [0, 0, 1, 1]
    vis[:, -1] = 0.0
    return {"image": image, "pose_mask": mask, "roi_boxes": boxes, "roi_vis": vis}
