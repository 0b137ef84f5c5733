"""score_folders / the score CLI: numbers, report contents and bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image
from skimage.color import rgb2gray
from skimage.metrics import structural_similarity

from dpig_tf import cli
from dpig_tf.eval import score
from dpig_tf.eval.inception_score import InceptionGraphError
from dpig_tf.eval.inception_score import inception_score_from_probs

from .conftest import expected_probs

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_dpig_report_numbers_match_skimage(scored_folders):
    f = scored_folders
    report = score.score_folders(f["generated"], f["targets"], f["masks"], "dpig",
                                 "ssim,mask_ssim,psnr,l1,mask_psnr,mask_l1")
    gen, tgt, msk = f["arrays"]
    ref_ssim = []
    ref_mask = []
    for g, t, m in zip(gen, tgt, msk):
        gg, tg = rgb2gray(g), rgb2gray(t)
        ref_ssim.append(structural_similarity(gg, tg, data_range=tg.max() - tg.min()))
        ref_mask.append(structural_similarity(np.uint8(m[..., None] / 255. * g),
                                              np.uint8(m[..., None] / 255. * t),
                                              channel_axis=-1, data_range=255))
    values = report["metrics"]
    assert values["ssim_mean"] == pytest.approx(np.mean(ref_ssim), abs=1e-9)
    assert values["ssim_std"] == pytest.approx(np.std(ref_ssim), abs=1e-9)
    assert values["mask_ssim_mean"] == pytest.approx(np.mean(ref_mask), abs=1e-9)
    assert 0 < values["mask_ssim_mean"] < 1 and values["ssim_mean"] < 1
    for key in ("psnr_mean", "psnr_std", "l1_mean", "l2_mean", "mask_psnr_mean",
                "mask_l1_mean", "mask_l2_std"):
        assert np.isfinite(values[key]), key
    assert report["protocol"] == "dpig"
    assert report["num_images"] == 6
    assert report["image_size"] == [128, 64]
    assert report["inputs"]["masks"] == os.path.abspath(f["masks"])
    for package in ("tensorflow", "numpy", "scikit-image", "scipy", "pillow"):
        assert report["versions"][package] not in ("", None)


def test_patn_protocol_differs_from_dpig(scored_folders):
    f = scored_folders
    dpig = score.score_folders(f["generated"], f["targets"], f["masks"], "dpig",
                               ["ssim", "mask_ssim"])
    patn = score.score_folders(f["generated"], f["targets"], f["masks"], "patn",
                               ["ssim", "mask_ssim"])
    gen, tgt, _ = f["arrays"]
    ref = [structural_similarity(t, g, gaussian_weights=True, sigma=1.5,
                                 use_sample_covariance=False, channel_axis=-1,
                                 data_range=g.max() - g.min()) for g, t in zip(gen, tgt)]
    assert patn["metrics"]["ssim_mean"] == pytest.approx(np.mean(ref), abs=1e-9)
    assert patn["metrics"]["ssim_mean"] != pytest.approx(dpig["metrics"]["ssim_mean"])


def test_cli_writes_report_with_is_and_mask_is(scored_folders, fake_inception_graph, tmp_path):
    f = scored_folders
    graph_path, weights = fake_inception_graph
    out = tmp_path / "report.json"
    code = score.main([f"--generated={f['generated']}", f"--targets={f['targets']}",
                       f"--masks={f['masks']}", "--protocol=dpig",
                       "--metrics=ssim,is,mask_is", f"--out={out}",
                       f"--inception_graph={graph_path}", "--splits=3"])
    assert code == 0
    report = json.loads(out.read_text())
    gen, _, msk = f["arrays"]
    expected = inception_score_from_probs(expected_probs(gen, weights), 3)
    assert report["metrics"]["is_mean"] == pytest.approx(expected["mean"], rel=1e-4)
    masked = np.uint8(msk[..., None] / 255. * gen)
    expected_masked = inception_score_from_probs(expected_probs(masked, weights), 3)
    assert report["metrics"]["mask_is_mean"] == pytest.approx(expected_masked["mean"], rel=1e-4)
    assert report["settings"]["is_batch_size"] == 100
    assert report["settings"]["is_splits"] == 3
    assert report["settings"]["is_num_classes"] == 1008


def test_cli_as_module_subprocess(scored_folders, tmp_path):
    f = scored_folders
    out = tmp_path / "r.json"
    result = subprocess.run(
        [sys.executable, "-m", "dpig_tf.eval.score", f"--generated={f['generated']}",
         f"--targets={f['targets']}", "--metrics=ssim,psnr", f"--out={out}"],
        cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert json.loads(out.read_text())["metrics"]["ssim_mean"] > 0


def _cli_error(capsys, args):
    """The command's stderr: `cli.run` turns the user error into one line and exit 2."""
    with pytest.raises(SystemExit) as exit_info:
        cli.run(score.main, args)
    assert exit_info.value.code == 2
    return capsys.readouterr().err


