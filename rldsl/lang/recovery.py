"""The parse loop: tokens in, a parse tree and every syntax error of the file out.

Tokens are fed to lark's interactive parser one at a time, so that after a syntax error the
parser can recover: the broken declaration is dropped (recorded as an
:class:`~rldsl.lang.ast.ErrorDecl`), input is skipped up to the next declaration keyword at the
start of a line, and parsing goes on. A token the parser refuses is explained by
:mod:`rldsl.lang.syntax_errors`; text no token matches (a stray character, an unclosed string) and
brackets nested deeper than :data:`MAX_NESTING` are reported here.

Layout rule: a declaration keyword at column 1 always starts a new declaration, even inside
brackets (where it could be read as a keyword-argument name) or while skipping a broken
declaration; elsewhere a declaration keyword that begins its line does.

Only the public API of lark's interactive parser is used (``Lark.parse_interactive``,
``feed_token``, ``copy``, ``choices``, ``accepts``, its ``lexer_thread``); the parser's stacks
are never read or changed. Recovery works with copies instead:

* Right after a declaration keyword starts a declaration other than the first (asked with
  :meth:`~rldsl.lang.grammar.Grammar.opens_declaration`), the parser is copied with
  ``copy(deepcopy_values=False)``: the *anchor*. Its stack then holds only the list of the
  declarations before and the keyword, so the copy takes constant time, whatever the file.
* When a declaration breaks, the parser is replaced by a copy of the anchor, whose keyword is
  completed with a filler declaration (:func:`_fillers`: ``key _ : _``, ``dim _``, ...). That
  puts it between two declarations: the next declaration keyword, or the end of the file, adds
  the filler to the list of declarations, and :meth:`RecoveringParse.parse` takes the fillers
  out of the tree. A broken first declaration goes back to a copy of the parser taken before
  any token instead. Either way, once the next declaration keyword is read (nothing else is fed
  to the parser meanwhile), its stack is what it would be had the file never held the broken
  declaration, so later errors are explained the same.
* Whether the declaration before an error on a new line is complete is asked by feeding the
  parser a `key` keyword: if that starts a declaration, the one before is complete and kept, and
  a filler completes the `key`; if not, the parser is replaced as above.

Copies are taken right after a keyword, never before one nor inside a declaration: lark's tree
building extends the child lists of tree nodes already built in place (the list of
declarations, the keys after `->`), which a copy made without ``deepcopy_values`` shares, so a
copy that redid reductions the parser already made would add the same child twice. Right after
a keyword no reduction is pending, and the one shared list is the list of declarations, which
the parser only appends to, when a declaration is complete. So one anchor serves the whole
file: a copy of it sees every declaration kept since, and adds its filler after them. That
relies on lark's in-place optimisation, which lark has considered making optional (lark issue
1142); :func:`_lists_grow_in_place` checks it once, and without it the anchor is taken again at
every declaration (a few microseconds each).

lark's contextual lexer reads the parser's state to know which tokens may come; while a broken
declaration is skipped, it reads the state of the untouched parser, which stands between
declarations as the parser after a recovery does. The interactive parser's ``parser_state`` is
only handed back to lark, to that lexer (``lexer_thread.lex``, as lark's own ``iter_parse`` does)
and to ``match_examples`` (:mod:`rldsl.lang.syntax_errors`). Text no token matches is skipped
by advancing the lexer thread's line counter past it.

>>> from rldsl.lang.grammar import load_grammar
>>> from rldsl.lang.source import SourceFile
>>> run = RecoveringParse(load_grammar(), SourceFile("a.rlm", "key a : f32[3]\\nkey b f32[1]\\n"))
>>> tree = run.parse()
>>> len(tree.children), [d.code for d in run.diagnostics], [d.keyword for d in run.broken]
(1, ['E0107'], ['key'])
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import LineCounter

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic
from rldsl.lang.grammar import CLOSERS, DECLARATION_TERMINALS, OPENERS, Grammar, Interactive, token_span
from rldsl.lang.source import SourceFile
from rldsl.lang.syntax_errors import explain

__all__ = ["MAX_NESTING", "RecoveringParse"]

#: Deepest bracket nesting accepted; expressions may nest about twice as deep in the tree.
MAX_NESTING = 100

# The name and the string of every filler declaration, by which fillers are recognised (by
# identity, so that no name or string of the file is ever taken for one).
_FILLER_NAME = Token("NAME", "_")
_FILLER_STRING = Token("STRING", '""')

# How a filler declaration goes on after its keyword: a name, a string, or a literal token.
_FILLER_TEXT = {
    "KW_INCLUDE": ("STRING",),
    "KW_DIM": ("NAME",),
    "KW_ENV": ("NAME", "=", "gym", "(", "STRING", ")"),
    "KW_KEY": ("NAME", ":", "NAME"),
    **{keyword: ("NAME", "=", "NAME") for keyword in ("KW_MODULE", "KW_ACTOR", "KW_VALUE", "KW_EXPLORE")},
}


@functools.cache
def _lists_grow_in_place(grammar: Grammar) -> bool:
    """Whether a parser copied right after a declaration keyword sees the declarations the
    parser it was copied from reads afterwards (lark extends the list of declarations in place)."""
    dim, name = Token("KW_DIM", "dim"), Token("NAME", "n")
    parser = grammar.lark.parse_interactive("")
    for token in (dim, name, dim):
        parser.feed_token(token)
    anchor = parser.copy(deepcopy_values=False)
    for token in (name, dim):  # the second `dim n` joins the list
        parser.feed_token(token)
    anchor.feed_token(name)
    return len(anchor.feed_token(Token("$END", "")).children) == 3


@functools.cache
def _fillers(grammar: Grammar) -> dict[str, tuple[Token, ...]]:
    """For each declaration keyword, the tokens that complete a shortest declaration after it."""
    own = {"NAME": _FILLER_NAME, "STRING": _FILLER_STRING}
    return {
        keyword: tuple(own.get(part) or Token(grammar.name(part), part) for part in parts)
        for keyword, parts in _FILLER_TEXT.items()
    }


def _is_filler(declaration: object) -> bool:
    """Whether a declaration of the parse tree is a filler: its name (or path) is the filler's."""
    children = declaration.children if isinstance(declaration, Tree) else ()
    return len(children) > 1 and (children[1] is _FILLER_NAME or children[1] is _FILLER_STRING)


