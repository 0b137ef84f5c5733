"""The command-line wrapper shared by every entry point: quiet start-up, one-line user errors.

Every command (`python -m dpig_tf.main`, `dpig_tf.apps.*`, `dpig_tf.data.*`, `dpig_tf.eval.*`,
`dpig_tf.pose.estimate`, `export/*.py`, `bench/*.py`) runs its `main(argv)` through `run`:

- a user error (`dpig_tf.errors.UserError` and its subclasses, a missing or unreadable file,
  a full disk) prints exactly one line `error: <file>[:<line>][: <field>]: <message>` to
  stderr and exits 2 (`--debug` adds the traceback);
- any other exception is a bug: the traceback is printed and the exit code is 1.

Start-up noise: TensorFlow's C++ runtime writes its start-up lines (oneDNN notice, CPU
features, CUDA probing, `I0000 ...`) through absl *before* its log level is read, so
TF_CPP_MIN_LOG_LEVEL alone does not hide them. A command-line run therefore passes its
stderr through a small filter process, started before TensorFlow is imported (by
`dpig_tf/__init__.py`), that drops those lines and passes everything else unchanged.
`--verbose` turns the filter off and shows TensorFlow's logs. TF_ENABLE_ONEDNN_OPTS is
never touched: it changes the numerics, not just the log.
"""

from __future__ import annotations

import argparse
import atexit
import errno
import logging
import os
import re
import sys
import time
import traceback
from typing import Callable

from dpig_tf.errors import UsageError
from dpig_tf.errors import UserError

VERBOSE_FLAG = "--verbose"
DEBUG_FLAG = "--debug"
EXIT_USER_ERROR = 2
EXIT_BUG = 1

# TensorFlow / absl start-up lines hidden unless --verbose. E-level lines are kept except the
# GPU probing of a CPU-only machine.
_NOISE = re.compile(
    rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] "
    rb"|E\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] .*(?:cuInit|CUDA|cuda|cuDNN|cuFFT|cuBLAS)"
    rb"|WARNING: All log messages before absl::InitializeLog\(\) is called"
    rb"|To enable the following instructions: .*rebuild TensorFlow)")
_NOISY_PYTHON_MODULES = r"(keras|tensorflow|absl|google\.protobuf|tf_keras)(\.|$)"
# OSError numbers that are the user's environment, not a bug.
_USER_OS_ERRORS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM,
                   errno.ENOENT, errno.ENOTDIR, errno.EISDIR, errno.EEXIST)

_quiet = {"done": False}


def flag_given(argv: list[str], flag: str) -> bool:
    """Whether boolean `flag` is on in raw `argv` (read before any flag parser runs)."""
    on = False
    for arg in argv:
        if arg == flag or arg in (f"{flag}=true", f"{flag}=True", f"{flag}=1"):
            on = True
        elif arg in (f"--no{flag[2:]}", f"{flag}=false", f"{flag}=False", f"{flag}=0"):
            on = False
    return on


def started_as_command() -> bool:
    """True when this process is `python -m dpig_tf.X` or `python export|bench/X.py`."""
    args = list(getattr(sys, "orig_argv", []))[1:]
    while args and args[0].startswith("-") and args[0] != "-m":
        args.pop(0)  # interpreter options such as -u, -X dev
    if len(args) >= 2 and args[0] == "-m":
        return args[1] == "dpig_tf" or args[1].startswith("dpig_tf.")
    if args and args[0].endswith(".py"):
        parts = os.path.normpath(os.path.abspath(args[0])).split(os.sep)
        return len(parts) >= 2 and parts[-2] in ("export", "bench")
    return False


def quiet_startup(verbose: bool) -> None:
    """Hides TensorFlow's start-up logs unless `verbose`; call before importing TensorFlow."""
    if _quiet["done"]:
        return
    _quiet["done"] = True
    if verbose:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "0")
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", module=_NOISY_PYTHON_MODULES)
    _filter_stderr()


def quiet_startup_if_command() -> None:
    """`quiet_startup` for a command-line run (`--verbose` read from the raw arguments)."""
    if started_as_command():
        quiet_startup(flag_given(sys.argv[1:], VERBOSE_FLAG))


def _filter_stderr() -> None:
    """Routes file descriptor 2 through a child process that drops `_NOISE` lines.

    A process, not a thread: C++ code may write while holding the GIL, which would block a
    filtering thread forever once the pipe is full.
    """
    if not hasattr(os, "fork"):
        return
    read_fd, write_fd = os.pipe()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the filter: reads until every writer is gone (the command exited or died)
        os.close(write_fd)
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the command, not its log
        with os.fdopen(read_fd, "rb") as source:
            for line in source:
                if not _NOISE.match(line):
                    os.write(2, line)
        os._exit(0)
    os.close(read_fd)
    real_stderr = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    atexit.register(_drain_filter, pid, real_stderr)


def _drain_filter(pid: int, real_stderr: int) -> None:
    # Give the filter EOF, then wait (briefly: a child process may still hold the pipe).
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    os.dup2(real_stderr, 2)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.01)


def user_error_message(err: BaseException) -> str | None:
    """The one-line message of a user error, or None if `err` is a bug."""
    if isinstance(err, UserError):
        message = str(err)
    elif isinstance(err, OSError) and (err.errno in _USER_OS_ERRORS or isinstance(
            err, (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError))):
        reason = err.strerror or str(err)
        if err.errno in (errno.ENOSPC, errno.EDQUOT):
            reason += " (free space or choose another output folder; nothing was half-written)"
        message = f"{err.filename}: {reason}" if err.filename else reason
    else:
        return None
    return "; ".join(part.strip() for part in message.splitlines() if part.strip())


def run(main: Callable[[list[str]], int | None], argv: list[str] | None = None) -> None:
    """Runs `main(argv)` as a command and exits with its code (see the module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # The start-up logs were already hidden when dpig_tf was imported (quiet_startup_if_command).
    try:
        code = main(argv) or 0
    except SystemExit:
        raise
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        code = 130
    except BaseException as err:  # noqa: BLE001 (the one place that decides: user or bug)
        message = user_error_message(err)
        sys.stdout.flush()
        if message is None:
            traceback.print_exc()
            code = EXIT_BUG
        else:
            if flag_given(argv, DEBUG_FLAG):
                traceback.print_exc()
            print(f"error: {message}", file=sys.stderr)
            code = EXIT_USER_ERROR
    sys.stdout.flush()
    sys.stderr.flush()
    sys.exit(code)


class ArgumentParser(argparse.ArgumentParser):
    """argparse with `--verbose`, whose errors are UsageErrors (one line, exit 2 via `run`)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.add_argument(VERBOSE_FLAG, action="store_true",
                          help="show TensorFlow's start-up and runtime logs")

    def error(self, message: str):
        match = re.match(r"argument ([^:]+): (.*)", message, re.S)
        if match:
            raise UsageError(match.group(2), field=match.group(1).split("/")[0])
        raise UsageError(message)
