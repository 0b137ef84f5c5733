"""The serving contract: every endpoint's inputs, declared once.

Each exported format (SavedModel for TF Serving, LiteRT, ONNX, TensorRT) and the
serving client derive their input specs from `endpoint_specs`, so a request
that `validate_inputs` accepts is one the exported signature accepts, and a
request with the wrong shape, dtype or keypoint count is refused here with a
message naming the endpoint, the input and what was expected (instead of a
"could not find matching concrete function" from inside TensorFlow).

Endpoints (SPEC 3.4, 4.2, 4.5):
- `transfer`: source image + source keypoints + target keypoints -> image
  (pose-guided transfer; also the `serving_default` signature).
- `encode`: image + keypoints -> foreground / background / pose codes.
- `decode`: foreground (+ background) codes + target keypoints -> image
  (the per-frame path of pose-driven video: encode once, decode per frame).
- `sample`: image + keypoints + seed + which factors to draw from noise ->
  image; needs the Stage-II mapping networks.

Keypoints are 18 OpenPose/COCO joints as (row, col, visible) in pixels of the
network-size image, missing joints (0, 0, 0) (dpig_tf/data/features.py).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow as tf

from dpig_tf.data import features
from dpig_tf.errors import UserError

TRANSFER = "transfer"
ENCODE = "encode"
DECODE = "decode"
SAMPLE = "sample"
SERVING_DEFAULT = "serving_default"
ENDPOINTS = (TRANSFER, ENCODE, DECODE, SAMPLE)

# Input names (also the TF Serving request keys).
IMAGE = "image"
KEYPOINTS = "keypoints"
TARGET_KEYPOINTS = "target_keypoints"
FOREGROUND = "foreground"
BACKGROUND = "background"
POSE = "pose"
SEED = "seed"
SAMPLE_FOREGROUND = "sample_foreground"
SAMPLE_BACKGROUND = "sample_background"
SAMPLE_POSE = "sample_pose"
# Output name of the image endpoints.
OUTPUT_IMAGE = "generated"


class SignatureInputError(UserError):
    """A request does not match an endpoint's input signature."""


@dataclasses.dataclass(frozen=True)
class ModelDims:
    """The sizes an export's signatures depend on, read from the run's config.

    Args:
        height, width: network image size.
        foreground_dim: size of the foreground code (7 parts x part_dim).
        background_dim: size of the background code (0 = no background
            branch, DeepFashion; the endpoints then have no background input).
        pose_dim: pose auto-encoder code size.
        noise_std: standard deviation of the Stage-II input noise.

    Reference: SPEC 2.1-2.3, 2.7, 3.1.
    """

    height: int
    width: int
    foreground_dim: int
    background_dim: int
    pose_dim: int
    noise_std: float = 0.2

    @classmethod
    def from_config(cls, cfg) -> "ModelDims":
        m = cfg.model
        return cls(height=cfg.data.image_height, width=cfg.data.image_width,
                   foreground_dim=m.foreground_dim,
                   background_dim=m.background_dim if m.background else 0,
                   pose_dim=m.pose_embedding_dim, noise_std=cfg.stage2.noise_std)

    @property
    def has_background(self) -> bool:
        return self.background_dim > 0


def endpoint_specs(dims: ModelDims, endpoint: str,
                   batch_size: int | None = None) -> dict[str, tf.TensorSpec]:
    """The named input specs of `endpoint`, in call order.

    `batch_size=None` gives a dynamic batch (SavedModel / TF Serving); LiteRT,
    ONNX and TensorRT use static batches.
    """
    b, h, w = batch_size, dims.height, dims.width

    def spec(name, shape, dtype=tf.float32):
        return name, tf.TensorSpec(shape, dtype, name=name)

    image = spec(IMAGE, (b, h, w, 3))
    keypoints = spec(KEYPOINTS, (b, features.NUM_JOINTS, 3))
    target = spec(TARGET_KEYPOINTS, (b, features.NUM_JOINTS, 3))
    if endpoint == TRANSFER:
        items = [image, keypoints, target]
    elif endpoint == ENCODE:
        items = [image, keypoints]
    elif endpoint == DECODE:
        items = [spec(FOREGROUND, (b, dims.foreground_dim))]
        if dims.has_background:
            items.append(spec(BACKGROUND, (b, dims.background_dim)))
        items.append(target)
        # The serving contract keeps both halves; there is no pose code input:
        # a video frame is given by its keypoints.
    elif endpoint == SAMPLE:
        items = [image, keypoints, spec(SEED, (), tf.int32),
                 spec(SAMPLE_FOREGROUND, (), tf.bool)]
        if dims.has_background:
            items.append(spec(SAMPLE_BACKGROUND, (), tf.bool))
        items.append(spec(SAMPLE_POSE, (), tf.bool))
    else:
        raise SignatureInputError(
            f"unknown endpoint {endpoint!r}; expected one of {', '.join(ENDPOINTS)}")
    return dict(items)


