"""The page's command line and server without a browser: error lines, the no-model page."""

import json
import socket
import urllib.request

import pytest

from dpig_tf.apps.web import __main__ as web_main
from dpig_tf.apps.web import model_source
from dpig_tf.testing import web_page

pytest.importorskip("gradio", reason="the web page needs gradio (pip install -e .[web])")


def _error_line(capsys, argv):
    assert web_main.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1
    return err


def test_bad_flags_give_one_error_line_and_exit_2(capsys, tmp_path):
    assert _error_line(capsys, [f"--run_dir={tmp_path / 'nowhere'}"]) == (
        f"error: {tmp_path / 'nowhere'}: expected a run directory with config.yaml, found none")
    assert "p.keras: preset not found" in _error_line(capsys, [f"--preset={tmp_path}/p.keras"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert _error_line(capsys, [f"--port={port}"]) == (
            f"error: --port={port}: expected a free port on 127.0.0.1, found it in use")


def test_without_a_model_the_page_says_which_command_makes_it(tmp_path, monkeypatch):
    from dpig_tf.apps.web import ui

    monkeypatch.chdir(tmp_path)  # no runs/ here
    engine, line, missing = web_main.prepare(web_main.parse_args([]))
    assert engine is None and missing == model_source.missing_demo_message()
    page = ui.build(engine, line, missing)
    port = web_page.free_port()
    page.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True,
                quiet=True, ssr_mode=False)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=30) as response:
            config = json.load(response)
    finally:
        page.close()
    texts = [c.get("props", {}).get("value") for c in config["components"]]
    message = next(t for t in texts if isinstance(t, str) and "No trained demo model" in t)
    assert "`python -m dpig_tf.main --stage=1`" in message


def test_handlers_turn_errors_into_one_status_line(tmp_path):
    from dpig_tf.apps.web import ui

    status, upload = object(), object()
    upload_path = tmp_path / "gradio" / "abc123" / "me.png"
    upload_path.parent.mkdir(parents=True)
    upload_path.write_bytes(b"x")

    @ui._guarded(status, clear=[upload])
    def bad_input(path):
        raise ValueError(f"{path}: expected an image file, found text")

    @ui._guarded(status)
    def bug(path):
        raise RuntimeError("boom")

    assert bad_input(str(upload_path)) == {
        status: "**Error:** me.png: expected an image file, found text", upload: None}
    out = bug(str(upload_path))
    assert list(out) == [status] and out[status].startswith("**Internal error** (RuntimeError: "
                                                             "boom)")
