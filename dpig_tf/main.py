"""The dpig_tf command line: training, the applications and evaluation.

  python -m dpig_tf.main --stage=1                       # demo config: Stage I on the demo data
  python -m dpig_tf.main --stage=1 --config=configs/market.yaml --dry_run
  python -m dpig_tf.main --stage=2 --init_from=runs/00001-demo-stage1
  python -m dpig_tf.main --mode=sample --run_dir=RUN --factors=fg,bg,pose --num=16 --out=DIR
  python -m dpig_tf.main --mode=transfer --run_dir=RUN --pairs=CSV --images=DIR --annotations=CSV --out=DIR
  python -m dpig_tf.main --mode=evaluate --run_dir=RUN --pairs=CSV --out=DIR
  python -m dpig_tf.main --mode=disentanglement --run_dir=RUN --num=64 --out=DIR

This is the only module that reads flags. It resolves the configuration, prints
it, and hands plain values to one library function per command.
"""

from __future__ import annotations

import json

from absl import app
from absl import flags
from absl import logging

from dpig_tf import cli
from dpig_tf.errors import UsageError

MODES = ("train", "sample", "interpolate", "transfer", "video", "virtual_market", "evaluate",
         "disentanglement")

# --- General -------------------------------------------------------------------------------
flags.DEFINE_integer("stage", 1, "Training stage: 1 (encoders, generator, discriminator, pose "
                     "auto-encoder) or 2 (noise-to-embedding mapping networks).",
                     lower_bound=1, upper_bound=2)
flags.DEFINE_enum("mode", "train", MODES, "What to run.")
flags.DEFINE_string("config", None, "Named config (configs/NAME.yaml, NAME.yaml or NAME). "
                    "Default: configs/demo.yaml.")
flags.DEFINE_multi_string("set", [], "Override a config value: --set stage1.steps=100 "
                          "(repeatable; strict: unknown keys and wrong types are errors).")
flags.DEFINE_string("run_dir", None, "Run directory. Training: resumes if it exists, else a new "
                    "numbered directory under runs/. Applications: the trained run to use.")
flags.DEFINE_boolean("dry_run", False, "Print the resolved config, pull a few batches through "
                     "the data pipeline, print the network sizes as JSON, and exit.")
flags.DEFINE_string("preset", None, "A preset folder (python -m dpig_tf.tools.preset, or "
                    "import_tf1 --preset_out): the model for the applications and evaluation "
                    "(instead of --run_dir), or the Stage-I networks for --stage=2 (unpacked "
                    "into --run_dir).")
flags.DEFINE_string("init_from", None, "Stage 2: the Stage-I run directory to restore and freeze.")
flags.DEFINE_boolean("debug", False, "Show full tracebacks for user errors.")
flags.DEFINE_boolean("verbose", False, "Show TensorFlow's start-up and runtime logs.")

# --- Applications --------------------------------------------------------------------------
flags.DEFINE_string("out", None, "Output folder (or file for --mode=video).")
flags.DEFINE_integer("seed", 0, "Random seed; every application is deterministic given it.")
flags.DEFINE_integer("num", 16, "Number of images to generate (--mode=sample) or to "
                     "measure (--mode=disentanglement).")
flags.DEFINE_list("factors", ["fg", "bg", "pose"], "Factors to sample or interpolate: any of "
                  "fg, bg, pose (DeepFashion: fg = appearance).")
flags.DEFINE_string("images", None, "Folder of real images (source images for the applications).")
flags.DEFINE_string("annotations", None, "PG2-format keypoint CSV for --images.")
flags.DEFINE_string("pairs", None, "PG2-format pairs CSV (from,to) for --mode=transfer/evaluate.")
flags.DEFINE_string("from", None, "--mode=interpolate: the start image (a name in --images).")
flags.DEFINE_string("to", None, "--mode=interpolate: the end image (a name in --images).")
flags.DEFINE_integer("steps", 8, "--mode=interpolate: number of interpolation steps.")
flags.DEFINE_enum("interpolation", "linear", ["linear", "slerp"], "Interpolation rule.")
flags.DEFINE_enum("space", "embedding", ["embedding", "noise"], "--mode=interpolate: interpolate "
                  "the embeddings directly, or the noise found by inverse mapping.")
flags.DEFINE_string("source", None, "--mode=video: the appearance image (a name in --images).")
flags.DEFINE_string("poses", None, "--mode=video: pose sequence: a PG2 CSV (one row per frame), "
                    "a folder of OpenPose JSON frames, or a video file.")