def output_names(dims: ModelDims, endpoint: str) -> tuple[str, ...]:
    if endpoint == ENCODE:
        return (FOREGROUND, BACKGROUND, POSE) if dims.has_background else (FOREGROUND, POSE)
    return (OUTPUT_IMAGE,)


def validate_inputs(specs: dict[str, tf.TensorSpec], inputs: dict,
                    endpoint: str = "") -> dict[str, np.ndarray]:
    """Checks `inputs` against `specs`; returns them as numpy arrays of the
    spec dtypes. Raises SignatureInputError naming the input and expectation.
    """
    where = f"endpoint {endpoint!r}: " if endpoint else ""
    missing = [k for k in specs if k not in inputs]
    unknown = [k for k in inputs if k not in specs]
    if missing or unknown:
        raise SignatureInputError(
            f"{where}inputs must be exactly {sorted(specs)}; "
            f"missing {missing}, unexpected {unknown}")
    out = {}
    batch = None
    for name, spec in specs.items():
        value = inputs[name]
        arr = np.asarray(value)
        want = spec.dtype.as_numpy_dtype
        if not _dtype_compatible(arr.dtype, np.dtype(want)):
            raise SignatureInputError(
                f"{where}input {name!r} has dtype {arr.dtype}, expected {spec.dtype.name}")
        shape = tuple(spec.shape.as_list())
        if arr.ndim != len(shape) or any(
                s is not None and s != a for s, a in zip(shape, arr.shape)):
            expect = "(" + ", ".join("batch" if s is None else str(s) for s in shape) + ")"
            hint = ""
            if name in (KEYPOINTS, TARGET_KEYPOINTS) and arr.ndim == 3:
                hint = (f" ({features.NUM_JOINTS} OpenPose/COCO joints as row, col, "
                        f"visible; got {arr.shape[1]} joints x {arr.shape[2]} values)")
            raise SignatureInputError(
                f"{where}input {name!r} has shape {arr.shape}, expected {expect}{hint}")
        if shape and shape[0] is None:
            if batch is None:
                batch = (name, arr.shape[0])
            elif arr.shape[0] != batch[1]:
                raise SignatureInputError(
                    f"{where}input {name!r} has batch {arr.shape[0]} but "
                    f"{batch[0]!r} has batch {batch[1]}; all inputs need the same batch")
        if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
            raise SignatureInputError(f"{where}input {name!r} contains NaN or Inf")
        out[name] = arr.astype(want, copy=False)
    return out


def _dtype_compatible(got: np.dtype, want: np.dtype) -> bool:
    # JSON requests arrive as float64 / int64 / bool; those cast safely.
    if got == want:
        return True
    if want.kind == "f":
        return got.kind in "fiu"
    if want.kind in "iu":
        return got.kind in "iu"
    if want.kind == "b":
        return got.kind == "b"
    return False


def assert_same_batch(tensors: dict[str, tf.Tensor], endpoint: str) -> list:
    """In-graph checks for the one dynamic dimension, the batch.

    A TensorSpec with batch None accepts inputs of different batch sizes; this
    turns that into an InvalidArgumentError naming the inputs.
    """
    batched = [(k, t) for k, t in tensors.items() if t.shape.rank and t.shape.rank > 0]
    if len(batched) < 2:
        return []
    first_name, first = batched[0]
    static = [t.shape[0] for _, t in batched]
    if None not in static:  # static batch (LiteRT, ONNX): checked while tracing
        for name, t in batched[1:]:
            if t.shape[0] != first.shape[0]:
                raise SignatureInputError(
                    f"endpoint {endpoint!r}: input {name!r} has batch {t.shape[0]}, "
                    f"{first_name!r} has batch {first.shape[0]}")
        return []
    return [tf.debugging.assert_equal(
        tf.shape(t)[0], tf.shape(first)[0],
        message=f"endpoint {endpoint}: inputs {name} and {first_name} "
                f"must have the same batch size")
        for name, t in batched[1:]]


