"""Reading one of the authors' TF1 checkpoints and checking it against the mapping table.

`tf.train.load_checkpoint` reads TF1 `tf.train.Saver` checkpoints (`model.ckpt-N.index` +
`.data-*`) without building any graph. Every variable must be either imported (a row of
`tf1_names.table`) or recognised as not imported (`tf1_names.is_ignored`); anything else,
a missing variable or a wrong shape is an `ImportCheckpointError` naming the variable.
"""

from __future__ import annotations

import dataclasses
import pathlib
import re

import numpy as np

from dpig_tf.errors import UserError
from dpig_tf.file_hash import sha256_of
from dpig_tf.pretrained import tf1_names

_STEP = re.compile(r"-(\d+)$")


class ImportCheckpointError(UserError):
    """A TF1 checkpoint that cannot be imported; the message names the file and variable."""


@dataclasses.dataclass
class Tf1Checkpoint:
    """An opened TF1 checkpoint.

    Attributes:
        prefix: the checkpoint prefix (`.../model.ckpt-N`).
        shapes: {variable name: shape tuple}.
        step: N from the file name (training steps done = N + 1), or None.
    """

    prefix: str
    shapes: dict
    step: int | None
    _reader: object = dataclasses.field(repr=False, default=None)

    def tensor(self, name: str) -> np.ndarray:
        import tensorflow as tf

        try:
            return self._reader.get_tensor(name)
        except (tf.errors.OpError, IndexError, ValueError) as err:
            raise ImportCheckpointError(
                f"{self.prefix}: {name}: expected readable values, found a corrupt or truncated "
                f"checkpoint ({str(err).strip().splitlines()[0][:200]})") from None

    def files(self) -> list[pathlib.Path]:
        """The checkpoint's files (`.index` and every `.data-*` shard), sorted."""
        prefix = pathlib.Path(self.prefix)
        return sorted(prefix.parent.glob(prefix.name + ".index")) + sorted(
            prefix.parent.glob(prefix.name + ".data-*"))

    def sha256(self) -> dict:
        return {f.name: sha256_of(f) for f in self.files()}


def resolve_prefix(path: str) -> str:
    """DIR (the newest `*.index` in it), a prefix, or one of the checkpoint's files -> prefix.

    A folder's `checkpoint` state file is not trusted: the released ones hold the authors'
    absolute paths.
    """
    p = pathlib.Path(path)
    if p.is_dir():
        indexes = sorted(p.glob("*.index"), key=_step_key)
        if not indexes:
            raise ImportCheckpointError(f"{p}: expected a TF1 checkpoint folder "
                                        "(model.ckpt-N.index + .data-*), found no .index file")
        return str(indexes[-1])[: -len(".index")]
    for suffix in (".index", ".meta"):
        if p.name.endswith(suffix):
            p = p.with_name(p.name[: -len(suffix)])
    p = p.with_name(re.sub(r"\.data-\d+-of-\d+$", "", p.name))
    if not p.with_name(p.name + ".index").is_file():
        raise ImportCheckpointError(f"{path}: expected a TF1 checkpoint (a folder, or a prefix "
                                    f"with {p.name}.index beside it), found no such file")
    return str(p)


def _step_key(index_file: pathlib.Path):
    match = _STEP.search(index_file.name[: -len(".index")])
    return (int(match.group(1)) if match else -1, index_file.name)


def open_checkpoint(path: str) -> Tf1Checkpoint:
    import tensorflow as tf

    prefix = resolve_prefix(path)
    try:
        reader = tf.train.load_checkpoint(prefix)
        shapes = {k: tuple(v) for k, v in reader.get_variable_to_shape_map().items()}
    except (tf.errors.OpError, ValueError) as err:
        first = str(err).strip().splitlines()[0][:300] if str(err).strip() else type(err).__name__
        raise ImportCheckpointError(f"{prefix}: expected a readable TF1 checkpoint, found a "
                                    f"corrupt or truncated one ({first})") from None
    match = _STEP.search(prefix)
    return Tf1Checkpoint(prefix=prefix, shapes=shapes,
                         step=int(match.group(1)) if match else None, _reader=reader)


