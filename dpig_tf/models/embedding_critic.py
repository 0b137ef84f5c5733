"""Stage-II critic: scores an embedding as real (Stage-I encoder) or mapped.

The original `wgan_gp.FCDiscriminator` with FC_DIM 512 and n_layers 3 (SPEC 3.2).
"""

from __future__ import annotations

import keras

from dpig_tf.models.layers import LEAKY_SLOPE
from dpig_tf.models.layers import layer_sequence


@keras.saving.register_keras_serializable(package="dpig_tf")
class EmbeddingCritic(keras.Model):
    """WGAN critic over one factor's embeddings: (B, dim) -> (B, 1) unbounded score.

    Linear dim->hidden + LReLU(0.2), then `layers` x [Linear hidden->hidden +
    LReLU(0.2)] (He-uniform kernels), then Linear hidden->1 (Glorot-uniform,
    wgan_gp.py:403). Biases start at zero.

    Args:
        dim: embedding size (224 foreground, 128 background, 32 pose).
        hidden: width of the hidden layers (512).
        layers: number of hidden hidden->hidden layers (3).

    Reference:
        SPEC.md section 3.2; parameter counts section 7.
    """

    def __init__(self, dim: int, hidden: int = 512, layers: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.dim = int(dim)
        self.hidden = int(hidden)
        self.num_layers = int(layers)
        for i in range(self.num_layers + 1):  # numbered attributes: see layers.layer_sequence
            setattr(self, f"fc{i}", keras.layers.Dense(
                self.hidden, kernel_initializer="he_uniform", name=f"fc{i}"))
        self.output_fc = keras.layers.Dense(1, kernel_initializer="glorot_uniform",
                                            name="output_fc")

    @property
    def hidden_fcs(self):
        return layer_sequence(self, "fc", self.num_layers + 1)

    def build(self, input_shape):
        width = self.dim
        for fc in self.hidden_fcs:
            fc.build((None, width))
            width = self.hidden
        self.output_fc.build((None, self.hidden))
        self.built = True

    def call(self, embedding):
        x = embedding
        for fc in self.hidden_fcs:
            x = keras.ops.leaky_relu(fc(x), LEAKY_SLOPE)
        return self.output_fc(x)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[:-1]) + (1,)

    def get_config(self):
        return {"dim": self.dim, "hidden": self.hidden, "layers": self.num_layers,
                "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)
