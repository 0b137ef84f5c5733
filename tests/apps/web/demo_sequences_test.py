"""Built-in walking sequences for the video tab."""

import numpy as np
import pytest

from dpig_tf.apps.web import demo_sequences


@pytest.mark.parametrize("name", list(demo_sequences.SEQUENCES))
def test_walking_cycles_stay_in_the_image_and_move(name):
    poses = demo_sequences.demo_sequence(name, 128, 64)
    assert poses.shape == (demo_sequences.FRAMES, 18, 3)
    vis = poses[..., 2] > 0
    assert (vis == vis[0]).all() and vis[0].sum() >= 14  # the same joints in every frame
    assert (poses[..., 0][vis] <= 127).all() and (poses[..., 1][vis] <= 63).all()
    ankles = poses[:, 10, :2]
    assert np.ptp(ankles, axis=0).max() >= 4  # the legs swing


def test_unknown_sequence():
    with pytest.raises(ValueError, match="unknown demo sequence 'dance'"):
        demo_sequences.demo_sequence("dance", 128, 64)
