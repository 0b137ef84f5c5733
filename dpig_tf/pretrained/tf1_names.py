"""The one table from the authors' TF1 variable names to our Keras weights.

The original networks are built with tf-slim (`slim.conv2d`, `slim.fully_connected`)
and tflib (`lib.ops.conv2d.Conv2D`, `lib.ops.linear.Linear`, fused BN). Their variable
names follow two rules, and this module writes the table out from them:

- slim: inside a variable scope, the k-th conv created gets `Conv` (k = 0) or `Conv_<k>`,
  the k-th fully connected layer `fully_connected[_<k>]`; each holds `weights` and
  `biases`. So a network's table is the list of its layers IN CREATION ORDER (models.py).
- tflib: a parameter named P inside `tf.name_scope(L)` is stored as `L/P`, with
  P = `L.Filters`, `L.Biases`, `L.W`, `L.b`, `L.offset`, `L.scale`, `L.moving_mean`,
  `L.moving_variance`.

Layouts: slim conv kernels are HWIO and fully connected kernels (in, out), exactly
Keras' Conv2D and Dense. slim flattens NHWC maps, as Keras' Flatten does, so no dense
layer needs a permutation, except the output Linear of the tflib DCGAN discriminator:
it ran channels-first, so its rows are in (C, H, W) order and are permuted to our
(H, W, C) flatten (`transform="chw_rows_to_hwc"`); our "channel_chunks" head reshapes
channels-first itself and takes the rows as they are.

Original scopes per model ID (SPEC 0.2; trainer.py, trainer_256.py):

| ID | scope in the checkpoint | our network |
|---|---|---|
| 1, 101 | `Encoder/G_encoder/` | encoder |
| 1, 101 | `ID_AE/G/` | generator |
| 1, 101 | `Discriminator.*` (tflib) | discriminator |
| 2, 102 | `PoseAE/G_Pose_Encoder/`, `PoseAE/G_Pose_Decoder/` | pose_encoder, pose_decoder |
| 3 | `Gaussian_FC_Fg/G_FC/`, `Gaussian_FC_Bg/G_FC/` | fg_mapping, bg_mapping |
| 3 | `Fg_FCDis_Discriminator.*`, `Bg_FCDis_Discriminator.*` (tflib) | fg_critic, bg_critic |
| 103 | `Gaussian_FC/G_FC/`, `FCDis_Discriminator.*` | fg_mapping, fg_critic |
| 4, 104 | `PoseGaussian/G_FC/`, `Pose_emb_Discriminator.*` | pose_mapping, pose_critic |

`python -m dpig_tf.tools.import_tf1 --print_table --dataset=market` prints every row.
"""

from __future__ import annotations

import dataclasses

from dpig_tf import checkpoint as names

# Which original model a checkpoint flag carries, per dataset (SPEC 0.2).
STAGE1, POSE_AE, STAGE2_APP, STAGE2_POSE = "stage1", "pose_ae", "stage2_app", "stage2_pose"
MODEL_IDS = {
    "market": {STAGE1: 1, POSE_AE: 2, STAGE2_APP: 3, STAGE2_POSE: 4},
    "deepfashion": {STAGE1: 101, POSE_AE: 102, STAGE2_APP: 103, STAGE2_POSE: 104},
}

IDENTITY = "identity"
CHW_ROWS_TO_HWC = "chw_rows_to_hwc"


@dataclasses.dataclass(frozen=True)
class WeightMapping:
    """One original variable and the Keras weight it becomes.

    Attributes:
        tf1_name: the variable's name in the TF1 checkpoint (no `:0`).
        network: our checkpoint object name (`dpig_tf.checkpoint`).
        layer: attribute path of the Keras layer inside that network.
        weight: "kernel", "bias", "gamma", "beta", "moving_mean" or "moving_variance".
        transform: IDENTITY, or CHW_ROWS_TO_HWC for the tflib DCGAN output Linear.
    """

    tf1_name: str
    network: str
    layer: str
    weight: str
    transform: str = IDENTITY


@dataclasses.dataclass(frozen=True)
class Architecture:
    """The sizes the table depends on (from an ExperimentConfig, see `architecture_of`)."""

    encoder_roi_stages: int
    encoder_background_stages: int  # 0 = no background branch (DeepFashion)
    generator_stages: int
    pose_blocks: int
    mapping_blocks: int
    critic_layers: int
    discriminator_head: str
    discriminator_map_hwc: tuple  # (H, W, C) of the discriminator's last conv map


def architecture_of(cfg) -> Architecture:
    m = cfg.model
    d_downs = 5 if m.discriminator_head == "five_conv" else 4
    return Architecture(
        encoder_roi_stages=m.roi_stages,
        encoder_background_stages=cfg.encoder_stages if m.background else 0,
        generator_stages=cfg.generator_stages, pose_blocks=m.pose_blocks,
        mapping_blocks=m.mapping_blocks, critic_layers=m.critic_layers,
        discriminator_head=m.discriminator_head,
        discriminator_map_hwc=(cfg.data.image_height // 2 ** d_downs,
                               cfg.data.image_width // 2 ** d_downs,
                               8 * m.discriminator_dim))


