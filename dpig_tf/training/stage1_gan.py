"""Stage I: the disentangled reconstruction GAN (encoder E, generator G, discriminator D)."""

from __future__ import annotations

import keras
import tensorflow as tf

from dpig_tf import losses
from dpig_tf.data import features
from dpig_tf.training import code_swap

# The encoder's inputs, taken from the feature dict (docs/ARCHITECTURE.md).
ENCODER_KEYS = (features.IMAGE, features.POSE_MASK, features.ROI_BOXES, features.ROI_VIS)
# Every feature a train step reads (the rest, e.g. string names, stays out of the graph: XLA
# cannot take string arguments).
INPUT_KEYS = ENCODER_KEYS + (features.HEATMAPS,)


def new_step_counter(name: str = "step") -> tf.Variable:
    """A int64 step counter, updated once per step (by the first replica under tf.distribute)."""
    return tf.Variable(0, dtype=tf.int64, trainable=False, name=name,
                       aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA)


@keras.saving.register_keras_serializable(package="dpig_tf")
class Stage1GAN(keras.Model):
    """Trains E and G to reconstruct the input image from its appearance and pose, against D.

    One `train_step`:
      1. `_generator_step` (skipped at step 0 like the original: the training loop calls
         `train_step(batch, update_generator=False)` then): E+G minimise
         BCE(D(G), 1) + l1_weight * mean|G - x| (+ masked_l1_weight * mean|G - x| * mask,
         0 in the paper, where the masked L1 is only logged).
      2. `_discriminator_step`: D minimises 1/2 [BCE(D(x), 1) + BCE(D(G), 0)], real and fake in
         separate D calls (Market model 1: batch-norm statistics per call).
    The original pulls a fresh batch for each of the two updates; `train_step` accepts either one
    feature dict (used for both) or a pair `(generator_batch, discriminator_batch)`, which is what
    the training loop feeds (two batches per step).

    Losses go through `dpig_tf.losses.average_loss` (global-batch mean), so one step on N replicas
    equals one step on one device with the same global batch. The trackers hold replica-local
    means of the unscaled losses, averaged over replicas when read.

    Args:
        encoder: appearance encoder, `{"image", "pose_mask", "roi_boxes", "roi_vis"}` -> (B, E).
        generator: `[embedding (B, E), heatmaps (B, H, W, 18)]` -> (B, H, W, 3), linear.
        discriminator: image (B, H, W, 3) -> logits (B, k).
        l1_weight: weight of the L1 reconstruction term (20 in the paper).
        adversarial_warmup_steps: the generator's adversarial term is off (weight 0) before
            this step, so E and G first learn a plain reconstruction (0 in the paper; the
            demo config uses it to get recognisable results in CPU minutes). The training
            loop does not run D at all during the warm-up (`update_discriminator=False`):
            a warm-up step costs ~30% less, and g_adv_loss and the d_* metrics of those
            steps are 0.
        masked_l1_weight: weight of an extra L1 term restricted to the pose mask
            (`losses.masked_l1_loss`, normalised by the full pixel count). 0 in the paper
            (SPEC 2.5: logged only); PG2 used L1 + masked L1. A demo aid: it makes the
            person, not the background, dominate the reconstruction loss.
        code_swap_fraction: fraction of each generator batch decoded a second time with its
            foreground or background code swapped for another example's; the change that
            causes where the kept code owns the pixels is penalised (`training/code_swap.py`,
            logged as swap_loss). 0 in the paper; a demo aid for disentanglement. Needs a
            background code. Partners are taken within each replica's batch.
        code_swap_weight: weight of that penalty relative to the reconstruction loss (1:
            the same per-pixel weights, l1_weight plus masked_l1_weight inside the mask).
        code_swap_margin: pixels between the pose mask's border and the penalised region.
        code_swap_start_step: the penalty is off before this step (0).
        code_swap_ramp_steps: from then on its weight grows linearly from 0 over this many
            steps (0: full weight at once).

    Reference: SPEC 2.5 (losses), 2.6 (step order, schedule), 8.1 (optimisers).
    """

    def __init__(self, encoder, generator, discriminator, l1_weight: float = 20.0,
                 adversarial_warmup_steps: int = 0, masked_l1_weight: float = 0.0,
                 code_swap_fraction: float = 0.0, code_swap_weight: float = 1.0,
                 code_swap_margin: int = 2, code_swap_ramp_steps: int = 0,
                 code_swap_start_step: int = 0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= code_swap_fraction <= 1.0:
            raise ValueError(f"code_swap_fraction must be in [0, 1], got {code_swap_fraction}")
        if code_swap_fraction and not getattr(encoder, "background", False):
            raise ValueError("code_swap_fraction > 0 needs an encoder with a background code")
        self.encoder = encoder
        self.generator = generator
        self.discriminator = discriminator
        self.l1_weight = float(l1_weight)
        self.adversarial_warmup_steps = int(adversarial_warmup_steps)
        self.masked_l1_weight = float(masked_l1_weight)
        self.code_swap_fraction = float(code_swap_fraction)
        self.code_swap_margin = int(code_swap_margin)
        self.code_swap_weight = float(code_swap_weight)
        self.code_swap_ramp_steps = int(code_swap_ramp_steps)
        self.code_swap_start_step = int(code_swap_start_step)
        self.swap_loss_tracker = keras.metrics.Mean(name="swap_loss")
        self.step = new_step_counter()
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.g_adv_loss_tracker = keras.metrics.Mean(name="g_adv_loss")
        self.l1_loss_tracker = keras.metrics.Mean(name="l1_loss")
        self.masked_l1_loss_tracker = keras.metrics.Mean(name="masked_l1_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real_prob")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake_prob")

    def compile(self, g_optimizer, d_optimizer, **kwargs):
        super().compile(**kwargs)
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer

    @property
    def metrics(self):
        swap = [self.swap_loss_tracker] if self.code_swap_fraction else []
        return [self.g_loss_tracker, self.g_adv_loss_tracker, self.l1_loss_tracker,
                self.masked_l1_loss_tracker] + swap + [
                    self.d_loss_tracker, self.d_real_tracker, self.d_fake_tracker]

    @property
    def generator_variables(self):
        """The variables the generator step updates: E and G."""
        return self.encoder.trainable_variables + self.generator.trainable_variables

    def build_optimizers(self) -> None:
        """Builds the optimizer slots now (needed under MirroredStrategy, STACK.md 2.1)."""
        self.g_optimizer.build(self.generator_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)

    def reconstruct(self, batch, training: bool = False):
        """G(E(x), P): the reconstruction of the batch's images, (B, H, W, 3)."""
        embedding = self.encoder({k: batch[k] for k in ENCODER_KEYS}, training=training)
        return self.generator([embedding, batch[features.HEATMAPS]], training=training)

    def call(self, batch, training=False):
        return self.reconstruct(batch, training=training)

    def train_step(self, batch, update_generator: bool = True,
                   update_discriminator: bool = True, swap_codes: bool = True):
        # The flags are Python bools: the training loop traces separate functions for step 0
        # (no generator update), for an adversarial warm-up (no discriminator update) and
        # for the steps before code_swap_start_step (no swapped decodes: ~30% cheaper).
        # (A tf.cond here would put the optimizer's and synchronized BN's cross-replica
        # updates inside control flow, which tf.distribute rejects.)
        if isinstance(batch, dict):
            g_batch = d_batch = batch
        else:
            g_batch, d_batch = batch
        if update_generator:
            # Without a D update (the warm-up) the adversarial term is 0 anyway: D is not run.
            self._generator_step(g_batch, adversarial=update_discriminator,
                                 swap_codes=swap_codes)
        if update_discriminator:
            self._discriminator_step(d_batch)
        self.step.assign_add(1)
        return {m.name: m.result() for m in self.metrics}

    def _generator_step(self, batch, adversarial: bool = True, swap_codes: bool = True):
        image = batch[features.IMAGE]
        mask = batch[features.POSE_MASK]
        variables = self.generator_variables
        with tf.GradientTape() as tape:
            swap_loss = None
            if self.code_swap_fraction and swap_codes:  # Python-level: paper graph unchanged
                fake, swap_loss = self._reconstruct_with_swaps(batch)
            else:
                fake = self.reconstruct(batch, training=True)
            l1 = losses.l1_loss(fake, image)
            masked_l1 = losses.masked_l1_loss(fake, image, mask)
            total = self.l1_weight * l1
            if adversarial:
                fake_logits = self.discriminator(fake, training=True)
                adv = losses.generator_adversarial_loss(fake_logits)
                adv_weight = tf.cast(self.step >= self.adversarial_warmup_steps, adv.dtype)
                total = adv_weight * adv + total
            if self.masked_l1_weight:  # Python-level: the paper's graph is unchanged at 0
                total = total + self.masked_l1_weight * masked_l1
            if swap_loss is not None:
                total = total + swap_loss
            loss = self.g_optimizer.scale_loss(losses.average_loss(total))
        grads = tape.gradient(loss, variables)
        self.g_optimizer.apply(grads, variables)
        self.g_loss_tracker.update_state(tf.reduce_mean(total))
        if adversarial:
            self.g_adv_loss_tracker.update_state(tf.reduce_mean(adv))
        self.l1_loss_tracker.update_state(tf.reduce_mean(l1))
        self.masked_l1_loss_tracker.update_state(tf.reduce_mean(masked_l1))
        if swap_loss is not None:
            self.swap_loss_tracker.update_state(tf.reduce_mean(swap_loss))

    def _reconstruct_with_swaps(self, batch):
        """(reconstructions (B, H, W, 3), per-example swap loss (B,)).

        The first n = round(code_swap_fraction * B) examples are decoded a second time, in
        the same generator call, with one code swapped for the previous example's
        (`code_swap`). The swap loss is code_swap_weight x the change that causes where
        the kept code owns the pixels, weighted like the reconstruction loss; 0 for the
        other examples.
        """
        embedding = self.encoder({k: batch[k] for k in ENCODER_KEYS}, training=True)
        heatmaps = batch[features.HEATMAPS]
        batch_size = tf.shape(embedding)[0]
        n = tf.cast(tf.round(self.code_swap_fraction * tf.cast(batch_size, tf.float32)), tf.int32)
        copy_roles = code_swap.roles(n)
        foreground_dim = self.encoder.num_parts * self.encoder.part_dim
        partners = tf.roll(embedding, shift=1, axis=0)[:n]  # example 0 takes the last's
        swapped = code_swap.swap_codes(embedding[:n], partners, copy_roles, foreground_dim)
        out = self.generator([tf.concat([embedding, swapped], 0),
                              tf.concat([heatmaps, heatmaps[:n]], 0)], training=True)
        fake, fake_swapped = out[:batch_size], out[batch_size:]
        mask = tf.cast(batch[features.POSE_MASK][:n], tf.float32)
        region = code_swap.loss_region(mask, copy_roles, self.code_swap_margin)
        # The reconstruction's own pixel weights: l1 everywhere, plus masked L1 inside the mask.
        weights = self.l1_weight + self.masked_l1_weight * mask
        change = losses.masked_l1_loss(fake_swapped, fake[:n], region * weights)
        weight = self.code_swap_weight * self._code_swap_schedule()
        return fake, weight * tf.pad(change, [[0, batch_size - n]])

    def _code_swap_schedule(self):
        """0 before code_swap_start_step, then a linear ramp to 1 over code_swap_ramp_steps.

        Why: a code that does not carry its factor yet is cheapest to ignore, and G then
        paints that factor from the other code (the background code went unused, bg ratio
        1.02, at full weight from step 0; also at weights 2 and 3 with a 500-step ramp).
        """
        since_start = tf.cast(self.step - self.code_swap_start_step, tf.float32)
        if not self.code_swap_ramp_steps:
            return tf.cast(since_start >= 0.0, tf.float32)
        return tf.clip_by_value(since_start / self.code_swap_ramp_steps, 0.0, 1.0)

    def _discriminator_step(self, batch):
        image = batch[features.IMAGE]
        # No gradient flows into E/G here: the fake is a constant for D's update.
        fake = tf.stop_gradient(self.reconstruct(batch, training=True))
        variables = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            real_logits = self.discriminator(image, training=True)
            fake_logits = self.discriminator(fake, training=True)
            per_example = losses.discriminator_loss(real_logits, fake_logits)
            loss = self.d_optimizer.scale_loss(losses.average_loss(per_example))
        grads = tape.gradient(loss, variables)
        self.d_optimizer.apply(grads, variables)
        self.d_loss_tracker.update_state(tf.reduce_mean(per_example))
        self.d_real_tracker.update_state(tf.reduce_mean(tf.sigmoid(tf.cast(real_logits, tf.float32))))
        self.d_fake_tracker.update_state(tf.reduce_mean(tf.sigmoid(tf.cast(fake_logits, tf.float32))))

    def get_config(self):
        return {
            "encoder": keras.saving.serialize_keras_object(self.encoder),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "l1_weight": self.l1_weight,
            "adversarial_warmup_steps": self.adversarial_warmup_steps,
            "masked_l1_weight": self.masked_l1_weight,
            "code_swap_fraction": self.code_swap_fraction,
            "code_swap_margin": self.code_swap_margin,
            "code_swap_weight": self.code_swap_weight,
            "code_swap_ramp_steps": self.code_swap_ramp_steps,
            "code_swap_start_step": self.code_swap_start_step,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("encoder", "generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
