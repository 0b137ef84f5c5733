"""The web page in a real browser: headless Debian Chromium driven by Playwright.

Starts `python -m dpig_tf.apps.web` on a free local port with an untrained tiny
run, runs a pose transfer, moves a joint by clicking the pose editor, uploads
bad files, and visits the other tabs. Screenshots go to the test's tmp dir;
the click-to-result times are printed (`-s`) and written to timings.json there.
"""

import json
import time

import numpy as np
import pytest
from PIL import Image

from dpig_tf.apps.web import pose_editor
from dpig_tf.data import keypoints as kp_lib
from dpig_tf.data import keypoints_csv
from dpig_tf.testing import web_page

REASON = web_page.missing_reason()
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(REASON is not None, reason=f"browser test: {REASON}")]

TIMEOUT_MS = 60_000


def _click_network_pixel(page, selector, row, col, scale):
    """Clicks the editor where network pixel (row, col) is drawn."""
    img = page.locator(f"{selector} img")
    box = img.bounding_box()
    natural_w, natural_h = img.evaluate("i => [i.naturalWidth, i.naturalHeight]")
    ratio = min(box["width"] / natural_w, box["height"] / natural_h, 1.0)
    x = ((col + 0.5) * scale - 0.5) * ratio + (box["width"] - natural_w * ratio) / 2
    y = ((row + 0.5) * scale - 0.5) * ratio + (box["height"] - natural_h * ratio) / 2
    img.click(position={"x": x, "y": y})


