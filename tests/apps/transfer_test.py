"""--mode=transfer: pairs CSV and the mixed (fg, bg, pose from three images) form."""

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.apps import transfer
from dpig_tf.apps.options import AppOptions
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError
from dpig_tf.models.disentangled_generator import DisentangledGenerator


def test_pairs_give_one_image_each(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    pairs = tmp_path / "pairs.csv"
    keypoints_csv.write_pairs_csv(str(pairs), [(names[0], names[1]), (names[2], names[3]),
                                               (names[1], names[0])])
    s = transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "out"),
                                images=images, annotations=annotations, pairs=str(pairs),
                                batch_size=2))
    assert s["pairs"] == 3 and s["num_images"] == 3
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, model.image_height, model.image_width)
    src, src_kp = real.batch([names[2]])
    _, tgt_kp = real.batch([names[3]])
    expected = common.to_uint8(model.transfer(src, src_kp, tgt_kp).numpy())[0]
    got = np.asarray(Image.open(tmp_path / "out" / "00001.png"))
    assert np.abs(got.astype(int) - expected).max() <= 1


def test_unknown_image_in_pairs_names_file_and_line(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(f"from,to\n{names[0]},{names[1]}\n{names[0]},9999_c1s1_000000_00.jpg\n")
    with pytest.raises(DataError, match=r"pairs.csv:3: .*9999_c1s1_000000_00.jpg"):
        transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "out"),
                                images=images, annotations=annotations, pairs=str(pairs)))


def test_mixed_transfer_uses_three_images(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    s = transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), images=images,
                                annotations=annotations, fg_image=names[0], bg_image=names[1],
                                pose_image=names[2]))
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, model.image_height, model.image_width)
    a, b, c = (real.batch([n]) for n in names[:3])
    fg = model.encode(*a)["foreground"]
    bg = model.encode(*b)["background"]
    expected = common.to_uint8(model.decode(fg, bg, c[1]).numpy())[0]
    got = np.asarray(Image.open(s["image"]))
    assert np.abs(got.astype(int) - expected).max() <= 1
    with pytest.raises(ValueError, match="--bg_image"):
        transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path), images=images,
                                annotations=annotations, fg_image=names[0],
                                pose_image=names[2]))
