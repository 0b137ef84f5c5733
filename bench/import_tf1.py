"""Benchmark: importing a full-size Market TF1 checkpoint (models 1 + 2), printed as JSON.

    python bench/import_tf1.py [--width=128] [--keep=DIR]

Rebuilds the original model-1 and model-2 graphs at the paper's width with
dpig_tf/testing/tf1_reference.py (needs tf-slim), saves them with
tf.compat.v1.train.Saver (Adam slots included, as the released checkpoints), then times
`import_tf1` and checks parity (max abs difference of embedding and image).
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from dpig_tf.pretrained.tf1_import import ImportSources  # noqa: E402
from dpig_tf.pretrained.tf1_import import import_tf1  # noqa: E402
from dpig_tf.testing import tf1_reference  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--keep", help="keep the checkpoints and the run dir here")
    args = parser.parse_args()
    root = pathlib.Path(args.keep or tempfile.mkdtemp(prefix="bench_import_"))
    rng = np.random.default_rng(0)
    inputs = {"image": rng.uniform(-1, 1, (1, 128, 64, 3)).astype(np.float32),
              "pose_mask": (rng.random((1, 128, 64, 1)) > 0.5).astype(np.float32),
              "roi_boxes": np.tile(np.float32([[10, 4, 70, 50]]), (1, 7, 1)),
              "roi_vis": np.ones((1, 7), np.float32),
              "heatmaps": np.where(rng.random((1, 128, 64, 18)) > 0.9, 1, -1).astype(np.float32)}
    start = time.perf_counter()
    values = tf1_reference.build_and_save("stage1", "market", root / "1", inputs,
                                          channels=args.width, step=119999)
    pose = {"pose_vector": rng.uniform(-1, 1, (1, 54)).astype(np.float32)}
    tf1_reference.build_and_save("pose_ae", "market", root / "2", pose, step=59999)
    build_seconds = time.perf_counter() - start
    size = sum(f.stat().st_size for f in (root / "1").glob("model.ckpt-*"))

    start = time.perf_counter()
    record = import_tf1("market", ImportSources(stage1=str(root / "1"), pose_ae=str(root / "2")),
                        str(root / "run"))
    import_seconds = time.perf_counter() - start

    from dpig_tf.models.disentangled_generator import DisentangledGenerator

    model = DisentangledGenerator.from_run_dir(root / "run")
    embedding = model.encoder({k: inputs[k] for k in ("image", "pose_mask", "roi_boxes",
                                                      "roi_vis")}).numpy()
    image = model.generator([embedding, inputs["heatmaps"]]).numpy()
    print(json.dumps({
        "benchmark": "import_tf1", "width": args.width,
        "stage1_checkpoint_bytes": size,
        "stage1_variables": (record["sources"]["stage1"]["imported_variables"]
                             + record["sources"]["stage1"]["skipped_variables"]),
        "imported_variables": {k: s["imported_variables"] for k, s in record["sources"].items()},
        "import_seconds": round(import_seconds, 2),
        "original_build_and_save_seconds": round(build_seconds, 2),
        "max_abs_diff_embedding": float(np.abs(embedding - values["embedding"]).max()),
        "max_abs_diff_image": float(np.abs(image - values["generated"]).max()),
    }))


if __name__ == "__main__":
    main()
