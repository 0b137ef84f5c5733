"""Pose auto-encoder, decoder half: 32-d code -> 54-d keypoint vector (SPEC 2.7)."""

from __future__ import annotations

import keras
from keras import ops

from dpig_tf.models import layers


def straight_through_round(x):
    """round(x) in the forward pass, identity gradient (`binaryRound`, SPEC 8.1)."""
    return x + ops.stop_gradient(ops.round(x) - x)


@keras.saving.register_keras_serializable(package="dpig_tf")
class PoseDecoder(keras.Model):
    """`PoseDecoderFCRes`: linear FC, residual FC blocks, coordinate and visibility heads.

    Call with a code (B, embedding_dim); returns ONE float32 (B, 3*num_joints) pose
    vector interleaved per joint [r0, c0, v0, r1, c1, v1, ...], the layout of
    the encoder input (and of the MSE target). r, c come from a linear head
    (2*num_joints, interleaved [r0, c0, r1, c1, ...]); v = round(sigmoid(.))
    with a straight-through (identity) gradient, so it is exactly 0 or 1.

    Args:
        hidden: FC width (512).
        blocks: number of `ResidualDense` blocks (4).
        num_joints: 18.

    Reference: SPEC 2.7 (PoseAE decoder; trainer.py:642-657), 8.1.
    """

    def __init__(self, hidden: int = 512, blocks: int = 4, num_joints: int = 18, **kwargs):
        super().__init__(**kwargs)
        self.hidden = int(hidden)
        self.blocks = int(blocks)
        self.num_joints = int(num_joints)
        self.fc_in = keras.layers.Dense(self.hidden, name="fc_in")  # linear (SPEC 2.7)
        # Numbered attributes, not a list (see `layers.layer_sequence`).
        for i in range(self.blocks):
            setattr(self, f"res_{i}", layers.ResidualDense(self.hidden, name=f"res_{i}"))
        self.coords = keras.layers.Dense(2 * self.num_joints, name="coords")
        self.visibility = keras.layers.Dense(self.num_joints, name="visibility")

    @property
    def res_blocks(self) -> list:
        return layers.layer_sequence(self, "res_", self.blocks)

    def build(self, input_shape):
        layers.build_by_tracing(self, input_shape)

    def call(self, code, training=None):
        x = self.fc_in(code)
        for block in self.res_blocks:
            x = block(x)
        coords = ops.reshape(self.coords(x), (-1, self.num_joints, 2))
        vis = straight_through_round(ops.sigmoid(self.visibility(x)))
        out = ops.concatenate([coords, vis[:, :, None]], axis=-1)  # (B, J, 3)
        return ops.cast(ops.reshape(out, (-1, 3 * self.num_joints)), "float32")

    def get_config(self):
        return {"name": self.name, "hidden": self.hidden, "blocks": self.blocks,
                "num_joints": self.num_joints}
