"""Box-shaped specs: `Unbounded` (every value of a dtype) and `Bounded` (an axis-aligned box).

Projection into a box is the element-wise clamp into ``[low, high]``: the nearest point of
the box in both the L1 and the L2 distance, with gradient 1 inside and 0 outside.
"""

from __future__ import annotations

from typing import Any

import torch

from rldsl.specs._base import (
    ContinuousBox,
    SpecUndefinedError,
    TensorSpec,
    as_device,
    as_dtype,
    as_shape,
    batch_dims,
    format_float,
    format_tensor,
    has_values,
    indexed_shape,
    is_integer_dtype,
)


def require_tensor(value: Any, spec: TensorSpec, action: str) -> torch.Tensor:
    """`value` itself when it is a tensor whose trailing dims are the spec's shape."""
    if not isinstance(value, torch.Tensor):
        raise TypeError(
            f"{type(spec).__name__}.{action} expects a torch.Tensor, got {type(value).__name__}; "
            f"turn arrays and numbers into tensors with spec.encode(value)"
        )
    if not spec._fits(value.shape):
        raise ValueError(
            f"{type(spec).__name__}.{action}: a value of shape {tuple(value.shape)} does not end with the "
            f"spec's shape {tuple(spec.shape)} (only leading batch dims may be added)"
        )
    return value


def nearest_integer(value: torch.Tensor, nan_to: float) -> torch.Tensor:
    """Round to the nearest integer, ties to the lower one; NaN becomes `nan_to`.

    Ties go down (2.5 -> 2) so that the rule is the same for every discrete projection.
    """
    value = torch.nan_to_num(value, nan=nan_to, posinf=float("inf"), neginf=float("-inf"))
    return torch.ceil(value - 0.5)


def integer_limits(dtype: torch.dtype) -> tuple[float, float]:
    """The float range that converts exactly into `dtype` (int64's max is not a float)."""
    info = torch.iinfo(dtype)
    high = float(info.max)
    if int(high) > info.max:
        high = torch.nextafter(torch.tensor(high, dtype=torch.float64), torch.tensor(0.0, dtype=torch.float64)).item()
    return float(info.min), high


