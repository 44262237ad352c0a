"""Where the cursor is, read from the text before it: what completion should offer there.

While a line is being typed the text rarely parses (``MLP(`` is a syntax error), so completion
cannot rely on the syntax tree. :func:`cursor_at` reads the tokens of the current declaration up
to the cursor instead — a declaration starts with its keyword at column 1, the layout rule the
parser's error recovery uses too — and keeps track of the open brackets: the call the cursor is
inside (``MLP``), the keyword arguments that call has already, the one whose value is being
written (``activation_class=``), and the punctuation seen outside brackets (``:``, ``->``, ``=``),
which says which part of the declaration the cursor is in.

>>> c = cursor_at("module body = MLP(num_cells=[64], out", 38)
>>> c.declaration, c.call, sorted(c.given), c.argument, c.prefix
('module', 'MLP', ['num_cells'], None, 'out')
>>> cursor_at("actor p = ProbabilisticActor(body, dist=Tan", 43).argument
'dist'
"""

from __future__ import annotations

import re

import attrs

__all__ = ["DECLARATION_KEYWORDS", "Cursor", "cursor_at"]

#: The keywords a declaration starts with (grammar/rlm.lark).
DECLARATION_KEYWORDS = ("include", "dim", "env", "key", "module", "actor", "value", "explore")

