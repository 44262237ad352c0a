"""Where a Python call is: spans in Python source, for models built from Python.

When a model is built with :mod:`rldsl.build`, its diagnostics point at the Python line that made
each piece. :func:`call_site` finds the innermost caller outside rldsl and the exact range of the
expression it is evaluating (Python 3.11 records a start and end column for every instruction);
:class:`Site` then narrows that range to one argument, one list item, or a range of characters
inside a string literal, by reading the caller's source with Python's own :mod:`ast`.

Pure Python: no torch. Where the source cannot be read (an interactive session), a site is just
the line and columns the interpreter reports.
"""

from __future__ import annotations

import ast as pyast
import functools
import itertools
import linecache
import os
import sys
from types import FrameType

import attrs

from rldsl.lang.source import SourceFile, Span

__all__ = ["Site", "call_site", "python_source"]

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


_SOURCES: dict[str, tuple[list[str], SourceFile]] = {}


def python_source(filename: str) -> SourceFile:
    """The text of a Python file as the interpreter sees it (empty when it cannot be read); the
    same object while :mod:`linecache` holds the same lines, so that building stays cheap."""
    lines = linecache.getlines(filename)
    cached = _SOURCES.get(filename)
    if cached is None or cached[0] is not lines:
        cached = _SOURCES[filename] = (lines, SourceFile(filename, "".join(lines)))
    return cached[1]


@functools.lru_cache(maxsize=64)
def _index(filename: str, text: str) -> dict[tuple[int, int, int, int], pyast.AST]:
    """Every expression node of a Python file by its (line, column, end line, end column), the
    columns in UTF-8 bytes as the interpreter reports them."""
    try:
        tree = pyast.parse(text, filename)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # not Python (any more), or nested too deep
        return {}
    return {(n.lineno, n.col_offset, n.end_lineno, n.end_col_offset): n
            for n in pyast.walk(tree) if isinstance(n, pyast.expr) and n.end_lineno is not None}


@attrs.frozen(slots=True)
class Site:
    """A range of a Python file, and the Python expression found there (or None)."""

    source: SourceFile
    line: int
    column: int  # 0-based, in UTF-8 bytes, as in Python's own positions
    end_line: int
    end_column: int
    node: pyast.AST | None = attrs.field(default=None, eq=False)

    @property
    def span(self) -> Span:
        """The range as a :class:`Span` (1-based character columns)."""
        start = self._offset(self.line, self.column)
        end = self._offset(self.end_line, self.end_column)
        if start is None or end is None:
            return Span(self.source.name, self.line, self.column + 1, self.end_line, self.end_column + 1, 0, 0)
        return self.source.span(start, end)

    def _offset(self, line: int, byte_column: int) -> int | None:
        """The character offset of a (line, byte column) position, or None past the text."""
        if not 1 <= line <= self.source.line_count or not self.source.text:
            return None
        text = self.source.line_text(line)
        column = len(text.encode("utf-8")[:byte_column].decode("utf-8", "ignore"))
        return self.source.line_start(line) + column

    def _at(self, node: pyast.AST | None) -> Site:
        if node is None or getattr(node, "end_lineno", None) is None:
            return self
        return Site(self.source, node.lineno, node.col_offset, node.end_lineno, node.end_col_offset, node)

    def arg(self, index: int) -> Site:
        """The site of the call's ``index``-th positional argument (the whole call if unknown)."""
        node = self.node
        if isinstance(node, pyast.Call) and index < len(node.args) and not any(
                isinstance(a, pyast.Starred) for a in node.args[: index + 1]):
            return self._at(node.args[index])
        return self

    def kwarg(self, name: str) -> Site:
        """The site of the call's keyword argument ``name`` (its value), or the whole call."""
        if isinstance(self.node, pyast.Call):
            for keyword in self.node.keywords:
                if keyword.arg == name:
                    return self._at(keyword.value)
        return self

    def argument(self, index: int, name: str) -> Site:
        """The site of an argument that may be given by keyword ``name`` or at position ``index``."""
        if isinstance(self.node, pyast.Call) and any(k.arg == name for k in self.node.keywords):
            return self.kwarg(name)
        return self.arg(index)

    def func(self) -> Site:
        """The site of the called expression of a call (``MLP`` in ``MLP(...)``)."""
        return self._at(self.node.func) if isinstance(self.node, pyast.Call) else self

    def item(self, index: int) -> Site:
        """The site of item ``index`` of a list or tuple display, or the whole display."""
        node = self.node
        if isinstance(node, (pyast.List, pyast.Tuple)) and index < len(node.elts):
            return self._at(node.elts[index])
        return self

    def operand(self, right: bool) -> Site:
        """The site of the left or right operand of a binary operation."""
        if isinstance(self.node, pyast.BinOp):
            return self._at(self.node.right if right else self.node.left)
        return self

    def string_offset(self) -> int | None:
        """When this site is a one-line plain string literal (no prefix, no escapes), the
        character offset of its first character inside the quotes; else None."""
        node = self.node
        if not (isinstance(node, pyast.Constant) and isinstance(node.value, str)) or self.line != self.end_line:
            return None
        start = self._offset(self.line, self.column)
        end = self._offset(self.end_line, self.end_column)
        if start is None or end is None:
            return None
        literal = self.source.text[start:end]
        if len(literal) >= 2 and literal[0] in "\"'" and literal[-1] == literal[0] and literal[1:-1] == node.value:
            return start + 1
        return None


def _outside(frame: FrameType | None) -> FrameType | None:
    """The first frame, from ``frame`` outwards, whose code is not rldsl's own."""
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame = frame.f_back
    return frame


def call_site() -> Site:
    """The site of the expression the nearest caller outside rldsl is evaluating."""
    frame = _outside(sys._getframe(1))
    if frame is None:  # only rldsl on the stack: nothing to point at
        return Site(SourceFile("<rldsl>", ""), 1, 0, 1, 0)
    code = frame.f_code
    positions = getattr(code, "co_positions", None)  # Python 3.11+; 3.10 knows the line only
    line, end_line, column, end_column = (next(itertools.islice(positions(), frame.f_lasti // 2, None))
                                          if positions is not None else (None, None, None, None))
    line = line or frame.f_lineno
    end_line = end_line or line
    column = column or 0
    end_column = end_column if end_column is not None else column
    source = python_source(code.co_filename)
    node = _index(source.name, source.text).get((line, column, end_line, end_column)) if source.text else None
    return Site(source, line, column, end_line, end_column, node)
