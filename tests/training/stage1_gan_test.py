"""Stage1GAN: which variables each update changes, finite losses, step-0 rule, 1 vs 2 replicas.

Slow (3.5 min measured under `bazel test` on 2 shared cores): each test builds and compiles a
GAN of its own and traces its train steps (on one and two replicas, and in mixed bfloat16).
"""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf.models import factory
from dpig_tf.training import loop
from dpig_tf.training import optimizers
from dpig_tf.training.stage1_gan import Stage1GAN
from dpig_tf.training import runtime


def build_gan(cfg, strategy=None, learning_rate=2e-4):
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        gan = Stage1GAN(factory.build_encoder(cfg), factory.build_generator(cfg),
                        factory.build_discriminator(cfg), l1_weight=cfg.stage1.l1_weight)
        gan.compile(g_optimizer=optimizers.adam(learning_rate, 0.5, 0.999, 1e-8, 1000),
                    d_optimizer=optimizers.adam(learning_rate, 0.5, 0.999, 1e-8, 1000))
        gan.build_optimizers()
    return gan


def snapshot(variables):
    return [v.numpy().copy() for v in variables]


def changed(before, variables):
    return [not np.array_equal(b, v.numpy()) for b, v in zip(before, variables)]


def eg_variables(gan):
    return gan.encoder.trainable_variables + gan.generator.trainable_variables


def test_generator_step_changes_only_encoder_and_generator(tiny_cfg, tiny_batches):
    gan = build_gan(tiny_cfg)
    eg, d = eg_variables(gan), gan.discriminator.trainable_variables
    eg_before, d_before = snapshot(eg), snapshot(d)
    tf.function(gan._generator_step)(tiny_batches[0])
    assert not any(changed(d_before, d)), "the generator step changed D"
    eg_changed = changed(eg_before, eg)
    # Every G variable gets a gradient; E variables too except ROI codes of absent parts.
    num_e = len(gan.encoder.trainable_variables)
    assert all(eg_changed[num_e:]), "a generator variable did not change"
    assert np.mean(eg_changed) > 0.9, f"only {np.mean(eg_changed):.0%} of E+G changed"
    assert int(gan.g_optimizer.iterations.numpy()) == 1
    assert int(gan.d_optimizer.iterations.numpy()) == 0


def test_discriminator_step_changes_only_the_discriminator(tiny_cfg, tiny_batches):
    gan = build_gan(tiny_cfg)
    eg, d = eg_variables(gan), gan.discriminator.trainable_variables
    eg_before, d_before = snapshot(eg), snapshot(d)
    tf.function(gan._discriminator_step)(tiny_batches[1])
    assert not any(changed(eg_before, eg)), "the discriminator step changed E or G"
    assert all(changed(d_before, d))
    assert int(gan.g_optimizer.iterations.numpy()) == 0


def test_train_steps_give_finite_losses_and_skip_the_generator_at_step_0(tiny_cfg,
                                                                          tiny_batches):
    gan = build_gan(tiny_cfg)
    strategy = tf.distribute.get_strategy()
    dataset = tf.data.Dataset.from_tensors(tiny_batches[0]).concatenate(
        tf.data.Dataset.from_tensors(tiny_batches[1])).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    first = loop.make_train_function(strategy, gan, 2, update_generator=False)
    regular = loop.make_train_function(strategy, gan, 2)
    eg_before = snapshot(eg_variables(gan))
    out = first(iterator)
    assert not any(changed(eg_before, eg_variables(gan))), "step 0 must not update E/G"
    assert float(out["d_loss"]) > 0
    for _ in range(2):
        out = regular(iterator)
    values = {k: float(v) for k, v in out.items()}
    assert all(np.isfinite(v) for v in values.values()), values
    assert values["g_loss"] == pytest.approx(
        values["g_adv_loss"] + tiny_cfg.stage1.l1_weight * values["l1_loss"], rel=1e-5)
    assert 0 < values["masked_l1_loss"] < values["l1_loss"]
    assert int(gan.step.numpy()) == 3
    assert int(gan.g_optimizer.iterations.numpy()) == 2
    assert int(gan.d_optimizer.iterations.numpy()) == 3


