"""Typed configuration schema for dpig_tf.

One tree of dataclasses with documented defaults (the paper's Market-1501 setting,
SPEC.md sections 2-3). Named YAML files in `configs/` hold only differences from
these defaults; `dpig_tf.config_io` loads them strictly (unknown keys and wrong
types are errors) and `ExperimentConfig.validate()` checks cross-field rules
before any graph is built.
"""

from __future__ import annotations

import dataclasses
import math

from dpig_tf.errors import UserError

DATASETS = ("market", "deepfashion", "demo")
STRATEGIES = ("default", "mirrored", "multi_worker")
FOREGROUND_ENCODERS = ("roi", "whole_body")
DISCRIMINATOR_HEADS = ("flatten", "channel_chunks", "five_conv")
STAGE2_LOSSES = ("wgan", "wgan_gp")
BAD_EXAMPLE_POLICIES = ("error", "skip")
MIXED_PRECISION = ("float32", "mixed_bfloat16", "mixed_float16")


class ConfigError(UserError):
    """A configuration value is invalid; the message names the key."""


@dataclasses.dataclass
class DataConfig:
    """Where examples come from and how they are prepared (SPEC section 1).

    Attributes:
        dataset: "market" (128x64), "deepfashion" (256x256) or "demo" (the
            synthetic dataset, rendered on demand into `demo_dir`).
        images: folder of images (Market `bounding_box_train`, DeepFashion
            `filted_up_train`, ...). Empty for the demo dataset.
        annotations: PG2/PATN keypoint CSV (`name:keypoints_y:keypoints_x`).
        pairs: PG2/PATN pairs CSV (`from,to`); used for transfer evaluation
            and for pair-frequency sampling of the training images.
        test_images, test_annotations, test_pairs: the same for the test split.
        image_height, image_width: network input size.
        mask_radius: limb disk radius of the primary pose mask (Market 7,
            DeepFashion 8, SPEC 1.5).
        heatmap_radius: radius of the +1/-1 keypoint disks (SPEC 1.4).
        pad_width_to: DeepFashion 256x176 (PATN) images are padded left/right to
            this width (0 = no padding); keypoint columns shift by the pad.
        on_bad_example: "error" stops at the first missing/corrupt image,
            "skip" logs and counts it.
        cache: keep decoded examples in memory after the first epoch.
        tfrecord: optional TFRecord file written by `dpig_tf.data.tfrecord`,
            read instead of images + CSV when set.
        demo_dir: where the demo dataset is written (created if missing).
        demo_num_ids, demo_images_per_id: size of the demo dataset.
        demo_seed: the demo dataset is a deterministic function of this seed.
    """

    dataset: str = "market"
    images: str = ""
    annotations: str = ""
    pairs: str = ""
    test_images: str = ""
    test_annotations: str = ""
    test_pairs: str = ""
    image_height: int = 128
    image_width: int = 64
    mask_radius: int = 7
    heatmap_radius: int = 4
    pad_width_to: int = 0
    on_bad_example: str = "error"
    cache: bool = False
    tfrecord: str = ""
    demo_dir: str = "demo_data"
    demo_num_ids: int = 40
    demo_images_per_id: int = 12
    demo_seed: int = 0


