"""The checker's diagnostics as the editor's: every problem of the document, with its range.

Each rldsl diagnostic becomes one LSP diagnostic with its code, severity and range; the message
carries the label under the span, the notes and the help (``help: did you mean `observation`?``),
and each secondary label is related information at its own place. A problem inside an included
file is shown at the document's ``include`` that brought that file in, its message starting with
the file and line it is in, and its real place as related information: the document is where the
user can see it.
"""

from __future__ import annotations

from collections.abc import Iterator

from lsprotocol import types

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Severity
from rldsl.lang.source import Span
from rldsl.lsp.analysis import Analysis

__all__ = ["SOURCE", "lsp_diagnostics"]

#: The name the editor shows as where a diagnostic comes from.
SOURCE = "rldsl"

_SEVERITY = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}


def lsp_diagnostics(analysis: Analysis) -> list[types.Diagnostic]:
    """Every diagnostic of the document's check, in reporting order."""
    through = _includes_reaching(analysis)
    return [_convert(analysis, diagnostic, through) for diagnostic in analysis.report.diagnostics]


def _convert(analysis: Analysis, diagnostic: Diagnostic, through: dict[str, Span]) -> types.Diagnostic:
    span = diagnostic.span
    message = _message(diagnostic)
    related = [types.DiagnosticRelatedInformation(analysis.location(label.span), label.message or "here")
               for label in diagnostic.labels]
    if span.file != analysis.name:
        related.insert(0, types.DiagnosticRelatedInformation(analysis.location(span), diagnostic.label or "here"))
        message = f"in {span.file}:{span.line}:{span.column}: {message}"
        span = through.get(span.file) or Span(analysis.name, 1, 1, 1, 1, 0, 0)
    return types.Diagnostic(
        range=analysis.range(span),
        message=message,
        severity=_SEVERITY.get(diagnostic.severity, types.DiagnosticSeverity.Error),
        code=diagnostic.code,
        source=SOURCE,
        related_information=related or None,
    )


def _message(diagnostic: Diagnostic) -> str:
    """The message, then the primary label, the notes and the help, one per line."""
    lines = [diagnostic.message]
    if diagnostic.label:
        lines.append(diagnostic.label)
    lines += [f"note: {note}" for note in diagnostic.notes]
    if diagnostic.help:
        lines.append(f"help: {diagnostic.help}")
    return "\n".join(lines)


def _includes_reaching(analysis: Analysis) -> dict[str, Span]:
    """For each file the document includes, directly or not, the span of the document's include
    it was reached through first."""
    program, module = analysis.program, analysis.module
    reached: dict[str, Span] = {}
    for include in _includes(module):
        stack = [program.target(include)]
        while stack:
            file = stack.pop()
            if file is None or file in reached or file == analysis.name:
                continue
            reached[file] = include.span
            stack.extend(program.target(inner) for inner in _includes(program.modules.get(file)))
    return reached


def _includes(module: ast.Module | None) -> Iterator[ast.Include]:
    return (decl for decl in module.body if isinstance(decl, ast.Include)) if module is not None else iter(())