@pytest.mark.distributed
def test_one_step_on_two_replicas_equals_one_replica(tiny_cfg, tiny_batches):
    # Adam's first step moves each weight by ~lr * sign(gradient); gradients that are zero in
    # exact arithmetic (conv biases before BN) are round-off noise whose sign differs between
    # 1 and 2 replicas. A small lr keeps those flips below the 1e-5 tolerance; the Adam
    # moments below compare the gradients themselves.
    lr = 1e-6
    single = build_gan(tiny_cfg, learning_rate=lr)
    mirrored_strategy = runtime.mirrored_strategy(["/cpu:0", "/cpu:1"])
    mirrored = build_gan(tiny_cfg, mirrored_strategy, learning_rate=lr)
    for source, target in zip(single.variables, mirrored.variables):
        target.assign(source)
    initial = snapshot(mirrored.variables)
    assert mirrored_strategy.num_replicas_in_sync == 2

    outputs = []
    for gan, strategy in ((single, tf.distribute.get_strategy()), (mirrored, mirrored_strategy)):
        # The same two global batches; under 2 replicas each replica gets half of each.
        dataset = tf.data.Dataset.from_tensors(tiny_batches[0]).concatenate(
            tf.data.Dataset.from_tensors(tiny_batches[1]))
        iterator = iter(strategy.experimental_distribute_dataset(dataset))
        gan.step.assign(1)  # a regular step: generator update, then discriminator update
        out = loop.make_train_function(strategy, gan, 2)(iterator)
        outputs.append({k: float(v) for k, v in out.items()})

    for key in outputs[0]:
        assert outputs[1][key] == pytest.approx(outputs[0][key], rel=1e-4, abs=1e-6), key
    networks = [(n, getattr(single, n), getattr(mirrored, n))
                for n in ("encoder", "generator", "discriminator")]
    for name, a, b in networks:
        for va, vb in zip(a.trainable_variables, b.trainable_variables):
            np.testing.assert_allclose(vb.numpy(), va.numpy(), atol=1e-5,
                                       err_msg=f"{name} {va.path}")
    # Adam's first moments are 0.5 * gradient: a gradient scaled by the replica count shows here.
    for opt_a, opt_b in ((single.g_optimizer, mirrored.g_optimizer),
                         (single.d_optimizer, mirrored.d_optimizer)):
        # Tolerance relative to the optimizer's largest moment (round-off noise of ~zero
        # gradients is ~1e-7 of it; a wrong replica scaling would be ~100%).
        for slots_a, slots_b in ((opt_a._momentums, opt_b._momentums),
                                 (opt_a._velocities, opt_b._velocities)):
            assert len(slots_a) == len(slots_b) > 0
            scale = max(float(np.abs(m.numpy()).max()) for m in slots_a)
            assert scale > 0
            for ma, mb in zip(slots_a, slots_b):
                np.testing.assert_allclose(mb.numpy(), ma.numpy(), atol=1e-4 * scale,
                                           err_msg=ma.path)
    # The step really moved the weights (so the comparison above is not vacuous).
    assert sum(changed(initial, mirrored.variables)) > 0.5 * len(initial)


