"""The page's server without a browser: the command line, the no-model page, error lines."""

import json
import socket
import subprocess
import sys
import urllib.request

import pytest

from dpig_tf.testing import web_page


def _run(args, cwd):
    env = {"PYTHONPATH": str(web_page.REPO_ROOT), "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "dpig_tf.apps.web", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=300, env=env)


def test_bad_flags_give_one_error_line_and_exit_2(tmp_path):
    if web_page.missing_reason() and "gradio" in web_page.missing_reason():
        pytest.skip("gradio is not installed: the command stops at that first")
    result = _run([f"--run_dir={tmp_path / 'nowhere'}"], tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert lines[-1] == (f"error: {tmp_path / 'nowhere'}: expected a run directory with "
                         "config.yaml, found none")
    assert "Traceback" not in result.stderr
    result = _run([f"--preset={tmp_path / 'p.keras'}"], tmp_path)
    assert result.returncode == 2 and "p.keras: preset not found" in result.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _run([f"--port={port}"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"error: --port={port}: expected a free port on "
                                     "127.0.0.1, found it in use")


def test_without_a_model_the_page_says_which_command_makes_it(tmp_path):
    pytest.importorskip("gradio")
    with web_page.serve([], tmp_path / "server.log") as url:
        with urllib.request.urlopen(url + "config", timeout=30) as response:
            config = json.load(response)
    texts = [c.get("props", {}).get("value") for c in config["components"]]
    message = next(t for t in texts if isinstance(t, str) and "No trained demo model" in t)
    assert "`python -m dpig_tf.main --stage=1`" in message
    assert "Serving" in (tmp_path / "server.log").read_text()
