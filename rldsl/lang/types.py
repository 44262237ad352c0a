"""Static spec types: what the checker knows about a tensor key before any tensor exists.

Each spec type of the language has a static class mirroring one runtime spec of
:mod:`rldsl.specs` (and torchrl's): :class:`Unbounded`, :class:`Bounded`, :class:`OneHot`,
:class:`Categorical`, :class:`Binary`, :class:`MultiOneHot`, :class:`MultiCategorical` and
:class:`Composite`, defined with the spec type's description in :mod:`rldsl.lang.spec_types` and
exported here; plus :class:`Unknown` for a spec that could not be worked out because of an
earlier error (every check involving it passes silently, so one mistake is reported once). They
are immutable and pure Python: no torch. This module holds what the passes do with them: limits,
dtypes, bounds, text, and the walk over a composite's entries.

Shapes are tuples of dims; a dim is an ``int`` or a :class:`Sym`, a named dimension such as
``n_agents`` (``dim n_agents = 3``: its value is known) or ``batch`` (``dim batch``: any size).
Dims compare by value when both values are known; a dim of unknown size matches any size
(:mod:`rldsl.lang.dims`, whose names are exported here too).

>>> action = Bounded((1,), "f32", -2.0, 2.0)
>>> spec_text(action), domain(action)
('f32[1] in [-2.0, 2.0]', 'continuous')
>>> spec_text(OneHot(4, (Sym("n_agents", 3), 4), "bool"))
'onehot(4, dtype=bool, shape=[n_agents, 4])'
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Union

import attrs

from rldsl.lang.dims import ANY_DIM, Dim, Shape, Sym, dim_value, dims_equal, shape_size, shape_text, shapes_equal
from rldsl.lang.spec_types import (
    CALL_TYPES,
    SPEC_TYPES,
    Binary,
    Bound,
    Bounded,
    Categorical,
    Composite,
    MultiCategorical,
    MultiOneHot,
    OneHot,
    SpecArg,
    SpecForm,
    SpecType,
    Unbounded,
    spec_type_of,
)

# The static classes and dims are defined in rldsl.lang.spec_types and rldsl.lang.dims; the passes
# import them from here, with what this module does with them.
__all__ = [
    "ANY_DIM", "Binary", "Bound", "Bounded", "Categorical", "Composite", "DISCRETE_DEFAULT_DTYPE", "DTYPES",
    "Dim", "F32_MAX", "FLOAT_DTYPES", "INDEX_SPECS", "INT_DTYPES", "MAX_DIM_TEXT", "MAX_ELEMENTS", "MAX_INT",
    "MAX_SIZE", "MultiCategorical", "MultiOneHot", "OneHot", "Shape", "Spec", "Sym", "UNKNOWN", "Unbounded",
    "Unknown", "bound_pairs", "bound_text", "bounds_of", "box_contains", "box_equal", "class_name",
    "dim_value", "dims_equal", "domain", "element_count", "is_float_dtype", "is_unknown", "leaves",
    "mask_shape", "number_text", "shape_size", "shape_text", "shapes_equal", "simplify_bound", "size_problem",
    "spec_text", "with_article",
]

# ---------------------------------------------------------------------------------------------
# Limits
#
# The checker runs on untrusted text, so every number it computes with is bounded: no
# expression can make it hang (a chain of squarings), crash (a float too large for an int), or
# allocate per element (a scalar bound over a huge shape stays one number). The limits are:
#
# - MAX_INT: the largest magnitude of an integer literal or of the integer result of arithmetic
#   (E0114 for a literal, E0510 for a result). Operands are bounded by it, so computing one step
#   is cheap, and its result is checked before anything else uses it.
# - MAX_SIZE: the largest dimension, size argument (``out_features``, ``num_cells``, ...) or
#   vector length (E0410); torch indexes with 32-bit sizes in many kernels.
# - MAX_ELEMENTS: the largest number of elements of one key's spec, every entry of a composite
#   counted (E0411).
# - MAX_DIM_TEXT: the longest text a computed dim keeps for messages (``2 * n``); longer
#   expressions are shortened, so repeated doubling of a symbolic dim cannot grow text without end.
#
# Non-finite floats are limited too: NaN from arithmetic, or infinity from finite operands
# (``1e308 * 10``), is E0511; a float literal that overflows (``1e999``) is E0114. The literal
# ``inf`` stays allowed where the language accepts it (bounds).

#: Largest magnitude of an integer literal or integer arithmetic result.
MAX_INT = 2**62
#: Largest dimension or size.
MAX_SIZE = 2**31 - 1
#: Largest element count of one key's spec.
MAX_ELEMENTS = 2**40
#: Longest text of a computed dim.
MAX_DIM_TEXT = 80
#: Largest finite f32 number: a float argument of a module beyond it is E0510 (modules compute in f32).
F32_MAX = 3.4028234663852886e38

# ---------------------------------------------------------------------------------------------
# Sizes


def element_count(shape: Shape, limit: int = MAX_ELEMENTS) -> int | None:
    """The number of elements of a shape, counting only dims of known size, but at most
    ``limit + 1``: the product stops growing once it is past ``limit``, so a shape of thousands of
    huge dims is counted in a moment. Callers compare the result with ``limit``.

    >>> element_count((3, Sym("n", 4))), element_count((Sym("batch"), 2)), element_count((MAX_SIZE,) * 9)
    (12, 2, 1099511627777)
    """
    total = 1
    for dim in shape:
        value = dim_value(dim)
        if value is not None:
            total *= max(value, 0)
            if total > limit:
                return limit + 1
    return total


# The fields of each static class that hold a size (`n`): dims that size_problem checks too.
_SIZE_FIELDS = {t.static: tuple(p.name for p in t.params if p.type is SpecArg.SIZE) for t in SPEC_TYPES}


def size_problem(spec: Spec) -> tuple[str, str] | None:
    """Why a spec is too large, as ``(code, message)``: a dim above :data:`MAX_SIZE` (E0410) or
    more than :data:`MAX_ELEMENTS` elements over all its leaves (E0411); None when it fits.

    >>> size_problem(Unbounded((MAX_SIZE,) * 2))
    ('E0411', 'the spec has more than 1099511627776 (2**40) elements')
    >>> size_problem(Categorical(2)) is None
    True
    """
    total = 0
    for _, leaf in leaves(spec):
        if isinstance(leaf, (Composite, Unknown)):
            continue
        sizes = _SIZE_FIELDS[type(leaf)]
        dims = (*leaf.shape, *[getattr(leaf, name) for name in sizes]) if sizes else leaf.shape
        for dim in dims:
            value = dim_value(dim)
            if value is not None and value > MAX_SIZE:
                return "E0410", f"a size is at most 2**31 - 1 ({MAX_SIZE}), but the spec has a dimension of {value}"
        total += element_count(leaf.shape)
        if total > MAX_ELEMENTS:
            return "E0411", f"the spec has more than {MAX_ELEMENTS} (2**40) elements"
    return None


# ---------------------------------------------------------------------------------------------
# Dtypes

#: Every dtype name, in the order the language documents them.
DTYPES = ("f16", "f32", "f64", "bf16", "i8", "i16", "i32", "i64", "u8", "bool")
FLOAT_DTYPES = frozenset({"f16", "f32", "f64", "bf16"})
INT_DTYPES = frozenset({"i8", "i16", "i32", "i64", "u8"})


def is_float_dtype(dtype: str) -> bool:
    return dtype in FLOAT_DTYPES


# ---------------------------------------------------------------------------------------------
# Specs

@attrs.frozen(slots=True)
class Unknown:
    """A spec that could not be worked out (an error was reported already): it matches anything."""

    @property
    def shape(self) -> Shape:
        return ()

    @property
    def dtype(self) -> str:
        return "?"


Spec = Union[Unbounded, Bounded, OneHot, Categorical, Binary, MultiOneHot, MultiCategorical, Composite, Unknown]
UNKNOWN = Unknown()

#: Default dtype of each discrete spec class (the spec types written as calls).
DISCRETE_DEFAULT_DTYPE = {spec_type.static: spec_type.dtype for spec_type in CALL_TYPES}
INDEX_SPECS = tuple(spec_type.static for spec_type in CALL_TYPES)


def is_unknown(*specs: object) -> bool:
    """True when any of ``specs`` is :class:`Unknown` (or None): skip checks that need it."""
    return any(spec is None or isinstance(spec, Unknown) for spec in specs)


def domain(spec: Spec) -> str:
    """``continuous`` (a float box), ``discrete`` (indices, one-hot, integer boxes),
    ``composite`` or ``unknown`` — the same split as torchrl's ``spec.domain``."""
    if isinstance(spec, Unknown):
        return "unknown"
    if isinstance(spec, Composite):
        return "composite"
    if isinstance(spec, (Unbounded, Bounded)) and is_float_dtype(spec.dtype):
        return "continuous"
    return "discrete"