_DECLARATION_START = re.compile(r"^(?:%s)(?![A-Za-z0-9_])" % "|".join(DECLARATION_KEYWORDS), re.MULTILINE)
_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\[^\n])*"?|'(?:[^'\\\n]|\\[^\n])*'?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<number>[0-9](?:_?[0-9])*(?:\.[0-9](?:_?[0-9])*)?(?:[eE][+-]?[0-9](?:_?[0-9])*)?)
  | (?P<op>->|>>|//|[()\[\]{},=:.+\-*/%])
  | (?P<other>.)
""", re.VERBOSE)
_WORD_BEFORE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*$")
_CLOSING = {")": "(", "]": "[", "}": "{"}


@attrs.frozen(slots=True)
class Cursor:
    """The context of a position, for completion.

    ``prefix`` is the part of the word already typed; ``declaration`` the keyword of the
    declaration the cursor is in (None before any); ``quiet`` is true inside a comment or a
    string (nothing to complete). ``bracket`` is the innermost open bracket; ``call`` the name of
    the innermost open call (``MLP``, ``dict``) and ``given`` its keyword arguments so far;
    ``argument`` the keyword argument whose value the cursor is in (through open lists:
    ``in=[obs, `` too), ``outer`` the call and argument around ``call`` (``MLP`` and
    ``norm_kwargs`` for ``MLP(norm_kwargs=dict(``); ``seen`` the punctuation met outside
    brackets; ``dotted`` the path before a dot just before the prefix (``pendulum`` in
    ``pendulum.ac``); ``line_start`` is true when the prefix starts at column 1."""

    prefix: str = ""
    declaration: str | None = None
    quiet: bool = False
    bracket: str | None = None
    call: str | None = None
    given: frozenset[str] = frozenset()
    argument: str | None = None
    outer: tuple[str, str] | None = None
    seen: frozenset[str] = frozenset()
    dotted: tuple[str, ...] = ()
    line_start: bool = False

    @property
    def at_start(self) -> bool:
        """True where a new declaration may begin: before any, or at column 1 (a declaration
        keyword there always starts one; continuation lines are indented)."""
        return self.declaration is None or (self.line_start and self.bracket is None)


@attrs.define
class _Frame:
    """An open bracket: which, the call it opens (for ``(``), its keyword arguments, the one
    being written."""

    bracket: str
    call: str | None = None
    given: set[str] = attrs.Factory(set)
    argument: str | None = None


def _declaration_start(text: str, offset: int) -> int:
    """Where the declaration holding ``offset`` starts (0 before the first)."""
    starts = [m.start() for m in _DECLARATION_START.finditer(text, 0, offset)]
    return starts[-1] if starts else 0


def cursor_at(text: str, offset: int) -> Cursor:
    """The completion context at ``offset`` of ``text``."""
    before = text[:offset]
    prefix_match = _WORD_BEFORE.search(before)
    prefix = prefix_match.group() if prefix_match else ""
    start = _declaration_start(text, offset - len(prefix))
    tokens = [(m.lastgroup, m.group()) for m in _TOKEN.finditer(before, start, offset - len(prefix))]
    if tokens and _open_ended(*tokens[-1]):
        return Cursor(prefix, quiet=True)
    tokens = [(kind, value) for kind, value in tokens if kind not in ("space", "comment")]
    if prefix and tokens and tokens[-1][0] == "number" and not before[:-len(prefix)][-1:].isspace():
        return Cursor(prefix, quiet=True)  # `1e` of a number being typed
    declaration = tokens[0][1] if tokens and tokens[0][1] in DECLARATION_KEYWORDS else None
    frames, seen = _scan(tokens)
    line_start = before[:offset - len(prefix)].endswith("\n")
    return attrs.evolve(_cursor(prefix, declaration, frames, seen, tokens), line_start=line_start)


def _open_ended(kind: str | None, value: str) -> bool:
    """True for a comment, or a string not closed yet, that the cursor is in."""
    if kind == "comment":
        return True
    return kind == "string" and (len(value) < 2 or value[-1] != value[0] or value.endswith("\\" + value[0]))


def _scan(tokens: list[tuple[str | None, str]]) -> tuple[list[_Frame], set[str]]:
    """The brackets still open after ``tokens``, and the punctuation seen outside brackets."""
    frames: list[_Frame] = []
    seen: set[str] = set()
    for index, (kind, value) in enumerate(tokens):
        previous = tokens[index - 1] if index else (None, "")
        if value in ("(", "[", "{") and kind == "op":
            call = _path_before(tokens, index) if value == "(" and previous[0] == "name" else None
            frames.append(_Frame(value, ".".join(call) if call else None))
        elif value in _CLOSING and kind == "op":
            if frames and frames[-1].bracket == _CLOSING[value]:
                frames.pop()
        elif value == "=" and frames and frames[-1].bracket == "(" and previous[0] == "name":
            frames[-1].given.add(previous[1])
            frames[-1].argument = previous[1]
        elif value == "," and frames:
            frames[-1].argument = None
        elif not frames and kind == "op" and value in (":", "->", "=", ">>"):
            seen.add(value)
    return frames, seen


def _path_before(tokens: list[tuple[str | None, str]], end: int) -> tuple[str, ...]:
    """The dotted name ending just before ``tokens[end]`` (``pendulum.action`` before a dot)."""
    words: list[str] = []
    index = end - 1
    while index >= 0 and tokens[index][0] == "name":
        words.insert(0, tokens[index][1])
        if index >= 1 and tokens[index - 1][1] == ".":
            index -= 2
        else:
            break
    return tuple(words)


def _cursor(prefix: str, declaration: str | None, frames: list[_Frame], seen: set[str],
            tokens: list[tuple[str | None, str]]) -> Cursor:
    dotted = _path_before(tokens, len(tokens) - 1) if tokens and tokens[-1][1] == "." else ()
    call_frames = [frame for frame in frames if frame.bracket == "("]
    call = call_frames[-1] if call_frames else None
    argument = None
    if call is not None and all(frame.bracket == "[" for frame in frames[frames.index(call) + 1:]):
        argument = call.argument
    outer = None
    if len(call_frames) >= 2 and call_frames[-2].call and call_frames[-2].argument:
        outer = (call_frames[-2].call, call_frames[-2].argument)
    return Cursor(prefix, declaration, False, frames[-1].bracket if frames else None,
                  call.call if call is not None else None, frozenset(call.given) if call is not None else frozenset(),
                  argument, outer, frozenset(seen), dotted)
