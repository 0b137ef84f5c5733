"""The Gradio page: layout and events only; the logic is in `engine` and its helpers.

Each tab is one function taking the `Engine`: it lays out the tab, wires its
events and returns the event that fills it when the page loads ((handler,
inputs, outputs), or None); `TABS` lists the tabs shown.

Every event handler is wrapped by `_guarded`: bad input (a non-image file, a
huge image, an unknown pose file) shows its message in the tab's status line;
an unexpected error is logged with its traceback on the server and shown as
one line. The server keeps running either way.
"""

import functools
import logging
import os
import pathlib
import tempfile
import time

os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # before gradio is imported: no telemetry

import gradio as gr  # noqa: E402
import numpy as np  # noqa: E402

from dpig_tf.apps import common  # noqa: E402
from dpig_tf.apps import regions  # noqa: E402
from dpig_tf.apps.web import demo_sequences  # noqa: E402
from dpig_tf.apps.web import pose_editor  # noqa: E402
from dpig_tf.apps.web import uploads  # noqa: E402
from dpig_tf.data import keypoints as kp_lib  # noqa: E402
from dpig_tf.models.disentangled_generator import BACKGROUND  # noqa: E402
from dpig_tf.models.disentangled_generator import FOREGROUND  # noqa: E402
from dpig_tf.models.disentangled_generator import POSE  # noqa: E402

TITLE = "dpig_tf: Disentangled Person Image Generation"
DEFAULT_JOINT = "right_wrist"
RESULT_HEIGHT = 384
# Network-size images are small (128x64 on Market): show them enlarged, pixels kept sharp.
CSS = """
.pixelated img { image-rendering: pixelated; width: 100%; height: 100%; object-fit: contain; }
"""
UPLOAD_HEIGHT = 120
FACTOR_LABELS = {FOREGROUND: "foreground", BACKGROUND: "background", POSE: "pose"}

_log = logging.getLogger(__name__)


def _error_text(err: Exception, uploaded_paths=()) -> str:
    """One readable line; temporary upload paths are replaced by the files' own names."""
    text = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    for path in uploaded_paths:
        if path:
            text = text.replace(str(path), pathlib.Path(path).name)
    return f"**Error:** {text}"


def _upload_paths(values) -> list[str]:
    paths = []
    for v in values:
        if isinstance(v, str) and os.path.isfile(v):
            paths.append(v)
        elif isinstance(v, (list, tuple)):
            paths.extend(p for p in v if isinstance(p, str))
    return paths


