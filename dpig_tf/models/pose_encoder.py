"""Pose auto-encoder, encoder half: 54-d keypoint vector -> 32-d code (SPEC 2.7)."""

from __future__ import annotations

import keras
from keras import ops

from dpig_tf.models import layers


@keras.saving.register_keras_serializable(package="dpig_tf")
class PoseEncoder(keras.Model):
    """`PoseEncoderFCRes`: FC -> LReLU, residual FC blocks, linear FC to the code.

    Call with the pose vector (B, 54), interleaved per joint [r0, c0, v0, ...]
    with r, c in [-1, 1] (missing joints (-1, -1, 0)); returns float32
    (B, embedding_dim) (also under mixed precision).

    Args:
        hidden: FC width (512).
        blocks: number of `ResidualDense` blocks (4).
        embedding_dim: code size (32).

    Reference: SPEC 2.7 (PoseAE encoder), 8.1 (LReLU 0.2, Glorot-uniform).
    """

    def __init__(self, hidden: int = 512, blocks: int = 4, embedding_dim: int = 32, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.blocks = int(blocks)
        self.embedding_dim = int(embedding_dim)
        self.fc_in = keras.layers.Dense(self.hidden, name="fc_in")
        # Numbered attributes, not a list (see `layers.layer_sequence`).
        for i in range(self.blocks):
            setattr(self, f"res_{i}", layers.ResidualDense(self.hidden, name=f"res_{i}"))
        self.fc_out = keras.layers.Dense(self.embedding_dim, name="fc_out")

    @property
    def res_blocks(self) -> list:
        return layers.layer_sequence(self, "res_", self.blocks)

    def build(self, input_shape):
        layers.build_by_tracing(self, input_shape)

    def call(self, pose_vector, training=None):
        x = ops.leaky_relu(self.fc_in(pose_vector), layers.LEAKY_SLOPE)
        for block in self.res_blocks:
            x = block(x)
        return ops.cast(self.fc_out(x), "float32")

    def get_config(self):
        return {"name": self.name, "hidden": self.hidden, "blocks": self.blocks,
                "embedding_dim": self.embedding_dim}
