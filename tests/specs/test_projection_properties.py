"""Property tests (hypothesis) of projection into every spec.

For each spec class: the projection always lands in the spec (`is_in`), is idempotent, leaves
members unchanged, keeps the dtype and the shape (batch dims included) and honours masks.
Boxes: the projection is the L1-nearest point of the box (checked against random members,
the box corners and a float64 clamp oracle), per-element bounds apply per element, the
gradient is 1 inside and 0 outside, and NaN / ±inf give the documented results. Discrete
specs are checked against small pure-Python oracles. Composites project leaf by leaf.

The strategies draw random shapes (0-3 dims, batch dims included), scalar and per-element
bounds (degenerate, half-open and open boxes included), floats of every width with huge
values, ±inf, subnormals and signed zeros (NaN only where a property covers it), integer
dtypes from uint8 to int64 (their extremes included) and masks with a True in every row.
"""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tensordict import TensorDict

from rldsl.specs import (
    Binary,
    Bounded,
    Categorical,
    Composite,
    MultiCategorical,
    MultiOneHot,
    OneHot,
    Unbounded,
)

INF = float("inf")
FLOAT_DTYPES = [torch.float16, torch.float32, torch.float64]
INT_DTYPES = [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64]
WIDTH = {torch.float16: 16, torch.float32: 32, torch.float64: 64}


# ============================================================================================
# strategies
# ============================================================================================
def shapes(max_dims: int = 2, max_side: int = 3, min_side: int = 0):
    """Tuples of 0 to `max_dims` sizes in ``[min_side, max_side]``."""
    return st.lists(st.integers(min_side, max_side), max_size=max_dims).map(tuple)


def spec_shapes():
    """A spec's own shape: 0 to 3 dims, sizes 0 to 3."""
    return shapes(max_dims=3)


def batch_shapes():
    """Batch dims in front of a value: 0 to 2 dims, sizes 0 to 2."""
    return shapes(max_dims=2, max_side=2)


def elements(dtype: torch.dtype, nan: bool = False):
    """Every kind of value of `dtype`: huge, ±inf, subnormal, signed zeros (NaN if asked)."""
    if dtype.is_floating_point:
        return st.floats(width=WIDTH[dtype], allow_nan=nan, allow_infinity=True, allow_subnormal=True)
    if dtype is torch.bool:
        return st.booleans()
    info = torch.iinfo(dtype)
    small = st.integers(max(info.min, -20), min(info.max, 20))
    return st.one_of(small, st.integers(info.min, info.max), st.sampled_from([info.min, info.max]))


def tensors(draw, element_strategy, shape, dtype) -> torch.Tensor:
    values = draw(st.lists(element_strategy, min_size=math.prod(shape), max_size=math.prod(shape)))
    return torch.tensor(values, dtype=dtype).reshape(shape)


@st.composite
def bound_pairs(draw, dtype: torch.dtype):
    """``(low, high)`` with ``low <= high``: any, degenerate, half-open or open."""
    element = elements(dtype)
    low, high = sorted([draw(element), draw(element)])
    if dtype.is_floating_point:
        kind = draw(st.sampled_from(["any", "degenerate", "low_open", "high_open", "open"]))
        low = -INF if kind in ("low_open", "open") else low
        high = INF if kind in ("high_open", "open") else high
    else:
        kind = draw(st.sampled_from(["any", "degenerate"]))
    return (low, low) if kind == "degenerate" else (low, high)


@st.composite
def bounded_specs(draw, dtypes=tuple(FLOAT_DTYPES + INT_DTYPES)):
    """A `Bounded` with scalar or per-element bounds."""
    dtype = draw(st.sampled_from(dtypes))
    shape = draw(spec_shapes())
    if draw(st.booleans()):
        pairs = [draw(bound_pairs(dtype)) for _ in range(math.prod(shape))]
        low = torch.tensor([p[0] for p in pairs], dtype=dtype).reshape(shape)
        high = torch.tensor([p[1] for p in pairs], dtype=dtype).reshape(shape)
    else:
        low, high = draw(bound_pairs(dtype))
    return Bounded(low, high, shape=shape, dtype=dtype)


