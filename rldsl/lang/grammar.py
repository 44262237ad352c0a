"""The grammar of a `.rlm` file and the lark parser built from it, once per process.

The grammar text is ``grammar/rlm.lark``, shipped inside the package as ``rldsl.grammar`` (a
checkout links the folder, a wheel copies it), so :func:`grammar_text` reads it the same way from
either. :func:`build_lark` makes lark's LALR parser with the contextual lexer; lark caches the
analysed grammar on disk (:func:`_cache_file`), in the user's cache folder when it can.
:func:`load_grammar` returns the one :class:`Grammar` of the process: the parser plus what error
recovery and error messages need to know about its terminals and tables.

One use of lark's internals lives here (lark's public ``InteractiveParser`` API offers no way
to ask it): :attr:`Grammar.declaration_starts`, the parser states that lie between declarations,
found from the ``Shift`` actions of the parse table. :attr:`Grammar.scratch`, the parse tables
without tree building, is read from lark's ``ParseConf`` for the trial parses of
:mod:`rldsl.lang.recovery`.

>>> grammar = load_grammar()
>>> grammar.literal[grammar.name(":")]
':'
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources
import os
from collections.abc import Iterable

import lark
from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift
from lark.parsers.lalr_parser_state import ParseConf

from rldsl.lang.source import Span

__all__ = [
    "CLOSERS",
    "DECLARATION_KEYWORDS",
    "DECLARATION_TERMINALS",
    "OPENERS",
    "Grammar",
    "build_lark",
    "grammar_text",
    "load_grammar",
    "token_span",
]

#: Keywords that start a declaration; reserved everywhere except as keyword-argument names.
DECLARATION_KEYWORDS = ("include", "dim", "env", "key", "module", "actor", "value", "explore")

#: The terminal names lark gives the declaration keywords (``KW_KEY``, ...).
DECLARATION_TERMINALS = frozenset("KW_" + word.upper() for word in DECLARATION_KEYWORDS)

#: Opening brackets and the bracket that closes each; and the other way round.
OPENERS = {"(": ")", "[": "]", "{": "}"}
CLOSERS = {close: open_ for open_, close in OPENERS.items()}


def grammar_text() -> str:
    """The text of ``rlm.lark``, read from the installed package (checkout or wheel)."""
    return importlib.resources.files("rldsl.grammar").joinpath("rlm.lark").read_text(encoding="utf-8")


class _KeywordsEverywhere:
    """Post-lexer that makes every contextual-lexer state also match names, `->` and the
    declaration keywords: `keys` is then one name (never `key` + `s`), `->` never `-` + `>`, and a
    declaration keyword is recognised wherever it appears, which error recovery relies on."""

    always_accept = ("NAME", "ARROW", *sorted(DECLARATION_TERMINALS))

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


class Grammar:
    """The lark parser plus what error reporting needs to know about its terminals and tables."""

    def __init__(self, parser: Lark) -> None:
        self.lark = parser
        state = parser.parse_interactive("").parser_state
        self.states = state.parse_conf.states
        # The parse tables without tree building, for trying tokens on scratch copies.
        self.scratch = ParseConf(state.parse_conf.parse_table, {}, state.parse_conf.start)
        self.literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
        self.terminal = {value: name for name, value in self.literal.items()}
        # Tokens the AST builder drops: punctuation and fixed words, all but declaration keywords.
        self.fixed_words = frozenset(self.literal) - DECLARATION_TERMINALS
        # States between declarations (a declaration keyword shifts and the file may end):
        # recovery unwinds the parser to one of them. In an argument list `key` also shifts,
        # as a keyword-argument name, but the file cannot end there.
        self.declaration_starts = frozenset(
            s
            for s, actions in self.states.items()
            if actions.get("KW_KEY", (None,))[0] is Shift and "$END" in actions
        )

    def name(self, literal: str) -> str:
        """The terminal name lark gave a literal token, e.g. ``COLON`` for ``:``."""
        return self.terminal[literal]


@functools.cache
def load_grammar() -> Grammar:
    """The grammar of the process, built on first use."""
    return Grammar(build_lark())


def token_span(file: str, token: Token) -> Span:
    """Where a token lies in ``file``."""
    return Span(file, token.line, token.column, token.end_line, token.end_column, token.start_pos, token.end_pos)
