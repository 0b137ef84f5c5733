"""Strict folder pairing and image loading: every bad input is a clear error."""

import os

import numpy as np
import pytest
from PIL import Image

from dpig_tf.eval import image_folder
from dpig_tf.eval.image_folder import ImageFolderError


def _write(folder, names, mode="RGB", size=(64, 128)):
    os.makedirs(folder, exist_ok=True)
    for name in names:
        channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
        shape = (size[1], size[0], channels) if channels > 1 else (size[1], size[0])
        Image.fromarray(np.zeros(shape, np.uint8), mode).save(os.path.join(folder, name))
    return str(folder)


def test_pairs_by_sorted_stem_not_listing_order(tmp_path):
    g = _write(tmp_path / "G", ["00002.png", "00010.png", "00001.png"])
    t = _write(tmp_path / "T", ["00010.jpg", "00001.jpg", "00002.jpg"])
    stems, paths = image_folder.pair_folders({"generated": g, "targets": t})
    assert stems == ["00001", "00002", "00010"]
    assert [os.path.basename(p) for p in paths["targets"]] == ["00001.jpg", "00002.jpg",
                                                             "00010.jpg"]
    assert [os.path.basename(p) for p in paths["generated"]] == ["00001.png", "00002.png",
                                                               "00010.png"]


def test_missing_and_extra_files_are_listed(tmp_path):
    g = _write(tmp_path / "G", ["a.png", "b.png", "c.png"])
    t = _write(tmp_path / "T", ["a.png", "c.png", "d.png"])
    with pytest.raises(ImageFolderError) as err:
        image_folder.pair_folders({"generated": g, "targets": t})
    message = str(err.value)
    assert "missing from targets" in message and "b" in message
    assert "no counterpart" in message and "d" in message


def test_missing_mask_file_is_listed(tmp_path):
    g = _write(tmp_path / "G", ["a.png", "b.png"])
    t = _write(tmp_path / "T", ["a.png", "b.png"])
    m = _write(tmp_path / "M", ["a.png"], mode="L")
    with pytest.raises(ImageFolderError, match="missing from masks.*b"):
        image_folder.pair_folders({"generated": g, "targets": t, "masks": m})


def test_empty_and_missing_folders(tmp_path):
    os.makedirs(tmp_path / "empty")
    (tmp_path / "empty" / "notes.txt").write_text("no images here")
    with pytest.raises(ImageFolderError, match="holds no image files"):
        image_folder.list_images(str(tmp_path / "empty"), "generated")
    with pytest.raises(ImageFolderError, match="does not exist"):
        image_folder.list_images(str(tmp_path / "nowhere"), "targets")


def test_duplicate_stems_are_an_error(tmp_path):
    g = _write(tmp_path / "G", ["a.png", "a.jpg"])
    with pytest.raises(ImageFolderError, match="two files with the stem 'a'"):
        image_folder.list_images(g)


@pytest.mark.parametrize("mode", ["L", "RGBA"])
def test_non_rgb_images_are_rejected_naming_the_file(tmp_path, mode):
    folder = _write(tmp_path / "G", ["x.png"], mode=mode)
    with pytest.raises(ImageFolderError, match=f"x.png.*mode '{mode}'"):
        image_folder.load_rgb(os.path.join(folder, "x.png"))


def test_rgb_mask_is_rejected(tmp_path):
    folder = _write(tmp_path / "M", ["m.png"], mode="RGB")
    with pytest.raises(ImageFolderError, match="m.png.*mode 'L'"):
        image_folder.load_mask(os.path.join(folder, "m.png"))


def test_corrupt_image_file(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageFolderError, match="broken.png: not a readable image"):
        image_folder.load_rgb(str(path))


def test_sizes_within_and_between_folders(tmp_path):
    _write(tmp_path / "G", ["a.png"], size=(64, 128))
    _write(tmp_path / "G", ["b.png"], size=(64, 120))
    paths = [str(tmp_path / "G" / "a.png"), str(tmp_path / "G" / "b.png")]
    with pytest.raises(ImageFolderError, match="b.png: size 64x120 differs"):
        image_folder.load_stack(paths, image_folder.load_rgb)
    stacks = {"generated": np.zeros((1, 128, 64, 3), np.uint8),
              "targets": np.zeros((1, 256, 176, 3), np.uint8)}
    with pytest.raises(ImageFolderError, match="targets images are 176x256"):
        image_folder.check_same_size(stacks, {"generated": ["g.png"], "targets": ["t.png"]})