def step_down(x: torch.Tensor) -> torch.Tensor:
    if x.dtype.is_floating_point:
        return torch.nextafter(x, torch.full_like(x, -INF))
    return torch.where(x == torch.iinfo(x.dtype).min, x, x - 1)


def step_up(x: torch.Tensor) -> torch.Tensor:
    if x.dtype.is_floating_point:
        return torch.nextafter(x, torch.full_like(x, INF))
    return torch.where(x == torch.iinfo(x.dtype).max, x, x + 1)


@st.composite
def box_values(draw, spec: Bounded, dtype: torch.dtype | None = None, nan: bool = False, batch=None):
    """Values for a box spec with batch dims; in its own dtype some sit on or just beside a bound."""
    dtype = dtype or spec.dtype
    full = (*(draw(batch_shapes()) if batch is None else batch), *spec.shape)
    value = tensors(draw, elements(dtype, nan), full, dtype)
    if dtype is spec.dtype and value.numel():
        low, high = spec.low.expand(full), spec.high.expand(full)
        choices = torch.stack([value, low, high, step_down(low), step_up(low), step_down(high), step_up(high)])
        codes = tensors(draw, st.integers(0, 6), full, torch.int64)
        value = choices.gather(0, codes.unsqueeze(0)).squeeze(0)
    return value


def box_members(draw, spec: Bounded, batch=None) -> torch.Tensor:
    """Members of a box: drawn values, those outside replaced by a bound."""
    value = draw(box_values(spec, batch=batch))
    low, high = spec.low.expand(value.shape), spec.high.expand(value.shape)
    pick_low = tensors(draw, st.booleans(), value.shape, torch.bool)
    inside = (value >= low) & (value <= high)
    return torch.where(inside, value, torch.where(pick_low, low, high))


@st.composite
def masks(draw, shape):
    """A bool mask of `shape` (last dim = the choices) with at least one True per row."""
    n = shape[-1]
    rows = []
    for _ in range(math.prod(shape[:-1])):
        row = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        if not any(row):
            row[draw(st.integers(0, n - 1))] = True
        rows.append(row)
    return torch.tensor(rows, dtype=torch.bool).reshape(shape)


def optional_mask(draw, shape):
    return draw(masks(shape)) if draw(st.booleans()) else None


def block_masks(draw, lead, nvec):
    """A mask per block of sizes `nvec`, side by side on the last dim."""
    return torch.cat([draw(masks((*lead, n))) for n in nvec], -1)


@st.composite
def one_hot_specs(draw):
    n = draw(st.integers(1, 5))
    shape = (*draw(shapes()), n)
    dtype = draw(st.sampled_from([torch.bool, torch.uint8, torch.int64, torch.float32]))
    return OneHot(n, shape=shape, dtype=dtype, mask=optional_mask(draw, shape))


@st.composite
def categorical_specs(draw):
    n = draw(st.integers(1, 6))
    shape = draw(spec_shapes())
    dtype = draw(st.sampled_from(INT_DTYPES + ([torch.bool] if n <= 2 else [])))
    return Categorical(n, shape=shape, dtype=dtype, mask=optional_mask(draw, (*shape, n)))


@st.composite
def multi_one_hot_specs(draw):
    nvec = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    lead = draw(shapes(max_dims=1))
    mask = block_masks(draw, lead, nvec) if draw(st.booleans()) else None
    dtype = draw(st.sampled_from([torch.bool, torch.int64]))
    return MultiOneHot(nvec, shape=(*lead, sum(nvec)), dtype=dtype, mask=mask)


@st.composite
def multi_categorical_specs(draw):
    nvec = draw(st.lists(st.integers(1, 4), min_size=1, max_size=3))
    lead = draw(shapes(max_dims=1))
    mask = block_masks(draw, lead, nvec) if draw(st.booleans()) else None
    dtype = draw(st.sampled_from([torch.int64, torch.int32, torch.uint8]))
    return MultiCategorical(nvec, shape=(*lead, len(nvec)), dtype=dtype, mask=mask)