def class_name(spec: Spec) -> str:
    """The spec's class in words, as a user writes it: ``bounded f32``, ``onehot``, ..."""
    if isinstance(spec, Unknown):
        return "unknown"
    spec_type = _spec_type(spec)
    return f"{spec_type.name} {spec.dtype}" if spec_type.form is SpecForm.TENSOR else spec_type.name


def with_article(word: str) -> str:
    """``word`` after its indefinite article: ``an unbounded f32``, ``a onehot``."""
    return f"{'an' if word[:1] in 'aeiou' and not word.startswith('one') else 'a'} {word}"


def mask_shape(spec: Spec) -> Shape | None:
    """The shape a mask of ``spec`` has (as in :mod:`rldsl.specs`), or None if it takes none."""
    spec_type = spec_type_of(spec)
    if spec_type is None or spec_type.mask_shape is None:
        return None
    return spec_type.mask_shape(spec)


def bounds_of(spec: Bounded) -> tuple[list[float], list[float]] | None:
    """The ``(low, high)`` bounds of a box as lists: one number per element where the spec has a
    list, a one-item list for a scalar bound (never repeated per element: a scalar bound over a
    shape of two billion elements stays one number). None when a list bound's shape has no
    known size.

    >>> bounds_of(Bounded((MAX_SIZE,), "f32", 0.0, 1.0))
    ([0.0], [1.0])
    """
    if shape_size(spec.shape) is None and (isinstance(spec.low, tuple) or isinstance(spec.high, tuple)):
        return None
    return _as_list(spec.low), _as_list(spec.high)