# --- slim networks: layers in creation order ------------------------------------------------
def _trunk(prefix: str, stages: int) -> list[str]:
    """`ResidualTrunk` layers in creation order: per stage conv_a, conv_b, then the down conv."""
    out = []
    for k in range(stages):
        out += [f"{prefix}.res_{k}.conv_a", f"{prefix}.res_{k}.conv_b"]
        if k < stages - 1:
            out.append(f"{prefix}.down_{k}")
    return out


def _residual_dense(prefix: str, blocks: int) -> list[str]:
    return [f"{prefix}{i}.{half}" for i in range(blocks) for half in ("dense_a", "dense_b")]


def encoder_layers(arch: Architecture) -> list[tuple[str, str]]:
    """(kind, layer) of `GeneratorCNN_ID_Encoder_BodyROIVis[_FgBgFeaTwoBranch]` (models.py)."""
    layers = [("conv", "stem_conv"), ("conv", "stem_res.conv_a"), ("conv", "stem_res.conv_b")]
    layers += [("conv", p) for p in _trunk("roi_trunk", arch.encoder_roi_stages)]
    layers.append(("fc", "roi_fc"))
    if arch.encoder_background_stages:
        layers += [("conv", p) for p in _trunk("bg_trunk", arch.encoder_background_stages)]
        layers.append(("fc", "bg_fc"))
    return layers


def generator_layers(arch: Architecture) -> list[tuple[str, str]]:
    """(kind, layer) of `GeneratorCNN_ID_UAEAfterResidual` (models.py)."""
    s = arch.generator_stages
    layers = [("conv", "conv_in")] + [("conv", p) for p in _trunk("trunk", s)]
    layers += [("fc", "fc_bottleneck"), ("fc", "fc_expand")]
    for k in range(s):
        layers += [("conv", f"dec_res_{k}.conv_a"), ("conv", f"dec_res_{k}.conv_b")]
        if k < s - 1:
            layers.append(("conv", f"dec_conv_{k}"))
    layers.append(("conv", "conv_out"))
    return layers


def pose_encoder_layers(arch: Architecture) -> list[tuple[str, str]]:
    """`PoseEncoderFCRes`: FC in, residual FC blocks, FC out."""
    return [("fc", p) for p in ["fc_in", *_residual_dense("res_", arch.pose_blocks), "fc_out"]]


def pose_decoder_layers(arch: Architecture) -> list[tuple[str, str]]:
    """`PoseDecoderFCRes`: FC in, residual FC blocks, coordinate head, visibility head."""
    return [("fc", p) for p in ["fc_in", *_residual_dense("res_", arch.pose_blocks),
                                "coords", "visibility"]]


def mapping_layers(arch: Architecture) -> list[tuple[str, str]]:
    """`GaussianFCRes`: FC in, residual FC blocks, FC out."""
    return [("fc", p) for p in ["input_fc", *_residual_dense("block_", arch.mapping_blocks),
                                "output_fc"]]


def slim_rows(scope: str, network: str, layers: list[tuple[str, str]]) -> list[WeightMapping]:
    """Numbers `layers` the way slim does (per kind, in creation order) under `scope`."""
    counts = {"conv": 0, "fc": 0}
    base = {"conv": "Conv", "fc": "fully_connected"}
    rows = []
    for kind, layer in layers:
        k = counts[kind]
        counts[kind] += 1
        slim_name = base[kind] if k == 0 else f"{base[kind]}_{k}"
        rows.append(WeightMapping(f"{scope}{slim_name}/weights", network, layer, "kernel"))
        rows.append(WeightMapping(f"{scope}{slim_name}/biases", network, layer, "bias"))
    return rows


# --- tflib networks -------------------------------------------------------------------------
def _tflib(layer: str, param: str) -> str:
    return f"{layer}/{layer}.{param}"


def discriminator_rows(arch: Architecture) -> list[WeightMapping]:
    """tflib `DCGANDiscriminator`: convs `Discriminator.1..4`, BN `Discriminator.BN2..4`."""
    if arch.discriminator_head == "five_conv":
        raise ValueError("the original discriminator has 4 convs; the imported config must use "
                         "discriminator_head flatten (Market) or channel_chunks (DeepFashion)")
    d = names.DISCRIMINATOR
    rows = []
    for i in range(4):
        layer = f"Discriminator.{i + 1}"
        rows += [WeightMapping(_tflib(layer, "Filters"), d, f"conv_{i}", "kernel"),
                 WeightMapping(_tflib(layer, "Biases"), d, f"conv_{i}", "bias")]
        if i:
            bn = f"Discriminator.BN{i + 1}"
            rows += [WeightMapping(_tflib(bn, "scale"), d, f"bn_{i}", "gamma"),
                     WeightMapping(_tflib(bn, "offset"), d, f"bn_{i}", "beta"),
                     WeightMapping(_tflib(bn, "moving_mean"), d, f"bn_{i}", "moving_mean"),
                     WeightMapping(_tflib(bn, "moving_variance"), d, f"bn_{i}",
                                   "moving_variance")]
    transform = CHW_ROWS_TO_HWC if arch.discriminator_head == "flatten" else IDENTITY
    rows += [WeightMapping(_tflib("Discriminator.Output", "W"), d, "logits", "kernel", transform),
             WeightMapping(_tflib("Discriminator.Output", "b"), d, "logits", "bias")]
    return rows


