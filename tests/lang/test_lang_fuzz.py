"""Fuzzing the front end and the checker: any input gives a module and diagnostics, never an
exception, a hang or a recursion error. Inputs are random text and bytes, the example files with
tokens deleted, duplicated, swapped or inserted, the example files with names and numbers replaced
by others (so that they still parse and the checker's passes run on them), and deeply nested
brackets and operators."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rldsl.lang import ast as A
from rldsl.lang.check import CheckResult, check_text
from rldsl.lang.includes import decode_source
from rldsl.lang.parse import parse
from rldsl.lang.render import render_json, render_text
from rldsl.lang.source import SourceFile, Span

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_TEXTS = [p.read_text() for p in sorted((ROOT / "examples").rglob("*.rlm"))]

# Words, numbers, strings, comments, multi-character operators, then any single character.
TOKEN = re.compile(r'\s+|#[^\n]*|"[^"\n]*"|[A-Za-z_]\w*|\d[\d_.eE]*|->|>>|//|.', re.S)
VOCABULARY = [
    "key", "dim", "env", "module", "actor", "value", "explore", "include", "in", "gym", "onehot",
    "categorical", "binary", "multionehot", "multicategorical", "dtype", "shape", "mask", "true",
    "false", "none", "inf", "f32", "i64", "bool", "x", "MLP", "3", "-1", "2.5", '"s"', "(", ")",
    "[", "]", "{", "}", ":", "=", ",", ".", "->", ">>", "+", "-", "*", "/", "//", "%", "\n", " ",
    "#c\n", "'", '"', "\t", "$",
]  # fmt: skip

# The number of examples comes from the hypothesis profile (tests/conftest.py); the deadline
# turns a hang into a failure.
FUZZ = settings(
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def check(text: str) -> None:
    """Parse and render ``text``; everything the front end returns must be well-formed."""
    module, diagnostics = parse(text, "fuzz.rlm")
    assert isinstance(module, A.Module)
    source = SourceFile("fuzz.rlm", text)
    spans = [d.span for d in diagnostics]
    spans += [label.span for d in diagnostics for label in d.labels]
    spans += [d.suggestion.span for d in diagnostics if d.suggestion is not None]
    for span in spans:
        assert_span_fits(span, source)
    starts = [decl.span.start for decl in module.body]
    assert starts == sorted(starts)
    if not diagnostics:
        assert not any(isinstance(decl, A.ErrorDecl) for decl in module.body)
    for node in A.walk(module):
        assert_span_fits(node.span, source)
    assert module == module and repr(module)  # recursive passes stay within Python's limit
    render_text(diagnostics, {"fuzz.rlm": source}, color=True)
    render_json(diagnostics)
    checked = check_text(text, "fuzz.rlm")
    assert_well_formed(checked, source)


def assert_well_formed(result: CheckResult, source: SourceFile) -> None:
    """The checker's answer: diagnostics with spans in the file and a help line; rendering works."""
    for d in result.diagnostics:
        for span in [d.span, *(label.span for label in d.labels)]:
            if span.file == "fuzz.rlm":
                assert_span_fits(span, source)
        assert d.message and (d.help or d.code.startswith("E01"))
    assert result.checked or any(d.is_error for d in result.diagnostics)
    render_text(result.diagnostics, {"fuzz.rlm": source}, color=True)
    render_json(result.diagnostics)


def assert_span_fits(span: Span, source: SourceFile) -> None:
    assert 0 <= span.start <= span.end <= len(source.text)
    assert source.location(span.start) == (span.line, span.column)
    assert source.location(span.end) == (span.end_line, span.end_column)


@FUZZ
@given(st.text(max_size=400))
def test_random_text(text: str) -> None:
    check(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    source, problem = decode_source(data, "fuzz.rlm")
    if source is None:
        assert problem is not None and problem.code == "E0152"
    else:
        check(source.text)


@FUZZ
@given(st.lists(st.sampled_from(VOCABULARY), max_size=80))
def test_random_token_soup(tokens: list[str]) -> None:
    check(" ".join(tokens))


@st.composite
def mutated_examples(draw: st.DrawFn) -> str:
    """An example file with a few tokens deleted, duplicated, swapped or inserted."""
    tokens = TOKEN.findall(draw(st.sampled_from(EXAMPLE_TEXTS)))
    for _ in range(draw(st.integers(1, 6))):
        if not tokens:
            break
        i = draw(st.integers(0, len(tokens) - 1))
        operation = draw(st.sampled_from(["delete", "duplicate", "swap", "insert"]))
        if operation == "delete":
            del tokens[i]
        elif operation == "duplicate":
            tokens.insert(i, tokens[i])
        elif operation == "swap":
            j = draw(st.integers(0, len(tokens) - 1))
            tokens[i], tokens[j] = tokens[j], tokens[i]
        else:
            tokens.insert(i, draw(st.sampled_from(VOCABULARY)))
    return "".join(tokens)


@FUZZ
@given(mutated_examples())
def test_mutated_examples(text: str) -> None:
    check(text)


NAME = re.compile(r"[A-Za-z_]\w*")
NUMBER = re.compile(r"\d[\d_.eE]*")
EXAMPLE_NAMES = sorted({token for text in EXAMPLE_TEXTS for token in TOKEN.findall(text) if NAME.fullmatch(token)})
NUMBERS = ["0", "1", "2", "3", "4", "7", "64", "0.5", "-1", "1e-4", "10_000"]


@st.composite
def renamed_examples(draw: st.DrawFn) -> str:
    """An example file with some names and numbers replaced by others: it usually still parses,
    so the checker's passes run on a model that is wrong in a new way."""
    tokens = TOKEN.findall(draw(st.sampled_from(EXAMPLE_TEXTS)))
    spots = [i for i, token in enumerate(tokens) if NAME.fullmatch(token) or NUMBER.fullmatch(token)]
    for _ in range(draw(st.integers(1, 4))):
        if not spots:
            break
        i = draw(st.sampled_from(spots))
        pool = NUMBERS if NUMBER.fullmatch(tokens[i]) else EXAMPLE_NAMES
        tokens[i] = draw(st.sampled_from(pool))
    return "".join(tokens)


@FUZZ
@given(renamed_examples())
def test_renamed_examples(text: str) -> None:
    check(text)


@st.composite
def deep_nesting(draw: st.DrawFn) -> str:
    depth = draw(st.integers(1, 6000))
    kind = draw(st.sampled_from(["()", "[]", "{}", "call", "minus", "plus", "pipe", "composite"]))
    closed = draw(st.booleans())
    if kind == "call":
        body = "f(" * depth + "1" + (")" * depth if closed else "")
    elif kind == "minus":
        body = "-" * depth + "1"
    elif kind == "plus":
        body = "1" + " + 1" * depth
    elif kind == "pipe":
        body = " >> ".join(["A()"] * depth)
    elif kind == "composite":
        return "key k : " + "{ a: " * depth + "f32[1]" + (" }" * depth if closed else "")
    else:
        body = kind[0] * depth + "1" + (kind[1] * depth if closed else "")
    return f"dim d = {body}\nkey after : f32[1]\n"


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 25))
@given(deep_nesting())
def test_deep_nesting(text: str) -> None:
    check(text)
