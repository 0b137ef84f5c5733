"""Multiply-accumulate (MAC) counts of built Keras models, from layer shapes (SPEC 7).

`count_macs(model, input_shape)` traces the model symbolically (no arithmetic
is run) on a batch-1 input while recording the input and output shape of every
`Conv2D` and `Dense` call:
  - Conv2D: MACs = N_out * H_out * W_out * k_h * k_w * C_in * C_out / groups,
  - Dense:  MACs = (rows of the output) * in * out,
where N_out is the number of images the layer actually processed, so a shared
trunk applied to the 7 ROI crops of one image is counted 7 times. Biases,
activations, normalisation, resampling and additions are not counted (the
convention of SPEC 7 and of shared/bench). The result is per input image.
"""

from __future__ import annotations

import contextlib
import math

import keras
import tensorflow as tf


def _conv_macs(layer, in_shape, out_shape) -> int:
    k = math.prod(layer.kernel_size)
    c_in = in_shape[-1]
    return math.prod(out_shape) * k * c_in // layer.groups


def _dense_macs(layer, in_shape, out_shape) -> int:
    return math.prod(out_shape) * in_shape[-1]


@contextlib.contextmanager
def _recording(model: keras.layers.Layer, records: list):
    patched = []
    for layer in model._flatten_layers(include_self=False, recursive=True):
        if isinstance(layer, keras.layers.Conv2D):
            rule = _conv_macs
        elif isinstance(layer, keras.layers.Dense):
            rule = _dense_macs
        else:
            continue
        original = layer.call

        def wrapped(x, *args, _layer=layer, _orig=original, _rule=rule, **kwargs):
            y = _orig(x, *args, **kwargs)
            records.append((_layer, _rule, tuple(x.shape), tuple(y.shape)))
            return y

        layer.call = wrapped
        patched.append((layer, original))
    try:
        yield
    finally:
        for layer, _ in patched:
            del layer.call  # drop the instance attribute, back to the class method


def macs_by_layer(model: keras.layers.Layer, input_shape, batch: int = 1) -> dict[str, int]:
    """MACs per image of every Conv2D/Dense call, keyed by the layer's path.

    A layer called several times (none in DPIG) accumulates. See `count_macs`.
    """
    specs = keras.tree.map_shape_structure(
        lambda s: tf.TensorSpec((batch,) + tuple(s), tf.float32), input_shape)
    records: list = []
    with _recording(model, records):
        # Tracing builds a graph but runs no arithmetic.
        tf.function(lambda x: model.call(x)).get_concrete_function(specs)
    result: dict[str, int] = {}
    for layer, rule, in_shape, out_shape in records:
        if any(d is None for d in in_shape[1:] + out_shape):
            raise ValueError(f"count_macs: layer {layer.name} has an unknown dimension "
                             f"(in {in_shape}, out {out_shape}); trace with static shapes")
        result[layer.path] = result.get(layer.path, 0) + rule(layer, in_shape, out_shape) // batch
    return result


def count_macs(model: keras.layers.Layer, input_shape, batch: int = 1) -> int:
    """MACs per image of one forward pass of a built model.

    Args:
        model: a built Keras layer/model.
        input_shape: its input shape structure WITHOUT the batch axis, e.g.
            `(128, 64, 3)`, `[(352,), (128, 64, 18)]` or a dict of such shapes.
        batch: batch size of the trace (the result is divided by it).
    """
    return sum(macs_by_layer(model, input_shape, batch).values())
