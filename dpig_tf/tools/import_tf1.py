"""Import the authors' released TF1 checkpoints into a dpig_tf run directory.

    python -m dpig_tf.tools.import_tf1 --dataset=market --stage1=Market1501_models/1 \
        --pose_ae=Market1501_models/2 --stage2_app=Market1501_models/3 \
        --stage2_pose=Market1501_models/4 --out=runs/market-paper \
        --preset_out=presets/market-paper

Each flag takes a checkpoint folder (its newest model.ckpt-N) or a prefix. The run
directory works with `--stage=2`, every application and every exporter. Nothing is
downloaded. `--print_table` prints the variable mapping instead (docs/PRETRAINED.md).
"""

from __future__ import annotations

import argparse
import json
import time

from dpig_tf import cli
from dpig_tf.pretrained.tf1_import import DATASETS


def _parser() -> argparse.ArgumentParser:
    parser = cli.ArgumentParser(
        prog="python -m dpig_tf.tools.import_tf1", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True, choices=DATASETS)
    parser.add_argument("--stage1", help="model 1 / 101 (encoder, generator, discriminator)")
    parser.add_argument("--pose_ae", help="model 2 / 102 (pose keypoint auto-encoder)")
    parser.add_argument("--stage2_app", help="model 3 / 103 (appearance mapping + critics)")
    parser.add_argument("--stage2_pose", help="model 4 / 104 (pose mapping + critic)")
    parser.add_argument("--out", help="the run directory to create (must not exist)")
    parser.add_argument("--preset_out", help="also pack the imported run as this preset folder")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override (the conv width is read from the checkpoint)")
    parser.add_argument("--print_table", action="store_true",
                        help="print the TF1 -> dpig_tf variable table and exit")
    return parser


def _print_table(dataset: str, overrides) -> None:
    from dpig_tf import config_io
    from dpig_tf.pretrained import tf1_names

    extra = ["model.discriminator_head=channel_chunks"] if dataset == "deepfashion" else []
    cfg = config_io.load_config(dataset, extra + list(overrides))
    arch = tf1_names.architecture_of(cfg)
    print("| model | TF1 variable | dpig_tf network | layer.weight | transform |")
    print("|---|---|---|---|---|")
    for kind, model_id in tf1_names.MODEL_IDS[dataset].items():
        for row in tf1_names.table(kind, dataset, arch):
            print(f"| {model_id} | `{row.tf1_name}` | {row.network} | {row.layer}.{row.weight} "
                  f"| {row.transform} |")


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.print_table:
        _print_table(args.dataset, args.set)
        return 0
    from dpig_tf.pretrained import presets
    from dpig_tf.pretrained.tf1_import import ImportSources
    from dpig_tf.pretrained.tf1_import import import_tf1

    start = time.perf_counter()
    sources = ImportSources(stage1=args.stage1, pose_ae=args.pose_ae,
                            stage2_app=args.stage2_app, stage2_pose=args.stage2_pose)
    record = import_tf1(args.dataset, sources, args.out, args.set)
    if args.preset_out:
        presets.save_preset(args.out, args.preset_out)
    summary = {kind: {"model_id": s["model_id"], "step": s["step"],
                      "imported_variables": s["imported_variables"]}
               for kind, s in record["sources"].items()}
    print(json.dumps({"run_dir": args.out, "preset": args.preset_out,
                      "dataset": args.dataset, "imported": summary,
                      "seconds": round(time.perf_counter() - start, 2)}, indent=1))
    return 0


if __name__ == "__main__":
    cli.run(main)
