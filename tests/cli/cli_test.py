"""dpig_tf.cli: user errors are one line + exit 2, bugs keep the traceback + exit 1; quiet TF."""

import errno
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from dpig_tf import cli
from dpig_tf.data.errors import DataError
from dpig_tf.errors import UsageError

REPO = pathlib.Path(__file__).resolve().parents[2]


def _run(main, argv=()):
    with pytest.raises(SystemExit) as exit_info:
        cli.run(main, list(argv))
    return exit_info.value.code


def _raise(err):
    def main(argv):
        raise err
    return main


def test_user_error_is_one_line_naming_file_line_and_field(capsys):
    err = DataError("expected an integer, found 'x'", "a.csv", 3, field="keypoints_y[2]")
    assert _run(_raise(err)) == 2
    want = "error: a.csv:3: keypoints_y[2]: expected an integer, found 'x'\n"
    assert capsys.readouterr().err == want


def test_multi_line_message_is_joined_into_one_line(capsys):
    assert _run(_raise(UsageError("first\nsecond\n"))) == 2
    assert capsys.readouterr().err == "error: first; second\n"


def test_bug_keeps_the_traceback_and_exits_1(capsys):
    assert _run(_raise(ZeroDivisionError("boom"))) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "ZeroDivisionError: boom" in err and "error:" not in err


def test_plain_value_error_is_a_bug(capsys):
    assert _run(_raise(ValueError("shape mismatch inside the model"))) == 1
    assert "Traceback" in capsys.readouterr().err


def test_full_disk_and_missing_file_are_user_errors(capsys):
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "/x/out.png")
    assert _run(_raise(full)) == 2
    assert capsys.readouterr().err.startswith("error: /x/out.png: No space left on device")
    assert _run(_raise(FileNotFoundError(errno.ENOENT, "No such file", "/x/in.csv"))) == 2
    assert capsys.readouterr().err == "error: /x/in.csv: No such file\n"


def test_debug_flag_adds_the_traceback_to_a_user_error(capsys):
    assert _run(_raise(UsageError("bad")), ["--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and err.rstrip().endswith("error: bad")


def test_argparse_errors_name_the_flag():
    parser = cli.ArgumentParser()
    parser.add_argument("--limit", type=int)
    with pytest.raises(UsageError) as err:
        parser.parse_args(["--limit=many"])
    assert err.value.field == "--limit" and "many" in str(err.value)


def test_flag_given_reads_raw_arguments():
    assert cli.flag_given(["--verbose"], "--verbose")
    assert cli.flag_given(["--verbose=true"], "--verbose")
    assert not cli.flag_given(["--verbose", "--noverbose"], "--verbose")
    assert not cli.flag_given(["--verbosity=1"], "--verbose")


def test_tensorflow_start_up_is_silent_unless_verbose(tmp_path):
    """A command that imports TensorFlow prints nothing on stderr; --verbose shows TF's logs."""
    (tmp_path / "imgs").mkdir()
    Image.fromarray(np.zeros((32, 16, 3), np.uint8)).save(tmp_path / "imgs" / "a.png")
    ys = "[" + ", ".join(["-1"] * 18) + "]"
    (tmp_path / "a.csv").write_text(f"name:keypoints_y:keypoints_x\na.png: {ys}: {ys}\n")
    argv = [sys.executable, "-m", "dpig_tf.data.tfrecord", "--dataset=market",
            f"--images={tmp_path / 'imgs'}", f"--annotations={tmp_path / 'a.csv'}",
            f"--out={tmp_path / 'x.tfrecord'}"]
    env = dict(os.environ, PYTHONPATH=str(REPO))
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    quiet = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0 and '"records": 1' in quiet.stdout, quiet.stderr[-2000:]
    assert quiet.stderr == ""
    verbose = subprocess.run(argv + ["--verbose"], env=env, capture_output=True, text=True,
                             timeout=300)
    assert verbose.returncode == 0, verbose.stderr[-2000:]
    if os.environ.get("TF_ENABLE_ONEDNN_OPTS") != "0":
        assert "oneDNN" in verbose.stderr  # this TF build announces oneDNN at start-up
