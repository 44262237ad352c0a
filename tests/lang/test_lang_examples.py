"""The shipped examples and the code blocks of docs/language.md parse clean."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rldsl.lang.includes import load_program
from rldsl.lang.parse import parse

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)
LANGUAGE_DOC = ROOT / "docs" / "language.md"


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_parses_clean(path: Path) -> None:
    program = load_program(path)
    assert program.diagnostics == ()
    assert program.declarations()


def test_design_examples_are_present() -> None:
    names = {p.name for p in EXAMPLES}
    assert {"pendulum_sac.rlm", "cartpole_dqn.rlm"} <= names


def test_language_reference_code_blocks_parse() -> None:
    blocks = re.findall(r"```rlm\n(.*?)```", LANGUAGE_DOC.read_text(), flags=re.S)
    assert len(blocks) >= 8
    for block in blocks:
        _, diagnostics = parse(block, "language.md")
        assert diagnostics == [], (block, [d.message for d in diagnostics])
