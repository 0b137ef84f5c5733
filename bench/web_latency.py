"""Web page latency: pose transfer from a click to the new result, in a real browser.

Two numbers for one run directory (the demo model by default):
- direct: `Engine.transfer` (one decode of the cached codes) and the whole
  click handler's work without Gradio (decode + drawing the editor image),
  median over --calls;
- browser: headless Chromium (Playwright) clicks the pose editor of
  `python -m dpig_tf.apps.web` and waits until the result image changes,
  median and 90th percentile over --clicks.
Prints one JSON line with the load average (the machine is shared).

    python bench/web_latency.py --run_dir=RUN [--clicks=20 --calls=50]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def direct(run_dir: str, calls: int) -> dict:
    import numpy as np

    from dpig_tf.apps import common
    from dpig_tf.apps.options import AppOptions
    from dpig_tf.apps.web import pose_editor
    from dpig_tf.apps.web.engine import Engine
    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    model = DisentangledGenerator.from_run_dir(run_dir)
    engine = Engine(model, common.real_images(AppOptions(), model))
    warm = engine.warm_up()
    names = engine.test_names
    person = engine.test_person(names[0])
    target = engine.test_keypoints(names[1])
    scale = pose_editor.editor_scale(engine.height)
    decode, handler = [], []
    for i in range(calls):
        kp = pose_editor.move_joint(target, 4, 20 + i % 40, 10 + i % 30)
        start = time.perf_counter()
        image = engine.transfer(person, kp)
        decode.append(time.perf_counter() - start)
        pose_editor.draw(image, kp, 4, scale)
        handler.append(time.perf_counter() - start)
    return {"size": [engine.height, engine.width], "warm_up_s": round(warm, 2),
            "decode_ms_median": round(1000 * float(np.median(decode)), 1),
            "handler_ms_median": round(1000 * float(np.median(handler)), 1)}


def browser(run_dir: str, clicks: int) -> dict:
    import numpy as np

    from dpig_tf.testing import web_page

    times = []
    with tempfile.TemporaryDirectory() as tmp, \
            web_page.serve([f"--run_dir={run_dir}"], pathlib.Path(tmp) / "server.log") as url, \
            web_page.browser_page() as (page, _):
        page.goto(url, wait_until="load")
        src = web_page.wait_for_new_src(page, "#transfer-result", None, timeout=180)
        img = page.locator("#pose-editor img")
        for i in range(clicks):
            box = img.bounding_box()
            # Alternate two places far apart so that every click changes the result.
            x = box["width"] * (0.2 if i % 2 else 0.8)
            y = box["height"] * (0.3 + 0.02 * (i % 10))
            start = time.perf_counter()
            img.click(position={"x": x, "y": y})
            src = web_page.wait_for_new_src(page, "#transfer-result", src)
            times.append(time.perf_counter() - start)
    times_ms = 1000 * np.asarray(times)
    return {"clicks": clicks, "click_to_result_ms_median": round(float(np.median(times_ms)), 1),
            "click_to_result_ms_p90": round(float(np.percentile(times_ms, 90)), 1)}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--clicks", type=int, default=20)
    parser.add_argument("--calls", type=int, default=50)
    args = parser.parse_args(argv)
    result = {"run_dir": args.run_dir, "direct": direct(args.run_dir, args.calls),
              "browser": browser(args.run_dir, args.clicks),
              "load_average_1min": os.getloadavg()[0], "cpus": os.cpu_count()}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
