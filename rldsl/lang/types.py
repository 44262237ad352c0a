"""Static spec types: what the checker knows about a tensor key before any tensor exists.

Each class mirrors one runtime spec of :mod:`rldsl.specs` (and torchrl's): :class:`Unbounded`,
:class:`Bounded`, :class:`OneHot`, :class:`Categorical`, :class:`Binary`, :class:`MultiOneHot`,
:class:`MultiCategorical` and :class:`Composite`, plus :class:`Unknown` for a spec that could
not be worked out because of an earlier error (every check involving it passes silently, so
one mistake is reported once). They are immutable and pure Python: no torch.

Shapes are tuples of dims; a dim is an ``int`` or a :class:`Sym`, a named dimension such as
``n_agents`` (``dim n_agents = 3``: its value is known) or ``batch`` (``dim batch``: any size).
Dims compare by value when both values are known; a dim of unknown size matches any size.

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
# Dims and shapes


@attrs.frozen(slots=True)
class Sym:
    """A named dimension: ``text`` is how it is written (``n_agents``, ``2 * n_actions``) and
    ``value`` its size when known (None: any size)."""

    text: str
    value: int | None = None

    def __str__(self) -> str:
        return self.text


Dim = Union[int, Sym]
Shape = tuple  # tuple[Dim, ...]

#: A dim of unknown size, used after an error.
ANY_DIM = Sym("?", None)


def dim_value(dim: Dim) -> int | None:
    """The size of a dim, or None when it is not known.

    >>> dim_value(3), dim_value(Sym("n", 4)), dim_value(Sym("batch"))
    (3, 4, None)
    """
    return dim if isinstance(dim, int) else dim.value


def dims_equal(a: Dim, b: Dim) -> bool:
    """Whether two dims can be the same size: equal values, or the same name, or an unknown size.

    >>> dims_equal(3, Sym("n", 3)), dims_equal(3, 4), dims_equal(Sym("batch"), 7)
    (True, False, True)
    """
    va, vb = dim_value(a), dim_value(b)
    if va is not None and vb is not None:
        return va == vb
    return True


def shapes_equal(a: Shape, b: Shape) -> bool:
    """Same rank and every pair of dims :func:`dims_equal`."""
    return len(a) == len(b) and all(dims_equal(x, y) for x, y in zip(a, b))


def shape_size(shape: Shape) -> int | None:
    """The number of elements of a shape, or None when a dim's size is unknown."""
    total = 1
    for dim in shape:
        value = dim_value(dim)
        if value is None:
            return None
        total *= value
    return total


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
        dims = (*leaf.shape, *((leaf.n,) if isinstance(leaf, (OneHot, Categorical, Binary)) else ()))
        for dim in dims:
            value = dim_value(dim)
            if value is not None and value > MAX_SIZE:
                return "E0410", f"a size is at most 2**31 - 1 ({MAX_SIZE}), but the spec has a dimension of {value}"
        total += element_count(leaf.shape)
        if total > MAX_ELEMENTS:
            return "E0411", f"the spec has more than {MAX_ELEMENTS} (2**40) elements"
    return None


def shape_text(shape: Shape) -> str:
    """``[n_agents, 8]``."""
    return "[" + ", ".join(str(d) for d in shape) + "]"


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

#: Default dtype of each discrete spec class.
DISCRETE_DEFAULT_DTYPE = {OneHot: "i64", Categorical: "i64", Binary: "i8", MultiOneHot: "i64",
                          MultiCategorical: "i64"}  # fmt: skip
INDEX_SPECS = (OneHot, Categorical, Binary, MultiOneHot, MultiCategorical)


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
    if isinstance(spec, (Unbounded, Bounded)):
        return f"{'bounded' if isinstance(spec, Bounded) else 'unbounded'} {spec.dtype}"
    return {OneHot: "onehot", Categorical: "categorical", Binary: "binary", MultiOneHot: "multionehot",
            MultiCategorical: "multicategorical", Composite: "composite", Unknown: "unknown"}[type(spec)]  # fmt: skip


def with_article(word: str) -> str:
    """``word`` after its indefinite article: ``an unbounded f32``, ``a onehot``."""
    return f"{'an' if word[:1] in 'aeiou' and not word.startswith('one') else 'a'} {word}"


def mask_shape(spec: Spec) -> Shape | None:
    """The shape a mask of ``spec`` has (as in :mod:`rldsl.specs`), or None if it takes none."""
    if isinstance(spec, (OneHot, MultiOneHot)):
        return spec.shape
    if isinstance(spec, Categorical):
        return (*spec.shape, spec.n)
    if isinstance(spec, MultiCategorical):
        return (*spec.shape[:-1], sum(spec.nvec))
    return None


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


def _options(spec: Spec, default_shape: Shape) -> str:
    parts = []
    if spec.dtype != DISCRETE_DEFAULT_DTYPE[type(spec)]:
        parts.append(f"dtype={spec.dtype}")
    if tuple(spec.shape) != tuple(default_shape):
        parts.append(f"shape={shape_text(spec.shape)}")
    mask = getattr(spec, "mask", None)
    if mask is not None:
        parts.append("mask=[" + ", ".join("true" if m else "false" for m in mask) + "]")
    return "".join(", " + p for p in parts)


def spec_text(spec: Spec) -> str:
    """A spec in the syntax of a key declaration.

    >>> spec_text(Composite((("obs", Unbounded((3,))), ("done", Categorical(2, (1,), "bool")))))
    '{ obs: f32[3], done: categorical(2, dtype=bool, shape=[1]) }'
    """
    if isinstance(spec, Unbounded):
        return f"{spec.dtype}{shape_text(spec.shape)}"
    if isinstance(spec, Bounded):
        return f"{spec.dtype}{shape_text(spec.shape)} in [{bound_text(spec.low)}, {bound_text(spec.high)}]"
    if isinstance(spec, OneHot):
        return f"onehot({spec.n}{_options(spec, (spec.n,))})"
    if isinstance(spec, Categorical):
        return f"categorical({spec.n}{_options(spec, ())})"
    if isinstance(spec, Binary):
        return f"binary({spec.n}{_options(spec, (spec.n,))})"
    if isinstance(spec, MultiOneHot):
        return f"multionehot([{', '.join(map(str, spec.nvec))}]{_options(spec, (sum(spec.nvec),))})"
    if isinstance(spec, MultiCategorical):
        return f"multicategorical([{', '.join(map(str, spec.nvec))}]{_options(spec, (len(spec.nvec),))})"
    if isinstance(spec, Composite):
        inner = ", ".join(f"{name}: {spec_text(entry)}" for name, entry in spec.entries)
        body = "{ " + inner + " }" if inner else "{}"
        return body + (shape_text(spec.shape) if spec.shape else "")
    return "?"


def leaves(spec: Spec, prefix: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Spec]]:
    """Every ``(path, spec)`` of a spec, the composites themselves included, parents first."""
    stack = [(prefix, spec)]
    while stack:
        path, current = stack.pop()
        yield path, current
        if isinstance(current, Composite):
            stack.extend((path + (name,), entry) for name, entry in reversed(current.entries))
