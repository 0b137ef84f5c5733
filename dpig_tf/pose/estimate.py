"""Keypoint annotations for a folder of images, in the PG2 CSV format the loaders read.

    python -m dpig_tf.pose.estimate --images=DIR --out=annotations.csv \
        [--graph=PB] [--single_person]

Writes one row per image (`name:keypoints_y:keypoints_x`, 18 joints, -1 for a
missing joint). Without --single_person the person with the highest total
score is written (the original DPIG rule, SPEC 1.2), after multi-person
grouping; --single_person treats every image as a crop of one person and
writes the largest person found. An image with no person gets an all -1 row.
"""

from __future__ import annotations

import os
import time

import numpy as np

from dpig_tf import cli
from dpig_tf.data import keypoints_csv
from dpig_tf.errors import UsageError
from dpig_tf.pose import graph_file

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


def list_images(folder: str) -> list[str]:
    """Image file names in `folder`, sorted; a clear error when there are none."""
    if not os.path.isdir(folder):
        raise UsageError(f"--images: {folder} is not a directory")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(IMAGE_EXTENSIONS))
    if not names:
        raise UsageError(f"--images: no {'/'.join(IMAGE_EXTENSIONS)} files in {folder}")
    return names


def rounded_rcv(rcv: np.ndarray) -> np.ndarray:
    """Joint coordinates rounded to the nearest pixel (the CSV writer truncates)."""
    out = np.array(rcv, np.float32)
    vis = out[:, 2] > 0
    out[vis, :2] = np.round(out[vis, :2])
    return out


def estimate_folder(images: str, out: str, graph_path: str | None = None,
                    single_person: bool = False, log=print) -> dict[str, np.ndarray]:
    """Estimates every image of `images` and writes the annotation CSV `out`.

    Returns {name: (18, 3) RCV} as written.
    """
    names = list_images(images)
    from dpig_tf.pose import estimator as estimator_lib  # TensorFlow: after the folder check

    estimator = estimator_lib.PoseEstimator(graph_path)
    select = "largest" if single_person else "score"
    rows = {}
    start = time.perf_counter()
    for i, name in enumerate(names):
        image = estimator_lib.load_image(os.path.join(images, name))
        rows[name] = rounded_rcv(estimator.estimate_single(image, select=select))
        if log and (i + 1) % 100 == 0:
            log(f"{i + 1}/{len(names)} images")
    keypoints_csv.write_annotation_csv(out, rows)
    if log:
        seconds = time.perf_counter() - start
        found = sum(int(r[:, 2].any()) for r in rows.values())
        log(f"wrote {out}: {len(rows)} images, {found} with a person, "
            f"{1000 * seconds / len(rows):.0f} ms per image")
    return rows


def main(argv=None):
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", required=True, help="folder of images")
    parser.add_argument("--out", required=True, help="annotation CSV to write")
    parser.add_argument("--graph", default=None,
                        help=f"frozen pose graph (default {graph_file.DEFAULT_GRAPH_PATH})")
    parser.add_argument("--single_person", action="store_true",
                        help="images are person crops: keep the largest person")
    args = parser.parse_args(argv)
    estimate_folder(args.images, args.out, args.graph, args.single_person)


if __name__ == "__main__":
    cli.run(main)
