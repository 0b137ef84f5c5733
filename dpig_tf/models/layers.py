"""Small building blocks shared by the DPIG networks (SPEC 0.3, 2.1, 2.3, 2.7, 3.1).

- `conv3`: the slim-style 3x3 SAME conv with bias, Glorot-uniform kernel, zero
  bias and (by default) ReLU.
- `ResidualUnit`: [conv3 -> conv3] + input, at a fixed width.
- `ResidualTrunk`: the stage recipe of the encoder trunks and of the generator's
  encoder: stage k is a `ResidualUnit` at n*(k+1) channels, followed (except for
  the last stage) by a stride-2 conv3 to n*(k+2) channels.
- `Tile`: broadcasts an embedding (B, E) over the spatial size of a map.
- `ResidualDense`: [FC h->h LReLU, FC h->h LReLU] + input, the block of the pose
  auto-encoder and of the Stage-II mapping networks.
- `layer_sequence`: reads back sub-layers stored as numbered attributes.
- `build_by_tracing`: builds a subclassed model's sub-layers from input shapes
  by tracing `call` symbolically (no computation), used by every model's
  `build` so `.keras` files reload without a sample input.
"""

from __future__ import annotations

import keras
from keras import ops

LEAKY_SLOPE = 0.2  # LReLU slope of all FC nets and of D (SPEC 2.4, 2.7)


def conv3(filters: int, strides: int = 1, activation: str | None = "relu",
          name: str | None = None, dtype=None) -> keras.layers.Conv2D:
    """slim.conv2d(kernel 3, SAME): bias, Glorot-uniform kernel, zero bias (SPEC 0.3, 8.1)."""
    return keras.layers.Conv2D(
        filters, 3, strides=strides, padding="same", activation=activation,
        kernel_initializer="glorot_uniform", bias_initializer="zeros", name=name, dtype=dtype)


def layer_sequence(owner, prefix: str, count: int) -> list:
    """[owner.<prefix>0, ..., owner.<prefix><count-1>].

    Networks store repeated sub-layers as numbered attributes rather than in a
    Python list, because TensorFlow's object-graph checkpoints
    (`tf.train.Checkpoint`) do not track layers held in Keras 3 lists: their
    variables would silently be missing from every checkpoint.
    """
    return [getattr(owner, f"{prefix}{i}") for i in range(count)]


def build_by_tracing(layer: keras.layers.Layer, input_shape) -> None:
    """Creates all sub-layer weights of `layer` by a symbolic call on `input_shape`.

    `input_shape` may be a shape tuple or a (nested) list/dict of shapes, exactly
    as Keras records it in `get_build_config`, so this also serves `.keras`
    reloading.
    """
    specs = keras.tree.map_shape_structure(
        lambda s: keras.KerasTensor(tuple(s), dtype="float32"), input_shape)
    layer.compute_output_spec(specs)


