"""Stage I pose branch: the keypoint auto-encoder trainer."""

from __future__ import annotations

import keras
import tensorflow as tf

from dpig_tf import losses
from dpig_tf.data import features
from dpig_tf.training.stage1_gan import new_step_counter


@keras.saving.register_keras_serializable(package="dpig_tf")
class PoseAutoencoderTrainer(keras.Model):
    """Trains the pose encoder and decoder to reproduce the 54-d keypoint vector.

    Loss: `loss_weight` * MSE(target, decoder(encoder(target))) over the 54 interleaved values
    [r0, c0, v0, r1, ...]; the coordinates of missing joints (-1, -1) are included, and the
    visibility head's straight-through rounding (inside the decoder) passes the gradient on.
    There is no image and no adversarial term.

    Args:
        pose_encoder: (B, 54) -> (B, 32) code.
        pose_decoder: (B, 32) -> (B, 54) interleaved pose vector.
        loss_weight: the MSE weight (20 in the paper).

    Reference: SPEC 2.7.
    """

    def __init__(self, pose_encoder, pose_decoder, loss_weight: float = 20.0, **kwargs):
        super().__init__(**kwargs)
        self.pose_encoder = pose_encoder
        self.pose_decoder = pose_decoder
        self.loss_weight = float(loss_weight)
        self.step = new_step_counter()
        self.loss_tracker = keras.metrics.Mean(name="pose_loss")
        self.mse_tracker = keras.metrics.Mean(name="pose_mse")
        self.visibility_tracker = keras.metrics.Mean(name="visibility_accuracy")

    def compile(self, optimizer, **kwargs):
        super().compile(**kwargs)
        self.pose_optimizer = optimizer

    @property
    def metrics(self):
        return [self.loss_tracker, self.mse_tracker, self.visibility_tracker]

    @property
    def trainable_pose_variables(self):
        return self.pose_encoder.trainable_variables + self.pose_decoder.trainable_variables

    def build_optimizers(self) -> None:
        self.pose_optimizer.build(self.trainable_pose_variables)

    def reconstruct(self, batch, training: bool = False):
        """decoder(encoder(v)) for the batch's pose vectors, (B, 54)."""
        vector = batch[features.POSE_VECTOR] if isinstance(batch, dict) else batch
        return self.pose_decoder(self.pose_encoder(vector, training=training), training=training)

    def call(self, batch, training=False):
        return self.reconstruct(batch, training=training)

    def train_step(self, batch):
        target = tf.cast(batch[features.POSE_VECTOR] if isinstance(batch, dict) else batch,
                         tf.float32)
        variables = self.trainable_pose_variables
        with tf.GradientTape() as tape:
            decoded = tf.cast(self.reconstruct(target, training=True), tf.float32)
            mse = losses.mse_loss(decoded, target)
            per_example = self.loss_weight * mse
            loss = self.pose_optimizer.scale_loss(losses.average_loss(per_example))
        grads = tape.gradient(loss, variables)
        self.pose_optimizer.apply(grads, variables)
        self.step.assign_add(1)
        visible_match = tf.cast(tf.equal(tf.round(decoded[:, 2::3]), target[:, 2::3]), tf.float32)
        self.loss_tracker.update_state(tf.reduce_mean(per_example))
        self.mse_tracker.update_state(tf.reduce_mean(mse))
        self.visibility_tracker.update_state(tf.reduce_mean(visible_match))
        return {m.name: m.result() for m in self.metrics}

    def get_config(self):
        return {
            "pose_encoder": keras.saving.serialize_keras_object(self.pose_encoder),
            "pose_decoder": keras.saving.serialize_keras_object(self.pose_decoder),
            "loss_weight": self.loss_weight,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("pose_encoder", "pose_decoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