def _guarded(status, clear=()):
    """Wraps a handler returning {component: value}: errors go to `status`, never a trace.

    On bad input the components in `clear` (uploads) are emptied, ready for another file.
    """
    def wrap(fn):
        @functools.wraps(fn)
        def handler(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except (ValueError, OSError) as err:  # bad input; DataError is a ValueError
                return {status: _error_text(err, _upload_paths(args)),
                        **{component: None for component in clear}}
            except Exception as err:  # a bug: keep serving, log the traceback
                _log.exception("web page handler %s failed", fn.__name__)
                return {status: f"**Internal error** ({type(err).__name__}: {err}); the "
                                "server log has the details."}
        return handler
    return wrap


def _image(label, elem_id, height=RESULT_HEIGHT, **kwargs):
    return gr.Image(label=label, elem_id=elem_id, interactive=False, format="png",
                    height=height, elem_classes=["pixelated"], buttons=["download"], **kwargs)


def _milliseconds(start: float) -> str:
    return f"{1000 * (time.perf_counter() - start):.0f} ms"


# --- (a) Pose transfer --------------------------------------------------------------------
def transfer_tab(engine) -> tuple | None:
    names = engine.test_names
    scale = pose_editor.editor_scale(engine.height)
    with gr.Tab("Pose transfer", id="transfer", elem_id="tab-transfer"):
        gr.Markdown("Pick a person (or upload one) and a target pose; click the pose image to "
                    "move the selected joint. The result follows every change.")
        status = gr.Markdown(elem_id="transfer-status")
        person = gr.State(None)
        target = gr.State(None)
        with gr.Row():
            with gr.Column():
                source_name = gr.Dropdown(names, value=names[0] if names else None,
                                          label="Person from the test set",
                                          elem_id="source-name")
                source_view = _image("Person and its keypoints", "source-image",
                                     height=engine.height * scale)
                upload_image = gr.File(label="... or upload a person image "
                                       f"({engine.height}x{engine.width} HxW fits; other "
                                       "sizes are scaled and padded)", elem_id="upload-image",
                                       height=UPLOAD_HEIGHT)
                keypoint_need = ("optional: our keypoint estimator finds them"
                                 if engine.has_pose_estimator else
                                 "needed: our keypoint estimator is not installed, see "
                                 "docs/POSE.md")
                upload_keypoints = gr.File(label="Keypoints of the uploaded image, PG2 CSV "
                                           f"or OpenPose JSON ({keypoint_need})",
                                           elem_id="upload-keypoints",
                                           height=UPLOAD_HEIGHT)
            with gr.Column():
                target_name = gr.Dropdown(names, value=names[1 % len(names)] if names else None,
                                          label="Target pose from the test set",
                                          elem_id="target-name")
                joint = gr.Dropdown(list(kp_lib.JOINT_NAMES), value=DEFAULT_JOINT,
                                    label="Joint to move (then click the image)",
                                    elem_id="joint")
                editor = gr.Image(label="Target pose: click to move the selected joint",
                                  elem_id="pose-editor", interactive=False, format="png",
                                  height=engine.height * scale, buttons=[])
                with gr.Row():
                    hide = gr.Button("Hide joint", elem_id="hide-joint")
                    reset = gr.Button("Reset pose", elem_id="reset-pose")
            with gr.Column():
                result = _image("Result", "transfer-result", height=engine.height * scale)
                timing = gr.Markdown(elem_id="transfer-timing")

        views = [source_view, editor, result, timing, status, person, target]
        upload_outputs = views + [upload_image, upload_keypoints]

        def render(p, kp, joint_name, note=None, new_person=True):
            """The tab's views; a pose edit (new_person False) leaves the person's alone."""
            if p is None or kp is None:
                raise ValueError("choose a person and a target pose first")
            start = time.perf_counter()
            image = engine.transfer(p, kp)
            took = _milliseconds(start)
            selected = kp_lib.JOINT_INDEX[joint_name]
            views = {editor: pose_editor.draw(image, kp, selected, scale), result: image,
                     timing: f"Generated in {took} (decode only; the appearance was "
                             "encoded once).", status: note or "", target: kp}
            if new_person:
                views.update({source_view: gr.update(
                                  value=pose_editor.draw(p.image, p.keypoints, scale=scale),
                                  label=f"{p.label} and its keypoints"),
                              person: p})
            return views

        @_guarded(status)
        def on_source(name, kp, joint_name):
            p = engine.test_person(name)
            return render(p, p.keypoints if kp is None else kp, joint_name)

        @_guarded(status, clear=[upload_image, upload_keypoints])
        def on_upload(image_path, keypoint_path, kp, joint_name):
            # Either file may come first; wait for the other when the image needs it.
            if not image_path:
                return {status: "Keypoint file received: now upload the image it describes."}
            if not keypoint_path and not engine.has_pose_estimator:
                uploads.read_image(image_path)  # a bad image is refused before asking for more
                return {status: f"**Keypoints needed** for {pathlib.Path(image_path).name}: "
                                "upload its keypoint file (PG2 CSV or OpenPose JSON); our "
                                "keypoint estimator is not installed."}
            p, note = engine.uploaded_person(image_path, keypoint_path=keypoint_path)
            return render(p, p.keypoints if kp is None else kp, joint_name, note)

        @_guarded(status)
        def on_target(name, p, joint_name):
            return render(p, engine.test_keypoints(name), joint_name, new_person=False)

        @_guarded(status)
        def on_click(p, kp, joint_name, evt: gr.SelectData):
            x, y = evt.index[0], evt.index[1]
            row, col = pose_editor.click_to_pixel(x, y, scale, engine.height, engine.width)
            kp = pose_editor.move_joint(kp, kp_lib.JOINT_INDEX[joint_name], row, col)
            return render(p, kp, joint_name, new_person=False)

        @_guarded(status)
        def on_joint(p, kp, joint_name):
            return render(p, kp, joint_name, new_person=False) if p is not None else {}

        @_guarded(status)
        def on_hide(p, kp, joint_name):
            kp = pose_editor.hide_joint(kp, kp_lib.JOINT_INDEX[joint_name])
            if not (kp[:, 2] > 0).any():
                raise ValueError("expected at least one visible joint in the target pose")
            return render(p, kp, joint_name, new_person=False)

        @_guarded(status)
        def on_reset(name, p, joint_name):
            return render(p, engine.test_keypoints(name), joint_name, new_person=False)

        options = {"outputs": views, "concurrency_id": "model"}
        source_name.input(on_source, [source_name, target, joint], **options)
        upload_options = dict(options, outputs=upload_outputs)
        upload_inputs = [upload_image, upload_keypoints, target, joint]
        upload_image.upload(on_upload, upload_inputs, **upload_options)
        upload_keypoints.upload(on_upload, upload_inputs, **upload_options)
        target_name.input(on_target, [target_name, person, joint], **options)
        editor.select(on_click, [person, target, joint], **options)
        joint.input(on_joint, [person, target, joint], **options)
        hide.click(on_hide, [person, target, joint], **options)
        reset.click(on_reset, [target_name, person, joint], **options)

        @_guarded(status)
        def on_load(name, target_name_value, joint_name):
            return render(engine.test_person(name), engine.test_keypoints(target_name_value),
                          joint_name)

        return (on_load, [source_name, target_name, joint], views) if names else None


# --- (b) Sampling -------------------------------------------------------------------------
def sampling_tab(engine) -> tuple | None:
    names = engine.test_names
    with gr.Tab("Sampling", id="sampling", elem_id="tab-sampling"):
        if not engine.can_sample:
            gr.Markdown("**Sampling needs the Stage-II mapping networks**, which this model "
                        f"does not have. Train them with `{engine.stage2_hint}` and restart "
                        "the page.", elem_id="sampling-status")
            return None
        gr.Markdown("One factor drawn from noise (the seed picks it), the others those of the "
                    "person.")
        status = gr.Markdown(elem_id="sampling-status")
        with gr.Row():
            with gr.Column():
                source_name = gr.Dropdown(names, value=names[0] if names else None,
                                          label="Person from the test set",
                                          elem_id="sampling-source")
                factor = gr.Radio([FACTOR_LABELS[f] for f in engine.factors],
                                  value=FACTOR_LABELS[FOREGROUND], label="Factor to sample",
                                  elem_id="sampling-factor")
                seed = gr.Slider(0, 999, value=0, step=1, label="Seed", elem_id="sampling-seed")
                source_view = _image("Person", "sampling-source-image")
            with gr.Column():
                result = _image("Sample", "sampling-result")
                timing = gr.Markdown()
        by_label = {v: k for k, v in FACTOR_LABELS.items()}

        @_guarded(status)
        def on_change(name, factor_label, seed_value):
            p = engine.test_person(name)
            start = time.perf_counter()
            image = engine.sample(p, by_label[factor_label], int(seed_value))
            return {source_view: p.image, result: image, status: "",
                    timing: f"Generated in {_milliseconds(start)}."}

        inputs = [source_name, factor, seed]
        outputs = [source_view, result, timing, status]
        for component in inputs:
            component.change(on_change, inputs, outputs, concurrency_id="model")
        return on_change, inputs, outputs


INTERPOLATION_STRIP = 8


# --- (c) Region swap ------------------------------------------------------------------------
def region_tab(engine) -> tuple | None:
    names = engine.test_names
    with gr.Tab("Region swap", id="regions", elem_id="tab-regions"):
        gr.Markdown("Give the target person some body regions of the donor (their region "
                    "codes); everything else, and the pose, stay the target's. The regions: "
                    + "; ".join(f"**{n}**: {d}" for n, d in regions.REGION_DESCRIPTIONS.items())
                    + " (docs/regions.png).")
        status = gr.Markdown(elem_id="regions-status")
        with gr.Row():
            target_name = gr.Dropdown(names, value=names[0] if names else None, label="Target",
                                      elem_id="regions-target")
            donor_name = gr.Dropdown(names, value=names[-1] if names else None, label="Donor",
                                     elem_id="regions-donor")
        chosen = gr.CheckboxGroup(list(regions.REGION_NAMES), value=["upper_clothes", "pants"],
                                  label="Regions from the donor", elem_id="regions-names")
        background = gr.Radio(list(regions.BACKGROUND_SOURCES), value="target",
                              label="Background from", elem_id="regions-background",
                              visible=engine.model.has_background)
        with gr.Row():
            result = _image("Target | donor | result", "regions-result")

        @_guarded(status)
        def on_change(t_name, d_name, region_names, background_from):
            target, donor = engine.test_person(t_name), engine.test_person(d_name)
            out = engine.swap_regions(target, donor, region_names, background_from)
            return {result: common.grid([[target.image, donor.image, out]]), status: ""}

        inputs = [target_name, donor_name, chosen, background]
        outputs = [result, status]
        for component in inputs:
            component.change(on_change, inputs, outputs, concurrency_id="model")
        return on_change, inputs, outputs


# --- (d) Interpolation --------------------------------------------------------------------
def interpolation_tab(engine) -> tuple | None:
    names = engine.test_names
    with gr.Tab("Interpolation", id="interpolation", elem_id="tab-interpolation"):
        gr.Markdown("Move from one person to another in the codes of the chosen factors.")
        status = gr.Markdown(elem_id="interpolation-status")
        with gr.Row():
            start_name = gr.Dropdown(names, value=names[0] if names else None, label="From",
                                     elem_id="interp-from")
            end_name = gr.Dropdown(names, value=names[-1] if names else None, label="To",
                                   elem_id="interp-to")
            factors = gr.CheckboxGroup([FACTOR_LABELS[f] for f in engine.factors],
                                       value=[FACTOR_LABELS[f] for f in engine.factors],
                                       label="Factors to interpolate", elem_id="interp-factors")
        t = gr.Slider(0.0, 1.0, value=0.5, step=0.05, label="From -> To", elem_id="interp-t")
        with gr.Row():
            result = _image("Result at the slider", "interpolation-result")
            strip = _image("From, 8 steps, To", "interpolation-strip")
        by_label = {v: k for k, v in FACTOR_LABELS.items()}

        def chosen_factors(factor_labels):
            return [by_label[f] for f in factor_labels]

        @_guarded(status)
        def on_change(a_name, b_name, factor_labels, t_value):
            a, b = engine.test_person(a_name), engine.test_person(b_name)
            chosen = chosen_factors(factor_labels)
            steps = np.linspace(0.0, 1.0, INTERPOLATION_STRIP)
            row = [a.image] + [engine.interpolate(a, b, chosen, s) for s in steps] + [b.image]
            return {result: engine.interpolate(a, b, chosen, t_value),
                    strip: common.grid([row]), status: ""}

        @_guarded(status)
        def on_slider(a_name, b_name, factor_labels, t_value):  # the strip stays
            a, b = engine.test_person(a_name), engine.test_person(b_name)
            return {result: engine.interpolate(a, b, chosen_factors(factor_labels), t_value),
                    status: ""}

        inputs = [start_name, end_name, factors, t]
        outputs = [result, strip, status]
        for component in (start_name, end_name, factors):
            component.change(on_change, inputs, outputs, concurrency_id="model")
        t.change(on_slider, inputs, [result, status], concurrency_id="model")
        return on_change, inputs, outputs


# --- (e) Pose-driven video ----------------------------------------------------------------
def video_tab(engine) -> tuple | None:
    names = engine.test_names
    with gr.Tab("Pose-driven video", id="video", elem_id="tab-video"):
        gr.Markdown("One appearance, one generated frame per pose. Pose files: a PG2 CSV (one "
                    "row per frame, in order), OpenPose JSON files (one per frame), or a video "
                    "(needs the keypoint estimator). Keypoints are pixels of the "
                    f"{engine.height}x{engine.width} (HxW) network image.")
        status = gr.Markdown(elem_id="video-status")
        with gr.Row():
            with gr.Column():
                source_name = gr.Dropdown(names, value=names[0] if names else None,
                                          label="Person from the test set",
                                          elem_id="video-source")
                sequence = gr.Dropdown(list(demo_sequences.SEQUENCES),
                                       value=next(iter(demo_sequences.SEQUENCES)),
                                       label="Demo pose sequence", elem_id="video-sequence")
                pose_files = gr.File(label="... or upload a pose sequence (used instead when "
                                     "given)", file_count="multiple", elem_id="video-poses",
                                     height=UPLOAD_HEIGHT)
                fmt = gr.Radio(["GIF", "MP4"], value="GIF", label="Format", elem_id="video-format")
                fps = gr.Slider(1, 30, value=10, step=1, label="Frames per second")
                make = gr.Button("Make the video", variant="primary", elem_id="video-make")
            with gr.Column():
                preview = gr.Image(label="Video (GIF preview)", elem_id="video-preview",
                                   interactive=False, type="filepath", height=RESULT_HEIGHT,
                                   elem_classes=["pixelated"], buttons=["download"])
                download = gr.File(label="Download", elem_id="video-file")

        # Gradio copies results to its cache after a handler returns; this folder holds the
        # videos until then and is removed when the server stops.
        videos = tempfile.TemporaryDirectory(prefix="dpig_web_videos_")

        @_guarded(status, clear=[pose_files])
        def on_make(name, sequence_name, files, fmt_value, fps_value):
            p = engine.test_person(name)
            if files:
                paths = [str(f) for f in files]
                if len(paths) > 1 and not all(f.lower().endswith(".json") for f in paths):
                    raise ValueError("expected one pose file, or several OpenPose .json files "
                                     "(one per frame)")
                poses = engine.read_pose_sequence(",".join(sorted(paths)))
                what = f"{len(paths)} uploaded file(s)"
            else:
                poses = demo_sequences.demo_sequence(sequence_name, engine.height, engine.width)
                what = f"the demo sequence '{sequence_name}'"
            out = pathlib.Path(tempfile.mkdtemp(dir=videos.name))
            start = time.perf_counter()
            gif = engine.video(p, poses, out / "video.gif", int(fps_value))
            chosen = gif if fmt_value == "GIF" else engine.video(p, poses, out / "video.mp4",
                                                                 int(fps_value))
            return {preview: gif, download: chosen,
                    status: f"{len(poses)} frames from {what} in {_milliseconds(start)}."}

        make.click(on_make, [source_name, sequence, pose_files, fmt, fps],
                   [preview, download, status, pose_files], concurrency_id="model")
        return None


# Tabs in page order.
TABS = (transfer_tab, sampling_tab, region_tab, interpolation_tab, video_tab)


def build(engine, model_line: str, missing_model: str | None = None) -> gr.Blocks:
    """The page; `engine` None shows `missing_model` (how to get a model) instead of tabs."""
    with gr.Blocks(title=TITLE, analytics_enabled=False) as page:
        gr.Markdown(f"# {TITLE}\n{model_line}", elem_id="model-line")
        if engine is None:
            gr.Markdown(f"**{missing_model}**", elem_id="no-model")
            return page
        initial = [tab(engine) for tab in TABS]
        for entry in initial:
            if entry is not None:
                fn, inputs, outputs = entry
                page.load(fn, inputs, outputs, concurrency_id="model")
    return page
