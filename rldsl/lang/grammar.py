"""The grammar of a `.rlm` file and the lark parser built from it, once per process.

The grammar text is ``grammar/rlm.lark``, shipped inside the package as ``rldsl.grammar`` (a
checkout links the folder, a wheel copies it), so :func:`grammar_text` reads it the same way from
either. :func:`build_lark` makes lark's LALR parser with the contextual lexer; lark caches the
analysed grammar on disk (:func:`_cache_file`), in the user's cache folder when it can.
:func:`load_grammar` returns the one :class:`Grammar` of the process: the parser plus what error
recovery and error messages need to know about its terminals and declarations.

Only lark's public API is used: :meth:`Grammar.opens_declaration`, which error recovery asks
after each declaration keyword, compares the parser's ``InteractiveParser.choices()`` with the
choices after a keyword that starts a declaration, found once by feeding each keyword to a
fresh interactive parser (see :mod:`rldsl.lang.recovery`).

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
from typing import Any, Protocol

import lark
from lark import Lark, Token

from rldsl.lang.source import Span

__all__ = [
    "CLOSERS",
    "DECLARATION_KEYWORDS",
    "DECLARATION_TERMINALS",
    "OPENERS",
    "Grammar",
    "Interactive",
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


class Interactive(Protocol):
    """What rldsl uses of the interactive parser ``Lark.parse_interactive`` returns: lark's public
    ``InteractiveParser`` API (lark's top-level package does not export the class itself)."""

    parser_state: Any  # lark's state of the parse: only handed back to lark (its lexer, match_examples)
    lexer_thread: Any  # the lexer, reading the text

    def feed_token(self, token: Token) -> Any:
        """Advance the parser by one token; raise ``UnexpectedToken`` if it cannot take it."""
        ...

    def copy(self, deepcopy_values: bool = True) -> Interactive:
        """A parser that goes on from here on stacks of its own (without ``deepcopy_values``,
        sharing the tree nodes built so far)."""
        ...

    def choices(self) -> dict[str, Any]:
        """The parser's actions in its current state, by token type."""
        ...

    def accepts(self) -> set[str]:
        """The token types that can really come next (tried on copies that build no tree)."""
        ...


class Grammar:
    """The lark parser plus what error reporting needs to know about its terminals and declarations."""

    def __init__(self, parser: Lark) -> None:
        self.lark = parser
        self.literal = {t.name: t.pattern.value for t in parser.terminals if t.pattern.type == "str"}
        self.terminal = {value: name for name, value in self.literal.items()}
        # Tokens the AST builder drops: punctuation and fixed words, all but declaration keywords.
        self.fixed_words = frozenset(self.literal) - DECLARATION_TERMINALS
        # What the parser may read next once a declaration keyword has started a declaration,
        # at the start of the file or after another declaration alike. In an argument list a
        # declaration keyword is a keyword-argument name, and `=` comes next instead.
        self._openings: list[dict[str, Any]] = []
        untouched = parser.parse_interactive("")
        for terminal in sorted(DECLARATION_TERMINALS):
            interactive = untouched.copy(deepcopy_values=False)
            interactive.feed_token(Token(terminal, terminal[3:].lower()))
            self._openings.append(interactive.choices())

    def opens_declaration(self, choices: dict[str, Any]) -> bool:
        """Whether ``choices`` (an interactive parser's ``choices()``, asked right after it
        accepted a declaration keyword) are those of a declaration just started, rather than
        of a keyword-argument name."""
        return choices in self._openings

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
