"""The only bridge from `ExperimentConfig` to network constructor arguments.

Every `build_*` function returns a BUILT model (weights created for the
config's image size), ready for `tf.train.Checkpoint` restore, optimizer
`build` and `.keras` saving. Call them inside `strategy.scope()` when
distributing. `input_shapes(cfg)` gives the per-example input shapes used.
"""

from __future__ import annotations

from dpig_tf.config import ExperimentConfig
from dpig_tf.data.features import NUM_JOINTS
from dpig_tf.data.features import POSE_VECTOR_DIM
from dpig_tf.models import flops
from dpig_tf.models.appearance_encoder import AppearanceEncoder
from dpig_tf.models.discriminator import Discriminator
from dpig_tf.models.embedding_critic import EmbeddingCritic
from dpig_tf.models.generator import Generator
from dpig_tf.models.mapping_network import MappingNetwork
from dpig_tf.models.pose_decoder import PoseDecoder
from dpig_tf.models.pose_encoder import PoseEncoder



def input_shapes(cfg: ExperimentConfig) -> dict:
    """Per-example (no batch axis) input shapes of each Stage-I network."""
    h, w, m = cfg.data.image_height, cfg.data.image_width, cfg.model
    return {
        "encoder": {"image": (h, w, 3), "pose_mask": (h, w, 1),
                    "roi_boxes": (m.num_parts, 4), "roi_vis": (m.num_parts,)},
        "generator": [(m.embedding_dim,), (h, w, NUM_JOINTS)],
        "discriminator": (h, w, 3),
        "pose_encoder": (POSE_VECTOR_DIM,),
        "pose_decoder": (m.pose_embedding_dim,),
    }


def _batched(shape_structure):
    if isinstance(shape_structure, dict):
        return {k: (None,) + tuple(v) for k, v in shape_structure.items()}
    if isinstance(shape_structure, list):
        return [(None,) + tuple(v) for v in shape_structure]
    return (None,) + tuple(shape_structure)


def build_encoder(cfg: ExperimentConfig, crop_method: str = "tf") -> AppearanceEncoder:
    """Appearance encoder E (SPEC 2.1; DeepFashion 2.8).

    `crop_method` is "tf" (tf.image.crop_and_resize) or "gather" (TFLite
    builtins, see `RoiCrop`). `CropAndResize` has no XLA kernel, so with
    `runtime.jit_compile` the numerically equal "gather" method is used.
    """
    m = cfg.model
    if cfg.runtime.jit_compile:
        crop_method = "gather"
    model = AppearanceEncoder(
        channels=m.channels, num_parts=m.num_parts, part_dim=m.part_dim,
        roi_size=m.roi_size, roi_stages=m.roi_stages, background=m.background,
        background_dim=m.background_dim, background_stages=cfg.encoder_stages,
        foreground_encoder=m.foreground_encoder, crop_method=crop_method, name="encoder")
    model.build(_batched(input_shapes(cfg)["encoder"]))
    return model


def build_generator(cfg: ExperimentConfig) -> Generator:
    """U-Net generator G (SPEC 2.3)."""
    m = cfg.model
    model = Generator(channels=m.channels, stages=cfg.generator_stages,
                      bottleneck_dim=m.bottleneck_dim, name="generator")
    model.build(_batched(input_shapes(cfg)["generator"]))
    return model


def build_discriminator(cfg: ExperimentConfig) -> Discriminator:
    """DCGAN discriminator D (SPEC 2.4, 2.8)."""
    m = cfg.model
    # The original reshape row is the Market map size 8*4*(8*dim) = 16384 (SPEC 2.8).
    chunk = 8 * 4 * 8 * m.discriminator_dim
    model = Discriminator(dim=m.discriminator_dim, head=m.discriminator_head,
                          chunk_size=chunk, name="discriminator")
    model.build(_batched(input_shapes(cfg)["discriminator"]))
    return model


def build_pose_encoder(cfg: ExperimentConfig) -> PoseEncoder:
    """Pose auto-encoder encoder (SPEC 2.7)."""
    m = cfg.model
    model = PoseEncoder(hidden=m.pose_hidden, blocks=m.pose_blocks,
                        embedding_dim=m.pose_embedding_dim, name="pose_encoder")
    model.build(_batched(input_shapes(cfg)["pose_encoder"]))
    return model


def build_pose_decoder(cfg: ExperimentConfig) -> PoseDecoder:
    """Pose auto-encoder decoder (SPEC 2.7)."""
    m = cfg.model
    model = PoseDecoder(hidden=m.pose_hidden, blocks=m.pose_blocks, num_joints=NUM_JOINTS,
                        name="pose_decoder")
    model.build(_batched(input_shapes(cfg)["pose_decoder"]))
    return model


# --- Stage II (mapping networks and critics) ---------------------------------
def _stage2_dims(cfg: ExperimentConfig) -> dict:
    """{factor: (embedding dim, mapping hidden width)}; background only with a BG branch."""
    m = cfg.model
    dims = {"foreground": (m.foreground_dim, m.fg_mapping_hidden)}
    if m.background:
        dims["background"] = (m.background_dim, m.bg_mapping_hidden)
    dims["pose"] = (m.pose_embedding_dim, m.pose_mapping_hidden)
    return dims


def build_mapping_networks(cfg: ExperimentConfig) -> dict:
    """Stage-II mapping networks {"foreground", "background" (if any), "pose"} (SPEC 3.1)."""
    nets = {}
    for factor, (dim, hidden) in _stage2_dims(cfg).items():
        short = {"foreground": "fg", "background": "bg", "pose": "pose"}[factor]
        net = MappingNetwork(dim=dim, hidden=hidden, blocks=cfg.model.mapping_blocks,
                             name=f"{short}_mapping")
        net.build((None, dim))
        nets[factor] = net
    return nets


def build_critics(cfg: ExperimentConfig) -> dict:
    """Stage-II critics {"foreground", "background" (if any), "pose"} (SPEC 3.2)."""
    nets = {}
    for factor, (dim, _) in _stage2_dims(cfg).items():
        short = {"foreground": "fg", "background": "bg", "pose": "pose"}[factor]
        net = EmbeddingCritic(dim=dim, hidden=cfg.model.critic_hidden,
                              layers=cfg.model.critic_layers, name=f"{short}_critic")
        net.build((None, dim))
        nets[factor] = net
    return nets


# --- summaries ----------------------------------------------------------------

_STAGE1_BUILDERS = {
    "encoder": build_encoder,
    "generator": build_generator,
    "discriminator": build_discriminator,
    "pose_encoder": build_pose_encoder,
    "pose_decoder": build_pose_decoder,
}


def trainable_count(model) -> int:
    """Exact number of trainable values of a built model."""
    return sum(_size(v) for v in model.trainable_weights)


def _size(variable) -> int:
    n = 1
    for d in variable.shape:
        n *= int(d)
    return n


def model_summary(cfg: ExperimentConfig) -> dict:
    """Exact trainable parameter counts and forward GMACs per image of the Stage-I nets.

    Returns `{"params": {name: int}, "gmac_per_image": {name: float}}` for
    encoder, generator, discriminator, pose_encoder, pose_decoder (SPEC 7).
    """
    shapes = input_shapes(cfg)
    params, gmacs = {}, {}
    for name, builder in _STAGE1_BUILDERS.items():
        model = builder(cfg)
        params[name] = trainable_count(model)
        gmacs[name] = flops.count_macs(model, shapes[name]) / 1e9
        del model
    return {"params": params, "gmac_per_image": gmacs}