@dataclasses.dataclass
class ModelConfig:
    """Network sizes (SPEC sections 2.1-2.8, 3.1-3.2).

    Attributes:
        base_channels: n, the conv width unit (128 in the paper). Stage k of a
            trunk has n*(k+1) channels.
        width_multiplier: scales base_channels (the `lite` setting uses < 1).
        encoder_stages: conv stages of the background trunk and the generator
            (repeat_num); 0 = derived from the image height, log2(H) - 2
            (Market 5). The DeepFashion generator uses 5 at 256x256.
        generator_stages: stages of the U-Net generator; 0 = encoder_stages
            (Market) - DeepFashion sets 5 explicitly.
        roi_size: side of each body-ROI crop (Market 48, DeepFashion 64).
        roi_stages: stages of the shared ROI trunk (Market 5: 48->3;
            DeepFashion 7: 64->1).
        num_parts: body ROIs used (7).
        part_dim: embedding size of each body ROI (32).
        background: whether there is a background branch (Market yes, DF no).
        background_dim: background embedding size (128).
        foreground_encoder: "roi" (7 body-ROI codes, the paper) or
            "whole_body" (the paper's ablation: one code for the whole
            masked foreground, split into num_parts*part_dim dims).
        bottleneck_dim: the generator's FC bottleneck (64).
        discriminator_dim: DCGAN base width (64).
        discriminator_head: "flatten" (Market), "channel_chunks" (replicates
            the original DeepFashion 8-logits reshape, SPEC 8.2 #7) or
            "five_conv" (a 5-conv DCGANDiscriminator_256).
        pose_embedding_dim: pose auto-encoder code size (32).
        pose_hidden: pose auto-encoder FC width (512).
        pose_blocks: residual blocks in the pose encoder and decoder (4).
        fg_mapping_hidden, bg_mapping_hidden, pose_mapping_hidden: Stage-II
            mapping network widths (512, 256, 512).
        mapping_blocks: residual blocks of each mapping network (4).
        critic_hidden: Stage-II critic width (512).
        critic_layers: hidden 512->512 layers of each critic (3).
    """

    base_channels: int = 128
    width_multiplier: float = 1.0
    encoder_stages: int = 0
    generator_stages: int = 0
    roi_size: int = 48
    roi_stages: int = 5
    num_parts: int = 7
    part_dim: int = 32
    background: bool = True
    background_dim: int = 128
    foreground_encoder: str = "roi"
    bottleneck_dim: int = 64
    discriminator_dim: int = 64
    discriminator_head: str = "flatten"
    pose_embedding_dim: int = 32
    pose_hidden: int = 512
    pose_blocks: int = 4
    fg_mapping_hidden: int = 512
    bg_mapping_hidden: int = 256
    pose_mapping_hidden: int = 512
    mapping_blocks: int = 4
    critic_hidden: int = 512
    critic_layers: int = 3

    @property
    def channels(self) -> int:
        """The effective conv width unit n."""
        return max(1, int(round(self.base_channels * self.width_multiplier)))

    @property
    def foreground_dim(self) -> int:
        return self.num_parts * self.part_dim

    @property
    def embedding_dim(self) -> int:
        return self.foreground_dim + (self.background_dim if self.background else 0)


@dataclasses.dataclass
class Stage1Config:
    """Stage I: reconstruction GAN (SPEC 2.5-2.6) and pose auto-encoder (2.7).

    Attributes:
        batch_size: global batch of the image GAN (16).
        steps: training steps of the image GAN (120k).
        learning_rate: Adam lr for E+G and D (2e-5).
        beta_1, beta_2, epsilon: Adam parameters (0.5, 0.999, 1e-8).
        lr_decay_steps: lr is halved every this many steps (50k).
        l1_weight: weight of the L1 reconstruction loss (20).
        adversarial_warmup_steps: the generator's adversarial term is off before
            this step (0 in the paper; a demo-speed aid).
        masked_l1_weight: weight of an extra L1 term inside the pose mask (0 in the
            paper, where the masked L1 is only logged; a demo-speed aid).
        code_swap_fraction: fraction of each batch decoded again with its foreground or
            background code swapped for another example's; the change where the kept code
            owns the pixels is penalised (0 in the paper; a demo aid for disentanglement,
            `dpig_tf/training/code_swap.py`).
        code_swap_weight: that penalty's weight relative to the reconstruction loss (1).
        code_swap_margin: pixels between the pose mask's border and its region (2).
        code_swap_start_step: it is off before this step (0).
        code_swap_ramp_steps: then its weight grows linearly from 0 over this many steps (0).
        pose_ae_batch_size, pose_ae_steps: the pose auto-encoder's schedule.
        pose_ae_weight: weight of its MSE (20).
        train_pose_ae: train the pose auto-encoder in `--stage=1` runs.
        train_image_gan: train the image GAN in `--stage=1` runs.
        checkpoint_every: steps between checkpoints (6000).
        log_every: steps between metric lines (200).
        image_every: steps between image grids (600).
        keep_checkpoints: CheckpointManager max_to_keep.
    """

    batch_size: int = 16
    steps: int = 120_000
    learning_rate: float = 2e-5
    beta_1: float = 0.5
    beta_2: float = 0.999
    epsilon: float = 1e-8
    lr_decay_steps: int = 50_000
    l1_weight: float = 20.0
    adversarial_warmup_steps: int = 0
    masked_l1_weight: float = 0.0
    code_swap_fraction: float = 0.0
    code_swap_weight: float = 1.0
    code_swap_margin: int = 2
    code_swap_ramp_steps: int = 0
    code_swap_start_step: int = 0
    pose_ae_batch_size: int = 64
    pose_ae_steps: int = 60_000
    pose_ae_weight: float = 20.0
    train_pose_ae: bool = True
    train_image_gan: bool = True
    checkpoint_every: int = 6000
    log_every: int = 200
    image_every: int = 600
    keep_checkpoints: int = 3


