"""The shipped examples check clean, and every broken example gives the diagnostics its header
names (``# expect: CODE@line, ...``, checked in tests/lang/test_lang_errors.py) with good messages:
a help line, no Python or lark words, spans inside the file. Every semantic diagnostic code has
at least one broken example."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rldsl.lang.check import check_program
from rldsl.lang.diagnostics import CODES
from rldsl.lang.includes import load_program
from rldsl.lang.render import render_json, render_text

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)
BROKEN = sorted((ROOT / "examples" / "errors").glob("*.rlm"))
SEED_EXAMPLES = {"pendulum_actor.rlm", "pendulum_probabilistic_module.rlm", "pendulum_probabilistic_actor.rlm",
                 "qvalue_actor.rlm", "distributional_qvalue_actor.rlm", "actor_value_operator.rlm"}
# Python's own words leaking into a message would mean an internal error escaped as text.
PYTHON_WORDS = re.compile(r"\b(None|True|False|Traceback|INVALID|Sym\(|KeyRef|NoneType|object at 0x)\b")


def expected_codes(path: Path) -> list[tuple[str, int]]:
    header = path.read_text().splitlines()[0]
    assert header.startswith("# expect: "), path
    return sorted((item.split("@")[0].strip(), int(item.split("@")[1])) for item in header[10:].split(","))


#: Examples that keep a warning on purpose, because torchrl's model does what it warns about.
ACCEPTED_WARNINGS = {
    # torchrl's DDPG explores with OU noise and `safe=False`: the action may leave [-1, 1] (the env clips it)
    "zoo/ddpg_mujoco.rlm": {"W0501"},
}


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_checks_clean(path: Path) -> None:
    result = check_program(load_program(path))
    assert result.checked
    accepted = ACCEPTED_WARNINGS.get(str(path.relative_to(ROOT / "examples")), set())
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics if d.code not in accepted] == []
    assert result.keys


def test_every_seed_example_has_a_model() -> None:
    assert SEED_EXAMPLES <= {p.name for p in EXAMPLES}


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.name)
def test_broken_example_messages_are_good(path: Path) -> None:
    program = load_program(path)
    diagnostics = check_program(program).diagnostics
    assert diagnostics
    text = path.read_text()
    for d in diagnostics:
        assert d.help, d
        prose = " ".join([d.message, d.label, d.help, *(label.message for label in d.labels)])
        assert not PYTHON_WORDS.search(re.sub(r"`[^`]*`", "", prose)), prose
        for span in [d.span, *(label.span for label in d.labels)]:
            assert span.file == str(path) and 0 <= span.start <= span.end <= len(text)
    rendered = render_text(diagnostics, program.sources)
    assert rendered.count("error[") + rendered.count("warning[") == len(diagnostics)
    assert render_json(diagnostics)


def test_every_checker_code_has_a_broken_example() -> None:
    covered = {code for path in BROKEN for code, _ in expected_codes(path)}
    # E0441/E0442 come only from kinds registered in Python (tests/test_register_kind.py covers them)
    wanted = {code for code in CODES if not code.startswith("E01") and code not in ("W0150", "E0441", "E0442")}
    assert wanted - covered == set()


def test_broken_examples_do_not_cascade() -> None:
    # Each broken file reports exactly what its header lists: no follow-on diagnostics.
    for path in BROKEN:
        found = sorted((d.code, d.span.line) for d in check_program(load_program(path)).diagnostics)
        assert found == expected_codes(path), path.name
