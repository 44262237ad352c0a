"""The common contract of every spec, and the argument checks the spec classes share.

A spec is the "type" of a tensor key: its shape, dtype, device and domain. Every spec can
test membership (`is_in`), map any value back into its domain (`project`), draw a uniform
member (`rand`) and make filled tensors (`zero`, `one`). Leading dimensions of a value
beyond the spec's shape are batch dimensions and are always allowed.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import torch

from rldsl._checks import is_int, require_int, require_positive


def as_shape(shape: Any, argument: str = "shape") -> torch.Size:
    """Normalise an int or a sequence of non-negative ints into a `torch.Size`.

    >>> as_shape(3)
    torch.Size([3])
    """
    if isinstance(shape, bool):
        raise TypeError(f"`{argument}` must be an int or a sequence of ints, got the bool {shape!r}")
    if isinstance(shape, int):
        shape = (shape,)
    if isinstance(shape, torch.Tensor):
        shape = shape.tolist()
    if not isinstance(shape, Sequence):
        raise TypeError(
            f"`{argument}` must be an int or a sequence of ints, got {type(shape).__name__}; "
            f"pass e.g. {argument}=(4,)"
        )
    dims = []
    for dim in shape:
        if not is_int(dim):
            raise TypeError(f"`{argument}` must contain ints only, got {dim!r} in {tuple(shape)!r}")
        if dim < 0:
            raise ValueError(f"`{argument}` must contain non-negative sizes, got {dim} in {tuple(shape)!r}")
        dims.append(dim)
    return torch.Size(dims)


def as_device(device: Any) -> torch.device:
    """Normalise a device argument; `None` means torch's default device.

    An unavailable device (``"cuda"`` on a CPU-only machine) is refused here, with the
    reason, rather than deep inside the first tensor operation.
    """
    if device is None:
        return torch.get_default_device()
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"`device` {device!r} is not a device name (use 'cpu', 'cuda' or 'cuda:1'): {err}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"`device` {str(device)!r} is not available: this torch build has no usable CUDA; use device='cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(
            f"`device` {str(device)!r} is not available: only {torch.cuda.device_count()} CUDA device(s) are visible"
        )
    return device


def as_dtype(dtype: Any, default: torch.dtype) -> torch.dtype:
    """Normalise a dtype argument; `None` means `default`."""
    if dtype is None:
        return default
    if not isinstance(dtype, torch.dtype):
        raise TypeError(f"`dtype` must be a torch.dtype such as torch.float32, got {dtype!r}")
    return dtype


def has_values(*tensors: Any) -> bool:
    """False when one of `tensors` lives on the ``meta`` device, which has shapes but no data.

    A check of the values themselves (a NaN bound, a mask row without a True) cannot be
    answered there, so it is skipped (shape and dtype checks still run); on every other
    device it runs as usual. Arguments that are not tensors are ignored.

    >>> has_values(torch.zeros(2)), has_values(torch.zeros(2), torch.empty(2, device="meta"))
    (True, False)
    """
    for tensor in tensors:  # a plain loop: this sits on per-call paths (a distribution's parameters)
        if isinstance(tensor, torch.Tensor) and tensor.is_meta:
            return False
    return True


def is_integer_dtype(dtype: torch.dtype) -> bool:
    """True for the signed and unsigned integer dtypes (bool excluded)."""
    return not dtype.is_floating_point and not dtype.is_complex and dtype is not torch.bool


def check_positive_int(value: Any, argument: str) -> int:
    """An int >= 1 (cardinalities), or a clear error naming the argument."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    require_int(value, f"`{argument}`", expected="a positive int")
    return require_positive(value, f"`{argument}`", expected=">= 1 (the number of categories)")


def trailing_shape_matches(value_shape: torch.Size, spec_shape: torch.Size) -> bool:
    """True when `value_shape` is `spec_shape` preceded by any batch dimensions."""
    ndim = len(spec_shape)
    if ndim == 0:
        return True
    return len(value_shape) >= ndim and value_shape[-ndim:] == spec_shape


