"""Driving the web page (`python -m dpig_tf.apps.web`) from a real browser.

Used by the browser test and `bench/web_latency.py`: start the server in a
subprocess on a free local port, open Debian's Chromium through Playwright
(Playwright's own browser download is not available here, so the executable
is given), read the images the page shows, time clicks.
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import os
import pathlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
# The machine has no general internet: without these Chromium stalls on update, sync and
# QUIC probes.
CHROMIUM_ARGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync")
REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def chromium_path() -> str | None:
    """Debian's Chromium: /usr/bin/chromium, else `chromium` on PATH, else None."""
    return CHROMIUM if os.path.isfile(CHROMIUM) else shutil.which("chromium")


def missing_reason() -> str | None:
    """Why a browser test cannot run here (None when it can)."""
    for module, install in (("gradio", "pip install -e .[web]"),
                            ("playwright", "pip install playwright")):
        if importlib.util.find_spec(module) is None:
            return f"{module} is not installed ({install})"
    if chromium_path() is None:
        return f"{CHROMIUM} not found (apt-get install chromium)"
    return None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(args: list[str], log_path: pathlib.Path, timeout: float = 300.0, cwd=None):
    """Runs `python -m dpig_tf.apps.web ARGS --port=FREE` in `cwd`; yields the page URL.

    `cwd` defaults to the log's folder (no runs/ there: no demo model is found
    by accident). The server's output goes to `log_path`; it is stopped (SIGTERM, then
    SIGKILL) on exit. Raises RuntimeError with the log's tail when the server
    exits or does not answer within `timeout` seconds.
    """
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT), GRADIO_ANALYTICS_ENABLED="False",
               GRADIO_TEMP_DIR=str(log_path.parent / "gradio_tmp"))
    url = f"http://127.0.0.1:{port}/"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "dpig_tf.apps.web", *args,
                                 f"--port={port}"], stdout=log, stderr=subprocess.STDOUT,
                                env=env, cwd=str(cwd or log_path.parent))
        try:
            deadline = time.monotonic() + timeout
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"the web server exited with {proc.returncode}:\n"
                                       + log_path.read_text()[-3000:])
                try:
                    with urllib.request.urlopen(url, timeout=5):
                        break
                except OSError:
                    if time.monotonic() > deadline:
                        raise RuntimeError("the web server did not answer in time:\n"
                                           + log_path.read_text()[-3000:]) from None
                    time.sleep(0.5)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextlib.contextmanager
def browser_page(width: int = 1400, height: int = 1000):
    """A Playwright page in headless Debian Chromium; yields (page, external_requests)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium_path(), args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            external: list[str] = []
            page.on("request", lambda r: external.append(r.url)
                    if not r.url.startswith(("http://127.0.0.1", "data:", "blob:")) else None)
            yield page, external
        finally:
            browser.close()


def image_src(page, selector: str) -> str | None:
    """The src of the <img> inside the component `selector` (None while it has none)."""
    img = page.locator(f"{selector} img")
    if img.count() == 0:
        return None
    return img.first.get_attribute("src")


def wait_for_new_src(page, selector: str, old: str | None, timeout: float = 60.0) -> str:
    """Polls until the component's image src differs from `old`; returns the new src."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        src = image_src(page, selector)
        if src and src != old:
            return src
        page.wait_for_timeout(10)
    raise TimeoutError(f"{selector}: no new image within {timeout} s")


def fetch_image(url: str, base: str) -> np.ndarray:
    """The pixels (uint8 RGB) of an image URL the page shows."""
    if url.startswith("/"):
        url = base.rstrip("/") + url
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read()
    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def is_blank(pixels: np.ndarray) -> bool:
    """True for an image of one colour (what an empty or failed result looks like)."""
    return float(pixels.astype(np.float32).std()) < 1.0
