"""Appearance encoder E: body-ROI foreground codes and a background code (SPEC 2.1, 2.8)."""

from __future__ import annotations

import keras
from keras import ops

from dpig_tf.models import layers
from dpig_tf.models.roi_crop import RoiCrop

FOREGROUND_ENCODERS = ("roi", "whole_body")


@keras.saving.register_keras_serializable(package="dpig_tf")
class AppearanceEncoder(keras.Model):
    """Encodes a person image into [7 body-ROI codes (x visibility), background code].

    Call with a dict:
      - "image" (B, H, W, 3) in [-1, 1];
      - "pose_mask" (B, H, W, 1) {0, 1} foreground mask (not needed when
        `background=False`);
      - "roi_boxes" (B, 7, 4) float PIXEL boxes [y1, x1, y2, x2], normalised
        inside by H and W (not H-1, like the original);
      - "roi_vis" (B, 7) {0, 1}.
    Returns float32 (B, num_parts*part_dim [+ background_dim]) (also under
    mixed precision): the foreground codes in ROI order, each multiplied by
    its visibility, then the background code.

    Structure (`foreground_encoder="roi"`, `background=True`, Market):
      stem conv3(3->n) + ResidualUnit(n) on the full image; the stem FEATURES
      are split by the mask, F_fg = F*M, F_bg = F*(1-M); the 7 ROI crops of
      F_fg (roi_size^2, bilinear, 0 outside) are stacked on the batch axis and
      go through one shared `ResidualTrunk(n, roi_stages)` + linear FC to
      part_dim; F_bg goes through a separate `ResidualTrunk(n,
      background_stages)` + linear FC to background_dim.
    `background=False` (DeepFashion, SPEC 2.8): no mask split, the ROIs are
      cropped from the stem features of the full image; no background code.
    `foreground_encoder="whole_body"` (the paper's ablation): instead of 7 ROI
      crops, ONE crop of the whole foreground feature map (normalised box
      [0, 0, 1, 1], i.e. the full image resized bilinearly to roi_size^2)
      goes through the same trunk recipe and one linear FC to
      num_parts*part_dim; no visibility weighting (roi_boxes/roi_vis are
      ignored). The embedding size and layout are unchanged, so G, the
      mapping networks and the critics are identical.

    Args:
        channels: n, the conv width unit (128; `width_multiplier` just gives a smaller n).
        num_parts: number of body ROIs (7).
        part_dim: code size per ROI (32).
        roi_size: side of each ROI crop (Market 48, DeepFashion 64).
        roi_stages: stages of the shared ROI trunk (Market 5, DeepFashion 7).
        background: whether there is a background branch (Market yes, DF no).
        background_dim: background code size (128).
        background_stages: stages of the background trunk (Market 5).
        foreground_encoder: "roi" or "whole_body".
        crop_method: "tf" or "gather" (see `RoiCrop`); switchable later via
            the `crop_method` property.

    Reference: SPEC 2.1 (`GeneratorCNN_ID_Encoder_BodyROIVis_FgBgFeaTwoBranch`),
    2.8 (`GeneratorCNN_ID_Encoder_BodyROIVis`), 8.1.
    """

    def __init__(self, channels: int = 128, num_parts: int = 7, part_dim: int = 32,
                 roi_size: int = 48, roi_stages: int = 5, background: bool = True,
                 background_dim: int = 128, background_stages: int = 5,
                 foreground_encoder: str = "roi", crop_method: str = "tf", **kwargs):
        # Boxes are pixel positions and must not be cast to bf16/fp16.
        kwargs.setdefault("autocast", False)
        super().__init__(**kwargs)
        if foreground_encoder not in FOREGROUND_ENCODERS:
            raise ValueError(f"AppearanceEncoder: foreground_encoder must be one of "
                             f"{FOREGROUND_ENCODERS}, got {foreground_encoder!r}")
        if roi_size % 2 ** (roi_stages - 1):
            raise ValueError(f"AppearanceEncoder: roi_size={roi_size} cannot be halved "
                             f"{roi_stages - 1} times (roi_stages={roi_stages})")
        self.channels = int(channels)
        self.num_parts = int(num_parts)
        self.part_dim = int(part_dim)
        self.roi_size = int(roi_size)
        self.roi_stages = int(roi_stages)
        self.background = bool(background)
        self.background_dim = int(background_dim)
        self.background_stages = int(background_stages)
        self.foreground_encoder = foreground_encoder

        n = self.channels
        self.stem_conv = layers.conv3(n, name="stem_conv")
        self.stem_res = layers.ResidualUnit(n, name="stem_res")
        self.roi_crop = RoiCrop(self.roi_size, method=crop_method, name="roi_crop")
        self.roi_trunk = layers.ResidualTrunk(n, self.roi_stages, name="roi_trunk")
        self.roi_flatten = keras.layers.Flatten(name="roi_flatten")
        fg_out = self.part_dim if foreground_encoder == "roi" else self.num_parts * self.part_dim
        self.roi_fc = keras.layers.Dense(fg_out, name="roi_fc")
        if self.background:
            self.bg_trunk = layers.ResidualTrunk(n, self.background_stages, name="bg_trunk")
            self.bg_flatten = keras.layers.Flatten(name="bg_flatten")
            self.bg_fc = keras.layers.Dense(self.background_dim, name="bg_fc")

    @property
    def embedding_dim(self) -> int:
        return self.num_parts * self.part_dim + (self.background_dim if self.background else 0)

    @property
    def crop_method(self) -> str:
        return self.roi_crop.method

    @crop_method.setter
    def crop_method(self, value: str) -> None:
        self.roi_crop.method = value

    def build(self, input_shape):
        layers.build_by_tracing(self, input_shape)

    def _check_inputs(self, inputs):
        if not isinstance(inputs, dict):
            raise ValueError("AppearanceEncoder expects a dict with keys image, pose_mask, "
                             f"roi_boxes, roi_vis; got {type(inputs).__name__}")
        needed = ["image"]
        if self.background:
            needed.append("pose_mask")
        if self.foreground_encoder == "roi":
            needed += ["roi_boxes", "roi_vis"]
        missing = [k for k in needed if k not in inputs]
        if missing:
            raise ValueError(f"AppearanceEncoder: input dict lacks {missing} "
                             f"(got keys {sorted(inputs)})")
        if self.foreground_encoder == "roi":
            b_shape = tuple(inputs["roi_boxes"].shape)
            if len(b_shape) != 3 or b_shape[1:] != (self.num_parts, 4):
                raise ValueError(f"AppearanceEncoder: roi_boxes must be (B, {self.num_parts}, 4) "
                                 f"pixel [y1, x1, y2, x2]; got shape {b_shape}")

    def call(self, inputs, training=None):
        self._check_inputs(inputs)
        dtype = self.compute_dtype
        image = ops.cast(inputs["image"], dtype)
        feats = self.stem_res(self.stem_conv(image))  # (B, H, W, n)
        batch = ops.shape(feats)[0]
        if self.background:
            mask = ops.cast(inputs["pose_mask"], feats.dtype)
            fg = feats * mask  # split on features, not pixels (SPEC 2.1 step 2)
            bg = feats * (1.0 - mask)
        else:
            fg = feats

        height = ops.cast(ops.shape(image)[1], "float32")
        width = ops.cast(ops.shape(image)[2], "float32")
        if self.foreground_encoder == "roi":
            boxes = ops.cast(inputs["roi_boxes"], "float32")
            # Divide by H and W, not H-1 (SPEC 2.1 step 3).
            boxes = boxes / ops.stack([height, width, height, width])
            crops = self.roi_crop([fg, boxes])  # (B*K, s, s, n), image-major
            codes = self.roi_fc(self.roi_flatten(self.roi_trunk(crops)))  # (B*K, part_dim)
            codes = ops.reshape(codes, (batch, self.num_parts, self.part_dim))
            vis = ops.cast(inputs["roi_vis"], codes.dtype)
            codes = ops.reshape(codes * vis[:, :, None], (batch, self.num_parts * self.part_dim))
        else:
            whole = ops.broadcast_to(ops.convert_to_tensor([[[0.0, 0.0, 1.0, 1.0]]]), (batch, 1, 4))
            crops = self.roi_crop([fg, whole])  # (B, s, s, n)
            codes = self.roi_fc(self.roi_flatten(self.roi_trunk(crops)))
        if not self.background:
            return ops.cast(codes, "float32")
        bg_code = self.bg_fc(self.bg_flatten(self.bg_trunk(bg)))
        return ops.cast(ops.concatenate([codes, bg_code], axis=-1), "float32")

    def get_config(self):
        return {
            "name": self.name,
            "channels": self.channels, "num_parts": self.num_parts, "part_dim": self.part_dim,
            "roi_size": self.roi_size, "roi_stages": self.roi_stages,
            "background": self.background, "background_dim": self.background_dim,
            "background_stages": self.background_stages,
            "foreground_encoder": self.foreground_encoder, "crop_method": self.crop_method,
        }
