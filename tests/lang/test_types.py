"""Static spec types: dims, boxes, text, and the round trip text -> spec -> text."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from rldsl.lang import types as T
from rldsl.lang.check import check_text
from rldsl.lang.infer import specs_equal


def test_dims_compare_by_size_and_unknown_sizes_match() -> None:
    n = T.Sym("n", 3)
    assert T.dims_equal(n, 3) and not T.dims_equal(n, 4)
    assert T.dims_equal(T.Sym("batch"), 17)
    assert T.shapes_equal((n, 2), (3, 2)) and not T.shapes_equal((3,), (3, 1))
    assert T.shape_size((n, 2)) == 6 and T.shape_size((T.Sym("b"), 2)) is None


def test_boxes() -> None:
    outer = T.Bounded((2,), "f32", -2.0, 2.0)
    inner = T.Bounded((2,), "f32", (-1.0, 0.0), (1.0, 2.0))
    assert T.box_contains(outer, inner) is True and T.box_contains(inner, outer) is False
    assert T.box_equal(outer, T.Bounded((2,), "f32", (-2.0, -2.0), 2.0)) is True
    assert T.bound_pairs((0.0, 1.0), (1.0,)) is None
    assert T.box_contains(T.Bounded((T.Sym("b"),), "f32", -1.0, 1.0), T.Bounded((T.Sym("b"),), "f32", 0.0, 1.0))


def test_domains_and_masks() -> None:
    assert T.domain(T.Unbounded((3,))) == "continuous"
    assert T.domain(T.Unbounded((3,), "i64")) == "discrete"
    assert T.domain(T.OneHot(4, (4,))) == "discrete"
    assert T.domain(T.Composite(())) == "composite" and T.domain(T.UNKNOWN) == "unknown"
    assert T.mask_shape(T.Categorical(4, (2,))) == (2, 4)
    assert T.mask_shape(T.MultiCategorical((2, 3), (2,))) == (5,)
    assert T.mask_shape(T.Binary(3, (3,))) is None


def test_text() -> None:
    assert T.spec_text(T.Bounded((2,), "f32", (-1.0, 0.0), (1.0, math.inf))) == "f32[2] in [[-1.0, 0.0], [1.0, inf]]"
    assert T.spec_text(T.Categorical(4, (), "i32")) == "categorical(4, dtype=i32)"
    assert T.spec_text(T.MultiOneHot((2, 3), (5,))) == "multionehot([2, 3])"
    assert T.spec_text(T.Composite((), (3,))) == "{}[3]"
    assert T.spec_text(T.OneHot(3, (3,), "i64", (True, False, True))) == "onehot(3, mask=[true, false, true])"


def test_leaves_walks_composites_parents_first() -> None:
    spec = T.Composite((("a", T.Composite((("b", T.Unbounded((1,))),))), ("c", T.Unbounded((2,)))))
    assert [path for path, _ in T.leaves(spec, ("k",))] == [("k",), ("k", "a"), ("k", "a", "b"), ("k", "c")]


# -- round trip: every spec the checker can hold is written by spec_text in a form that checks back

sizes = st.integers(1, 5)
shapes = st.lists(sizes, max_size=3).map(tuple)
float_dtypes = st.sampled_from(["f16", "f32", "f64", "bf16"])
int_dtypes = st.sampled_from(["i8", "i16", "i32", "i64", "u8"])
bound_values = st.floats(-100, 100, allow_nan=False).map(lambda v: round(v, 2))


@st.composite
def bounded(draw: st.DrawFn) -> T.Spec:
    shape = draw(st.lists(sizes, min_size=1, max_size=2).map(tuple))
    size = T.shape_size(shape)
    lows = draw(st.lists(bound_values, min_size=size, max_size=size))
    widths = draw(st.lists(st.floats(0, 10).map(lambda v: round(v, 2)), min_size=size, max_size=size))
    low = T.simplify_bound(lows) if draw(st.booleans()) else lows[0]
    high = T.simplify_bound([lo + w for lo, w in zip(lows, widths)]) if isinstance(low, tuple) else lows[0] + widths[0]
    return T.Bounded(shape, draw(float_dtypes | int_dtypes), float(low) if not isinstance(low, tuple) else low,
                     float(high) if not isinstance(high, tuple) else high)


@st.composite
def discrete(draw: st.DrawFn) -> T.Spec:
    n = draw(st.integers(2, 5))
    lead = draw(st.lists(sizes, max_size=2).map(tuple))
    kind = draw(st.sampled_from(["onehot", "categorical", "binary", "multionehot", "multicategorical"]))
    dtype = draw(st.sampled_from(["i64", "i32", "bool", "u8"]))
    if kind == "onehot":
        return T.OneHot(n, (*lead, n), dtype)
    if kind == "categorical":
        return T.Categorical(n, lead, dtype if dtype != "bool" else "i64")
    if kind == "binary":
        return T.Binary(n, (*lead, n), dtype)
    nvec = tuple(draw(st.lists(st.integers(2, 4), min_size=1, max_size=3)))
    if kind == "multionehot":
        return T.MultiOneHot(nvec, (*lead, sum(nvec)), dtype)
    return T.MultiCategorical(nvec, (len(nvec),), dtype if dtype != "bool" else "i64")


leaf_specs = st.one_of(shapes.flatmap(lambda s: (float_dtypes | int_dtypes).map(lambda d: T.Unbounded(s, d))),
                       bounded(), discrete())


@st.composite
def composites(draw: st.DrawFn) -> T.Spec:
    names = draw(st.lists(st.sampled_from(["obs", "act", "mask", "x"]), min_size=1, max_size=3, unique=True))
    return T.Composite(tuple((name, draw(leaf_specs)) for name in names))


@given(st.one_of(leaf_specs, composites()))
def test_spec_text_checks_back_to_the_same_spec(spec: T.Spec) -> None:
    result = check_text(f"key k : {T.spec_text(spec)}\n", "round.rlm")
    assert result.diagnostics == (), (T.spec_text(spec), [d.message for d in result.diagnostics])
    assert specs_equal(result.keys[0].spec, spec), T.spec_text(spec)
