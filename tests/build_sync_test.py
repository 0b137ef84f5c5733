"""BUILD declares one py_test per test file and a binary per entry point (scripts/update_build.py)."""

import ast
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


def _declared_sizes(build: str) -> dict[str, str]:
    """{test file: size} of every pytest_test in BUILD (a target without a size maps to "")."""
    sizes = {}
    for block in re.findall(r"pytest_test\((.*?)\n\)", build, re.S):
        src = re.search(r'src = "([^"]+)"', block).group(1)
        size = re.search(r'size = "([^"]+)"', block)
        sizes[src] = size.group(1) if size else ""
    return sizes


def test_every_pytest_test_has_a_size_from_the_duration_table_or_the_default():
    update_build = _update_build_module()
    sizes = _declared_sizes((ROOT / "BUILD").read_text())
    durations = update_build.read_durations()
    assert sizes, "BUILD declares no pytest_test"
    for src, size in sizes.items():
        expected = update_build.size_for(durations[src]) if src in durations \
            else update_build.DEFAULT_SIZE
        assert size == expected, f"{src}: size {size!r}, expected {expected!r}"


def test_sizes_leave_headroom_over_the_measured_time():
    update_build = _update_build_module()
    timeouts = dict(update_build.SIZES)
    for src, seconds in update_build.read_durations().items():
        assert timeouts[update_build.size_for(seconds)] >= update_build.HEADROOM * seconds, src
    assert update_build.size_for(1) == "medium" and update_build.size_for(76) == "large"
    assert update_build.size_for(225) == "large" and update_build.size_for(226) == "enormous"
    assert update_build.size_for(None) == update_build.DEFAULT_SIZE == "large"


def test_duration_table_names_only_existing_test_files():
    update_build = _update_build_module()
    stale = set(update_build.read_durations()) - set(update_build.test_files())
    assert not stale, (f"{update_build.DURATIONS} times deleted test files {sorted(stale)}: run "
                       "`python scripts/update_build.py --measure <a test file>` to drop them")


def test_slow_test_files_say_why_in_their_docstring():
    slow_seconds = 120  # measured under `bazel test` on 2 shared cores; most files take < 60 s
    for src, seconds in _update_build_module().read_durations().items():
        if seconds > slow_seconds:
            docstring = ast.get_docstring(ast.parse((ROOT / src).read_text())) or ""
            assert "slow" in docstring.lower(), (
                f"{src} takes {seconds:.0f} s: say in its module docstring why it is slow")


def test_measure_times_passing_files_and_skips_failing_ones(tmp_path):
    passing = tmp_path / "passing_test.py"
    passing.write_text("import time\n\ndef test_sleeps():\n    time.sleep(0.5)\n")
    failing = tmp_path / "failing_test.py"
    failing.write_text("def test_fails():\n    assert 1 == 2\n")
    measured = _update_build_module().measure([str(passing), str(failing)])
    assert list(measured) == [str(passing)] and 0.5 < measured[str(passing)] < 60


def test_from_testlogs_reads_bazels_test_xml(tmp_path):
    update_build = _update_build_module()
    passed, failed = update_build.test_files()[:2]
    # The test.xml Bazel 4 writes for a target whose runner writes none.
    for src, errors, seconds in ((passed, 0, 17), (failed, 1, 9)):
        target = tmp_path / update_build.target_name(src)
        target.mkdir()
        (target / "test.xml").write_text(
            '<?xml version="1.0" encoding="UTF-8"?>\n<testsuites>\n'
            f'  <testsuite name="{target.name}" tests="1" failures="0" errors="{errors}">\n'
            f'    <testcase name="{target.name}" status="run" duration="{seconds}" '
            f'time="{seconds}"></testcase>\n  </testsuite>\n</testsuites>\n')
    assert update_build.from_testlogs(tmp_path) == {passed: 17.0}