@pytest.mark.parametrize("policy,jit", [("mixed_bfloat16", False)])
def test_mixed_bfloat16_step(tiny_cfg, tiny_batches, policy, jit):
    # XLA (jit=True) fails here inside the encoder: no XLA_CPU_JIT kernel for CropAndResize.
    import keras

    from dpig_tf.training.stage1_gan import INPUT_KEYS

    keras.mixed_precision.set_global_policy(policy)
    try:
        gan = build_gan(tiny_cfg)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert gan.generator.compute_dtype == policy.replace("mixed_", "")
    assert all(v.dtype == "float32" for v in gan.trainable_variables)
    strategy = tf.distribute.get_strategy()
    # XLA cannot take the string `name` feature: the training data keeps INPUT_KEYS only.
    batches = [{k: b[k] for k in INPUT_KEYS} for b in tiny_batches]
    dataset = tf.data.Dataset.from_tensors(batches[0]).concatenate(
        tf.data.Dataset.from_tensors(batches[1])).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    gan.step.assign(1)
    out = loop.make_train_function(strategy, gan, 2, jit_compile=jit)(iterator)
    assert all(np.isfinite(float(v)) for v in out.values())
    assert float(out["g_loss"]) > 0 and int(gan.g_optimizer.iterations.numpy()) == 1


def test_adversarial_warmup_drops_the_adversarial_term_until_its_step(tiny_cfg, tiny_batches):
    with tf.distribute.get_strategy().scope():
        gan = Stage1GAN(factory.build_encoder(tiny_cfg), factory.build_generator(tiny_cfg),
                        factory.build_discriminator(tiny_cfg), l1_weight=5.0,
                        adversarial_warmup_steps=2)
        gan.compile(g_optimizer=optimizers.adam(1e-4, 0.5, 0.999, 1e-8, 1000),
                    d_optimizer=optimizers.adam(1e-4, 0.5, 0.999, 1e-8, 1000))
    for step in range(3):
        for m in gan.metrics:
            m.reset_state()
        out = gan.train_step(tiny_batches[0])
        l1_part = 5.0 * float(out["l1_loss"])
        if step < 2:  # warm-up: the generator loss is the weighted L1 alone
            np.testing.assert_allclose(float(out["g_loss"]), l1_part, rtol=1e-5)
        else:  # afterwards the non-saturating term is back (it is > 0)
            assert float(out["g_adv_loss"]) > 0
            np.testing.assert_allclose(float(out["g_loss"]), l1_part + float(out["g_adv_loss"]),
                                       rtol=1e-5)


def test_masked_l1_weight_adds_the_masked_l1_to_the_generator_loss(tiny_cfg, tiny_batches):
    def build(masked_l1_weight):
        tf.keras.utils.set_random_seed(0)
        with tf.distribute.get_strategy().scope():
            gan = Stage1GAN(factory.build_encoder(tiny_cfg), factory.build_generator(tiny_cfg),
                            factory.build_discriminator(tiny_cfg), l1_weight=5.0,
                            adversarial_warmup_steps=10, masked_l1_weight=masked_l1_weight)
            gan.compile(g_optimizer=optimizers.adam(1e-3, 0.5, 0.999, 1e-8, 1000),
                        d_optimizer=optimizers.adam(1e-3, 0.5, 0.999, 1e-8, 1000))
        return gan

    paper, demo = build(0.0), build(30.0)
    assert Stage1GAN.from_config(demo.get_config()).masked_l1_weight == 30.0
    out_paper = paper.train_step(tiny_batches[0])
    out_demo = demo.train_step(tiny_batches[0])
    # Same seed, same first step: equal losses, the demo's total has the masked term on top.
    np.testing.assert_allclose(float(out_demo["l1_loss"]), float(out_paper["l1_loss"]), rtol=1e-5)
    masked = float(out_demo["masked_l1_loss"])
    assert masked > 0
    np.testing.assert_allclose(float(out_paper["g_loss"]), 5.0 * float(out_paper["l1_loss"]),
                               rtol=1e-5)
    np.testing.assert_allclose(float(out_demo["g_loss"]),
                               5.0 * float(out_demo["l1_loss"]) + 30.0 * masked, rtol=1e-5)
    # ... and it changes the update: the second step's reconstructions differ.
    rec_paper = paper.reconstruct(tiny_batches[1]).numpy()
    rec_demo = demo.reconstruct(tiny_batches[1]).numpy()
    assert not np.allclose(rec_paper, rec_demo)
