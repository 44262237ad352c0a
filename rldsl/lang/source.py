"""Source text and spans: where a piece of `.rlm` text came from.

A :class:`Span` names a file and a range in it; a :class:`SourceFile` holds a file's text and
turns offsets into lines and columns, and gives back a line's text for rendering.
"""

from __future__ import annotations

import attrs


@attrs.frozen(slots=True)
class Span:
    """A range of source text, as lark reports it.

    ``line``/``column`` locate the first character and ``end_line``/``end_column`` the position
    just after the last one (both 1-based, columns counted in characters); ``start``/``end`` are
    the same two positions as 0-based character offsets. An empty span (``start == end``) marks
    a position, such as the end of a file.

    >>> s = Span("a.rlm", 1, 5, 1, 8, 4, 7)
    >>> str(s), s.width
    ('a.rlm:1:5', 3)
    """

    file: str
    line: int
    column: int
    end_line: int
    end_column: int
    start: int
    end: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def width(self) -> int:
        """Number of characters covered."""
        return self.end - self.start

    @property
    def is_empty(self) -> bool:
        """True for a zero-width span (a position between characters)."""
        return self.start == self.end

    def to(self, other: Span) -> Span:
        """The span from the start of ``self`` to the end of ``other``."""
        return Span(
            self.file, self.line, self.column, other.end_line, other.end_column, self.start, other.end
        )

    def at_end(self) -> Span:
        """The empty span just after this one."""
        return Span(
            self.file, self.end_line, self.end_column, self.end_line, self.end_column, self.end, self.end
        )

    def contains(self, other: Span) -> bool:
        """True when ``other`` lies inside this span (same file)."""
        return self.file == other.file and self.start <= other.start and other.end <= self.end

    def to_dict(self) -> dict[str, int | str]:
        """The span as plain data, for JSON output."""
        return attrs.asdict(self)


def _line_starts(text: str) -> tuple[int, ...]:
    """Offsets at which each line starts; only ``\\n`` ends a line, as in lark's counting."""
    starts = [0]
    find = text.find
    at = find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = find("\n", at + 1)
    return tuple(starts)


@attrs.frozen(slots=True)
class SourceFile:
    """The text of one `.rlm` file under the name that spans and diagnostics use.

    >>> src = SourceFile("a.rlm", "key x : f32[3]\\nkey y : f32[4]\\n")
    >>> src.location(16), src.line_text(2)
    ((2, 2), 'key y : f32[4]')
    """

    name: str
    text: str = attrs.field(repr=False)
    _starts: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    @_starts.default
    def _compute_starts(self) -> tuple[int, ...]:
        return _line_starts(self.text)

    @property
    def line_count(self) -> int:
        """Number of lines (a final line without a newline counts; an empty file has one)."""
        return len(self._starts)

    def line_text(self, line: int) -> str:
        """The text of a 1-based line, without its line ending; ``""`` past the end."""
        if not 1 <= line <= len(self._starts):
            return ""
        begin = self._starts[line - 1]
        end = self._starts[line] - 1 if line < len(self._starts) else len(self.text)
        return self.text[begin:end].rstrip("\r")

    def line_start(self, line: int) -> int:
        """The offset of the first character of a 1-based line."""
        return self._starts[line - 1]

    def location(self, offset: int) -> tuple[int, int]:
        """The 1-based (line, column) of a 0-based character offset."""
        offset = max(0, min(offset, len(self.text)))
        lo, hi = 0, len(self._starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._starts[mid] <= offset:
                lo = mid
            else:
                hi = mid
        return lo + 1, offset - self._starts[lo] + 1

    def span(self, start: int, end: int) -> Span:
        """The span between two character offsets."""
        line, column = self.location(start)
        end_line, end_column = self.location(end)
        return Span(self.name, line, column, end_line, end_column, start, end)

    def end_span(self) -> Span:
        """An empty span just after the last non-blank character: where "end of file" points."""
        end = len(self.text.rstrip())
        return self.span(end, end)