class RecoveringParse:
    """One parse of one file: feeds tokens, explains errors, recovers, and goes on.

    After :meth:`parse`, ``diagnostics`` holds the syntax errors and ``broken`` an
    :class:`~rldsl.lang.ast.ErrorDecl` for each declaration dropped from the tree. While parsing,
    it is the :class:`~rldsl.lang.syntax_errors.ParsePosition` the explanations read.
    """

    def __init__(self, grammar: Grammar, source: SourceFile) -> None:
        self.grammar = grammar
        self.source = source
        self.diagnostics: list[Diagnostic] = []
        self.broken: list[ast.ErrorDecl] = []
        self.brackets: list[tuple[Token, bool]] = []  # open brackets; True for `in [` bounds
        self.decl: Token | None = None  # keyword of the declaration being read (or argument name)
        self.last: Token | None = None  # last token the parser accepted
        self.prev: Token | None = None  # last token read, accepted or skipped
        self.recovering = False
        self.interactive: Interactive  # the parser: feeds tokens, says what may come next
        self.untouched: Interactive  # a copy of it taken before any token
        self.anchor: Interactive | None = None  # a copy taken after a keyword, see the module docs
        self.anchor_keyword = ""  # the type of that keyword
        # The declaration the parser is reading (None between declarations): its keyword, its
        # name once read, and whether it is the first in the parser's list of declarations.
        self.keyword: Token | None = None
        self.declared_name: Token | None = None
        self.naming = False  # the next accepted token is the one after the keyword
        self.first = False
        self.empty = True  # no declaration, kept, filler or being read, in the parser
        self.filled = False  # a filler declaration went into the tree

    # -- driving the parser ----------------------------------------------------------------

    def parse(self) -> Tree:
        """Parse the whole text; the tree holds the declarations that parsed cleanly."""
        self.interactive = self.grammar.lark.parse_interactive(self.source.text)
        self.untouched = self.interactive.copy(deepcopy_values=False)
        thread = self.interactive.lexer_thread
        lexing_for = None
        while True:
            # The contextual lexer reads a parser's state: the parser's own, or while skipping a
            # broken declaration the untouched parser's, between declarations.
            parser = self.untouched if self.recovering else self.interactive
            if parser is not lexing_for:
                tokens, lexing_for = thread.lex(parser.parser_state), parser
            try:
                token = next(tokens)
            except StopIteration:
                break
            except UnexpectedCharacters as exc:
                self._bad_characters(exc.pos_in_stream, thread.state.line_ctr)
                lexing_for = None
                continue
            except UnexpectedToken as exc:  # a valid token the current state cannot use
                lexing_for = None
                token = exc.token
            self._step(token)
        return self._finish()

    def _step(self, token: Token) -> None:
        if self.recovering:
            if self.starts_declaration(token):
                self.recovering = False
                self._feed(token)
            self.prev = token
            return
        self._feed(token)

    def _feed(self, token: Token) -> None:
        literal = self.grammar.literal.get(token.type)
        if literal in OPENERS and len(self.brackets) >= MAX_NESTING:
            self._fail(token, self._too_deep(token))
            return
        if self.brackets and self.starts_declaration(token):
            # A declaration keyword at column 1 starts the next declaration, even though inside
            # brackets it could be read as a keyword-argument name: the brackets were not closed.
            expected = {t for t in self.interactive.choices() if t.isupper()}
            self._fail(token, explain(self, token, self._acceptable(expected)))
            return
        try:
            self.interactive.feed_token(token)
        except UnexpectedToken as exc:
            self._fail(token, explain(self, token, self._acceptable(exc.expected)))
            return
        if literal in OPENERS:
            self.brackets.append((token, literal == "[" and self.last is not None and self.last.type == "IN"))
        elif literal in CLOSERS and self.brackets:
            self.brackets.pop()
        if self.naming:
            self.naming = False
            self.declared_name = token if token.type == "NAME" else None
        if token.type in DECLARATION_TERMINALS:
            self.decl = token
            if self.grammar.opens_declaration(self.interactive.choices()):
                self._opened(token)
        self.last = self.prev = token

    def _opened(self, keyword: Token) -> None:
        """The parser has just read the keyword of a new declaration (the one before, if any,
        is complete and now in its list of declarations)."""
        self.keyword, self.declared_name, self.naming = keyword, None, True
        self.first, self.empty = self.empty, False
        if not self.first and (self.anchor is None or not _lists_grow_in_place(self.grammar)):
            self.anchor, self.anchor_keyword = self.interactive.copy(deepcopy_values=False), keyword.type

    def _finish(self) -> Tree:
        end = self._end_token()
        try:
            tree = self.interactive.feed_token(end)
        except UnexpectedToken as exc:
            self.diagnostics.append(explain(self, end, self._acceptable(exc.expected)))
            self._discard_declaration()
            tree = self.interactive.feed_token(end)
        if self.filled:
            tree = Tree(tree.data, [child for child in tree.children if not _is_filler(child)])
        return tree

    def _end_token(self) -> Token:
        span = self.source.end_span()
        return Token("$END", "", span.start, span.line, span.column, span.line, span.column, span.start)

    def _acceptable(self, expected: Iterable[str]) -> set[str]:
        """The tokens of ``expected`` that really can come next. An LALR state lists the
        lookaheads of every context merged into it (after `(x)` it lists `,` even where no `,`
        can follow); lark's ``accepts()`` tries each on a scratch copy of the parser."""
        expected = set(expected)
        return {name for name in self.interactive.accepts() if name in expected} or expected

    # -- recovery ----------------------------------------------------------------------------

    def starts_declaration(self, token: Token) -> bool:
        """A declaration keyword that begins its line; at column 1 when inside brackets or
        while skipping a broken declaration, whose continuation lines may well start with a
        keyword-argument name such as `module=`."""
        if token.type not in DECLARATION_TERMINALS:
            return False
        if self.prev is not None and token.line <= self.prev.end_line:
            return False
        return token.column == 1 or not (self.brackets or self.recovering)

    def _fail(self, token: Token, diagnostic: Diagnostic) -> None:
        """Report a syntax error at ``token`` and resynchronise on the next declaration."""
        self.diagnostics.append(diagnostic)
        resynchronise = self.starts_declaration(token)
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
        """If the declaration before the error is complete, keep it: the parser must accept a
        `key` keyword as the start of a next declaration (in an argument list `key` is accepted
        too, as a keyword-argument name, while the declaration goes on). On False the parser
        has taken the `key` or failed on it, and must go back (:meth:`_discard_declaration`)."""
        if self.keyword is None:
            return False
        try:
            self.interactive.feed_token(Token("KW_KEY", "key"))
        except UnexpectedToken:
            return False
        if not self.grammar.opens_declaration(self.interactive.choices()):
            return False
        self._complete_with_filler(self.interactive, "KW_KEY")
        return True

    def _discard_declaration(self) -> None:
        """Drop the declaration being read, recording what it was, and go on from between
        declarations: from a copy of the anchor, or of the untouched parser."""
        if self.keyword is None:
            return
        self._record_broken(self.keyword, self.declared_name)
        if self.first:
            self.interactive = self.untouched.copy(deepcopy_values=False)
            self.keyword, self.naming, self.empty = None, False, True
        else:
            assert self.anchor is not None  # taken when this declaration, not the first, started
            self._complete_with_filler(self.anchor.copy(deepcopy_values=False), self.anchor_keyword)

    def _complete_with_filler(self, parser: Interactive, keyword: str) -> None:
        """Complete the declaration ``parser`` has just started with the keyword of type
        ``keyword`` with a filler, and go on from there, between declarations."""
        for token in _fillers(self.grammar)[keyword]:
            parser.feed_token(token)
        self.interactive = parser
        self.keyword, self.naming = None, False
        self.filled = True

    def _record_broken(self, keyword: Token, name: Token | None) -> None:
        file = self.source.name
        end = self.last if self.last is not None else keyword
        span = token_span(file, keyword).to(token_span(file, end))
        name_node = ast.Name(str(name), span=token_span(file, name)) if name is not None else None
        self.broken.append(ast.ErrorDecl(str(keyword), name_node, span=span))

    # -- lexical errors and limits -------------------------------------------------------------

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

    def _too_deep(self, token: Token) -> Diagnostic:
        return Diagnostic(
            "E0112",
            f"brackets nested more than {MAX_NESTING} deep",
            token_span(self.source.name, token),
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
