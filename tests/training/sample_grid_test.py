"""Sample grids: input | reconstruction | pose."""

import numpy as np
from PIL import Image

from dpig_tf.training import sample_grid


def test_grid_layout_and_png(tmp_path):
    images = np.full((3, 4, 2, 3), -1.0, np.float32)
    recon = np.full((3, 4, 2, 3), 1.0, np.float32)
    heatmaps = -np.ones((3, 4, 2, 18), np.float32)
    heatmaps[0, 1, 1, 0] = 1.0
    grid = sample_grid.reconstruction_grid(images, recon, heatmaps, max_rows=2)
    assert grid.shape == (8, 6, 3) and grid.dtype == np.uint8
    assert (grid[:, :2] == 0).all() and (grid[:, 2:4] == 255).all()
    assert grid[1, 5].max() > 0 and grid[5, 5].max() == 0  # joint 0 of example 0 only
    sample_grid.save_png(grid, tmp_path / "s" / "g.png")
    assert np.array_equal(np.asarray(Image.open(tmp_path / "s" / "g.png")), grid)


def test_to_uint8_clips_like_denorm():
    assert sample_grid.to_uint8(np.array([-2.0, 0.0, 2.0])).tolist() == [0, 127, 255]
