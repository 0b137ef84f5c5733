"""The inference object: encode, decode, transfer and sample person images.

`DisentangledGenerator` composes the Stage-I appearance encoder and generator,
the pose auto-encoder and (optionally) the Stage-II mapping networks. It holds
no discriminator, critic or optimizer. Everything the networks need besides
the image (pose mask, body-ROI boxes and visibilities, keypoint heatmaps, the
pose auto-encoder's vector) is computed in-graph from 18 (row, col, visible)
keypoints by `dpig_tf.data.pose_tf`, so each method is a pure TF function with
static H, W and a dynamic batch, ready for `tf.function` / SavedModel export.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dpig_tf.data import pose_tf
from dpig_tf.errors import UserError

FOREGROUND = "foreground"
BACKGROUND = "background"
POSE = "pose"
_NOISE_STREAM = {FOREGROUND: 0, BACKGROUND: 1, POSE: 2}  # stateless seed per factor


class MissingWeightsError(UserError):
    """A run directory lacks the checkpoint a requested operation needs."""


@keras.saving.register_keras_serializable(package="dpig_tf")
class DisentangledGenerator(keras.Model):
    """Disentangled person image generator (inference only).

    Codes: foreground (num_parts x part_dim, 224 on Market), background (128,
    Market only) and pose (the pose auto-encoder's 32-d code). Stage-II
    mapping networks map N(0, noise_std^2) noise to each code space.

    Args:
        encoder: Stage-I `AppearanceEncoder` (image + mask + ROIs -> codes).
        generator: Stage-I U-Net `Generator` ([embedding, heatmaps] -> image).
        pose_encoder: pose auto-encoder encoder (54-d pose vector -> code).
        pose_decoder: pose auto-encoder decoder (code -> 54-d pose vector).
        image_height, image_width: network image size.
        foreground_dim: size of the foreground code (first part of E(x)).
        background_dim: size of the background code (0: no background branch).
        heatmap_radius: radius of the +1/-1 keypoint disks (4).
        mask_radius: pose-mask limb radius (Market 7, DeepFashion 8).
        dataset: ROI-box rules: "market", "deepfashion" or "demo" (SPEC 1.6).
        noise_std: standard deviation of the Stage-II noise (0.2).
        fg_mapping, bg_mapping, pose_mapping: Stage-II `MappingNetwork`s (None
            where not trained; `sample` then refuses to sample that factor).

    Reference:
        SPEC.md 2.1-2.3 and 2.7 (networks), 1.4-1.6 (heatmaps, mask, ROIs),
        3.4 (sampling; the sampled pose is decoder(Phi_P(z)), fixing bug #7 of
        8.2), 4.2 (transfer).
    """

    def __init__(self, encoder, generator, pose_encoder, pose_decoder, image_height: int,
                 image_width: int, foreground_dim: int, background_dim: int = 0,
                 heatmap_radius: int = 4, mask_radius: int = 7, dataset: str = "market",
                 noise_std: float = 0.2, fg_mapping=None, bg_mapping=None, pose_mapping=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.generator = generator
        self.pose_encoder = pose_encoder
        self.pose_decoder = pose_decoder
        self.fg_mapping = fg_mapping
        self.bg_mapping = bg_mapping
        self.pose_mapping = pose_mapping
        self.image_height = int(image_height)
        self.image_width = int(image_width)
        self.foreground_dim = int(foreground_dim)
        self.background_dim = int(background_dim)
        self.heatmap_radius = int(heatmap_radius)
        self.mask_radius = int(mask_radius)
        self.dataset = dataset
        self.noise_std = float(noise_std)
        self.trainable = False

    # --- sizes ----------------------------------------------------------------------
    @property
    def has_background(self) -> bool:
        return self.background_dim > 0

    @property
    def pose_dim(self) -> int:
        return int(self.pose_encoder.embedding_dim)

    def mapping(self, factor: str):
        return {FOREGROUND: self.fg_mapping, BACKGROUND: self.bg_mapping,
                POSE: self.pose_mapping}[factor]

    def code_dim(self, factor: str) -> int:
        return {FOREGROUND: self.foreground_dim, BACKGROUND: self.background_dim,
                POSE: self.pose_dim}[factor]

    @property
    def factors(self) -> tuple[str, ...]:
        return (FOREGROUND, BACKGROUND, POSE) if self.has_background else (FOREGROUND, POSE)

    @property
    def has_stage2(self) -> bool:
        return all(self.mapping(f) is not None for f in self.factors)

    # --- in-graph pose features --------------------------------------------------------
    def heatmaps(self, keypoints):
        """(B,18,3) pixel keypoints -> (B,H,W,18) +1/-1 disk heatmaps (SPEC 1.4)."""
        return pose_tf.keypoints_to_heatmaps(
            tf.cast(keypoints, tf.float32), self.image_height, self.image_width,
            radius=self.heatmap_radius)

    def encoder_inputs(self, image, keypoints):
        """The encoder's feature dict computed from keypoints (SPEC 1.5, 1.6)."""
        keypoints = tf.cast(keypoints, tf.float32)
        h, w = self.image_height, self.image_width
        mask = pose_tf.pose_mask(keypoints, h, w, radius=self.mask_radius)
        boxes, vis = pose_tf.roi_boxes(keypoints, h, w, dataset=self.dataset)
        if mask.shape.rank == 3:
            mask = mask[..., None]
        return {"image": tf.cast(image, tf.float32), "pose_mask": tf.cast(mask, tf.float32),
                "roi_boxes": tf.cast(boxes, tf.float32), "roi_vis": tf.cast(vis, tf.float32)}

    # --- encode / decode -----------------------------------------------------------------
    def encode(self, image, keypoints):
        """(B,H,W,3) image in [-1,1] + (B,18,3) keypoints -> {foreground, [background], pose}.

        A body region without a visible joint has visibility 0, so its 32-d
        part of the foreground code is exactly 0 (SPEC 2.1 step 3).
        """
        codes = self.encoder(self.encoder_inputs(image, keypoints), training=False)
        out = {FOREGROUND: codes[:, :self.foreground_dim]}
        if self.has_background:
            out[BACKGROUND] = codes[:, self.foreground_dim:]
        vector = pose_tf.pose_vector(tf.cast(keypoints, tf.float32), self.image_height,
                                     self.image_width)
        out[POSE] = self.pose_encoder(vector, training=False)
        return out

    def decode(self, foreground, background, keypoints):
        """Codes + (B,18,3) target keypoints -> (B,H,W,3) image (linear output, ~[-1,1])."""
        parts = [tf.cast(foreground, tf.float32)]
        if self.has_background:
            if background is None:
                raise ValueError("decode: this model has a background branch; pass background")
            parts.append(tf.cast(background, tf.float32))
        embedding = tf.concat(parts, axis=-1)
        return self.generator([embedding, self.heatmaps(keypoints)], training=False)

    def decode_pose_code(self, pose_code):
        """(B, pose_dim) code -> (B,18,3) pixel keypoints via the pose decoder.

        Coordinates: r = (r^+1)/2*H clipped to [0, H-1] (same for columns);
        visibility: the decoder's rounded sigmoid; invisible joints -> (0,0,0).
        """
        vector = self.pose_decoder(tf.cast(pose_code, tf.float32), training=False)
        return pose_tf.pose_vector_to_keypoints(vector, self.image_height, self.image_width)

    def decode_codes(self, foreground, background, pose_code):
        """Codes incl. a pose code -> image: the pose is decoded and rendered in-graph."""
        return self.decode(foreground, background, self.decode_pose_code(pose_code))

    def transfer(self, image, keypoints, target_keypoints):
        """Pose-guided transfer: appearance of `image` in the pose `target_keypoints` (SPEC 4.2)."""
        codes = self.encode(image, keypoints)
        return self.decode(codes[FOREGROUND], codes.get(BACKGROUND), target_keypoints)

    def call(self, inputs):
        """{"image", "keypoints", "target_keypoints"} -> transferred image."""
        return self.transfer(inputs["image"], inputs["keypoints"], inputs["target_keypoints"])

    # --- Stage II: sampling ---------------------------------------------------------------
    def noise(self, seed, batch_size, factor: str):
        """Deterministic z ~ N(0, noise_std^2) of `factor` for an int `seed` (may be a tensor)."""
        seed = tf.stack([tf.cast(seed, tf.int32), tf.constant(_NOISE_STREAM[factor], tf.int32)])
        return self.noise_std * tf.random.stateless_normal(
            (batch_size, self.code_dim(factor)), seed=seed)

    def sample_codes(self, noise=None, seed=None, batch_size=None):
        """{factor: Phi(z)} for every factor with a mapping network.

        Args:
            noise: {factor: (B, d) z}; missing factors are drawn from `seed`.
            seed: int (or scalar int tensor) for the missing noise.
            batch_size: B when `noise` gives none.
        """
        noise = dict(noise or {})
        if batch_size is None:
            if not noise:
                raise ValueError("sample_codes: give noise or batch_size")
            batch_size = tf.shape(next(iter(noise.values())))[0]
        out = {}
        for f in self.factors:
            mapping = self.mapping(f)
            if mapping is None:
                continue
            z = noise.get(f)
            if z is None:
                z = self.noise(0 if seed is None else seed, batch_size, f)
            out[f] = mapping(tf.cast(z, tf.float32), training=False)
        return out

    def sample(self, noise=None, seed=None, sample_fg=True, sample_bg=True, sample_pose=True,
               image=None, keypoints=None, batch_size=None):
        """Images with the chosen factors drawn from noise, the rest from `image`.

        Sampled foreground/background: Phi_F(z_F), Phi_B(z_B). Sampled pose:
        keypoints = pose decoder(Phi_P(z_P)) rendered as heatmaps (the intended
        path; the original tester decoded the real pose code instead, DPIG
        issue #7, SPEC 3.4 / 8.2 #1). Factors not sampled come from the real
        `image` / `keypoints` of the same row (tile one image to keep it fixed).

        The sample_* flags may be Python bools or scalar bool tensors (export);
        with tensors both paths are computed and selected with tf.where.

        Args:
            noise: optional {factor: (B, d) z}.
            seed: int or scalar int tensor; draws the noise not given.
            sample_fg, sample_bg, sample_pose: which factors to sample.
            image, keypoints: (B,H,W,3) and (B,18,3) sources of the other factors.
            batch_size: B when no image and no noise is given.
        """
        flags = {FOREGROUND: sample_fg, BACKGROUND: sample_bg if self.has_background else False,
                 POSE: sample_pose}
        static = all(isinstance(v, bool) for v in flags.values())
        needed = [f for f in self.factors if not static or flags[f]]
        for f in needed:
            if self.mapping(f) is None:
                raise MissingWeightsError(
                    f"sampling the {f} factor needs the Stage-II {f} mapping network; this "
                    "model has none (train Stage II: python -m dpig_tf.main --stage=2)")
        real = None
        if image is not None:
            if keypoints is None:
                raise ValueError("sample: `image` needs its `keypoints`")
            real = self.encode(image, keypoints)
            batch_size = tf.shape(image)[0]
        elif not static or not all(flags[f] for f in self.factors):
            raise ValueError("sample: factors that are not sampled come from `image` and "
                             "`keypoints`; give them or sample every factor")
        noise = {f: z for f, z in (noise or {}).items() if f in needed}
        if batch_size is None and noise:
            batch_size = tf.shape(next(iter(noise.values())))[0]
        if batch_size is None:
            raise ValueError("sample: give batch_size, noise or image")
        fake = {}
        for f in needed:
            z = noise.get(f)
            if z is None:
                z = self.noise(0 if seed is None else seed, batch_size, f)
            fake[f] = self.mapping(f)(tf.cast(z, tf.float32), training=False)

        def pick(f, real_value, fake_value):
            if static:
                return fake_value if flags[f] else real_value
            return tf.where(tf.cast(flags[f], tf.bool), fake_value, real_value)

        fg = pick(FOREGROUND, real and real[FOREGROUND], fake.get(FOREGROUND))
        bg = None
        if self.has_background:
            bg = pick(BACKGROUND, real and real[BACKGROUND], fake.get(BACKGROUND))
        sampled_kp = self.decode_pose_code(fake[POSE]) if POSE in fake else None
        kp = pick(POSE, None if keypoints is None else tf.cast(keypoints, tf.float32),
                  sampled_kp)
        return self.decode(fg, bg, kp)

    # --- serialization -------------------------------------------------------------------
    def get_config(self):
        ser = keras.saving.serialize_keras_object
        return {
            "encoder": ser(self.encoder), "generator": ser(self.generator),
            "pose_encoder": ser(self.pose_encoder), "pose_decoder": ser(self.pose_decoder),
            "image_height": self.image_height, "image_width": self.image_width,
            "foreground_dim": self.foreground_dim, "background_dim": self.background_dim,
            "heatmap_radius": self.heatmap_radius, "mask_radius": self.mask_radius,
            "dataset": self.dataset, "noise_std": self.noise_std,
            "fg_mapping": ser(self.fg_mapping) if self.fg_mapping is not None else None,
            "bg_mapping": ser(self.bg_mapping) if self.bg_mapping is not None else None,
            "pose_mapping": ser(self.pose_mapping) if self.pose_mapping is not None else None,
            "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "generator", "pose_encoder", "pose_decoder", "fg_mapping",
                    "bg_mapping", "pose_mapping"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)

    # --- construction ----------------------------------------------------------------------
    @classmethod
    def from_config_object(cls, cfg, crop_method: str = "tf", with_mapping: bool = True):
        """Builds (unrestored) networks for an `ExperimentConfig` via the factory."""
        from dpig_tf.models import factory

        mappings = factory.build_mapping_networks(cfg) if with_mapping else {}
        m = cfg.model
        model = cls(
            encoder=factory.build_encoder(cfg, crop_method=crop_method),
            generator=factory.build_generator(cfg),
            pose_encoder=factory.build_pose_encoder(cfg),
            pose_decoder=factory.build_pose_decoder(cfg),
            image_height=cfg.data.image_height, image_width=cfg.data.image_width,
            foreground_dim=m.foreground_dim, background_dim=m.background_dim if m.background else 0,
            heatmap_radius=cfg.data.heatmap_radius, mask_radius=cfg.data.mask_radius,
            dataset=cfg.data.dataset, noise_std=cfg.stage2.noise_std,
            fg_mapping=mappings.get(FOREGROUND), bg_mapping=mappings.get(BACKGROUND),
            pose_mapping=mappings.get(POSE))
        model.build_networks()
        return model

    def build_networks(self) -> None:
        """Creates every weight by running each path once on a zero batch."""
        h, w = self.image_height, self.image_width
        image = tf.zeros((1, h, w, 3))
        kp = tf.zeros((1, 18, 3))
        codes = self.encode(image, kp)
        self.decode_codes(codes[FOREGROUND], codes.get(BACKGROUND), codes[POSE])
        for f in self.factors:
            if self.mapping(f) is not None:
                self.mapping(f)(tf.zeros((1, self.code_dim(f))))
        self.built = True

    @classmethod
    def from_run_dir(cls, run_dir, require_stage2: bool = False, crop_method: str = "tf"):
        """The restored inference object of a run directory.

        A preset folder (dpig_tf/pretrained/presets.py) is loaded as such. Otherwise
        reads RUN/config.yaml, restores the encoder and generator from
        RUN/checkpoints/stage1, the pose auto-encoder from RUN/checkpoints/pose_ae
        and, if present, the mapping networks from RUN/checkpoints/stage2. Every
        variable of the restored networks must be found in the checkpoint.

        Raises:
            MissingWeightsError: a needed checkpoint is missing (Stage-II weights
                only when `require_stage2`, e.g. for sampling).
        """
        from dpig_tf import checkpoint as names
        from dpig_tf.config_io import read_saved_config
        from dpig_tf.pretrained import presets
        from dpig_tf.run_format import check_run_dir

        if presets.is_preset(run_dir):  # every --run_dir also takes a preset folder
            return presets.load_preset(run_dir, require_stage2=require_stage2,
                                       crop_method=crop_method)
        run_dir = check_run_dir(run_dir)
        cfg = read_saved_config(run_dir / names.CONFIG_FILE)
        stage2_path = tf.train.latest_checkpoint(str(run_dir / names.STAGE2_DIR))
        if require_stage2 and stage2_path is None:
            raise MissingWeightsError(
                f"{run_dir}: no Stage-II weights in {run_dir / names.STAGE2_DIR}; sampling needs "
                f"the mapping networks. Train them with: python -m dpig_tf.main --stage=2 "
                f"--init_from={run_dir}")
        model = cls.from_config_object(cfg, crop_method=crop_method,
                                       with_mapping=stage2_path is not None)
        restore_networks(run_dir / names.STAGE1_DIR, "Stage-I",
                         {names.ENCODER: model.encoder, names.GENERATOR: model.generator})
        restore_networks(run_dir / names.POSE_AE_DIR, "pose auto-encoder",
                         {names.POSE_ENCODER: model.pose_encoder,
                          names.POSE_DECODER: model.pose_decoder})
        if stage2_path is not None:
            nets = {names.FG_MAPPING: model.fg_mapping, names.POSE_MAPPING: model.pose_mapping}
            if model.has_background:
                nets[names.BG_MAPPING] = model.bg_mapping
            restore_networks(run_dir / names.STAGE2_DIR, "Stage-II", nets)
        model.config = cfg
        return model


def restore_networks(directory, what: str, networks: dict) -> str:
    """Restores `networks` {checkpoint name: model} from the latest checkpoint in `directory`.

    Optimizers, discriminators and counters in the checkpoint are ignored, but
    every variable of `networks` must be restored (else a MissingWeightsError
    naming the directory and the cause).
    """
    path = tf.train.latest_checkpoint(str(directory))
    if path is None:
        raise MissingWeightsError(f"{directory}: no {what} checkpoint found")
    ckpt = tf.train.Checkpoint(**networks)
    hidden = untracked_weights(ckpt, networks)
    if hidden:
        # Variables invisible to TF's object graph would silently keep their random init.
        raise MissingWeightsError(
            f"{len(hidden)} variables of the {what} networks are not tracked by "
            f"tf.train.Checkpoint (e.g. {hidden[0]}); keep repeated sub-layers in "
            "numbered attributes (dpig_tf.models.layers.layer_sequence), not Python lists")
    try:
        status = ckpt.restore(path)
        status.assert_existing_objects_matched()
        status.expect_partial()
    except (AssertionError, ValueError, tf.errors.OpError) as err:
        first = str(err).strip().splitlines()[0][:400]
        raise MissingWeightsError(
            f"{path}: the {what} checkpoint does not fit the networks of this config "
            f"({', '.join(networks)}): {first}") from None
    return path


def untracked_weights(checkpoint: tf.train.Checkpoint, networks: dict) -> list[str]:
    """Paths of the networks' variables that `checkpoint` would neither save nor restore."""
    reachable = {id(t) for t in tf.train.TrackableView(checkpoint).descendants()}
    return [w.path for net in networks.values() for w in net.weights if id(w) not in reachable]
