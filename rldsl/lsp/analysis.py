"""One open document, checked: what every feature of the language server reads.

:func:`analyze` loads the editor's text as the model file it is (its includes read from disk
relative to it, within the command's read limits), checks it with rldsl's checker, and keeps the
result with the conversions between rldsl's spans and the editor's positions. Checking a model
never imports torch and never runs or imports anything the model names; neither does this.

While the text has a syntax error the checker stops before typing keys; the keys of the last
analysis that did type them are kept (:attr:`Analysis.keys`), so that hover and completion keep
working while a line is being written.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping

import attrs
from lsprotocol import types

from rldsl.lang import ast
from rldsl.lang.check import check_program
from rldsl.lang.includes import Program, ReadLimits, load_text
from rldsl.lang.report import KeyInfo, Report
from rldsl.lang.source import Span
from rldsl.lsp.index import Target, target_at
from rldsl.lsp.positions import Positions
from rldsl.lsp.symbols import Symbols, symbols_of

__all__ = ["Analysis", "analyze", "include_at", "uri_of_file"]


def uri_of_file(name: str) -> str:
    """The ``file:`` URI of a file name as rldsl's spans hold it (a relative one from the current
    directory, as the loader read it)."""
    return pathlib.Path(os.path.abspath(name)).as_uri()


@attrs.define(slots=True, frozen=True)
class Analysis:
    """A document's text, the program loaded from it, its report and its symbols.

    ``name`` is the file name rldsl's spans use for the document (its path for a file on disk);
    ``keys`` is every key with its spec and why, from this report or, when this text did not get
    that far, from the last one that did."""

    uri: str
    name: str
    text: str
    program: Program
    report: Report
    symbols: Symbols
    keys: Mapping[tuple[str, ...], KeyInfo]
    encoding: str = "utf-16"
    _positions: dict[str, Positions] = attrs.field(factory=dict, repr=False, eq=False)

    @property
    def module(self) -> ast.Module | None:
        """The document's own syntax tree (None when it could not be read as text)."""
        return self.program.modules.get(self.name)

    @property
    def source_text(self) -> str:
        """The document's text as rldsl's spans index it (a leading byte-order mark dropped)."""
        source = self.program.sources.get(self.name)
        return source.text if source is not None else self.text

    def positions(self, file: str) -> Positions | None:
        """The position conversions of the document, or of a file it includes (None for a file
        the program did not read)."""
        if file not in self._positions:
            if file == self.name:
                text = self.text
            elif file in self.program.sources:
                text = self.program.sources[file].text
            else:
                return None
            self._positions[file] = Positions(text, self.encoding)
        return self._positions[file]

    def offset(self, position: types.Position) -> int:
        """rldsl's character offset in the document of an editor position."""
        return self.positions(self.name).offset(position.line, position.character)

    def target(self, position: types.Position) -> Target | None:
        """What the word at an editor position names (:func:`~rldsl.lsp.index.target_at`)."""
        module = self.module
        if module is None:
            return None
        return target_at(module, self.offset(position), self.source_text, self.symbols, self.keys)

    def uri_of(self, file: str) -> str:
        """The URI of the document, or of another file a span names."""
        return self.uri if file == self.name else uri_of_file(file)

    def range(self, span: Span) -> types.Range:
        """The editor range of a span; a span in a file the program did not read is the start of
        the document."""
        positions = self.positions(span.file)
        if positions is None:
            return types.Range(types.Position(0, 0), types.Position(0, 0))
        (line, character), (end_line, end_character) = positions.range(span)
        return types.Range(types.Position(line, character), types.Position(end_line, end_character))

    def location(self, span: Span) -> types.Location:
        """The editor location of a span, in whichever file it is."""
        return types.Location(self.uri_of(span.file), self.range(span))


def include_at(analysis: Analysis, target: Target) -> ast.Include | None:
    """The document's include whose path ``target`` is (an ``include`` target)."""
    module = analysis.module
    for decl in module.body if module is not None else ():
        if isinstance(decl, ast.Include) and decl.path.span == target.span:
            return decl
    return None


def analyze(uri: str, name: str, text: str, *, limits: ReadLimits = ReadLimits(), encoding: str = "utf-16",
            previous: Analysis | None = None) -> Analysis:
    """Load and check ``text`` as the file ``name`` (includes read relative to it) and index it.

    ``previous`` is the document's last analysis: its keys are kept when this text has syntax errors."""
    program = load_text(text, name, limits)
    report = check_program(program)
    if report.checked or previous is None:
        keys = {key.path: key for key in report.keys}
    else:
        keys = previous.keys
    return Analysis(uri, name, text, program, report, symbols_of(program, report), keys, encoding)
