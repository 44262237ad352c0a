"""The spec types of the language, each described once: its static class and its table entry.

A spec is the type of a tensor key. Each spec type has a static class (what the checker knows
about a key before any tensor exists: frozen attrs, pure Python, no torch) and a
:class:`SpecType` entry in :data:`SPEC_TYPES` that every pass reads:

* how it is written (:class:`SpecForm`, its name and the other names users try, ``written``),
  read by the parser (``rldsl.lang.parse``) and its error messages;
* its parameters (:class:`SpecParam`: name, :class:`SpecArg` type, whether required) and default
  dtype, read by the resolver (``rldsl.lang.resolve``) to evaluate them and by
  :func:`rldsl.lang.types.spec_text` to print a static spec (only options that differ from
  their defaults are written);
* its static rule, how the static spec follows from its arguments: for a call form,
  ``default_shape`` (the shape without ``shape=``) and ``make`` (the static spec, or why a given
  shape does not fit), and ``mask_shape``, the shape of a mask it takes; plain functions stored
  in the entry, as a kind stores ``infer``;
* its runtime class (:mod:`rldsl.specs`), by dotted name so that the checker never imports
  torch, and for each parameter the constructor argument it becomes (``target``) and how it
  is read back from a runtime spec (``read``), used by :mod:`rldsl.compiler.specs` both ways;
* the gymnasium space its runtime spec converts to (``gym``), checked against
  :mod:`rldsl.specs.gym` and :mod:`rldsl.lang.envs` by the tests.

Adding a spec type written as a call, ``name(SIZE, dtype=..., shape=[...], mask=...)``: its
static class and entry here, its runtime class in :mod:`rldsl.specs`, and its grammar rule
``name_spec`` (one line, plus an alternative of ``?spec``) in ``grammar/rlm.lark``, where each
spec type keeps its own rule so that syntax errors list the options it takes.

>>> onehot = SPEC_TYPES_BY_NAME["onehot"]
>>> spec = onehot.make(4, onehot.default_shape(4), "i64")
>>> spec, spec_type_of(spec).runtime
(OneHot(n=4, shape=(4,), dtype='i64', mask=None), 'rldsl.specs.OneHot')
>>> SPEC_TYPES_BY_NAME["multicategorical"].make((3, 2), (3,), "i64")
'a multicategorical shape ends with the number of variables, 2'
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Union

import attrs

from rldsl.lang.dims import Dim, Shape, dims_equal

if TYPE_CHECKING:
    from rldsl.lang.types import Spec

__all__ = [
    "CALL_TYPES",
    "SPEC_TYPES",
    "SPEC_TYPES_BY_NAME",
    "Binary",
    "Bound",
    "Bounded",
    "Categorical",
    "Composite",
    "MultiCategorical",
    "MultiOneHot",
    "OneHot",
    "SpecArg",
    "SpecForm",
    "SpecParam",
    "SpecType",
    "Unbounded",
    "normalized_name",
    "spec_type_of",
]

# ---------------------------------------------------------------------------------------------
# Static classes: one per spec type, each mirroring a runtime spec of rldsl.specs (and torchrl's)

Bound = Union[float, tuple]  # a scalar bound, or one bound per element (flattened, row-major)


@attrs.frozen(slots=True)
class Unbounded:
    """Any value of the dtype (torchrl's ``Unbounded``)."""

    shape: Shape
    dtype: str = "f32"


@attrs.frozen(slots=True)
class Bounded:
    """Values in the box ``[low, high]``; each bound a number or one number per element."""

    shape: Shape
    dtype: str
    low: Bound
    high: Bound


@attrs.frozen(slots=True)
class OneHot:
    """One-hot rows of length ``n`` (the last dim of ``shape``); default dtype i64.

    The language's default is i64, not torchrl's bool: every producer of one-hot actions
    (Q-value modules, one-hot distributions, gymnasium's Discrete) writes int64 rows.
    """

    n: Dim
    shape: Shape
    dtype: str = "i64"
    mask: tuple | None = None  # allowed entries, flattened like ``shape``


@attrs.frozen(slots=True)
class Categorical:
    """Indices in ``0 .. n-1`` of shape ``shape`` (default a scalar); default dtype i64."""

    n: Dim
    shape: Shape = ()
    dtype: str = "i64"
    mask: tuple | None = None  # allowed entries, flattened like ``(*shape, n)``


@attrs.frozen(slots=True)
class Binary:
    """Vectors of ``n`` bits (the last dim of ``shape``); default dtype i8."""

    n: Dim
    shape: Shape
    dtype: str = "i8"


@attrs.frozen(slots=True)
class MultiOneHot:
    """Several one-hot blocks side by side, of sizes ``nvec``; default dtype i64 (as `OneHot`)."""

    nvec: tuple
    shape: Shape
    dtype: str = "i64"
    mask: tuple | None = None


@attrs.frozen(slots=True)
class MultiCategorical:
    """One index per variable, variable ``i`` in ``0 .. nvec[i]-1``; default dtype i64."""

    nvec: tuple
    shape: Shape
    dtype: str = "i64"
    mask: tuple | None = None


@attrs.frozen(slots=True)
class Composite:
    """Named entries (nested keys); every entry's shape starts with the batch ``shape``."""

    entries: tuple  # tuple[tuple[str, Spec], ...]
    shape: Shape = ()

    def get(self, name: str) -> Spec | None:
        for key, spec in self.entries:
            if key == name:
                return spec
        return None

    def names(self) -> list[str]:
        return [key for key, _ in self.entries]


# ---------------------------------------------------------------------------------------------
# What an entry is made of


class SpecForm(str, enum.Enum):
    """How a spec type is written; each form has its own grammar rule."""

    TENSOR = "tensor"  # a dtype and a shape, `f32[3]`, with bounds `f32[3] in [LOW, HIGH]` (rule `tensor_spec`)
    CALL = "call"  # `name(SIZE, dtype=..., shape=[...], mask=...)` (rule `name_spec`)
    COMPOSITE = "composite"  # `{ name: SPEC, ... }[SHAPE]` (rule `composite_spec`)


class SpecArg(str, enum.Enum):
    """The type of a spec parameter: how the resolver evaluates it and the compiler converts it."""

    SIZE = "a size"  # a positive dim, `n`
    SIZES = "a list of sizes"  # positive sizes of fixed value, `nvec`
    DTYPE = "a dtype"
    INDEX_DTYPE = "an integer dtype or `bool`"  # specs of indices: a float dtype is refused
    SHAPE = "a shape"
    MASK = "a list of `true`/`false`"  # the allowed entries, shaped as the entry's `mask_shape` says
    BOUND = "a number or a list of numbers"  # one number for all elements, or one per element
    ENTRIES = "named specs"


@attrs.frozen(slots=True)
class SpecParam:
    """One parameter of a spec type.

    ``name`` is the language's name, which is also the field of the static class and the
    attribute a model reads (``action.n``); ``target`` is the runtime constructor's argument,
    and ``read`` reads the value back from a runtime spec when its attribute ``target`` does
    not hold it (a ``Binary``'s ``n`` is the number of values of each bit: its bits are the
    last dim of its shape).
    """

    name: str
    type: SpecArg
    required: bool = False
    doc: str = ""
    target: str = attrs.field(default=attrs.Factory(lambda self: self.name, takes_self=True))
    read: Callable[[Any], object] | None = attrs.field(default=None, eq=False, repr=False)


#: The static rule of a call form: ``(size, shape, dtype)`` to the static spec, or to the reason
#: the shape does not fit (a sentence for an E0506 message); the shape is the given one, or the
#: entry's ``default_shape(size)``.
StaticRule = Callable[[Any, Shape, str], "Spec | str"]


@attrs.frozen(slots=True)
class SpecType:
    """One spec type: everything the parser, the resolver, the printer, the compiler and the
    gymnasium converters need to know about it."""

    name: str  # the language's name: a call form's keyword, the word messages use
    form: SpecForm
    static: type  # the static class (above)
    runtime: str  # the runtime class, by dotted name
    summary: str
    params: tuple[SpecParam, ...]  # in the order they are written; a call form's size comes first
    written: str  # how it is written, completing "... is written ": for help and docs
    example: str  # a spec of this type as a key declaration writes it
    dtype: str | None = None  # the default dtype; None when the dtype is always written
    aliases: tuple[str, ...] = ()  # other names users try (torchrl's, gymnasium's): a call form suggests itself
    gym: str | None = None  # the gymnasium space its runtime spec converts to
    rule: str = ""  # how its static spec follows from its arguments, in words
    default_shape: Callable[[Any], Shape] | None = attrs.field(default=None, eq=False, repr=False)  # call forms
    make: StaticRule | None = attrs.field(default=None, eq=False, repr=False)  # call forms: the static rule
    mask_shape: Callable[[Any], Shape] | None = attrs.field(default=None, eq=False, repr=False)  # None: no mask

    def param(self, name: str) -> SpecParam | None:
        """The parameter called ``name``, or None."""
        return next((p for p in self.params if p.name == name), None)

    @property
    def size(self) -> SpecParam:
        """A call form's first, positional parameter (`n` or `nvec`)."""
        return self.params[0]


def normalized_name(word: str) -> str:
    """A name as spec type names are matched when a model misspells one: lower case, no `_`."""
    return word.lower().replace("_", "")


# ---------------------------------------------------------------------------------------------
# Static rules


def _rows(static: type, row_length: Callable[[Any], Dim]) -> dict[str, Callable]:
    """The rule of a spec of rows (its last dim): the shape is one row by default and must end
    with the row's length. The entry's ``default_shape`` and ``make``."""

    def make(size: Any, shape: Shape, dtype: str) -> Spec | str:
        row = row_length(size)
        if not shape or not dims_equal(shape[-1], row):
            return f"the shape must end with {row}, the length of a row"
        return static(size, shape, dtype)

    return {"default_shape": lambda size: (row_length(size),), "make": make}


def _multicategorical(nvec: tuple, shape: Shape, dtype: str) -> Spec | str:
    """One index per variable: the shape ends with the variables."""
    if not shape or not dims_equal(shape[-1], len(nvec)):
        return f"a multicategorical shape ends with the number of variables, {len(nvec)}"
    return MultiCategorical(nvec, shape, dtype)


def _bits(spec: Any) -> object:
    """A runtime ``Binary``'s number of bits: the last dim of its shape."""
    return spec.shape[-1]


# ---------------------------------------------------------------------------------------------
# The table

_DTYPE = SpecParam("dtype", SpecArg.DTYPE, required=True, doc="the dtype, written first: `f32`, `i64`, `bool`, ...")
_TENSOR_SHAPE = SpecParam("shape", SpecArg.SHAPE, required=True, doc="the shape, in brackets after the dtype")
_INDEX_DTYPE = SpecParam("dtype", SpecArg.INDEX_DTYPE, doc="the dtype of the values")
_SHAPE = SpecParam("shape", SpecArg.SHAPE, doc="the whole shape, leading dims included")
_MASK = SpecParam("mask", SpecArg.MASK, doc="the allowed values, `true` for allowed, flattened")

#: Every spec type, in the order the documentation lists them.
SPEC_TYPES: tuple[SpecType, ...] = (
    SpecType(
        name="unbounded",
        form=SpecForm.TENSOR,
        static=Unbounded,
        runtime="rldsl.specs.Unbounded",
        summary="Any value of the dtype.",
        params=(_DTYPE, _TENSOR_SHAPE),
        written="with its dtype and shape: `f32[3]`",
        example="f32[3]",
        gym="Box",
        rule="the dtype and shape as written",
    ),
    SpecType(
        name="bounded",
        form=SpecForm.TENSOR,
        static=Bounded,
        runtime="rldsl.specs.Bounded",
        summary="Values in a box; each bound one number, or one number per element.",
        params=(
            _DTYPE,
            _TENSOR_SHAPE,
            SpecParam("low", SpecArg.BOUND, required=True, doc="the lower bound"),
            SpecParam("high", SpecArg.BOUND, required=True, doc="the upper bound"),
        ),
        written="`f32[3] in [LOW, HIGH]`",
        example="f32[2] in [-1.0, 1.0]",
        aliases=("box",),
        gym="Box",
        rule="the dtype and shape as written; low <= high for every element, and no bounds on `bool`",
    ),
    SpecType(
        name="onehot",
        form=SpecForm.CALL,
        static=OneHot,
        runtime="rldsl.specs.OneHot",
        summary="One-hot rows of length `n`.",
        params=(SpecParam("n", SpecArg.SIZE, required=True, doc="the length of a row"), _INDEX_DTYPE, _SHAPE, _MASK),
        written="`onehot(N, dtype=DTYPE, shape=[..., N], mask=[...])`",
        example="onehot(4, shape=[2, 4], mask=[true, false, true, true, true, true, true, true])",
        dtype="i64",
        aliases=("OneHotDiscrete",),
        gym="Discrete",
        rule="shape `[n]` by default; a given shape ends with `n`; the mask has the spec's shape",
        **_rows(OneHot, lambda n: n),
        mask_shape=lambda spec: spec.shape,
    ),
    SpecType(
        name="categorical",
        form=SpecForm.CALL,
        static=Categorical,
        runtime="rldsl.specs.Categorical",
        summary="Indices in `0 .. n-1`.",
        params=(SpecParam("n", SpecArg.SIZE, required=True, doc="the number of values"), _INDEX_DTYPE, _SHAPE, _MASK),
        written="`categorical(N, dtype=DTYPE, shape=[...], mask=[...])`",
        example="categorical(3, shape=[2], mask=[true, true, false, true, true, true])",
        dtype="i64",
        aliases=("Discrete",),
        gym="Discrete",
        rule="a scalar by default, any given shape; the mask has shape `[*shape, n]`",
        default_shape=lambda n: (),
        make=Categorical,  # any shape
        mask_shape=lambda spec: (*spec.shape, spec.n),
    ),
    SpecType(
        name="binary",
        form=SpecForm.CALL,
        static=Binary,
        runtime="rldsl.specs.Binary",
        summary="Vectors of `n` bits.",
        params=(
            SpecParam("n", SpecArg.SIZE, required=True, doc="the number of bits", read=_bits),
            _INDEX_DTYPE,
            _SHAPE,
        ),
        written="`binary(N, dtype=DTYPE, shape=[..., N])`",
        example="binary(5, dtype=bool, shape=[2, 5])",
        dtype="i8",
        aliases=("MultiBinary",),
        gym="MultiBinary",
        rule="shape `[n]` by default; a given shape ends with `n`; no mask",
        **_rows(Binary, lambda n: n),
    ),
    SpecType(
        name="multionehot",
        form=SpecForm.CALL,
        static=MultiOneHot,
        runtime="rldsl.specs.MultiOneHot",
        summary="One-hot blocks side by side, of sizes `nvec`.",
        params=(SpecParam("nvec", SpecArg.SIZES, required=True, doc="the size of each block"), _INDEX_DTYPE, _SHAPE,
                _MASK),  # fmt: skip
        written="`multionehot([N1, N2, ...], dtype=DTYPE, shape=[..., N1 + N2 + ...], mask=[...])`",
        example="multionehot([2, 3], mask=[true, true, true, false, true])",
        dtype="i64",
        aliases=("MultiOneHotDiscrete",),
        gym="MultiDiscrete",
        rule="shape `[sum(nvec)]` by default; a given shape ends with `sum(nvec)`; the mask has the spec's shape",
        **_rows(MultiOneHot, sum),
        mask_shape=lambda spec: spec.shape,
    ),
    SpecType(
        name="multicategorical",
        form=SpecForm.CALL,
        static=MultiCategorical,
        runtime="rldsl.specs.MultiCategorical",
        summary="One index per variable, variable `i` in `0 .. nvec[i]-1`.",
        params=(SpecParam("nvec", SpecArg.SIZES, required=True, doc="the number of values of each variable"),
                _INDEX_DTYPE, _SHAPE, _MASK),  # fmt: skip
        written="`multicategorical([N1, N2, ...], dtype=DTYPE, shape=[..., VARIABLES], mask=[...])`",
        example="multicategorical([2, 3], shape=[4, 2])",
        dtype="i64",
        aliases=("MultiDiscrete",),
        gym="MultiDiscrete",
        rule="shape `[len(nvec)]` by default; a given shape ends with `len(nvec)`; the mask has shape "
        "`[*shape[:-1], sum(nvec)]`",
        default_shape=lambda nvec: (len(nvec),),
        make=_multicategorical,
        mask_shape=lambda spec: (*spec.shape[:-1], sum(spec.nvec)),
    ),
    SpecType(
        name="composite",
        form=SpecForm.COMPOSITE,
        static=Composite,
        runtime="rldsl.specs.Composite",
        summary="Named entries (nested keys), with an optional batch shape every entry starts with.",
        params=(
            SpecParam("entries", SpecArg.ENTRIES, required=True, doc="`name: SPEC` pairs"),
            SpecParam("shape", SpecArg.SHAPE, doc="the batch shape, in brackets after the braces"),
        ),
        written="`{ name: SPEC, ... }`",
        example="{ obs: f32[2, 3], action: onehot(4, shape=[2, 4]) }[2]",
        gym="Dict",
        rule="every entry's shape starts with the batch shape",
    ),
)

#: The entries by name.
SPEC_TYPES_BY_NAME: dict[str, SpecType] = {spec_type.name: spec_type for spec_type in SPEC_TYPES}

#: The spec types written as calls, in table order.
CALL_TYPES: tuple[SpecType, ...] = tuple(t for t in SPEC_TYPES if t.form is SpecForm.CALL)

_BY_STATIC: dict[type, SpecType] = {spec_type.static: spec_type for spec_type in SPEC_TYPES}


def spec_type_of(spec: object) -> SpecType | None:
    """The entry of a static spec, or None for something else (an unknown spec)."""
    return _BY_STATIC.get(type(spec))
