"""Where code may reach: read from the source's syntax tree (imports and attribute names as Python
parses them), not by searching its text, so a comment or a string cannot pass or fail it."""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.apps import apps

ROOT = Path(__file__).resolve().parents[1]
# The domain apps, each a room of its own; ``core`` is the kit they stand on, ``zupy`` the project
# (settings, urls, wsgi) that wires them together.
APPS = [
    "companies",
    "coupons",
    "customers",
    "demo",
    "integrations",
    "opendelivery",
    "otp",
    "rewards",
    "wallet",
    "webhooks",
]
# The OpenDelivery surface is a second API with its own base views (``opendelivery/views.py``, the
# kit's ``core/views.py`` for that surface) and its own routing table (``opendelivery/urls.py``, the
# standard's paths under /v2, included once by zupy/urls.py).
SURFACE_VIEWS = {"opendelivery/views.py"}
SURFACE_URLS = {"opendelivery/urls.py"}
KIT = "core"
PROJECT = "zupy"

# A view parses, calls one service or selector, and renders: these are query-building names.
QUERY_ATTRIBUTES = {
    "objects",
    "filter",
    "exclude",
    "annotate",
    "aggregate",
    "order_by",
    "select_for_update",
    "first",
    "values_list",
    "get_object_or_404",
}


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, absolute, at any depth of the file (a function's imports too)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def query_names(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = [
        f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and node.attr in QUERY_ATTRIBUTES
    ]
    found += [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.id}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Name) and node.id in QUERY_ATTRIBUTES
    ]
    return found


def string_constants(path: Path) -> Iterator[tuple[int, str]]:
    """Every string literal of ``path`` (f-strings' literal parts too) but its docstrings, which
    are prose: (line, text)."""
    tree = ast.parse(path.read_text(), str(path))
    documented = (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, documented) and node.body and isinstance(node.body[0], ast.Expr)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node.lineno, node.value


def tables_of_other_apps(package: str) -> re.Pattern[str]:
    """Any installed model's table (Django's own apps' too) that ``package`` does not own, as a
    whole word in any case (PostgreSQL folds unquoted names to lower case)."""
    tables = sorted(
        model._meta.db_table
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label != package
    )
    return re.compile(r"\b(" + "|".join(map(re.escape, tables)) + r")\b", re.IGNORECASE)


def project_imports(path: Path) -> set[str]:
    """The top-level project packages (apps, kit, project) that ``path`` imports."""
    packages = {*APPS, KIT, PROJECT}
    return {name.split(".")[0] for name in imported_modules(path)} & packages


@pytest.mark.parametrize("package", [*APPS, KIT])
def test_no_sql_string_names_another_apps_table(package):
    """An app writes only its own tables: another app's rows change through that app's functions
    (stock through rewards/, a customer's lock through customers/), and where a hand-written
    statement reads across apps it takes the names from the models (``core.db.statement``), so no
    string of an app, migrations included, names a table that another app owns."""
    other_tables = tables_of_other_apps(package)
    offending = [
        f"{path.relative_to(ROOT)}:{line} {name}"
        for path in modules(package)
        for line, text in string_constants(path)
        for name in other_tables.findall(text)
    ]
    assert offending == []


def test_the_kit_imports_no_app():
    """core/ is the plumbing every app stands on: it names no app and not the project."""
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(KIT)
        for name in sorted(project_imports(path) - {KIT})
    ]
    assert offending == []


def test_companies_imports_only_the_kit():
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("companies")
        for name in sorted(project_imports(path) - {KIT, "companies"})
    ]
    assert offending == []


@pytest.mark.parametrize("package", [*APPS, KIT, "bench"])
def test_no_app_imports_the_project_package(package):
    """Settings are read through django.conf; zupy/ (settings, urls, wsgi) imports the apps, never the
    other way round."""
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules(package)
        if "migrations" not in path.parts
        for name in sorted(imported_modules(path))
        if name == PROJECT or name.startswith(PROJECT + ".")
    ]
    assert offending == []


def test_the_project_package_is_settings_urls_and_wsgi():
    found = sorted(
        str(path.relative_to(ROOT / PROJECT)) for path in modules(PROJECT) if "migrations" not in path.parts
    )
    assert found == ["__init__.py", "apps.py", "settings.py", "urls.py", "wsgi.py"]


def test_only_the_project_urls_wire_views_to_paths():
    """One place says which view answers which path: zupy/urls.py. Nothing else builds URL patterns."""
    wiring = {"django.urls.path", "django.urls.re_path", "django.urls.include"}
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for package in [*APPS, KIT]
        for path in modules(package)
        if str(path.relative_to(ROOT)) not in SURFACE_URLS
        for name in sorted(imported_modules(path) & wiring)
    ]
    assert offending == []


def test_views_live_in_api_modules():
    """An app's endpoints are its ``api.py``; ``views.py`` is a name only the kit's base views use."""
    assert [
        str(path.relative_to(ROOT))
        for app in APPS
        for path in modules(app)
        if path.name == "views.py" and str(path.relative_to(ROOT)) not in SURFACE_VIEWS
    ] == []


def test_rewards_imports_nothing_from_coupons():
    """The lifecycle (redeem, stock, limits, counts) lives in coupons/, which depends on rewards/;
    the catalog gets its coupon count handed in by the URL conf."""
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("rewards")
        for name in sorted(imported_modules(path))
        if name == "coupons" or name.startswith("coupons.")
    ]
    assert offending == []


def test_customers_checks_otp_through_the_policy_module_only():
    """customers.services calls otp.policy; otp.services (which enrols through customers.services)
    is out of its reach, so neither can import the other in a cycle."""
    offending = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in modules("customers")
        for name in sorted(imported_modules(path))
        if name.startswith("otp.") and not name.startswith(("otp.policy", "otp.errors"))
    ]
    assert offending == []


@pytest.mark.parametrize("app", APPS)
def test_no_view_builds_a_query(app):
    api_modules = [path for path in modules(app) if path.name == "api.py"]
    assert [name for path in api_modules for name in query_names(path)] == []


@pytest.mark.parametrize("app", [app for app in APPS if (ROOT / app / "api.py").exists()])
def test_each_app_that_serves_reads_has_selectors(app):
    assert (ROOT / app / "selectors.py").exists()