def cast_into(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Convert `value` to `dtype` by the nearest representable value.

    Float to integer rounds to the nearest integer (ties down) and saturates at the
    dtype's limits; NaN becomes 0. Anything to bool is ``value > 0.5`` (NaN is False).
    """
    if value.dtype is dtype:
        return value
    if dtype is torch.bool:
        return value > 0.5 if value.dtype is not torch.bool else value
    if is_integer_dtype(dtype) and value.dtype.is_floating_point:
        low, high = integer_limits(dtype)
        value = nearest_integer(value.double(), nan_to=0.0)
        result = value.clamp(low, high).to(dtype)
        if high < torch.iinfo(dtype).max:  # int64: its max is no float, so saturate onto it exactly
            result = result.masked_fill(value > high, torch.iinfo(dtype).max)
        return result
    if is_integer_dtype(dtype) and is_integer_dtype(value.dtype):
        return _saturate(value, dtype)
    return value.to(dtype)


def _saturate(value: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Integer to integer conversion that saturates instead of wrapping around."""
    info = torch.iinfo(dtype)
    source = torch.iinfo(value.dtype)
    if source.min >= info.min and source.max <= info.max:
        return value.to(dtype)
    return value.clamp(max(info.min, source.min), min(info.max, source.max)).to(dtype)


class Unbounded(TensorSpec):
    """Every value of a dtype: the spec of observations, rewards, logits.

    Floating dtypes give an `UnboundedContinuous` spec, integer and bool dtypes an
    `UnboundedDiscrete` one. NaN and ±inf are values of a float dtype, so they are in the
    domain; `project` only converts the dtype (float to int by nearest integer, saturating).

    >>> import torch
    >>> spec = Unbounded(3)
    >>> spec
    UnboundedContinuous(shape=(3,), dtype=torch.float32, device=cpu)
    >>> spec.is_in(torch.randn(5, 3))
    True
    """

    default_dtype: torch.dtype | None = None
    required_domain: str | None = None

    def __new__(cls, shape: Any = (1,), device: Any = None, dtype: Any = None, **kwargs: Any):
        if cls is Unbounded:
            chosen = as_dtype(dtype, torch.get_default_dtype())
            cls = UnboundedContinuous if chosen.is_floating_point or chosen.is_complex else UnboundedDiscrete
        return super().__new__(cls)

    def __init__(self, shape: Any = (1,), device: Any = None, dtype: Any = None) -> None:
        self._set_shape(as_shape(shape))
        self.device = as_device(device)
        self.dtype = as_dtype(dtype, self.default_dtype or torch.get_default_dtype())
        self.domain = "discrete" if is_integer_dtype(self.dtype) or self.dtype is torch.bool else "continuous"
        _check_class_domain(self)

    def is_in(self, value: Any) -> bool:
        return (
            isinstance(value, torch.Tensor)
            and value.dtype is self.dtype
            and self._fits(value.shape)
        )

    def project(self, value: Any) -> torch.Tensor:
        """The value in the spec's dtype (see `cast_into`); the shape must already fit."""
        return cast_into(require_tensor(value, self, "project"), self.dtype)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """Standard normal for floats (and complex), uniform over the whole range for integers and bool."""
        full = (*batch_dims(shape), *self.shape)
        if self.dtype.is_floating_point or self.dtype.is_complex:
            return torch.randn(full, dtype=self.dtype, device=self.device)
        if self.dtype is torch.bool:
            return torch.randint(0, 2, full, device=self.device).bool()
        if self.dtype is torch.uint64:  # torch draws uint64 only below 2**63
            return torch.empty(full, dtype=torch.int64, device=self.device).random_().to(torch.uint64)
        # `to=None` draws up to the dtype's max inclusive (an explicit `to` is exclusive)
        return torch.empty(full, dtype=self.dtype, device=self.device).random_(torch.iinfo(self.dtype).min, None)

    # --- counting and listing: not defined (torchrl raises `NotImplementedError` for each) ------
    def cardinality(self) -> int:
        """Not defined: the values of a dtype are not counted as outcomes (`SpecUndefinedError`, as
        torchrl's "`cardinality` is not implemented for Unbounded specs")."""
        raise SpecUndefinedError(f"{type(self).__name__}.cardinality is not defined: an unbounded spec holds every "
                                 f"value of {self.dtype}, which are not counted as outcomes")

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """Not defined (torchrl: "enumerate cannot be called with continuous specs")."""
        raise SpecUndefinedError(f"{type(self).__name__}.enumerate is not defined: an unbounded spec has no "
                                 f"finite list of outcomes; use a discrete spec (Categorical, OneHot...)")

    def index(self, index: Any, tensor_to_index: Any) -> torch.Tensor:
        """Not defined (torchrl: "`index` is not implemented for Unbounded specs")."""
        raise SpecUndefinedError(f"{type(self).__name__}.index is not defined: its values are not indices; "
                                 f"index with a Categorical or OneHot value")

    def __getitem__(self, index: Any) -> "Unbounded":
        return self._rebuild(shape=indexed_shape(self.shape, index, protected_last=False))

    def _rebuild(self, **changes: Any) -> "Unbounded":
        return Unbounded(
            shape=changes.get("shape", self.shape),
            device=changes.get("device", self.device),
            dtype=changes.get("dtype", self.dtype),
        )

    def _same_domain(self, other: TensorSpec) -> bool:
        return True

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._common_repr()})"


class UnboundedContinuous(Unbounded):
    """`Unbounded` with a floating dtype (torch's default float dtype unless given)."""

    required_domain = "continuous"


class UnboundedDiscrete(Unbounded):
    """`Unbounded` with an integer or bool dtype (int64 unless given)."""

    default_dtype = torch.int64
    required_domain = "discrete"