def any_values(draw, spec_shape, nan: bool, batch=None):
    """Values of any dtype (floats with huge/inf/subnormal entries, ints, bools) for a spec shape."""
    dtype = draw(st.sampled_from(FLOAT_DTYPES + [torch.int8, torch.uint8, torch.int64, torch.bool]))
    full = (*(draw(batch_shapes()) if batch is None else batch), *spec_shape)
    return tensors(draw, elements(dtype, nan), full, dtype)


def seed_torch(data) -> None:
    """Make `rand` reproducible by hypothesis: the torch seed is part of the example."""
    torch.manual_seed(data.draw(st.integers(0, 2**32 - 1), label="torch seed"))


# ============================================================================================
# oracles
# ============================================================================================
def as_number(x):
    return Fraction(x) if isinstance(x, float) and math.isfinite(x) else x


def nearest_allowed(x, allowed: list[int]) -> int:
    """The allowed index nearest to `x` (exact arithmetic), ties to the lower, NaN to the lowest."""
    if isinstance(x, float) and math.isnan(x):
        return allowed[0]
    if x == INF:
        return allowed[-1]
    if x == -INF:
        return allowed[0]
    x = as_number(x)
    return min(allowed, key=lambda k: (abs(k - x), k))


def best_allowed(scores: list, allowed: list[int]) -> int:
    """The allowed index of the largest score; NaN never wins; ties to the lower index."""
    numbers = [i for i in allowed if not (isinstance(scores[i], float) and math.isnan(scores[i]))]
    if not numbers:
        return allowed[0]
    best = max(scores[i] for i in numbers)
    return min(i for i in numbers if scores[i] == best)


def allowed_rows(mask: torch.Tensor | None, lead_shape, n: int, batch_rows: int):
    """Per flattened row of the value, the list of allowed indices."""
    if mask is None:
        per_spec_row = [list(range(n))] * max(1, math.prod(lead_shape))
    else:
        per_spec_row = [[i for i, ok in enumerate(row) if ok] for row in mask.reshape(-1, n).tolist()]
    return [per_spec_row[r % len(per_spec_row)] for r in range(batch_rows)]


def l1_distance(point: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
    """Per-element |point - value| in float64, 0 where they are equal (so inf - inf is 0)."""
    point, value = point.double(), value.double()
    return torch.where(point == value, torch.zeros_like(value), (point - value).abs())


def same_bits(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if not a.dtype.is_floating_point:
        return torch.equal(a, b)
    return (torch.equal(a.isnan(), b.isnan()) and torch.equal(a.nan_to_num(), b.nan_to_num())
            and torch.equal(a.signbit(), b.signbit()))


# ============================================================================================
# Bounded
# ============================================================================================
@given(data=st.data())
def test_bounded_keeps_scalar_python_bounds_exactly(data):
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES + INT_DTYPES))
    low, high = data.draw(bound_pairs(dtype))
    shape = data.draw(shapes(min_side=1))
    spec = Bounded(low, high, shape=shape, dtype=dtype)
    assert spec.low.dtype is dtype and spec.high.dtype is dtype
    assert spec.low.flatten().tolist() == [low] * math.prod(shape)
    assert spec.high.flatten().tolist() == [high] * math.prod(shape)


@given(data=st.data())
def test_bounded_project_lands_in_the_box_with_the_spec_dtype_and_the_value_shape(data):
    spec = data.draw(bounded_specs(), label="spec")
    dtype = data.draw(st.sampled_from([spec.dtype] + FLOAT_DTYPES + [torch.int8, torch.uint8, torch.int64, torch.bool]))
    value = data.draw(box_values(spec, dtype), label="value")
    out = spec.project(value)
    assert out.dtype is spec.dtype
    assert out.shape == value.shape
    assert spec.is_in(out)


@given(data=st.data())
def test_bounded_project_is_idempotent(data):
    spec = data.draw(bounded_specs(), label="spec")
    dtype = data.draw(st.sampled_from([spec.dtype, torch.float64, torch.int64]))
    once = spec.project(data.draw(box_values(spec, dtype), label="value"))
    assert torch.equal(spec.project(once), once)


