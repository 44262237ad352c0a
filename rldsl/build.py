"""Build a model from Python: the same declarations a `.rlm` file makes, checked by the same checker.

A :class:`Model` collects declarations (``dim``, ``env``, ``key``, ``module``, ``actor``, ``value``,
``explore``, ``include``) made by method calls; every kind of the language (``MLP``, ``Actor``,
``TanhNormal``, ``Tanh``, ...) can be imported from this module and called like a constructor.
Each call records where it was made, so that diagnostics point at the Python line (and, where
Python's own parser can tell, the argument) that caused them. :meth:`Model.to_source` prints the
model as canonical `.rlm` text that parses back to the same program.

>>> from rldsl.build import MLP, Actor, Model
>>> m = Model()
>>> observation = m.key("observation", "f32[3]")
>>> action = m.key("action", "f32[1] in [-2.0, 2.0]")
>>> _ = m.actor("policy", Actor(MLP(out_features=action.shape[-1], num_cells=[64, 64]), spec=action))
>>> print(m.to_source(), end="")
key observation : f32[3]
key action      : f32[1] in [-2.0, 2.0]
<BLANKLINE>
actor policy = Actor(MLP(out_features=action.shape[-1], num_cells=[64, 64]), spec=action)
>>> m.check().ok
True

Strings are string literals, except where the kind's parameter takes keys, a spec, a module, a
distribution or an activation class: there ``"loc"`` means the key (or name) ``loc``, and a dotted
string such as ``"agents.action"`` a nested key. Keyword arguments that are Python keywords take a
trailing underscore: ``in_=["loc", "scale"]`` is ``in=[loc, scale]``. Importing this module does
not import torch; :meth:`Model.compile` does.
"""

from __future__ import annotations

import functools
import keyword as pykeyword
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from rldsl.errors import RldslError
from rldsl.lang import ast
from rldsl.lang.kind_hints import unknown_kind_help
from rldsl.lang.kinds import ArgType, Kind, Param, lookup
from rldsl.lang.parse import parse
from rldsl.lang.printer import expr_source, to_source
from rldsl.lang.pysite import Site, call_site
from rldsl.lang.render import render_text
from rldsl.lang.source import SourceFile, Span
from rldsl.lang.types import MAX_INT

if TYPE_CHECKING:
    from rldsl.lang.report import Report

__all__ = ["BuildError", "Expr", "MAX_DEPTH", "Model", "ref"]

#: Parameter types whose string arguments name something (a key, a module, a class).
_NAMING = frozenset({ArgType.KEY, ArgType.KEYS, ArgType.SPEC, ArgType.NETWORK, ArgType.MODULE,
                     ArgType.NET_OR_MODULE, ArgType.DIST, ArgType.ACTIVATION, ArgType.LAYER})

#: The deepest expression the builder makes, each call, operator, index, list, tuple and pipe
#: being one level (and the deepest nesting of composites in a runtime spec). Printed, a level
#: takes at most one bracket and two levels of the parse tree, and the parser takes
#: ``rldsl.lang.parse.MAX_NESTING`` (100) brackets and twice as many tree levels: every
#: expression this deep prints as text that parses back to it (tests/test_build.py checks the
#: worst cases). Deeper is a :class:`BuildError` at the Python call that nests it, so that
#: neither the checker nor the printer can run out of stack on a built model.
MAX_DEPTH = 64

#: The longest model name, in UTF-8 bytes (it names a file: ``<name>.rlm``).
_MAX_MODEL_NAME = 200

#: Unicode categories of characters a string literal cannot hold: control characters (other
#: than tab, newline and carriage return, which are written as escapes), lone surrogates (not
#: UTF-8), and line and paragraph separators.
_UNWRITABLE = frozenset({"Cc", "Cs", "Zl", "Zp"})


class BuildError(RldslError, ValueError):
    """A Python call that cannot make a declaration at all: a name that is not an identifier, a
    spec string that does not parse, a value with no `.rlm` form (NaN, an integer beyond 2**62, a
    string with control characters, a list that contains itself, an expression nested more than
    :data:`MAX_DEPTH` deep). Everything a `.rlm` file could say, however wrong, is left to the
    checker instead (see :meth:`Model.check`)."""


