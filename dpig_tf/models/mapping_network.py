"""Stage-II mapping network: Gaussian noise -> one factor's embedding space.

The original `models.GaussianFCRes` (SPEC 3.1): one class serves the
foreground (224 -> 224, h 512), background (128 -> 128, h 256) and pose
(32 -> 32, h 512) factors, chosen by its arguments.
"""

from __future__ import annotations

import keras

from dpig_tf.models.layers import LEAKY_SLOPE
from dpig_tf.models.layers import ResidualDense
from dpig_tf.models.layers import layer_sequence


@keras.saving.register_keras_serializable(package="dpig_tf")
class MappingNetwork(keras.Model):
    """Maps noise z ~ N(0, sigma^2 I) of size `dim` to an embedding of size `dim`.

    FC dim->hidden + LReLU(0.2), `blocks` residual blocks
    [FC hidden->hidden LReLU, FC hidden->hidden LReLU, + identity], FC hidden->dim
    linear. Dense kernels are Glorot-uniform, biases zero (the slim default).

    Args:
        dim: noise size = embedding size (224 foreground, 128 background, 32 pose).
        hidden: width of the hidden layers (512, 256, 512).
        blocks: number of residual blocks (4).

    Reference:
        SPEC.md section 3.1 (`models.GaussianFCRes`); parameter counts section 7.
    """

    def __init__(self, dim: int, hidden: int, blocks: int = 4, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden = int(hidden)
        self.blocks = int(blocks)
        self.input_fc = keras.layers.Dense(self.hidden, name="input_fc")
        for i in range(self.blocks):  # numbered attributes: see layers.layer_sequence
            setattr(self, f"block_{i}", ResidualDense(self.hidden, name=f"block_{i}"))
        self.output_fc = keras.layers.Dense(self.dim, name="output_fc")

    @property
    def residual_blocks(self):
        return layer_sequence(self, "block_", self.blocks)

    def build(self, input_shape):
        self.input_fc.build((None, self.dim))
        for block in self.residual_blocks:
            block.build((None, self.hidden))
        self.output_fc.build((None, self.hidden))
        self.built = True

    def call(self, noise):
        x = keras.ops.leaky_relu(self.input_fc(noise), LEAKY_SLOPE)
        for block in self.residual_blocks:
            x = block(x)
        return self.output_fc(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (self.dim,)

    def get_config(self):
        return {"dim": self.dim, "hidden": self.hidden, "blocks": self.blocks,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
