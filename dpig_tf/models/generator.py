"""U-Net generator G on [tiled embedding, pose heatmaps] (SPEC 2.2, 2.3)."""

from __future__ import annotations

import keras
from keras import ops

from dpig_tf.models import layers


@keras.saving.register_keras_serializable(package="dpig_tf")
class Generator(keras.Model):
    """Pose-conditioned U-Net with a linear FC bottleneck and a linear RGB output.

    Call with `[embedding (B, E), heatmaps (B, H, W, J)]`. The embedding is
    tiled to H x W and concatenated as [e, P] (E + J channels, Market 370).
    - Encoder: ReLU conv3(E+J -> n), then `ResidualTrunk(n, stages)` keeping
      the skip s_k after each residual stage (H x W -> H/2^(S-1) x W/2^(S-1)).
    - Bottleneck: flatten -> linear FC(bottleneck_dim) -> linear FC(h*w*n),
      reshaped to (h, w, n).
    - Decoder, k = 0..S-1: concat [decoder features, s_{S-1-k}] (this order,
      models.py:560), `ResidualUnit` at the concatenated width, then for
      k < S-1 a nearest x2 upsample and a ReLU 1x1 conv to n*(S-1-k).
    - Output: conv3(-> 3), linear (no tanh), always float32 (also under mixed
      precision, so losses are computed in float32).
    Market widths after concat: 768, 1024, 768, 512, 256.

    Args:
        channels: n (128).
        stages: S, number of U-Net levels (Market 5, DeepFashion 5 at 256x256).
        bottleneck_dim: FC bottleneck size (64).
        output_channels: 3 (RGB).

    Reference: SPEC 2.2 (tiling), 2.3 (`GeneratorCNN_ID_UAEAfterResidual`), 2.8.
    """

    def __init__(self, channels: int = 128, stages: int = 5, bottleneck_dim: int = 64,
                 output_channels: int = 3, **kwargs):
        super().__init__(**kwargs)
        self.channels = int(channels)
        self.stages = int(stages)
        self.bottleneck_dim = int(bottleneck_dim)
        self.output_channels = int(output_channels)
        n, s = self.channels, self.stages
        self.tile = layers.Tile(name="tile")
        self.conv_in = layers.conv3(n, name="conv_in")
        self.trunk = layers.ResidualTrunk(n, s, return_skips=True, name="encoder_trunk")
        self.flatten = keras.layers.Flatten(name="flatten")
        self.fc_bottleneck = keras.layers.Dense(self.bottleneck_dim, name="fc_bottleneck")
        self.fc_expand = None  # built when H x W is known
        widths, c = [], n
        for k in range(s):
            c = c + n * (s - k)  # + skip s_{S-1-k} width n*(S-k)
            widths.append(c)
            c = n * (s - 1 - k)
        self.decoder_widths = widths
        # Numbered attributes, not lists (see `layers.layer_sequence`).
        for k, width in enumerate(widths):
            setattr(self, f"dec_res_{k}", layers.ResidualUnit(width, name=f"dec_res_{k}"))
        for k in range(s - 1):
            setattr(self, f"dec_up_{k}", keras.layers.UpSampling2D(
                2, interpolation="nearest", name=f"dec_up_{k}"))
            setattr(self, f"dec_conv_{k}", keras.layers.Conv2D(
                n * (s - 1 - k), 1, padding="same", activation="relu", name=f"dec_conv_{k}"))
        self.conv_out = layers.conv3(self.output_channels, activation=None, name="conv_out")

    @property
    def dec_res(self) -> list:
        return layers.layer_sequence(self, "dec_res_", self.stages)

    @property
    def dec_up(self) -> list:
        return layers.layer_sequence(self, "dec_up_", self.stages - 1)

    @property
    def dec_conv(self) -> list:
        return layers.layer_sequence(self, "dec_conv_", self.stages - 1)

    def build(self, input_shape):
        _, heat_shape = input_shape
        if heat_shape[1] is None or heat_shape[2] is None:
            raise ValueError("Generator needs a static heatmap height and width, got "
                             f"shape {tuple(heat_shape)}")
        h, w = self._bottleneck_hw(heat_shape[1], heat_shape[2])
        self.fc_expand = keras.layers.Dense(h * w * self.channels, name="fc_expand")
        layers.build_by_tracing(self, input_shape)

    def _bottleneck_hw(self, height, width):
        div = 2 ** (self.stages - 1)
        if height % div or width % div:
            raise ValueError(f"Generator(stages={self.stages}): heatmaps of {height}x{width} "
                             f"cannot be halved {self.stages - 1} times; both sides must be "
                             f"divisible by {div}")
        return height // div, width // div

    def call(self, inputs, training=None):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            raise ValueError("Generator expects [embedding (B, E), heatmaps (B, H, W, J)]")
        embedding, heatmaps = inputs
        height, width = heatmaps.shape[1], heatmaps.shape[2]
        if height is None or width is None:
            raise ValueError("Generator needs a static heatmap height and width, got "
                             f"shape {tuple(heatmaps.shape)}")
        x = ops.concatenate([self.tile([embedding, heatmaps]), heatmaps], axis=-1)  # [e, P]
        return self.after_input_conv(self.conv_in(x))

    def after_input_conv(self, x):
        """The network after its first conv: (B, H, W, n) features -> (B, H, W, 3) image.

        Exposed so that a video decoder can compute the first conv's constant appearance part
        once per video and run only this per frame (export/video_decoder.py).
        """
        height, width = x.shape[1], x.shape[2]
        h, w = self._bottleneck_hw(height, width)
        x, skips = self.trunk(x)
        x = self.fc_expand(self.fc_bottleneck(self.flatten(x)))  # no activation on either FC
        x = ops.reshape(x, (-1, h, w, self.channels))
        dec_res, dec_up, dec_conv = self.dec_res, self.dec_up, self.dec_conv
        for k in range(self.stages):
            x = ops.concatenate([x, skips[self.stages - 1 - k]], axis=-1)  # [decoder, skip]
            x = dec_res[k](x)
            if k < self.stages - 1:
                x = dec_conv[k](dec_up[k](x))
        return ops.cast(self.conv_out(x), "float32")

    def get_config(self):
        return {"name": self.name, "channels": self.channels, "stages": self.stages,
                "bottleneck_dim": self.bottleneck_dim, "output_channels": self.output_channels}
