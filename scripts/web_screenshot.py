"""The README's screenshot of the web page: a pose transfer with one joint moved by a click.

    python scripts/web_screenshot.py --run_dir=RUN --out=docs/images/web_transfer.png
        [--source=NAME --target=NAME]

Starts `python -m dpig_tf.apps.web --run_dir=RUN` (in --cwd, default the
repository root, where the run's relative data paths resolve), picks the source and target in the
page, clicks the pose editor to move the right wrist, and saves the visible
page.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dpig_tf.testing import web_page  # noqa: E402


def choose(page, dropdown: str, value: str, result_src: str) -> str:
    """Selects `value` in a dropdown; returns the new result src."""
    box = page.locator(f"{dropdown} input")
    box.fill(value)
    page.get_by_role("option", name=value, exact=True).click()
    return web_page.wait_for_new_src(page, "#transfer-result", result_src)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--run_dir", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--source", help="test image of the appearance (default: the first)")
    parser.add_argument("--target", help="test image of the target pose")
    parser.add_argument("--cwd", default=str(web_page.REPO_ROOT),
                        help="where the server runs (the run's relative data paths start here)")
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=860)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        log = pathlib.Path(tmp) / "server.log"
        with web_page.serve([f"--run_dir={os.path.abspath(args.run_dir)}"], log,
                            cwd=args.cwd) as url, \
                web_page.browser_page(args.width, args.height) as (page, _):
            page.goto(url, wait_until="load")
            src = web_page.wait_for_new_src(page, "#transfer-result", None, timeout=300)
            if args.source:
                src = choose(page, "#source-name", args.source, src)
            if args.target:
                src = choose(page, "#target-name", args.target, src)
            img = page.locator("#pose-editor img")
            box = img.bounding_box()
            img.click(position={"x": box["width"] * 0.8, "y": box["height"] * 0.3})
            web_page.wait_for_new_src(page, "#transfer-result", src)
            page.wait_for_timeout(1000)  # let the new images paint
            page.screenshot(path=args.out)
    print(args.out)


if __name__ == "__main__":
    main()
