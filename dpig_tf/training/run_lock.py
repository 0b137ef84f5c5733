"""One training process per run directory: RUN/train.lock holds the owner's pid and host.

A second process on the same run directory refuses with one clear line. A lock left by a
process that died (kill -9, power loss) on this host is detected (its pid no longer exists)
and taken over; a lock from another host cannot be checked and is reported instead.
The lock is created with its content in one step (link of a complete temp file), so a
reader never sees an empty lock.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import socket
import sys
import time

from dpig_tf.errors import UserError

LOCK_FILE = "train.lock"


class RunLockedError(UserError):
    """Another live training process holds the run directory."""


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


def _read(path: pathlib.Path) -> dict | None:
    try:
        owner = json.loads(path.read_text())
        return owner if isinstance(owner, dict) else None
    except (OSError, json.JSONDecodeError):
        return None


def acquire(run_dir: str | pathlib.Path) -> pathlib.Path:
    """Creates RUN/train.lock for this process; returns its path.

    Raises:
        RunLockedError: a live process (this host) or any process (another host) holds it.
    """
    path = pathlib.Path(run_dir) / LOCK_FILE
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": round(time.time(), 3)}
    tmp = path.with_name(f".{LOCK_FILE}.{me['pid']}")
    tmp.write_text(json.dumps(me) + "\n")
    try:
        for _ in range(3):
            try:
                os.link(tmp, path)  # atomic: fails if a lock exists
                return path
            except FileExistsError:
                pass
            owner = _read(path)
            if owner is None:
                # Unreadable: only a hand-edited file can be like this (see the module doc).
                print(f"warning: {path}: unreadable lock file; taking it over", file=sys.stderr)
            elif owner.get("host") != me["host"]:
                raise RunLockedError(
                    f"expected no other training process, found a lock of pid {owner.get('pid')} "
                    f"on host {owner.get('host')!r} (cannot be checked from here); delete the "
                    f"file if that process is gone", str(path))
            elif owner.get("pid") == me["pid"]:
                return path
            elif _pid_alive(int(owner.get("pid", -1))):
                raise RunLockedError(
                    f"expected no other training process, found pid {owner['pid']} training in "
                    f"this run directory (started {time.ctime(owner.get('started', 0))}); "
                    f"wait for it or use another --run_dir", str(path))
            else:
                print(f"warning: {path}: taking over the stale lock of pid {owner.get('pid')}, "
                      f"which no longer runs", file=sys.stderr)
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
        raise RunLockedError("expected to create the lock file, but another process keeps "
                             "creating it", str(path))
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def check_free(run_dir: str | pathlib.Path) -> None:
    """Raises RunLockedError if a live process holds the lock (cheap: before TF starts)."""
    path = pathlib.Path(run_dir) / LOCK_FILE
    owner = _read(path) if path.is_file() else None
    if owner and owner.get("host") == socket.gethostname() and owner.get("pid") != os.getpid() \
            and _pid_alive(int(owner.get("pid", -1))):
        raise RunLockedError(
            f"expected no other training process, found pid {owner['pid']} training in this "
            f"run directory (started {time.ctime(owner.get('started', 0))}); wait for it or "
            f"use another --run_dir", str(path))


def release(path: pathlib.Path) -> None:
    """Removes the lock if this process still owns it."""
    owner = _read(path)
    if owner and owner.get("pid") == os.getpid() and owner.get("host") == socket.gethostname():
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


@contextlib.contextmanager
def hold(run_dir: str | pathlib.Path, enabled: bool = True):
    """The lock for the duration of the block (`enabled=False`: non-chief workers)."""
    if not enabled:
        yield
        return
    path = acquire(run_dir)
    try:
        yield
    finally:
        release(path)
