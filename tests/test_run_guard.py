"""tests/run_guard.py fails a run, under xdist as the suite runs (-n 2), when a collected test did
not run or two share an id: shown on small generated suites run by pytest in a subprocess."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYTEST = str(Path(sys.executable).with_name("pytest"))

CONFTEST = """
import pytest
from tests.run_guard import register


def pytest_configure(config):
    register(config)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makeitem(collector, name, obj):
    # What schemathesis does under pytest 9: a test per operation, all with the function's id.
    if name == "test_each_operation":
        return [
            pytest.Function.from_parent(collector, name=f"{name}[{op}]", originalname=name, callobj=obj)
            for op in ("GET /a/", "GET /b/", "GET /c/")
        ]
"""

SHARED_IDS = """
def test_each_operation():
    pass


def test_other():
    pass
"""

SKIPPED = """
import pytest


def test_runs():
    pass


def test_skipped():
    pytest.skip("needs another database")


@pytest.mark.skipif(True, reason="never here")
def test_skipped_by_mark():
    pass
"""

CLEAN = """
import pytest


@pytest.mark.parametrize("n", [1, 2, 3])
def test_runs(n):
    assert n


def test_other():
    pass
"""


def run_suite(tmp_path: Path, module: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    (tmp_path / "test_generated.py").write_text(module)
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    # Only xdist of the installed plugins: each worker starts in seconds, not with Django and schemathesis.
    env.update(PYTHONPATH=str(ROOT), PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    return subprocess.run(
        [PYTEST, "-p", "xdist.plugin", "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path), *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


XDIST = ("-n", "2", "--dist", "loadfile")


def test_tests_that_share_an_id_fail_the_run_under_xdist(tmp_path):
    result = run_suite(tmp_path, SHARED_IDS, *XDIST)
    assert result.returncode == 1, result.stdout
    assert (
        "run guard: 3 collected tests share the id 'test_generated.py::test_each_operation'" in result.stdout
    )
    assert "run guard: 4 tests collected, 2 ran" in result.stdout  # xdist ran one of the three


@pytest.mark.parametrize("workers", [XDIST, ("-n", "0")], ids=["xdist", "one-process"])
def test_a_skipped_test_fails_the_run(tmp_path, workers):
    result = run_suite(tmp_path, SKIPPED, *workers)
    assert result.returncode == 1, result.stdout
    assert "run guard: 3 tests collected, 1 ran" in result.stdout
    assert "not run: test_generated.py::test_skipped (skipped: needs another database)" in result.stdout
    assert "not run: test_generated.py::test_skipped_by_mark (skipped: never here)" in result.stdout


def test_a_run_that_runs_what_it_collected_passes(tmp_path):
    result = run_suite(tmp_path, CLEAN, *XDIST)
    assert result.returncode == 0, result.stdout
    assert "4 passed" in result.stdout and "run guard" not in result.stdout
