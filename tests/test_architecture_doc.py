"""docs/architecture.md stays true to the tree: every file it names exists, and adding a kind
touches at most four files of ``rldsl/`` (the issue that asked for typed seams set that bound)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "architecture.md").read_text()


def _named_files() -> set[str]:
    """Paths ending in .py or .lark the page names, as written (relative to rldsl/ when they start
    with a subpackage)."""
    return set(re.findall(r"(?<![\w/.])((?:rldsl/|lang/|compiler/|grammar/|tests/)[\w/]*\.(?:py|lark))", DOC))


def _exists(name: str) -> bool:
    return (ROOT / name).exists() or (ROOT / "rldsl" / name).exists()


def test_every_file_the_page_names_exists():
    named = _named_files()
    assert len(named) > 20
    assert [name for name in sorted(named) if not _exists(name)] == []


def test_every_checker_and_compiler_module_is_on_the_page():
    for folder in ("lang", "compiler"):
        for path in (ROOT / "rldsl" / folder).glob("*.py"):
            if path.name != "__init__.py":
                assert path.name in DOC, f"{folder}/{path.name} is not described in docs/architecture.md"


def test_adding_a_kind_touches_at_most_four_package_files():
    section = DOC[DOC.index("## Adding a kind"):]
    steps = re.findall(r"^\d+\. \*\*`(rldsl/[^`]+)`\*\*", section, flags=re.MULTILINE)
    assert steps and len(steps) <= 4, steps
    assert all((ROOT / step).exists() for step in steps)