def _shown(text: str) -> str:
    """``text`` quoted for a message, escaped (no control characters reach the terminal) and cut
    short when long."""
    return repr(text) if len(text) <= 60 else f"{text[:40]!r}... ({len(text)} characters)"


# ---------------------------------------------------------------------------------------------
# Names


def _is_name(text: str) -> bool:
    """Whether ``text`` is a `.rlm` name (as the parser reads one, reserved words excluded)."""
    return text.isascii() and text.isidentifier() and _parses_as_name(text)


@functools.lru_cache(maxsize=4096)
def _parses_as_name(text: str) -> bool:
    module, diagnostics = parse(f"dim {text}")
    return not diagnostics and module.body[0].name.value == text


def _is_keyword_name(text: str) -> bool:
    """Whether ``text`` can name a keyword argument (declaration keywords can)."""
    return text.isascii() and text.isidentifier() and _parses_as_keyword_name(text)


@functools.lru_cache(maxsize=4096)
def _parses_as_keyword_name(text: str) -> bool:
    module, diagnostics = parse(f"module m = F({text}=1)")
    return not diagnostics and module.body[0].body.kwargs[0].name.value == text


def _name(text: object, site: Site, what: str) -> ast.Name:
    if not isinstance(text, str) or not _is_name(text):
        shown = _shown(text) if isinstance(text, str) else repr(text)
        raise BuildError(f"{_where(site)}: {what} name {shown} is not a `.rlm` name: use letters, digits and "
                         "`_`, not starting with a digit, and not a reserved word such as `key`")
    return ast.Name(text, span=site.span)


def _path(text: str, site: Site) -> tuple[str, ...]:
    parts = tuple(text.split("."))
    if not all(_is_name(part) for part in parts):
        raise BuildError(f"{_where(site)}: {_shown(text)} is not a key or name: write `name` or `outer.inner`")
    return parts


def _string(text: str, site: Site, what: str = "a string") -> str:
    """``text`` as the value of a string literal, refused when a `.rlm` file cannot hold it."""
    import unicodedata

    for char in text:
        if char not in "\t\n\r" and unicodedata.category(char) in _UNWRITABLE:
            raise BuildError(f"{_where(site)}: {what} {_shown(text)} holds the character U+{ord(char):04X}, which "
                             "a `.rlm` file cannot hold: remove it (tab, newline and carriage return are the only "
                             "control characters a string may have)")
    return text


def _model_name(name: object) -> str:
    """A model's name, refused unless it is a plain file name (it names the root file of an
    artifact, `<name>.rlm`, and appears in messages)."""
    if not (isinstance(name, str) and name and name.isprintable() and name == name.strip()
            and not name.startswith(".") and "/" not in name and "\\" not in name
            and len(name.encode("utf-8", "replace")) <= _MAX_MODEL_NAME):
        shown = _shown(name) if isinstance(name, str) else repr(name)
        raise BuildError(f"{_where(call_site())}: the model name {shown} names its file in artifacts: give a plain "
                         f"name such as \"sac\" (printable, no `/`, not starting with `.`, at most "
                         f"{_MAX_MODEL_NAME} bytes)")
    return name


def _where(site: Site) -> str:
    return f"{site.source.name}:{site.line}"


# ---------------------------------------------------------------------------------------------
# Expressions


def _number_node(value: numbers.Real, span: Span, site: Site) -> ast.Number:
    """A number: an integer within 2**62 in magnitude (what the parser reads; larger ones are
    never printed, as Python refuses to print integers of more than 4300 digits), or a float
    other than NaN."""
    if isinstance(value, numbers.Integral):
        number = int(value)
        if abs(number) > MAX_INT:
            raise BuildError(f"{_where(site)}: an integer of {number.bit_length()} bits is out of range: `.rlm` "
                             "integers are at most 2**62 in magnitude; for a large bound give a float such as 1e30")
        return ast.Number(number, span=span)
    try:
        number = float(value)
    except (ArithmeticError, ValueError, TypeError) as error:
        raise BuildError(f"{_where(site)}: a {type(value).__name__} that cannot be a float ({_shown(str(error))}) "
                         "has no `.rlm` form") from None
    if math.isnan(number):
        raise BuildError(f"{_where(site)}: NaN has no `.rlm` form: give a number")
    return ast.Number(number, span=span)


