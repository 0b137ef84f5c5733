"""Input-pipeline throughput: Market-size examples/s with masks, boxes and heatmaps.

Renders (or reuses) a Market-format synthetic dataset at 128x64 and times
`dpig_tf.data.pipeline.build_dataset` batches (every feature of the contract,
paired or not). Prints one JSON line: wall-clock examples/s, examples per
CPU-second of this process (independent of other load on a shared machine)
and the load average, so a number taken on a busy machine can be judged.

    python bench/input_pipeline.py [--batches=50 --batch_size=64 --cache
        --paired --demo_dir=/tmp/dpig_bench_data --threads=0]
"""

from __future__ import annotations

import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dpig_tf import cli  # noqa: E402


def main(argv=None) -> None:
    parser = cli.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=50, help="timed batches")
    parser.add_argument("--warmup", type=int, default=5, help="untimed batches first")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--cache", action="store_true", help="data.cache=true")
    parser.add_argument("--paired", action="store_true", help="(from, to) pairs")
    parser.add_argument("--demo_dir", default="/tmp/dpig_bench_data")
    parser.add_argument("--num_ids", type=int, default=40)
    parser.add_argument("--images_per_id", type=int, default=12)
    parser.add_argument("--threads", type=int, default=0,
                        help="tf.data private thread pool size (0 = TF default)")
    args = parser.parse_args(argv)

    import tensorflow as tf

    from dpig_tf.config import DataConfig
    from dpig_tf.data import pipeline

    cfg = DataConfig(dataset="demo", demo_dir=args.demo_dir, demo_num_ids=args.num_ids,
                     demo_images_per_id=args.images_per_id, cache=args.cache)
    t0 = time.perf_counter()
    ds = pipeline.build_dataset(cfg, "train", args.batch_size, paired=args.paired, seed=0)
    if args.threads:
        options = tf.data.Options()
        options.threading.private_threadpool_size = args.threads
        ds = ds.with_options(options)
    build_s = time.perf_counter() - t0
    it = iter(ds)
    for _ in range(args.warmup):
        next(it)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(args.batches):
        batch = next(it)
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0  # all threads of this process
    examples = args.batches * args.batch_size
    assert batch["heatmaps"].shape == (args.batch_size, 128, 64, 18)
    print(json.dumps({
        "benchmark": "input_pipeline",
        "examples_per_sec": round(examples / elapsed, 1),
        # Load-independent cost on a shared machine: examples per CPU-second.
        "examples_per_cpu_sec": round(examples / max(cpu, 1e-9), 1),
        "cpu_utilisation": round(cpu / elapsed, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "batch_size": args.batch_size, "batches": args.batches,
        "cache": args.cache, "paired": args.paired, "image_size": [128, 64],
        "index_and_build_sec": round(build_s, 2), "cpu_count": os.cpu_count(),
    }))


if __name__ == "__main__":
    cli.run(main)
