"""Metric weight files: named arrays in `.npz`, checked shapes, SHA-256 for reports."""

from __future__ import annotations

import hashlib
import os
import tempfile

import numpy as np

from dpig_tf.errors import UserError


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_npz(path: str, what: str) -> dict[str, np.ndarray]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: expected a {what} weights .npz, found no such file")
    try:
        with np.load(path, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except (OSError, ValueError) as err:
        raise UserError(f"{path}: expected a {what} weights .npz, found unreadable data "
                         f"({err})") from None


def save_npz(arrays: dict[str, np.ndarray], path: str) -> None:
    """Atomic write (temp file in the same folder + rename)."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(suffix=".npz", dir=directory)
    os.close(fd)
    try:
        np.savez(tmp, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def select_present(weights: dict, keys) -> dict[str, np.ndarray]:
    """The entries of `keys` that exist (missing ones are reported by `select`)."""
    return {k: weights[k] for k in keys if k in weights}


def select(weights: dict, shapes: dict[str, tuple], path: str) -> dict[str, np.ndarray]:
    """{key: float32 array} for every key of `shapes`; a missing key or wrong shape is an error."""
    out = {}
    for key, shape in shapes.items():
        if key not in weights:
            raise UserError(f"{path}: {key}: expected an array of shape {shape}, found none")
        value = np.asarray(weights[key])
        if tuple(value.shape) != tuple(shape):
            raise UserError(f"{path}: {key}: expected shape {tuple(shape)}, "
                             f"found {tuple(value.shape)}")
        out[key] = value.astype(np.float32)
    return out