@given(data=st.data())
def test_bounded_project_leaves_members_unchanged(data):
    spec = data.draw(bounded_specs(), label="spec")
    member = box_members(data.draw, spec)
    assert spec.is_in(member)
    out = spec.project(member)
    assert torch.equal(out, member)
    if spec.dtype.is_floating_point:
        # Off the bounds even the sign of a zero is kept (on a zero bound it may take the bound's).
        strictly_inside = (member > spec.low) & (member < spec.high)
        assert torch.equal(out.signbit()[strictly_inside], member.signbit()[strictly_inside])


@given(data=st.data())
def test_bounded_project_is_the_l1_nearest_point_of_the_box(data):
    spec = data.draw(bounded_specs(), label="spec")
    seed_torch(data)
    value = data.draw(box_values(spec), label="value")
    out = spec.project(value)
    low, high = spec.low.expand(value.shape), spec.high.expand(value.shape)
    # The clamp oracle, computed in float64 (integers: exactly, in int64).
    if spec.dtype.is_floating_point:
        oracle = torch.minimum(torch.maximum(value.double(), low.double()), high.double())
        assert torch.equal(out.double(), oracle)
    else:
        oracle = torch.minimum(torch.maximum(value.long(), low.long()), high.long())
        assert torch.equal(out.long(), oracle)
    # No member is closer: the box corners (each element's low and high), random members, drawn members.
    distance = l1_distance(out, value)
    candidates = [low, high, *spec.rand((4, *value.shape[: value.ndim - spec.ndim])).unbind(0),
                  box_members(data.draw, spec, batch=value.shape[: value.ndim - spec.ndim])]
    for candidate in candidates:
        assert spec.is_in(candidate)
        other = l1_distance(candidate, value)
        assert (distance <= other).all()
        assert distance.sum() <= other.sum()


@given(data=st.data())
def test_bounded_project_converts_other_dtypes_to_the_nearest_value_first(data):
    spec = data.draw(bounded_specs(), label="spec")
    dtype = data.draw(st.sampled_from([d for d in FLOAT_DTYPES + INT_DTYPES + [torch.bool] if d is not spec.dtype]))
    value = data.draw(box_values(spec, dtype, nan=True), label="value")
    out = spec.project(value)
    if spec.dtype.is_floating_point:
        assert same_bits(out, spec.project(value.to(spec.dtype)))
        return
    # Integer box: nearest integer (ties down), NaN -> low, ±inf -> the bounds; exact in Python.
    low, high = spec.low.expand(value.shape).flatten().tolist(), spec.high.expand(value.shape).flatten().tolist()
    expected = []
    for x, lo, hi in zip(value.flatten().tolist(), low, high):
        if isinstance(x, float):
            x = lo if math.isnan(x) else hi if x == INF else lo if x == -INF else math.ceil(Fraction(x) - Fraction(1, 2))
        expected.append(min(max(int(x), lo), hi))
    assert out.flatten().tolist() == expected


@given(data=st.data())
def test_bounded_per_element_bounds_apply_per_element(data):
    spec = data.draw(bounded_specs(), label="spec")
    info_high = INF if spec.dtype.is_floating_point else torch.iinfo(spec.dtype).max
    info_low = -INF if spec.dtype.is_floating_point else torch.iinfo(spec.dtype).min
    batch = data.draw(batch_shapes())
    top = spec.project(torch.full((*batch, *spec.shape), info_high, dtype=spec.dtype))
    bottom = spec.project(torch.full((*batch, *spec.shape), info_low, dtype=spec.dtype))
    assert torch.equal(top, spec.high.expand(top.shape))
    assert torch.equal(bottom, spec.low.expand(bottom.shape))


@given(data=st.data())
def test_bounded_float_nan_stays_nan_and_the_rest_is_clamped(data):
    spec = data.draw(bounded_specs(dtypes=tuple(FLOAT_DTYPES)), label="spec")
    value = data.draw(box_values(spec, nan=True), label="value")
    value = torch.where(tensors(data.draw, st.booleans(), value.shape, torch.bool), torch.nan, value)
    out = spec.project(value)
    nan = value.isnan()
    assert torch.equal(out.isnan(), nan)
    assert torch.equal(out[~nan], spec.project(value.nan_to_num(posinf=INF, neginf=-INF))[~nan])
    assert spec.is_in(out) == (not nan.any().item())