def _too_deep(site: Site) -> BuildError:
    return BuildError(f"{_where(site)}: the expression is nested more than {MAX_DEPTH} levels deep (calls, operators, "
                      "indexes, lists and pipes inside each other; see rldsl.build.MAX_DEPTH): give inner parts "
                      "names of their own (`m.module(...)`, `m.dim(...)`)")


def _composed(node: ast.Expr, parts: Iterable[Expr], site: Site) -> Expr:
    """An expression one level above ``parts`` (its operands, arguments or items)."""
    depth = 1 + max((part.depth for part in parts), default=0)
    if depth > MAX_DEPTH:
        raise _too_deep(site)
    return Expr(node, depth)


def _node(value: object, site: Site, naming: bool = False) -> Expr:
    """A Python value as an expression: numbers, booleans, None, strings (names where
    ``naming``), lists, tuples, numpy and torch values, and :class:`Expr` values."""
    return _expression(value, site, naming, ())


def _expression(value: object, site: Site, naming: bool, enclosing: tuple[int, ...]) -> Expr:
    """:func:`_node` for a value inside the lists whose ids are ``enclosing``: a list inside
    itself has no `.rlm` form, and neither has one nested more than :data:`MAX_DEPTH` deep."""
    if isinstance(value, Expr):
        return value
    span = site.span
    if isinstance(value, bool):
        return Expr(ast.Bool(value, span=span))
    if isinstance(value, numbers.Real):
        return Expr(_number_node(value, span, site))
    if value is None:
        return Expr(ast.NoneLit(span=span))
    if isinstance(value, str):
        return Expr(ast.Ref(_path(value, site), span=span) if naming else ast.String(_string(value, site), span=span))
    if isinstance(value, (list, tuple)):
        if id(value) in enclosing:
            raise BuildError(f"{_where(site)}: a {type(value).__name__} that contains itself has no `.rlm` form")
        if len(enclosing) >= MAX_DEPTH:
            raise _too_deep(site)
        inner = (*enclosing, id(value))
        items = [_expression(item, site.item(i), naming, inner) for i, item in enumerate(value)]
        nodes = tuple(item.node for item in items)
        node = ast.ListExpr(nodes, span=span) if isinstance(value, list) else ast.TupleExpr(nodes, span=span)
        return _composed(node, items, site)
    if isinstance(value, Mapping):
        return _dict_node(value, site, None, enclosing)
    if hasattr(value, "tolist"):  # a numpy or torch value
        if len(enclosing) >= MAX_DEPTH:
            raise _too_deep(site)
        return _expression(_listed(value, site), site, naming, (*enclosing, id(value)))
    raise BuildError(f"{_where(site)}: a {type(value).__name__} has no `.rlm` form: give a number, a string, "
                     "a list, or something made by rldsl.build")


def _dict_node(value: Mapping, site: Site, inner: Kind | None, enclosing: tuple[int, ...] = ()) -> Expr:
    """A dict of an inner class's arguments as ``dict(name=value, ...)``: its keys are argument
    names, and a string entry names something where ``inner``'s parameter of that name does.

    >>> from rldsl.build import DuelingCnnDQNet
    >>> DuelingCnnDQNet(6, cnn_kwargs={"num_cells": [16, 32], "activation_class": "ReLU"})
    Expr(DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32], activation_class=ReLU)))
    """
    if id(value) in enclosing:
        raise BuildError(f"{_where(site)}: a dict that contains itself has no `.rlm` form")
    if len(enclosing) >= MAX_DEPTH:
        raise _too_deep(site)
    keywords, values = [], []
    for python_name, item in value.items():
        if not isinstance(python_name, str):
            raise BuildError(f"{_where(site)}: a dict of keyword arguments is keyed by argument names, not by "
                             f"a {type(python_name).__name__}")
        name = _keyword_name(python_name, site)
        item_site = site.kwarg(python_name)
        param = inner.param(name) if inner is not None else None
        built = _expression(item, item_site, param is not None and param.type in _NAMING, (*enclosing, id(value)))
        keywords.append(ast.Keyword(ast.Name(name, span=item_site.span), built.node, span=item_site.span))
        values.append(built)
    call = ast.Call(ast.Ref(("dict",), span=site.span), (), tuple(keywords), span=site.span)
    return _composed(call, values, site)


