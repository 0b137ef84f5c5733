"""Checkpoint restore and save that survive faults: corrupt files, a full disk.

- `restore_latest`: restores the newest checkpoint that reads back; a truncated or corrupt
  newest one is skipped with a `warning:` line on stderr and the previous one is used.
  A checkpoint that reads but does not fit the networks is a ConfigError (a different
  architecture), not corruption.
- `save`: `CheckpointManager.save`, where a full disk (or quota, or file-size limit) is one
  clear error. TensorFlow writes the new files first and updates the `checkpoint` state
  file last, so the previous checkpoint stays the intact latest; the partial files of the
  failed save are removed.
"""

from __future__ import annotations

import pathlib
import sys

import tensorflow as tf

from dpig_tf.config import ConfigError
from dpig_tf.errors import UserError

# Messages of a write that failed for lack of space (ENOSPC, EDQUOT, EFBIG).
_DISK_FULL = ("No space left on device", "Disk quota exceeded", "File too large")
# Read errors that mean "these files are damaged", as opposed to "they do not fit".
_CORRUPT_TYPES = (IndexError, tf.errors.DataLossError, tf.errors.NotFoundError,
                  tf.errors.OutOfRangeError)
_CORRUPT_WORDS = ("sstable", "corrupt", "truncated", "Checksum", "Read less bytes")


class DiskFullError(UserError):
    """A checkpoint or export could not be written: the disk is full."""


def _is_corruption(err: BaseException) -> bool:
    if isinstance(err, _CORRUPT_TYPES):
        return True
    return isinstance(err, tf.errors.OpError) and any(w in str(err) for w in _CORRUPT_WORDS)


def _first_line(err: BaseException) -> str:
    """The readable part of an error: no `{{function_node ...}}` prefix, no `[Op:...]`."""
    text = getattr(err, "message", None) or str(err) or type(err).__name__
    text = text.strip().splitlines()[0]
    if text.startswith("{{function_node") and "}} " in text:
        text = text.split("}} ", 1)[1]
    return text.split(" [Op:", 1)[0][:300]


def restore_latest(checkpoint: tf.train.Checkpoint, directory: str | pathlib.Path) -> str | None:
    """Restores the newest readable checkpoint of `directory`; returns its path (None: none).

    Raises:
        ConfigError: a checkpoint reads but does not match the networks.
        UserError: every checkpoint of the directory is damaged.
    """
    state = tf.train.get_checkpoint_state(str(directory))
    if state is None or not state.model_checkpoint_path:
        return None
    paths = list(state.all_model_checkpoint_paths)
    if state.model_checkpoint_path not in paths:
        paths.append(state.model_checkpoint_path)
    for i, path in enumerate(reversed(paths)):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as err:  # noqa: BLE001 (classified below; the rest re-raised)
            if not _is_corruption(err):
                if isinstance(err, (AssertionError, ValueError, tf.errors.OpError)):
                    raise ConfigError(f"cannot restore {path} into the networks of this "
                                      f"config: {_first_line(err)}") from None
                raise
            older = len(paths) - 1 - i
            fallback = "using the previous one" if older else "no older checkpoint is left"
            print(f"warning: {path}: truncated or corrupt checkpoint ({_first_line(err)}); "
                  f"{fallback}", file=sys.stderr, flush=True)
    raise UserError("expected a readable checkpoint, found only damaged ones; delete the "
                    "folder to train from scratch", str(directory))


def save(manager: tf.train.CheckpointManager, step: int) -> str:
    """`manager.save(checkpoint_number=step)`; a full disk is a DiskFullError."""
    try:
        return manager.save(checkpoint_number=step)
    except (OSError, tf.errors.OpError) as err:
        text = str(err)
        if not any(w in text for w in _DISK_FULL):
            raise
        _remove_partial(manager)
        raise DiskFullError(
            f"expected free space to write the step-{step} checkpoint, found the disk full "
            f"({_first_line(err)}); the last complete checkpoint "
            f"{manager.latest_checkpoint or '(none)'} is intact: free space and rerun the "
            f"same command to resume", manager.directory) from None


def _remove_partial(manager) -> None:
    """Deletes what the failed save left: temp folders and files of no listed checkpoint."""
    import shutil

    kept = {pathlib.Path(p).name for p in manager.checkpoints}
    for path in pathlib.Path(manager.directory).glob("ckpt-*"):
        prefix = path.name.split(".")[0]
        if "_temp" in path.name or prefix not in kept:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
