"""Real examples for quantization and parity checks, keyed by input name.

Full-int8 LiteRT conversion and TensorRT INT8 calibration both need inputs
that look like deployment data, so they are drawn from the run's own dataset
(`dpig_tf.data.pipeline.build_dataset`, the same batch contract as training).
Arrays are keyed by the endpoint's input names (a LiteRT model with
signatures needs dicts keyed by name, STACK.md 3.3).
"""

from __future__ import annotations

import numpy as np

from dpig_tf.data import features
from export import signatures


def dataset_examples(cfg, num_examples: int, split: str = "train") -> dict[str, np.ndarray]:
    """`num_examples` rows of image / keypoints / target_keypoints from the dataset."""
    from dpig_tf.data.pipeline import build_dataset
    from dpig_tf.data.pipeline import split_paths

    batch = min(num_examples, 16)
    # With a pairs CSV the target pose is the pair's (SPEC 4.2 transfer pairs).
    paired = bool(split_paths(cfg.data, split)["pairs"])
    ds = build_dataset(cfg.data, split, batch_size=batch, paired=paired, seed=0)
    images, keypoints, targets = [], [], []
    count = 0
    for item in ds:
        kp = item[features.KEYPOINTS].numpy()
        tgt_key = features.target(features.KEYPOINTS)
        # Without a paired target, another example's pose is the target pose.
        tgt = item[tgt_key].numpy() if tgt_key in item else np.roll(kp, 1, axis=0)
        images.append(item[features.IMAGE].numpy())
        keypoints.append(kp)
        targets.append(tgt)
        count += len(kp)
        if count >= num_examples:
            break
    if count == 0:
        raise ValueError(f"the {split!r} dataset of {cfg.data.dataset} yielded no examples")
    cat = lambda xs: np.concatenate(xs)[:num_examples].astype(np.float32)  # noqa: E731
    return {signatures.IMAGE: cat(images), signatures.KEYPOINTS: cat(keypoints),
            signatures.TARGET_KEYPOINTS: cat(targets)}


def endpoint_arrays(model, dims: signatures.ModelDims, endpoint: str,
                    examples: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The inputs of `endpoint` for `examples` (codes come from `model.encode`)."""
    if endpoint == signatures.TRANSFER:
        names = (signatures.IMAGE, signatures.KEYPOINTS, signatures.TARGET_KEYPOINTS)
        return {k: examples[k] for k in names}
    if endpoint == signatures.ENCODE:
        return {k: examples[k] for k in (signatures.IMAGE, signatures.KEYPOINTS)}
    if endpoint == signatures.DECODE:
        codes = model.encode(examples[signatures.IMAGE], examples[signatures.KEYPOINTS])
        out = {signatures.FOREGROUND: np.asarray(codes[signatures.FOREGROUND], np.float32)}
        if dims.has_background:
            out[signatures.BACKGROUND] = np.asarray(codes[signatures.BACKGROUND], np.float32)
        out[signatures.TARGET_KEYPOINTS] = examples[signatures.TARGET_KEYPOINTS]
        return out
    raise ValueError(f"no representative data for endpoint {endpoint!r}")


def rows(arrays: dict[str, np.ndarray], start: int, size: int) -> dict[str, np.ndarray]:
    return {k: v[start:start + size] for k, v in arrays.items()}
