"""Losses of Stage I and Stage II, per example, plus one distribution-correct reduction.

Every loss function here returns a PER-EXAMPLE vector of shape (B,) in float32 (inputs in
bfloat16/float16 are cast first). A train step turns it into the scalar it differentiates with
`average_loss`, the only reduction in the project: it divides the (per-replica) sum by the
GLOBAL batch size (`tf.nn.compute_average_loss`), so that the gradients that tf.distribute sums
across replicas equal the gradient of the global mean. A plain `tf.reduce_mean` per replica
would make every update `num_replicas` times too large (STACK.md 2.1).

Reference: SPEC 2.5 (DCGAN + L1 losses of Stage I), 2.7 (pose auto-encoder MSE),
3.3 (WGAN with weight clipping of Stage II).
"""

from __future__ import annotations

import tensorflow as tf


def average_loss(per_example_loss, global_batch_size=None):
    """The per-replica share of the global-batch mean of `per_example_loss` (B,).

    Args:
        per_example_loss: (B,) tensor, B = the per-replica batch.
        global_batch_size: defaults to B x num_replicas_in_sync.
    """
    return tf.nn.compute_average_loss(
        tf.cast(per_example_loss, tf.float32), global_batch_size=global_batch_size)


def _per_example_mean(x):
    """Mean over every axis but the first: (B, ...) -> (B,)."""
    x = tf.cast(x, tf.float32)
    x = tf.reshape(x, [tf.shape(x)[0], -1])
    return tf.reduce_mean(x, axis=1)


# --- DCGAN (Stage I, SPEC 2.5) ----------------------------------------------------------
def sigmoid_cross_entropy(logits, label: float):
    """Per-example BCE of logits (B, k) against a constant label, averaged over the k logits."""
    logits = tf.cast(logits, tf.float32)
    labels = tf.fill(tf.shape(logits), tf.constant(label, tf.float32))
    return _per_example_mean(
        tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits))


def discriminator_loss(real_logits, fake_logits):
    """L_D = 1/2 [BCE(D(x), 1) + BCE(D(G), 0)], per example (SPEC 2.5)."""
    return 0.5 * (sigmoid_cross_entropy(real_logits, 1.0)
                  + sigmoid_cross_entropy(fake_logits, 0.0))


def generator_adversarial_loss(fake_logits):
    """Non-saturating L_G,adv = BCE(D(G), 1), per example (SPEC 2.5)."""
    return sigmoid_cross_entropy(fake_logits, 1.0)


def l1_loss(prediction, target):
    """Mean |prediction - target| over pixels and channels, per example (SPEC 2.5)."""
    return _per_example_mean(tf.abs(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)))


def masked_l1_loss(prediction, target, mask):
    """Mean |prediction - target| * mask over ALL pixels and channels, per example.

    The original divides by the full pixel count, not by the mask area (SPEC 2.5); it is
    logged only. `mask` (B, H, W, 1) broadcasts over the channels.
    """
    diff = tf.abs(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32))
    return _per_example_mean(diff * tf.cast(mask, tf.float32))


def mse_loss(prediction, target):
    """Mean squared error over the feature axis, per example (pose AE, SPEC 2.7)."""
    return _per_example_mean(
        tf.square(tf.cast(prediction, tf.float32) - tf.cast(target, tf.float32)))


# --- WGAN (Stage II, SPEC 3.3) ------------------------------------------------------------
def wgan_critic_loss(real_scores, fake_scores):
    """Critic loss D(fake) - D(real), per example (the critic maximises real - fake)."""
    return _per_example_mean(fake_scores) - _per_example_mean(real_scores)


def wgan_generator_loss(fake_scores):
    """Mapping-network loss -D(fake), per example."""
    return -_per_example_mean(fake_scores)


def clip_weights(variables, clip_value: float) -> None:
    """Clips every variable to [-clip_value, clip_value] in place (WGAN weight clipping)."""
    for variable in variables:
        variable.assign(tf.clip_by_value(variable, -clip_value, clip_value))


def gradient_penalty(critic, real, fake, alpha):
    """WGAN-GP term (||grad_x critic(x_hat)||_2 - 1)^2 per example, x_hat = real + alpha (fake - real).

    Args:
        critic: callable (B, ...) -> (B, 1) scores.
        real, fake: (B, ...) inputs of the same shape.
        alpha: (B, 1, ...) interpolation weights in [0, 1], broadcastable to `real`.
    """
    real = tf.cast(real, tf.float32)
    fake = tf.cast(fake, tf.float32)
    interpolated = real + tf.cast(alpha, tf.float32) * (fake - real)
    with tf.GradientTape() as tape:
        tape.watch(interpolated)
        scores = critic(interpolated)
    grads = tape.gradient(scores, interpolated)
    grads = tf.reshape(tf.cast(grads, tf.float32), [tf.shape(grads)[0], -1])
    norm = tf.sqrt(tf.reduce_sum(tf.square(grads), axis=1) + 1e-12)
    return tf.square(norm - 1.0)
