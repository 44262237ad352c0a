"""The rldsl language front end: source text, AST, parser, includes, diagnostics, rendering.

Pure Python: nothing under ``rldsl.lang`` imports torch, so checking a model starts fast.
The parse function is ``rldsl.lang.parse.parse`` (the package does not re-export it, so that
the name ``rldsl.lang.parse`` always means the module).

>>> from rldsl.lang.parse import parse
>>> module, diagnostics = parse("key observation : f32[3]", "a.rlm")
>>> type(module.body[0]).__name__, diagnostics
('KeyDecl', [])
"""

from rldsl.lang.diagnostics import CODES, Diagnostic, Label, Severity, Suggestion, explain
from rldsl.lang.includes import Program, load_program
from rldsl.lang.parse import parse_source
from rldsl.lang.render import render_json, render_text
from rldsl.lang.source import SourceFile, Span

__all__ = [
    "CODES",
    "Diagnostic",
    "Label",
    "Program",
    "Severity",
    "SourceFile",
    "Span",
    "Suggestion",
    "explain",
    "load_program",
    "parse_source",
    "render_json",
    "render_text",
]
