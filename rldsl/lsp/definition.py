"""Go to definition: where the name under the cursor is declared, in whichever file of the model.

A key goes to its ``key`` declaration (a composite's field to the field), a key an env gives to
the ``env`` declaration, and a key no declaration gives to the module that first writes it (the
key named after ``->``, or the module's name for a kind's default key such as ``state_value``); a
module, dim or env goes to its declaration, an include to the file it loaded. Kinds and dtypes are
rldsl's own: they have no definition in the model.
"""

from __future__ import annotations

from lsprotocol import types

from rldsl.lang import ast
from rldsl.lang.source import Span
from rldsl.lsp.analysis import Analysis, include_at
from rldsl.lsp.index import Target

__all__ = ["definition", "definition_span"]


def definition(analysis: Analysis, position: types.Position) -> types.Location | None:
    """The location of the definition of the word at ``position``, or None."""
    target = analysis.target(position)
    if target is None:
        return None
    if target.what == "include":
        return _included_file(analysis, target)
    span = definition_span(analysis, target)
    return analysis.location(span) if span is not None else None


def definition_span(analysis: Analysis, target: Target) -> Span | None:
    """The span that defines ``target`` (a key, module, dim or env), or None."""
    symbols = analysis.symbols
    if target.what == "key":
        return _key_definition(analysis, target)
    table = {"module": symbols.modules, "dim": symbols.dims, "env": symbols.envs}.get(target.what)
    decl = table.get(target.name) if table is not None else None
    return decl.name.span if decl is not None else None


def _key_definition(analysis: Analysis, target: Target) -> Span | None:
    """A key's declaration (its field, for a nested key), its env's, or its first writer."""
    symbols = analysis.symbols
    decl = symbols.keys.get(target.path[0])
    if decl is not None:
        return _field(decl, target.path[1:]) or decl.name.span
    env = target.env or _env_of(analysis, target.path)
    if env is not None and env in symbols.envs:
        return symbols.envs[env].name.span
    return symbols.writer(target.path)


def _field(decl: ast.KeyDecl, path: tuple[str, ...]) -> Span | None:
    """The name of the field ``path`` inside a composite key declaration, or None."""
    spec: ast.Spec = decl.spec
    found = None
    for word in path:
        fields = spec.fields if isinstance(spec, ast.CompositeSpec) else ()
        field = next((f for f in fields if f.name.value == word), None)
        if field is None:
            return found
        found, spec = field.name.span, field.spec
    return found


def _env_of(analysis: Analysis, path: tuple[str, ...]) -> str | None:
    """The env that gives key ``path``, as the checker says (``env `pendulum```), or None."""
    info = analysis.keys.get(path)
    if info is None or not info.source.startswith("env `"):
        return None
    return info.source[len("env `"):].split("`", 1)[0]


def _included_file(analysis: Analysis, target: Target) -> types.Location | None:
    """The start of the file an include loaded."""
    include = include_at(analysis, target)
    loaded = analysis.program.target(include) if include is not None else None
    if loaded is None:
        return None
    start = types.Position(0, 0)
    return types.Location(analysis.uri_of(loaded), types.Range(start, start))
