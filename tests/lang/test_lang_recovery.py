"""Error recovery works through lark's public interactive-parser API (rldsl/lang/recovery.py).

The parser is never unwound: a broken declaration is replaced by a copy of the parser taken
right after a declaration keyword, completed with a filler declaration that is taken out of the
tree at the end. These tests pin what that relies on.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lark import Token, Tree
from lark.parse_tree_builder import ChildFilterLALR, ChildFilterLALR_NoPlaceholders

import rldsl
from rldsl.lang import ast as A
from rldsl.lang import recovery
from rldsl.lang.grammar import DECLARATION_TERMINALS, load_grammar
from rldsl.lang.parse import parse

# Names of lark's parser internals, which rldsl does not use (nor name).
_INTERNALS = re.compile(r"lark\.parsers|ParserState|ParseConf|lalr_analysis|state_stack|value_stack")

# Good and broken declarations in turn, with lists (keys after `->`, arguments) that lark extends
# in place while reducing; every broken one must leave the good ones around it intact.
_MIXED = """\
key observation : f32[3]
key broken f32[1]
module body = MLP(out_features=2, num_cells=[64, 64]) >> NormalParamExtractor() : observation -> loc, scale
module bad = MLP(out_features=2 num_cells=[64]) : observation -> a
dim n = 3
  )
key action : f32[1] in [-1.0, 1.0]
actor policy = ProbabilisticActor(body, in=[loc, scale], out=[action]
value critic = ValueOperator(MLP(out_features=1), in=[observation])
env e = gym("Pendulum-v1"
include "other.rlm"
explore noisy = EGreedyModule(policy, spec=action) @
dim m = 2
"""

_TEXTS = [
    _MIXED,
    "key a : f32[3]\nkey b f32[1]\n",
    "key broken f32[1]\nkey a : f32[3]\nkey b f32[1]\ndim n = 1\n",
    "module m = A() : a -> b, c\n  , d\nkey x : f32[2]\nkey y : f32[2] z\n",
    "dim a = 1 dim b = 2\ndim c = 3\n",
    "actor p = X(a, value b)\nactor q = X(value=1)\ninclude 3\ninclude \"x\"\n",
    "key a : f32[3]\nfoo\nkey b : f32[1]\nbar\n",
    "env e = gym(\nkey k : f32[1]\nenv f = gym(\"x\")\nmodule m = X(\nkey=2)\n",
]


def _names(module: A.Module) -> list[tuple[str, str | None]]:
    out = []
    for decl in module.body:
        name = getattr(decl, "name", None)
        out.append((type(decl).__name__, name.value if isinstance(name, A.Name) else None))
    return out


def test_the_parse_uses_no_lark_parser_internals() -> None:
    root = Path(rldsl.__file__).parent
    for path in sorted(root.rglob("*.py")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            assert not _INTERNALS.search(line), f"{path.relative_to(root)}:{number}: {line.strip()}"


def test_a_declaration_keyword_starts_a_declaration_only_outside_arguments() -> None:
    grammar = load_grammar()
    for terminal in DECLARATION_TERMINALS:
        for before in ([], [Token("KW_DIM", "dim"), Token("NAME", "n")]):
            parser = grammar.lark.parse_interactive("")
            for token in [*before, Token(terminal, terminal[3:].lower())]:
                parser.feed_token(token)
            assert grammar.opens_declaration(parser.choices())
        argument = grammar.lark.parse_interactive("")
        for token in ("KW_MODULE", "m"), ("NAME", "m"), ("EQUAL", "="), ("NAME", "X"), ("LPAR", "("):
            argument.feed_token(Token(*token))
        argument.feed_token(Token(terminal, terminal[3:].lower()))  # a keyword-argument name
        assert not grammar.opens_declaration(argument.choices())


@pytest.mark.parametrize("terminal", sorted(DECLARATION_TERMINALS))
def test_every_filler_completes_a_declaration_and_is_taken_out(terminal: str) -> None:
    grammar = load_grammar()
    parser = grammar.lark.parse_interactive("")
    for token in (Token("KW_DIM", "dim"), Token("NAME", "n"), Token(terminal, terminal[3:].lower())):
        parser.feed_token(token)
    for token in recovery._fillers(grammar)[terminal]:
        parser.feed_token(token)
    tree = parser.feed_token(Token("$END", ""))
    assert [recovery._is_filler(child) for child in tree.children] == [False, True]


def test_filler_tokens_are_recognised_by_identity_not_by_text() -> None:
    module, diagnostics = parse('dim _\ninclude ""\nkey _ : _\nmodule _ = _\n', "a.rlm")
    assert diagnostics == []
    assert len(module.body) == 4


def test_declarations_around_broken_ones_are_kept_whole() -> None:
    module, diagnostics = parse(_MIXED, "a.rlm")
    assert _names(module) == [
        ("KeyDecl", "observation"),
        ("ErrorDecl", "broken"),
        ("ModuleDecl", "body"),
        ("ErrorDecl", "bad"),
        ("DimDecl", "n"),
        ("KeyDecl", "action"),
        ("ErrorDecl", "policy"),
        ("ModuleDecl", "critic"),
        ("ErrorDecl", "e"),
        ("Include", None),
        ("ErrorDecl", "noisy"),
        ("DimDecl", "m"),
    ]
    assert [(d.code, d.span.line) for d in diagnostics] == [
        ("E0107", 2), ("E0110", 4), ("E0113", 6), ("E0103", 8), ("E0103", 10), ("E0104", 12),
    ]
    lines = _MIXED.splitlines()
    for index, line in [(0, 0), (2, 2), (5, 6), (7, 8), (9, 10), (11, 12)]:
        alone, _ = parse(lines[line], "a.rlm")
        assert module.body[index] == alone.body[0]  # spans aside, the same declaration


def _not_in_place(original):  # type: ignore[no-untyped-def]
    """lark's reduction callback, made never to extend a child's list in place (as lark could)."""

    def call(self, children):  # type: ignore[no-untyped-def]
        return original(self, [Tree(c.data, list(c.children)) if isinstance(c, Tree) else c for c in children])

    return call


def test_recovery_is_the_same_when_lark_builds_new_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    expected = [parse(text, "a.rlm") for text in _TEXTS]
    recovery._lists_grow_in_place.cache_clear()
    for child_filter in (ChildFilterLALR, ChildFilterLALR_NoPlaceholders):
        monkeypatch.setattr(child_filter, "__call__", _not_in_place(child_filter.__call__))
    try:
        assert not recovery._lists_grow_in_place(load_grammar())
        assert [parse(text, "a.rlm") for text in _TEXTS] == expected
    finally:
        monkeypatch.undo()
        recovery._lists_grow_in_place.cache_clear()
    assert recovery._lists_grow_in_place(load_grammar())
