"""Stage II: WGAN training of the noise-to-embedding mapping networks.

Reference: SPEC.md section 3 (original models 3/4 and 103/104). The Stage-I
encoder and the pose encoder are frozen and only supply the "real" embeddings;
each factor has its own mapping network Phi, critic and optimizers.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from dpig_tf import losses
from dpig_tf.training.optimizers import halving_schedule
from dpig_tf.training.stage1_gan import new_step_counter

FOREGROUND = "foreground"
BACKGROUND = "background"
POSE = "pose"
FACTORS = (FOREGROUND, BACKGROUND, POSE)
APPEARANCE_FACTORS = (FOREGROUND, BACKGROUND)
ENCODER_KEYS = ("image", "pose_mask", "roi_boxes", "roi_vis")
LOSSES = ("wgan", "wgan_gp")


def make_rmsprop(learning_rate: float, rho: float = 0.9, epsilon: float = 1e-10,
                 lr_decay_steps: int = 0, updates_per_step: int = 1,
                 name: str | None = None) -> keras.optimizers.RMSprop:
    """RMSProp as in TF1 (no momentum), lr halved every `lr_decay_steps` steps.

    `updates_per_step` converts training steps into optimizer iterations (the
    critic is updated `critic_steps` times per step).
    """
    lr = learning_rate
    if lr_decay_steps:
        lr = halving_schedule(learning_rate, lr_decay_steps * updates_per_step)
    return keras.optimizers.RMSprop(learning_rate=lr, rho=rho, momentum=0.0, epsilon=epsilon,
                                    name=name)


def build_rmsprop(optimizer: keras.optimizers.RMSprop, variables,
                  initial_accumulator: float = 1.0) -> None:
    """Builds `optimizer` for `variables` and sets its mean-square slots.

    TF1's RMSPropOptimizer initialises the mean-square accumulator to 1.0
    (Keras uses 0.0); with 1.0 the first updates are ~lr*g instead of
    ~lr*g/sqrt(0.1 g^2), i.e. far smaller (SPEC 3.3, 8.1). Call inside the
    strategy scope, before the first step (and before restoring a checkpoint,
    which then overwrites the slots).
    """
    optimizer.build(variables)
    if initial_accumulator:
        for slot in optimizer._velocities:  # the RMSprop mean-square slots
            slot.assign(tf.fill(slot.shape, tf.cast(initial_accumulator, slot.dtype)))


@keras.saving.register_keras_serializable(package="dpig_tf")
class Stage2GAN(keras.Model):
    """Trains one mapping network + critic per factor against frozen Stage-I codes.

    Real samples: the frozen appearance encoder E(x) split into foreground
    (first `foreground_dim`) and background (the rest), and the frozen pose
    encoder's code of the real pose vector. Fake samples: Phi(z) with
    z ~ N(0, noise_std^2 I) of the embedding's size. Loss: the original WGAN
    (critic: mean D(fake) - mean D(real); Phi: -mean D(fake)) with every critic
    parameter clipped to +-clip_value after every critic update, or WGAN-GP.

    One `train_step` = per factor: one Phi update (unless `update_mapping` is
    False, the runner's choice for step 0), then `critic_steps` critic updates,
    each on its own slice of the real batch (the original dequeues a fresh
    batch per critic update). The batch given to `train_step` therefore holds
    `critic_steps` x the critic batch; the Phi update uses that critic batch size.

    Factors trained together in one model share a batch: foreground and
    background (images) in one Stage2GAN, the pose (pose vectors, its own batch
    size and steps) in another.

    Args:
        mappings: {factor: MappingNetwork}; factors among foreground,
            background, pose.
        critics: {factor: EmbeddingCritic}, the same keys.
        encoder: the Stage-I appearance encoder (needed for foreground or
            background); frozen.
        pose_encoder: the pose auto-encoder's encoder (needed for pose); frozen.
        foreground_dim: size of the foreground part of E(x) (224).
        noise_std: standard deviation of z (0.2).
        critic_steps: critic updates per mapping update (5).
        loss: "wgan" (weight clipping, the paper) or "wgan_gp".
        clip_value: critic weight clipping bound (0.01), for "wgan".
        gp_weight: gradient-penalty weight, for "wgan_gp".

    Reference:
        SPEC.md sections 3.1-3.3 and 8.1 (optimisers, step order).
    """

    def __init__(self, mappings, critics, encoder=None, pose_encoder=None,
                 foreground_dim: int = 224, noise_std: float = 0.2, critic_steps: int = 5,
                 loss: str = "wgan", clip_value: float = 0.01, gp_weight: float = 10.0,
                 **kwargs):
        super().__init__(**kwargs)
        if set(mappings) != set(critics) or not mappings:
            raise ValueError(f"Stage2GAN: mappings {sorted(mappings)} and critics "
                             f"{sorted(critics)} must name the same, non-empty factors")
        unknown = set(mappings) - set(FACTORS)
        if unknown:
            raise ValueError(f"Stage2GAN: unknown factors {sorted(unknown)}; use {FACTORS}")
        if loss not in LOSSES:
            raise ValueError(f"Stage2GAN: loss must be one of {LOSSES}, got {loss!r}")
        self.factors = tuple(f for f in FACTORS if f in mappings)
        if any(f in APPEARANCE_FACTORS for f in self.factors) and encoder is None:
            raise ValueError("Stage2GAN: foreground/background factors need the Stage-I encoder")
        if POSE in self.factors and pose_encoder is None:
            raise ValueError("Stage2GAN: the pose factor needs the pose encoder")
        self.mappings = dict(mappings)
        self.critics = dict(critics)
        self.encoder = encoder
        self.pose_encoder = pose_encoder
        for frozen in (encoder, pose_encoder):
            if frozen is not None:
                frozen.trainable = False
        self.foreground_dim = int(foreground_dim)
        self.noise_std = float(noise_std)
        self.critic_steps = int(critic_steps)
        self.loss_name = loss
        self.clip_value = float(clip_value)
        self.gp_weight = float(gp_weight)
        self.step = new_step_counter()
        self.trackers = {}
        for f in self.factors:
            for kind in ("critic_loss", "mapping_loss", "wasserstein"):
                name = f"{f}_{kind}"
                self.trackers[name] = keras.metrics.Mean(name=name)

    # --- set-up ------------------------------------------------------------------
    def compile(self, mapping_optimizers, critic_optimizers, **kwargs):
        """Args: {factor: optimizer} for the mapping networks and for the critics."""
        super().compile(**kwargs)
        self.mapping_optimizers = dict(mapping_optimizers)
        self.critic_optimizers = dict(critic_optimizers)

    def build_all(self) -> None:
        """Builds every mapping network and critic (weights exist afterwards)."""
        for f in self.factors:
            dim = self.mappings[f].dim
            for net in (self.mappings[f], self.critics[f]):
                if not net.built:
                    net.build((None, dim))
        self.built = True

    @property
    def metrics(self):
        return list(self.trackers.values())

    def call(self, noise):
        """{factor: z} -> {factor: Phi(z)} for the factors given."""
        return {f: self.mappings[f](z) for f, z in noise.items()}

    # --- embeddings --------------------------------------------------------------
    def real_embeddings(self, batch):
        """{factor: frozen Stage-I embedding} of a feature batch."""
        out = {}
        if any(f in APPEARANCE_FACTORS for f in self.factors):
            codes = self.encoder({k: batch[k] for k in ENCODER_KEYS}, training=False)
            out[FOREGROUND] = codes[:, :self.foreground_dim]
            if BACKGROUND in self.factors:
                out[BACKGROUND] = codes[:, self.foreground_dim:]
        if POSE in self.factors:
            out[POSE] = self.pose_encoder(batch["pose_vector"], training=False)
        return {f: tf.stop_gradient(out[f]) for f in self.factors}

    def sample_noise(self, factor: str, batch_size):
        dim = self.mappings[factor].dim
        return tf.random.normal((batch_size, dim), stddev=self.noise_std)

    # --- one training step ------------------------------------------------------
    def train_step(self, data, update_mapping: bool = True):
        """Phi update (if `update_mapping`), then `critic_steps` critic updates.

        `update_mapping` is a Python bool: the runner traces one function with
        it (every step > 0) and one without it (step 0, SPEC 3.3).
        """
        real = self.real_embeddings(data)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        for f in self.factors:
            n = tf.shape(real[f])[0] // self.critic_steps  # per-replica critic batch
            if update_mapping:
                self._mapping_step(f, n, replicas)
            for i in range(self.critic_steps):
                self._critic_step(f, real[f][i * n:(i + 1) * n], n, replicas)
        self.step.assign_add(1)
        return {name: t.result() for name, t in self.trackers.items()}

    def _mapping_step(self, f, n, replicas):
        mapping, critic = self.mappings[f], self.critics[f]
        z = self.sample_noise(f, n)
        global_n = n * replicas
        with tf.GradientTape() as tape:
            fake_score = critic(mapping(z, training=True), training=True)
            loss = losses.average_loss(losses.wgan_generator_loss(fake_score), global_n)
        grads = tape.gradient(loss, mapping.trainable_variables)
        self.mapping_optimizers[f].apply(grads, mapping.trainable_variables)
        self.trackers[f"{f}_mapping_loss"].update_state(loss * replicas)

    def _critic_step(self, f, real, n, replicas):
        mapping, critic = self.mappings[f], self.critics[f]
        fake = tf.stop_gradient(mapping(self.sample_noise(f, n), training=True))
        global_n = n * replicas
        with tf.GradientTape() as tape:
            real_score = critic(real, training=True)
            fake_score = critic(fake, training=True)
            per_example = losses.wgan_critic_loss(real_score, fake_score)
            wasserstein = -losses.average_loss(per_example, global_n)
            if self.loss_name == "wgan_gp":
                alpha = tf.random.uniform((tf.shape(real)[0], 1), 0.0, 1.0)
                per_example += self.gp_weight * losses.gradient_penalty(
                    lambda x: critic(x, training=True), real, fake, alpha)
            loss = losses.average_loss(per_example, global_n)
        grads = tape.gradient(loss, critic.trainable_variables)
        self.critic_optimizers[f].apply(grads, critic.trainable_variables)
        if self.loss_name == "wgan":
            losses.clip_weights(critic.trainable_variables, self.clip_value)
        self.trackers[f"{f}_critic_loss"].update_state(loss * replicas)
        self.trackers[f"{f}_wasserstein"].update_state(wasserstein * replicas)

    def get_config(self):
        return {
            "mappings": {f: keras.saving.serialize_keras_object(m)
                         for f, m in self.mappings.items()},
            "critics": {f: keras.saving.serialize_keras_object(c)
                        for f, c in self.critics.items()},
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "pose_encoder": keras.saving.serialize_keras_object(self.pose_encoder),
            "foreground_dim": self.foreground_dim, "noise_std": self.noise_std,
            "critic_steps": self.critic_steps, "loss": self.loss_name,
            "clip_value": self.clip_value, "gp_weight": self.gp_weight, "name": self.name,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("mappings", "critics"):
            config[key] = {f: keras.saving.deserialize_keras_object(v)
                           for f, v in config[key].items()}
        for key in ("encoder", "pose_encoder"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
