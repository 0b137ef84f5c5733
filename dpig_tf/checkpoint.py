"""The checkpoint contract, shared by training, the applications and export.

A run directory holds `config.yaml` (the resolved config) and `checkpoints/`
written by `tf.train.CheckpointManager` over a `tf.train.Checkpoint` whose
object names are defined here once. Inference code restores only the networks
it needs (never optimizers or discriminators).
"""

from __future__ import annotations

# Object names inside a checkpoint. Networks:
ENCODER = "encoder"
GENERATOR = "generator"
DISCRIMINATOR = "discriminator"
POSE_ENCODER = "pose_encoder"
POSE_DECODER = "pose_decoder"
FG_MAPPING = "fg_mapping"
BG_MAPPING = "bg_mapping"
POSE_MAPPING = "pose_mapping"
FG_CRITIC = "fg_critic"
BG_CRITIC = "bg_critic"
POSE_CRITIC = "pose_critic"
# Optimizers and counters:
G_OPTIMIZER = "g_optimizer"
D_OPTIMIZER = "d_optimizer"
POSE_AE_OPTIMIZER = "pose_ae_optimizer"
STEP = "step"
POSE_AE_STEP = "pose_ae_step"

# Files and folders of a run directory.
CONFIG_FILE = "config.yaml"
STAGE1_DIR = "checkpoints/stage1"  # encoder, generator, discriminator + optimizers, step
POSE_AE_DIR = "checkpoints/pose_ae"  # pose encoder, pose decoder + optimizer, pose_ae_step
STAGE2_DIR = "checkpoints/stage2"  # mapping networks and critics
METRICS_FILE = "metrics.jsonl"
SAMPLES_DIR = "samples"
TENSORBOARD_DIR = "tensorboard"

STAGE1_INFERENCE_NETWORKS = (ENCODER, GENERATOR, POSE_ENCODER, POSE_DECODER)
STAGE2_INFERENCE_NETWORKS = (FG_MAPPING, BG_MAPPING, POSE_MAPPING)
