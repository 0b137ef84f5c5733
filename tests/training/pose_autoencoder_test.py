"""PoseAutoencoderTrainer: 20 * MSE on the 54-d vector, only pose variables change, it learns."""

import numpy as np
import pytest
import tensorflow as tf

from dpig_tf import losses
from dpig_tf.models import factory
from dpig_tf.training import loop
from dpig_tf.training import optimizers
from dpig_tf.training.pose_autoencoder import PoseAutoencoderTrainer


def build(cfg, lr=1e-3):
    trainer = PoseAutoencoderTrainer(factory.build_pose_encoder(cfg),
                                     factory.build_pose_decoder(cfg), loss_weight=20.0)
    trainer.compile(optimizer=optimizers.adam(lr, 0.5, 0.999, 1e-8, 1000))
    trainer.build_optimizers()
    return trainer


def test_loss_is_twenty_times_the_mse_and_training_reduces_it(tiny_cfg, tiny_batches):
    trainer = build(tiny_cfg)
    vectors = tiny_batches[0]["pose_vector"]
    expected = 20.0 * float(tf.reduce_mean(losses.mse_loss(trainer.reconstruct(vectors), vectors)))
    before = [v.numpy().copy() for v in trainer.trainable_pose_variables]
    out = trainer.train_step({"pose_vector": vectors})
    assert float(out["pose_loss"]) == pytest.approx(expected, rel=1e-5)
    assert float(out["pose_loss"]) == pytest.approx(20 * float(out["pose_mse"]), rel=1e-5)
    assert all(not np.array_equal(b, v.numpy())
               for b, v in zip(before, trainer.trainable_pose_variables))
    assert int(trainer.step.numpy()) == 1

    strategy = tf.distribute.get_strategy()
    dataset = tf.data.Dataset.from_tensors({"pose_vector": vectors}).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    train = loop.make_train_function(strategy, trainer)
    for metric in trainer.metrics:
        metric.reset_state()
    first = float(train(iterator)["pose_loss"])
    for _ in range(40):
        for metric in trainer.metrics:
            metric.reset_state()
        last = float(train(iterator)["pose_loss"])
    assert np.isfinite(last) and last < 0.5 * first
    assert 0.0 <= float(trainer.visibility_tracker.result()) <= 1.0
