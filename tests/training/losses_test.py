"""Hand-computed values of dpig_tf.losses (SPEC 2.5, 2.7, 3.3)."""

import math

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import losses
from dpig_tf.training import runtime


def softplus(x):
    return math.log1p(math.exp(x))


def test_sigmoid_cross_entropy_values():
    logits = tf.constant([[0.0], [2.0], [-1.0]])
    np.testing.assert_allclose(losses.sigmoid_cross_entropy(logits, 1.0),
                               [math.log(2), softplus(-2.0), softplus(1.0)], rtol=1e-6)
    np.testing.assert_allclose(losses.sigmoid_cross_entropy(logits, 0.0),
                               [math.log(2), softplus(2.0), softplus(-1.0)], rtol=1e-6)


def test_sigmoid_cross_entropy_averages_several_logits_per_example():
    logits = tf.constant([[0.0, 2.0]])  # e.g. the DeepFashion channel_chunks head
    np.testing.assert_allclose(losses.sigmoid_cross_entropy(logits, 1.0),
                               [(math.log(2) + softplus(-2.0)) / 2], rtol=1e-6)


def test_discriminator_and_generator_losses():
    real = tf.constant([[2.0], [0.0]])
    fake = tf.constant([[2.0], [-3.0]])
    expected_d = [0.5 * (softplus(-2.0) + softplus(2.0)), 0.5 * (math.log(2) + softplus(-3.0))]
    np.testing.assert_allclose(losses.discriminator_loss(real, fake), expected_d, rtol=1e-6)
    # Non-saturating: BCE(D(G), 1) = softplus(-logit).
    np.testing.assert_allclose(losses.generator_adversarial_loss(fake),
                               [softplus(-2.0), softplus(3.0)], rtol=1e-6)


def test_l1_and_masked_l1():
    prediction = tf.constant([[[[1.0, -1.0]], [[0.5, 0.0]]]])  # (1, 2, 1, 2)
    target = tf.zeros_like(prediction)
    np.testing.assert_allclose(losses.l1_loss(prediction, target), [0.625], rtol=1e-6)
    mask = tf.constant([[[[1.0]], [[0.0]]]])  # (1, 2, 1, 1): second pixel masked out
    # Mean over ALL pixels and channels of |diff| * mask: (1 + 1) / 4.
    np.testing.assert_allclose(losses.masked_l1_loss(prediction, target, mask), [0.5], rtol=1e-6)
    # Masked pixels are ignored: changing them changes nothing.
    changed = tf.constant([[[[1.0, -1.0]], [[9.0, -7.0]]]])
    np.testing.assert_allclose(losses.masked_l1_loss(changed, target, mask), [0.5], rtol=1e-6)


def test_mse():
    prediction = tf.constant([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    target = tf.constant([[1.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    np.testing.assert_allclose(losses.mse_loss(prediction, target), [13 / 3, 1.0], rtol=1e-6)


def test_wgan_losses():
    real = tf.constant([[1.0], [2.0]])
    fake = tf.constant([[0.5], [3.0]])
    np.testing.assert_allclose(losses.wgan_critic_loss(real, fake), [-0.5, 1.0])
    np.testing.assert_allclose(losses.wgan_generator_loss(fake), [-0.5, -3.0])


def test_clip_weights():
    variables = [tf.Variable([-0.5, 0.005, 0.02]), tf.Variable([[0.3]])]
    losses.clip_weights(variables, 0.01)
    np.testing.assert_allclose(variables[0].numpy(), [-0.01, 0.005, 0.01])
    np.testing.assert_allclose(variables[1].numpy(), [[0.01]])


@pytest.mark.parametrize("scale,expected", [(2.0, 1.0), (1.0, 0.0), (0.5, 0.25)])
def test_gradient_penalty_of_a_linear_critic(scale, expected):
    # critic(x) = sum(w * x) with ||w|| = scale: the gradient norm is `scale` everywhere.
    w = tf.constant([0.6, 0.8]) * scale

    def critic(x):
        return tf.reduce_sum(x * w, axis=1, keepdims=True)

    real = tf.constant([[1.0, 2.0], [3.0, -1.0]])
    fake = tf.constant([[0.0, 0.0], [1.0, 1.0]])
    alpha = tf.constant([[0.3], [0.9]])
    np.testing.assert_allclose(losses.gradient_penalty(critic, real, fake, alpha),
                               [expected, expected], atol=1e-5)


def test_low_precision_inputs_give_float32_losses():
    logits = tf.constant([[0.0]], tf.bfloat16)
    out = losses.generator_adversarial_loss(logits)
    assert out.dtype == tf.float32
    np.testing.assert_allclose(out, [math.log(2)], rtol=1e-6)


def test_average_loss_divides_by_the_global_batch():
    per_example = tf.constant([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(losses.average_loss(per_example), 2.5)
    np.testing.assert_allclose(losses.average_loss(per_example, global_batch_size=8), 1.25)


@pytest.mark.distributed
def test_average_loss_sums_to_the_global_mean_over_replicas():
    strategy = runtime.mirrored_strategy(["/cpu:0", "/cpu:1"])
    values = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant([1.0, 2.0]) + 2.0 * ctx.replica_id_in_sync_group)
    per_replica = strategy.run(losses.average_loss, args=(values,))
    # Replica 0 holds [1, 2], replica 1 [3, 4]: each divides its sum by 4, the sum is the mean.
    np.testing.assert_allclose(
        strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None), 2.5)
