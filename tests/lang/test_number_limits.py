"""Numbers have limits: huge literals, runaway dim arithmetic, huge shapes and non-finite floats
are diagnostics at the expression, in bounded time, never a hang or an internal error.

Every check here runs in-process and asserts how long it took: the code is bounded by
construction (operands are checked before each step is computed), so a regression shows as a
failed time assertion or a stuck test, not as a flaky one.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rldsl.lang import ast
from rldsl.lang import types as T
from rldsl.lang.check import CheckResult, check_text
from rldsl.lang.resolve import Scope
from rldsl.lang.source import Span
from rldsl.lang.values import NumberLimitError, Reporter, arithmetic, negate, read_number

#: Seconds any one check may take; checks of these small files take milliseconds.
QUICK = 2.0


def check(text: str) -> CheckResult:
    """Check ``text``, asserting that it finishes quickly."""
    start = time.perf_counter()
    result = check_text(text, "t.rlm")
    assert time.perf_counter() - start < QUICK, "the check took too long"
    return result


def codes(text: str) -> list[str]:
    return [d.code for d in check(text).diagnostics]


def only(text: str, code: str):
    found = check(text).diagnostics
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def bound(expr: str) -> str:
    """A key whose upper bound is ``expr``."""
    return f"key k : f32[3] in [0.0, {expr}]"


# ---------------------------------------------------------------------------------------------
# The limits themselves


def test_the_limits_are_named_constants() -> None:
    assert T.MAX_INT == 2**62
    assert T.MAX_SIZE == 2**31 - 1
    assert T.MAX_ELEMENTS == 2**40
    assert "MAX_ELEMENTS" in T.__doc__ or "MAX_ELEMENTS" in open(T.__file__).read()


# ---------------------------------------------------------------------------------------------
# The reproducers of issue 9


def test_forty_chained_squarings_stop_at_the_first_size_too_large() -> None:
    lines = ["dim d0 = 3"] + [f"dim d{i} = d{i - 1}*d{i - 1}" for i in range(1, 41)] + ["key observation : f32[d40]"]
    d = only("\n".join(lines), "E0410")
    assert d.span.line == 6  # dim d5 = d4*d4 is 3**32, the first above 2**31 - 1
    assert "`d4 * d4` is 1853020188851841" in d.message


def test_forty_chained_squarings_of_a_symbolic_dim_keep_short_text() -> None:
    lines = ["dim n", "key k0 : f32[2 * n]"]
    lines += [f"key k{i} : f32[k{i - 1}.shape[0] * k{i - 1}.shape[0] + 1]" for i in range(1, 41)]
    result = check("\n".join(lines))
    assert result.ok
    text = {key.dotted: T.spec_text(key.spec) for key in result.keys}["k40"]
    assert len(text) < 2 * T.MAX_DIM_TEXT


def test_chained_squarings_through_key_shapes_stop_at_the_limit() -> None:
    lines = ["dim n = 3", "key k0 : f32[n]"] + [f"key k{i} : f32[k{i - 1}.shape[0] * k{i - 1}.shape[0]]"
                                                  for i in range(1, 41)]
    d = only("\n".join(lines), "E0410")
    assert d.span.line == 7
    assert len(d.message) < 300


def test_a_four_hundred_digit_bound_is_a_diagnostic() -> None:
    d = only(bound("1" + "0" * 400), "E0114")
    assert "too large" in d.message and "(401 characters)" in d.message
    assert d.span.column == 25 and d.span.end_column == 25 + 401


@pytest.mark.parametrize("digits", [20, 4300, 4301, 100_000])
def test_integer_literals_of_any_length_are_refused_at_once(digits: int) -> None:
    assert codes(bound("9" * digits)) == ["E0114"]
    assert codes(f"dim n = {'9' * digits}") == ["E0114"]


def test_integer_literals_up_to_the_limit_are_read() -> None:
    assert read_number(str(2**62)) == 2**62
    assert read_number("000" + str(2**62)) == 2**62
    assert read_number("1_000") == 1000
    with pytest.raises(NumberLimitError):
        read_number(str(2**62 + 1))
    assert codes(bound(str(2**62))) == []
    assert codes(bound(str(2**62 + 1))) == ["E0114"]


def test_a_float_literal_that_overflows_is_a_diagnostic() -> None:
    d = only(bound("1e999"), "E0114")
    assert "overflows to infinity" in d.message and "`inf`" in d.help
    assert codes(bound("1" * 400 + ".0")) == ["E0114"]
    assert codes(bound("1e308")) == []
    assert codes(bound("1e-999")) == []  # underflow to 0.0 is a number


def test_inf_minus_inf_is_a_diagnostic() -> None:
    found = check(bound("1e308*10 - 1e308*10")).diagnostics
    assert [d.code for d in found] == ["E0511", "E0511"]  # each overflowing product
    assert all("overflows to infinity" in d.message for d in found)
    assert only(bound("inf - inf"), "E0511").message == "the result is not a number (NaN)"
    assert codes(bound("0 * inf")) == ["E0511"]
    assert codes(bound("inf // 5")) == ["E0511"]


def test_literal_inf_and_arithmetic_on_it_stay_allowed() -> None:
    assert codes("key k : f32[3] in [-inf, inf]") == []
    assert codes(bound("2 * inf")) == []
    assert codes(bound("inf + 1")) == []


def test_a_scalar_bound_over_a_huge_shape_stays_one_number() -> None:
    result = check("key observation : f32[65536, 65536] in [0.0, 1.0]")
    assert result.ok
    spec = result.keys[0].spec
    assert spec.low == 0.0 and spec.high == 1.0
    assert T.bounds_of(spec) == ([0.0], [1.0])
    assert result.ok and check("key observation : f32[2147483647] in [0.0, 1.0]").ok


def test_box_comparisons_never_expand_a_scalar_bound() -> None:
    big = (2**20, 2**20)
    outer, inner = T.Bounded(big, "f32", -1.0, 1.0), T.Bounded(big, "f32", -0.5, 0.5)
    start = time.perf_counter()
    assert T.box_contains(outer, inner) is True
    assert T.box_contains(inner, outer) is False
    assert T.box_equal(outer, outer) is True
    assert time.perf_counter() - start < QUICK
    assert T.box_contains(T.Bounded((2,), "f32", (0.0, -1.0), 1.0), T.Bounded((2,), "f32", 0.0, 1.0)) is True
    assert T.box_contains(T.Bounded((2,), "f32", 0.0, 1.0), T.Bounded((3,), "f32", 0.0, 1.0)) is None


# ---------------------------------------------------------------------------------------------
# Sizes and element counts


def test_a_dimension_above_the_size_limit() -> None:
    d = only("key observation : f32[2147483648]", "E0410")
    assert d.message == "a size is at most 2**31 - 1 (2147483647), found 2147483648"
    assert d.span.column == 23
    assert codes("dim n = 2147483648") == ["E0410"]
    assert codes("dim n = 65536 * 32768") == ["E0410"]
    assert codes("dim n = 2147483647\nkey k : f32[n]") == []


def test_a_spec_above_the_element_limit() -> None:
    assert codes("dim n = 2147483647\nkey k : f32[n, n]") == ["E0411"]
    assert codes("key k : f32[1048576, 1048576]") == []  # exactly 2**40
    both = "key k : {a: f32[1048576, 1048576], b: f32[1048576, 1048576]}"
    d = only(both, "E0411")
    assert d.span.column == 9  # the composite, whose entries together pass the limit
    assert codes("key k : onehot(4, shape=[1048576, 1048576, 4])") == ["E0411"]


def test_a_shape_of_thousands_of_huge_dims_is_counted_at_once() -> None:
    d = only("key k : f32[" + ", ".join(["2147483647"] * 20_000) + "]", "E0411")
    assert len(d.message) < 200


def test_discrete_sizes_are_limited() -> None:
    assert codes("key k : onehot(2147483648)") == ["E0410"]
    assert codes("key k : categorical(2147483648)") == ["E0410"]
    assert codes("key k : multicategorical([2147483648, 2])") == ["E0410"]
    d = only("key k : multionehot([2147483647, 2])", "E0410")  # one row of 2**31 + 1 entries
    assert "2147483649" in d.message


MODEL = "key observation : f32[3]\nkey action : f32[1]\n"


@pytest.mark.parametrize("arguments", [
    "out_features=2147483648",
    "out_features=(2, 2147483648)",
    "out_features=1, num_cells=[64, 4294967296]",
    "out_features=1, num_cells=64, depth=2147483648",
    "out_features=1, in_features=99999999999",
])
def test_size_arguments_are_limited(arguments: str) -> None:
    assert codes(MODEL + f"module m = MLP({arguments}) : observation -> hidden") == ["E0410"]


def test_constant_vectors_are_limited() -> None:
    text = ("key observation : f32[4]\nkey action : onehot(4)\n"
            "actor q = DistributionalQValueActor(MLP(out_features=(3, 4)), support={}, spec=action)")
    assert codes(text.format("arange(0, 1e18, 1)")) == ["E0410"]
    assert codes(text.format("linspace(0, 1, 2147483648)")) == ["E0410"]
    assert codes(text.format("arange(3)")) == []


# ---------------------------------------------------------------------------------------------
# Integer arithmetic


def test_integer_arithmetic_out_of_range_is_reported_where_it_happens() -> None:
    d = only(bound("3037000500 * 3037000500"), "E0510")
    assert d.span.column == 25 and "2**62" in d.message
    long_product = "*".join(["2"] * 150)  # 2**150, within the nesting limit of the parser
    d = only(bound(long_product), "E0510")  # once, at the first product past the limit
    assert d.span.column == 25
    assert codes(bound("4611686018427387904 + 1")) == ["E0510"]
    assert codes(bound("-4611686018427387904 - 1")) == ["E0510"]
    assert codes(bound("4611686018427387904 - 1")) == []


def test_division_by_zero_and_indexing_stay_diagnostics() -> None:
    assert codes(bound("5 // 0")) == ["E0606"]
    assert codes(bound("5 % 0")) == ["E0606"]
    assert codes(bound("5 / 0")) == ["E0606"]
    assert codes("key o : f32[3]\nkey k : f32[o.shape[-4611686018427387904]]") == ["E0606"]
    assert codes("key o : f32[3]\nkey k : f32[o.shape[99999999999999999999]]") == ["E0114"]


def test_mixed_int_and_float_arithmetic_stays_in_range() -> None:
    assert codes("dim n = 3\nkey k : f32[n * 1e300]") == ["E0510"]
    assert codes("dim n = 3\n" + bound("n * 1e300")) == ["E0510"]  # a whole float on a dim is a dim
    assert codes("dim n = 3\n" + bound("n * 1e300 / 7")) == ["E0510"]
    assert codes(bound("1e300 * 1e300")) == ["E0511"]


def test_arithmetic_checks_its_operands_before_computing() -> None:
    with pytest.raises(NumberLimitError) as problem:
        arithmetic("*", 10**5000, 10**5000)
    assert problem.value.code == "E0510"
    with pytest.raises(NumberLimitError):
        arithmetic("+", T.Sym("n", 2**63), 1)
    with pytest.raises(NumberLimitError):
        negate(2**63)
    assert arithmetic("*", 2**31, 2**31) == 2**62
    assert arithmetic("+", T.Sym("n"), 1) == T.Sym("n + 1")


def test_a_literal_out_of_range_in_a_tree_built_without_the_parser() -> None:
    reporter = Reporter()
    scope = Scope([], reporter)
    at = Span("t.rlm", 1, 1, 1, 2, 0, 1)
    assert not scope.value(ast.Number(2**70, span=at))
    assert [d.code for d in reporter.diagnostics] == ["E0510"]
    assert not scope.value(ast.Number(float("nan"), span=at))
    assert [d.code for d in reporter.diagnostics] == ["E0510", "E0511"]


# ---------------------------------------------------------------------------------------------
# Property: random arithmetic over dims and literals always checks, quickly, without exceptions

_LITERALS = st.one_of(
    st.integers(0, 10),
    st.integers(0, 2**70).map(str),
    st.sampled_from(["2147483647", "2147483648", "3037000500", "4611686018427387904", "1e308", "1e-308",
                     "1e999", "0.5", "inf", "0", "0.0"]),
    st.floats(0, 1e308, allow_nan=False, allow_infinity=False).map(repr),
)


def _expressions(names: list[str]) -> st.SearchStrategy[str]:
    leaves = st.one_of(_LITERALS.map(str), st.sampled_from(names)) if names else _LITERALS.map(str)

    def combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(children, st.sampled_from(["+", "-", "*", "/", "//", "%"]), children).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})")
        return st.one_of(binary, children.map(lambda e: f"-{e}"))

    return st.recursive(leaves, combine, max_leaves=24)


@st.composite
def _models(draw: st.DrawFn) -> str:
    lines: list[str] = []
    names: list[str] = []
    for i in range(draw(st.integers(1, 8))):
        if draw(st.booleans()):
            lines.append(f"dim d{i} = {draw(_expressions(names))}")
        else:
            lines.append(f"dim d{i}")  # a symbolic dim: any size
        names.append(f"d{i}")
        if draw(st.booleans()):
            names.append(f"k{i}.shape[0]")
            lines.append(f"key k{i} : f32[d{i}] in [{draw(_expressions(names[:-1]))}, {draw(_expressions(names))}]")
    return "\n".join(lines)


@given(_models())  # as many examples as the hypothesis profile says (tests/conftest.py)
def test_random_dim_arithmetic_checks_in_bounded_time(text: str) -> None:
    result = check(text)  # no exception, and quick
    assert {d.code for d in result.diagnostics} <= {"E0114", "E0408", "E0410", "E0411", "E0506", "E0510", "E0511",
                                                    "E0604", "E0606", "E0201", "E0203"}, text


def test_an_arange_too_long_to_count_is_a_size_diagnostic() -> None:
    report = check_text("key observation : f32[3]\nkey action : onehot(4)\n"
                         "actor q = DistributionalQValueActor(MLP(out_features=4), in=[observation], spec=action, "
                         "support=arange(0, 1e30, 1e-10))\n")
    assert "E0410" in [d.code for d in report.diagnostics]


def test_a_float_argument_beyond_f32_is_out_of_range_but_inf_is_not() -> None:
    head = "key observation : f32[3]\nmodule m = MLP(out_features=2) >> NormalParamExtractor(scale_lb={}) : observation -> loc, scale\n"
    (d,) = check_text(head.format("1e308")).diagnostics
    assert d.code == "E0510" and "beyond the largest f32 number" in d.message
    assert check_text(head.format("1e-4")).ok
