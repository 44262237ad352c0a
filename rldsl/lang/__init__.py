"""The rldsl language: source text, AST, parser, includes, diagnostics, rendering, and the
checker (kind registry, static spec types, resolution, key flow, type inference).

Pure Python: nothing under ``rldsl.lang`` imports torch, so checking a model starts fast.
The parse function is ``rldsl.lang.parse.parse`` (the package does not re-export it, so that
the name ``rldsl.lang.parse`` always means the module); the checker's entry points are
``check_program`` and ``check_text`` (from ``rldsl.lang.check``), each returning a
:class:`~rldsl.lang.report.Report` (``CheckResult`` is its older name).

>>> from rldsl.lang.parse import parse
>>> module, diagnostics = parse("key observation : f32[3]", "a.rlm")
>>> type(module.body[0]).__name__, diagnostics
('KeyDecl', [])
>>> check_text("key observation : f32[3]", "a.rlm").ok
True
"""

from rldsl.lang.check import CheckResult, check_program, check_text
from rldsl.lang.diagnostics import CODES, Diagnostic, Label, Severity, Suggestion, explain
from rldsl.lang.includes import Program, load_program
from rldsl.lang.parse import parse_source
from rldsl.lang.render import render_json, render_text
from rldsl.lang.report import KeyInfo, Report
from rldsl.lang.source import SourceFile, Span

__all__ = [
    "CODES",
    "CheckResult",
    "KeyInfo",
    "Diagnostic",
    "Label",
    "Program",
    "Report",
    "Severity",
    "SourceFile",
    "Span",
    "Suggestion",
    "check_program",
    "check_text",
    "explain",
    "load_program",
    "parse_source",
    "render_json",
    "render_text",
]
