"""The abstract syntax tree of a `.rlm` file.

Nodes are immutable (attrs, frozen, slots) and every node carries the :class:`Span` of the text
it came from. Equality is structural and ignores spans, so two parses of the same model written
with different layout compare equal; read ``node.span`` to locate a node.

>>> from rldsl.lang.parse import parse
>>> module, diagnostics = parse("key observation : f32[3]", "a.rlm")
>>> decl = module.body[0]
>>> decl.name.value, decl.spec.dtype.name, str(decl.spec.span)
('observation', 'f32', 'a.rlm:1:19')
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Iterator
from typing import Union

import attrs

from rldsl.lang.source import Span


def _span() -> Span:
    """The span field every node ends with: keyword-only, ignored by ``==`` and ``repr``."""
    return attrs.field(eq=False, repr=False, kw_only=True)


def _node(cls: type) -> type:
    return attrs.frozen(slots=True)(cls)


# ---------------------------------------------------------------------------------------------
# Names and expressions


@_node
class Name:
    """An identifier where a declaration introduces it: `observation` in `key observation : ...`."""

    value: str
    span: Span = _span()


@_node
class Number:
    """An integer or float literal (`3`, `10_000`, `1e-4`); `inf` is ``float('inf')``."""

    value: int | float
    span: Span = _span()


@_node
class String:
    """A string literal, with its escapes resolved."""

    value: str
    span: Span = _span()


@_node
class Bool:
    """`true` or `false`."""

    value: bool
    span: Span = _span()


@_node
class NoneLit:
    """`none`: an argument explicitly left unset."""

    span: Span = _span()


@_node
class Ref:
    """A name or dotted path: a key (`agents.action`), a module, a dim, an env spec
    (`pendulum.action`), a spec attribute (`action.low`) or a class (`Tanh`). The resolver
    decides which."""

    path: tuple[str, ...]
    span: Span = _span()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@_node
class Index:
    """Subscript: `action.shape[-1]`."""

    value: Expr
    index: Expr
    span: Span = _span()


@_node
class UnaryOp:
    """`-x` or `+x`; ``op`` is ``"-"`` or ``"+"``."""

    op: str
    operand: Expr
    span: Span = _span()


@_node
class BinOp:
    """Arithmetic: ``op`` is one of ``+ - * / // %``."""

    op: str
    left: Expr
    right: Expr
    span: Span = _span()


@_node
class Keyword:
    """A keyword argument `name=value`."""

    name: Name
    value: Expr
    span: Span = _span()


@_node
class Call:
    """A constructor call: `MLP(out_features=2, num_cells=[64, 64])`."""

    func: Ref
    args: tuple[Expr, ...]
    kwargs: tuple[Keyword, ...]
    span: Span = _span()

    def kwarg(self, name: str) -> Expr | None:
        """The value of keyword argument ``name``, or None."""
        for keyword in self.kwargs:
            if keyword.name.value == name:
                return keyword.value
        return None


@_node
class ListExpr:
    """`[a, b, c]`."""

    items: tuple[Expr, ...]
    span: Span = _span()


@_node
class TupleExpr:
    """`(a, b)`, `(a,)` or `()`."""

    items: tuple[Expr, ...]
    span: Span = _span()


@_node
class Pipe:
    """Networks in sequence: `a >> b >> c` (at least two stages)."""

    stages: tuple[Expr, ...]
    span: Span = _span()


Expr = Union[Number, String, Bool, NoneLit, Ref, Index, UnaryOp, BinOp, Call, ListExpr, TupleExpr, Pipe]

# ---------------------------------------------------------------------------------------------
# Specs: the ways a spec is written (see rldsl.lang.spec_types.SpecForm)


@_node
class Dtype:
    """A dtype name, one of :data:`DTYPES`."""

    name: str
    span: Span = _span()


#: The dtypes a spec can have, with torch's name for each.
DTYPES: dict[str, str] = {
    "f16": "float16",
    "f32": "float32",
    "f64": "float64",
    "bf16": "bfloat16",
    "i8": "int8",
    "i16": "int16",
    "i32": "int32",
    "i64": "int64",
    "u8": "uint8",
    "bool": "bool",
}


@_node
class Shape:
    """`[n_agents, 8]`: each dimension an expression (int, dim name, arithmetic)."""

    dims: tuple[Expr, ...]
    span: Span = _span()


@_node
class UnboundedSpec:
    """`f32[3]`: torchrl's Unbounded."""

    dtype: Dtype
    shape: Shape
    span: Span = _span()