@dataclasses.dataclass
class Stage2Config:
    """Stage II: noise-to-embedding mapping networks (SPEC section 3).

    Attributes:
        batch_size: global batch for the foreground/background mappings (32).
        steps: training steps of the foreground/background mappings (120k).
        pose_batch_size, pose_steps: schedule of the pose mapping (64, 60k).
        learning_rate: RMSProp lr (2e-5) for mappings and critics.
        rho, epsilon: RMSProp parameters (0.9, 1e-10).
        rmsprop_initial_accumulator: TF1 RMSProp starts its mean-square slot
            at 1.0 (Keras at 0.0); 1.0 reproduces the original dynamics.
        lr_decay_steps: lr halved every this many steps (50k).
        critic_steps: critic updates per mapping update (5).
        loss: "wgan" (weight clipping, the paper) or "wgan_gp".
        clip_value: critic weight clipping bound (0.01).
        gp_weight: gradient-penalty weight for "wgan_gp" (10).
        noise_std: standard deviation of the input noise (0.2).
        checkpoint_every, log_every, keep_checkpoints: as in Stage I.
    """

    batch_size: int = 32
    steps: int = 120_000
    pose_batch_size: int = 64
    pose_steps: int = 60_000
    learning_rate: float = 2e-5
    rho: float = 0.9
    epsilon: float = 1e-10
    rmsprop_initial_accumulator: float = 1.0
    lr_decay_steps: int = 50_000
    critic_steps: int = 5
    loss: str = "wgan"
    clip_value: float = 0.01
    gp_weight: float = 10.0
    noise_std: float = 0.2
    checkpoint_every: int = 6000
    log_every: int = 200
    keep_checkpoints: int = 3


@dataclasses.dataclass
class RuntimeConfig:
    """How training runs on the machine.

    Attributes:
        strategy: "default" (one device), "mirrored" (all local devices, or
            `num_cpu_devices` logical CPUs) or "multi_worker" (TF_CONFIG).
        num_cpu_devices: split the CPU into this many logical devices
            (0 = leave as is); used to test distribution without GPUs.
        jit_compile: XLA-compile the train step.
        mixed_precision: "float32", "mixed_bfloat16" or "mixed_float16".
        intra_op_threads, inter_op_threads: TF thread pools (0 = TF default).
        seed: global seed for weights, data order and noise.
        progress_bar: show a console progress bar.
    """

    strategy: str = "default"
    num_cpu_devices: int = 0
    jit_compile: bool = False
    mixed_precision: str = "float32"
    intra_op_threads: int = 0
    inter_op_threads: int = 0
    seed: int = 0
    progress_bar: bool = True


