"""The run-directory format version: RUN/format.json, checked before a run is used.

A run directory written by a newer dpig_tf may hold files this version cannot read; using
it is refused with one clear line instead of a failure deep inside a checkpoint restore.
Run directories without the file (written before it existed) are format 1.
"""

from __future__ import annotations

import json
import os
import pathlib

from dpig_tf import checkpoint as names
from dpig_tf.errors import UserError

FORMAT_FILE = "format.json"
FORMAT_VERSION = 1


def write_format(run_dir: str | pathlib.Path) -> None:
    """Records this version's format in `run_dir` (atomically)."""
    path = pathlib.Path(run_dir) / FORMAT_FILE
    tmp = path.with_name(f".{FORMAT_FILE}.tmp{os.getpid()}")
    tmp.write_text(json.dumps({"format_version": FORMAT_VERSION}) + "\n")
    os.replace(tmp, path)


def check_run_dir(run_dir: str | pathlib.Path, field: str = "--run_dir") -> pathlib.Path:
    """A trained run directory (or preset folder) this version can read: known format.

    Cheap (no TensorFlow): commands call it before loading any network.
    """
    path = pathlib.Path(run_dir)
    if not path.exists():
        raise UserError("expected a trained run directory, found nothing there", path, field=field)
    if not path.is_dir():
        raise UserError("expected a run directory, found a file", path, field=field)
    from dpig_tf.pretrained import presets

    if presets.is_preset(path):  # a preset folder stands wherever a run directory does
        presets.read_metadata(path)  # its format version, checked without TensorFlow
        return path
    if not (path / names.CONFIG_FILE).is_file():
        raise UserError(f"expected a dpig_tf run directory (with {names.CONFIG_FILE}), found "
                        f"none", path, field=field)
    version = read_format_version(path)
    if version > FORMAT_VERSION:
        raise UserError(f"format_version: written by a newer dpig_tf (run format {version}); "
                        f"this version reads formats up to {FORMAT_VERSION}: upgrade dpig_tf",
                        path / FORMAT_FILE)
    return path


def read_format_version(run_dir: pathlib.Path) -> int:
    """The run's format version (1 when the run predates format.json)."""
    file = pathlib.Path(run_dir) / FORMAT_FILE
    if not file.is_file():
        return 1
    try:
        version = json.loads(file.read_text())["format_version"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise UserError('expected {"format_version": N}, found unreadable content',
                        file) from None
    if not isinstance(version, int) or version < 1:
        raise UserError(f"format_version: expected an integer >= 1, found {version!r}", file)
    return version
