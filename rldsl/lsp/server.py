"""The language server: ``rldsl lsp``, on pygls, speaking LSP over standard input and output.

Every open `.rlm` document is checked when it is opened and on every change (checking a model
takes milliseconds; torch is never imported), and its diagnostics are published; a save checks
every open document again, since it may be included by another. Requests are answered from the
document's last analysis (:mod:`rldsl.lsp.analysis`): hover, completion, go to definition,
formatting and the checker's suggested fixes as quick fixes, each in its own module. An included
file is read from disk: a change to it reaches the documents including it when it is saved. The
server reads only the documents the editor sends and the files they include, within the
command's read limits, and imports or runs nothing a model names.
"""

from __future__ import annotations

import os

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from rldsl import __version__
from rldsl.lang.includes import ReadLimits
from rldsl.lsp.actions import quick_fixes
from rldsl.lsp.analysis import Analysis, analyze
from rldsl.lsp.completion import completions, resolve
from rldsl.lsp.definition import definition
from rldsl.lsp.diagnostics import lsp_diagnostics
from rldsl.lsp.formatting import format_document
from rldsl.lsp.hover import hover

__all__ = ["RldslLanguageServer", "build_server", "serve"]

#: The characters after which the editor asks for completions without being asked.
TRIGGER_CHARACTERS = ["(", ",", ".", "=", "[", ":", ">"]


class RldslLanguageServer(LanguageServer):
    """A pygls server holding the read limits and the last analysis of each open document."""

    def __init__(self, limits: ReadLimits = ReadLimits()) -> None:
        super().__init__("rldsl", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Incremental)
        self.limits = limits
        self.analyses: dict[str, Analysis] = {}

    @property
    def encoding(self) -> str:
        """The position encoding agreed with the client (``utf-16`` unless it offered another)."""
        chosen = self.workspace.position_encoding
        return str(getattr(chosen, "value", chosen) or "utf-16")

    def analysis(self, uri: str) -> Analysis | None:
        """The document's analysis, made now if its text changed since the last one."""
        document = self.workspace.get_text_document(uri)
        current = self.analyses.get(uri)
        if current is not None and current.text == document.source:
            return current
        return self.refresh(uri)

    def refresh(self, uri: str) -> Analysis | None:
        """Check the document again and publish its diagnostics; None (and a log message) if the
        checker failed on it, which is a bug in rldsl."""
        document = self.workspace.get_text_document(uri)
        name = _file_name(uri)
        try:
            result = analyze(uri, name, document.source, limits=self.limits, encoding=self.encoding,
                             previous=self.analyses.get(uri))
            diagnostics = lsp_diagnostics(result)
        except Exception as error:  # noqa: BLE001 (a checker bug must not stop the editor's server)
            self.window_log_message(types.LogMessageParams(
                types.MessageType.Error, f"rldsl: internal error checking {name}: {type(error).__name__}: {error}"))
            return None
        self.analyses[uri] = result
        self.text_document_publish_diagnostics(
            types.PublishDiagnosticsParams(uri=uri, diagnostics=diagnostics, version=document.version))
        return result

    def forget(self, uri: str) -> None:
        """Drop a closed document's analysis and clear its diagnostics."""
        self.analyses.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _file_name(uri: str) -> str:
    """The file name a document is checked under: its path for a file on disk (so that its
    includes are found beside it), the URI itself otherwise."""
    path = to_fs_path(uri) if uri.startswith("file:") else None
    return os.path.normpath(path) if path else uri


def build_server(limits: ReadLimits = ReadLimits()) -> RldslLanguageServer:
    """A server with every feature registered (not started)."""
    server = RldslLanguageServer(limits)

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: RldslLanguageServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: RldslLanguageServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.refresh(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: RldslLanguageServer, params: types.DidSaveTextDocumentParams) -> None:
        for uri in list(ls.analyses):  # a saved file may be included by any open document
            ls.refresh(uri)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: RldslLanguageServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: RldslLanguageServer, params: types.HoverParams) -> types.Hover | None:
        analysis = ls.analysis(params.text_document.uri)
        return hover(analysis, params.position) if analysis is not None else None

    @server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=TRIGGER_CHARACTERS,
                                                                            resolve_provider=True))
    def on_completion(ls: RldslLanguageServer, params: types.CompletionParams) -> types.CompletionList:
        analysis = ls.analysis(params.text_document.uri)
        items = completions(analysis, params.position) if analysis is not None else []
        return types.CompletionList(is_incomplete=False, items=items)

    @server.feature(types.COMPLETION_ITEM_RESOLVE)
    def on_resolve(ls: RldslLanguageServer, item: types.CompletionItem) -> types.CompletionItem:
        return resolve(item)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: RldslLanguageServer, params: types.DefinitionParams) -> types.Location | None:
        analysis = ls.analysis(params.text_document.uri)
        return definition(analysis, params.position) if analysis is not None else None

    @server.feature(types.TEXT_DOCUMENT_CODE_ACTION,
                    types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix]))
    def on_code_action(ls: RldslLanguageServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        analysis = ls.analysis(params.text_document.uri)
        return quick_fixes(analysis, params.range) if analysis is not None else []

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    def on_formatting(ls: RldslLanguageServer, params: types.DocumentFormattingParams) -> list[types.TextEdit] | None:
        uri = params.text_document.uri
        return format_document(ls.workspace.get_text_document(uri).source, _file_name(uri), ls.encoding)

    return server


def serve(limits: ReadLimits = ReadLimits()) -> None:
    """Run the language server on standard input and output until the editor says exit."""
    build_server(limits).start_io()
