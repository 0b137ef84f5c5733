"""DCGAN discriminator D with always-batch-statistics BatchNorm (SPEC 2.4, 2.8, 8.2 #7)."""

from __future__ import annotations

import math

import keras
from keras import ops

from dpig_tf.models import layers

HEADS = ("flatten", "channel_chunks", "five_conv")
_INIT_LIMIT = 0.02 * math.sqrt(3.0)  # U(+-0.02*sqrt(3)) has std 0.02 (tflib)


@keras.saving.register_keras_serializable(package="dpig_tf")
class Discriminator(keras.Model):
    """tflib `DCGANDiscriminator`: 5x5 stride-2 convs, BN, LReLU(0.2), linear logits.

    Call with images (B, H, W, 3); returns float32 logits (B, k).
    - conv5x5 s2 (3 -> d), LReLU; conv5x5 s2 d -> 2d, 2d -> 4d, 4d -> 8d, each
      followed by BatchNorm and LReLU (Market: 8 x 4 x 512).
    - BatchNorm (epsilon 1e-5, learned scale/offset) ALWAYS uses the statistics
      of the current batch, in training and inference calls alike, like tflib's
      fused BN; `synchronized=True` so that under MirroredStrategy the statistics
      are those of the global batch. Its moving averages are updated but never
      used (1,792 non-trainable values on Market).
    - Kernels of convs and of the output linear: U(+-0.02*sqrt(3)); biases 0.

    Heads:
      - "flatten" (Market): flatten (NHWC order) -> Linear -> 1 logit (k = 1).
      - "channel_chunks": replicates the original's hard-coded
        `reshape(-1, 16384)` on the NCHW map (SPEC 2.8, 8.2 #7): transpose to
        channels-first, reshape to rows of `chunk_size` values, one shared
        Linear per row, so a 256x256 DeepFashion image gives 8 logits
        (each row = 64 channels over the whole 16x16 map). On a Market image
        (8*4*512 = 16384 values) it is a single logit, equal to "flatten"
        up to a permutation of the Linear weights.
      - "five_conv": one more conv5x5 s2 (8d -> 8d) + BN + LReLU before the
        flatten, so a 256x256 image reaches an 8x8x512 map and gives ONE logit
        (the 5-conv `DCGANDiscriminator_256` of PG2's DeepFashion model).

    Args:
        dim: base width d (64).
        head: "flatten", "channel_chunks" or "five_conv".
        chunk_size: row length of the "channel_chunks" reshape (16384 in the original).

    Reference: SPEC 2.4 (`wgan_gp.DCGANDiscriminator`), 2.8, 8.1, 8.2 #7.
    """

    def __init__(self, dim: int = 64, head: str = "flatten", chunk_size: int = 16384, **kwargs):
        super().__init__(**kwargs)
        if head not in HEADS:
            raise ValueError(f"Discriminator: head must be one of {HEADS}, got {head!r}")
        self.dim = int(dim)
        self.head = head
        self.chunk_size = int(chunk_size)
        widths = [self.dim, 2 * self.dim, 4 * self.dim, 8 * self.dim]
        if head == "five_conv":
            widths.append(8 * self.dim)
        init = keras.initializers.RandomUniform(-_INIT_LIMIT, _INIT_LIMIT)
        self.num_convs = len(widths)
        # Numbered attributes, not lists (see `layers.layer_sequence`).
        for i, w in enumerate(widths):
            setattr(self, f"conv_{i}", keras.layers.Conv2D(
                w, 5, strides=2, padding="same", kernel_initializer=init,
                bias_initializer="zeros", name=f"conv_{i}"))
        # No BN after the first conv (tflib DCGANDiscriminator).
        for i in range(1, len(widths)):
            setattr(self, f"bn_{i}", keras.layers.BatchNormalization(
                epsilon=1e-5, synchronized=True, name=f"bn_{i}"))
        self.flatten = keras.layers.Flatten(name="flatten")
        self.logits = keras.layers.Dense(1, kernel_initializer=init, bias_initializer="zeros",
                                         name="logits")

    @property
    def convs(self) -> list:
        return layers.layer_sequence(self, "conv_", self.num_convs)

    @property
    def norms(self) -> list:
        """BN after convs 1..; `norms[i]` follows `convs[i + 1]`."""
        return [getattr(self, f"bn_{i}") for i in range(1, self.num_convs)]

    def build(self, input_shape):
        layers.build_by_tracing(self, input_shape)

    def call(self, images, training=None):
        # `training` is deliberately ignored: BN always normalises with the batch
        # statistics (SPEC 2.4).
        x = ops.leaky_relu(self.convs[0](images), layers.LEAKY_SLOPE)
        for conv, norm in zip(self.convs[1:], self.norms):
            x = ops.leaky_relu(norm(conv(x), training=True), layers.LEAKY_SLOPE)
        if self.head == "channel_chunks":
            total = x.shape[1] * x.shape[2] * x.shape[3]
            if total % self.chunk_size:
                raise ValueError(
                    f"Discriminator(head='channel_chunks', chunk_size={self.chunk_size}): the "
                    f"final map {tuple(x.shape[1:])} has {total} values per image, not a "
                    f"multiple of chunk_size")
            x = ops.transpose(x, (0, 3, 1, 2))  # NCHW, as the original ran D
            rows = ops.reshape(x, (-1, self.chunk_size))
            logits = ops.reshape(self.logits(rows), (-1, total // self.chunk_size))
        else:
            logits = self.logits(self.flatten(x))
        return ops.cast(logits, "float32")

    def get_config(self):
        return {"name": self.name, "dim": self.dim, "head": self.head,
                "chunk_size": self.chunk_size}
