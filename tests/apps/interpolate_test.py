"""--mode=interpolate: end points, per-factor interpolation, slerp, inverse mapping."""

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.apps import interpolate
from dpig_tf.apps.options import AppOptions
from dpig_tf.models.disentangled_generator import DisentangledGenerator


def test_slerp_and_lerp_end_points():
    a = np.array([[1.0, 0.0]], np.float32)
    b = np.array([[0.0, 2.0]], np.float32)
    t = np.array([[0.0], [0.5], [1.0]], np.float32)
    s = interpolate.slerp(a, b, t)
    np.testing.assert_allclose(s[0], a[0], atol=1e-6)
    np.testing.assert_allclose(s[2], b[0], atol=1e-6)
    # Halfway, omega = pi/2: sin(pi/4) / sin(pi/2) * (a + b).
    np.testing.assert_allclose(s[1], np.sin(np.pi / 4) * np.array([1.0, 2.0]), atol=1e-6)
    np.testing.assert_allclose(interpolate.lerp(a, b, t)[1], [0.5, 1.0])
    same = interpolate.slerp(a, a, t)  # parallel vectors fall back to lerp
    np.testing.assert_allclose(same, np.repeat(a, 3, 0), atol=1e-6)


def test_foreground_only_interpolation_end_points(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    s = interpolate.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), images=images,
                                   annotations=annotations, from_image=names[0],
                                   to_image=names[1], steps=3, factors=("fg",)))
    assert s["num_images"] == 3 and s["factors"] == ["foreground"]
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, 32, 16)
    img, kp = real.batch([names[0], names[1]])
    codes = model.encode(img, kp)
    # Last frame: B's foreground on A's background, in A's (real) pose.
    last = common.to_uint8(model.decode(codes["foreground"][1:], codes["background"][:1],
                                        kp[:1]).numpy())[0]
    got = np.asarray(Image.open(tmp_path / "interp_02.png"))
    assert np.abs(got.astype(int) - last).max() <= 1


def test_inverse_mapping_in_noise_space(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    s = interpolate.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), images=images,
                                   annotations=annotations, from_image=names[0],
                                   to_image=names[1], steps=3, space="noise",
                                   interpolation="slerp", factors=("fg", "pose")))
    assert set(s["inversion_relative_error"]) == {"foreground", "pose"}
    assert all(np.isfinite(v) for v in s["inversion_relative_error"].values())


def test_inversion_recovers_a_mapped_code(tiny_run):
    model = DisentangledGenerator.from_run_dir(tiny_run, require_stage2=True)
    z_true = model.noise(11, 2, "background").numpy()
    target = model.bg_mapping(z_true).numpy()
    _, err = interpolate.invert(model.bg_mapping, target, model.noise_std, seed=0)
    # A code in the range of Phi is found again (measured 0.06 here; far from the
    # ~1.0 of the initial guess).
    assert err < 0.1


def test_needs_from_and_to(tiny_run, tmp_path):
    with pytest.raises(ValueError, match="--from and --to"):
        interpolate.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path)))
