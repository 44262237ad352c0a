"""Syntax errors in the user's words: why the parser refused a token, and how to fix it.

When the parser cannot use a token, :func:`explain` turns lark's terms (terminal names, an
expected-terminal set, a parser state) into a :class:`~rldsl.lang.diagnostics.Diagnostic`: the
most specific explanation that fits (an unclosed or mismatched bracket, a bare `->`, malformed
bounds, a common mistake recognised from examples, a reserved word used as a name, a missing
comma), else a generic "expected ..., found ..." with the shape of the declaration being read.

The explanations read where the parse stands through :class:`ParsePosition`, which the parse
loop of :mod:`rldsl.lang.recovery` offers: the open brackets, the declaration keyword, the last
token accepted and the interactive parser.

Common mistakes are recognised with lark's ``UnexpectedInput.match_examples``, which compares
the state the parser failed in (the interactive parser's ``parser_state``, handed to lark as it
is) with the states the texts of :data:`_EXAMPLES` fail in, with ``==``: the same stack depth and
position.

>>> from rldsl.lang.grammar import load_grammar
>>> grammar = load_grammar()
>>> expected_words({grammar.name(","), grammar.name(")")}, grammar)
"',' or ')'"
>>> expected_words({"NAME", "NUMBER", "STRING", grammar.name("("), grammar.name("[")}, grammar)
'an expression'
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from lark import Token
from lark.exceptions import UnexpectedInput, UnexpectedToken

from rldsl.lang.diagnostics import Diagnostic, Label, Suggestion
from rldsl.lang.grammar import CLOSERS, DECLARATION_TERMINALS, OPENERS, Grammar, Interactive, token_span
from rldsl.lang.source import SourceFile, Span
from rldsl.lang.spec_types import CALL_TYPES

__all__ = ["ParsePosition", "describe_token", "expected_words", "explain", "token_kind"]


class ParsePosition(Protocol):
    """Where a parse stands when a token is refused: what the explanations read."""

    grammar: Grammar
    source: SourceFile
    brackets: list[tuple[Token, bool]]  # the open brackets, innermost last; True for the `[` of bounds
    decl: Token | None  # the keyword of the declaration being read
    last: Token | None  # the last token the parser accepted
    interactive: Interactive  # the parser (its state is handed to lark's match_examples)

    def starts_declaration(self, token: Token) -> bool:
        """Whether ``token`` is a declaration keyword that starts the next declaration."""
        ...


# ---------------------------------------------------------------------------------------------
# Tokens and expected-token sets in words

_KINDS = {"NAME": "identifier", "NUMBER": "number", "STRING": "string"}

# The order in which literal tokens are listed in "expected ..." messages.
_LITERAL_ORDER = [":", "=", ",", ")", "]", "}", "->", ">>", "(", "[", "{", "in"]


def token_kind(token: Token) -> str:
    """What a token is, in words: ``identifier``, ``keyword `key```, ``end of file``, ``)``."""
    if token.type == "$END":
        return "end of file"
    if token.type in _KINDS:
        return _KINDS[token.type]
    text = str(token)
    return f"keyword `{text}`" if text.isalpha() else f"`{_clip(text)}`"


def describe_token(token: Token) -> str:
    """A token as the user sees it: ``identifier `num_cells```, ``end of file``, ``)``."""
    kind = token_kind(token)
    return f"{kind} `{_clip(str(token))}`" if token.type in _KINDS else kind


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} or {items[1]}"
    return "one of " + ", ".join(items[:-1]) + " or " + items[-1]


def expected_words(expected: Iterable[str], grammar: Grammar) -> str:
    """An expected-terminal set in words: ``one of ',', ')' or an operator``."""
    names = set(expected)
    name = grammar.name
    groups: list[str] = []
    if len(names) > 1:
        names.discard(name("."))
    literal_starts = ("(", "[", "-", "+", "true", "false", "none", "inf")
    expression_starts = {"NAME", "NUMBER", "STRING", *(name(w) for w in literal_starts)}
    if "NAME" in names:
        names -= DECLARATION_TERMINALS  # where a name may come, declaration keywords only name arguments
    if {"NAME", "NUMBER", name("(")} <= names:
        names -= expression_starts
        groups.append("an expression")
    if DECLARATION_TERMINALS <= names:
        names -= DECLARATION_TERMINALS
        groups.append("a new declaration")
    operators = {name(op) for op in ("+", "-", "*", "/", "//", "%")}
    if operators <= names:
        names -= operators | {name(">>")}
        groups.insert(0, "an operator")
    spec_starts = {name(spec_type.name) for spec_type in CALL_TYPES}
    if spec_starts <= names:
        names -= spec_starts | {name("{"), "NAME"}
        groups.insert(0, "a spec")
    words = {"NAME": "identifier", "NUMBER": "number", "STRING": "string", "$END": "end of file"}
    literals = [grammar.literal[n] for n in names if n in grammar.literal]
    literals.sort(key=lambda v: (_LITERAL_ORDER.index(v) if v in _LITERAL_ORDER else len(_LITERAL_ORDER), v))
    items = [f"'{v}'" for v in literals]
    items += [words[n] for n in ("NAME", "NUMBER", "STRING") if n in names]
    items += groups
    if "$END" in names:
        items.append(words["$END"])
    return _join(items) if items else "something else"


#: How each declaration reads, shown as help when one is malformed (None: outside any).
TEMPLATES = {
    None: "a `.rlm` file is a list of declarations, each starting with `key`, `dim`, `env`, "
    "`module`, `actor`, `value`, `explore` or `include`",
    "key": "a key declaration reads `key NAME : SPEC`, as in `key action : f32[1] in [-2.0, 2.0]`",
    "dim": "a dim declaration reads `dim NAME = SIZE`, as in `dim n_agents = 3`",
    "env": 'an env declaration reads `env NAME = gym("ENV-ID")`, as in `env pendulum = gym("Pendulum-v1")`',
    "include": 'an include reads `include "PATH"`, with a path relative to this file',
    "module": "a module declaration reads `module NAME = NETWORK : INPUTS -> OUTPUTS`, as in "
    "`module body = MLP(out_features=2) : observation -> hidden`",
    "actor": "an actor declaration reads `actor NAME = ACTOR(...)`, as in "
    "`actor policy = ProbabilisticActor(body, in=[loc, scale], out=[action], dist=TanhNormal())`",
    "value": "a value declaration reads `value NAME = OPERATOR(...)`, as in "
    "`value critic = ValueOperator(MLP(out_features=1), in=[observation])`",
    "explore": "an explore declaration reads `explore NAME = MODULE(...)`, as in "
    "`explore noisy = EGreedyModule(policy, spec=action)`",
}

# ---------------------------------------------------------------------------------------------
# Common mistakes, recognised from examples

# Common mistakes, recognised with lark's `match_examples`: each label lists texts that fail in
# the parser state the mistake leaves behind. lark prefers an example failing on the same token,
# then on the same kind of token, then any example failing in the same state, so the general
# label of a state comes first. Every text is also tried after a first declaration, since lark
# compares parser stack depths.
_EXAMPLES: dict[str, list[str]] = {
    "key-colon": [
        "key observation f32[3]",
        "key observation onehot(4)",
        "key observation { a: f32[1] }",
        "key observation pendulum.observation",
    ],
    "key-equals": ["key observation = f32[3]"],
    "spec-dtype": ["key observation : [3]"],
    "decl-equals": ["module body MLP()", "dim n 3", "env e gym('x')"],
    "decl-colon": ["module body : MLP()", "dim n : 3", "env e : gym('x')"],
}

# Labels that only fit when the unexpected token is this literal.
_EXAMPLE_TOKENS = {"key-equals": "=", "spec-dtype": "[", "decl-colon": ":"}


def _example_variants() -> dict[str, list[str]]:
    return {label: texts + ["dim first = 1\n" + t for t in texts] for label, texts in _EXAMPLES.items()}


class _ExampleMatcher:
    """Matches errors against :data:`_EXAMPLES` for one grammar, memoising the answers."""

    def __init__(self, grammar: Grammar) -> None:
        self.grammar = grammar
        self.labels: dict[tuple[int, str, str], str | None] = {}

    @functools.cached_property
    def failures(self) -> list[Any]:
        """The parser states the texts of `_EXAMPLES` fail in, one of each kind: lark's
        ``match_examples`` compares states with ``==`` (the same stack depth and position)."""
        failures: list[Any] = []
        for texts in _example_variants().values():
            for text in texts:
                try:
                    self.grammar.lark.parse(text)
                except UnexpectedInput as error:
                    if error.state is not None and error.state not in failures:
                        failures.append(error.state)
        return failures

    def match(self, state: Any, token: Token, expected: set[str]) -> str | None:
        """The label of the example mistake that fails like this error (see `_EXAMPLES`), where
        ``state`` is the failing interactive parser's ``parser_state``.

        lark's `match_examples` re-parses every example, so its answers are memoised per kind of
        failure (:attr:`failures`) and token; names, numbers and strings are matched by kind, not
        by text. A state no example fails in cannot match (examples fail within the first
        tokens of a declaration, so most states are not among them).
        """
        kind = next((index for index, failure in enumerate(self.failures) if failure == state), None)
        if kind is None:
            return None
        text = "" if token.type in _KINDS else str(token)
        memo_key = (kind, token.type, text)
        memo = self.labels
        if memo_key not in memo:
            probe = UnexpectedToken(Token(token.type, text), expected, state=state)
            memo[memo_key] = probe.match_examples(
                self.grammar.lark.parse, _example_variants(), token_type_match_fallback=True, use_accepts=False
            )
        return memo[memo_key]


@functools.cache
def _matcher(grammar: Grammar) -> _ExampleMatcher:
    return _ExampleMatcher(grammar)


# ---------------------------------------------------------------------------------------------
# Explaining an unexpected token


def explain(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic:
    """The diagnostic for an unexpected ``token``: the most specific explanation that fits."""
    for rule in _RULES:
        diagnostic = rule(at, token, expected)
        if diagnostic is not None:
            return diagnostic
    return _generic(at, token, expected)


def _span(at: ParsePosition, token: Token) -> Span:
    return token_span(at.source.name, token)


def _after_last(at: ParsePosition) -> Span:
    """The empty span just after the last accepted token (where something is missing)."""
    if at.last is None:
        return at.source.span(0, 0)
    return _span(at, at.last).at_end()


def _where(at: ParsePosition, token: Token) -> tuple[Span, tuple[Label, ...]]:
    """Primary span of an error at ``token``: the token itself, except at the end of the
    file or at the next declaration, where the missing part goes after the last token."""
    if token.type == "$END":
        return at.source.end_span(), ()
    if at.starts_declaration(token) and at.last is not None:
        return _after_last(at), (Label(_span(at, token), "the next declaration starts here"),)
    return _span(at, token), ()


def _context_help(at: ParsePosition) -> str:
    return TEMPLATES[str(at.decl) if at.decl is not None else None]


def _found(at: ParsePosition, token: Token) -> str:
    if token.type != "$END" and at.starts_declaration(token):
        return "the next declaration"
    return describe_token(token)


def _generic(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic:
    words = expected_words(expected, at.grammar)
    span, labels = _where(at, token)
    if token.type == "$END":
        return Diagnostic(
            "E0102",
            f"unexpected end of file: expected {words}",
            span,
            label="the file ends here",
            help=_context_help(at),
        )
    at_next = at.starts_declaration(token)
    return Diagnostic(
        "E0101",
        f"expected {words}, found {_found(at, token)}",
        span,
        label=f"expected {words}" if at_next else f"unexpected {token_kind(token)}",
        labels=labels,
        help=_context_help(at),
    )


def _unclosed(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    """A bracket still open where the declaration ends: at the end of the file, at the
    next declaration, or at a `:` on a later line (the keys of a module come after its
    definition, so its brackets must be closed by then)."""
    if not at.brackets:
        return None
    opener = at.brackets[-1][0]
    closer = OPENERS[str(opener)]
    if token.type == "$END":
        where, end = "the file ends here", at.source.end_span()
    elif at.starts_declaration(token):
        where, end = "the next declaration starts here", _span(at, token)
    elif token.type == at.grammar.name(":") and token.line > opener.line:
        where, end = f"expected `{closer}` before this", _span(at, token)
    else:
        return None
    return Diagnostic(
        "E0103",
        f"unclosed `{opener}`",
        _span(at, opener),
        label=f"this `{opener}` is never closed",
        labels=(Label(end, where),),
        help=f"add the missing `{closer}`",
        suggestion=Suggestion(_after_last(at), closer),
    )


def _mismatched(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    literal = at.grammar.literal.get(token.type)
    if literal not in CLOSERS:
        return None
    if not at.brackets:
        return Diagnostic(
            "E0113",
            f"unmatched `{literal}`",
            _span(at, token),
            label=f"no `{CLOSERS[literal]}` is open here",
            help="remove it, or add the opening delimiter it was meant to close",
        )
    opener = at.brackets[-1][0]
    if OPENERS[str(opener)] == literal:
        return None
    return Diagnostic(
        "E0113",
        f"mismatched closing delimiter `{literal}`",
        _span(at, token),
        label=f"this does not close `{opener}`",
        labels=(Label(_span(at, opener), f"`{opener}` is still open"),),
        help=f"close `{opener}` with `{OPENERS[str(opener)]}` first",
    )


def _arrow(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    arrow = at.grammar.name("->")
    if token.type == arrow:
        return Diagnostic(
            "E0109",
            "`->` without input keys",
            _span(at, token),
            label="`->` needs the keys the module reads before it",
            help="write the keys after the definition as `: INPUTS -> OUTPUTS`, as in "
            "`module body = MLP(out_features=2) : observation -> hidden`",
        )
    if at.last is not None and at.last.type == arrow:
        span, labels = _where(at, token)
        return Diagnostic(
            "E0109",
            f"`->` without output keys, found {_found(at, token)}",
            span,
            label="expected the keys the module writes",
            labels=labels,
            help="name at least one output key after `->`, as in `: observation -> hidden`",
        )
    return None


def _bounds(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    help_ = (
        "write bounds as `in [LOW, HIGH]`, as in `f32[2] in [-1.0, 1.0]` "
        "or per element `f32[2] in [[-1, 0], [1, 2]]`"
    )
    if at.last is not None and at.last.type == "IN":
        return Diagnostic(
            "E0111",
            f"bounds are written in brackets, found {_found(at, token)}",
            _where(at, token)[0],
            label="expected `[LOW, HIGH]`",
            help=help_,
        )
    if not at.brackets or not at.brackets[-1][1]:
        return None
    literal = at.grammar.literal.get(token.type)
    if literal == ",":
        return Diagnostic(
            "E0111",
            "bounds take exactly two values, `[LOW, HIGH]`",
            _span(at, token),
            label="a third value starts here",
            labels=(Label(_span(at, at.brackets[-1][0]), "bounds start here"),),
            help=help_,
        )
    if literal == "]":
        return Diagnostic(
            "E0111",
            "bounds need a low and a high value, `[LOW, HIGH]`",
            _span(at, token),
            label="only one value before this",
            help=help_,
        )
    return None


def _from_examples(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    if token.type == "$END" or at.starts_declaration(token):
        return None  # something is missing at the end: the generic message says what
    label = _matcher(at.grammar).match(at.interactive.parser_state, token, expected)
    if label is None or _EXAMPLE_TOKENS.get(label, str(token)) != str(token):
        return None
    span = _span(at, token)
    name = str(at.last)
    if label == "key-equals":
        return Diagnostic(
            "E0107",
            "a key's spec follows `:`, not `=`",
            span,
            label="expected `:`",
            help=TEMPLATES["key"],
            suggestion=Suggestion(span, ":"),
        )
    if label == "key-colon":
        return Diagnostic(
            "E0107",
            f"missing `:` between the key `{name}` and its spec",
            span,
            label="expected `:` before the spec",
            help=TEMPLATES["key"],
            suggestion=Suggestion(_after_last(at), " :"),
        )
    if label == "spec-dtype":
        return Diagnostic(
            "E0101",
            "a tensor spec starts with its dtype",
            span,
            label="expected a dtype such as `f32` before the shape",
            help="write the dtype, then the shape: `f32[3]`, `i64[2]`, `bool[4]`",
        )
    keyword = str(at.decl) if at.decl is not None else "declaration"
    if label == "decl-colon":
        return Diagnostic(
            "E0108",
            f"a `{keyword}` declaration binds its name with `=`, not `:`",
            span,
            label="expected `=`",
            help=_context_help(at),
            suggestion=Suggestion(span, "="),
        )
    return Diagnostic(
        "E0108",
        f"missing `=` after `{name}`",
        span,
        label="expected `=` before this",
        help=_context_help(at),
        suggestion=Suggestion(_after_last(at), " ="),
    )


def _reserved(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    if token.type in DECLARATION_TERMINALS and "NAME" in expected and not at.starts_declaration(token):
        word = token
    elif at.last is not None and at.last.type in DECLARATION_TERMINALS and expected == {at.grammar.name("=")}:
        word = at.last  # `Foo(value)`: a reserved word read as a keyword-argument name
    else:
        return None
    return Diagnostic(
        "E0117",
        f"`{word}` is a reserved word and cannot be used as a name",
        _span(at, word),
        label="reserved word",
        help="pick another name; the declaration keywords may only name keyword arguments",
    )


def _missing_comma(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    starts_item = token.type in ("NAME", "NUMBER", "STRING") or at.grammar.literal.get(token.type) in (
        "(", "[", "{", "true", "false", "none", "inf",
    )
    if at.grammar.name(",") not in expected or not starts_item or at.starts_declaration(token):
        return None
    return Diagnostic(
        "E0110",
        f"missing `,` before {describe_token(token)}",
        _span(at, token),
        label="expected `,` before this",
        help="separate arguments, list items and dimensions with `,`",
        suggestion=Suggestion(_after_last(at), ","),
    )


# The explanations, most specific first; the first that fits is given.
def _braces_for_a_dict(at: ParsePosition, token: Token, expected: set[str]) -> Diagnostic | None:
    """`norm_kwargs={momentum: 0.01}` inside a call: Python's dict braces (or torchrl's
    `distribution_kwargs` habit) where the language writes a dict as a call, `dict(name=value)`."""
    if str(token) != "{" or not at.brackets or str(at.brackets[-1][0]) != "(":
        return None
    return Diagnostic(
        "E0101",
        "a dict argument is written `dict(name=value, ...)`, not in braces",
        _span(at, token),
        label="unexpected `{`",
        help="write the entries as keyword arguments of `dict`, as in "
             "`norm_kwargs=dict(momentum=0.01, warmup_steps=100000)`",
    )


_RULES: tuple[Callable[[ParsePosition, Token, set[str]], Diagnostic | None], ...] = (
    _braces_for_a_dict,
    _unclosed,
    _mismatched,
    _arrow,
    _bounds,
    _from_examples,
    _reserved,
    _missing_comma,
)