def _as_list(bound: Bound) -> list[float]:
    return list(bound) if isinstance(bound, tuple) else [bound]


def simplify_bound(values: list[float]) -> Bound:
    """A list of equal bounds as one number, else a tuple."""
    if values and all(v == values[0] for v in values):
        return values[0]
    return tuple(values)


def bound_pairs(low: Bound, high: Bound) -> list[tuple[float, float]] | None:
    """``(low, high)`` per element, a scalar bound repeated; None when two lists differ in length.

    >>> bound_pairs(-1.0, (0.0, 2.0))
    [(-1.0, 0.0), (-1.0, 2.0)]
    """
    lows = list(low) if isinstance(low, tuple) else None
    highs = list(high) if isinstance(high, tuple) else None
    if lows is not None and highs is not None:
        return list(zip(lows, highs)) if len(lows) == len(highs) else None
    if lows is not None:
        return [(v, high) for v in lows]
    if highs is not None:
        return [(low, v) for v in highs]
    return [(low, high)]


def box_contains(outer: Bounded, inner: Bounded) -> bool | None:
    """Whether every element's range of ``inner`` lies in ``outer``'s (None: cannot tell)."""
    a, b = bounds_of(outer), bounds_of(inner)
    if a is None or b is None:
        return None
    sizes = (shape_size(outer.shape) or 1, shape_size(inner.shape) or 1)
    if sizes[0] != sizes[1] and min(sizes) != 1:
        return None
    (olo, ohi), (ilo, ihi) = a, b
    return all(lo <= il for lo, il in _pairs(olo, ilo)) and all(ih <= hi for hi, ih in _pairs(ohi, ihi))


