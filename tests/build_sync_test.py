"""BUILD declares one py_test per test file and a binary per entry point (scripts/update_build.py)."""

import importlib.util
import pathlib
import os
import re

import pytest

# Under `bazel test` only this file's runfiles exist, not the whole source tree it checks.
pytestmark = pytest.mark.skipif("TEST_SRCDIR" in os.environ,
                                reason="checks the source tree; run it with pytest")

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _update_build_module():
    spec = importlib.util.spec_from_file_location("update_build", ROOT / "scripts/update_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_build_is_in_sync_with_test_files():
    build = (ROOT / "BUILD").read_text()
    declared = set(re.findall(r'src = "(tests/[^"]+_test\.py)"', build))
    on_disk = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("*_test.py")}
    assert declared == on_disk, (
        f"BUILD is out of date (missing {sorted(on_disk - declared)}, stale "
        f"{sorted(declared - on_disk)}): run `python scripts/update_build.py`")


def test_build_is_exactly_what_the_generator_writes():
    assert (ROOT / "BUILD").read_text() == _update_build_module().render(), (
        "run `python scripts/update_build.py`")


def test_workspace_declares_the_offline_stand_ins():
    workspace = (ROOT / "WORKSPACE").read_text()
    for name in ("rules_cc", "rules_java", "remote_coverage_tools"):
        assert f'name = "{name}"' in workspace
        path = re.search(rf'name = "{name}", path = "([^"]+)"', workspace).group(1)
        assert (ROOT / path / "WORKSPACE").exists()
