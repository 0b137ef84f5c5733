"""A local web page to try the model in a browser (Gradio; `pip install -e .[web]`).

    python -m dpig_tf.apps.web [--run_dir=DIR | --preset=PATH] [--port=7860]
        [--host=127.0.0.1] [--images=DIR --annotations=CSV]

Tabs: pose transfer (with a clickable pose editor), sampling, interpolation,
pose-driven video. Without --run_dir or --preset the page serves the bundled
demo model (the newest demo run under runs/, trained by
`python -m dpig_tf.main --stage=1`); when there is none it says which command
makes it. The page never leaves this machine: no share link, no analytics.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import socket
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

DEFAULT_PORT = 7860
DEFAULT_HOST = "127.0.0.1"
MAX_UPLOAD = "20mb"  # larger uploads are refused by the server before they reach the model


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dpig_tf.apps.web",
                                     description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--run_dir", help="trained run directory (config.yaml + checkpoints/)")
    source.add_argument("--preset", help="pretrained preset file (dpig_tf.from_preset)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port to serve on")
    parser.add_argument("--host", default=DEFAULT_HOST,
                        help="address to bind (127.0.0.1: this machine only)")
    parser.add_argument("--images", help="folder of test images (default: the run's test split)")
    parser.add_argument("--annotations", help="PG2 keypoint CSV of --images")
    args = parser.parse_args(argv)
    if bool(args.images) != bool(args.annotations):
        parser.error("--images and --annotations go together")
    if not 0 < args.port < 65536:
        parser.error(f"--port: expected 1-65535, found {args.port}")
    return args


def port_is_free(host: str, port: int) -> bool:
    """Whether `port` can be bound now (checked before the model loads, to fail fast)."""
    with socket.socket() as s:
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def prepare(args):
    """(engine or None, the page's model line, the no-model message or None)."""
    from dpig_tf.apps import common
    from dpig_tf.apps.options import AppOptions
    from dpig_tf.apps.web import model_source
    from dpig_tf.apps.web.engine import Engine

    source = model_source.resolve(args.run_dir, args.preset)
    if not source.found:
        return None, "No model loaded.", model_source.missing_demo_message()
    model = model_source.load(source)
    test_set = None
    if args.images or getattr(model, "config", None) is not None:
        test_set = common.real_images(AppOptions(images=args.images,
                                                 annotations=args.annotations), model)
    hint = model_source.TRAIN_STAGE2_COMMAND.format(run_dir=source.path)
    engine = Engine(model, test_set, stage2_hint=hint)
    warm = engine.warm_up()
    stage2 = "with" if engine.can_sample else "without"
    steps = model_source.stage1_steps(source.path) if source.kind != "preset" else None
    trained = f", Stage I trained {steps} steps" if steps is not None else ""
    line = (f"Model: {source.describe()}, {model.image_height}x{model.image_width} (HxW)"
            f"{trained}, {stage2} Stage-II sampling; {len(engine.test_names)} test images. "
            f"Compiled in {warm:.1f} s at start-up.")
    return engine, line, None


def main(argv=None) -> int:
    args = parse_args(argv)
    if importlib.util.find_spec("gradio") is None:
        print("error: the web page needs gradio: pip install -e .[web]", file=sys.stderr)
        return 2
    if not port_is_free(args.host, args.port):
        print(f"error: --port={args.port}: expected a free port on {args.host}, found it in "
              "use", file=sys.stderr)
        return 2
    try:
        engine, line, missing = prepare(args)
    except (ValueError, FileNotFoundError) as err:  # bad flags or files: one line, exit 2
        print(f"error: {err}", file=sys.stderr)
        return 2
    from dpig_tf.apps.web import ui

    page = ui.build(engine, line, missing)
    page.queue(default_concurrency_limit=1)
    start = time.perf_counter()
    try:
        page.launch(server_name=args.host, server_port=args.port, share=False,
                    ssr_mode=False, pwa=False, mcp_server=False, enable_monitoring=False,
                    max_file_size=MAX_UPLOAD, footer_links=[], css=ui.CSS,
                    prevent_thread_lock=True, quiet=True)
    except OSError as err:  # the port is taken
        print(f"error: --port={args.port}: expected a free port, found: {err}", file=sys.stderr)
        return 2
    print(f"Serving {line if engine else missing} at http://{args.host}:{args.port} "
          f"(started in {time.perf_counter() - start:.1f} s); Ctrl+C stops it.", flush=True)
    try:
        page.block_thread()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
