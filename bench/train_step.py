"""Stage-I training-step benchmark: step time, FLOPs from layer shapes, utilisation, peak RSS.

  python bench/train_step.py                      # market at batch 16 + demo (slow: minutes)
  python bench/train_step.py --steps=1 --batch=2  # quick check that it runs
  python bench/train_step.py --jit --precision=mixed_bfloat16 --threads=2

Prints ONE JSON object. The timed step is exactly the training loop's step
(`dpig_tf.training.loop.make_train_function` over `Stage1GAN.train_step`: E+G update, then a
D update on a second batch), on two real batches of the demo data pipeline cached in memory,
so the input pipeline is not timed. Market uses the market networks on demo images of the same
128x64 size (the Market-1501 images are not needed).

Training FLOPs per image = 2 x [4 (E+G) + 9 D] MACs (shared/bench/README.md: G-step E+G fwd+bwd
= 3x fwd, D fwd+bwd on the fake = 3x; D-step E+G fwd on the new batch, D fwd+bwd on real and
fake), MACs per image from `dpig_tf.models.factory.model_summary` (layer shapes).
`flops_utilization` = achieved FLOP/s of the market step / fp32 matmul FLOP/s (4096^3
tf.matmul) measured in the same run.
"""

from __future__ import annotations

import pathlib
import sys

if __package__ in (None, ""):  # run as `python bench/train_step.py`
    sys.path[0] = str(pathlib.Path(__file__).resolve().parents[1])

import json  # noqa: E402
import resource  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

from dpig_tf import cli  # noqa: E402


def parse_args(argv=None):
    parser = cli.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", default="market,demo",
                        help="comma-separated config names to time (default market,demo)")
    parser.add_argument("--batch", type=int, default=0,
                        help="global batch for every config (default: market 16, others "
                             "their stage1.batch_size)")
    parser.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    parser.add_argument("--warmup", type=int, default=1,
                        help="untimed steps after the tracing step")
    parser.add_argument("--jit", action="store_true", help="XLA-compile the train step")
    parser.add_argument("--precision", default="float32",
                        choices=["float32", "mixed_bfloat16", "mixed_float16"])
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads (0 = TF default)")
    parser.add_argument("--inter_threads", type=int, default=0,
                        help="inter-op threads (0 = TF default)")
    parser.add_argument("--matmul_reps", type=int, default=5)
    return parser.parse_args(argv)


def matmul_flops_per_sec(reps: int) -> float:
    """fp32 4096^3 tf.matmul FLOP/s (best of `reps`), the machine's practical peak."""
    import tensorflow as tf

    n = 4096
    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    matmul = tf.function(lambda x, y: tf.reduce_sum(tf.matmul(x, y)))
    matmul(a, b).numpy()
    best = float("inf")
    for _ in range(reps):
        start = time.perf_counter()
        matmul(a, b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def time_config(name: str, batch: int, steps: int, warmup: int, jit: bool,
                precision: str = "float32") -> dict:
    import tensorflow as tf

    from dpig_tf import config_io
    from dpig_tf.data.pipeline import build_dataset
    from dpig_tf.models import factory
    from dpig_tf.training import loop
    from dpig_tf.training import optimizers
    from dpig_tf.training.stage1_gan import INPUT_KEYS
    from dpig_tf.training.stage1_gan import Stage1GAN

    cfg = config_io.load_config(name)
    if cfg.data.dataset != "demo":  # same image size, demo images (no dataset download)
        demo = config_io.load_config("demo").data
        if (demo.image_height, demo.image_width) != (cfg.data.image_height, cfg.data.image_width):
            raise SystemExit(f"{name}: no demo data of size {cfg.data.image_height}x"
                             f"{cfg.data.image_width}")
        cfg.data = demo
    batch = batch or cfg.stage1.batch_size
    cfg.stage1.batch_size = batch
    # The factory picks the XLA-compatible ROI crop and the optimizers' loss scaling from these.
    cfg.runtime.jit_compile = jit
    cfg.runtime.mixed_precision = precision
    cfg.validate()
    summary = factory.model_summary(cfg)
    gmac = summary["gmac_per_image"]
    macs_per_image = 1e9 * (4 * (gmac["encoder"] + gmac["generator"]) + 9 * gmac["discriminator"])
    flops_per_step = 2 * macs_per_image * batch

    iterator_source = iter(build_dataset(cfg.data, "train", batch, shuffle=False))
    batches = [{k: b[k] for k in INPUT_KEYS} for b in (next(iterator_source),
                                                        next(iterator_source))]
    s1 = cfg.stage1
    model = Stage1GAN(factory.build_encoder(cfg), factory.build_generator(cfg),
                      factory.build_discriminator(cfg), l1_weight=s1.l1_weight)
    model.compile(
        g_optimizer=optimizers.adam(s1.learning_rate, s1.beta_1, s1.beta_2, s1.epsilon,
                                    s1.lr_decay_steps, cfg.runtime.mixed_precision),
        d_optimizer=optimizers.adam(s1.learning_rate, s1.beta_1, s1.beta_2, s1.epsilon,
                                    s1.lr_decay_steps, cfg.runtime.mixed_precision))
    model.build_optimizers()
    model.step.assign(1)  # a regular step (generator and discriminator updates)
    strategy = tf.distribute.get_strategy()
    dataset = tf.data.Dataset.from_tensors(batches[0]).concatenate(
        tf.data.Dataset.from_tensors(batches[1])).repeat()
    iterator = iter(strategy.experimental_distribute_dataset(dataset))
    train_function = loop.make_train_function(strategy, model, 2, jit)

    start = time.perf_counter()
    losses = train_function(iterator)
    float(losses["g_loss"])
    first = time.perf_counter() - start
    for _ in range(warmup):
        float(train_function(iterator)["g_loss"])
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        float(train_function(iterator)["g_loss"])
        times.append(time.perf_counter() - start)
    sec = statistics.median(times)
    return {
        "batch": batch,
        "sec_per_step": sec,
        "step_times": times,
        "first_step_sec_incl_tracing": first,
        "examples_per_sec": 2 * batch / sec,  # two batches per step (G batch, D batch)
        "train_flops_per_step": flops_per_step,
        "achieved_flops_per_sec": flops_per_step / sec,
        "gmac_per_image": gmac,
        "params": summary["params"],
    }


def main(argv=None):
    args = parse_args(argv)
    from dpig_tf.training import runtime

    runtime.configure_devices(0, args.threads, args.inter_threads)
    runtime.set_seed(0)
    runtime.set_precision(args.precision)
    peak = matmul_flops_per_sec(args.matmul_reps)
    result = {"precision": args.precision, "jit": args.jit, "threads": args.threads,
              "inter_threads": args.inter_threads, "steps": args.steps,
              "matmul_4096_fp32_flops_per_sec": peak, "configs": {}}
    for name in [c for c in args.configs.split(",") if c]:
        batch = args.batch or (16 if name == "market" else 0)
        timing = time_config(name, batch, args.steps, args.warmup, args.jit, args.precision)
        timing["flops_utilization"] = timing["achieved_flops_per_sec"] / peak
        result["configs"][name] = timing
    result["matmul_4096_fp32_flops_per_sec_end"] = matmul_flops_per_sec(args.matmul_reps)
    if "market" in result["configs"]:
        result["flops_utilization"] = result["configs"]["market"]["flops_utilization"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


if __name__ == "__main__":
    cli.run(main)