def _dict_list(value: list, site: Site, inner: Kind | None) -> Expr:
    """A list of dicts, one per layer, as ``[dict(...), dict(...)]``."""
    items = [_dict_node(item, site.item(i), inner) for i, item in enumerate(value)]
    return _composed(ast.ListExpr(tuple(item.node for item in items), span=site.span), items, site)


def _inner_kind(param: Param, kwargs: Mapping[str, object]) -> Kind | None:
    """The kind a KWARGS parameter's dict configures: its ``of``, or the class its sibling names."""
    if param.of is None or not param.of.startswith("@"):
        return lookup(param.of) if param.of else None
    chosen = kwargs.get(param.of[1:])
    if isinstance(chosen, Expr) and isinstance(chosen.node, ast.Ref):
        return lookup(chosen.node.dotted)
    return lookup(chosen) if isinstance(chosen, str) else None


def _listed(value: Any, site: Site) -> object:
    """``value.tolist()``, its failure a BuildError."""
    try:
        return value.tolist()
    except Exception as error:  # noqa: BLE001 - whatever the array library raises
        raise BuildError(f"{_where(site)}: a {type(value).__name__} whose `tolist()` fails has no `.rlm` form "
                         f"({type(error).__name__}: {_shown(str(error))})") from None


class Expr:
    """A `.rlm` expression made in Python: a name (a key, a module, a kind), a call, arithmetic,
    a pipe of networks. Attribute access, indexing, calling, ``+ - * / // %`` and ``>>`` build
    larger expressions, as the same operators do in a `.rlm` file. ``depth`` counts its levels
    (at most :data:`MAX_DEPTH`).

    >>> action = ref("action")
    >>> 2 * action.shape[-1]
    Expr(2 * action.shape[-1])
    """

    __slots__ = ("node", "depth")

    def __init__(self, node: ast.Expr, depth: int = 1) -> None:
        self.node = node
        self.depth = depth

    def __repr__(self) -> str:
        return f"Expr({expr_source(self.node)})"

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_") or not isinstance(self.node, ast.Ref):
            raise AttributeError(name)
        site = call_site()
        if not _is_name(name):
            raise BuildError(f"{_where(site)}: {_shown(name)} is not a `.rlm` name")
        return Expr(ast.Ref((*self.node.path, name), span=site.span))

    def __getitem__(self, index: object) -> Expr:
        site = call_site()
        if not isinstance(self.node, (ast.Ref, ast.Call, ast.Index)):
            raise BuildError(f"{_where(site)}: `{expr_source(self.node)}` cannot be indexed in a `.rlm` file (only "
                             "names, calls and indexed values can): give it a name first")
        position = _node(index, site)
        return _composed(ast.Index(self.node, position.node, span=site.span), (self, position), site)

    def __iter__(self) -> None:
        raise TypeError("a `.rlm` expression is not iterable")

    def __call__(self, *args: object, **kwargs: object) -> Expr:
        if not isinstance(self.node, ast.Ref):
            raise TypeError(f"`{expr_source(self.node)}` cannot be called")
        site = call_site()
        kind = lookup(self.node.dotted)
        given = [_node(value, site.arg(i), _names_at(kind, i)) for i, value in enumerate(args)]
        keywords, values = [], []
        for python_name, value in kwargs.items():
            name = _keyword_name(python_name, site)
            value_site = site.kwarg(python_name)
            param = kind.param(name) if kind is not None else None
            if param is not None and param.type is ArgType.KWARGS and isinstance(value, Mapping):
                built = _dict_node(value, value_site, _inner_kind(param, kwargs))
            elif param is not None and param.type is ArgType.KWARGS and isinstance(value, list) and value \
                    and all(isinstance(item, Mapping) for item in value):
                built = _dict_list(value, value_site, _inner_kind(param, kwargs))
            else:
                built = _node(value, value_site, param is not None and param.type in _NAMING)
            keywords.append(ast.Keyword(ast.Name(name, span=value_site.span), built.node, span=value_site.span))
            values.append(built)
        func = ast.Ref(self.node.path, span=site.func().span)
        call = ast.Call(func, tuple(arg.node for arg in given), tuple(keywords), span=site.span)
        return _composed(call, (*given, *values), site)

    # -- arithmetic and pipes ------------------------------------------------------------------

    def _binary(self, op: str, other: object, reflected: bool) -> Expr:
        site = call_site()
        operand = _node(other, site.operand(not reflected))
        left, right = (operand, self) if reflected else (self, operand)
        return _composed(ast.BinOp(op, left.node, right.node, span=site.span), (left, right), site)

    def __add__(self, other: object) -> Expr:
        return self._binary("+", other, False)

    def __radd__(self, other: object) -> Expr:
        return self._binary("+", other, True)

    def __sub__(self, other: object) -> Expr:
        return self._binary("-", other, False)

    def __rsub__(self, other: object) -> Expr:
        return self._binary("-", other, True)

    def __mul__(self, other: object) -> Expr:
        return self._binary("*", other, False)

    def __rmul__(self, other: object) -> Expr:
        return self._binary("*", other, True)

    def __truediv__(self, other: object) -> Expr:
        return self._binary("/", other, False)

    def __rtruediv__(self, other: object) -> Expr:
        return self._binary("/", other, True)

    def __floordiv__(self, other: object) -> Expr:
        return self._binary("//", other, False)

    def __rfloordiv__(self, other: object) -> Expr:
        return self._binary("//", other, True)

    def __mod__(self, other: object) -> Expr:
        return self._binary("%", other, False)

    def __rmod__(self, other: object) -> Expr:
        return self._binary("%", other, True)

    def __neg__(self) -> Expr:
        site = call_site()
        if isinstance(self.node, ast.Number):  # `-1` is a number, as in a `.rlm` file
            return Expr(ast.Number(-self.node.value, span=site.span))
        return _composed(ast.UnaryOp("-", self.node, span=site.span), (self,), site)

    def __pos__(self) -> Expr:
        site = call_site()
        return _composed(ast.UnaryOp("+", self.node, span=site.span), (self,), site)

    def __rshift__(self, other: object) -> Expr:
        return _pipe(self, other, call_site(), reflected=False)

    def __rrshift__(self, other: object) -> Expr:
        return _pipe(self, other, call_site(), reflected=True)