def critic_rows(prefix: str, network: str, arch: Architecture) -> list[WeightMapping]:
    """tflib `FCDiscriminator(name=prefix)`: `Input`, `0..n-1` (LReLU layers), `Out`."""
    layers = [(f"{prefix}Discriminator.Input.Linear", "fc0")]
    layers += [(f"{prefix}Discriminator.{i}.Linear", f"fc{i + 1}")
               for i in range(arch.critic_layers)]
    layers.append((f"{prefix}Discriminator.Out", "output_fc"))
    rows = []
    for tf1_layer, ours in layers:
        rows += [WeightMapping(_tflib(tf1_layer, "W"), network, ours, "kernel"),
                 WeightMapping(_tflib(tf1_layer, "b"), network, ours, "bias")]
    return rows


# --- the table per checkpoint ---------------------------------------------------------------
def table(kind: str, dataset: str, arch: Architecture, with_discriminator: bool = True,
          with_critics: bool = True) -> list[WeightMapping]:
    """Every imported variable of one original checkpoint (`kind` is STAGE1, POSE_AE, ...)."""
    if kind == STAGE1:
        rows = slim_rows("Encoder/G_encoder/", names.ENCODER, encoder_layers(arch))
        rows += slim_rows("ID_AE/G/", names.GENERATOR, generator_layers(arch))
        return rows + (discriminator_rows(arch) if with_discriminator else [])
    if kind == POSE_AE:
        return (slim_rows("PoseAE/G_Pose_Encoder/", names.POSE_ENCODER, pose_encoder_layers(arch))
                + slim_rows("PoseAE/G_Pose_Decoder/", names.POSE_DECODER,
                            pose_decoder_layers(arch)))
    if kind == STAGE2_APP and dataset == "market":
        rows = slim_rows("Gaussian_FC_Fg/G_FC/", names.FG_MAPPING, mapping_layers(arch))
        rows += slim_rows("Gaussian_FC_Bg/G_FC/", names.BG_MAPPING, mapping_layers(arch))
        if with_critics:
            rows += critic_rows("Fg_FCDis_", names.FG_CRITIC, arch)
            rows += critic_rows("Bg_FCDis_", names.BG_CRITIC, arch)
        return rows
    if kind == STAGE2_APP:
        rows = slim_rows("Gaussian_FC/G_FC/", names.FG_MAPPING, mapping_layers(arch))
        return rows + (critic_rows("FCDis_", names.FG_CRITIC, arch) if with_critics else [])
    if kind == STAGE2_POSE:
        rows = slim_rows("PoseGaussian/G_FC/", names.POSE_MAPPING, mapping_layers(arch))
        return rows + (critic_rows("Pose_emb_", names.POSE_CRITIC, arch) if with_critics else [])
    raise ValueError(f"unknown checkpoint kind {kind!r}")


# Variables an original checkpoint holds besides the imported networks, by kind. They are
# recognised (so they are not "unknown") and not imported as network weights: optimizer
# slots (the Adam ones are imported into our optimizers, see ADAM_SLOTS), counters, and the
# copies of frozen networks that the Stage-II trainers save alongside their own (E/G in
# 3/103/4/104, the pose AE in 4/104, which is the RANDOM one in Market model 4, SPEC 8.2 #2:
# the pose AE comes from --pose_ae).
COUNTERS = ("step", "g_lr", "d_lr", "phase")
# TF1 Adam slots of a variable V: V/Adam (first moment m), V/Adam_1 (second moment v). They
# are imported into our Keras Adam optimizers for Stage I and the pose auto-encoder
# (`tf1_import._import_adam`), so training can continue from an imported run; the
# RMSProp slots of the Stage-II checkpoints are not (Stage II restarts its optimizers).
ADAM_SLOTS = {"momentums": "/Adam", "velocities": "/Adam_1"}
OPTIMIZER_SUFFIXES = ("/Adam", "/Adam_1", "/RMSProp", "/RMSProp_1")
OPTIMIZER_PREFIXES = ("beta1_power", "beta2_power")
FROZEN_COPIES = {
    STAGE1: (),
    POSE_AE: (),
    STAGE2_APP: ("Encoder/", "ID_AE/"),
    STAGE2_POSE: ("Encoder/", "ID_AE/", "PoseAE/"),
}


def is_ignored(name: str, kind: str) -> bool:
    """Whether `name` is a known variable of a `kind` checkpoint that is not imported."""
    if name in COUNTERS or name.startswith(OPTIMIZER_PREFIXES):
        return True
    if name.endswith(OPTIMIZER_SUFFIXES):
        return True
    return name.startswith(FROZEN_COPIES[kind])