def assert_finite(tensors: dict[str, tf.Tensor], endpoint: str) -> list:
    """In-graph NaN/Inf checks of the float inputs (served SavedModel signatures).

    A request that passed TF Serving's shape and dtype checks but holds NaN or Inf fails
    with an InvalidArgumentError whose message names the endpoint and the input, instead
    of silently returning a NaN image. `tf.Assert` (not tf.debugging.check_numerics, whose
    message is an op dump).
    """
    return [tf.Assert(tf.reduce_all(tf.math.is_finite(t)),
                      [f"endpoint {endpoint}: input {name} contains NaN or Inf; "
                       f"expected finite values"], name=f"{name}_is_finite")
            for name, t in tensors.items() if t.dtype.is_floating]


def endpoint_function(model, dims: ModelDims, endpoint: str, check_finite: bool = False):
    """The endpoint as a Python function of its named inputs -> dict outputs.

    `check_finite` adds the in-graph NaN/Inf checks (`assert_finite`) of the served
    SavedModel; the static-batch formats (LiteRT, ONNX, TensorRT) have no Assert op and
    rely on `validate_inputs` in their callers.

    `model` is the inference object (`DisentangledGenerator`): only its
    `encode`, `decode`, `transfer` and `sample` methods are used, so every
    format exports the same computation as the Keras model. Wrap the result in `tf.function` with
    `endpoint_specs(...)` as input signature.
    """
    def checked(inputs):
        inputs = {k: tf.convert_to_tensor(v) for k, v in inputs.items()}
        deps = assert_same_batch(inputs, endpoint)
        if check_finite:
            deps += assert_finite(inputs, endpoint)
        with tf.control_dependencies(deps):
            return {k: tf.identity(v) for k, v in inputs.items()}

    if endpoint == TRANSFER:
        def fn(image, keypoints, target_keypoints):
            x = checked({IMAGE: image, KEYPOINTS: keypoints, TARGET_KEYPOINTS: target_keypoints})
            return {OUTPUT_IMAGE: model.transfer(x[IMAGE], x[KEYPOINTS], x[TARGET_KEYPOINTS])}
    elif endpoint == ENCODE:
        def fn(image, keypoints):
            x = checked({IMAGE: image, KEYPOINTS: keypoints})
            codes = model.encode(x[IMAGE], x[KEYPOINTS])
            return {k: codes[k] for k in output_names(dims, ENCODE)}
    elif endpoint == DECODE:
        if dims.has_background:
            def fn(foreground, background, target_keypoints):
                x = checked({FOREGROUND: foreground, BACKGROUND: background,
                             TARGET_KEYPOINTS: target_keypoints})
                return {OUTPUT_IMAGE: model.decode(x[FOREGROUND], x[BACKGROUND],
                                                   x[TARGET_KEYPOINTS])}
        else:
            def fn(foreground, target_keypoints):
                x = checked({FOREGROUND: foreground, TARGET_KEYPOINTS: target_keypoints})
                return {OUTPUT_IMAGE: model.decode(x[FOREGROUND], None, x[TARGET_KEYPOINTS])}
    elif endpoint == SAMPLE:
        def sample(image, keypoints, seed, sample_foreground, sample_background, sample_pose):
            x = checked({IMAGE: image, KEYPOINTS: keypoints})
            return {OUTPUT_IMAGE: model.sample(
                seed=seed, sample_fg=sample_foreground, sample_bg=sample_background,
                sample_pose=sample_pose, image=x[IMAGE], keypoints=x[KEYPOINTS])}
        if dims.has_background:
            fn = sample
        else:
            def fn(image, keypoints, seed, sample_foreground, sample_pose):
                return sample(image, keypoints, seed, sample_foreground,
                              tf.constant(False), sample_pose)
    else:
        raise SignatureInputError(f"unknown endpoint {endpoint!r}")
    return fn
