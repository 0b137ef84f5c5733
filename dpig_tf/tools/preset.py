"""Pack a run directory (trained or imported) as a preset folder.

    python -m dpig_tf.tools.preset --run_dir=runs/market-paper --out=presets/market-paper

Load it with `dpig_tf.from_preset(path)` or any CLI's `--preset=PATH`
(layout: dpig_tf/pretrained/presets.py).
"""

from __future__ import annotations

import json

from dpig_tf import cli


def main(argv=None) -> int:
    parser = cli.ArgumentParser(prog="python -m dpig_tf.tools.preset",
                                description=__doc__.split("\n\n")[0])
    parser.add_argument("--run_dir", required=True, help="a trained or imported run directory")
    parser.add_argument("--out", required=True, help="the preset folder to create")
    args = parser.parse_args(argv)
    from dpig_tf.pretrained import presets

    path = presets.save_preset(args.run_dir, args.out)
    metadata = presets.read_metadata(path)
    print(json.dumps({"preset": str(path), "dataset": metadata["dataset"],
                      "networks": sorted(metadata["networks"])}, indent=1))
    return 0


if __name__ == "__main__":
    cli.run(main)
