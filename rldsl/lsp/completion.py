"""Completion: kinds, the parameters of the kind being called, keys, modules, dims and keywords.

What is offered depends on where the cursor is (:func:`~rldsl.lsp.cursor.cursor_at`):

- inside a kind's parentheses, the parameters it has not been given yet (``out_features=``,
  with their type, default and meaning), then what an argument can be;
- after ``name=`` in a call, what that parameter takes: keys for a key, modules for a module,
  distributions for ``dist=``, activations for ``activation_class=``, the listed values of a
  choice, ``true``/``false``;
- after ``->`` or ``:`` in a module declaration, keys; after ``=``, kinds and modules; after
  ``:`` in a key declaration, dtypes, spec types, keys and envs; in brackets, dims;
- after ``pendulum.``, the keys that env gives; after ``action.``, the spec's attributes;
- at the start of a declaration, the declaration keywords.

Kinds come with their summary; their full description is filled in when the editor asks for one
item (``completionItem/resolve``), not sent for all of them every time.
"""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types

from rldsl.lang import ast
from rldsl.lang.kinds import BY_NAME, ArgType, Family, Kind, lookup
from rldsl.lang.printer import expr_source
from rldsl.lang.resolve import ATTRIBUTES
from rldsl.lang.spec_types import CALL_TYPES
from rldsl.lang.types import spec_text
from rldsl.lsp.analysis import Analysis
from rldsl.lsp.cursor import DECLARATION_KEYWORDS, Cursor, cursor_at
from rldsl.lsp.kinddocs import kind_markdown, param_detail

__all__ = ["completions", "resolve"]

_K = types.CompletionItemKind
_LITERALS = ("true", "false", "none", "inf")
_FIRST, _THEN = "0", "1"  # sort groups: what fits best first
_ROLES = ("module", "actor", "value", "explore")


def completions(analysis: Analysis, position: types.Position) -> list[types.CompletionItem]:
    """What may be written at ``position``."""
    cursor = cursor_at(analysis.source_text, analysis.offset(position))
    if cursor.quiet:
        return []
    if cursor.dotted:
        return _after_dot(analysis, cursor.dotted)
    if cursor.call is not None:
        return _in_call(analysis, cursor)
    return _in_declaration(analysis, cursor)


def resolve(item: types.CompletionItem) -> types.CompletionItem:
    """Fill in a kind item's description (its parameters, rule and keys)."""
    data = item.data if isinstance(item.data, dict) else {}
    kind = lookup(str(data.get("kind", "")))
    if kind is not None and item.documentation is None:
        item.documentation = types.MarkupContent(types.MarkupKind.Markdown, kind_markdown(kind))
    return item


# ---------------------------------------------------------------------------------------------
# Where the cursor is


def _in_call(analysis: Analysis, cursor: Cursor) -> list[types.CompletionItem]:
    """Inside a call's parentheses: its parameters, or the value of the one being written."""
    kind = _called_kind(cursor)
    if kind is None:
        return _values(analysis)
    if cursor.argument is not None:
        param = kind.param(cursor.argument)
        return _argument_values(analysis, param.type, param.choices) if param is not None else _values(analysis)
    if cursor.bracket != "(":
        return _values(analysis)
    return _params(kind, cursor.given) + _values(analysis, group=_THEN)


def _called_kind(cursor: Cursor) -> Kind | None:
    """The kind being called; for ``dict(`` given to a parameter of another kind's arguments
    (``cnn_kwargs=dict(``), that inner kind."""
    if cursor.call == "dict" and cursor.outer is not None:
        owner = lookup(cursor.outer[0])
        param = owner.param(cursor.outer[1]) if owner is not None else None
        if param is not None and param.of and not param.of.startswith("@"):
            return lookup(param.of)
    return lookup(cursor.call or "")


def _in_declaration(analysis: Analysis, cursor: Cursor) -> list[types.CompletionItem]:
    """Outside calls: by the declaration the cursor is in, and the part of it."""
    declaration, seen = cursor.declaration, cursor.seen
    if cursor.at_start:
        return _keywords(DECLARATION_KEYWORDS)
    if cursor.bracket == "[":
        return _dims(analysis) + _keys(analysis, group=_THEN)
    if declaration == "key" and ":" in seen:
        return _spec_forms() + _keys(analysis, group=_THEN) + _envs(analysis, group=_THEN)
    if declaration in _ROLES and ("->" in seen or ":" in seen):
        return _keys(analysis)
    if declaration in _ROLES and "=" in seen:
        return _kinds(analysis, (Family.NETWORK, Family.MODULE, Family.ACTIVATION)) + _modules(analysis, _FIRST)
    if declaration == "dim" and "=" in seen:
        return _dims(analysis)
    if declaration == "env" and "=" in seen:
        return _keywords(("gym",))
    return []


def _after_dot(analysis: Analysis, head: tuple[str, ...]) -> list[types.CompletionItem]:
    """After ``env.``: the keys it gives; after ``key.``: its nested keys and spec attributes."""
    if len(head) == 1 and head[0] in analysis.symbols.envs:
        given = [info for info in analysis.keys.values() if info.source.startswith(f"env `{head[0]}`")]
        return [_item(info.dotted, _K.Field, spec_text(info.spec), _FIRST) for info in given]
    items = [_item(info.path[-1], _K.Field, spec_text(info.spec), _FIRST)
             for info in analysis.keys.values() if info.path[:-1] == head]
    info = analysis.keys.get(head)
    if info is not None:
        items += [_item(name, _K.Property, "spec attribute", _THEN)
                  for name, owners in ATTRIBUTES.items() if owners is None or isinstance(info.spec, owners)]
    return items