def box_equal(a: Bounded, b: Bounded) -> bool | None:
    """Whether two boxes have the same bounds element by element (None: cannot tell)."""
    inside, outside = box_contains(a, b), box_contains(b, a)
    if inside is None or outside is None:
        return None
    return inside and outside


def _pairs(xs: list[float], ys: list[float]) -> Iterator[tuple[float, float]]:
    if len(xs) == len(ys):
        return zip(xs, ys)
    if len(xs) == 1:
        return ((xs[0], y) for y in ys)
    return ((x, ys[0]) for x in xs)


# ---------------------------------------------------------------------------------------------
# Text: specs as they are written in a `.rlm` file


def number_text(value: float | int) -> str:
    """A number as the language writes it: ``2.0``, ``-inf``, ``0.0001``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    return str(value)


def bound_text(bound: Bound) -> str:
    if isinstance(bound, tuple):
        return "[" + ", ".join(number_text(v) for v in bound) + "]"
    return number_text(bound)


def _call_text(spec: Spec, spec_type: SpecType) -> str:
    """A spec written as a call: its size, then the options (`dtype`, `shape` and `mask`, those
    of every call form) that differ from the spec type's defaults."""
    size = getattr(spec, spec_type.size.name)
    text = str(size) if spec_type.size.type is SpecArg.SIZE else "[" + ", ".join(map(str, size)) + "]"
    if spec.dtype != spec_type.dtype:
        text += f", dtype={spec.dtype}"
    if tuple(spec.shape) != tuple(spec_type.default_shape(size)):
        text += f", shape={shape_text(spec.shape)}"
    mask = getattr(spec, "mask", None)
    if mask is not None:
        text += ", mask=[" + ", ".join("true" if m else "false" for m in mask) + "]"
    return f"{spec_type.name}({text})"


def spec_text(spec: Spec) -> str:
    """A spec in the syntax of a key declaration.

    >>> spec_text(Composite((("obs", Unbounded((3,))), ("done", Categorical(2, (1,), "bool")))))
    '{ obs: f32[3], done: categorical(2, dtype=bool, shape=[1]) }'
    """
    if isinstance(spec, Unbounded):
        return f"{spec.dtype}{shape_text(spec.shape)}"
    if isinstance(spec, Bounded):
        return f"{spec.dtype}{shape_text(spec.shape)} in [{bound_text(spec.low)}, {bound_text(spec.high)}]"
    spec_type = spec_type_of(spec)
    if spec_type is not None and spec_type.form is SpecForm.CALL:
        return _call_text(spec, spec_type)
    if isinstance(spec, Composite):
        inner = ", ".join(f"{name}: {spec_text(entry)}" for name, entry in spec.entries)
        body = "{ " + inner + " }" if inner else "{}"
        return body + (shape_text(spec.shape) if spec.shape else "")
    return "?"


def _spec_type(spec: Spec) -> SpecType:
    spec_type = spec_type_of(spec)
    if spec_type is None:
        raise TypeError(f"{type(spec).__name__} is not a static spec")
    return spec_type


def leaves(spec: Spec, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Spec]]:
    """Every ``(path, spec)`` of a spec, the composites themselves included, parents first."""
    stack = [(prefix, spec)]
    while stack:
        path, current = stack.pop()
        yield path, current
        if isinstance(current, Composite):
            stack.extend((path + (name,), entry) for name, entry in reversed(current.entries))