def _pipe(expr: Expr, other: object, site: Site, reflected: bool) -> Expr:
    """``a >> b``: a pipe, flattened on the left as `a >> b >> c` is one pipe of three."""
    operand = _node(other, site.operand(not reflected))
    left, right = (operand, expr) if reflected else (expr, operand)
    if isinstance(left.node, ast.Pipe):  # its stages are one level below it, as the new one is
        stages, depth = (*left.node.stages, right.node), max(left.depth, 1 + right.depth)
    else:
        stages, depth = (left.node, right.node), 1 + max(left.depth, right.depth)
    if depth > MAX_DEPTH:
        raise _too_deep(site)
    return Expr(ast.Pipe(stages, span=site.span), depth)


def _names_at(kind: Any, index: int) -> bool:
    """Whether a string passed as positional argument ``index`` of ``kind`` names something."""
    if kind is None:
        return False
    params = kind.positional
    param = params[index] if index < len(params) else kind.varargs
    return param is not None and param.type in _NAMING


def _keyword_name(python_name: str, site: Site) -> str:
    """The `.rlm` name of a Python keyword argument: ``in_`` is ``in``."""
    name = python_name[:-1] if python_name.endswith("_") and pykeyword.iskeyword(python_name[:-1]) else python_name
    if not _is_keyword_name(name):
        raise BuildError(f"{_where(site)}: {_shown(python_name)} is not a `.rlm` argument name")
    return name


def ref(dotted: str) -> Expr:
    """A name as an expression: a key (``ref("agents.action")``), a module, a dim, an env entry.

    >>> ref("action").low
    Expr(action.low)
    """
    site = call_site()
    if not isinstance(dotted, str):
        raise BuildError(f"{_where(site)}: `ref` takes a name such as \"agents.action\", not a {type(dotted).__name__}")
    return Expr(ast.Ref(_path(dotted, site.arg(0)), span=site.span))