class Bounded(TensorSpec):
    """An axis-aligned box ``low <= value <= high``, with scalar or per-element bounds.

    Scalar bounds need `shape`; tensor bounds give the shape themselves (or broadcast to
    the given one). `dtype` defaults to torch's default float dtype, as in torchrl; an
    integer dtype (or ``domain="discrete"``) makes a `BoundedDiscrete` spec. Infinite
    bounds are allowed (half-open boxes, as gymnasium produces).

    Projection (`project`) is the element-wise clamp into the box, which is the nearest
    point of the box in L1 and L2; a value already inside comes back with the same values.
    Other dtypes are first converted to the spec's (floats into an integer box by nearest
    integer, ties down). NaN is not a point: it stays NaN (so `is_in` keeps reporting the
    diverged value instead of a silently invented action); ±inf go to the nearest bound.
    An integer box cannot hold NaN: there a NaN goes to `low`. With per-element bounds a
    signed zero sitting exactly on a zero bound may take the bound's sign (the same number).

    >>> import torch
    >>> spec = Bounded(-2.0, 2.0, shape=(1,))
    >>> spec.project(torch.tensor([[3.5], [-0.5], [-9.0]])).squeeze(-1)
    tensor([ 2.0000, -0.5000, -2.0000])
    >>> spec.is_in(torch.tensor([0.3]))
    True
    """

    required_domain: str | None = None

    def __new__(cls, low: Any = None, high: Any = None, shape: Any = None, device: Any = None,
                dtype: Any = None, *, domain: str | None = None, **kwargs: Any):
        if cls is Bounded:
            cls = BoundedDiscrete if _bounded_domain(dtype, domain) == "discrete" else BoundedContinuous
        return super().__new__(cls)

    def __init__(self, low: Any = None, high: Any = None, shape: Any = None, device: Any = None,
                 dtype: Any = None, *, domain: str | None = None, **legacy: Any) -> None:
        _refuse_legacy_bound_names(legacy)
        if low is None or high is None:
            raise TypeError("Bounded needs both `low` and `high`, e.g. Bounded(low=-1.0, high=1.0, shape=(2,))")
        implied = self.required_domain if domain is None and dtype is None else domain
        self.domain = _bounded_domain(dtype, implied)
        default = torch.int64 if self.domain == "discrete" else torch.get_default_dtype()
        self.dtype = as_dtype(dtype, default)
        if self.dtype is torch.bool:
            raise TypeError("a Bounded spec cannot have dtype torch.bool; use Binary(n) or Categorical(2)")
        if self.dtype in (torch.uint16, torch.uint32, torch.uint64):
            raise TypeError(f"a Bounded spec cannot have dtype {self.dtype}: torch cannot compare or clamp it; "
                            f"use torch.int32 or torch.int64")
        _check_class_domain(self)
        self.device = as_device(device)
        low_t, high_t = _as_bound(low, "low"), _as_bound(high, "high")
        self._set_shape(_bounds_shape(low_t, high_t, shape))
        low_t = _fit_bound(low_t, self.shape, self.dtype, "low")
        high_t = _fit_bound(high_t, self.shape, self.dtype, "high")
        readable = has_values(low_t, high_t)
        if readable:  # values are checked where they are (a "meta" spec has no values to check)
            _check_ordered(low_t, high_t)
        self._scalar = _uniform_bounds(low_t, high_t) if readable else None
        discrete = not self.dtype.is_floating_point
        self._widest_span = _widest_span(low_t, high_t) if readable and discrete else 0
        self._low = low_t.to(self.device).clone()
        self._high = high_t.to(self.device).clone()
        self._bounds_by_device = {self.device: (self._low, self._high)}
        self._fitting_shape = self.shape

    # --- the box ------------------------------------------------------------------------
    @property
    def low(self) -> torch.Tensor:
        """Lower bounds, expanded to the spec's shape."""
        return self._low

    @property
    def high(self) -> torch.Tensor:
        """Upper bounds, expanded to the spec's shape."""
        return self._high

    @property
    def space(self) -> ContinuousBox:
        """The box as ``(low, high)``, as torchrl's ``spec.space``."""
        return ContinuousBox(self._low, self._high)

    def _bounds_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        bounds = self._bounds_by_device.get(device)
        if bounds is None:
            bounds = (self._low.to(device), self._high.to(device))
            self._bounds_by_device[device] = bounds
        return bounds

    # --- membership and projection --------------------------------------------------------
    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if not has_values(value):  # a "meta" value has the right shape and dtype: nothing more to check
            return True
        # clamp-and-compare is one pass fewer than two comparisons; NaN != NaN fails it.
        return bool(self._clamp(value).eq_(value).all())

    def project(self, value: Any) -> torch.Tensor:
        """Clamp into the box (nearest point in L1/L2); see the class docstring for NaN."""
        # The shape check is the dominant cost at batch 1: re-check only when it changes.
        if not isinstance(value, torch.Tensor) or value.shape != self._fitting_shape:
            self._fitting_shape = require_tensor(value, self, "project").shape
        if value.dtype is not self.dtype:
            value = self._convert(value)
        return self._clamp(value)

    def _clamp(self, value: torch.Tensor) -> torch.Tensor:
        scalar = self._scalar
        if scalar is not None:
            return value.clamp(scalar[0], scalar[1])
        if value.device != self.device:
            return torch.clamp(value, *self._bounds_on(value.device))
        return torch.clamp(value, self._low, self._high)

    def _convert(self, value: torch.Tensor) -> torch.Tensor:
        """Bring a value of another dtype to the spec's dtype (nearest integer for int boxes).

        The result is only clamped to the dtype's range; the box clamp follows in the
        spec's dtype, which is exact even for int64 bounds that no float can hold.
        """
        if self.dtype.is_floating_point:
            return value.to(self.dtype)
        if value.dtype.is_floating_point:  # NaN saturates to the dtype's min, so the clamp takes it to `low`
            value = torch.nan_to_num(value, nan=float("-inf"), posinf=float("inf"), neginf=float("-inf"))
        return cast_into(value, self.dtype)

    # --- values ---------------------------------------------------------------------------
    def rand(self, shape: Any = ()) -> torch.Tensor:
        """Uniform over the box (integers: each value in ``[low, high]`` equally likely, exactly
        so while the box holds at most 2**53 values: the draw is made in float64).

        A side that is infinite gets a half-normal tail from its finite bound, and an
        element unbounded on both sides a standard normal, so `rand` is always in the box.
        """
        full = (*batch_dims(shape), *self.shape)
        if not self.dtype.is_floating_point:
            return self._rand_integers(full)
        low, high = self._low.double(), self._high.double()
        uniform = torch.rand(full, dtype=torch.float64, device=self.device)
        sample = low * (1 - uniform) + high * uniform  # no overflow, even for a float64 box wider than its max
        if has_values(low, high) and not (torch.isfinite(low).all() and torch.isfinite(high).all()):
            sample = _fill_infinite_sides(sample, low, high)
        return torch.clamp(sample.to(self.dtype), self._low, self._high)

    def _rand_integers(self, full: tuple[int, ...]) -> torch.Tensor:
        """Exact integer draws (offsets from `low` in int64) when every span is below 2**62.

        Wider boxes (more than a quarter of the int64 range) are drawn through float64:
        still always in the box, uniform up to float64's resolution.
        """
        low, high = self._low.long(), self._high.long()
        if self._widest_span < 2**62:
            bits = torch.randint(0, 2**62, full, dtype=torch.int64, device=self.device)
            return (low + bits % (high - low + 1)).to(self.dtype)
        uniform = torch.rand(full, dtype=torch.float64, device=self.device)
        sample = torch.floor(self._low.double() + uniform * (self._high.double() - self._low.double() + 1))
        return torch.clamp(cast_into(sample, self.dtype), self._low, self._high)

    # --- counting and listing ---------------------------------------------------------------
    def cardinality(self) -> float:
        """``inf``, as torchrl's `Bounded.cardinality` (for integer boxes too: a box is not treated
        as a list of outcomes)."""
        return float("inf")

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """Not defined (`SpecUndefinedError`, as torchrl's "enumerate is not implemented for spec
        of class Bounded...")."""
        raise SpecUndefinedError(f"{type(self).__name__}.enumerate is not defined: a box has no list of outcomes "
                                 f"(its cardinality is inf); use Categorical/MultiCategorical for finite choices")

    def index(self, index: Any, tensor_to_index: Any) -> torch.Tensor:
        """Not defined (torchrl: "Indexing not implemented for Bounded.")."""
        raise SpecUndefinedError(f"{type(self).__name__}.index is not defined: the values of a box are not indices; "
                                 f"index with a Categorical or OneHot value")

    # --- spec algebra ---------------------------------------------------------------------
    def __getitem__(self, index: Any) -> "Bounded":
        shape = indexed_shape(self.shape, index, protected_last=False)
        return Bounded(self._low[index].reshape(shape), self._high[index].reshape(shape), shape,
                       self.device, self.dtype, domain=self.domain)

    def _reshape(self, shape: torch.Size) -> "Bounded":
        return Bounded(self._low.reshape(shape), self._high.reshape(shape), shape, self.device, self.dtype,
                       domain=self.domain)

    def _rebuild(self, **changes: Any) -> "Bounded":
        shape = changes.get("shape", self.shape)
        dtype = changes.get("dtype", self.dtype)
        domain = self.domain if dtype == self.dtype else None
        return Bounded(self._low.expand(shape).clone(), self._high.expand(shape).clone(), shape,
                       changes.get("device", self.device), dtype, domain=domain)

    def _same_domain(self, other: TensorSpec) -> bool:
        return torch.equal(self._low, other.low) and torch.equal(self._high, other.high)

    def __repr__(self) -> str:
        if self._scalar is not None:
            low, high = format_float(self._scalar[0], self.dtype), format_float(self._scalar[1], self.dtype)
        else:
            low, high = format_tensor(self._low), format_tensor(self._high)
        return f"{type(self).__name__}(low={low}, high={high}, {self._common_repr()})"