@_node
class BoundedSpec:
    """`f32[1] in [-2.0, 2.0]`: torchrl's Bounded; each bound a scalar or a per-element list."""

    dtype: Dtype
    shape: Shape
    low: Expr
    high: Expr
    span: Span = _span()


@_node
class CallSpec:
    """A spec type written as a call, `onehot(4, dtype=i64, shape=[n_agents, 4], mask=[...])`:
    ``kind`` is the spec type's name, one of the call forms of :mod:`rldsl.lang.spec_types`,
    and ``size`` its first argument (`n`, or the sizes `nvec`); the options left out are None."""

    kind: str
    size: Expr
    dtype: Dtype | None = None
    shape: Shape | None = None
    mask: Expr | None = None
    span: Span = _span()


# The spec types written as calls, under the names of the nodes they had before CallSpec: each
# makes a CallSpec, as in ``OneHotSpec(Number(4), span=...)``. New spec types need none.
OneHotSpec = functools.partial(CallSpec, "onehot")
CategoricalSpec = functools.partial(CallSpec, "categorical")
BinarySpec = functools.partial(CallSpec, "binary")
MultiOneHotSpec = functools.partial(CallSpec, "multionehot")
MultiCategoricalSpec = functools.partial(CallSpec, "multicategorical")


@_node
class Field:
    """One entry `name: spec` of a composite spec."""

    name: Name
    spec: Spec
    span: Span = _span()


@_node
class CompositeSpec:
    """`{ obs: f32[8], action: onehot(4) }[n]`: torchrl's Composite, optional batch shape."""

    fields: tuple[Field, ...]
    shape: Shape | None = None
    span: Span = _span()


@_node
class SpecRef:
    """`pendulum.action` or `other_key`: the spec of an env entry or another key."""

    ref: Ref
    span: Span = _span()


Spec = Union[UnboundedSpec, BoundedSpec, CallSpec, CompositeSpec, SpecRef]

# ---------------------------------------------------------------------------------------------
# Declarations


class Role(str, enum.Enum):
    """The keyword a module declaration starts with: what the declared module is for."""

    MODULE = "module"
    ACTOR = "actor"
    VALUE = "value"
    EXPLORE = "explore"


@_node
class KeyFlow:
    """`: observation, action -> loc, scale`: the keys a module reads and writes."""

    inputs: tuple[Ref, ...]
    outputs: tuple[Ref, ...]
    span: Span = _span()


@_node
class Include:
    """`include "common.rlm"`."""

    path: String
    span: Span = _span()


@_node
class DimDecl:
    """`dim n_agents = 3`, or `dim batch` for a dimension without a fixed size."""

    name: Name
    value: Expr | None
    span: Span = _span()


@_node
class EnvDecl:
    """`env pendulum = gym("Pendulum-v1", ...)`."""

    name: Name
    env_id: String
    kwargs: tuple[Keyword, ...]
    span: Span = _span()


@_node
class KeyDecl:
    """`key action : f32[1] in [-2, 2]`."""

    name: Name
    spec: Spec
    span: Span = _span()


@_node
class ModuleDecl:
    """`module|actor|value|explore NAME = BODY [: INPUTS -> OUTPUTS]`."""

    role: Role
    name: Name
    body: Expr
    io: KeyFlow | None
    span: Span = _span()


@_node
class ErrorDecl:
    """A declaration that had an error and was left out; ``keyword`` and ``name`` say what it
    would have declared, so later passes can avoid follow-on errors about that name."""

    keyword: str
    name: Name | None
    span: Span = _span()


Decl = Union[Include, DimDecl, EnvDecl, KeyDecl, ModuleDecl, ErrorDecl]


@_node
class Module:
    """A parsed file: its declarations in source order."""

    body: tuple[Decl, ...]
    span: Span = _span()


Node = Union[Expr, Spec, Decl, Name, Keyword, Dtype, Shape, Field, KeyFlow, Module]


def children(node: Node) -> Iterator[Node]:
    """The nodes directly inside ``node``, in source order."""
    for field in attrs.fields(type(node)):
        if field.name == "span":
            continue
        value = getattr(node, field.name)
        if isinstance(value, tuple):
            yield from (item for item in value if attrs.has(type(item)))
        elif attrs.has(type(value)):
            yield value


def walk(node: Node) -> Iterator[Node]:
    """Every node of a tree, parents before children, without recursion (trees may be deep)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(list(children(current))))