@keras.saving.register_keras_serializable(package="dpig_tf")
class ResidualUnit(keras.layers.Layer):
    """Two ReLU conv3 layers at constant width, added to the input.

    Args:
        channels: width of both convolutions (must equal the input width).

    Reference: SPEC 2.1 step 1 (stem residual), 2.1 step 3 (trunk stages), 2.3.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        # Sub-layers follow this layer's dtype policy (not only the global one).
        self.conv_a = conv3(self.channels, name="conv_a", dtype=self.dtype_policy)
        self.conv_b = conv3(self.channels, name="conv_b", dtype=self.dtype_policy)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.channels:
            raise ValueError(f"{self.name}: ResidualUnit(channels={self.channels}) got an input "
                             f"with {input_shape[-1]} channels; they must be equal")
        self.conv_a.build(input_shape)
        self.conv_b.build(tuple(input_shape[:-1]) + (self.channels,))

    def call(self, x):
        return x + self.conv_b(self.conv_a(x))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels)
        return config


@keras.saving.register_keras_serializable(package="dpig_tf")
class ResidualTrunk(keras.layers.Layer):
    """Residual conv trunk: `stages` residual units with stride-2 conv3 between them.

    Stage k (0-based) is a `ResidualUnit` at channels*(k+1); stages k < stages-1
    are followed by a stride-2 ReLU conv3 to channels*(k+2). Spatial size halves
    `stages - 1` times. The input must have `channels` channels.

    Args:
        channels: n, the width unit (128 in the paper).
        stages: number of residual stages (Market 5).
        return_skips: if true, `call` returns (output, [skip_0 .. skip_{S-1}])
            where skip_k is the output of residual stage k (the U-Net skips).

    Reference: SPEC 2.1 step 3 (ROI trunk), 2.1 step 4 (background trunk), 2.3 encoder.
    """

    def __init__(self, channels: int, stages: int, return_skips: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.stages = int(stages)
        self.return_skips = bool(return_skips)
        if self.stages < 1:
            raise ValueError(f"ResidualTrunk: stages must be >= 1, got {stages}")
        # One attribute per sub-layer (not a list): TensorFlow's object-graph
        # checkpoints do not see layers held in Keras-tracked Python lists.
        for k in range(self.stages):
            setattr(self, f"res_{k}", ResidualUnit(self.channels * (k + 1), name=f"res_{k}",
                                                   dtype=self.dtype_policy))
        for k in range(self.stages - 1):
            setattr(self, f"down_{k}", conv3(self.channels * (k + 2), strides=2,
                                             name=f"down_{k}", dtype=self.dtype_policy))

    @property
    def units(self) -> list:
        """The residual stages, in order."""
        return layer_sequence(self, "res_", self.stages)

    @property
    def downs(self) -> list:
        """The stride-2 convs after stages 0..S-2."""
        return layer_sequence(self, "down_", self.stages - 1)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for k, unit in enumerate(self.units):
            unit.build(shape)
            if k < len(self.downs):
                self.downs[k].build(shape)
                shape = self.downs[k].compute_output_shape(shape)

    def call(self, x):
        skips = []
        for k, unit in enumerate(self.units):
            x = unit(x)
            skips.append(x)
            if k < len(self.downs):
                x = self.downs[k](x)
        return (x, skips) if self.return_skips else x

    def get_config(self):
        config = super().get_config()
        config.update(channels=self.channels, stages=self.stages,
                      return_skips=self.return_skips)
        return config


@keras.saving.register_keras_serializable(package="dpig_tf")
class Tile(keras.layers.Layer):
    """Broadcasts an embedding (B, E) to a (B, H, W, E) map of `reference`'s size.

    Called as `Tile()([embedding, reference])` where `reference` is any (B, H, W, C)
    tensor (the heatmaps). The result is constant per channel.

    Reference: SPEC 2.2.
    """

    def call(self, inputs):
        embedding, reference = inputs
        shape = ops.shape(reference)
        tiled = embedding[:, None, None, :]
        return ops.broadcast_to(tiled, (shape[0], shape[1], shape[2], ops.shape(embedding)[-1]))

    def compute_output_shape(self, input_shape):
        e_shape, r_shape = input_shape
        return (r_shape[0], r_shape[1], r_shape[2], e_shape[-1])


@keras.saving.register_keras_serializable(package="dpig_tf")
class ResidualDense(keras.layers.Layer):
    """Residual FC block: [Dense(h) LReLU, Dense(h) LReLU] + input.

    Args:
        units: h, the width of both layers (must equal the input width).
        negative_slope: LReLU slope (0.2, SPEC 2.7).
        kernel_initializer: kernel init of both layers (Glorot-uniform = slim).

    Reference: SPEC 2.7 (pose auto-encoder), 3.1 (mapping networks `GaussianFCRes`).
    """

    def __init__(self, units: int, negative_slope: float = LEAKY_SLOPE,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.negative_slope = float(negative_slope)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.dense_a = keras.layers.Dense(self.units, kernel_initializer=self.kernel_initializer,
                                          name="dense_a", dtype=self.dtype_policy)
        self.dense_b = keras.layers.Dense(self.units, kernel_initializer=self.kernel_initializer,
                                          name="dense_b", dtype=self.dtype_policy)

    def build(self, input_shape):
        if input_shape[-1] is not None and input_shape[-1] != self.units:
            raise ValueError(f"{self.name}: ResidualDense(units={self.units}) got an input of "
                             f"width {input_shape[-1]}; they must be equal")
        self.dense_a.build(input_shape)
        self.dense_b.build(tuple(input_shape[:-1]) + (self.units,))

    def call(self, x):
        h = ops.leaky_relu(self.dense_a(x), self.negative_slope)
        h = ops.leaky_relu(self.dense_b(h), self.negative_slope)
        return x + h

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, negative_slope=self.negative_slope,
                      kernel_initializer=keras.initializers.serialize(self.kernel_initializer))
        return config