flags.DEFINE_integer("fps", 10, "--mode=video: frames per second of the output.")
flags.DEFINE_integer("num_ids", 10, "--mode=virtual_market: identities to generate.")
flags.DEFINE_integer("per_id", 24, "--mode=virtual_market: images per identity.")
flags.DEFINE_integer("candidates", 0, "--mode=virtual_market: generate this many candidates per "
                     "identity and keep the per_id best by discriminator score (0 = no ranking).")
flags.DEFINE_enum("pose_source", "real", ["real", "sampled"], "--mode=virtual_market: poses "
                  "taken from real training poses or sampled.")
flags.DEFINE_integer("batch_size", 16, "Batch size of the applications.")
flags.DEFINE_string("fg_image", None, "--mode=transfer mixed form: foreground source image.")
flags.DEFINE_string("bg_image", None, "--mode=transfer mixed form: background source image.")
flags.DEFINE_string("pose_image", None, "--mode=transfer mixed form: pose source image.")
flags.DEFINE_string("regions", None, "--mode=transfer region form: body regions taken from the "
                    "donor (pairs 'from' / --from), e.g. upper_clothes,pants; any of head, "
                    "upper_clothes, pants, left_arm, right_arm, left_leg, right_leg.")
flags.DEFINE_enum("background-from", None, ["target", "donor"], "--mode=transfer region form: "
                  "where the background code comes from (default target).")

# --- Evaluation ----------------------------------------------------------------------------
flags.DEFINE_list("metrics", ["ssim", "mask_ssim", "psnr", "l1"], "--mode=evaluate metrics: any "
                  "of ssim, mask_ssim, is, mask_is, fid, psnr, l1, fid_gfla, lpips, "
                  "mask_lpips, ssim_256, mae, pckh; or all (every metric of --protocol).")
flags.DEFINE_enum("protocol", "dpig", ["dpig", "patn", "gfla", "cfld"],
                  "--mode=evaluate metric protocol (docs/EVALUATION.md).")
flags.DEFINE_string("lpips_weights", None, "LPIPS .npz (python -m dpig_tf.eval.convert_weights).")
flags.DEFINE_string("gfla_inception_weights", None, "torchvision Inception-v3 .pth/.npz for "
                    "fid_gfla_torchvision.")
flags.DEFINE_string("fid_reals", None, "Folder of real images for fid_gfla_torchvision "
                    "(default: the targets).")
flags.DEFINE_string("inception_graph", None, "Path of the 2015 Inception graph "
                    "(classify_image_graph_def.pb) for IS / mask-IS.")
flags.DEFINE_string("fid_weights", None, "Path of InceptionV3 no-top weights (.h5) for FID.")

FLAGS = flags.FLAGS


def _load_config():
    from dpig_tf import config_io

    if FLAGS.config is None and FLAGS.preset:
        from dpig_tf.pretrained import presets

        print(f"No --config given: using the preset's ({FLAGS.preset}).")
        cfg = presets.preset_config(FLAGS.preset)
        for item in FLAGS.set:
            config_io.apply_override(cfg, item)
        return cfg.validate()
    if FLAGS.config is None:
        print(f"No --config given: using the demo config ({config_io.DEFAULT_CONFIG}).")
    return config_io.load_config(FLAGS.config, FLAGS.set)


def _train():
    from dpig_tf import config_io

    if FLAGS.preset and (FLAGS.stage != 2 or FLAGS.init_from or not FLAGS.run_dir):
        raise UsageError("--preset in training: use --stage=2 --preset=PRESET --run_dir=NEW "
                         "(the preset's networks are unpacked into NEW, then Stage II runs)")
    if FLAGS.stage == 2 and not (FLAGS.init_from or FLAGS.run_dir) and not FLAGS.dry_run:
        raise UsageError("--stage=2 needs --init_from=RUN (the Stage-I run directory)")
    cfg = _load_config()
    if FLAGS.run_dir and not FLAGS.dry_run:
        from dpig_tf.training import run_lock

        run_lock.check_free(FLAGS.run_dir)  # a second process refuses before TF starts
    init_from = FLAGS.init_from
    if FLAGS.preset and not FLAGS.dry_run:
        from dpig_tf.pretrained import presets

        init_from = str(presets.write_run_dir(FLAGS.preset, FLAGS.run_dir))
    print(config_io.to_yaml(cfg))
    from dpig_tf.training import run  # after the config: config errors come first, and fast
    if FLAGS.dry_run:
        summary = run.dry_run(cfg, FLAGS.stage)
        print(json.dumps(summary))
        return
    run_dir = run.train(cfg, FLAGS.stage, run_dir=FLAGS.run_dir, init_from=init_from)
    print(f"Run directory: {run_dir}")


