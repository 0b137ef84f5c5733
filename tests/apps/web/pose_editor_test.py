"""The pose editor: drawn joints land where clicks map back to."""

import numpy as np
import pytest

from dpig_tf.apps.web import pose_editor


def test_editor_scale_for_market_and_deepfashion():
    assert pose_editor.editor_scale(128) == 3 and pose_editor.editor_scale(256) == 2


def test_a_click_on_a_drawn_joint_maps_back_to_it():
    h, w, scale = 128, 64, 4
    kp = np.zeros((18, 3), np.float32)
    kp[4] = (70, 20, 1)  # right wrist
    kp[7] = (70, 44, 1)  # left wrist
    image = pose_editor.draw(np.zeros((h, w, 3), np.uint8), kp, selected=4, scale=scale)
    assert image.shape == (h * scale, w * scale, 3)
    x, y = (20 + 0.5) * scale - 0.5, (70 + 0.5) * scale - 0.5
    assert tuple(image[round(y), round(x)]) == pose_editor.RIGHT
    assert tuple(image[round(y), round((44 + 0.5) * scale - 0.5)]) == pose_editor.LEFT
    assert (image == pose_editor.SELECTED).all(axis=-1).any()  # the selection ring
    assert pose_editor.click_to_pixel(x, y, scale, h, w) == pytest.approx((70, 20))


def test_clicks_outside_are_clipped_and_moves_copy():
    assert pose_editor.click_to_pixel(-10, 9999, 4, 128, 64) == (127.0, 0.0)
    kp = np.zeros((18, 3), np.float32)
    moved = pose_editor.move_joint(kp, 3, 10.4, 5.6)
    assert tuple(moved[3]) == (10, 6, 1) and (kp == 0).all()
    assert (pose_editor.hide_joint(moved, 3) == 0).all() and moved[3, 2] == 1
