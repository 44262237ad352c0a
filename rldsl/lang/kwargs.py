"""Keyword-argument dicts: an inner class's arguments, checked as that class's kind.

torchrl configures the classes a network builds inside itself through dictionaries:
``DuelingCnnDQNet(6, cnn_kwargs={"num_cells": [16, 32]})``, ``MLP(norm_class=LayerNorm,
norm_kwargs={"normalized_shape": 64})``. The language writes them as ``dict(name=value, ...)``
and binds them to the inner kind (``Param.of``: a fixed kind, or the one a sibling parameter
chooses), so each entry is checked as that kind's argument (E0602 unknown, E0604 wrong type,
E0603 missing), the inner kind's own build rule runs on the merged arguments, and the owner's
type rule can apply the inner kind's (a ConvNet's strides decide the features). Entries the
owner sets itself (``Param.fixed``: the advantage MLP's ``out_features``) are refused (E0606).

>>> from rldsl.lang.check import check_text
>>> text = '''key pixels : f32[4, 84, 84]
... module q = DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32], kernel_sizes=[8, 4], strides=[4, 2]))
...          : pixels -> action_value'''
>>> check_text(text).ok
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from rldsl.lang import ast
from rldsl.lang.ir import Arg, Args, Kwargs
from rldsl.lang.kinds import ArgType, Kind, Param, Pass
from rldsl.lang.kinds._base import REQUIRED, Meaning
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

if TYPE_CHECKING:
    from rldsl.lang.lower import Lowering

__all__ = ["DictCall", "bind_kwargs", "dict_call", "inner_kind"]

#: The name a keyword-argument dict is written with.
DICT = "dict"


@attrs.frozen(slots=True)
class DictCall:
    """A ``dict(...)`` argument as written, bound to its inner kind once the call's other
    arguments are (the kind may be a sibling's value)."""

    call: ast.Call


def dict_call(lo: Lowering, kind: Kind, param: Param, expr: ast.Expr) -> object:
    """The ``dict(name=value, ...)`` given to a KWARGS parameter, or for a ``per_layer`` one a
    list of them (a tuple of :class:`DictCall`); E0604 for anything else."""
    if param.per_layer and isinstance(expr, ast.ListExpr) and expr.items:
        calls = tuple(dict_call(lo, kind, param, item) for item in expr.items)
        return INVALID if INVALID in calls else calls
    if not (isinstance(expr, ast.Call) and expr.func.path == (DICT,)):
        one_per_layer = ", or a list of them, one per layer" if param.per_layer else ""
        lo.report("E0604", f"`{param.name}` of {kind.name} takes keyword arguments, written `dict(name=value, ...)`"
                           f"{one_per_layer}", expr.span, label="not a `dict(...)`",
                  help=f"write the arguments of {_inner_words(param)} as `{param.name}=dict(name=value, ...)`")
        return INVALID
    if expr.args:
        lo.report("E0604", f"`{param.name}` of {kind.name} holds named arguments only", expr.args[0].span,
                  label="an argument without a name", help="name each entry, as in `dict(num_cells=[64])`")
        return INVALID
    return DictCall(expr)


def _inner_words(param: Param) -> str:
    return f"`{param.of[1:]}`'s class" if param.of and param.of.startswith("@") else f"the inner {param.of}"


def bind_kwargs(lo: Lowering, args: Args) -> Args:
    """``args`` with each KWARGS argument bound to its inner kind (a :class:`Kwargs`, or None
    when there is no inner class); unchanged when the kind has no such parameter."""
    params = [p for p in args.kind.params if p.type is ArgType.KWARGS]
    if not params:
        return args
    values = dict(args.values)
    for param in params:
        values[param.name] = _bound(lo, args, param)
    return Args(args.kind, values, args.span, args.name_span)


def _bound(lo: Lowering, args: Args, param: Param) -> Arg:
    arg = args.arg(param.name)
    inner = _chosen_kind(args, param)
    if arg.value is INVALID or inner is INVALID:
        return Arg(INVALID, arg.span, arg.given)
    calls = arg.value if isinstance(arg.value, tuple) else (arg.value,) if isinstance(arg.value, DictCall) else ()
    if inner is None:
        if not calls:
            return arg
        chooser = param.of[1:] if param.of else param.name
        lo.report("E0606", f"`{param.name}` is given, but `{chooser}` is none: there is no class to pass them to",
                  arg.span, label="arguments for no class",
                  help=f"choose the class, as in `{chooser}=...`, or remove `{param.name}`")
        return Arg(INVALID, arg.span, arg.given)
    assert isinstance(inner, Kind)
    restricted = inner_kind(inner, param)
    if not calls:
        return _defaults_only(lo, args, param, restricted, arg)
    bound = tuple(_bound_dict(lo, args.kind, param, restricted, written.call) for written in calls)
    if INVALID in bound:
        return Arg(INVALID, arg.span, arg.given)
    return Arg(bound if isinstance(arg.value, tuple) else bound[0], arg.span, arg.given)


def _bound_dict(lo: Lowering, owner: Kind, param: Param, kind: Kind, call: ast.Call) -> object:
    """One written dict bound to the inner kind (a :class:`Kwargs`, or INVALID)."""
    call = _without_fixed(lo, owner, param, call)
    bound = bind_kwargs(lo, lo.binder.bind(kind, call, call.span, call.func.span))
    return _built(lo, kind, bound, call.span, param)


def _chosen_kind(args: Args, param: Param) -> Kind | None | object:
    """The inner kind: ``param.of`` by name, or the value of the sibling it names (a class)."""
    from rldsl.lang.kinds import lookup

    if param.of is None:
        return None
    if param.of.startswith("@"):
        chosen = args[param.of[1:]]
        return chosen if chosen is None or chosen is INVALID or isinstance(chosen, Kind) else None
    return lookup(param.of)


def inner_kind(kind: Kind, param: Param) -> Kind:
    """``kind`` as a dict of ``param`` sees it: keyword-only, the owner's defaults, and the
    arguments the owner sets (``fixed``) optional (the owner fills them in for type rules). For a
    class the user chooses (``norm_class``), a size the kind alone infers from its input (a
    BatchRenorm1d's ``num_features``) is required: torchrl's owners build it from the dict alone
    (``norm_class(**norm_kwargs)``), where inner networks of fixed classes size themselves lazily."""
    defaults = dict(param.inner_defaults)

    def adjusted(inner: Param) -> Param:
        if inner.name in param.fixed:
            return attrs.evolve(inner, default=None, positional=False)
        if inner.name in defaults:
            return attrs.evolve(inner, default=defaults[inner.name], positional=False)
        if inner.meaning is Meaning.INPUT_SIZE and param.of is not None and param.of.startswith("@"):
            return attrs.evolve(inner, default=REQUIRED, positional=False)
        return attrs.evolve(inner, positional=False)

    return attrs.evolve(kind, params=tuple(adjusted(p) for p in kind.params if p.passed is not Pass.VARARGS))


def _without_fixed(lo: Lowering, owner: Kind, param: Param, call: ast.Call) -> ast.Call:
    """The dict without the entries the owner sets itself, each reported (E0606)."""
    kept = []
    for keyword in call.kwargs:
        if keyword.name.value in param.fixed:
            lo.report("E0606", f"{owner.name} sets `{keyword.name.value}` of its inner class itself",
                      keyword.name.span, label=f"set by {owner.name}",
                      help=f"remove it from `{param.name}`; {owner.name}'s own arguments decide it")
        else:
            kept.append(keyword)
    return attrs.evolve(call, kwargs=tuple(kept))


def _defaults_only(lo: Lowering, args: Args, param: Param, kind: Kind, arg: Arg) -> Arg:
    """The inner kind with the owner's defaults when no dict is given: E0603 for an argument
    the inner class cannot do without (a BatchNorm1d's ``num_features``), at the class's choice."""
    at = args.span_of(param.of[1:]) if param.of and param.of.startswith("@") else args.name_span
    missing = [p for p in kind.params if p.required]
    if missing:
        names = ", ".join(f"`{p.name}`" for p in missing)
        example = ", ".join(f"{p.name}=..." for p in missing)
        lo.report("E0603", f"{kind.name} needs {names}, given through `{param.name}`", at,
                  label=f"{kind.name} needs {names}", help=f"pass `{param.name}=dict({example})`")
        return Arg(INVALID, arg.span, arg.given)
    bound = bind_kwargs(lo, lo.binder.bind(kind, None, at, at))
    return Arg(_built(lo, kind, bound, at, param), arg.span, arg.given)


def _built(lo: Lowering, kind: Kind, bound: Args, span: Span, param: Param) -> object:
    """The bound dict after the inner kind's own build rule (its argument checks): a
    :class:`Kwargs`, or INVALID."""
    if kind.build is not None and kind.build(lo, bound) is INVALID:
        return INVALID
    passed = tuple(name for name, _ in param.inner_defaults if name not in param.fixed)
    return Kwargs(kind, bound, span, passed)