def __getattr__(name: str) -> Expr:
    """``from rldsl.build import MLP``: every kind of the language, as a callable expression."""
    if lookup(name) is None:
        if name.startswith("__"):  # looked up by Python's machinery, not by a user
            raise AttributeError(name)
        help_, _ = unknown_kind_help(name)
        shown = f"`{name}`" if name.isascii() and name.isidentifier() else _shown(name)
        raise AttributeError(f"rldsl.build has no kind {shown}; {help_}")
    return Expr(ast.Ref((name,), span=call_site().span))


# ---------------------------------------------------------------------------------------------
# Specs


def _respan(node: Any, move: Callable[[Span], Span]) -> Any:
    """A copy of a tree with every span passed through ``move``."""
    if isinstance(node, tuple):
        return tuple(_respan(item, move) for item in node)
    if not attrs.has(type(node)) or not hasattr(node, "span"):
        return node
    changes = {f.name: _respan(getattr(node, f.name), move) for f in attrs.fields(type(node)) if f.name != "span"}
    return type(node)(**changes, span=move(node.span))


def _spec(value: object, site: Site, name: str) -> ast.Spec:
    """A key's spec: text such as ``"f32[1] in [-2.0, 2.0]"``, or a name whose spec is used
    (another key, an env entry such as ``pendulum.action``)."""
    if isinstance(value, Expr):
        if isinstance(value.node, ast.Ref):
            return ast.SpecRef(value.node, span=value.node.span)
        raise BuildError(f"{_where(site)}: the spec of `{name}` must be spec text or a key or env entry")
    if _is_runtime_spec(value):
        from rldsl.compiler.specs import from_spec
        from rldsl.lang.types import spec_text

        if _composite_depth(value) > MAX_DEPTH:
            raise BuildError(f"{_where(site)}: the spec of `{name}` nests composites more than {MAX_DEPTH} deep (or "
                             "contains itself), more than a `.rlm` file may nest")
        try:
            value = spec_text(from_spec(value))
        except ValueError as error:
            raise BuildError(f"{_where(site)}: the spec of `{name}`: {error}") from error
    if not isinstance(value, str):
        raise BuildError(f"{_where(site)}: the spec of `{name}` is a {type(value).__name__}: write it as "
                         "text, such as \"f32[3]\" or \"onehot(4)\"")
    prefix = f"key {name} : "
    module, diagnostics = parse(prefix + value, "<spec>")
    move = _spec_mover(site, len(prefix))
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise BuildError(_render_spec_errors(errors, value, name, site, len(prefix)))
    if len(module.body) != 1:
        raise BuildError(f"{_where(site)}: the spec of `{name}` holds more than one spec: {_shown(value)}")
    decl = module.body[0]
    assert isinstance(decl, ast.KeyDecl)
    return _respan(decl.spec, move)


def _composite_depth(spec: Any) -> int:
    """How deep composites nest in a runtime spec (1 for a leaf), counted without recursion and
    only up to ``MAX_DEPTH + 1``: a composite that contains itself counts as too deep."""
    composite = sys.modules["rldsl.specs"].Composite
    deepest = 0
    pending = [(spec, 1)]
    while pending:
        node, depth = pending.pop()
        deepest = max(deepest, depth)
        if deepest > MAX_DEPTH:
            break
        if isinstance(node, composite):
            pending.extend((entry, depth + 1) for _, entry in node.items())
    return deepest


def _is_runtime_spec(value: object) -> bool:
    """Whether ``value`` is an :mod:`rldsl.specs` spec (asked without importing torch: a spec
    object exists only once that module is loaded)."""
    specs = sys.modules.get("rldsl.specs")
    return specs is not None and isinstance(value, specs.TensorSpec)


def _spec_mover(site: Site, prefix: int) -> Callable[[Span], Span]:
    """Where a span of parsed spec text lies in the Python file: inside the string literal when
    it is a plain one, else the whole argument."""
    start = site.string_offset()
    if start is None:
        return lambda span: site.span
    return lambda span: site.source.span(start + span.start - prefix, start + span.end - prefix)


