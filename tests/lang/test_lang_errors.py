"""Syntax errors: in the user's words, at the right place, all of them in one run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from rldsl.lang import ast as A
from rldsl.lang.check import check_program
from rldsl.lang.includes import load_program
from rldsl.lang.diagnostics import Diagnostic
from rldsl.lang.parse import DECLARATION_KEYWORDS, build_lark, parse
from rldsl.lang.syntax_errors import _EXAMPLES

ROOT = Path(__file__).resolve().parents[2]
ERROR_EXAMPLES = sorted((ROOT / "examples" / "errors").glob("*.rlm"))

# lark's internal names must never reach a user.
LARK_WORDS = re.compile(r"\b(COLON|RPAR|LPAR|LSQB|RSQB|LBRACE|RBRACE|COMMA|EQUAL|__ANON_\d+|KW_[A-Z]+|"
                        r"NAME|NUMBER|STRING|\$END|Token\(|UnexpectedToken|UnexpectedCharacters)\b")  # fmt: skip


def errors(text: str) -> list[Diagnostic]:
    _, diagnostics = parse(text, "t.rlm")
    return diagnostics


def only(text: str) -> Diagnostic:
    diagnostics = errors(text)
    assert len(diagnostics) == 1, [(d.code, d.message) for d in diagnostics]
    return diagnostics[0]


def words_of(d: Diagnostic) -> str:
    """The prose of a diagnostic, without `quoted` source text or syntax templates."""
    prose = " ".join([d.message, d.label, d.help, *d.notes, *(lab.message for lab in d.labels)])
    return re.sub(r"`[^`]*`", "", prose)


@pytest.mark.parametrize("path", ERROR_EXAMPLES, ids=lambda p: p.name)
def test_error_examples_report_what_their_header_expects(path: Path) -> None:
    text = path.read_text()
    header = text.splitlines()[0]
    assert header.startswith("# expect: ")
    expected = sorted((item.split("@")[0].strip(), int(item.split("@")[1])) for item in header[10:].split(","))
    diagnostics = check_program(load_program(path)).diagnostics  # what `rldsl check` reports
    assert sorted((d.code, d.span.line) for d in diagnostics) == expected
    for d in diagnostics:
        assert not LARK_WORDS.search(words_of(d)), words_of(d)
        assert d.help, d


def test_missing_colon_in_key() -> None:
    d = only("key observation : f32[3]\nkey action f32[1]\n")
    assert d.code == "E0107"
    assert d.message == "missing `:` between the key `action` and its spec"
    assert (d.span.line, d.span.column) == (2, 12)
    assert d.suggestion is not None and d.suggestion.replacement == " :" and d.suggestion.span.is_empty


def test_equals_for_colon_and_colon_for_equals() -> None:
    d = only("key observation = f32[3]")
    assert d.code == "E0107" and "not `=`" in d.message and d.suggestion.replacement == ":"
    d = only("module body : MLP()")
    assert d.code == "E0108" and d.message == "a `module` declaration binds its name with `=`, not `:`"
    d = only("dim n 3")
    assert d.code == "E0108" and d.message == "missing `=` after `n`"


def test_examples_fail_where_their_labels_claim() -> None:
    parser = build_lark(cache=False)
    for label, texts in _EXAMPLES.items():
        for text in texts:
            with pytest.raises(Exception):
                parser.parse(text)
            assert errors(text), (label, text)


def test_expected_tokens_are_written_as_literals() -> None:
    d = only("key x : onehot(4, foo=3)")
    assert d.code == "E0101"
    assert d.message == "expected one of ')', 'dtype', 'mask' or 'shape', found identifier `foo`"
    d = only("key : f32[3]")
    assert d.message == "expected identifier, found `:`"


def test_expected_groups_read_as_words() -> None:
    assert only("foo bar").message == "expected a new declaration or end of file, found identifier `foo`"
    assert only("dim n = ").message == "unexpected end of file: expected an expression"
    assert only("key a :").message == "unexpected end of file: expected a spec"
    assert "an operator" in only("module m = (a >> b)(3)").message


def test_lalr_merged_lookaheads_are_not_offered() -> None:
    # After `(a >> b)` lark's state also lists `,`; no comma can follow here.
    d = only("module m = (a >> b)(3)")
    assert d.code == "E0101" and "','" not in d.message


def test_end_of_file_points_at_the_end() -> None:
    text = "key observation : f32[3]\nkey action :\n\n   # trailing comment\n\n"
    d = only(text)
    assert d.code == "E0102"
    assert (d.span.line, d.span.column, d.span.is_empty) == (4, 22, True)
    assert d.label == "the file ends here"


def test_unclosed_delimiter_points_at_the_opener() -> None:
    d = only("module m = MLP(out_features=2,\n   num_cells=[64, 64]")
    assert d.code == "E0103" and d.message == "unclosed `(`"
    assert (d.span.line, d.span.column) == (1, 15)
    assert [lab.message for lab in d.labels] == ["the file ends here"]
    d = only("module m = MLP(out_features=2\nkey a : f32[1]")
    assert d.code == "E0103" and d.labels[0].message == "the next declaration starts here"
    d = only("module m = MLP(out_features=2\n   : observation -> hidden")
    assert d.code == "E0103" and d.labels[0].message == "expected `)` before this"


def test_mismatched_and_unmatched_closers() -> None:
    d = only("module m = MLP(num_cells=[64, 64))")
    assert d.code == "E0113" and "does not close `[`" in d.label
    assert d.labels[0].span.column == 26
    d = only("key a : f32[3]\n)")
    assert d.code == "E0113" and d.message == "unmatched `)`"


def test_bare_arrow() -> None:
    d = only("module m = MLP() -> hidden")
    assert d.code == "E0109" and d.message == "`->` without input keys"
    d = only("module m = MLP() : -> hidden")
    assert d.code == "E0109"
    d = only("module m = MLP() : observation ->")
    assert d.code == "E0109" and d.message.startswith("`->` without output keys")


def test_arrow_is_one_token_everywhere() -> None:
    # `-` then `>` would be an invalid character; `->` must be read whole in every state.
    assert only("module m = a - b -> c").code == "E0109"


def test_bounds_take_low_and_high() -> None:
    assert only("key a : f32[1] in [0, 1, 2]").message == "bounds take exactly two values, `[LOW, HIGH]`"
    assert only("key a : f32[1] in [0]").code == "E0111"
    assert only("key a : f32[1] in 0, 1").message == "bounds are written in brackets, found number `0`"


def test_missing_comma() -> None:
    d = only("module m = MLP(out_features=2 num_cells=[64, 64])")
    assert d.code == "E0110" and d.message == "missing `,` before identifier `num_cells`"
    assert d.suggestion.replacement == "," and (d.suggestion.span.line, d.suggestion.span.column) == (1, 30)
    assert only("key a : f32[3 4]").code == "E0110"


@pytest.mark.parametrize("word", DECLARATION_KEYWORDS)
def test_reserved_words_cannot_be_names(word: str) -> None:
    d = only(f"key {word} : f32[1]")
    assert d.code == "E0117" and d.message == f"`{word}` is a reserved word and cannot be used as a name"


def test_reserved_word_as_reference() -> None:
    assert only("actor a = Foo(value)").code == "E0117"
    assert only("actor a = Foo(\n    value,\n)").code == "E0117"


def test_lexical_errors() -> None:
    d = only("key a : f32[3] @@")
    assert d.code == "E0104" and d.message == "invalid characters `@@`" and d.span.width == 2
    d = only('env e = gym("Pendulum-v1)')
    assert d.code == "E0105" and d.message == "unterminated string"
    d = only('actor a = A(x="a\\qb")')
    assert d.code == "E0105" and d.message == "unknown escape sequence `\\q`" and d.span.column == 17
    assert only("dim n = 1\u00a0").code == "E0104"


def test_builder_level_errors() -> None:
    assert only("key x : float32[3]").suggestion.replacement == "f32"
    assert only("key x : int[3]").help == "did you mean `i64`?"
    assert only("key x : one_hot(4)").suggestion.replacement == "onehot"
    assert only("key x : Bounded(0, 1)").help == "a bounded spec is written `f32[3] in [LOW, HIGH]`"
    assert only("key x : f32(3)").code == "E0115"
    assert only("key x : f32").code == "E0116"
    d = only("actor a = A(x=1, 2)")
    assert d.code == "E0106" and d.labels[0].message == "keyword arguments start here"
    assert only("actor a = A(x=1, x=2)").code == "E0601"
    assert only("key o : onehot(4, dtype=i64, dtype=bool)").code == "E0601"
    assert only("dim n = " + "9" * 5000).code == "E0114"


def test_nesting_limits() -> None:
    assert only("dim n = " + "(" * 5000 + "1" + ")" * 5000).code == "E0112"
    assert only("dim n = " + "[" * 5000).code == "E0112"
    assert only("dim n = " + "-" * 5000 + "1").code == "E0112"
    assert only("dim n = " + "1 + " * 5000 + "1").code == "E0112"
    module, diagnostics = parse("dim n = " + "(" * 90 + "1" + ")" * 90, "t.rlm")
    assert diagnostics == [] and isinstance(module.body[0], A.DimDecl)


def test_all_errors_of_a_file_in_one_run() -> None:
    text = "\n".join(
        [
            "key observation : f32[3]",  # fine
            "dim n_agents 3",  # E0108
            "key action : f32[1] in [-1, 0, 1]",  # E0111
            "module body = MLP(out_features=2 num_cells=[64]) : observation -> hidden",  # E0110
            "key hidden : f32[2]",  # fine
            "module head = MLP(",  # E0103, runs into the next declaration
            "key reward : f32[1]",  # fine
            "key done : bool[1] $",  # E0104
        ]
    )
    module, diagnostics = parse(text, "t.rlm")
    assert [(d.code, d.span.line) for d in diagnostics] == [
        ("E0108", 2), ("E0111", 3), ("E0110", 4), ("E0103", 6), ("E0104", 8),
    ]  # fmt: skip
    kinds = [(type(d).__name__, getattr(d.name, "value", None)) for d in module.body]
    assert kinds == [
        ("KeyDecl", "observation"), ("ErrorDecl", "n_agents"), ("ErrorDecl", "action"),
        ("ErrorDecl", "body"), ("KeyDecl", "hidden"), ("ErrorDecl", "head"), ("KeyDecl", "reward"),
        ("ErrorDecl", "done"),
    ]  # fmt: skip


def test_error_declaration_records_keyword_name_and_span() -> None:
    text = "key good : f32[1]\nmodule body = MLP(out_features=2 x=3) : observation -> hidden\n"
    module, _ = parse(text, "t.rlm")
    broken = module.body[1]
    assert broken == A.ErrorDecl("module", A.Name("body", span=broken.span), span=broken.span)
    assert text[broken.span.start : broken.span.end] == "module body = MLP(out_features=2"


def test_complete_declaration_before_junk_on_a_new_line_is_kept() -> None:
    module, diagnostics = parse("dim n = 3\n) junk\nkey a : f32[n]\n", "t.rlm")
    assert [d.code for d in diagnostics] == ["E0113"]
    assert [type(d) for d in module.body] == [A.DimDecl, A.KeyDecl]


def test_no_cascade_from_skipped_continuation_lines() -> None:
    text = "actor c = Foo(x=1 y=2,\n    value=3,\n    module=4)\nkey d : f32[1]\n"
    assert [d.code for d in errors(text)] == ["E0110"]


def test_diagnostics_are_sorted_by_position() -> None:
    diagnostics = errors("key a f32[1]\nkey b : float[1]\nkey c = f32[1]\n")
    assert [d.span.line for d in diagnostics] == [1, 2, 3]