def _model_path() -> str:
    """--run_dir or --preset: the trained model of the applications and evaluation."""
    if FLAGS.run_dir and FLAGS.preset:
        raise UsageError("give --run_dir or --preset, not both")
    if not (FLAGS.run_dir or FLAGS.preset):
        raise UsageError(f"--mode={FLAGS.mode} needs --run_dir=RUN (a trained run directory) "
                         "or --preset=PRESET")
    return FLAGS.run_dir or FLAGS.preset


def _app_options():
    from dpig_tf.apps.options import AppOptions

    if not FLAGS.out:
        raise UsageError(f"--mode={FLAGS.mode} needs --out")
    opts = AppOptions(
        run_dir=_model_path(), out=FLAGS.out, seed=FLAGS.seed, num=FLAGS.num,
        factors=tuple(FLAGS.factors), images=FLAGS.images, annotations=FLAGS.annotations,
        pairs=FLAGS.pairs, from_image=FLAGS["from"].value, to_image=FLAGS["to"].value,
        steps=FLAGS.steps, interpolation=FLAGS.interpolation, space=FLAGS.space,
        source=FLAGS.source, poses=FLAGS.poses, fps=FLAGS.fps, num_ids=FLAGS.num_ids,
        per_id=FLAGS.per_id, candidates=FLAGS.candidates, pose_source=FLAGS.pose_source,
        batch_size=FLAGS.batch_size, fg_image=FLAGS.fg_image, bg_image=FLAGS.bg_image,
        pose_image=FLAGS.pose_image, regions=FLAGS.regions,
        background_from=FLAGS["background-from"].value)
    opts.check_paths()  # before the application (and TensorFlow) is imported
    return opts


def _run_app():
    import importlib

    opts = _app_options()
    module = importlib.import_module(f"dpig_tf.apps.{FLAGS.mode}")
    summary = module.run(opts)
    print(json.dumps(summary, indent=1, default=str))


def _evaluate():
    from dpig_tf.apps.options import AppOptions

    if not FLAGS.out or not FLAGS.pairs:
        raise UsageError("--mode=evaluate needs --run_dir (or --preset), --pairs and --out")
    AppOptions(run_dir=_model_path(), out=FLAGS.out, images=FLAGS.images,
               annotations=FLAGS.annotations, pairs=FLAGS.pairs).check_paths()
    from dpig_tf.eval.evaluate_run import evaluate_run

    report = evaluate_run(
        run_dir=_model_path(), pairs_csv=FLAGS.pairs, images_dir=FLAGS.images,
        annotations_csv=FLAGS.annotations, out_dir=FLAGS.out, metrics=FLAGS.metrics,
        protocol=FLAGS.protocol, inception_graph=FLAGS.inception_graph,
        fid_weights=FLAGS.fid_weights, lpips_weights=FLAGS.lpips_weights,
        gfla_inception_weights=FLAGS.gfla_inception_weights, fid_reals=FLAGS.fid_reals,
        progress=True)
    print(json.dumps(report, indent=1, default=str))


def main(argv):
    if len(argv) > 1:
        raise UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
    # TF's checkpoint saver logs a line per save at INFO through absl; keep the console readable.
    logging.set_verbosity(logging.INFO if FLAGS.verbose else logging.WARNING)
    if FLAGS.mode == "train":
        _train()
    elif FLAGS.mode == "evaluate":
        _evaluate()
    else:
        _run_app()


def parse_flags(argv: list[str], mode: str | None = None) -> list[str]:
    """Parses `argv` into FLAGS (a bad value is a UsageError); returns the positional rest.

    `mode` fixes --mode (the `python -m dpig_tf.apps.<mode>` entry points).
    """
    app.define_help_flags()
    try:
        rest = FLAGS(["dpig_tf.main", *argv])
    except flags.Error as err:
        raise UsageError(str(err)) from None
    if mode is not None:
        if FLAGS["mode"].present and FLAGS.mode != mode:
            raise UsageError(f"this command runs --mode={mode}; found --mode={FLAGS.mode}",
                             field="--mode")
        FLAGS.mode = mode
    return rest


def run_main():
    cli.run(lambda argv: main(parse_flags(argv)))


def run_app_main(mode: str):
    """`python -m dpig_tf.apps.<mode>` / `dpig_tf.eval.evaluate_run`: this CLI with --mode fixed."""
    cli.run(lambda argv: main(parse_flags(argv, mode)))


if __name__ == "__main__":
    run_main()