@dataclasses.dataclass
class ExperimentConfig:
    """The whole configuration of one run."""

    name: str = "market"
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    model: ModelConfig = dataclasses.field(default_factory=ModelConfig)
    stage1: Stage1Config = dataclasses.field(default_factory=Stage1Config)
    stage2: Stage2Config = dataclasses.field(default_factory=Stage2Config)
    runtime: RuntimeConfig = dataclasses.field(default_factory=RuntimeConfig)

    # --- derived sizes -------------------------------------------------------
    @property
    def encoder_stages(self) -> int:
        if self.model.encoder_stages:
            return self.model.encoder_stages
        return int(round(math.log2(self.data.image_height))) - 2

    @property
    def generator_stages(self) -> int:
        return self.model.generator_stages or self.encoder_stages

    def validate(self, num_replicas: int = 1) -> "ExperimentConfig":
        """Checks cross-field rules; raises ConfigError naming the key."""
        d, m, s1, s2, r = self.data, self.model, self.stage1, self.stage2, self.runtime
        _choice("data.dataset", d.dataset, DATASETS)
        _choice("data.on_bad_example", d.on_bad_example, BAD_EXAMPLE_POLICIES)
        _choice("model.foreground_encoder", m.foreground_encoder, FOREGROUND_ENCODERS)
        _choice("model.discriminator_head", m.discriminator_head, DISCRIMINATOR_HEADS)
        _choice("stage2.loss", s2.loss, STAGE2_LOSSES)
        _choice("runtime.strategy", r.strategy, STRATEGIES)
        _choice("runtime.mixed_precision", r.mixed_precision, MIXED_PRECISION)
        for key in ("data.image_height", "data.image_width", "data.mask_radius",
                    "data.heatmap_radius", "model.base_channels", "model.roi_size",
                    "model.roi_stages", "model.num_parts", "model.part_dim",
                    "stage1.batch_size", "stage1.steps", "stage1.pose_ae_batch_size",
                    "stage1.pose_ae_steps", "stage2.batch_size", "stage2.steps",
                    "stage2.pose_batch_size", "stage2.pose_steps", "stage2.critic_steps",
                    "stage1.checkpoint_every", "stage1.log_every",
                    "stage2.checkpoint_every", "stage2.log_every"):
            _positive(key, _get(self, key))
        if m.width_multiplier <= 0:
            raise ConfigError(f"model.width_multiplier must be > 0, got {m.width_multiplier}")
        if m.num_parts != 7 and m.foreground_encoder == "roi":
            raise ConfigError(f"model.num_parts must be 7 (the 7 body ROIs), got {m.num_parts}")
        h, w = d.image_height, d.image_width
        stages = self.encoder_stages
        for key, n in (("model.encoder_stages", stages),
                       ("model.generator_stages", self.generator_stages)):
            if n < 1:
                raise ConfigError(f"{key} resolves to {n}; data.image_height={h} is too small")
            div = 2 ** (n - 1)
            if h % div or w % div:
                raise ConfigError(
                    f"data.image_height x data.image_width = {h}x{w} cannot be halved "
                    f"{n - 1} times by {n} stages ({key}); both must be divisible by {div}")
        if m.roi_size % 2 ** (m.roi_stages - 1):
            raise ConfigError(
                f"model.roi_size={m.roi_size} cannot be halved {m.roi_stages - 1} times "
                f"(model.roi_stages={m.roi_stages})")
        if d.dataset == "market" and not m.background:
            raise ConfigError("data.dataset=market needs model.background=true (SPEC 2.1)")
        if not 0.0 <= s1.code_swap_fraction <= 1.0:
            raise ConfigError(
                f"stage1.code_swap_fraction must be in [0, 1], got {s1.code_swap_fraction}")
        if s1.code_swap_fraction and not m.background:
            raise ConfigError("stage1.code_swap_fraction > 0 needs model.background=true "
                              "(it swaps foreground and background codes)")
        if s1.code_swap_weight < 0:
            raise ConfigError(f"stage1.code_swap_weight must be >= 0, got {s1.code_swap_weight}")
        for key in ("code_swap_ramp_steps", "code_swap_start_step"):
            if getattr(s1, key) < 0:
                raise ConfigError(f"stage1.{key} must be >= 0, got {getattr(s1, key)}")
        if s1.code_swap_margin < 0:
            raise ConfigError(f"stage1.code_swap_margin must be >= 0, got {s1.code_swap_margin}")
        for key, value in (("stage1.batch_size", s1.batch_size),
                           ("stage1.pose_ae_batch_size", s1.pose_ae_batch_size),
                           ("stage2.batch_size", s2.batch_size),
                           ("stage2.pose_batch_size", s2.pose_batch_size)):
            if value % num_replicas:
                raise ConfigError(
                    f"{key}={value} (the global batch) is not divisible by the "
                    f"{num_replicas} replicas of runtime.strategy={r.strategy}")
        if not (s1.train_image_gan or s1.train_pose_ae):
            raise ConfigError("stage1.train_image_gan and stage1.train_pose_ae are both false")
        return self


def _get(cfg, dotted: str):
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _choice(key: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"{key} must be one of {', '.join(choices)}; got {value!r}")


def _positive(key: str, value) -> None:
    if value <= 0:
        raise ConfigError(f"{key} must be > 0, got {value}")
