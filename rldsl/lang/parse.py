"""Parsing: `.rlm` text to an AST, with every syntax error of a file reported in one pass.

The grammar (``grammar/rlm.lark``) is parsed by lark's LALR parser with the contextual lexer.
Tokens are fed to lark's interactive parser one at a time, so that after a syntax error the
parser can recover: the broken declaration is dropped (an :class:`~rldsl.lang.ast.ErrorDecl`
takes its place), input is skipped up to the next declaration keyword at the start of a line,
and parsing goes on. Each error is translated from lark's terms (terminal names, parser states)
into a :class:`~rldsl.lang.diagnostics.Diagnostic` in the user's terms.

Tokens are fed, and what may come next is asked, through lark's public ``InteractiveParser``
(``feed_token``, ``choices``, ``accepts``). Recovery needs three things that API does not offer,
and reads lark's ``ParserState`` and parse table for them: unwinding the parser's stacks to the
start of the broken declaration, the set of parser states that lie between declarations (from
the table's ``Shift`` actions), and a trial parse without tree building whose stack can be read.

The parse tree keeps every token (``keep_all_tokens``) and the AST builder takes each node's
span from its first and last token: the same spans as lark's ``propagate_positions``, at half
the parse time for a large file.

>>> module, diagnostics = parse('key observation : f32[3]\\nkey action f32[1]\\n', "a.rlm")
>>> [type(d).__name__ for d in module.body]
['KeyDecl', 'ErrorDecl']
>>> [(d.code, d.span.line, d.message) for d in diagnostics]
[('E0107', 2, 'missing `:` between the key `action` and its spec')]
"""

from __future__ import annotations

import contextlib
import functools
import gc
import hashlib
import importlib.resources
import os
from collections.abc import Callable, Iterable, Iterator

import lark
from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken
from lark.lexer import LineCounter
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParseConf, ParserState

from rldsl.errors import RldslError
from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Label, Suggestion, sort_diagnostics
from rldsl.lang.source import SourceFile, Span
from rldsl.lang.values import NumberLimitError, read_number, suggest

__all__ = ["parse", "parse_source", "grammar_text", "DECLARATION_KEYWORDS", "MAX_NESTING"]

#: Keywords that start a declaration; reserved everywhere except as keyword-argument names.
DECLARATION_KEYWORDS = ("include", "dim", "env", "key", "module", "actor", "value", "explore")

#: Deepest bracket nesting accepted; expressions may nest about twice as deep in the tree.
MAX_NESTING = 100
_MAX_TREE_DEPTH = 2 * MAX_NESTING

_DECL_TERMINALS = frozenset("KW_" + word.upper() for word in DECLARATION_KEYWORDS)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_CLOSERS = {close: open_ for open_, close in _OPENERS.items()}

# The order in which literal tokens are listed in "expected ..." messages.
_LITERAL_ORDER = [":", "=", ",", ")", "]", "}", "->", ">>", "(", "[", "{", "in"]

# ---------------------------------------------------------------------------------------------
# The grammar and the lark parser, built once per process (and cached on disk by lark)


def grammar_text() -> str:
    """The text of ``rlm.lark``, read from the installed package (checkout or wheel)."""
    return importlib.resources.files("rldsl.grammar").joinpath("rlm.lark").read_text(encoding="utf-8")


class _KeywordsEverywhere:
    """Post-lexer that makes every contextual-lexer state also match names, `->` and the
    declaration keywords: `keys` is then one name (never `key` + `s`), `->` never `-` + `>`, and a
    declaration keyword is recognised wherever it appears, which error recovery relies on."""

    always_accept = ("NAME", "ARROW", *sorted(_DECL_TERMINALS))

    def process(self, stream: Iterable[Token]) -> Iterable[Token]:
        return stream


def _cache_file(text: str) -> str | bool:
    """Where lark caches the analysed grammar: the user's cache folder, else lark's temp file."""
    home = os.path.expanduser("~")
    base = os.environ.get("XDG_CACHE_HOME") or (os.path.join(home, ".cache") if home != "~" else "")
    if not base:
        return True
    folder = os.path.join(base, "rldsl")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return True
    if not os.access(folder, os.W_OK):
        return True
    digest = hashlib.sha256(f"{lark.__version__}\n{text}".encode()).hexdigest()[:16]
    return os.path.join(folder, f"rlm-{digest}.lark-cache")


def build_lark(**options: object) -> Lark:
    """A lark parser for the grammar; ``options`` override the defaults (tests pass strict)."""
    text = grammar_text()
    settings: dict[str, object] = {
        "parser": "lalr",
        "lexer": "contextual",
        "keep_all_tokens": True,
        "maybe_placeholders": True,
        "postlex": _KeywordsEverywhere(),
        "cache": _cache_file(text),
    }
    settings.update(options)
    return Lark(text, **settings)


class _Grammar:
    """The lark parser plus what error reporting needs to know about its tables."""

    def __init__(self, parser: Lark) -> None:
        self.lark = parser
        state = parser.parse_interactive("").parser_state
        self.states = state.parse_conf.states
        # The parse tables without tree building, for trying tokens on scratch copies.
        self.scratch = ParseConf(state.parse_conf.parse_table, {}, state.parse_conf.start)
        self.literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
        self.terminal = {value: name for name, value in self.literal.items()}
        # Tokens the AST builder drops: punctuation and fixed words, all but declaration keywords.
        self.fixed_words = frozenset(self.literal) - _DECL_TERMINALS
        # States between declarations (a declaration keyword shifts and the file may end):
        # recovery unwinds the parser to one of them. In an argument list `key` also shifts,
        # as a keyword-argument name, but the file cannot end there.
        self.declaration_starts = frozenset(
            s
            for s, actions in self.states.items()
            if actions.get("KW_KEY", (None,))[0] is Shift and "$END" in actions
        )
        self.example_labels: dict[tuple[int, int, str, str], str | None] = {}

    def name(self, literal: str) -> str:
        """The terminal name lark gave a literal token, e.g. ``COLON`` for ``:``."""
        return self.terminal[literal]

    @functools.cached_property
    def example_depth(self) -> int:
        """The deepest parser stack at which an example of `_EXAMPLES` fails."""
        depths = [0]
        for texts in _example_variants().values():
            for text in texts:
                try:
                    self.lark.parse(text)
                except UnexpectedInput as error:
                    if isinstance(error.state, ParserState):
                        depths.append(len(error.state.state_stack))
        return max(depths)