class BoundedContinuous(Bounded):
    """`Bounded` with a floating dtype."""

    required_domain = "continuous"


class BoundedDiscrete(Bounded):
    """`Bounded` with an integer dtype: ``{low, ..., high}`` element-wise."""

    required_domain = "discrete"


def _widest_span(low: torch.Tensor, high: torch.Tensor) -> int:
    """The largest ``high - low`` of an integer box, in exact Python ints."""
    if low.numel() == 0:
        return 0
    return max(h - l for l, h in zip(low.reshape(-1).tolist(), high.reshape(-1).tolist()))


def _check_class_domain(spec: TensorSpec) -> None:
    """`BoundedContinuous(dtype=torch.int64)` and the like contradict themselves: refuse them."""
    required = getattr(type(spec), "required_domain", None)
    if required is not None and spec.domain != required:
        base = type(spec).__mro__[1].__name__
        raise TypeError(
            f"{type(spec).__name__} is for {required} dtypes, got {spec.dtype}; use {base}(..., dtype={spec.dtype}), "
            f"which picks the right class"
        )


def _bounded_domain(dtype: Any, domain: str | None) -> str:
    if domain is not None:
        if domain not in ("continuous", "discrete"):
            raise ValueError(f"`domain` must be 'continuous' or 'discrete', got {domain!r}")
        return domain
    if dtype is None:
        return "continuous"
    return "continuous" if isinstance(dtype, torch.dtype) and dtype.is_floating_point else "discrete"


