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