def batch_shape_of(value: torch.Tensor, spec_shape: torch.Size) -> torch.Size:
    """The leading (batch) dims of `value` in front of the spec's own shape."""
    return value.shape[: value.ndim - len(spec_shape)]


def expanded_shape(old: torch.Size, new: Any) -> torch.Size:
    """Check that `new` extends `old` (leading dims added, singleton dims grown) and return it."""
    if len(new) == 1 and not isinstance(new[0], int):
        new = new[0]
    new = as_shape(new, "shape")
    if len(new) < len(old):
        raise ValueError(f"cannot expand a spec of shape {tuple(old)} to the shorter shape {tuple(new)}")
    tail = new[len(new) - len(old):]
    for old_dim, new_dim in zip(old, tail):
        if old_dim != new_dim and old_dim != 1:
            raise ValueError(
                f"cannot expand a spec of shape {tuple(old)} to {tuple(new)}: the new shape must end "
                f"with the old one (only leading dims may be added and size-1 dims grown)"
            )
    return new


def indexed_shape(shape: torch.Size, index: Any, protected_last: bool) -> torch.Size:
    """The shape left after indexing a spec's leading dims with `index`.

    Specs whose last dim is the event itself (one-hot rows, binary vectors) keep it:
    only the dims in front of it may be indexed.
    """
    lead = shape[:-1] if protected_last else shape
    try:
        probe = torch.empty(lead, device="meta")[index]
    except (IndexError, TypeError, RuntimeError) as err:
        raise IndexError(f"cannot index a spec of shape {tuple(shape)} with {index!r}: {err}") from None
    return probe.shape + (shape[-1:] if protected_last else torch.Size())


_SIGNIFICANT_DIGITS = {torch.float16: 5, torch.bfloat16: 4, torch.float32: 9}


def format_float(value: float | int, dtype: torch.dtype = torch.float64) -> str:
    """The shortest text that reads back as the same `dtype` value (0.1, not 0.100000001).

    >>> format_float(0.10000000149011612, torch.float32)
    '0.1'
    """
    if isinstance(value, int):
        return str(value)
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    digits = _SIGNIFICANT_DIGITS.get(dtype)
    if digits is not None:
        stored = torch.tensor(value, dtype=dtype)
        for precision in range(1, digits + 1):
            text = f"{value:.{precision}g}"
            if torch.tensor(float(text), dtype=dtype) == stored:
                value = float(text)
                break
    return repr(float(value))


def format_tensor(values: torch.Tensor) -> str:
    """A tensor's values as a (nested) list, each number written by `format_float`."""
    if values.device.type == "meta":
        return "..."  # a meta tensor has a shape but no values
    if values.ndim == 0:
        return format_float(values.item(), values.dtype)
    return "[" + ", ".join(format_tensor(row) for row in values) + "]"


class ContinuousBox(NamedTuple):
    """The box of a `Bounded` spec (`spec.space.low`, `spec.space.high`, as in torchrl)."""

    low: torch.Tensor
    high: torch.Tensor


class CategoricalBox(NamedTuple):
    """The finite set ``{0, ..., n-1}`` of a discrete spec (`spec.space.n`, as in torchrl)."""

    n: int


