"""What ``pip install .`` puts in the image: every local app of INSTALLED_APPS, and nothing else of ours."""

import tomllib
from importlib import import_module
from pathlib import Path

from django.conf import settings
from setuptools import find_namespace_packages, find_packages

from tests.dockerfile import DockerIgnore

ROOT = Path(__file__).resolve().parents[1]


def discovered_packages() -> set[str]:
    """setuptools' discovery with pyproject.toml's own [tool.setuptools.packages.find] table."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    finder = find_namespace_packages if find.get("namespaces", True) else find_packages
    return set(finder(where=str(ROOT), include=find.get("include", ["*"]), exclude=find.get("exclude", [])))


def local_apps() -> set[str]:
    """INSTALLED_APPS whose module lives in this checkout (not Django's, not a dependency's)."""
    apps = set()
    for app in settings.INSTALLED_APPS:
        path = Path(import_module(app.split(".apps.")[0]).__file__ or "").resolve()
        # The checkout's own folders, not the virtualenv that may sit inside it.
        if ROOT in path.parents and "site-packages" not in path.parts:
            apps.add(app.split(".")[0])
    return apps


def test_setuptools_discovers_every_local_app_with_its_subpackages():
    packages = discovered_packages()
    apps = {"zupy", "core", "companies", "customers", "rewards", "coupons", "otp", "webhooks", "demo"}
    assert local_apps() >= apps
    missing = local_apps() - packages
    assert not missing, f"pyproject.toml's package discovery leaves out {missing}"
    for app in local_apps():  # migrations and management commands travel with their app
        for sub in (ROOT / app).rglob("__init__.py"):
            dotted = ".".join(sub.parent.relative_to(ROOT).parts)
            assert dotted in packages, dotted


def test_nothing_but_apps_is_packaged():
    top_level = {name.split(".")[0] for name in discovered_packages()}
    assert top_level == local_apps(), "tests, bench or a stray folder would be installed"


def test_the_build_context_keeps_every_app_and_what_the_build_reads():
    ignore = DockerIgnore((ROOT / ".dockerignore").read_text())
    for needed in ("pyproject.toml", "README.md", "manage.py", "gunicorn.conf.py", *local_apps()):
        assert not ignore.ignored(needed), needed
    for unneeded in (".git", ".venv", "tests", "var", ".env", "zupy/__pycache__", "staticfiles"):
        assert ignore.ignored(unneeded), unneeded
