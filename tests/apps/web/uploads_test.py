"""Uploaded images: refused with a readable message when unusable, else fitted."""

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps.web import uploads
from dpig_tf.data.errors import DataError


def test_reads_an_image_as_rgb(tmp_path):
    Image.new("L", (5, 7), 99).save(tmp_path / "grey.png")
    pixels = uploads.read_image(tmp_path / "grey.png")
    assert pixels.shape == (7, 5, 3) and pixels.dtype == np.uint8 and (pixels == 99).all()


def test_a_text_file_is_not_an_image(tmp_path):
    (tmp_path / "x").write_text("hello")
    with pytest.raises(DataError, match=r"^notes.txt: expected an image file \(PNG, JPEG"):
        uploads.read_image(tmp_path / "x", name="notes.txt")


def test_a_huge_image_is_refused_before_decoding(tmp_path):
    Image.new("RGB", (5000, 4), 0).save(tmp_path / "wide.png")
    with pytest.raises(DataError, match=r"wide.png: expected an image of at most 4096 pixels "
                                        r"per side, found 5000x4"):
        uploads.read_image(tmp_path / "wide.png")


def test_a_large_file_is_refused(tmp_path, monkeypatch):
    Image.new("RGB", (64, 64), 0).save(tmp_path / "a.bmp")
    monkeypatch.setattr(uploads, "MAX_FILE_BYTES", 1024)
    with pytest.raises(DataError, match=r"a.bmp: expected an image file of at most"):
        uploads.read_image(tmp_path / "a.bmp")


def test_a_truncated_image_is_damaged(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 40, 3), np.uint8)).save(
        tmp_path / "full.png")
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[:len(data) // 2])
    with pytest.raises(DataError, match=r"cut.png: expected an image file .*found a damaged"):
        uploads.read_image(tmp_path / "cut.png")


def test_network_size_is_kept():
    pixels = np.zeros((128, 64, 3), np.uint8)
    out, fit = uploads.fit_to_network(pixels, 128, 64)
    assert out is pixels and not fit.changed
    assert uploads.fit_note(fit, 128, 64) is None


def test_other_sizes_are_scaled_and_padded_with_keypoints():
    pixels = np.zeros((100, 100, 3), np.uint8)
    out, fit = uploads.fit_to_network(pixels, 128, 64)
    assert out.shape == (128, 64, 3)
    assert fit.scale == pytest.approx(0.64) and (fit.top, fit.left) == (32, 0)
    assert (out[:32] == 255).all() and (out[32:96] == 0).all() and (out[96:] == 255).all()
    kp = np.zeros((18, 3), np.float32)
    kp[0] = (49.5, 49.5, 1)  # the centre of the source
    moved = fit.keypoints(kp)
    assert moved[0, :2] == pytest.approx((63.5, 31.5)) and moved[0, 2] == 1
    assert (moved[1:] == 0).all()
    note = uploads.fit_note(fit, 128, 64)
    assert "100x100" in note and "128x64" in note