def _render_spec_errors(errors: Sequence[Any], text: str, name: str, site: Site, prefix: int) -> str:
    """The syntax errors of a spec string, rendered inside the Python string literal when it is a
    plain one, else against the spec text itself."""
    if site.string_offset() is not None:
        move, sources = _spec_mover(site, prefix), {site.source.name: site.source}
    else:
        shown = SourceFile(f"spec of `{name}` ({_where(site)})", text)
        move, sources = (lambda span: shown.span(max(0, span.start - prefix), max(0, span.end - prefix))), \
            {shown.name: shown}
    return render_text([attrs.evolve(d, span=move(d.span), labels=(), suggestion=None) for d in errors], sources)


# ---------------------------------------------------------------------------------------------
# The model


class Model:
    """A model built declaration by declaration; each method returns the declared name as an
    :class:`Expr`, ready to be used in later declarations.

    ``name`` names the model's root file in artifacts (``model.rlm``). Includes are read relative
    to the current directory, as for a model given to :func:`rldsl.check` as text.
    """

    def __init__(self, name: str = "model") -> None:
        self.name = _model_name(name)
        self._decls: list[ast.Decl] = []

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self._decls)} declarations)"

    @property
    def declarations(self) -> tuple[ast.Decl, ...]:
        """The declarations so far, in the order they were made."""
        return tuple(self._decls)

    @property
    def ast(self) -> ast.Module:
        """The model as a syntax tree, equal to the tree of its printed source."""
        span = self._decls[0].span.to(self._decls[-1].span) if self._decls else Span(self.name, 1, 1, 1, 1, 0, 0)
        return ast.Module(tuple(self._decls), span=span)

    def _add(self, decl: ast.Decl, name: str) -> Expr:
        self._decls.append(decl)
        return Expr(ast.Ref((name,), span=decl.span))

    # -- declarations --------------------------------------------------------------------------

    def include(self, path: str | os.PathLike[str]) -> None:
        """``include "path"``: the declarations of another `.rlm` file."""
        site = call_site()
        text = os.fspath(path) if isinstance(path, (str, os.PathLike)) else None
        if not isinstance(text, str):
            raise BuildError(f"{_where(site)}: an include names a file by a string path, not a {type(path).__name__}")
        at = site.arg(0)
        self._decls.append(ast.Include(ast.String(_string(text, at, "the path"), span=at.span), span=site.span))

    def dim(self, name: str, value: object = None) -> Expr:
        """``dim name = value`` (an integer or an expression of other dims), or ``dim name``
        for a dimension without a fixed size."""
        site = call_site()
        node = None if value is None else _node(value, site.arg(1)).node
        return self._add(ast.DimDecl(_name(name, site.arg(0), "a dim"), node, span=site.span), name)

    def env(self, name: str, env_id: str, **options: object) -> Expr:
        """``env name = gym("Env-v1", ...)``: the specs of a gymnasium environment, as
        ``name.observation``, ``name.action``, ..."""
        site = call_site()
        if not isinstance(env_id, str):
            raise BuildError(f"{_where(site)}: the env id must be a string such as \"Pendulum-v1\"")
        keywords = tuple(ast.Keyword(ast.Name(_keyword_name(k, site), span=site.kwarg(k).span),
                                     _node(v, site.kwarg(k)).node, span=site.kwarg(k).span) for k, v in options.items())
        env_name = _name(name, site.arg(0), "an env")
        decl = ast.EnvDecl(env_name, ast.String(_string(env_id, site.arg(1), "the env id"), span=site.arg(1).span),
                           keywords, span=site.span)
        return self._add(decl, name)

    def key(self, name: str, spec: object) -> Expr:
        """``key name : spec``, the spec as `.rlm` text (``"f32[1] in [-2.0, 2.0]"``), a name
        whose spec is used (``pendulum.action``), or an :mod:`rldsl.specs` object
        (``Bounded(-2.0, 2.0, shape=(1,))``, ``env_specs("Pendulum-v1").action``)."""
        site = call_site()
        decl = ast.KeyDecl(_name(name, site.arg(0), "a key"), _spec(spec, site.arg(1), name), span=site.span)
        return self._add(decl, name)

    def module(self, name: str, body: object, reads: Iterable[object] | None = None,  # noqa: F811
               writes: Iterable[object] | None = None) -> Expr:
        """``module name = body [: reads -> writes]``: a network given keys, or any module."""
        return self._module(ast.Role.MODULE, name, body, reads, writes, call_site())

    def actor(self, name: str, body: object, reads: Iterable[object] | None = None,
              writes: Iterable[object] | None = None) -> Expr:
        """``actor name = body``: a policy."""
        return self._module(ast.Role.ACTOR, name, body, reads, writes, call_site())

    def value(self, name: str, body: object, reads: Iterable[object] | None = None,
              writes: Iterable[object] | None = None) -> Expr:
        """``value name = body``: a value network (state value, Q-value)."""
        return self._module(ast.Role.VALUE, name, body, reads, writes, call_site())

    def explore(self, name: str, body: object, reads: Iterable[object] | None = None,
                writes: Iterable[object] | None = None) -> Expr:
        """``explore name = body``: an exploration policy."""
        return self._module(ast.Role.EXPLORE, name, body, reads, writes, call_site())

    def _module(self, role: ast.Role, name: str, body: object, reads: Iterable[object] | None,
                writes: Iterable[object] | None, site: Site) -> Expr:
        body_node = _node(body, site.arg(1)).node
        io = None
        if reads is not None or writes is not None:
            io = ast.KeyFlow(self._keys(reads, site, "reads", 2), self._keys(writes, site, "writes", 3), span=site.span)
            if not io.inputs or not io.outputs:
                raise BuildError(f"{_where(site)}: a module given keys reads and writes at least one key each: "
                                 "pass both `reads=[...]` and `writes=[...]`")
        decl = ast.ModuleDecl(role, _name(name, site.arg(0), f"a {role.value}"), body_node, io, span=site.span)
        return self._add(decl, name)

    @staticmethod
    def _keys(keys: Iterable[object] | None, site: Site, word: str, index: int) -> tuple[ast.Ref, ...]:
        if keys is None:
            return ()
        if isinstance(keys, (str, Expr)):
            keys = [keys]
        if not isinstance(keys, Iterable):
            raise BuildError(f"{_where(site)}: `{word}` lists keys, as names (\"observation\") or declared keys; "
                             f"got a {type(keys).__name__}")
        where = site.argument(index, word)
        out = []
        for i, key in enumerate(keys):
            node = _node(key, where.item(i), naming=True).node
            if not isinstance(node, ast.Ref):
                raise BuildError(f"{_where(site)}: `{word}` lists keys, as names (\"observation\") or "
                                 f"declared keys; got {expr_source(node)}")
            out.append(node)
        return tuple(out)

    # -- using it ------------------------------------------------------------------------------

    def to_source(self) -> str:
        """The model as canonical `.rlm` text (it parses back to :attr:`ast`)."""
        return to_source(self.ast)

    def check(self, *, dtype: str = "f32") -> Report:
        """Check the model, as ``rldsl check`` checks a file (for compiling in ``dtype``): a
        :class:`~rldsl.lang.report.Report` whose diagnostics point at the Python calls that made
        each declaration (their Python files are among its sources)."""
        from rldsl.lang.check import check_program
        from rldsl.lang.includes import load_module

        return check_program(load_module(self.ast, self.name), dtype=dtype)

    def compile(self, *, device: str = "cpu", seed: int = 0, dtype: str = "f32", check_inputs: bool = True) -> Any:
        """Check and build the model: an :class:`rldsl.compiler.Program` that knows its source (so
        ``program.save(path)`` writes it with its trained weights), the options as for
        :func:`rldsl.compile`. Raises :class:`rldsl.compiler.CompileError` when it has errors."""
        from rldsl.api import compile as compile_model

        return compile_model(self, device=device, seed=seed, dtype=dtype, check_inputs=check_inputs)

    def save(self, path: str | os.PathLike[str], *, device: str = "cpu", seed: int = 0, dtype: str = "f32") -> Any:
        """Compile the model and write it as an artifact that :func:`rldsl.load` reads (its
        source stored as ``<name>.rlm``); returns the compiled program."""
        from rldsl.compiler import compile_report
        from rldsl.compiler.artifact import write_artifact

        report = self.check(dtype=dtype)
        program = compile_report(report, device=device, seed=seed, dtype=dtype)
        root = os.path.abspath(f"{self.name}.rlm")
        sources = {name: source for name, source in report.sources.items() if name.endswith(".rlm")}
        sources[root] = SourceFile(root, self.to_source())
        write_artifact(path, program, root, sources, seed=seed, dtype=dtype)
        return program
