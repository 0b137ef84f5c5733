"""Per-region appearance transfer: code mixing, the library function, the transfer app and CLI."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps import common
from dpig_tf.apps import regions
from dpig_tf.apps import transfer
from dpig_tf.apps.options import AppOptions
from dpig_tf.data import keypoints_csv
from dpig_tf.models.disentangled_generator import DisentangledGenerator

REPO = pathlib.Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def model_and_real(tiny_run, tiny_images):
    images, annotations, names = tiny_images
    model = DisentangledGenerator.from_run_dir(tiny_run)
    real = common.RealImages(images, annotations, model.image_height, model.image_width)
    return model, real, names


def test_parse_regions_orders_and_rejects_unknown_names():
    assert regions.parse_regions("pants, upper_clothes,pants") == ("upper_clothes", "pants")
    assert len(regions.REGION_NAMES) == 7 and set(regions.REGION_DESCRIPTIONS) == \
        set(regions.REGION_NAMES)
    with pytest.raises(ValueError, match="found shirt"):
        regions.parse_regions("shirt,pants")
    with pytest.raises(ValueError, match="found none"):
        regions.parse_regions(",")
    with pytest.raises(ValueError, match="background-from"):
        regions.check_background_from("source")


@pytest.mark.parametrize("names,background_from", [(("upper_clothes", "pants"), "target"),
                                                   (("head",), "donor"),
                                                   (regions.REGION_NAMES, "target")])
def test_unnamed_regions_are_bit_identical_in_the_embedding(model_and_real, names,
                                                            background_from):
    model, real, files = model_and_real
    target, target_kp = real.batch([files[0], files[1]])
    donor, donor_kp = real.batch([files[2], files[3]])
    out = regions.transfer_regions(model, target, target_kp, donor, donor_kp, ",".join(names),
                                   background_from)
    slices = regions.region_slices(model)
    fg, t_fg, d_fg = (c["foreground"] for c in (out.codes, out.target_codes, out.donor_codes))
    assert not np.array_equal(t_fg, d_fg)
    for name, part in slices.items():
        expected = d_fg if name in names else t_fg
        np.testing.assert_array_equal(fg[:, part], expected[:, part])
    bg_source = out.donor_codes if background_from == "donor" else out.target_codes
    np.testing.assert_array_equal(out.codes["background"], bg_source["background"])
    # The image is the decoder's output for exactly those codes, in the target's pose.
    expected = model.decode(fg, out.codes["background"], target_kp).numpy()
    np.testing.assert_array_equal(out.images, expected)


def test_single_images_and_no_region_swapped_reproduces_the_target(model_and_real):
    model, real, files = model_and_real
    target, target_kp = real.load(files[0])
    donor, donor_kp = real.load(files[1])
    out = regions.transfer_regions(model, target, target_kp, donor, donor_kp, "left_arm")
    assert out.images.shape == target.shape
    codes = model.encode(target[None], target_kp[None])
    plain = model.decode(codes["foreground"], codes["background"], target_kp[None]).numpy()[0]
    # Swapping a region for the same image's own code changes nothing.
    same = regions.transfer_regions(model, target, target_kp, target, target_kp,
                                    regions.REGION_NAMES)
    np.testing.assert_array_equal(same.images, plain)
    assert not np.array_equal(out.images, plain)


def test_transfer_app_writes_grid_and_pngs(tiny_run, tiny_images, tmp_path, model_and_real):
    images, annotations, names = tiny_images
    pairs = tmp_path / "pairs.csv"
    keypoints_csv.write_pairs_csv(str(pairs), [(names[0], names[1]), (names[2], names[3]),
                                               (names[3], names[0])])
    s = transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "out"), images=images,
                                annotations=annotations, pairs=str(pairs), batch_size=2,
                                regions="pants,upper_clothes", background_from="donor"))
    assert s["form"] == "regions" and s["regions"] == ["upper_clothes", "pants"]
    assert s["num_images"] == 3 and s["columns"] == ["target", "donor", "result"]
    model, real, _ = model_and_real
    target, target_kp = real.load(names[3])
    donor, donor_kp = real.load(names[2])
    expected = common.to_uint8(regions.transfer_regions(
        model, target, target_kp, donor, donor_kp, "upper_clothes,pants", "donor").images)
    got = np.asarray(Image.open(tmp_path / "out" / "00001.png"))
    assert np.abs(got.astype(int) - expected).max() <= 1
    grid = np.asarray(Image.open(s["grid"]))
    h, w = model.image_height, model.image_width
    assert grid.shape == (3 * (h + 2) + 2, 3 * (w + 2) + 2, 3)
    np.testing.assert_array_equal(grid[2:2 + h, 2:2 + w], common.to_uint8(real.load(names[1])[0]))
    with pytest.raises(ValueError, match="needs --regions"):
        transfer.run(AppOptions(run_dir=str(tiny_run), out=str(tmp_path / "o2"), images=images,
                                annotations=annotations, pairs=str(pairs),
                                background_from="donor"))


def _main(*args):
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-m", "dpig_tf.main", "--mode=transfer", *args],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def test_cli_region_transfer_and_bad_region_name(tiny_run, tiny_images, tmp_path):
    images, annotations, names = tiny_images
    common_args = [f"--run_dir={tiny_run}", f"--images={images}",
                   f"--annotations={annotations}", f"--from={names[1]}", f"--to={names[0]}"]
    ok = _main(*common_args, f"--out={tmp_path / 'cli'}", "--regions=upper_clothes,pants",
               "--background-from=target")
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout[ok.stdout.index("{"):])
    assert summary["num_images"] == 1 and (tmp_path / "cli" / "00000.png").is_file()
    bad = _main(*common_args, f"--out={tmp_path / 'bad'}", "--regions=shirt")
    assert bad.returncode == 2
    lines = bad.stderr.strip().splitlines()
    assert lines[-1].startswith("error: --regions: expected names from head,upper_clothes")
    assert "Traceback" not in bad.stderr
