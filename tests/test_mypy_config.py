"""mypy's configuration names directories, not files: every module of the project is checked, a new one
without anyone editing a list, and the strict flags follow services and selectors wherever they live."""

import shutil
import subprocess
from pathlib import Path

import pytest
from mypy.config_parser import parse_config_file
from mypy.find_sources import create_source_list
from mypy.options import Options

ROOT = Path(__file__).resolve().parents[1]
# What the configuration leaves out on purpose (pyproject.toml says why).
NOT_CHECKED = ("/migrations/", "tests/e2e/guide_full_example.py")
STRICT_FLAGS = (
    "disallow_untyped_defs", "disallow_incomplete_defs", "disallow_untyped_calls", "disallow_any_generics",
    "disallow_untyped_decorators", "disallow_subclassing_any", "warn_return_any", "strict_equality",
    "extra_checks", "check_untyped_defs",
)  # fmt: skip


def mypy_options(root: Path, monkeypatch: pytest.MonkeyPatch) -> Options:
    """The options ``mypy`` reads from ``root``'s pyproject.toml, run from ``root`` as scripts/test does."""
    monkeypatch.chdir(root)
    options = Options()
    parse_config_file(options, lambda: None, str(root / "pyproject.toml"))
    return options


def checked(root: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    options = mypy_options(root, monkeypatch)
    assert options.files, "pyproject.toml names what mypy checks"
    sources = create_source_list(options.files, options)
    return {str(Path(s.path).resolve().relative_to(root)) for s in sources if s.path}


def test_every_python_file_of_the_project_is_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    expected = {path for path in tracked if not any(part in f"/{path}" for part in NOT_CHECKED)}
    assert {"manage.py", "gunicorn.conf.py", "bench/__main__.py", "tests/conftest.py"} <= expected
    assert expected <= checked(ROOT, monkeypatch)


def test_a_new_app_is_checked_without_editing_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    for name in (
        "__init__.py",
        "services.py",
        "api.py",
        "migrations/__init__.py",
        "migrations/0001_initial.py",
    ):
        (tmp_path / "loyalty" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "loyalty" / name).write_text("")

    assert checked(tmp_path, monkeypatch) == {"loyalty/__init__.py", "loyalty/services.py", "loyalty/api.py"}


@pytest.mark.parametrize("module", ["coupons.services", "loyalty.selectors", "a.b.services"])
def test_services_and_selectors_anywhere_get_the_strict_flags(
    module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = mypy_options(ROOT, monkeypatch).clone_for_module(module)
    assert all(getattr(options, flag) for flag in STRICT_FLAGS)
    assert not options.implicit_reexport


def test_other_modules_are_checked_but_not_strict(monkeypatch: pytest.MonkeyPatch) -> None:
    options = mypy_options(ROOT, monkeypatch)
    app, test = options.clone_for_module("loyalty.api"), options.clone_for_module("tests.loyalty.test_api")
    assert app.disallow_untyped_defs and app.check_untyped_defs and not app.warn_return_any
    # Test functions take fixtures by name and may stay unannotated; their bodies are still checked.
    assert not test.disallow_untyped_defs and test.disallow_incomplete_defs and test.check_untyped_defs
