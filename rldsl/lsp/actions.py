"""Quick fixes: the exact edits the checker proposes, offered as code actions.

Some diagnostics carry a machine-applicable fix (:class:`~rldsl.lang.diagnostics.Suggestion`): a
misspelt parameter's right name (``out_fetures`` -> ``out_features``), a missing ``:`` or ``=``,
the width an ``out_features`` needs. Each one in the document whose span touches the range the
editor asks about becomes a quick fix that makes that edit.
"""

from __future__ import annotations

from lsprotocol import types

from rldsl.lang.diagnostics import Diagnostic
from rldsl.lsp.analysis import Analysis

__all__ = ["quick_fixes"]


def quick_fixes(analysis: Analysis, wanted: types.Range) -> list[types.CodeAction]:
    """A quick fix for each diagnostic of the document with a suggested edit touching ``wanted``."""
    start = analysis.offset(wanted.start)
    end = analysis.offset(wanted.end)
    return [_action(analysis, diagnostic) for diagnostic in analysis.report.diagnostics
            if diagnostic.suggestion is not None and diagnostic.suggestion.span.file == analysis.name
            and diagnostic.span.start <= end and start <= diagnostic.span.end]


def _action(analysis: Analysis, diagnostic: Diagnostic) -> types.CodeAction:
    fix = diagnostic.suggestion
    title = f"insert `{fix.replacement.strip()}`" if fix.span.is_empty else f"replace with `{fix.replacement}`"
    edit = types.TextEdit(analysis.range(fix.span), fix.replacement)
    return types.CodeAction(
        title=f"{title} ({diagnostic.code})",
        kind=types.CodeActionKind.QuickFix,
        edit=types.WorkspaceEdit(changes={analysis.uri: [edit]}),
        is_preferred=True,
    )