class TensorSpec(abc.ABC):
    """Base of all specs: the domain of the values a tensor key may hold.

    Subclasses set `shape`, `dtype`, `device` and `domain` and implement `is_in`,
    `project`, `rand`, `_rebuild` (a copy with another shape/device/dtype) and
    `_same_domain`. Values may carry any batch dims in front of `shape`.
    """

    shape: torch.Size
    dtype: torch.dtype
    device: torch.device
    domain: str

    def _set_shape(self, shape: torch.Size) -> None:
        """Set `shape` and the slice that picks a value's trailing dims to compare with it."""
        self.shape = shape
        self._tail = slice(-len(shape), None) if len(shape) else slice(0, 0)

    def _fits(self, value_shape: torch.Size) -> bool:
        """True when a value's shape is the spec's shape preceded by any batch dims."""
        return value_shape[self._tail] == self.shape

    @property
    def ndim(self) -> int:
        """Number of dims of the spec's own shape."""
        return len(self.shape)

    # --- membership and projection -------------------------------------------------------
    @abc.abstractmethod
    def is_in(self, value: Any) -> bool:
        """True when `value` is a tensor of this spec's dtype, shape and domain."""

    @abc.abstractmethod
    def project(self, value: Any) -> Any:
        """Map `value` to a member of the domain; members come back unchanged."""

    @abc.abstractmethod
    def rand(self, shape: Any = ()) -> Any:
        """A random member of the domain with batch dims `shape` in front."""

    def contains(self, value: Any) -> bool:
        """Alias of `is_in`."""
        return self.is_in(value)

    def assert_is_in(self, value: Any) -> None:
        """Raise `ValueError` saying why when `value` lies outside the spec."""
        if not self.is_in(value):
            shown = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            dtype = value.dtype if isinstance(value, torch.Tensor) else None
            raise ValueError(f"value (shape {shown}, dtype {dtype}) is not in {self!r}")

    # --- construction of values ----------------------------------------------------------
    def zero(self, shape: Any = ()) -> torch.Tensor:
        """Zeros of shape ``(*shape, *spec.shape)``: a filled tensor, not always in the domain."""
        return torch.zeros((*as_shape(shape), *self.shape), dtype=self.dtype, device=self.device)

    def one(self, shape: Any = ()) -> torch.Tensor:
        """Ones of shape ``(*shape, *spec.shape)``: a filled tensor, not always in the domain."""
        return torch.ones((*as_shape(shape), *self.shape), dtype=self.dtype, device=self.device)

    zeros = zero
    ones = one

    def sample(self, shape: Any = ()) -> torch.Tensor:
        """Alias of `rand`."""
        return self.rand(shape)

    def encode(self, value: Any) -> torch.Tensor:
        """Turn an array-like (number, list, numpy array, tensor) into a tensor of this spec.

        The result has the spec's dtype and device; a value holding exactly the spec's
        elements is reshaped to the spec's shape.
        """
        tensor = torch.as_tensor(value, device=self.device)
        if tensor.dtype is not self.dtype:
            tensor = tensor.to(self.dtype)
        if not self._fits(tensor.shape):
            if tensor.numel() != self.shape.numel():
                raise ValueError(
                    f"cannot encode a value of shape {tuple(tensor.shape)} into a spec of shape {tuple(self.shape)}"
                )
            tensor = tensor.reshape(self.shape)
        return tensor

    def to_numpy(self, value: torch.Tensor):
        """The value as a numpy array (on the CPU, without gradient)."""
        return value.detach().cpu().numpy()

    # --- spec algebra ----------------------------------------------------------------------
    def expand(self, *shape: Any) -> "TensorSpec":
        """A spec with leading batch dims added (or size-1 dims grown).

        >>> from rldsl.specs import Bounded
        >>> Bounded(-1.0, 1.0, shape=(3,)).expand(4, 3).shape
        torch.Size([4, 3])
        """
        return self._rebuild(shape=expanded_shape(self.shape, shape))

    def to(self, dest: Any) -> "TensorSpec":
        """A copy on another device (``spec.to("cuda")``) or with another dtype."""
        if isinstance(dest, torch.dtype):
            return self._rebuild(dtype=dest)
        return self._rebuild(device=as_device(dest))

    def cpu(self) -> "TensorSpec":
        """A copy on the CPU."""
        return self.to("cpu")

    def clone(self) -> "TensorSpec":
        """An independent copy (tensors included)."""
        return self._rebuild()

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (
            self.shape == other.shape
            and self.dtype == other.dtype
            and self.device == other.device
            and self._same_domain(other)
        )

    __hash__ = None  # specs hold tensors (and masks that `update_mask` changes)

    @abc.abstractmethod
    def _rebuild(self, **changes: Any) -> "TensorSpec":
        """A new spec like this one with `shape`, `device` and/or `dtype` replaced."""

    @abc.abstractmethod
    def _same_domain(self, other: "TensorSpec") -> bool:
        """True when `other` (same class, shape, dtype, device) has the same domain."""

    def _common_repr(self) -> str:
        return f"shape={tuple(self.shape)}, dtype={self.dtype}, device={self.device}"