@given(data=st.data())
def test_bounded_integer_nan_goes_to_low_and_infinities_to_the_bounds(data):
    spec = data.draw(bounded_specs(dtypes=tuple(INT_DTYPES)), label="spec")
    float_dtype = data.draw(st.sampled_from(FLOAT_DTYPES))
    batch = data.draw(batch_shapes())
    codes = tensors(data.draw, st.integers(0, 2), (*batch, *spec.shape), torch.int64)
    value = torch.tensor([torch.nan, INF, -INF], dtype=float_dtype)[codes]
    out = spec.project(value)
    low, high = spec.low.expand(out.shape), spec.high.expand(out.shape)
    assert torch.equal(out, torch.where(codes == 1, high, low))


@given(data=st.data())
def test_bounded_gradient_is_one_inside_and_zero_outside(data):
    spec = data.draw(bounded_specs(dtypes=tuple(FLOAT_DTYPES)), label="spec")
    value = data.draw(box_values(spec), label="value")
    value = value.clone().requires_grad_(True)
    spec.project(value).sum().backward()
    low, high = spec.low.expand(value.shape), spec.high.expand(value.shape)
    inside, outside = (value > low) & (value < high), (value < low) | (value > high)
    assert (value.grad[inside] == 1).all()
    assert (value.grad[outside] == 0).all()


@given(data=st.data())
def test_bounded_rand_is_in_with_batch_dims_in_front(data):
    spec = data.draw(bounded_specs(), label="spec")
    seed_torch(data)
    batch = data.draw(batch_shapes())
    sample = spec.rand(batch)
    assert sample.shape == (*batch, *spec.shape) and sample.dtype is spec.dtype
    assert spec.is_in(sample)


# ============================================================================================
# Unbounded
# ============================================================================================
unbounded_dtypes = st.sampled_from(FLOAT_DTYPES + INT_DTYPES + [torch.bool])


@given(data=st.data())
def test_unbounded_holds_every_value_of_its_dtype_and_project_returns_it_unchanged(data):
    dtype = data.draw(unbounded_dtypes)
    spec = Unbounded(data.draw(spec_shapes()), dtype=dtype)
    value = tensors(data.draw, elements(dtype, nan=True), (*data.draw(batch_shapes()), *spec.shape), dtype)
    assert spec.is_in(value)
    assert same_bits(spec.project(value), value)


@given(data=st.data())
def test_unbounded_project_of_other_dtypes_lands_in_by_the_nearest_value(data):
    dtype = data.draw(unbounded_dtypes)
    spec = Unbounded(data.draw(spec_shapes()), dtype=dtype)
    value = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(value)
    assert out.shape == value.shape and spec.is_in(out)
    if dtype is torch.bool or not value.dtype.is_floating_point or dtype.is_floating_point:
        return
    # float -> integer: nearest integer (ties down), NaN -> 0, saturating at the dtype's limits.
    info = torch.iinfo(dtype)
    expected = []
    for x in value.flatten().tolist():
        x = 0 if math.isnan(x) else info.max if x == INF else info.min if x == -INF else math.ceil(Fraction(x) - Fraction(1, 2))
        expected.append(min(max(x, info.min), info.max))
    assert out.flatten().tolist() == expected


# ============================================================================================
# OneHot / MultiOneHot
# ============================================================================================
def one_hot_oracle(scores: torch.Tensor, mask, nvec, shape) -> list:
    """Per row and block, the one-hot of the best allowed score, as nested lists of 0/1."""
    lead, width = shape[:-1], shape[-1]
    flat = scores.reshape(-1, width).tolist() if scores.numel() else []
    masks_by_block = (mask.split(nvec, -1) if mask is not None else [None] * len(nvec))
    out = [[] for _ in flat]
    start = 0
    for n, block_mask in zip(nvec, masks_by_block):
        allowed = allowed_rows(block_mask, lead, n, len(flat))
        for r, row in enumerate(flat):
            best = best_allowed(row[start:start + n], allowed[r])
            out[r].extend(1 if i == best else 0 for i in range(n))
        start += n
    return out


