"""Formatting: the document in rldsl's canonical layout, as ``rldsl fmt`` writes it.

The whole document is replaced by one edit (comments kept, as ``rldsl fmt`` keeps them); a text
already in the canonical layout needs no edit, and one with syntax errors is left alone (no edit:
its diagnostics say what to fix), as ``rldsl fmt`` leaves such a file.
"""

from __future__ import annotations

from lsprotocol import types

from rldsl.lang.printer import format_source
from rldsl.lang.source import SourceFile
from rldsl.lsp.positions import Positions

__all__ = ["format_document"]

_BOM = "\ufeff"


def format_document(text: str, name: str, encoding: str = "utf-16") -> list[types.TextEdit] | None:
    """The edits that format ``text`` (the file ``name``): one whole-document edit, none when it
    is formatted already, or None when it does not parse."""
    bom = _BOM if text.startswith(_BOM) else ""
    try:
        formatted, errors = format_source(SourceFile(name, text[len(bom):]))
    except ValueError:  # the printer would change the model's meaning: never apply that
        return None
    if formatted is None:
        return None
    formatted = bom + formatted
    if formatted == text:
        return []
    line, character = Positions(text, encoding).end()
    whole = types.Range(types.Position(0, 0), types.Position(line, character))
    return [types.TextEdit(whole, formatted)]