def _refuse_legacy_bound_names(legacy: dict[str, Any]) -> None:
    """torchrl's old `minimum`/`maximum` names get a hint instead of a bare TypeError."""
    for name in legacy:
        if name in ("minimum", "maximum"):
            new = "low" if name == "minimum" else "high"
            raise TypeError(f"Bounded got `{name}=`; the argument is called `{new}` (torchrl renamed it)")
        raise TypeError(f"Bounded got an unexpected argument `{name}`; "
                        f"expected low, high, shape, device, dtype, domain")


def _as_bound(bound: Any, argument: str) -> torch.Tensor:
    try:
        tensor = bound.detach() if isinstance(bound, torch.Tensor) else torch.as_tensor(bound)
        if tensor.is_floating_point() and not isinstance(bound, torch.Tensor) and not hasattr(bound, "dtype"):
            tensor = torch.as_tensor(bound, dtype=torch.float64)  # Python floats are doubles: keep every bit
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(f"`{argument}` must be a number or an array of numbers, got {bound!r} ({err})") from None
    if tensor.dtype is torch.bool or tensor.is_complex():
        raise TypeError(f"`{argument}` must be real numbers, got dtype {tensor.dtype}")
    if tensor.is_floating_point() and has_values(tensor) and torch.isnan(tensor).any():
        raise ValueError(f"`{argument}` contains NaN; bounds must be numbers or ±inf")
    return tensor


