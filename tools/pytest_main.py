"""Runs pytest on the test files given as arguments (the main of every Bazel py_test)."""

import os
import sys

import pytest

if __name__ == "__main__":
    # Bazel runs tests in the runfiles tree; the repository root is the workspace directory.
    root = os.path.join(os.environ.get("TEST_SRCDIR", "."), os.environ.get("TEST_WORKSPACE", ""))
    if os.path.isdir(root):
        os.chdir(root)
        sys.path.insert(0, root)
    # --durations: the log of a slow target names its slowest tests.
    sys.exit(pytest.main(["-q", "-p", "no:cacheprovider", "--durations=5", *sys.argv[1:]]))
