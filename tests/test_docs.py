"""The map stays readable: a short README, and no link that a clone or a browser cannot follow."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


def test_readme_is_short():
    assert len((ROOT / "README.md").read_bytes()) <= 12 * 1024


def test_every_link_stays_in_the_repository():
    broken = []
    for page in DOCS:
        for target in LINK.findall(page.read_text()):
            if "://" in target or target.startswith("mailto:"):
                broken.append(f"{page.relative_to(ROOT)}: {target} leaves the repository")
                continue
            resolved = (page.parent / target).resolve()
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target} does not exist in the repository")
    assert broken == []


def _environment_reads(path: Path) -> set[str]:
    """The variable names a settings file reads: ``env.<type>("NAME", ...)``, ``env_bool("NAME", ...)``,
    ``env_schedule("NAME", ...)`` and ``os.environ.get("NAME", ...)``."""
    import ast

    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
            continue
        func = node.func
        reads = (isinstance(func, ast.Name) and func.id.startswith("env_")) or (
            isinstance(func, ast.Attribute)
            and (
                (isinstance(func.value, ast.Name) and func.value.id == "env")
                or (func.attr in ("get", "setdefault") and ast.unparse(func.value) == "os.environ")
            )
        )
        if reads and isinstance(node.args[0].value, str) and node.args[0].value.isupper():
            names.add(node.args[0].value)
    return names


def _configuration_table() -> list[tuple[list[str], str]]:
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `"):
            variables, setting = line.split(" | ")[:2]
            rows.append((re.findall(r"`([A-Z][A-Z0-9_]*)`", variables), setting.strip()))
    return rows


def test_every_environment_variable_is_in_the_configuration_table_with_the_setting_it_sets():
    from django.conf import settings

    rows = _configuration_table()
    documented = {name for variables, _ in rows for name in variables}
    # The serving worker reads its own: gunicorn loads it before Django's settings exist.
    readers = [ROOT / "zupy" / "settings.py", ROOT / "gunicorn.conf.py", ROOT / "core" / "gunicorn_worker.py"]
    read = set().union(*(_environment_reads(path) for path in readers))
    read -= {"DJANGO_SETTINGS_MODULE", "PROMETHEUS_MULTIPROC_DIR"}  # not configuration: set by the code
    assert sorted(read - documented) == [], "read but not in docs/operations.md's table"
    assert sorted(documented - read) == [], "in the table but read nowhere"
    for variables, setting in rows:
        if setting.startswith("the same"):
            named = variables
        elif setting.startswith("gunicorn's"):
            continue
        else:
            named = re.findall(r"`([A-Z][A-Z0-9_]*)(?:\[[^`]*)?`", setting)
        assert named, f"{variables}: the setting column names no setting"
        assert all(hasattr(settings, name) for name in named), f"{variables}: {named} is not a setting"
