"""The code registry: well-formed, documented in one generated table, used consistently."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from rldsl.lang.diagnostics import CODE_TABLE, CODES, GROUPS, CodeInfo, Diagnostic, Severity, codes_markdown, explain
from rldsl.lang.source import Span

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "diagnostics.md"
TABLE = ROOT / "rldsl" / "lang" / "codes.py"
SPAN = Span("a.rlm", 1, 1, 1, 2, 0, 1)


def test_docs_table_is_generated_from_the_registry() -> None:
    if os.environ.get("RLDSL_UPDATE_GOLDEN") == "1":
        DOC.write_text(codes_markdown())
    assert DOC.read_text() == codes_markdown(), "regenerate with RLDSL_UPDATE_GOLDEN=1"


def test_every_code_is_in_the_docs_under_its_group() -> None:
    text = DOC.read_text()
    for info in CODE_TABLE:
        heading = GROUPS[info.group]
        section = text[text.index(f"## {heading}") :]
        assert f"| {info.code} | {info.severity.value} | {info.title} |" in section


def test_codes_are_well_formed_sorted_and_explained() -> None:
    for prefix in GROUPS:
        codes = [info.code for info in CODE_TABLE if info.group == prefix]
        assert codes == sorted(codes)
    for info in CODE_TABLE:
        assert info.title and info.explanation.endswith(".")
        assert info.severity is (Severity.WARNING if info.code[0] == "W" else Severity.ERROR)
    with pytest.raises(ValueError):
        CodeInfo("X12", "bad", "bad.")


def test_only_registered_codes_make_diagnostics() -> None:
    with pytest.raises(ValueError):
        Diagnostic("E9999", "unregistered", SPAN)
    assert Diagnostic("W0150", "m", SPAN).severity is Severity.WARNING


def test_codes_used_in_the_code_are_exactly_the_registered_ones() -> None:
    used: set[str] = set()
    for path in (ROOT / "rldsl").rglob("*.py"):
        if path != TABLE:  # the table itself lists every code; every other file is scanned
            used |= set(re.findall(r'"([EW]\d{4})"', path.read_text()))
    assert used == set(CODES)


def test_explain() -> None:
    assert explain("e0151").startswith("E0151 (error): include cycle\n\n")
    with pytest.raises(KeyError):
        explain("E0000")