@given(data=st.data())
def test_one_hot_project_is_the_best_allowed_entry_and_nan_never_wins(data):
    spec = data.draw(one_hot_specs(), label="spec")
    scores = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(scores)
    assert out.dtype is spec.dtype and out.shape == scores.shape
    assert spec.is_in(out)
    assert out.reshape(-1, spec.n).long().tolist() == one_hot_oracle(scores, spec.mask, [spec.n], spec.shape)


@given(data=st.data())
def test_multi_one_hot_project_is_the_best_allowed_entry_per_block(data):
    spec = data.draw(multi_one_hot_specs(), label="spec")
    scores = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(scores)
    assert out.dtype is spec.dtype and out.shape == scores.shape
    assert spec.is_in(out)
    assert out.reshape(-1, spec.shape[-1]).long().tolist() == one_hot_oracle(scores, spec.mask, spec.nvec, spec.shape)


@pytest.mark.parametrize("strategy", [one_hot_specs(), multi_one_hot_specs()], ids=["OneHot", "MultiOneHot"])
@given(data=st.data())
def test_one_hot_members_are_unchanged_and_project_is_idempotent(strategy, data):
    spec = data.draw(strategy, label="spec")
    seed_torch(data)
    member = spec.rand(data.draw(batch_shapes()))
    assert spec.is_in(member)
    assert torch.equal(spec.project(member), member)
    once = spec.project(any_values(data.draw, spec.shape, nan=True))
    assert torch.equal(spec.project(once), once)


# ============================================================================================
# Categorical / MultiCategorical / Binary
# ============================================================================================
def categorical_oracle(value: torch.Tensor, mask, nvec_per_variable, lead) -> list:
    """Nearest allowed index per element; `nvec_per_variable` gives the last dim's cardinalities."""
    variables = len(nvec_per_variable)
    flat = value.reshape(-1, variables).tolist() if value.numel() else []
    blocks = mask.split(nvec_per_variable, -1) if mask is not None else [None] * variables
    allowed = [allowed_rows(block, lead, n, len(flat)) for block, n in zip(blocks, nvec_per_variable)]
    return [[nearest_allowed(x, allowed[v][r]) for v, x in enumerate(row)] for r, row in enumerate(flat)]


@given(data=st.data())
def test_categorical_project_is_the_nearest_allowed_index(data):
    spec = data.draw(categorical_specs(), label="spec")
    value = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(value)
    assert out.dtype is spec.dtype and out.shape == value.shape
    assert spec.is_in(out)
    expected = categorical_oracle(value.unsqueeze(-1), spec.mask, [spec.n], spec.shape)
    assert out.reshape(-1, 1).long().tolist() == expected


@given(data=st.data())
def test_multi_categorical_project_is_the_nearest_allowed_value_per_variable(data):
    spec = data.draw(multi_categorical_specs(), label="spec")
    value = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(value)
    assert out.dtype is spec.dtype and out.shape == value.shape
    assert spec.is_in(out)
    nvec = spec.to_one_hot_spec().nvec  # the per-variable cardinalities (kept even with no rows)
    assert out.reshape(-1, len(nvec)).long().tolist() == categorical_oracle(value, spec.mask, nvec, spec.shape[:-1])


@given(data=st.data())
def test_binary_project_thresholds_at_one_half(data):
    n = data.draw(st.integers(1, 4))
    spec = Binary(n, shape=(*data.draw(shapes()), n), dtype=data.draw(st.sampled_from([torch.int8, torch.uint8, torch.int64, torch.bool])))
    value = any_values(data.draw, spec.shape, nan=True)
    out = spec.project(value)
    assert out.dtype is spec.dtype and out.shape == value.shape
    assert spec.is_in(out)
    assert out.bool().flatten().tolist() == [x > 0.5 for x in value.flatten().tolist()]  # NaN > 0.5 is False


