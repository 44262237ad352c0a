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

Tokens are fed, and what may come next is asked, through lark's public ``InteractiveParser``
(``feed_token``, ``choices``, ``accepts``). Recovery needs three things that API does not offer,
and reads lark's ``ParserState`` and parse table for them: unwinding the parser's stacks to the
start of the broken declaration (:meth:`RecoveringParse._discard_declaration`), the set of parser
states that lie between declarations (:attr:`rldsl.lang.grammar.Grammar.declaration_starts`, from
the table's ``Shift`` actions), and a trial parse without tree building whose stack can be read
(:meth:`RecoveringParse._trial`).

>>> from rldsl.lang.grammar import load_grammar
>>> from rldsl.lang.source import SourceFile
>>> run = RecoveringParse(load_grammar(), SourceFile("a.rlm", "key a : f32[3]\\nkey b f32[1]\\n"))
>>> tree = run.parse()
>>> len(tree.children), [d.code for d in run.diagnostics], [d.keyword for d in run.broken]
(1, ['E0107'], ['key'])
"""

from __future__ import annotations

from collections.abc import Iterable

from lark import Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedToken
from lark.lexer import LineCounter
from lark.parsers.lalr_interactive_parser import InteractiveParser
from lark.parsers.lalr_parser_state import ParserState

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic
from rldsl.lang.grammar import CLOSERS, DECLARATION_TERMINALS, OPENERS, Grammar, token_span
from rldsl.lang.source import SourceFile
from rldsl.lang.syntax_errors import explain

__all__ = ["MAX_NESTING", "RecoveringParse"]

#: Deepest bracket nesting accepted; expressions may nest about twice as deep in the tree.
MAX_NESTING = 100


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
        self.decl: Token | None = None  # keyword of the declaration being read
        self.last: Token | None = None  # last token the parser accepted
        self.prev: Token | None = None  # last token read, accepted or skipped
        self.recovering = False
        self.interactive: InteractiveParser  # feeds tokens, says what may come next (lark's public API)
        self.parser_state: ParserState  # the same parser's state: recovery unwinds its stacks

    # -- driving the parser ----------------------------------------------------------------

    def parse(self) -> Tree:
        """Parse the whole text; the tree holds the declarations that parsed cleanly."""
        interactive = self.grammar.lark.parse_interactive(self.source.text)
        self.interactive = interactive
        self.parser_state = interactive.parser_state
        thread = interactive.lexer_thread
        tokens = thread.lex(self.parser_state)
        while True:
            try:
                token = next(tokens)
            except StopIteration:
                break
            except UnexpectedCharacters as exc:
                self._bad_characters(exc.pos_in_stream, thread.state.line_ctr)
                tokens = thread.lex(self.parser_state)
                continue
            except UnexpectedToken as exc:  # a valid token the current state cannot use
                tokens = thread.lex(self.parser_state)
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
        if token.type in DECLARATION_TERMINALS:
            self.decl = token
        self.last = self.prev = token

    def _finish(self) -> Tree:
        end = self._end_token()
        try:
            return self.interactive.feed_token(end)
        except UnexpectedToken as exc:
            self.diagnostics.append(explain(self, end, self._acceptable(exc.expected)))
            self._discard_declaration()
            return self.interactive.feed_token(end)

    def _end_token(self) -> Token:
        span = self.source.end_span()
        return Token("$END", "", span.start, span.line, span.column, span.line, span.column, span.start)

    def _trial(self, name: str) -> ParserState | None:
        """A scratch copy of the parser after a token of type ``name``, or None if the parser
        refuses it. The copy builds no trees: lark's reductions may extend the lists of
        existing tree nodes in place, which must happen only on the real parser. (lark's
        ``InteractiveParser.accepts()`` makes such copies too, but does not return them: recovery
        needs the copy's stack, see :meth:`_reduce_finished_declaration`.)"""
        ps = self.parser_state
        trial = ParserState(self.grammar.scratch, ps.lexer, list(ps.state_stack), list(ps.value_stack))
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
        """If the declaration before the error is complete, reduce it so that it is kept: the
        parser must accept a next declaration and land between declarations (in an argument
        list `key` is accepted too, as a keyword-argument name, while the declaration goes on)."""
        trial = self._trial("KW_KEY")
        if trial is None or trial.state_stack[-2] not in self.grammar.declaration_starts:
            return False
        ps = self.parser_state
        ps.feed_token(Token("KW_KEY", "key"))  # the same steps, now building the tree
        ps.state_stack.pop()
        ps.value_stack.pop()
        return True

    def _discard_declaration(self) -> None:
        """Unwind the parser to the start of the current declaration, recording what it was."""
        ps = self.parser_state
        popped = []
        while ps.state_stack[-1] not in self.grammar.declaration_starts:
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
            name = ast.Name(str(items[1]), span=token_span(self.source.name, items[1]))
        end = self.last if self.last is not None else keyword
        span = token_span(self.source.name, keyword).to(token_span(self.source.name, end))
        self.broken.append(ast.ErrorDecl(str(keyword), name, span=span))

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
