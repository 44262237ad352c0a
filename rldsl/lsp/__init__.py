"""Editor support: the language server ``rldsl lsp`` (on pygls, the optional extra ``rldsl[lsp]``).

The server checks every open `.rlm` document as it is typed and answers the editor from rldsl's
own checker: diagnostics with their ranges, hover (a key's inferred spec and why, a kind's
parameters and rule), completion (kinds, parameters, keys, dims), go to definition, formatting
(``rldsl fmt``) and quick fixes. Like ``rldsl check`` it never imports torch, and never imports
or runs anything a model names.

The modules, one job each: :mod:`~rldsl.lsp.server` (pygls: the protocol, the open documents),
:mod:`~rldsl.lsp.analysis` (a document checked), :mod:`~rldsl.lsp.positions` (rldsl's offsets to
the editor's positions), :mod:`~rldsl.lsp.symbols` (the model's declarations),
:mod:`~rldsl.lsp.index` (what is under the cursor), :mod:`~rldsl.lsp.cursor` (the completion
context from the text before the cursor), :mod:`~rldsl.lsp.kinddocs` (a kind in words), and one
module per feature: :mod:`~rldsl.lsp.diagnostics`, :mod:`~rldsl.lsp.hover`,
:mod:`~rldsl.lsp.completion`, :mod:`~rldsl.lsp.definition`, :mod:`~rldsl.lsp.formatting`,
:mod:`~rldsl.lsp.actions` (the checker's suggested edits as quick fixes).

This package imports pygls only in the modules that need it; importing ``rldsl.lsp`` itself
needs nothing beyond rldsl.
"""

#: What to run when pygls is missing.
INSTALL_HINT = "pip install 'rldsl[lsp]'"

__all__ = ["INSTALL_HINT"]
