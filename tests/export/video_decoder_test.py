"""The video decoder's cached appearance bias map gives the generator's frames."""

import numpy as np

from export.video_decoder import VideoDecoder


def test_frames_equal_decode(loaded, examples):
    model = loaded.model
    codes = model.encode(examples["image"][:1], examples["keypoints"][:1])
    video = VideoDecoder(model)
    bias = video.appearance_bias(codes["foreground"], codes["background"])
    assert bias.shape == (1, 32, 16, model.generator.channels)
    frames = examples["target_keypoints"]  # 3 frames of one appearance
    got = video.frame(bias, frames).numpy()
    tile = lambda t: np.repeat(t.numpy(), len(frames), axis=0)  # noqa: E731
    want = model.decode(tile(codes["foreground"]), tile(codes["background"]), frames).numpy()
    assert got.shape == want.shape == (3, 32, 16, 3)
    np.testing.assert_allclose(got, want, atol=1e-5)
    # Away from the border the appearance term is spatially constant.
    inner = bias.numpy()[0, 1:-1, 1:-1]
    np.testing.assert_allclose(inner, np.broadcast_to(inner[:1, :1], inner.shape), atol=1e-5)