@functools.cache
def _grammar() -> _Grammar:
    return _Grammar(build_lark())


# ---------------------------------------------------------------------------------------------
# Turning lark's terms into words


_KINDS = {"NAME": "identifier", "NUMBER": "number", "STRING": "string"}


def _kind(token: Token) -> str:
    """What a token is, in words: ``identifier``, ``keyword `key```, ``end of file``, ``)``."""
    if token.type == "$END":
        return "end of file"
    if token.type in _KINDS:
        return _KINDS[token.type]
    text = str(token)
    return f"keyword `{text}`" if text.isalpha() else f"`{_clip(text)}`"


def _describe(token: Token) -> str:
    """A token as the user sees it: ``identifier `num_cells```, ``end of file``, ``)``."""
    kind = _kind(token)
    return f"{kind} `{_clip(str(token))}`" if token.type in _KINDS else kind


def _clip(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


def _join(items: list[str]) -> str:
    if len(items) == 1:
        return items[0]
    if len(items) == 2:
        return f"{items[0]} or {items[1]}"
    return "one of " + ", ".join(items[:-1]) + " or " + items[-1]


def _expected_words(expected: Iterable[str], grammar: _Grammar) -> str:
    """An expected-terminal set in words: ``one of ',', ')' or an operator``."""
    names = set(expected)
    name = grammar.name
    groups: list[str] = []
    if len(names) > 1:
        names.discard(name("."))
    literal_starts = ("(", "[", "-", "+", "true", "false", "none", "inf")
    expression_starts = {"NAME", "NUMBER", "STRING", *(name(w) for w in literal_starts)}
    if "NAME" in names:
        names -= _DECL_TERMINALS  # where a name may come, declaration keywords only name arguments
    if {"NAME", "NUMBER", name("(")} <= names:
        names -= expression_starts
        groups.append("an expression")
    if _DECL_TERMINALS <= names:
        names -= _DECL_TERMINALS
        groups.append("a new declaration")
    operators = {name(op) for op in ("+", "-", "*", "/", "//", "%")}
    if operators <= names:
        names -= operators | {name(">>")}
        groups.insert(0, "an operator")
    spec_starts = {name(w) for w in ("onehot", "categorical", "binary", "multionehot", "multicategorical")}
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


_TEMPLATES = {
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


# ---------------------------------------------------------------------------------------------
# The parse loop: tokens in, parse tree and syntax diagnostics out


class _Run:
    """One parse of one file: feeds tokens, explains errors, recovers, and goes on."""

    def __init__(self, grammar: _Grammar, source: SourceFile) -> None:
        self.g = grammar
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.broken: list[ast.ErrorDecl] = []
        self.brackets: list[tuple[Token, bool]] = []  # open brackets; True for `in [` bounds
        self.decl: Token | None = None  # keyword of the declaration being read
        self.last: Token | None = None  # last token the parser accepted
        self.prev: Token | None = None  # last token read, accepted or skipped
        self.recovering = False
        self.ip: InteractiveParser  # feeds tokens, says what may come next (lark's public API)
        self.ps: ParserState  # the same parser's state: recovery unwinds its stacks

    # -- driving the parser ----------------------------------------------------------------

    def parse(self) -> Tree:
        """Parse the whole text; the tree holds the declarations that parsed cleanly."""
        interactive = self.g.lark.parse_interactive(self.source.text)
        self.ip = interactive
        self.ps = interactive.parser_state
        thread = interactive.lexer_thread
        tokens = thread.lex(self.ps)
        while True:
            try:
                token = next(tokens)
            except StopIteration:
                break
            except UnexpectedCharacters as exc:
                self._bad_characters(exc.pos_in_stream, thread.state.line_ctr)
                tokens = thread.lex(self.ps)
                continue
            except UnexpectedToken as exc:  # a valid token the current state cannot use
                tokens = thread.lex(self.ps)
                token = exc.token
            self._step(token)
        return self._finish()

    def _step(self, token: Token) -> None:
        if self.recovering:
            if self._starts_declaration(token):
                self.recovering = False
                self._feed(token)
            self.prev = token
            return
        self._feed(token)

    def _feed(self, token: Token) -> None:
        literal = self.g.literal.get(token.type)
        if literal in _OPENERS and len(self.brackets) >= MAX_NESTING:
            self._fail(token, self._too_deep(token))
            return
        if self.brackets and self._starts_declaration(token):
            # A declaration keyword at column 1 starts the next declaration, even though inside
            # brackets it could be read as a keyword-argument name: the brackets were not closed.
            expected = {t for t in self.ip.choices() if t.isupper()}
            self._fail(token, self._explain(token, self._acceptable(expected)))
            return
        try:
            self.ip.feed_token(token)
        except UnexpectedToken as exc:
            self._fail(token, self._explain(token, self._acceptable(exc.expected)))
            return
        if literal in _OPENERS:
            self.brackets.append((token, literal == "[" and self.last is not None and self.last.type == "IN"))
        elif literal in _CLOSERS and self.brackets:
            self.brackets.pop()
        if token.type in _DECL_TERMINALS:
            self.decl = token
        self.last = self.prev = token

    def _finish(self) -> Tree:
        end = self._end_token()
        try:
            return self.ip.feed_token(end)
        except UnexpectedToken as exc:
            self.diagnostics.append(self._explain(end, self._acceptable(exc.expected)))
            self._discard_declaration()
            return self.ip.feed_token(end)

    def _end_token(self) -> Token:
        span = self.source.end_span()
        return Token("$END", "", span.start, span.line, span.column, span.line, span.column, span.start)

    def _trial(self, name: str) -> ParserState | None:
        """A scratch copy of the parser after a token of type ``name``, or None if the parser
        refuses it. The copy builds no trees: lark's reductions may extend the lists of
        existing tree nodes in place, which must happen only on the real parser. (lark's
        ``InteractiveParser.accepts()`` makes such copies too, but does not return them: recovery
        needs the copy's stack, see :meth:`_reduce_finished_declaration`.)"""
        ps = self.ps
        trial = ParserState(self.g.scratch, ps.lexer, list(ps.state_stack), list(ps.value_stack))
        try:
            trial.feed_token(Token(name, ""), name == "$END")
        except UnexpectedToken:
            return None
        return trial

    def _acceptable(self, expected: Iterable[str]) -> set[str]:
        """The tokens of ``expected`` that really can come next. An LALR state lists the
        lookaheads of every context merged into it (after `(x)` it lists `,` even where no `,`
        can follow); lark's ``accepts()`` tries each on a scratch copy of the parser."""
        expected = set(expected)
        return {name for name in self.ip.accepts() if name in expected} or expected

    # -- recovery ----------------------------------------------------------------------------

    def _starts_declaration(self, token: Token) -> bool:
        """A declaration keyword that begins its line; at column 1 when inside brackets or
        while skipping a broken declaration, whose continuation lines may well start with a
        keyword-argument name such as `module=`."""
        if token.type not in _DECL_TERMINALS:
            return False
        if self.prev is not None and token.line <= self.prev.end_line:
            return False
        return token.column == 1 or not (self.brackets or self.recovering)

    def _fail(self, token: Token, diagnostic: Diagnostic) -> None:
        """Report a syntax error at ``token`` and resynchronise on the next declaration."""
        self.diagnostics.append(diagnostic)
        resynchronise = self._starts_declaration(token)
        on_new_line = self.last is not None and token.line > self.last.end_line
        if not (on_new_line and self._reduce_finished_declaration()):
            self._discard_declaration()
        self.brackets.clear()
        self.decl = None
        if resynchronise:
            self._feed(token)
        else:
            self.recovering = True
            self.prev = token

    def _reduce_finished_declaration(self) -> bool:
        """If the declaration before the error is complete, reduce it so that it is kept: the
        parser must accept a next declaration and land between declarations (in an argument
        list `key` is accepted too, as a keyword-argument name, while the declaration goes on)."""
        trial = self._trial("KW_KEY")
        if trial is None or trial.state_stack[-2] not in self.g.declaration_starts:
            return False
        self.ps.feed_token(Token("KW_KEY", "key"))  # the same steps, now building the tree
        self.ps.state_stack.pop()
        self.ps.value_stack.pop()
        return True

    def _discard_declaration(self) -> None:
        """Unwind the parser to the start of the current declaration, recording what it was."""
        ps = self.ps
        popped = []
        while ps.state_stack[-1] not in self.g.declaration_starts:
            ps.state_stack.pop()
            popped.append(ps.value_stack.pop())
        if popped:
            self._record_broken(popped[::-1])

    def _record_broken(self, items: list[Token | Tree]) -> None:
        first = items[0]
        keyword = first.children[0] if isinstance(first, Tree) else first  # `role` wraps its token
        if not isinstance(keyword, Token):
            return
        name = None
        if len(items) > 1 and isinstance(items[1], Token) and items[1].type == "NAME":
            name = ast.Name(str(items[1]), span=_token_span(self.source.name, items[1]))
        end = self.last if self.last is not None else keyword
        span = _token_span(self.source.name, keyword).to(_token_span(self.source.name, end))
        self.broken.append(ast.ErrorDecl(str(keyword), name, span=span))

    # -- lexical errors ----------------------------------------------------------------------

    def _bad_characters(self, pos: int, line_counter: LineCounter) -> None:
        """Report text no token matches (a stray character, an unclosed string) and skip it."""
        text = self.source.text
        if text[pos] in "\"'":
            end = text.find("\n", pos)
            end = len(text) if end < 0 else end
            span = self.source.span(pos, end)
            diagnostic = Diagnostic(
                "E0105",
                "unterminated string",
                span,
                label="this string has no closing quote on its line",
                help=f"close it with `{text[pos]}` before the end of the line",
            )
        else:
            end = pos + 1
            while end < len(text) and not _can_start_token(text[end]):
                end += 1
            span = self.source.span(pos, end)
            shown = text[pos:end]
            diagnostic = Diagnostic(
                "E0104",
                f"invalid character{'s' if end - pos > 1 else ''} {_printable(shown)}",
                span,
                label="not part of the language",
                help="names use ASCII letters, digits and `_`; comments start with `#`",
            )
        line_counter.feed(text[pos:end])
        marker = Token("$BAD", text[pos:end], pos, span.line, span.column, span.end_line, span.end_column, end)
        if self.recovering:
            self.diagnostics.append(diagnostic)
            self.prev = marker
        else:
            self._fail(marker, diagnostic)

    # -- explaining a syntax error -------------------------------------------------------------

    def _explain(self, token: Token, expected: set[str]) -> Diagnostic:
        """The diagnostic for an unexpected ``token``: the most specific explanation that fits."""
        for explain in (
            self._unclosed,
            self._mismatched,
            self._arrow,
            self._bounds,
            self._from_examples,
            self._reserved,
            self._missing_comma,
        ):
            diagnostic = explain(token, expected)
            if diagnostic is not None:
                return diagnostic
        return self._generic(token, expected)

    def _span(self, token: Token) -> Span:
        return _token_span(self.source.name, token)

    def _after_last(self) -> Span:
        """The empty span just after the last accepted token (where something is missing)."""
        if self.last is None:
            return self.source.span(0, 0)
        return self._span(self.last).at_end()

    def _where(self, token: Token) -> tuple[Span, tuple[Label, ...]]:
        """Primary span of an error at ``token``: the token itself, except at the end of the
        file or at the next declaration, where the missing part goes after the last token."""
        if token.type == "$END":
            return self.source.end_span(), ()
        if self._starts_declaration(token) and self.last is not None:
            return self._after_last(), (Label(self._span(token), "the next declaration starts here"),)
        return self._span(token), ()

    def _context_help(self) -> str:
        return _TEMPLATES[str(self.decl) if self.decl is not None else None]

    def _found(self, token: Token) -> str:
        if token.type != "$END" and self._starts_declaration(token):
            return "the next declaration"
        return _describe(token)

    def _generic(self, token: Token, expected: set[str]) -> Diagnostic:
        words = _expected_words(expected, self.g)
        span, labels = self._where(token)
        if token.type == "$END":
            return Diagnostic(
                "E0102",
                f"unexpected end of file: expected {words}",
                span,
                label="the file ends here",
                help=self._context_help(),
            )
        at_next = self._starts_declaration(token)
        return Diagnostic(
            "E0101",
            f"expected {words}, found {self._found(token)}",
            span,
            label=f"expected {words}" if at_next else f"unexpected {_kind(token)}",
            labels=labels,
            help=self._context_help(),
        )

    def _unclosed(self, token: Token, expected: set[str]) -> Diagnostic | None:
        """A bracket still open where the declaration ends: at the end of the file, at the
        next declaration, or at a `:` on a later line (the keys of a module come after its
        definition, so its brackets must be closed by then)."""
        if not self.brackets:
            return None
        opener = self.brackets[-1][0]
        closer = _OPENERS[str(opener)]
        if token.type == "$END":
            where, end = "the file ends here", self.source.end_span()
        elif self._starts_declaration(token):
            where, end = "the next declaration starts here", self._span(token)
        elif token.type == self.g.name(":") and token.line > opener.line:
            where, end = f"expected `{closer}` before this", self._span(token)
        else:
            return None
        return Diagnostic(
            "E0103",
            f"unclosed `{opener}`",
            self._span(opener),
            label=f"this `{opener}` is never closed",
            labels=(Label(end, where),),
            help=f"add the missing `{closer}`",
            suggestion=Suggestion(self._after_last(), closer),
        )

    def _mismatched(self, token: Token, expected: set[str]) -> Diagnostic | None:
        literal = self.g.literal.get(token.type)
        if literal not in _CLOSERS:
            return None
        if not self.brackets:
            return Diagnostic(
                "E0113",
                f"unmatched `{literal}`",
                self._span(token),
                label=f"no `{_CLOSERS[literal]}` is open here",
                help="remove it, or add the opening delimiter it was meant to close",
            )
        opener = self.brackets[-1][0]
        if _OPENERS[str(opener)] == literal:
            return None
        return Diagnostic(
            "E0113",
            f"mismatched closing delimiter `{literal}`",
            self._span(token),
            label=f"this does not close `{opener}`",
            labels=(Label(self._span(opener), f"`{opener}` is still open"),),
            help=f"close `{opener}` with `{_OPENERS[str(opener)]}` first",
        )

    def _arrow(self, token: Token, expected: set[str]) -> Diagnostic | None:
        arrow = self.g.name("->")
        if token.type == arrow:
            return Diagnostic(
                "E0109",
                "`->` without input keys",
                self._span(token),
                label="`->` needs the keys the module reads before it",
                help="write the keys after the definition as `: INPUTS -> OUTPUTS`, as in "
                "`module body = MLP(out_features=2) : observation -> hidden`",
            )
        if self.last is not None and self.last.type == arrow:
            span, labels = self._where(token)
            return Diagnostic(
                "E0109",
                f"`->` without output keys, found {self._found(token)}",
                span,
                label="expected the keys the module writes",
                labels=labels,
                help="name at least one output key after `->`, as in `: observation -> hidden`",
            )
        return None

    def _bounds(self, token: Token, expected: set[str]) -> Diagnostic | None:
        help_ = (
            "write bounds as `in [LOW, HIGH]`, as in `f32[2] in [-1.0, 1.0]` "
            "or per element `f32[2] in [[-1, 0], [1, 2]]`"
        )
        if self.last is not None and self.last.type == "IN":
            return Diagnostic(
                "E0111",
                f"bounds are written in brackets, found {self._found(token)}",
                self._where(token)[0],
                label="expected `[LOW, HIGH]`",
                help=help_,
            )
        if not self.brackets or not self.brackets[-1][1]:
            return None
        literal = self.g.literal.get(token.type)
        if literal == ",":
            return Diagnostic(
                "E0111",
                "bounds take exactly two values, `[LOW, HIGH]`",
                self._span(token),
                label="a third value starts here",
                labels=(Label(self._span(self.brackets[-1][0]), "bounds start here"),),
                help=help_,
            )
        if literal == "]":
            return Diagnostic(
                "E0111",
                "bounds need a low and a high value, `[LOW, HIGH]`",
                self._span(token),
                label="only one value before this",
                help=help_,
            )
        return None

    def _from_examples(self, token: Token, expected: set[str]) -> Diagnostic | None:
        if token.type == "$END" or self._starts_declaration(token):
            return None  # something is missing at the end: the generic message says what
        label = self._match_example(token, expected)
        if label is None or _EXAMPLE_TOKENS.get(label, str(token)) != str(token):
            return None
        span = self._span(token)
        name = str(self.last)
        if label == "key-equals":
            return Diagnostic(
                "E0107",
                "a key's spec follows `:`, not `=`",
                span,
                label="expected `:`",
                help=_TEMPLATES["key"],
                suggestion=Suggestion(span, ":"),
            )
        if label == "key-colon":
            return Diagnostic(
                "E0107",
                f"missing `:` between the key `{name}` and its spec",
                span,
                label="expected `:` before the spec",
                help=_TEMPLATES["key"],
                suggestion=Suggestion(self._after_last(), " :"),
            )
        if label == "spec-dtype":
            return Diagnostic(
                "E0101",
                "a tensor spec starts with its dtype",
                span,
                label="expected a dtype such as `f32` before the shape",
                help="write the dtype, then the shape: `f32[3]`, `i64[2]`, `bool[4]`",
            )
        keyword = str(self.decl) if self.decl is not None else "declaration"
        if label == "decl-colon":
            return Diagnostic(
                "E0108",
                f"a `{keyword}` declaration binds its name with `=`, not `:`",
                span,
                label="expected `=`",
                help=self._context_help(),
                suggestion=Suggestion(span, "="),
            )
        return Diagnostic(
            "E0108",
            f"missing `=` after `{name}`",
            span,
            label="expected `=` before this",
            help=self._context_help(),
            suggestion=Suggestion(self._after_last(), " ="),
        )

    def _match_example(self, token: Token, expected: set[str]) -> str | None:
        """The label of the example mistake that fails like this error (see `_EXAMPLES`).

        lark's `match_examples` re-parses every example, so its answers are memoised per parser
        state and token; names, numbers and strings are matched by kind, not by text. Examples
        fail within the first tokens of a declaration: deeper states cannot match.
        """
        ps = self.ps
        if len(ps.state_stack) > self.g.example_depth:
            return None
        text = "" if token.type in _KINDS else str(token)
        memo_key = (len(ps.state_stack), ps.position, token.type, text)
        memo = self.g.example_labels
        if memo_key not in memo:
            probe = UnexpectedToken(Token(token.type, text), expected, state=ps)
            memo[memo_key] = probe.match_examples(
                self.g.lark.parse, _example_variants(), token_type_match_fallback=True, use_accepts=False
            )
        return memo[memo_key]

    def _reserved(self, token: Token, expected: set[str]) -> Diagnostic | None:
        if token.type in _DECL_TERMINALS and "NAME" in expected and not self._starts_declaration(token):
            word = token
        elif self.last is not None and self.last.type in _DECL_TERMINALS and expected == {self.g.name("=")}:
            word = self.last  # `Foo(value)`: a reserved word read as a keyword-argument name
        else:
            return None
        return Diagnostic(
            "E0117",
            f"`{word}` is a reserved word and cannot be used as a name",
            self._span(word),
            label="reserved word",
            help="pick another name; the declaration keywords may only name keyword arguments",
        )

    def _missing_comma(self, token: Token, expected: set[str]) -> Diagnostic | None:
        starts_item = token.type in ("NAME", "NUMBER", "STRING") or self.g.literal.get(token.type) in (
            "(", "[", "{", "true", "false", "none", "inf",
        )
        if self.g.name(",") not in expected or not starts_item or self._starts_declaration(token):
            return None
        return Diagnostic(
            "E0110",
            f"missing `,` before {_describe(token)}",
            self._span(token),
            label="expected `,` before this",
            help="separate arguments, list items and dimensions with `,`",
            suggestion=Suggestion(self._after_last(), ","),
        )

    def _too_deep(self, token: Token) -> Diagnostic:
        return Diagnostic(
            "E0112",
            f"brackets nested more than {MAX_NESTING} deep",
            self._span(token),
            label="too deep",
            help="flatten the expression, or give its inner parts names",
        )


def _can_start_token(char: str) -> bool:
    return char.isascii() and (char.isalnum() or char in "_ \t\f\r\n#\"'()[]{}:,=+-*/%>.")


def _printable(text: str) -> str:
    """Characters shown in a message, escaped when they would not print."""
    shown = text if len(text) <= 20 else text[:20] + "..."
    if shown.isprintable():
        return f"`{shown}`"
    return "`" + shown.encode("unicode_escape").decode("ascii") + "`"


def _token_span(file: str, token: Token) -> Span:
    return Span(file, token.line, token.column, token.end_line, token.end_column, token.start_pos, token.end_pos)


def _between(file: str, first: Token, last: Token) -> Span:
    """The span from the start of ``first`` to the end of ``last``."""
    return Span(file, first.line, first.column, last.end_line, last.end_column, first.start_pos, last.end_pos)


def _edge_token(tree: Tree, first: bool) -> Token:
    """The first (or last) token of a tree, found without recursion."""
    node: object = tree
    while isinstance(node, Tree):
        children = [c for c in node.children if c is not None]
        node = children[0] if first else children[-1]
    return node  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Parse tree to AST


class _TooDeep(RldslError):
    """Raised inside the builder when a declaration's tree is deeper than the parser accepts."""


_ALIASES = {"float32": "f32", "float": "f32", "float64": "f64", "double": "f64", "float16": "f16",
            "half": "f16", "bfloat16": "bf16", "int8": "i8", "int16": "i16", "int32": "i32",
            "int64": "i64", "int": "i64", "long": "i64", "uint8": "u8", "byte": "u8",
            "boolean": "bool", "bool_": "bool"}  # fmt: skip

_SPEC_KINDS = ("onehot", "categorical", "binary", "multionehot", "multicategorical")
_SPEC_ALIASES = {"onehotdiscrete": "onehot", "discrete": "categorical", "multibinary": "binary",
                 "multidiscrete": "multicategorical", "multionehotdiscrete": "multionehot"}  # fmt: skip
_SPEC_HELP = {
    "unbounded": "an unbounded spec is written with its dtype and shape: `f32[3]`",
    "bounded": "a bounded spec is written `f32[3] in [LOW, HIGH]`",
    "box": "a box is written `f32[3] in [LOW, HIGH]`",
    "composite": "a composite spec is written `{ name: SPEC, ... }`",
}

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPES_HELP = "escapes are `\\\\`, `\\\"`, `\\'`, `\\n`, `\\t` and `\\r`"
_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%"}


class _Builder:
    """Builds AST nodes from the parse tree of one declaration at a time, bottom-up and without
    recursion; problems only visible here (an unknown dtype, a positional argument after a
    keyword one, ...) become diagnostics and turn the declaration into an ErrorDecl.

    The tree keeps every token (lark's ``keep_all_tokens``): a node's span runs from its first
    token to its last, brackets and keywords included. Rule methods get the span and the
    children that carry meaning: values, names, and the declaration keyword or keyword-argument
    name where a rule has one; punctuation and other fixed words are dropped.
    """

    def __init__(self, file: str, diagnostics: list[Diagnostic], grammar: _Grammar) -> None:
        self.file = file
        self.diagnostics = diagnostics
        self.fixed = grammar.fixed_words
        self.rules: dict[str, Callable[[Span, list], object]] = {
            "include": self.include, "dim_decl": self.dim_decl, "env_decl": self.env_decl,
            "key_decl": self.key_decl, "module_decl": self.module_decl, "role": self.role,
            "keyflow": self.keyflow, "keys": self.keys, "tensor_spec": self.tensor_spec,
            "shape": self.shape, "bounds": self.bounds, "onehot_spec": self.onehot_spec,
            "categorical_spec": self.categorical_spec, "binary_spec": self.binary_spec,
            "multionehot_spec": self.multionehot_spec,
            "multicategorical_spec": self.multicategorical_spec,
            "dtype_option": self.dtype_option, "shape_option": self.shape_option,
            "mask_option": self.mask_option, "composite_spec": self.composite_spec,
            "field": self.field, "spec_ref": self.spec_ref, "spec_call": self.spec_call,
            "pipe": self.pipe, "neg": self.neg, "pos": self.pos, "call": self.call,
            "kwarg": self.kwarg, "index": self.index, "ref": self.ref, "number": self.number,
            "string": self.string, "true": self.true, "false": self.false, "none": self.none,
            "inf": self.inf, "list": self.list_, "tuple": self.tuple_, "atom": self.parenthesised,
            **{name: functools.partial(self.binop, op) for name, op in _BINARY.items()},
        }  # fmt: skip

    # -- driver --------------------------------------------------------------------------------

    def declaration(self, tree: Tree) -> ast.Decl:
        """The AST of one declaration, or an ErrorDecl if building it found a problem."""
        before = len(self.diagnostics)
        try:
            node = self._build(tree)
        except _TooDeep:
            node = None
        if len(self.diagnostics) > before or node is None:
            return self._error_decl(tree)
        return node  # type: ignore[return-value]

    def _build(self, tree: Tree) -> object:
        """Post-order over the tree without recursion: first list the nodes parents-first, then
        build them in reverse, keeping for each built value its first and last token (for
        spans) and its depth (to refuse trees too deep for later, recursive passes)."""
        order: list[object] = []
        pending: list[object] = [tree]
        while pending:
            item = pending.pop()
            order.append(item)
            if item.__class__ is Tree:
                pending.extend(item.children)  # type: ignore[attr-defined]
        values: list[object] = []
        firsts: list[Token | None] = []
        lasts: list[Token | None] = []
        depths: list[int] = []
        fixed, rules, file = self.fixed, self.rules, self.file
        for item in reversed(order):
            if item.__class__ is not Tree:  # a token, or None for an absent optional part
                values.append(item)
                firsts.append(item)  # type: ignore[arg-type]
                lasts.append(item)  # type: ignore[arg-type]
                depths.append(0)
                continue
            cut = len(values) - len(item.children)  # type: ignore[attr-defined]
            first = firsts[cut]  # no rule starts with an optional part
            last = lasts[-1]
            if last is None:
                last = next(t for t in reversed(lasts[cut:]) if t is not None)
            depth = 1 + max(depths[cut:])
            args = [v for v in values[cut:] if v.__class__ is not Token or v.type not in fixed]  # type: ignore
            del values[cut:], firsts[cut:], lasts[cut:], depths[cut:]
            span = _between(file, first, last)  # type: ignore[arg-type]
            if depth > _MAX_TREE_DEPTH:
                self.report("E0112", f"expression nested more than {_MAX_TREE_DEPTH} levels deep", span,
                            label="too deep", help="flatten the expression, or give its inner parts names")
                raise _TooDeep
            values.append(rules[item.data](span, args))  # type: ignore[attr-defined]
            firsts.append(first)
            lasts.append(last)
            depths.append(depth)
        return values[0]

    def _error_decl(self, tree: Tree) -> ast.ErrorDecl:
        """What a declaration that failed would have declared: its keyword and name."""
        first, last = _edge_token(tree, first=True), _edge_token(tree, first=False)
        name_token = tree.children[1]
        name = self.name(name_token) if isinstance(name_token, Token) and name_token.type == "NAME" else None
        return ast.ErrorDecl(str(first), name, span=_between(self.file, first, last))

    # -- helpers ---------------------------------------------------------------------------------

    def token_span(self, token: Token) -> Span:
        return _token_span(self.file, token)

    def name(self, token: Token) -> ast.Name:
        return ast.Name(str(token), span=self.token_span(token))

    def report(self, code: str, message: str, span: Span, **details: object) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, **details))  # type: ignore[arg-type]

    def dtype(self, token: Token) -> ast.Dtype:
        text = str(token)
        if text not in ast.DTYPES:
            guess = _ALIASES.get(text.lower()) or suggest(text, ast.DTYPES)
            span = self.token_span(token)
            self.report(
                "E0501",
                f"unknown dtype `{text}`",
                span,
                label="not a dtype",
                help=f"did you mean `{guess}`?" if guess else "dtypes are " + ", ".join(f"`{d}`" for d in ast.DTYPES),
                suggestion=Suggestion(span, guess) if guess else None,
            )
        return ast.Dtype(text, span=self.token_span(token))

    def check_duplicates(self, keywords: Iterable[tuple[str, Span]], what: str) -> None:
        seen: dict[str, Span] = {}
        for name, span in keywords:
            if name in seen:
                self.report(
                    "E0601",
                    f"{what} `{name}` given twice",
                    span,
                    label="given again here",
                    labels=(Label(seen[name], "first given here"),),
                    help="keep one of them",
                )
            else:
                seen[name] = span

    # -- declarations ------------------------------------------------------------------------------

    # Declaration rules get their keyword first: `a[0]` is `include`, `dim`, `key`, ...

    def include(self, span: Span, a: list) -> ast.Include:
        return ast.Include(self.string(self.token_span(a[1]), a[1:]), span=span)

    def dim_decl(self, span: Span, a: list) -> ast.DimDecl:
        return ast.DimDecl(self.name(a[1]), a[2], span=span)

    def env_decl(self, span: Span, a: list) -> ast.EnvDecl:
        env_id = self.string(self.token_span(a[2]), a[2:3])
        kwargs = tuple(a[3:])
        self.check_duplicates(((k.name.value, k.name.span) for k in kwargs), "argument")
        return ast.EnvDecl(self.name(a[1]), env_id, kwargs, span=span)

    def key_decl(self, span: Span, a: list) -> ast.KeyDecl:
        return ast.KeyDecl(self.name(a[1]), a[2], span=span)

    def module_decl(self, span: Span, a: list) -> ast.ModuleDecl:
        return ast.ModuleDecl(ast.Role(str(a[0])), self.name(a[1]), a[2], a[3], span=span)

    def role(self, span: Span, a: list) -> Token:
        return a[0]

    def keyflow(self, span: Span, a: list) -> ast.KeyFlow:
        return ast.KeyFlow(a[0], a[1], span=span)

    def keys(self, span: Span, a: list) -> tuple[ast.Ref, ...]:
        return tuple(a)

    # -- specs ---------------------------------------------------------------------------------------

    def tensor_spec(self, span: Span, a: list) -> ast.UnboundedSpec | ast.BoundedSpec:
        dtype = self.dtype(a[0])
        if a[2] is None:
            return ast.UnboundedSpec(dtype, a[1], span=span)
        low, high = a[2]
        return ast.BoundedSpec(dtype, a[1], low, high, span=span)

    def shape(self, span: Span, a: list) -> ast.Shape:
        return ast.Shape(tuple(x for x in a if x is not None), span=span)

    def bounds(self, span: Span, a: list) -> tuple[ast.Expr, ast.Expr]:
        return a[0], a[1]

    def options(self, a: list) -> dict[str, object]:
        self.check_duplicates(((name, s) for name, _, s in a), "option")
        return {name: value for name, value, _ in a}

    def onehot_spec(self, span: Span, a: list) -> ast.OneHotSpec:
        return ast.OneHotSpec(a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def categorical_spec(self, span: Span, a: list) -> ast.CategoricalSpec:
        return ast.CategoricalSpec(a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def binary_spec(self, span: Span, a: list) -> ast.BinarySpec:
        return ast.BinarySpec(a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def multionehot_spec(self, span: Span, a: list) -> ast.MultiOneHotSpec:
        return ast.MultiOneHotSpec(a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def multicategorical_spec(self, span: Span, a: list) -> ast.MultiCategoricalSpec:
        return ast.MultiCategoricalSpec(a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def dtype_option(self, span: Span, a: list) -> tuple[str, ast.Dtype, Span]:
        return "dtype", self.dtype(a[0]), span

    def shape_option(self, span: Span, a: list) -> tuple[str, ast.Shape, Span]:
        return "shape", a[0], span

    def mask_option(self, span: Span, a: list) -> tuple[str, ast.Expr, Span]:
        return "mask", a[0], span

    def composite_spec(self, span: Span, a: list) -> ast.CompositeSpec:
        fields = tuple(f for f in a[:-1] if f is not None)
        return ast.CompositeSpec(fields, a[-1], span=span)

    def field(self, span: Span, a: list) -> ast.Field:
        return ast.Field(self.name(a[0]), a[1], span=span)

    def spec_ref(self, span: Span, a: list) -> ast.SpecRef:
        ref = a[0]
        if len(ref.path) == 1 and (ref.path[0] in ast.DTYPES or ref.path[0].lower() in _ALIASES):
            dtype = _ALIASES.get(ref.path[0].lower(), ref.path[0])
            self.report(
                "E0116",
                f"`{ref.path[0]}` needs a shape",
                span,
                label="a dtype alone has no shape",
                help=f"write `{dtype}[3]` for a vector of three, or `{dtype}[]` for a scalar",
            )
        return ast.SpecRef(ref, span=span)

    def spec_call(self, span: Span, a: list) -> None:
        text = str(a[0])
        name_span = self.token_span(a[0])
        if text in ast.DTYPES or text.lower() in _ALIASES:
            self.report(
                "E0115",
                "a shape is written in square brackets",
                span,
                label="`(...)` after a dtype",
                help=f"write `{_ALIASES.get(text.lower(), text)}[...]`, as in `f32[3]`",
            )
            return None
        key = text.lower().replace("_", "")
        guess = key if key in _SPEC_KINDS else _SPEC_ALIASES.get(key)
        if guess is None and key not in _SPEC_HELP:
            guess = suggest(key, _SPEC_KINDS)
        help_ = _SPEC_HELP.get(key) or (f"did you mean `{guess}`?" if guess else None)
        self.report(
            "E0502",
            f"unknown spec type `{text}`",
            name_span,
            label="not a spec type",
            help=help_ or "spec types are " + ", ".join(f"`{k}(...)`" for k in _SPEC_KINDS),
            suggestion=Suggestion(name_span, guess) if guess and key not in _SPEC_HELP else None,
        )
        return None

    # -- expressions -----------------------------------------------------------------------------------

    def pipe(self, span: Span, a: list) -> ast.Pipe:
        return ast.Pipe(tuple(a), span=span)

    def binop(self, op: str, span: Span, a: list) -> ast.BinOp:
        return ast.BinOp(op, a[0], a[1], span=span)

    def neg(self, span: Span, a: list) -> ast.Expr:
        if isinstance(a[0], ast.Number):  # `-1` is a number, not an operation
            return ast.Number(-a[0].value, span=span)
        return ast.UnaryOp("-", a[0], span=span)

    def pos(self, span: Span, a: list) -> ast.UnaryOp:
        return ast.UnaryOp("+", a[0], span=span)

    def call(self, span: Span, a: list) -> ast.Call:
        args: list[ast.Expr] = []
        kwargs: list[ast.Keyword] = []
        for item in a[1:]:
            if item is None:
                continue
            if isinstance(item, ast.Keyword):
                kwargs.append(item)
            elif kwargs:
                self.report(
                    "E0106",
                    "positional argument after a keyword argument",
                    item.span,
                    label="positional argument",
                    labels=(Label(kwargs[0].span, "keyword arguments start here"),),
                    help="move it before the keyword arguments, or give it a name",
                )
            else:
                args.append(item)
        self.check_duplicates(((k.name.value, k.name.span) for k in kwargs), "argument")
        return ast.Call(a[0], tuple(args), tuple(kwargs), span=span)

    def kwarg(self, span: Span, a: list) -> ast.Keyword:
        return ast.Keyword(self.name(a[0]), a[1], span=span)

    def index(self, span: Span, a: list) -> ast.Index:
        return ast.Index(a[0], a[1], span=span)

    def ref(self, span: Span, a: list) -> ast.Ref:
        return ast.Ref(tuple([t.value for t in a]), span=span)

    def number(self, span: Span, a: list) -> ast.Number:
        try:
            value: int | float = read_number(str(a[0]))
        except NumberLimitError as problem:  # out of range (see rldsl.lang.types.MAX_INT)
            self.report(problem.code, problem.message, span, label=problem.label, help=problem.help)
            value = 0
        except ValueError:
            self.report("E0114", "number too long to read", span, label="invalid number",
                        help="write it with fewer digits, or in exponent form such as `1e30`")
            value = 0
        return ast.Number(value, span=span)

    def string(self, span: Span, a: list) -> ast.String:
        raw = str(a[0])
        body = raw[1:-1]
        if "\\" not in body:
            return ast.String(body, span=span)
        out: list[str] = []
        i = 0
        while i < len(body):
            char = body[i]
            if char == "\\":
                escaped = body[i + 1]
                if escaped not in _ESCAPES:
                    at = span.start + 1 + i
                    self.report("E0105", f"unknown escape sequence `\\{escaped}`",
                                Span(self.file, span.line, span.column + 1 + i, span.line,
                                     span.column + 3 + i, at, at + 2),
                                label="unknown escape", help=_ESCAPES_HELP)
                out.append(_ESCAPES.get(escaped, escaped))
                i += 2
            else:
                out.append(char)
                i += 1
        return ast.String("".join(out), span=span)

    def true(self, span: Span, a: list) -> ast.Bool:
        return ast.Bool(True, span=span)

    def false(self, span: Span, a: list) -> ast.Bool:
        return ast.Bool(False, span=span)

    def none(self, span: Span, a: list) -> ast.NoneLit:
        return ast.NoneLit(span=span)

    def inf(self, span: Span, a: list) -> ast.Number:
        return ast.Number(float("inf"), span=span)

    def parenthesised(self, span: Span, a: list) -> ast.Expr:
        return a[0]  # `(x)` is `x`; its span stays the span of `x`

    def list_(self, span: Span, a: list) -> ast.ListExpr:
        return ast.ListExpr(tuple(x for x in a if x is not None), span=span)

    def tuple_(self, span: Span, a: list) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(a), span=span)


# ---------------------------------------------------------------------------------------------
# Entry points


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing allocates many small objects and no reference cycles; pausing the cyclic garbage
    collector meanwhile makes a large file parse about a third faster."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_source(source: SourceFile) -> tuple[ast.Module, list[Diagnostic]]:
    """Parse a :class:`SourceFile`; see :func:`parse`."""
    with _gc_paused():
        run = _Run(_grammar(), source)
        tree = run.parse()
        builder = _Builder(source.name, run.diagnostics, run.g)
        declarations = [builder.declaration(child) for child in tree.children]
    declarations += run.broken
    declarations.sort(key=lambda d: d.span.start)
    module = ast.Module(tuple(declarations), span=source.span(0, len(source.text)))
    return module, sort_diagnostics(run.diagnostics)


def parse(text: str, filename: str = "<input>") -> tuple[ast.Module, list[Diagnostic]]:
    """Parse `.rlm` text into a module and the diagnostics found while parsing.

    Never raises on bad input: every syntax error becomes a diagnostic, and the module keeps
    the declarations that parsed cleanly, with an :class:`~rldsl.lang.ast.ErrorDecl` in place of
    each broken one. Includes are not followed here (see :mod:`rldsl.lang.includes`).

    >>> module, diagnostics = parse("dim n_agents = 3", "a.rlm")
    >>> module.body[0].value.value, diagnostics
    (3, [])
    """
    return parse_source(SourceFile(filename, text))