def _bounds_shape(low: torch.Tensor, high: torch.Tensor, shape: Any) -> torch.Size:
    if shape is not None:
        return as_shape(shape)
    if low.ndim == 0 and high.ndim == 0:
        raise ValueError(
            "Bounded with scalar `low` and `high` needs `shape`, e.g. Bounded(-1.0, 1.0, shape=(3,))"
        )
    try:
        return torch.broadcast_shapes(low.shape, high.shape)
    except RuntimeError:
        raise ValueError(
            f"`low` of shape {tuple(low.shape)} and `high` of shape {tuple(high.shape)} do not broadcast "
            f"together; give per-element bounds of the same shape"
        ) from None


def _fit_bound(bound: torch.Tensor, shape: torch.Size, dtype: torch.dtype, argument: str) -> torch.Tensor:
    """`bound` broadcast to `shape` in `dtype` (on its own device), after checking it fits."""
    try:
        bound = bound.broadcast_to(shape)
    except RuntimeError:
        raise ValueError(
            f"`{argument}` of shape {tuple(bound.shape)} does not fit the spec shape {tuple(shape)}; "
            f"pass a scalar or a tensor of shape {tuple(shape)}"
        ) from None
    if not has_values(bound):
        return bound.to(dtype)
    if is_integer_dtype(dtype) and bound.is_floating_point():
        if not torch.isfinite(bound).all():
            raise ValueError(f"`{argument}` of an integer Bounded spec ({dtype}) must be finite")
        if not torch.equal(bound, bound.round()):
            raise ValueError(f"`{argument}` of an integer Bounded spec ({dtype}) must hold whole numbers, got "
                             f"{bound.tolist()}")
    if is_integer_dtype(dtype):
        info = torch.iinfo(dtype)
        if (bound.double() < info.min).any() or (bound.double() > info.max).any():
            raise ValueError(f"`{argument}` does not fit in {dtype} (range [{info.min}, {info.max}])")
    return bound.to(dtype=dtype)


def _check_ordered(low: torch.Tensor, high: torch.Tensor) -> None:
    wrong = low > high
    if wrong.any():
        where = tuple(int(i) for i in wrong.nonzero()[0])
        raise ValueError(
            f"`low` must be <= `high` everywhere, but at index {where} low={low[where].item()} > "
            f"high={high[where].item()}; swap them or fix the bound"
        )


def _uniform_bounds(low: torch.Tensor, high: torch.Tensor) -> tuple[float | int, float | int] | None:
    """Python numbers when every element shares the same bounds (the fast clamp path)."""
    if low.numel() == 0:
        return None
    first_low, first_high = low.reshape(-1)[0], high.reshape(-1)[0]
    if bool((low == first_low).all()) and bool((high == first_high).all()):
        return first_low.item(), first_high.item()
    return None


def _fill_infinite_sides(sample: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Replace draws on infinite sides by normal tails from the finite bound."""
    normal = torch.randn_like(sample)
    low_inf, high_inf = torch.isinf(low).expand_as(sample), torch.isinf(high).expand_as(sample)
    sample = torch.where(low_inf & ~high_inf, high - normal.abs(), sample)
    sample = torch.where(high_inf & ~low_inf, low + normal.abs(), sample)
    return torch.where(low_inf & high_inf, normal, sample)