# ---------------------------------------------------------------------------------------------
# What can be offered


def _item(label: str, kind: types.CompletionItemKind, detail: str = "", group: str = _FIRST, *,
          insert: str | None = None, documentation: str | None = None, data: object = None) -> types.CompletionItem:
    return types.CompletionItem(
        label=label, kind=kind, detail=detail or None, sort_text=f"{group}{label}", insert_text=insert,
        documentation=types.MarkupContent(types.MarkupKind.Markdown, documentation) if documentation else None,
        data=data,
    )


def _params(kind: Kind, given: Iterable[str]) -> list[types.CompletionItem]:
    """The parameters of ``kind`` not given yet, as ``name=``, required ones first."""
    given = set(given)
    return [_item(p.name, _K.Property, param_detail(p), _FIRST if p.required else _FIRST + "1",
                  insert=f"{p.name}=", documentation=p.doc or None)
            for p in kind.params if p.name not in given]


def _argument_values(analysis: Analysis, arg_type: ArgType, choices: tuple) -> list[types.CompletionItem]:
    """What a parameter of type ``arg_type`` takes."""
    if arg_type in (ArgType.KEY, ArgType.KEYS, ArgType.SPEC):
        return _keys(analysis)
    if arg_type is ArgType.DIST:
        return _kinds(analysis, (Family.DISTRIBUTION,))
    if arg_type is ArgType.ACTIVATION:
        return _kinds(analysis, (Family.ACTIVATION,))
    if arg_type in (ArgType.LAYER, ArgType.CHOICE) and choices:
        return [_item(_choice_text(choice, arg_type), _K.EnumMember, group=_FIRST) for choice in choices]
    if arg_type is ArgType.BOOL:
        return _keywords(("true", "false"))
    if arg_type in (ArgType.MODULE, ArgType.NETWORK, ArgType.NET_OR_MODULE):
        families = (Family.NETWORK, Family.ACTIVATION) if arg_type is ArgType.NETWORK else (Family.NETWORK,
                                                                                          Family.MODULE)
        return _modules(analysis, _FIRST) + _kinds(analysis, families, group=_THEN)
    if arg_type is ArgType.KWARGS:
        return [_item("dict", _K.Function, "keyword arguments: dict(name=value, ...)", insert="dict(")]
    if arg_type is ArgType.NUMBERS:
        return _kinds(analysis, (Family.TENSOR,)) + _dims(analysis, group=_THEN)
    return _values(analysis)


def _choice_text(choice: object, arg_type: ArgType) -> str:
    """A listed value as it is written: a layer class by name, a string quoted."""
    if choice is None:
        return "none"
    if isinstance(choice, bool):
        return "true" if choice else "false"
    return f'"{choice}"' if isinstance(choice, str) and arg_type is ArgType.CHOICE else str(choice)


def _values(analysis: Analysis, group: str = _FIRST) -> list[types.CompletionItem]:
    """Anything an argument can be: modules, keys, dims, kinds, literals."""
    return (_modules(analysis, group) + _keys(analysis, group=group) + _dims(analysis, group=group)
            + _kinds(analysis, tuple(Family), group=chr(ord(group) + 1)) + _keywords(_LITERALS, group=group))


def _keys(analysis: Analysis, group: str = _FIRST) -> list[types.CompletionItem]:
    """Every key the model has: typed by the checker, declared, or written after ``->``."""
    items = {path: _item(info.dotted, _K.Variable, spec_text(info.spec), group) for path, info in analysis.keys.items()}
    for name in analysis.symbols.keys:
        items.setdefault((name,), _item(name, _K.Variable, "key", group))
    for path in analysis.symbols.writers:
        items.setdefault(path, _item(".".join(path), _K.Variable, "key", group))
    return list(items.values())


def _modules(analysis: Analysis, group: str) -> list[types.CompletionItem]:
    return [_item(name, _K.Module, f"{decl.role.value} {name}", group)
            for name, decl in analysis.symbols.modules.items()]


def _dims(analysis: Analysis, group: str = _FIRST) -> list[types.CompletionItem]:
    return [_item(name, _K.Constant, f"dim {name}" + (f" = {expr_source(decl.value)}" if decl.value else ""), group)
            for name, decl in analysis.symbols.dims.items()]


def _envs(analysis: Analysis, group: str) -> list[types.CompletionItem]:
    return [_item(name, _K.Module, f"env {name} = gym({expr_source(decl.env_id)})", group)
            for name, decl in analysis.symbols.envs.items()]


def _kinds(analysis: Analysis, families: tuple[Family, ...], group: str = _FIRST) -> list[types.CompletionItem]:
    """The kinds of ``families`` not shadowed by a declared name, with their summary."""
    declared = analysis.symbols.names()
    return [_item(kind.name, _K.Class, kind.summary, group, data={"kind": kind.name})
            for kind in BY_NAME.values() if kind.family in families and kind.name not in declared]


def _spec_forms() -> list[types.CompletionItem]:
    """The dtypes (``f32[3]``) and the spec types written as calls (``onehot(4)``)."""
    return ([_item(name, _K.TypeParameter, f"torch.{torch_name}") for name, torch_name in ast.DTYPES.items()]
            + [_item(spec.name, _K.Struct, spec.summary) for spec in CALL_TYPES])


def _keywords(words: Iterable[str], group: str = _FIRST) -> list[types.CompletionItem]:
    return [_item(word, _K.Keyword, group=group) for word in words]
