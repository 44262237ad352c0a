"""Diagnostics as data.

A :class:`Diagnostic` says what is wrong (code, message), where (a primary span and labelled
secondary spans) and how to fix it (help, notes, an optional replacement). Finding problems and
rendering them are separate steps: :mod:`rldsl.lang.render` turns diagnostics into text or JSON.

Every code a diagnostic may carry is registered once, in the code table of
:mod:`rldsl.lang.codes` (:data:`CODE_TABLE`, :data:`GROUPS`, :data:`CODES`); this module
re-exports those names, with :func:`explain` and :func:`codes_markdown`, so that diagnostics and
their codes are imported from one place.
"""

from __future__ import annotations

from collections.abc import Iterable

import attrs

from rldsl.lang.codes import CODE_TABLE, CODES, GROUPS, CodeInfo, Severity, codes_markdown, explain
from rldsl.lang.source import Span

__all__ = [
    "CODE_TABLE",
    "CODES",
    "GROUPS",
    "CodeInfo",
    "Diagnostic",
    "Label",
    "Severity",
    "Suggestion",
    "codes_markdown",
    "explain",
    "has_errors",
    "sort_diagnostics",
]


@attrs.frozen(slots=True)
class Label:
    """A secondary span with a short text shown beside its underline."""

    span: Span
    message: str = ""


@attrs.frozen(slots=True)
class Suggestion:
    """A machine-applicable fix: replace the text of ``span`` (empty: insert) by ``replacement``."""

    span: Span
    replacement: str


def _check_registered(_instance: object, _attribute: attrs.Attribute, code: str) -> None:
    if code not in CODES:
        raise ValueError(f"diagnostic code {code!r} is not registered in CODE_TABLE")


@attrs.frozen(slots=True)
class Diagnostic:
    """One problem found in a model, with everything needed to show and fix it.

    ``label`` is the short text under the primary span; ``labels`` are secondary spans;
    ``notes`` add context, ``help`` says how to fix it and ``suggestion`` is an exact edit.

    >>> from rldsl.lang.source import Span
    >>> d = Diagnostic("E0107", "missing `:`", Span("a.rlm", 1, 17, 1, 20, 16, 19))
    >>> d.severity.value, str(d.span)
    ('error', 'a.rlm:1:17')
    """

    code: str = attrs.field(validator=_check_registered)
    message: str
    span: Span
    label: str = ""
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str = ""
    suggestion: Suggestion | None = None

    @property
    def severity(self) -> Severity:
        """Error or warning, as registered for the code."""
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, then position, then code: how diagnostics are reported."""
        return (self.span.file, self.span.start, self.span.end, self.code)

    def to_dict(self) -> dict[str, object]:
        """Plain data with every field, for ``--format json``."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "span": self.span.to_dict(),
            "label": self.label,
            "labels": [{"span": lab.span.to_dict(), "message": lab.message} for lab in self.labels],
            "notes": list(self.notes),
            "help": self.help,
            "suggestion": (
                None
                if self.suggestion is None
                else {"span": self.suggestion.span.to_dict(), "replacement": self.suggestion.replacement}
            ),
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in reporting order (see :meth:`Diagnostic.sort_key`)."""
    return sorted(diagnostics, key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error (warnings alone do not fail a check)."""
    return any(d.is_error for d in diagnostics)
