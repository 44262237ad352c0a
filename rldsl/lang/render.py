"""Rendering diagnostics: text in the style of Rust and Elm, and JSON for editors and CI.

Text shows the code and message, ``file:line:col``, the source lines with the primary span
underlined by ``^`` and secondary spans by ``-``, then notes and the help line. Colour (ANSI) is
used only when asked for. JSON carries the same fields as :meth:`Diagnostic.to_dict`.

Nothing from the input reaches the terminal as a control sequence: control characters, escape
sequences and bidirectional overrides in source lines, names, messages and file names are shown
escaped (``\x1b``, ``\u202e``), so a model file cannot recolour, move the cursor or reorder text.

>>> from rldsl.lang.parse import parse
>>> from rldsl.lang.source import SourceFile
>>> text = "key action f32[1]\\n"
>>> _, diagnostics = parse(text, "a.rlm")
>>> print(render_text(diagnostics, {"a.rlm": SourceFile("a.rlm", text)}))
error[E0107]: missing `:` between the key `action` and its spec
 --> a.rlm:1:12
  |
1 | key action f32[1]
  |            ^^^ expected `:` before the spec
  |
  = help: a key declaration reads `key NAME : SPEC`, as in `key action : f32[1] in [-2.0, 2.0]`
  = suggestion: insert ` :` at 1:11
<BLANKLINE>
error: 1 error
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence

import attrs

from rldsl.lang.diagnostics import Diagnostic, Severity, sort_diagnostics
from rldsl.lang.source import SourceFile, Span

__all__ = ["escape_controls", "render_diagnostic", "render_text", "render_json", "summary"]

_TAB = "    "
#: At most this many diagnostics are rendered as text (the summary line still counts them all).
MAX_RENDERED = 200
#: A source line longer than this is shown as a window of this many characters around its marks.
LINE_WINDOW = 160
#: C0/C1 controls, DEL, line and paragraph separators, and the characters that reorder or hide
#: text in a terminal or an editor ("Trojan source" bidirectional controls).
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(c: str) -> str:
    code = ord(c)
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def escape_controls(text: str, keep: str = "") -> str:
    """``text`` with every control character (but those in ``keep``) written as an escape, so that
    printing it cannot change the terminal's state.

    >>> escape_controls("red\x1b[31m text\u202e")
    'red\\\\x1b[31m text\\\\u202e'
    """
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda found: found[0] if found[0] in keep else _escaped(found[0]), text)


@attrs.frozen(slots=True)
class _Style:
    """ANSI escapes for each part of a rendering; all empty when colour is off."""

    error: str = ""
    warning: str = ""
    bold: str = ""
    gutter: str = ""
    secondary: str = ""
    help: str = ""
    reset: str = ""

    def paint(self, style: str, text: str) -> str:
        return f"{style}{text}{self.reset}" if style and text else text

    def severity(self, severity: Severity) -> str:
        return self.error if severity is Severity.ERROR else self.warning


_PLAIN = _Style()
_COLOUR = _Style(
    error="\x1b[1;31m",
    warning="\x1b[1;33m",
    bold="\x1b[1m",
    gutter="\x1b[1;34m",
    secondary="\x1b[1;34m",
    help="\x1b[1;36m",
    reset="\x1b[0m",
)


@attrs.frozen(slots=True)
class _Mark:
    """One underline to draw: a span on one line, primary or secondary, with its label."""

    line: int
    start: int  # 1-based column of the first underlined character
    end: int  # column just after the last one (== start for a position)
    primary: bool
    text: str


def _display_column(line: str, column: int) -> int:
    """Where a 1-based column of ``line`` appears once the line is shown (tabs expanded, controls
    escaped)."""
    before = line[: column - 1]
    return len(_clean(before)) + max(0, column - 1 - len(line))


def _clean(line: str) -> str:
    """A source line as shown: tabs expanded, control characters escaped."""
    return escape_controls(line.replace("\t", _TAB))


def _marks(diagnostic: Diagnostic, source: SourceFile) -> list[_Mark]:
    """Underlines for the primary span and for secondary spans in the same file."""
    marks = [_mark(diagnostic.span, True, diagnostic.label, source)]
    marks += [
        _mark(label.span, False, label.message, source)
        for label in diagnostic.labels
        if label.span.file == diagnostic.span.file
    ]
    return marks


def _mark(span: Span, primary: bool, text: str, source: SourceFile) -> _Mark:
    # A span over several lines is underlined on its first line, up to the end of that line.
    end = span.end_column if span.end_line == span.line else len(source.line_text(span.line)) + 1
    return _Mark(span.line, span.column, max(end, span.column), primary, text)


def _visible(line: str, marks: list[_Mark]) -> tuple[str, list[_Mark]]:
    """A long line cut to a window around its first mark (``...`` where it is cut), and the
    marks moved to match, so that a 100,000-character line prints as one screen line."""
    if len(line) <= LINE_WINDOW:
        return line, marks
    low = max(1, min(m.start for m in marks) - LINE_WINDOW // 4)
    high = min(len(line) + 1, low + LINE_WINDOW)
    head, tail = ("..." if low > 1 else ""), ("..." if high <= len(line) else "")
    shift = low - 1 - len(head)
    last = len(head) + high - low + 1
    moved = [attrs.evolve(m, start=min(m.start - shift, last), end=min(max(m.end, m.start) - shift, last))
             for m in marks]
    return head + line[low - 1 : high - 1] + tail, moved


def _underline(mark: _Mark, line: str, style: _Style, primary_style: str) -> str:
    start = _display_column(line, mark.start)
    end = _display_column(line, mark.end)
    char, paint = ("^", primary_style) if mark.primary else ("-", style.secondary)
    text = " ".join(part for part in (char * max(1, end - start), mark.text) if part)
    return " " * start + style.paint(paint, escape_controls(text))


def _gutter_width(diagnostic: Diagnostic, sources: Mapping[str, SourceFile]) -> int:
    """Digits of the largest line number shown, so that every gutter lines up."""
    spans = [diagnostic.span, *(label.span for label in diagnostic.labels)]
    shown = [s.line for s in spans if s.file in sources and s.line <= sources[s.file].line_count]
    return len(str(max(shown, default=1)))


def _snippet(diagnostic: Diagnostic, source: SourceFile, width: int, style: _Style) -> list[str]:
    """The source lines of the diagnostic's spans in its own file, with underlines. Lines
    between two shown lines are shown too when there is one, else replaced by ``...``."""
    marks = [m for m in _marks(diagnostic, source) if 1 <= m.line <= source.line_count]
    if not marks:
        return []
    bar = style.paint(style.gutter, " " * width + " |")
    out = [bar]
    primary_style = style.severity(diagnostic.severity)
    previous = None
    for number in sorted({m.line for m in marks}):
        if previous is not None and number - previous > 2:
            out.append(style.paint(style.gutter, "..."))
        elif previous is not None and number - previous == 2:
            between = source.line_text(previous + 1)
            out.append(_source_line(previous + 1, between[:LINE_WINDOW] + ("..." if len(between) > LINE_WINDOW else ""),
                                    width, style))
        text, shown = _visible(source.line_text(number), [m for m in marks if m.line == number])
        out.append(_source_line(number, text, width, style))
        for mark in sorted(shown, key=lambda m: (not m.primary, m.start)):
            out.append(f"{bar} {_underline(mark, text, style, primary_style)}".rstrip())
        previous = number
    return out


def _source_line(number: int, text: str, width: int, style: _Style) -> str:
    gutter = style.paint(style.gutter, f"{number:>{width}} |")
    return f"{gutter} {_clean(text)}".rstrip()


def _elsewhere(diagnostic: Diagnostic, sources: Mapping[str, SourceFile], width: int, style: _Style) -> list[str]:
    """Secondary labels in other files: their location, line and label, one block each."""
    out: list[str] = []
    pad = " " * width
    bar = style.paint(style.gutter, pad + " |")
    for label in diagnostic.labels:
        if label.span.file == diagnostic.span.file:
            continue
        out.append(f"{pad}{style.paint(style.gutter, ':::')} {escape_controls(str(label.span))}")
        source = sources.get(label.span.file)
        if source is None or label.span.line > source.line_count:
            out.append(f"{pad} {style.paint(style.gutter, '=')} {escape_controls(label.message)}")
            continue
        text, (mark,) = _visible(source.line_text(label.span.line), [_mark(label.span, False, label.message, source)])
        out += [bar, _source_line(label.span.line, text, width, style)]
        out.append(f"{bar} {_underline(mark, text, style, style.secondary)}".rstrip())
    return out


def render_diagnostic(
    diagnostic: Diagnostic, sources: Mapping[str, SourceFile], *, color: bool = False
) -> str:
    """One diagnostic as text; source lines are shown for the files ``sources`` has."""
    style = _COLOUR if color else _PLAIN
    severity = diagnostic.severity
    head = style.paint(style.severity(severity), f"{severity.value}[{diagnostic.code}]")
    lines = [f"{head}{style.paint(style.bold, ': ' + escape_controls(diagnostic.message))}"]
    width = _gutter_width(diagnostic, sources)
    pad = " " * width
    lines.append(f"{pad}{style.paint(style.gutter, '-->')} {escape_controls(str(diagnostic.span))}")
    source = sources.get(diagnostic.span.file)
    if source is not None:
        lines += _snippet(diagnostic, source, width, style)
    lines += _elsewhere(diagnostic, sources, width, style)
    footer = [("note", note) for note in diagnostic.notes]
    if diagnostic.help:
        footer.append(("help", diagnostic.help))
    if diagnostic.suggestion is not None:
        footer.append(("suggestion", _suggestion_text(diagnostic, sources)))
    if footer:
        lines.append(style.paint(style.gutter, f"{pad} |"))
        for kind, text in footer:
            lines.append(f"{pad} {style.paint(style.gutter, '=')} {style.paint(style.help, kind + ':')} "
                         f"{escape_controls(text)}")
    return "\n".join(lines)


def _suggestion_text(diagnostic: Diagnostic, sources: Mapping[str, SourceFile]) -> str:
    suggestion = diagnostic.suggestion
    assert suggestion is not None
    span = suggestion.span
    where = f"{span.line}:{span.column}"
    if span.is_empty:
        return f"insert `{suggestion.replacement}` at {where}"
    source = sources.get(span.file)
    original = source.text[span.start : span.end] if source is not None else ""
    if original:
        return f"replace `{original}` with `{suggestion.replacement}`"
    return f"replace the text at {where} with `{suggestion.replacement}`"


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    """A closing line such as ``error: 2 errors, 1 warning`` (empty when there is nothing)."""
    errors = sum(1 for d in diagnostics if d.severity is Severity.ERROR)
    warnings = len(diagnostics) - errors
    parts = [f"{n} {word}{'s' if n != 1 else ''}" for n, word in ((errors, "error"), (warnings, "warning")) if n]
    if not parts:
        return ""
    return f"{'error' if errors else 'warning'}: {', '.join(parts)}"


def render_text(
    diagnostics: Iterable[Diagnostic], sources: Mapping[str, SourceFile], *, color: bool = False
) -> str:
    """All diagnostics in reporting order, a blank line apart, then the summary line."""
    ordered = sort_diagnostics(diagnostics)
    blocks = [render_diagnostic(d, sources, color=color) for d in ordered[:MAX_RENDERED]]
    if len(ordered) > MAX_RENDERED:
        blocks.append(f"... and {len(ordered) - MAX_RENDERED:,} more not shown: fix the ones above first "
                      "(`--format json` lists them all)")
    closing = summary(ordered)
    if closing:
        style = _COLOUR if color else _PLAIN
        severity = Severity.ERROR if closing.startswith("error") else Severity.WARNING
        word, rest = closing.split(":", 1)
        blocks.append(style.paint(style.severity(severity), word) + ":" + rest)
    return "\n\n".join(blocks)


def render_json(diagnostics: Iterable[Diagnostic], *, indent: int | None = 2) -> str:
    """The diagnostics as a JSON document: ``{"diagnostics": [...], "errors": n, "warnings": m}``."""
    ordered = sort_diagnostics(diagnostics)
    errors = sum(1 for d in ordered if d.severity is Severity.ERROR)
    document = {
        "diagnostics": [d.to_dict() for d in ordered],
        "errors": errors,
        "warnings": len(ordered) - errors,
    }
    return escape_json(json.dumps(document, indent=indent, ensure_ascii=False))


def escape_json(text: str) -> str:
    """JSON text with the control characters ``json.dumps`` leaves alone (DEL, C1, separators,
    bidirectional controls) written as ``\\u`` escapes of four hex digits: the same document, safe to print."""
    if _CONTROLS.search(text) is None:
        return text
    return _CONTROLS.sub(lambda found: found[0] if found[0] == "\n" else f"\\u{ord(found[0]):04x}", text)
