"""Bad input across the entry points: one `error:` line naming the file/field, exit 2.

Every case runs the real command in a subprocess (`python -m ...` or `python export/...`)
and asserts: exit code 2, exactly one line starting with `error:` on stderr that names the
offending file or field, no `Traceback` anywhere, and no output left behind (the output
path does not exist or holds no file, and no `*.tmp*` file is left in the fixture folder).
Most cases fail before TensorFlow is imported (flags, files and CSVs are checked first);
the ones marked TF below pay its start-up.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf import config_io
from dpig_tf.data import keypoints_csv

REPO = pathlib.Path(__file__).resolve().parents[2]
H, W = 32, 16  # configs/tiny.yaml
YS = "[" + ", ".join(str(2 + i) for i in range(18)) + "]"
XS = "[" + ", ".join(str(4 + i % 8) for i in range(18)) + "]"
HEADER = "name:keypoints_y:keypoints_x\n"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    argv: tuple  # "{d}" is the fixture folder
    names: tuple  # substrings the error line must contain (the file and/or the field)
    outputs: tuple = ()  # paths under {d} that must not be left with files in them


def _row(name, ys=YS, xs=XS):
    return f"{name}: {ys}: {xs}\n"


@pytest.fixture(scope="module")
def d(tmp_path_factory) -> pathlib.Path:
    """Input files, good and bad, shared by every case (cases never write into them)."""
    d = tmp_path_factory.mktemp("bad_inputs")
    (d / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray(rng.integers(0, 256, (H, W, 3), np.uint8)).save(
            d / "imgs" / f"000{i}_c1s1_00000{i}_00.png")
    (d / "imgs" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    good = HEADER + _row("0000_c1s1_000000_00.png") + _row("0001_c1s1_000001_00.png")
    (d / "good.csv").write_text(good)
    first = "0000_c1s1_000000_00.png"
    (d / "nonnumeric.csv").write_text(HEADER + _row(first, ys=YS.replace("5", "x", 1)))
    (d / "count.csv").write_text(HEADER + _row(first, ys="[1, 2, 3]"))
    (d / "nan.csv").write_text(HEADER + _row(first, xs=XS.replace("4", "nan", 1)))
    (d / "below.csv").write_text(HEADER + _row(first, ys=YS.replace("2", "-7", 1)))
    (d / "header.csv").write_text("name,y,x\n" + _row("0000_c1s1_000000_00.png"))
    (d / "fields.csv").write_text(HEADER + "0000_c1s1_000000_00.png: [1, 2]\n")
    (d / "empty.csv").write_text("")
    (d / "binary.csv").write_bytes(b"\xff\xfe\x00garbage\x81")
    (d / "dup.csv").write_text(good + _row("0000_c1s1_000000_00.png"))
    (d / "traversal.csv").write_text(HEADER + _row("../etc/passwd"))
    (d / "missing_img.csv").write_text(good + _row("0009_c1s1_000009_00.png"))
    (d / "broken_img.csv").write_text(HEADER + _row("broken.png"))
    (d / "pairs_missing_file.csv").write_text("from,to\n0000_c1s1_000000_00.png,nope.png\n")
    (d / "unknown_key.yaml").write_text("base: tiny\nstage1:\n  stepz: 3\n")
    (d / "wrong_type.yaml").write_text("base: tiny\nstage1:\n  steps: many\n")
    (d / "out_of_range.yaml").write_text("base: tiny\nstage1:\n  batch_size: -4\n")
    (d / "syntax.yaml").write_text("base: tiny\nstage1:\n  steps: [1, 2\n  log_every: 3\n")
    # Run directories: a config without checkpoints is enough for the checks that come first.
    cfg = config_io.load_config("tiny")
    for name in ("run", "run_newer"):
        (d / name).mkdir()
        config_io.dump_config(cfg, d / name / "config.yaml")
    (d / "run_newer" / "format.json").write_text('{"format_version": 99}\n')
    (d / "not_a_run").mkdir()
    (d / "a_file").write_text("x")
    # A serving contract (what export/saved_model.py writes next to the SavedModel).
    dims = {"height": H, "width": W, "foreground_dim": 28, "background_dim": 8, "pose_dim": 8,
            "noise_std": 0.2}
    (d / "contract.json").write_text(json.dumps({"dims": dims}))
    np.save(d / "img_bad_shape.npy", np.zeros((1, H + 1, W, 3), np.float32))
    np.save(d / "img_ok.npy", np.zeros((1, H, W, 3), np.float32))
    np.save(d / "img_nan.npy", np.full((1, H, W, 3), np.nan, np.float32))
    np.save(d / "img_str.npy", np.array([["a"]]))
    np.save(d / "kp17.npy", np.zeros((1, 17, 3), np.float32))
    np.save(d / "kp_inf.npy", np.full((1, 18, 3), np.inf, np.float32))
    np.save(d / "kp_ok.npy", np.zeros((1, 18, 3), np.float32))
    assert keypoints_csv.read_annotation_csv(str(d / "good.csv"))  # the good file is good
    return d


M = ("-m", "dpig_tf.main")
INSPECT = ("-m", "dpig_tf.data.inspect", "--dataset=market", "--images={d}/imgs",
           "--out={d}/o_inspect")
TFREC = ("-m", "dpig_tf.data.tfrecord", "--dataset=market", "--images={d}/imgs",
         "--out={d}/o_tfrec/x.tfrecord")
APP = ("--run_dir={d}/run", "--out={d}/o_app")
CLIENT = ("export/client.py", "--contract={d}/contract.json", "--rest=http://127.0.0.1:9")

CASES = [
    # --- dpig_tf.main: flags ---
    Case("main_int_flag", M + ("--num=abc",), ("--num", "abc")),
    Case("main_enum_flag", M + ("--mode=bogus",), ("--mode", "bogus")),
    Case("main_unknown_flag", M + ("--nmu=3",), ("nmu",)),
    Case("main_stage_range", M + ("--stage=3",), ("--stage",)),
    Case("main_positional", M + ("extra",), ("extra",)),
    Case("main_stage2_needs_init", M + ("--stage=2",), ("--init_from",)),
    # --- dpig_tf.main: configs ---
    Case("config_missing", M + ("--config={d}/nope.yaml",), ("nope.yaml",)),
    Case("config_unknown_key", M + ("--config={d}/unknown_key.yaml",), ("stepz",)),
    Case("config_wrong_type", M + ("--config={d}/wrong_type.yaml",), ("stage1.steps", "many")),
    Case("config_out_of_range", M + ("--config={d}/out_of_range.yaml",), ("stage1.batch_size",)),
    Case("config_yaml_syntax", M + ("--config={d}/syntax.yaml",), ("syntax.yaml:",)),
    Case("set_unknown_key", M + ("--config=tiny", "--set=stage1.nope=1"), ("stage1.nope",)),
    Case("set_wrong_type", M + ("--config=tiny", "--set=stage1.batch_size=abc"),
         ("stage1.batch_size",)),
    Case("set_no_value", M + ("--config=tiny", "--set=stage1.steps"), ("stage1.steps",)),
    # --- applications: run dirs and inputs ---
    Case("app_run_dir_missing", M + ("--mode=sample", "--run_dir={d}/nope", "--out={d}/o_app"),
         ("nope", "--run_dir"), ("o_app",)),
    Case("app_run_dir_is_file", M + ("--mode=sample", "--run_dir={d}/a_file", "--out={d}/o_app"),
         ("a_file", "--run_dir"), ("o_app",)),
    Case("app_not_a_run", M + ("--mode=sample", "--run_dir={d}/not_a_run", "--out={d}/o_app"),
         ("not_a_run", "config.yaml"), ("o_app",)),
    Case("app_newer_format", M + ("--mode=sample", "--run_dir={d}/run_newer", "--out={d}/o_app"),
         ("format.json", "format_version"), ("o_app",)),
    Case("app_needs_out", M + ("--mode=sample", "--run_dir={d}/run"), ("--out",)),
    Case("app_bad_factor", M + ("--mode=sample", "--factors=fg,hair") + APP, ("--factors",),
         ("o_app",)),
    Case("app_bad_num", M + ("--mode=sample", "--num=0") + APP, ("--num",), ("o_app",)),
    Case("transfer_pairs_missing", M + ("--mode=transfer", "--pairs={d}/nope.csv") + APP,
         ("nope.csv", "--pairs"), ("o_app",)),
    Case("transfer_images_missing", M + ("--mode=transfer", "--pairs={d}/good.csv",
                                         "--images={d}/noimgs") + APP,
         ("noimgs", "--images"), ("o_app",)),
    Case("video_poses_missing", M + ("--mode=video", "--poses={d}/poses.csv",
                                     "--source=a.png") + APP, ("poses.csv", "--poses"),
         ("o_app",)),
    Case("evaluate_needs_pairs", M + ("--mode=evaluate",) + APP, ("--pairs",), ("o_app",)),
    Case("evaluate_run_module", ("-m", "dpig_tf.eval.evaluate_run", "--pairs={d}/nope.csv")
         + APP, ("nope.csv",), ("o_app",)),
    Case("app_module_mode_conflict", ("-m", "dpig_tf.apps.sample", "--mode=transfer") + APP,
         ("--mode",), ("o_app",)),  # TF (the app module imports it)
    # --- dpig_tf.data.inspect: keypoint CSVs and images ---
    Case("inspect_nonnumeric", INSPECT + ("--annotations={d}/nonnumeric.csv",),
         ("nonnumeric.csv:2", "keypoints_y"), ("o_inspect",)),
    Case("inspect_count", INSPECT + ("--annotations={d}/count.csv",),
         ("count.csv:2", "keypoints_y"), ("o_inspect",)),
    Case("inspect_nan", INSPECT + ("--annotations={d}/nan.csv",), ("nan.csv:2", "keypoints_x"),
         ("o_inspect",)),
    Case("inspect_below_minus_one", INSPECT + ("--annotations={d}/below.csv",),
         ("below.csv:2", "keypoints_y"), ("o_inspect",)),
    Case("inspect_header", INSPECT + ("--annotations={d}/header.csv",), ("header.csv:1",),
         ("o_inspect",)),
    Case("inspect_fields", INSPECT + ("--annotations={d}/fields.csv",), ("fields.csv:2",),
         ("o_inspect",)),
    Case("inspect_empty", INSPECT + ("--annotations={d}/empty.csv",), ("empty.csv",),
         ("o_inspect",)),
    Case("inspect_binary", INSPECT + ("--annotations={d}/binary.csv",), ("binary.csv",),
         ("o_inspect",)),
    Case("inspect_duplicate", INSPECT + ("--annotations={d}/dup.csv",), ("dup.csv:4",),
         ("o_inspect",)),
    Case("inspect_traversal", INSPECT + ("--annotations={d}/traversal.csv",),
         ("traversal.csv:2",), ("o_inspect",)),
    Case("inspect_csv_missing", INSPECT + ("--annotations={d}/nope.csv",), ("nope.csv",),
         ("o_inspect",)),
    Case("inspect_images_missing", ("-m", "dpig_tf.data.inspect", "--dataset=market",
                                    "--images={d}/noimgs", "--annotations={d}/good.csv",
                                    "--out={d}/o_inspect"), ("noimgs", "--images"),
         ("o_inspect",)),
    Case("inspect_bad_dataset", ("-m", "dpig_tf.data.inspect", "--dataset=mnist",
                                 "--images={d}/imgs", "--annotations={d}/good.csv",
                                 "--out={d}/o_inspect"), ("--dataset", "mnist"), ("o_inspect",)),
    Case("inspect_bad_limit", INSPECT + ("--annotations={d}/good.csv", "--limit=many"),
         ("--limit", "many"), ("o_inspect",)),
    Case("inspect_broken_image", INSPECT + ("--annotations={d}/broken_img.csv",),
         ("broken.png",), ("o_inspect",)),  # TF (the pipeline decodes the image)
    Case("inspect_wrong_size", INSPECT + ("--annotations={d}/good.csv", "--height=64",
                                          "--width=32"), ("imgs/000", "expected 64x32"),
         ("o_inspect",)),  # TF
    # --- dpig_tf.data.tfrecord / synthetic ---
    Case("tfrecord_missing_image", TFREC + ("--annotations={d}/missing_img.csv",),
         ("missing_img.csv:4", "0009_c1s1_000009_00.png"), ("o_tfrec",)),
    Case("tfrecord_needs_annotations", TFREC, ("--annotations",), ("o_tfrec",)),
    Case("synthetic_bad_int", ("-m", "dpig_tf.data.synthetic", "--out={d}/o_syn",
                               "--num_ids=few"), ("--num_ids", "few"), ("o_syn",)),
    Case("synthetic_zero_ids", ("-m", "dpig_tf.data.synthetic", "--out={d}/o_syn",
                                "--num_ids=0"), ("--num_ids",), ("o_syn",)),
    # --- dpig_tf.eval ---
    Case("score_folder_missing", ("-m", "dpig_tf.eval.score", "--generated={d}/nogen",
                                  "--targets={d}/imgs", "--out={d}/o_score/r.json"),
         ("nogen",), ("o_score",)),
    Case("score_unknown_metric", ("-m", "dpig_tf.eval.score", "--generated={d}/imgs",
                                  "--targets={d}/imgs", "--metrics=ssim,accuracy",
                                  "--out={d}/o_score/r.json"), ("accuracy",), ("o_score",)),
    Case("score_mask_metric_needs_masks", ("-m", "dpig_tf.eval.score", "--generated={d}/imgs",
                                           "--targets={d}/imgs", "--metrics=mask_ssim",
                                           "--out={d}/o_score/r.json"), ("--masks",),
         ("o_score",)),
    Case("reid_model_missing", ("-m", "dpig_tf.eval.reid", "evaluate", "--model={d}/nomodel",
                                "--query={d}/imgs", "--gallery={d}/imgs"),
         ("nomodel", "--model")),
    Case("reid_no_command", ("-m", "dpig_tf.eval.reid"), ("command",)),
    # --- dpig_tf.pose.estimate ---
    Case("estimate_images_missing", ("-m", "dpig_tf.pose.estimate", "--images={d}/noimgs",
                                     "--out={d}/o_est/a.csv"), ("noimgs", "--images"),
         ("o_est",)),
    Case("estimate_no_images", ("-m", "dpig_tf.pose.estimate", "--images={d}/not_a_run",
                                "--out={d}/o_est/a.csv"), ("not_a_run",), ("o_est",)),
    # --- export scripts and the serving client (TF) ---
    Case("saved_model_run_missing", ("export/saved_model.py", "--run_dir={d}/nope",
                                     "--out={d}/o_export"), ("nope",), ("o_export",)),
    Case("client_contract_missing", ("export/client.py", "--contract={d}/nope.json",
                                     "--rest=http://127.0.0.1:9", "--input=image={d}/img_ok.npy"),
         ("nope.json",)),
    Case("client_wrong_shape", CLIENT + ("--input=image={d}/img_bad_shape.npy",
                                         "--input=keypoints={d}/kp_ok.npy",
                                         "--input=target_keypoints={d}/kp_ok.npy"),
         ("'image'", "shape")),
    Case("client_nan", CLIENT + ("--input=image={d}/img_nan.npy",
                                 "--input=keypoints={d}/kp_ok.npy",
                                 "--input=target_keypoints={d}/kp_ok.npy"), ("'image'", "NaN")),
    Case("client_dtype", CLIENT + ("--input=image={d}/img_str.npy",
                                   "--input=keypoints={d}/kp_ok.npy",
                                   "--input=target_keypoints={d}/kp_ok.npy"),
         ("'image'", "dtype")),
    # --- bench ---
    Case("bench_bad_int", ("bench/input_pipeline.py", "--batches=lots"), ("--batches", "lots")),
]


def run_command(argv: tuple, d: pathlib.Path) -> subprocess.CompletedProcess:
    args = [a.replace("{d}", str(d)) for a in argv]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _files_under(path: pathlib.Path) -> list[str]:
    if path.is_file():
        return [str(path)]
    return [str(p) for p in path.rglob("*") if p.is_file()] if path.is_dir() else []


def test_matrix_has_forty_cases():
    assert len(CASES) >= 40
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, d: pathlib.Path):
    result = run_command(case.argv, d)
    output = result.stdout + result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode == 2, output[-3000:]
    assert "Traceback" not in output, output[-3000:]
    assert len(errors) == 1, result.stderr[-3000:]
    for name in case.names:
        assert name.replace("{d}", str(d)) in errors[0], errors[0]
    for out in case.outputs:
        assert _files_under(d / out) == [], f"{case.id} left output behind"
    assert not list(d.rglob("*.tmp*")), "a temp file was left behind"
