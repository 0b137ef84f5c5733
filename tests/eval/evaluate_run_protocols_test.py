"""evaluate_run / --mode=evaluate under the GFLA and CFLD protocols (untrained tiny run)."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from dpig_tf.data import keypoints_csv
from dpig_tf.eval import evaluate_run as er
from dpig_tf.pose import media
from dpig_tf.testing.metric_weights import write_random_lpips_npz

from .conftest import write_market_style_images
from .conftest import write_untrained_run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def square_run(tmp_path_factory):
    """The tiny config at 32 x 32 (LPIPS's AlexNet needs >= 31 x 31 images)."""
    from dpig_tf import config_io

    cfg = config_io.load_config("tiny", ["data.image_width=32"])
    run = write_untrained_run(cfg, tmp_path_factory.mktemp("run") / "run")
    data = write_market_style_images(tmp_path_factory.mktemp("data"),
                                     cfg.data.image_height, cfg.data.image_width)
    return cfg, run, data


def test_gfla_protocol_writes_lpips_and_target_keypoints(square_run, tmp_path):
    cfg, run, (images, annotations, pairs_csv) = square_run
    weights = write_random_lpips_npz(tmp_path / "lpips.npz")
    out = tmp_path / "eval"
    report = er.evaluate_run(run, pairs_csv, images, annotations, str(out),
                             metrics=["lpips", "mask_lpips", "ssim_256", "psnr"],
                             protocol="gfla", lpips_weights=weights)
    pairs = keypoints_csv.read_pairs_csv(pairs_csv)
    m = report["metrics"]
    assert report["protocol"] == "gfla" and m["lpips_images_used"] == len(pairs)
    assert np.isfinite(m["lpips"]) and np.isfinite(m["mask_lpips"])
    assert report["run"]["mask"] == "target pose mask r4"
    written = keypoints_csv.read_annotation_csv(str(out / er.TARGET_KEYPOINTS_FILE))
    known = keypoints_csv.read_annotation_csv(annotations)
    np.testing.assert_array_equal(written["00001.png"], known[pairs[1][1]])
    logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["lpips"] for r in logged if r.get("out_dir") == str(out)] == [m["lpips"]]


def test_main_evaluate_cfld_and_unknown_protocol(square_run, tiny_run, tmp_path):
    cfg, run, (images, annotations, pairs_csv) = square_run
    weights = write_random_lpips_npz(tmp_path / "lpips.npz")
    env = {**os.environ, "PYTHONPATH": REPO, "TF_CPP_MIN_LOG_LEVEL": "3"}
    base = [sys.executable, "-m", "dpig_tf.main", "--mode=evaluate", f"--run_dir={run}",
            f"--pairs={pairs_csv}", f"--images={images}", f"--annotations={annotations}"]
    ok = subprocess.run(base + [f"--out={tmp_path / 'e'}", "--protocol=cfld",
                                "--metrics=lpips,psnr", f"--lpips_weights={weights}"],
                        capture_output=True, text=True, env=env, timeout=300)
    assert ok.returncode == 0, ok.stderr
    report = json.loads((tmp_path / "e" / "report.json").read_text())
    assert report["protocol"] == "cfld" and "lpips" in report["metrics"]
    bad = subprocess.run(base + [f"--out={tmp_path / 'f'}", "--protocol=nope"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert bad.returncode != 0 and "nope" in bad.stderr
    _, narrow_run, (narrow_images, narrow_annotations, narrow_pairs) = tiny_run
    with pytest.raises(ValueError, match=r"^LPIPS: expected images of at least 31x31 pixels "
                                         r"\(AlexNet\), found 32x16$"):
        er.evaluate_run(narrow_run, narrow_pairs, narrow_images, narrow_annotations,
                        str(tmp_path / "g"), metrics=["lpips"], protocol="gfla",
                        lpips_weights=weights)


def test_pckh_against_the_known_target_keypoints(tiny_run, tmp_path):
    reason = media.missing_reason(graph=True)
    if reason:
        pytest.skip(reason)
    cfg, run, (images, annotations, pairs_csv) = tiny_run
    report = er.evaluate_run(run, pairs_csv, images, annotations, str(tmp_path / "p"),
                             metrics=["pckh"], protocol="gfla")
    m = report["metrics"]
    # An untrained generator draws no person: the re-detection finds (almost) no joint.
    assert 0 <= m["pckh"] <= 0.2 and len(m["pckh_per_joint"]) == 18
    assert "re-detected" not in report["settings"]["pckh_targets"]
