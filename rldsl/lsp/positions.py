"""Positions in a document as an editor counts them, and as rldsl's spans do.

rldsl's spans hold 0-based *character* offsets (and 1-based lines and columns); the Language
Server Protocol speaks 0-based lines and characters counted in the code units of the position
encoding agreed at initialisation: UTF-16 by default (a character outside the Basic Multilingual
Plane, such as an emoji in a comment, counts twice), UTF-8 or UTF-32 when the client offers them.
:class:`Positions` converts between the two for one text, so that a caret under ``obsevation``
after a non-ASCII comment still lands on it.

A buffer that starts with a byte-order mark keeps it in the editor, while rldsl drops it before
parsing: the one character is added back on the way out and taken off on the way in.

>>> p = Positions("# é😀\\nkey x : f32[1]\\n")
>>> p.position(p.offset(1, 4)), p.position(4)
((1, 4), (0, 5))
"""

from __future__ import annotations

import attrs

from rldsl.lang.source import Span

__all__ = ["ENCODINGS", "Positions"]

#: The position encodings of LSP 3.17, by the names the protocol gives them.
ENCODINGS = ("utf-16", "utf-8", "utf-32")

_BOM = "\ufeff"


def _units(text: str, encoding: str) -> int:
    """How many code units of ``encoding`` ``text`` takes."""
    if encoding == "utf-32":
        return len(text)
    if encoding == "utf-8":
        return len(text.encode("utf-8", "surrogatepass"))
    return len(text) + sum(1 for char in text if ord(char) > 0xFFFF)


def _line_starts(text: str) -> tuple[int, ...]:
    """The offset each line starts at; ``\\n`` ends a line (``\\r\\n`` too: its ``\\r`` is the last
    character of the line), as in rldsl's spans."""
    starts = [0]
    at = text.find("\n")
    while at >= 0:
        starts.append(at + 1)
        at = text.find("\n", at + 1)
    return tuple(starts)


@attrs.frozen(slots=True)
class Positions:
    """Conversions between rldsl's character offsets into ``text`` and LSP ``(line, character)``
    pairs in ``encoding`` (one of :data:`ENCODINGS`). ``text`` is the document as the editor holds
    it, byte-order mark included if it has one."""

    text: str
    encoding: str = attrs.field(default="utf-16", validator=attrs.validators.in_(ENCODINGS))
    _starts: tuple[int, ...] = attrs.field(init=False, repr=False, eq=False)

    @_starts.default
    def _compute_starts(self) -> tuple[int, ...]:
        return _line_starts(self.text)

    @property
    def _shift(self) -> int:
        """1 when the buffer starts with a byte-order mark rldsl's offsets do not count."""
        return 1 if self.text.startswith(_BOM) else 0

    def _line_of(self, index: int) -> int:
        lo, hi = 0, len(self._starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if self._starts[mid] <= index:
                lo = mid
            else:
                hi = mid
        return lo

    def position(self, offset: int) -> tuple[int, int]:
        """The 0-based ``(line, character)`` of rldsl's character ``offset`` (clamped to the text)."""
        index = max(0, min(offset + self._shift, len(self.text)))
        line = self._line_of(index)
        return line, _units(self.text[self._starts[line]:index], self.encoding)

    def offset(self, line: int, character: int) -> int:
        """rldsl's character offset of an LSP position; a character past the end of its line means
        the end of the line, a line past the end the end of the text."""
        if line < 0:
            return 0
        if line >= len(self._starts):
            return len(self.text) - self._shift
        begin = self._starts[line]
        end = self._starts[line + 1] - 1 if line + 1 < len(self._starts) else len(self.text)
        index, counted = begin, 0
        while index < end and counted < character:
            counted += _units(self.text[index], self.encoding)
            index += 1
        return max(0, index - self._shift)

    def range(self, span: Span) -> tuple[tuple[int, int], tuple[int, int]]:
        """The LSP start and end positions of a span of this text."""
        return self.position(span.start), self.position(span.end)

    def end(self) -> tuple[int, int]:
        """The position just after the last character: where a whole-document edit ends."""
        return self.position(len(self.text) - self._shift)
