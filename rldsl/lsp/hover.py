"""Hover: what the word under the cursor is, in the checker's words.

On a key, its inferred spec and where it comes from (declared, an env, the module that writes
it) with the steps that made it and the keys they read (``rldsl check --explain-types``); on a
kind, its summary, default keys, type rule and parameters; on a keyword argument, the parameter
it sets; on a module, the keys it reads and writes with their specs; on a dim, an env, a dtype or
an include, what it stands for.
"""

from __future__ import annotations

from lsprotocol import types

from rldsl.lang import ast
from rldsl.lang.ir import ModuleNode
from rldsl.lang.kinds import lookup
from rldsl.lang.printer import expr_source
from rldsl.lang.report import KeyInfo
from rldsl.lang.types import spec_text
from rldsl.lsp.analysis import Analysis, include_at
from rldsl.lsp.index import Target
from rldsl.lsp.kinddocs import kind_markdown, param_markdown

__all__ = ["hover", "hover_markdown"]

#: The longest declaration body a module's hover quotes.
_BODY_CHARS = 240


def hover(analysis: Analysis, position: types.Position) -> types.Hover | None:
    """The hover of the word at ``position``, or None when it names nothing known."""
    target = analysis.target(position)
    if target is None:
        return None
    text = hover_markdown(analysis, target)
    if not text:
        return None
    return types.Hover(types.MarkupContent(types.MarkupKind.Markdown, text), analysis.range(target.span))


def hover_markdown(analysis: Analysis, target: Target) -> str:
    """The markdown shown for ``target`` (empty when there is nothing to say)."""
    describe = {"key": _key, "kind": _kind, "param": _param, "module": _module, "dim": _dim, "env": _env,
                "dtype": _dtype, "include": _include}[target.what]
    return describe(analysis, target)


def _code(text: str) -> str:
    return f"```rlm\n{text}\n```"


def _spec_of(analysis: Analysis, path: tuple[str, ...]) -> str:
    info = analysis.keys.get(path)
    return spec_text(info.spec) if info is not None else "?"


def _key(analysis: Analysis, target: Target) -> str:
    info = analysis.keys.get(target.path)
    if info is not None:
        return _key_info(analysis, info)
    if analysis.report.checked:
        why = "no spec: nothing declares or writes this key, or what writes it has errors"
    else:
        why = "not typed yet: fix the syntax errors first"
    return f"{_code(f'key {target.name}')}\n\n{why}"


def _key_info(analysis: Analysis, info: KeyInfo) -> str:
    """A key's spec, its source, the steps that made it, what they read and the rules they follow."""
    parts = [_code(f"key {info.dotted} : {spec_text(info.spec)}"), info.source]
    if info.why.steps:
        parts.append("\n".join(f"- by {step}" for step in info.why.steps))
    if info.why.inputs:
        parts.append("from " + ", ".join(f"`{'.'.join(path)}` : {_spec_of(analysis, path)}"
                                         for path in info.why.inputs))
    if info.why.rules:
        parts.append("rules:\n" + "\n".join(f"- {rule}" for rule in info.why.rules))
    return "\n\n".join(parts)


def _kind(analysis: Analysis, target: Target) -> str:
    kind = lookup(target.name)
    return kind_markdown(kind) if kind is not None else ""


def _param(analysis: Analysis, target: Target) -> str:
    kind = lookup(target.kind or "")
    param = kind.param(target.name) if kind is not None else None
    return param_markdown(kind, param) if param is not None else ""


def _module(analysis: Analysis, target: Target) -> str:
    decl = analysis.symbols.modules.get(target.name)
    if decl is None:
        return ""
    body = expr_source(decl.body)
    if len(body) > _BODY_CHARS:
        body = body[:_BODY_CHARS] + " ..."
    parts = [_code(f"{decl.role.value} {decl.name.value} = {body}")]
    node = analysis.report.modules.get(target.name)
    if isinstance(node, ModuleNode):
        reads = [*node.reads, *node.optional_reads]
        parts.append("reads: " + (", ".join(f"`{ref.dotted}` : {_spec_of(analysis, ref.path)}" for ref in reads)
                                  or "nothing"))
        parts.append("writes: " + (", ".join(f"`{ref.dotted}` : {_spec_of(analysis, ref.path)}"
                                             for ref in node.own_writes) or "nothing of its own"))
    elif node is not None:
        parts.append("a network: it reads and writes no keys itself; a module that uses it does")
    return "\n\n".join(parts)


def _dim(analysis: Analysis, target: Target) -> str:
    decl = analysis.symbols.dims.get(target.name)
    if decl is None:
        return ""
    if decl.value is None:
        return f"{_code(f'dim {target.name}')}\n\na dimension of any size"
    return _code(f"dim {target.name} = {expr_source(decl.value)}")


def _env(analysis: Analysis, target: Target) -> str:
    decl = analysis.symbols.envs.get(target.name)
    if decl is None:
        return ""
    options = "".join(f", {keyword.name.value}={expr_source(keyword.value)}" for keyword in decl.kwargs)
    parts = [_code(f"env {target.name} = gym({expr_source(decl.env_id)}{options})")]
    given = [info for info in analysis.keys.values() if info.source.startswith(f"env `{target.name}`")]
    if given:
        parts.append("gives:\n" + "\n".join(f"- `{info.dotted}` : {spec_text(info.spec)}" for info in given))
    return "\n\n".join(parts)


def _dtype(analysis: Analysis, target: Target) -> str:
    torch_name = ast.DTYPES.get(target.name)
    return f"dtype `{target.name}`: `torch.{torch_name}`" if torch_name else ""


def _include(analysis: Analysis, target: Target) -> str:
    include = include_at(analysis, target)
    if include is None:
        return ""
    loaded = analysis.program.target(include)
    return f"includes `{loaded}`" if loaded else f"`{target.name}` was not loaded"
