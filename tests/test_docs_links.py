"""The decision records are indexed and the documents' relative links lead somewhere."""

from __future__ import annotations

import re

import pytest

from tests.conftest import PROJECT_DIR

DOCUMENTS = [PROJECT_DIR / "README.md", *sorted((PROJECT_DIR / "docs").rglob("*.md"))]


def test_every_decision_record_is_in_the_index():
    index = (PROJECT_DIR / "docs" / "adr" / "README.md").read_text()
    records = sorted(p.name for p in (PROJECT_DIR / "docs" / "adr").glob("[0-9][0-9][0-9][0-9]-*.md"))
    assert records and [name for name in records if f"]({name})" not in index] == []


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: str(p.relative_to(PROJECT_DIR)))
def test_relative_links_resolve(document):
    broken = []
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", document.read_text()):
        if "://" in target or target.startswith("mailto:"):
            continue
        if not (document.parent / target).exists():
            broken.append(target)
    assert broken == []
