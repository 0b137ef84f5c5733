"""Shape-walking MAC counter (SPEC 7)."""

import keras
import numpy as np

from dpig_tf.models import flops
from dpig_tf.models.appearance_encoder import AppearanceEncoder


def test_conv_and_dense_macs_by_hand():
    inputs = keras.Input((8, 6, 3))
    x = keras.layers.Conv2D(4, 3, padding="same")(inputs)  # 8*6 * 9*3*4 = 5184
    x = keras.layers.Conv2D(5, 5, strides=2, padding="same")(x)  # 4*3 * 25*4*5 = 6000
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(7)(x)  # 60*7 = 420
    model = keras.Model(inputs, x)
    assert flops.count_macs(model, (8, 6, 3)) == 5184 + 6000 + 420
    assert flops.count_macs(model, (8, 6, 3), batch=3) == 5184 + 6000 + 420


def test_roi_trunk_counted_once_per_crop():
    kwargs = dict(channels=2, num_parts=7, part_dim=3, roi_size=4, roi_stages=1,
                  background=False, background_dim=8, background_stages=1)
    model = AppearanceEncoder(**kwargs)
    shapes = {"image": (8, 4, 3), "pose_mask": (8, 4, 1), "roi_boxes": (7, 4), "roi_vis": (7,)}
    model.build({k: (None,) + v for k, v in shapes.items()})
    stem = 8 * 4 * 9 * (3 * 2 + 2 * 2 + 2 * 2)  # conv3 3->2, residual 2x conv3 2->2
    roi = 7 * (4 * 4 * 9 * 2 * 2 * 2 + 4 * 4 * 2 * 3)  # 7 crops: residual + FC 32 -> 3
    assert flops.count_macs(model, shapes) == stem + roi
    # Layers are restored after counting (no instance-level `call` left behind).
    assert "call" not in vars(model.stem_conv)
    out = model({k: np.zeros((1,) + v, "float32") for k, v in shapes.items()})
    assert out.shape == (1, 21)
