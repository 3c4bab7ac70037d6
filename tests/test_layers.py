"""Where code may reach: read from the source's syntax tree (imports and attribute names as Python
parses them), not by searching its text, so a comment or a string cannot pass or fail it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APPS = ["coupons", "customers", "otp", "rewards", "webhooks", "zupy"]

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
