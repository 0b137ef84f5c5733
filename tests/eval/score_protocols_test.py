"""The score CLI under the GFLA / CFLD protocols: every metric, the JSON report (weights'
SHA-256, counts, resize), the table, the error lines; PCKh through the CLI on renders."""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf import cli
from dpig_tf.data import keypoints_csv
from dpig_tf.data import synthetic
from dpig_tf.eval import gfla_reconstruction
from dpig_tf.eval import lpips
from dpig_tf.eval import lpips_weights
from dpig_tf.eval import score
from dpig_tf.eval import weight_files
from dpig_tf.pose import media
from dpig_tf.testing.metric_weights import write_random_lpips_npz

from .conftest import real_looking_pairs
from .conftest import write_folder

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture()
def gfla_folders(tmp_path):
    gen, tgt, msk = real_looking_pairs()
    return {"generated": write_folder(tmp_path / "G", gen),
            "targets": write_folder(tmp_path / "T", tgt),
            "masks": write_folder(tmp_path / "M", msk),
            "arrays": (gen, tgt, msk), "root": tmp_path,
            "lpips": write_random_lpips_npz(tmp_path / "lpips_alex.npz")}


def test_gfla_cli_writes_every_number_with_weights_hashes(gfla_folders, capsys):
    f = gfla_folders
    out = f["root"] / "report.json"
    code = score.main([f"--generated={f['generated']}", f"--targets={f['targets']}",
                       f"--masks={f['masks']}", "--protocol=gfla",
                       "--metrics=lpips,mask_lpips,ssim,ssim_256,psnr,l1,mae",
                       f"--lpips_weights={f['lpips']}", "--batch_size=4", f"--out={out}"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "protocol gfla, 6 images" in printed and "mask_lpips" in printed
    report = json.loads(out.read_text())
    assert report["protocol"] == "gfla" and report["image_counts"]["generated"] == 6
    assert "fid_gfla_torchvision" in report["resize"]
    assert report["weight_files"]["lpips_weights"]["sha256"] == weight_files.sha256(f["lpips"])
    gen, tgt, msk = f["arrays"]
    m = report["metrics"]
    model = lpips.LPIPS(lpips_weights.load_weights(npz=f["lpips"]))
    expected = lpips.lpips_per_image(model, gen, tgt, batch_size=4)  # 6 -> 4 used
    assert m["lpips_images_used"] == 4
    assert m["lpips"] == pytest.approx(float(np.mean(expected)), rel=1e-6)
    assert m["mask_lpips"] != pytest.approx(m["lpips"], rel=1e-3)
    assert m["ssim_mean"] == pytest.approx(gfla_reconstruction.gfla_ssim(gen, tgt).mean())
    assert m["ssim_256_mean"] != pytest.approx(m["ssim_mean"], rel=1e-3)
    assert m["l1_mean"] == pytest.approx(np.abs(gen / 255.0 - tgt / 255.0).mean())
    assert 0 < m["mae_mean"] < 1 and m["psnr_mean"] > 5
    assert not [p for p in os.listdir(f["root"]) if p.startswith(".report-")]  # atomic write


def test_gfla_ssim_is_skimage_win51_on_unit_floats(gfla_folders):
    from skimage.metrics import structural_similarity

    gen, tgt, _ = gfla_folders["arrays"]
    ours = gfla_reconstruction.gfla_ssim(gen[:2], tgt[:2])
    ref = [structural_similarity(t / 255.0, g / 255.0, data_range=1, win_size=51,
                                 channel_axis=-1) for g, t in zip(gen[:2], tgt[:2])]
    np.testing.assert_allclose(ours, ref, rtol=1e-9, atol=1e-12)


def _exit_code(argv) -> int:
    with pytest.raises(SystemExit) as exit_info:
        cli.run(score.main, argv)  # as `python -m dpig_tf.eval.score` runs it
    return exit_info.value.code


def test_missing_weights_are_one_line_errors_before_reading(gfla_folders, capsys, tmp_path):
    f = gfla_folders
    assert _exit_code([f"--generated={f['generated']}", f"--targets={f['targets']}",
                       "--protocol=gfla", f"--out={tmp_path / 'r.json'}"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: expected LPIPS weights, found none") and "\n" not in err
    assert _exit_code([f"--generated={f['generated']}", f"--targets={f['targets']}",
                       "--protocol=cfld", f"--lpips_weights={f['lpips']}",
                       f"--out={tmp_path / 'r.json'}"]) == 2
    err = capsys.readouterr().err
    assert "inception_v3_google-0cc3c7bd.pth" in err and "--gfla_inception_weights" in err
    assert not (tmp_path / "r.json").exists()


def test_cfld_resizes_generated_to_the_target_size_bicubic(gfla_folders, tmp_path):
    f = gfla_folders
    gen, tgt, _ = f["arrays"]
    small = np.stack([np.asarray(Image.fromarray(g).resize((32, 64), Image.BICUBIC))
                      for g in gen])
    write_folder(tmp_path / "small", small)
    report = score.score_folders(str(tmp_path / "small"), f["targets"], protocol="cfld",
                                 metrics=["ssim", "psnr"])
    assert report["image_size"] == [128, 64] and "bicubic" in report["resize"]
    with pytest.raises(ValueError, match="paired images must have one size"):
        score.score_folders(str(tmp_path / "small"), f["targets"], protocol="gfla",
                            metrics=["ssim"])


def test_pckh_through_the_cli_on_renders(tmp_path, capsys):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    images, rows = [], {}
    for i in range(6):
        rng = np.random.default_rng([0, 2, i + 1, 0])
        fg = synthetic.identity_params(np.random.default_rng([0, 1, i + 1]))
        image, rcv = synthetic.render_person(fg, synthetic.pose_params(rng),
                                             synthetic.background_params(rng), 128, 64)
        images.append(image)
        rows[f"{i:05d}.png"] = rcv
    write_folder(tmp_path / "G", np.stack(images))
    write_folder(tmp_path / "T", np.stack(images))
    keypoints_csv.write_annotation_csv(str(tmp_path / "kp.csv"), rows)
    out = tmp_path / "r.json"
    assert score.main([f"--generated={tmp_path / 'G'}", f"--targets={tmp_path / 'T'}",
                       "--metrics=pckh", f"--target_keypoints={tmp_path / 'kp.csv'}",
                       "--protocol=gfla", f"--out={out}"]) == 0
    report = json.loads(out.read_text())
    m = report["metrics"]
    assert set(m["pckh_per_joint"]) >= {"nose", "left_ankle"} and m["pckh_images"] == 6
    assert 0 < m["pckh"] <= 1 and report["weight_files"]["pose_graph"]["sha256"]
    assert "pckh" in capsys.readouterr().out


@pytest.mark.large
def test_gfla_fid_through_the_cli_with_random_inception(gfla_folders, tmp_path):
    """fid_gfla_torchvision end to end (slow: Inception at 299 + a 2048-d sqrtm)."""
    if importlib.util.find_spec("torch") is None:
        pytest.skip("needs torch to write a random torchvision Inception-v3 (see .ci/run)")
    f = gfla_folders
    folder = tmp_path / "inc"
    folder.mkdir()
    np.savez(folder / "inputs.npz", images=f["arrays"][0][:1])
    run = subprocess.run([sys.executable, "-m", "dpig_tf.testing.torch_reference", "inception",
                          str(folder)], env={**os.environ, "PYTHONPATH": REPO},
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr
    out = tmp_path / "fid.json"
    weights = folder / "inception-random.pth"
    assert score.main([f"--generated={f['generated']}", f"--targets={f['targets']}",
                       "--protocol=gfla", "--metrics=fid_gfla,ssim", "--batch_size=4",
                       f"--gfla_inception_weights={weights}", f"--out={out}"]) == 0
    report = json.loads(out.read_text())
    m = report["metrics"]
    assert m["fid_gfla_torchvision"] > 0 and "fid" not in m
    assert m["fid_gfla_torchvision_generated_used"] == 4  # 6 images, batch 4: 2 dropped
    assert report["weight_files"]["gfla_inception_weights"]["sha256"] == \
        weight_files.sha256(str(weights))
