"""Optional TFRecord packing of an image folder + annotation CSV.

One `tf.train.Example` per image with `image_name` (bytes), `image_raw` (the
file's encoded bytes, unchanged) and `keypoints_rcv` (54 floats, row-major
(18, 3) RCV in the file's pixels, before any padding). `build_dataset` reads
it back through the same contract when `data.tfrecord` is set: identity,
camera, padding and all derived features are computed exactly as for the
folder input. (The original's pair TFRecords of SPEC 1.7 are not reproduced:
pairs stay in the pairs CSV.)

Usage:
    python -m dpig_tf.data.tfrecord --dataset=market --images=DIR
        --annotations=CSV --out=FILE

Reference: SPEC.md section 1.7 (the original's record contents), 1.2 (CSV).
"""

from __future__ import annotations

import json
import os

import numpy as np

from dpig_tf import cli
from dpig_tf.data import keypoints_csv
from dpig_tf.data.errors import DataError

NAME_KEY = "image_name"
IMAGE_KEY = "image_raw"
KEYPOINTS_KEY = "keypoints_rcv"



def _spec() -> dict:
    import tensorflow as tf

    return {NAME_KEY: tf.io.FixedLenFeature([], tf.string),
            IMAGE_KEY: tf.io.FixedLenFeature([], tf.string),
            KEYPOINTS_KEY: tf.io.FixedLenFeature([54], tf.float32)}


def write_tfrecord(images: str, annotations: str, out: str) -> int:
    """Packs every annotated image of `images` into `out`; returns the count.

    A missing image is an error naming it (this is a conversion tool: it
    packs what the CSV lists); images are validated when read back.
    """
    table = keypoints_csv.read_annotation_csv_with_lines(annotations)
    if not os.path.isdir(images):
        raise DataError("expected an image folder, found "
                        f"{'a file' if os.path.exists(images) else 'nothing'}", images,
                        field="--images")
    for name, (_, line) in table.items():  # every input checked before anything is written
        if not os.path.isfile(os.path.join(images, name)):
            raise DataError(f"image {os.path.join(images, name)} listed in the annotations "
                            f"is missing", annotations, line)
    import tensorflow as tf

    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    tmp = f"{out}.tmp{os.getpid()}"
    try:
        count = _write_records(tf, table, images, tmp)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise
    os.replace(tmp, out)
    return count


def _write_records(tf, table, images: str, tmp: str) -> int:
    count = 0
    with tf.io.TFRecordWriter(tmp) as writer:
        for name, (rcv, _) in sorted(table.items()):
            path = os.path.join(images, name)
            with open(path, "rb") as f:
                raw = f.read()
            feature = {
                NAME_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[name.encode()])),
                IMAGE_KEY: tf.train.Feature(bytes_list=tf.train.BytesList(value=[raw])),
                KEYPOINTS_KEY: tf.train.Feature(
                    float_list=tf.train.FloatList(value=np.asarray(rcv, np.float32).ravel())),
            }
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
            count += 1
    return count


def read_records(path: str) -> list[tuple[str, bytes, np.ndarray]]:
    """All (name, encoded image bytes, RCV (18, 3)) records of a file written above."""
    if not os.path.isfile(path):
        raise DataError("TFRecord file not found (data.tfrecord)", path)
    import tensorflow as tf

    spec = _spec()
    out, seen = [], {}
    try:
        for i, raw in enumerate(tf.data.TFRecordDataset(path)):
            try:
                ex = tf.io.parse_single_example(raw, spec)
            except tf.errors.InvalidArgumentError as err:
                raise DataError(f"record {i} is not a dpig_tf image record "
                                f"({err.message.splitlines()[0]})", path) from None
            name = ex[NAME_KEY].numpy().decode()
            keypoints_csv.check_image_name(name, path)
            if name in seen:
                raise DataError(f"record {i}: duplicate image name {name!r} "
                                f"(first in record {seen[name]})", path)
            seen[name] = i
            out.append((name, ex[IMAGE_KEY].numpy(),
                        ex[KEYPOINTS_KEY].numpy().reshape(18, 3)))
    except tf.errors.DataLossError as err:
        raise DataError(f"corrupt or truncated TFRecord ({err.message.splitlines()[0]})",
                        path) from None
    return out


def main(argv=None) -> None:
    parser = cli.ArgumentParser(description="Pack images + annotation CSV into a TFRecord.")
    parser.add_argument("--dataset", required=True, choices=("market", "deepfashion", "demo"))
    parser.add_argument("--images", required=True, help="image folder")
    parser.add_argument("--annotations", required=True, help="annotation CSV")
    parser.add_argument("--out", required=True, help="output .tfrecord file")
    args = parser.parse_args(argv)
    count = write_tfrecord(args.images, args.annotations, args.out)
    print(json.dumps({"out": args.out, "dataset": args.dataset, "records": count}))


if __name__ == "__main__":
    cli.run(main)