@pytest.mark.parametrize(
    "strategy",
    [categorical_specs(), multi_categorical_specs(),
     st.integers(1, 4).flatmap(lambda n: shapes().map(lambda lead: Binary(n, shape=(*lead, n))))],
    ids=["Categorical", "MultiCategorical", "Binary"],
)
@given(data=st.data())
def test_categorical_members_are_unchanged_and_project_is_idempotent(strategy, data):
    spec = data.draw(strategy, label="spec")
    seed_torch(data)
    member = spec.rand(data.draw(batch_shapes()))
    assert spec.is_in(member)
    assert torch.equal(spec.project(member), member)
    once = spec.project(any_values(data.draw, spec.shape, nan=True))
    assert torch.equal(spec.project(once), once)


@pytest.mark.parametrize(
    "strategy",
    [one_hot_specs(), categorical_specs(), multi_one_hot_specs(), multi_categorical_specs()],
    ids=["OneHot", "Categorical", "MultiOneHot", "MultiCategorical"],
)
@given(data=st.data())
def test_masked_rand_draws_only_allowed_values(strategy, data):
    spec = data.draw(strategy, label="spec")
    seed_torch(data)
    batch = data.draw(shapes(max_dims=1, max_side=8))
    sample = spec.rand(batch)
    assert sample.shape == (*batch, *spec.shape) and sample.dtype is spec.dtype
    assert spec.is_in(sample)
    if spec.mask is not None:
        hot = sample.bool() if isinstance(spec, OneHot | MultiOneHot) else spec.to_one_hot(sample)
        assert not (hot & ~spec.mask).any()


# ============================================================================================
# Composite
# ============================================================================================
@st.composite
def composites(draw):
    """A composite with a batch shape, a box, a nested one-hot and categorical, and a None entry."""
    batch = draw(shapes(max_dims=1, max_side=2))
    box = draw(bounded_specs(dtypes=(torch.float32, torch.float64, torch.int32)))
    one_hot = draw(one_hot_specs())
    categorical = draw(categorical_specs())
    return Composite(
        box=box.expand(*batch, *box.shape),
        agent={"action": one_hot.expand(*batch, *one_hot.shape),
               "index": categorical.expand(*batch, *categorical.shape)},
        unknown=None,
        shape=batch,
    )


def composite_values(draw, spec: Composite) -> TensorDict:
    batch = (*draw(shapes(max_dims=1)), *spec.shape)
    box = spec["box"]
    entries = {
        "box": draw(box_values(box, batch=batch[: len(batch) - len(spec.shape)])),
        ("agent", "action"): any_values(draw, spec["agent", "action"].shape, nan=True, batch=batch[: len(batch) - len(spec.shape)]),
        ("agent", "index"): any_values(draw, spec["agent", "index"].shape, nan=True, batch=batch[: len(batch) - len(spec.shape)]),
        "unknown": torch.arange(math.prod(batch)).reshape(batch),
    }
    td = TensorDict({}, batch_size=batch)
    for key, value in entries.items():
        td.set(key, value)
    return td


@given(data=st.data())
def test_composite_project_projects_every_leaf_recursively_and_lands_in(data):
    spec = data.draw(composites(), label="spec")
    td = composite_values(data.draw, spec)
    before = td.clone()
    out = spec.project(td)
    assert out.batch_size == td.batch_size
    for key, leaf in spec.leaves():
        assert same_bits(out[key], leaf.project(td[key]))
    assert torch.equal(out["unknown"], td["unknown"])
    assert all(same_bits(td[key], before[key]) for key in before.keys(True, True))
    assert spec.is_in(out)


@given(data=st.data())
def test_composite_members_are_unchanged_and_project_is_idempotent(data):
    spec = data.draw(composites(), label="spec")
    seed_torch(data)
    member = spec.rand(data.draw(shapes(max_dims=1)))
    assert spec.is_in(member)
    out = spec.project(member)
    assert all(torch.equal(out[key], member[key]) for key, _ in spec.leaves())
    once = spec.project(composite_values(data.draw, spec))
    twice = spec.project(once)
    assert all(same_bits(twice[key], once[key]) for key, _ in spec.leaves())