def test_cli_missing_file_lists_names(scored_folders, capsys, tmp_path):
    f = scored_folders
    os.remove(os.path.join(f["targets"], "00003.png"))
    err = _cli_error(capsys, [f"--generated={f['generated']}", f"--targets={f['targets']}",
                              f"--out={tmp_path / 'r.json'}"])
    assert "missing from targets" in err and "00003" in err
    assert not (tmp_path / "r.json").exists()


def test_cli_rgba_file_named(scored_folders, capsys, tmp_path):
    f = scored_folders
    path = os.path.join(f["generated"], "00002.png")
    Image.fromarray(np.zeros((128, 64, 4), np.uint8), "RGBA").save(path)
    err = _cli_error(capsys, [f"--generated={f['generated']}", f"--targets={f['targets']}",
                              f"--out={tmp_path / 'r.json'}"])
    assert "00002.png" in err and "RGBA" in err


def test_cli_size_mismatch_between_folders(scored_folders, capsys, tmp_path):
    f = scored_folders
    for name in os.listdir(f["targets"]):
        Image.fromarray(np.zeros((120, 64, 3), np.uint8)).save(os.path.join(f["targets"], name))
    err = _cli_error(capsys, [f"--generated={f['generated']}", f"--targets={f['targets']}",
                              f"--out={tmp_path / 'r.json'}"])
    assert "targets images are 64x120" in err


def test_cli_empty_folder(tmp_path, capsys):
    os.makedirs(tmp_path / "G")
    os.makedirs(tmp_path / "T")
    err = _cli_error(capsys, [f"--generated={tmp_path / 'G'}", f"--targets={tmp_path / 'T'}",
                              f"--out={tmp_path / 'r.json'}"])
    assert "holds no image files" in err


def test_missing_graph_fails_before_reading_images(tmp_path):
    # The folders do not even exist: the model-file check comes first.
    with pytest.raises(InceptionGraphError, match="inception-2015-12-05.tgz"):
        score.score_folders(str(tmp_path / "G"), str(tmp_path / "T"), None, "dpig", ["is"])


def test_missing_fid_weights(scored_folders):
    f = scored_folders
    with pytest.raises(ValueError, match="inception_v3_weights_tf_dim_ordering_tf_kernels"):
        score.score_folders(f["generated"], f["targets"], None, "dpig", ["fid"],
                            fid_weights="/nonexistent/weights.h5")


def test_unknown_metric_protocol_and_missing_masks(scored_folders):
    f = scored_folders
    with pytest.raises(ValueError, match="unknown metric"):
        score.score_folders(f["generated"], f["targets"], None, "dpig", ["ssim", "lpipz"])
    with pytest.raises(ValueError, match="unknown protocol"):
        score.score_folders(f["generated"], f["targets"], None, "gfla2", ["ssim"])
    with pytest.raises(ValueError, match="need --masks"):
        score.score_folders(f["generated"], f["targets"], None, "dpig", ["mask_ssim"])