# --- what is in a checkpoint ----------------------------------------------------------------
KIND_MARKERS = (  # first match wins: Stage-II checkpoints also hold copies of Stage-I scopes
    (tf1_names.STAGE2_POSE, "PoseGaussian/"),
    (tf1_names.STAGE2_APP, "Gaussian_FC"),
    (tf1_names.POSE_AE, "PoseAE/"),
    (tf1_names.STAGE1, "ID_AE/G/"),
)
KIND_TITLES = {
    tf1_names.STAGE1: "Stage-I encoder + generator (model 1 / 101)",
    tf1_names.POSE_AE: "pose auto-encoder (model 2 / 102)",
    tf1_names.STAGE2_APP: "Stage-II appearance mapping (model 3 / 103)",
    tf1_names.STAGE2_POSE: "Stage-II pose mapping (model 4 / 104)",
}
GENERATOR_INPUT = "ID_AE/G/Conv/weights"
ENCODER_STEM = "Encoder/G_encoder/Conv/weights"


def detect_kind(ckpt: Tf1Checkpoint) -> str | None:
    for kind, marker in KIND_MARKERS:
        if any(name.startswith(marker) for name in ckpt.shapes):
            return kind
    return None


def detect_dataset(ckpt: Tf1Checkpoint) -> str | None:
    """market (generator input 352 + 18 = 370 channels) or deepfashion (224 + 18 = 242)."""
    shape = ckpt.shapes.get(GENERATOR_INPUT)
    if shape is None or len(shape) != 4:
        return None
    return {370: "market", 242: "deepfashion"}.get(shape[2])


def check_kind_and_dataset(ckpt: Tf1Checkpoint, flag: str, kind: str, dataset: str) -> None:
    found = detect_kind(ckpt)
    if found != kind:
        what = KIND_TITLES.get(found, "no known DPIG scope (Encoder/, ID_AE/, PoseAE/, "
                                      "Gaussian_FC*/, PoseGaussian/)")
        raise ImportCheckpointError(f"{ckpt.prefix}: --{flag}: expected a {KIND_TITLES[kind]} "
                                    f"checkpoint, found {what}")
    found_dataset = detect_dataset(ckpt)
    if found_dataset is not None and found_dataset != dataset:
        channels = ckpt.shapes[GENERATOR_INPUT][2]
        raise ImportCheckpointError(
            f"{ckpt.prefix}: {GENERATOR_INPUT}: expected a {dataset} checkpoint "
            f"(--dataset={dataset}), found a {found_dataset} one (generator input of "
            f"{channels} channels)")


def check_variables(ckpt: Tf1Checkpoint, kind: str, rows: list, expected_shapes: dict) -> None:
    """Every row present with its shape; every other variable known (else one clear error)."""
    for row in rows:
        want = expected_shapes[row.tf1_name]
        if row.tf1_name not in ckpt.shapes:
            raise ImportCheckpointError(f"{ckpt.prefix}: {row.tf1_name}: expected a variable "
                                        f"of shape {want}, found none (missing)")
        got = ckpt.shapes[row.tf1_name]
        if got != want:
            raise ImportCheckpointError(f"{ckpt.prefix}: {row.tf1_name}: expected shape {want}, "
                                        f"found {got}")
    mapped = {row.tf1_name for row in rows}
    unknown = sorted(n for n in ckpt.shapes
                     if n not in mapped and not tf1_names.is_ignored(n, kind))
    if unknown:
        name = unknown[0]
        more = f" (and {len(unknown) - 1} more)" if len(unknown) > 1 else ""
        raise ImportCheckpointError(
            f"{ckpt.prefix}: {name}: expected only the variables of the {KIND_TITLES[kind]} "
            f"(and optimizer slots / counters), found an unknown variable of shape "
            f"{ckpt.shapes[name]}{more}")