def test_transfer_edit_bad_uploads_and_every_tab(web_run, engine, tmp_path):
    from playwright.sync_api import expect

    timings = {}
    with web_page.serve([f"--run_dir={web_run}"], tmp_path / "server.log") as url, \
            web_page.browser_page() as (page, external):
        start = time.perf_counter()
        page.goto(url, wait_until="load")
        # (a) Pose transfer: the page load runs one transfer.
        first = web_page.wait_for_new_src(page, "#transfer-result", None, timeout=120)
        timings["page_load_to_first_result_s"] = time.perf_counter() - start
        before = web_page.fetch_image(first, url)
        assert before.shape == (engine.height, engine.width, 3)
        assert not web_page.is_blank(before)
        page.screenshot(path=str(tmp_path / "1_transfer.png"), full_page=True)

        # Move the selected joint (right wrist) by clicking the pose editor.
        scale = pose_editor.editor_scale(engine.height)
        editor_before = web_page.image_src(page, "#pose-editor")
        row, col = engine.height - 3, 1
        click = time.perf_counter()
        _click_network_pixel(page, "#pose-editor", row, col, scale)
        after_src = web_page.wait_for_new_src(page, "#transfer-result", first)
        timings["click_to_result_ms"] = 1000 * (time.perf_counter() - click)
        after = web_page.fetch_image(after_src, url)
        assert not np.array_equal(after, before), "moving a joint did not change the result"
        editor = web_page.fetch_image(
            web_page.wait_for_new_src(page, "#pose-editor", editor_before), url)
        centre = (round((row + 0.5) * scale - 0.5), round((col + 0.5) * scale - 0.5))
        assert tuple(editor[centre]) == pose_editor.joint_colour(
            kp_lib.JOINT_INDEX["right_wrist"]), "the joint is not drawn where it was clicked"
        page.screenshot(path=str(tmp_path / "2_joint_moved.png"), full_page=True)

        # Bad uploads: a readable message in the page, and the server keeps serving.
        bad = tmp_path / "notes.txt"
        bad.write_text("this is not an image\n")
        page.locator("#upload-image input[type=file]").set_input_files(str(bad))
        expect(page.locator("#transfer-status")).to_contain_text(
            "notes.txt: expected an image file (PNG, JPEG", timeout=TIMEOUT_MS)
        assert "Traceback" not in page.content()
        page.screenshot(path=str(tmp_path / "3_bad_file.png"), full_page=True)
        huge = tmp_path / "huge.png"
        Image.new("RGB", (6000, 8), (9, 9, 9)).save(huge)
        page.locator("#upload-image input[type=file]").set_input_files(str(huge))
        expect(page.locator("#transfer-status")).to_contain_text(
            "huge.png: expected an image of at most 4096 pixels per side, found 6000x8",
            timeout=TIMEOUT_MS)
        page.locator("#reset-pose").click()
        reset_src = web_page.wait_for_new_src(page, "#transfer-result", after_src)

        # A good upload: a test image at twice the size with its keypoint file (file first).
        name = engine.test_names[3]
        image, kp = engine.test_set.load(name)
        Image.fromarray(((image + 1) * 127.5).astype(np.uint8)).resize(
            (2 * engine.width, 2 * engine.height), Image.NEAREST).save(tmp_path / "me.png")
        keypoints_csv.write_annotation_csv(str(tmp_path / "me.csv"),
                                           {"me.png": kp * [2, 2, 1] + [0.5, 0.5, 0]})
        source_src = web_page.image_src(page, "#source-image")
        page.locator("#upload-keypoints input[type=file]").set_input_files(
            str(tmp_path / "me.csv"))
        expect(page.locator("#transfer-status")).to_contain_text("now upload the image")
        page.locator("#upload-image input[type=file]").set_input_files(str(tmp_path / "me.png"))
        expect(page.locator("#transfer-status")).to_contain_text(
            f"The image was {2 * engine.height}x{2 * engine.width} (HxW)", timeout=TIMEOUT_MS)
        web_page.wait_for_new_src(page, "#source-image", source_src)
        web_page.wait_for_new_src(page, "#transfer-result", reset_src)
        page.screenshot(path=str(tmp_path / "3b_upload.png"), full_page=True)

        # (b) Sampling: a new seed gives a new sample.
        page.get_by_role("tab", name="Sampling").click()
        sample = web_page.wait_for_new_src(page, "#sampling-result", None)
        assert not web_page.is_blank(web_page.fetch_image(sample, url))
        seed = page.locator("#sampling-seed input[type=number]")
        seed.fill("5")
        seed.press("Enter")
        web_page.wait_for_new_src(page, "#sampling-result", sample)
        page.screenshot(path=str(tmp_path / "4_sampling.png"), full_page=True)

        # (c) Region swap: another region set gives another result.
        page.get_by_role("tab", name="Region swap").click()
        swapped = web_page.wait_for_new_src(page, "#regions-result", None)
        assert not web_page.is_blank(web_page.fetch_image(swapped, url))
        page.locator("#regions-names").get_by_label("head").check()
        web_page.wait_for_new_src(page, "#regions-result", swapped)
        page.screenshot(path=str(tmp_path / "4b_regions.png"), full_page=True)

        # (d) Interpolation.
        page.get_by_role("tab", name="Interpolation").click()
        strip = web_page.wait_for_new_src(page, "#interpolation-strip", None)
        assert not web_page.is_blank(web_page.fetch_image(strip, url))
        middle = web_page.image_src(page, "#interpolation-result")
        slider = page.locator("#interp-t input[type=number]")
        slider.fill("0.9")
        slider.press("Enter")
        web_page.wait_for_new_src(page, "#interpolation-result", middle)
        assert web_page.image_src(page, "#interpolation-strip") == strip
        page.screenshot(path=str(tmp_path / "5_interpolation.png"), full_page=True)

        # (e) Pose-driven video from a demo sequence, then an unknown pose file.
        page.get_by_role("tab", name="Pose-driven video").click()
        page.locator("#video-make").click()
        gif = web_page.wait_for_new_src(page, "#video-preview", None, timeout=120)
        assert ".gif" in gif
        expect(page.locator("#video-status")).to_contain_text("24 frames from the demo sequence")
        page.screenshot(path=str(tmp_path / "6_video.png"), full_page=True)
        poses = tmp_path / "poses.txt"
        poses.write_text("frame 1: arms up\n")
        page.locator("#video-poses input[type=file]").set_input_files(str(poses))
        page.locator("#video-make").click()
        expect(page.locator("#video-status")).to_contain_text(
            "poses.txt:1: expected the header", timeout=TIMEOUT_MS)
        page.screenshot(path=str(tmp_path / "7_bad_pose_file.png"), full_page=True)

        assert external == [], f"the page fetched from outside this machine: {external}"

    (tmp_path / "timings.json").write_text(json.dumps(timings, indent=1))
    print(f"\nweb page timings (tiny untrained model): {json.dumps(timings)}; "
          f"screenshots in {tmp_path}")
