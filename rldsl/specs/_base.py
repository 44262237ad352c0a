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
from rldsl.errors import RldslError


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


def batch_dims(shape: Any) -> torch.Size:
    """The batch dims given to `rand`/`zero`/`one`: `None` means none (a value of the spec's own shape).

    >>> batch_dims(None), batch_dims(3)
    (torch.Size([]), torch.Size([3]))
    """
    return torch.Size() if shape is None else as_shape(shape)


class SpecUndefinedError(RldslError, ValueError, NotImplementedError):
    """An operation a spec does not define for this value or layout: projecting a tensor onto a
    `NonTensor` spec (no member is nearest), reshaping a lazy stack of specs.

    A `ValueError` (rldsl's convention for a bad argument) and a `NotImplementedError` (what
    torchrl raises in these places), so code written for either catches it.
    """


class SpecValueError(RldslError, ValueError, AssertionError):
    """A value outside a spec's domain where a member is required (`encode`, `assert_is_in`).

    Both a `ValueError` (rldsl's own convention) and an `AssertionError` (what torchrl's
    `assert_is_in` and its encode checks raise), so code written for either catches it.
    """


class SpecKeyError(RldslError, KeyError, AttributeError):
    """A key a `Composite` cannot hold; both `KeyError` and torchrl's `AttributeError`."""

    def __str__(self) -> str:  # KeyError quotes its message; this one reads as a sentence
        return str(self.args[0]) if self.args else ""


def unsqueezed_shape(shape: torch.Size, dim: int, protected_last: bool) -> torch.Size:
    """`shape` with a size-1 dim inserted at `dim` (torch's rule: -1 appends a last dim).

    Specs whose last dim is the event itself (one-hot rows, bit vectors) refuse a new dim
    after it.
    """
    if not is_int(dim):
        raise TypeError(f"`dim` must be an int, got {dim!r}")
    position = dim + len(shape) + 1 if dim < 0 else dim
    if not 0 <= position <= len(shape):
        raise IndexError(f"cannot unsqueeze a spec of shape {tuple(shape)} at dim {dim}: "
                         f"dim must lie in [{-len(shape) - 1}, {len(shape)}]")
    if protected_last and position == len(shape):
        raise ValueError(f"cannot unsqueeze at dim {dim}: the last dim of this spec is its event "
                         f"(the one-hot row or bit vector) and must stay last")
    return torch.Size((*shape[:position], 1, *shape[position:]))


def squeezed_shape(shape: torch.Size, dim: int | None, protected_last: bool) -> torch.Size:
    """`shape` without its size-1 dims (or only `dim`, when it has size 1), as `torch.squeeze`.

    Specs whose last dim is the event itself keep it even when it has size 1.
    """
    if dim is None:
        lead = shape[:-1] if protected_last else shape
        kept = [size for size in lead if size != 1]
        return torch.Size((*kept, *(shape[-1:] if protected_last else ())))
    if not is_int(dim):
        raise TypeError(f"`dim` must be an int or None, got {dim!r}")
    if not shape and dim in (0, -1):  # torch lets a 0-d tensor squeeze dim 0 / -1: nothing changes
        return shape
    position = dim + len(shape) if dim < 0 else dim
    if not 0 <= position < len(shape):
        span = max(len(shape), 1)
        raise IndexError(f"cannot squeeze a spec of shape {tuple(shape)} at dim {dim}: "
                         f"dim must lie in [{-span}, {span - 1}]")
    if shape[position] != 1:
        return shape
    if protected_last and position == len(shape) - 1:
        raise ValueError(f"cannot squeeze dim {dim}: the last dim of this spec is its event "
                         f"(the one-hot row or bit vector) and must stay")
    return torch.Size((*shape[:position], *shape[position + 1:]))


def flattened_shape(shape: torch.Size, start_dim: int, end_dim: int) -> torch.Size:
    """`shape` with dims `start_dim..end_dim` merged into one, by `torch.flatten`'s rule."""
    try:
        return torch.empty(shape, device="meta").flatten(start_dim, end_dim).shape
    except (IndexError, RuntimeError, TypeError) as err:
        raise IndexError(f"cannot flatten dims {start_dim}..{end_dim} of a spec of shape {tuple(shape)}: "
                         f"{err}") from None


def unflattened_shape(shape: torch.Size, dim: int, sizes: Any) -> torch.Size:
    """`shape` with dim `dim` split into `sizes` (one may be -1), by `torch.unflatten`'s rule."""
    try:
        return torch.empty(shape, device="meta").unflatten(dim, tuple(sizes)).shape
    except (IndexError, RuntimeError, TypeError) as err:
        raise ValueError(f"cannot unflatten dim {dim} of a spec of shape {tuple(shape)} into {sizes!r}: "
                         f"{err}") from None


#: The most outcomes `enumerate` lists; beyond it the list would not fit in memory in practice.
MAX_ENUMERATED_OUTCOMES = 2**24


def check_enumerable(count: int, owner: str) -> None:
    """Refuse to list more than `MAX_ENUMERATED_OUTCOMES` outcomes, saying how many there are."""
    if count > MAX_ENUMERATED_OUTCOMES:
        raise ValueError(f"{owner}.enumerate: the spec has {count} outcomes, more than the {MAX_ENUMERATED_OUTCOMES} "
                         f"rldsl lists at once; count them with cardinality() or draw some with rand()")


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


#: torch functions a spec answers through `__torch_function__` (``torch.stack([...])`` of specs,
#: ``torch.squeeze(spec)``...); each maps to a function taking torch's arguments. Modules that
#: define a handler register it here (`rldsl.specs.stacked` adds `torch.stack`).
TORCH_FUNCTIONS: dict[Any, Any] = {
    torch.squeeze: lambda spec, dim=None: spec.squeeze(dim),
    torch.unsqueeze: lambda spec, dim: spec.unsqueeze(dim),
    torch.unbind: lambda spec, dim=0: spec.unbind(dim),
}


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
    #: True when the last dim is the event itself (a one-hot row, a bit vector): indexing,
    #: `squeeze` and `unsqueeze` act on the dims in front of it only.
    event_last: bool = False

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

    @classmethod
    def __torch_function__(cls, func: Any, types: Any, args: tuple = (), kwargs: Any = None) -> Any:
        """Answer the torch functions of `TORCH_FUNCTIONS` for specs, as torchrl's specs do."""
        handler = TORCH_FUNCTIONS.get(func)
        if handler is None:
            return NotImplemented
        return handler(*args, **(kwargs or {}))

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
            raise SpecValueError(f"value (shape {shown}, dtype {dtype}) is not in {self!r}")

    def type_check(self, value: torch.Tensor, key: Any = None) -> None:
        """Raise `TypeError` when `value`'s dtype is not the spec's (torchrl's `type_check`).

        `key` only names the entry in the message (a `Composite` passes it down).
        """
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            found = value.dtype if isinstance(value, torch.Tensor) else type(value).__name__
            where = f" for key {key!r}" if key is not None else ""
            raise TypeError(f"value{where} has dtype {found}, but the spec expects {self.dtype}")

    def clear_device_(self) -> "TensorSpec":
        """A no-op: a leaf spec always has a device (a `Composite` erases its own)."""
        return self

    # --- construction of values ----------------------------------------------------------
    def zero(self, shape: Any = ()) -> torch.Tensor:
        """Zeros of shape ``(*shape, *spec.shape)``: a filled tensor, not always in the domain.

        ``shape=None`` adds no batch dims, as in torchrl.
        """
        return torch.zeros((*batch_dims(shape), *self.shape), dtype=self.dtype, device=self.device)

    def one(self, shape: Any = ()) -> torch.Tensor:
        """Ones of shape ``(*shape, *spec.shape)``: a filled tensor, not always in the domain."""
        return torch.ones((*batch_dims(shape), *self.shape), dtype=self.dtype, device=self.device)

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

    def memoize_encode(self, mode: bool = True) -> None:
        """Accept torchrl's switch for a cached `encode` dispatch; rldsl's `encode` gives the same
        results either way (it has no per-type dispatch chain to cache), so only the mode is kept."""
        self.encode_memoized = bool(mode)

    def erase_memoize_cache(self) -> None:
        """Clear the `encode` cache of `memoize_encode` (there is nothing cached: a no-op)."""

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

    def unsqueeze(self, dim: int) -> "TensorSpec":
        """A spec with a size-1 dim inserted at `dim` (bounds and masks follow).

        >>> from rldsl.specs import Bounded
        >>> Bounded(-1.0, 1.0, shape=(3,)).unsqueeze(0).shape
        torch.Size([1, 3])
        """
        return self._reshape(unsqueezed_shape(self.shape, dim, self.event_last))

    def squeeze(self, dim: int | None = None) -> "TensorSpec":
        """A spec without its size-1 dims (or only `dim`); a dim of another size is kept, as in torch."""
        return self._reshape(squeezed_shape(self.shape, dim, self.event_last))

    def reshape(self, *shape: Any) -> "TensorSpec":
        """The same elements in another shape with as many elements (one dim may be -1).

        Specs whose last dim is the event (one-hot rows, bit vectors) keep that dim last.

        >>> from rldsl.specs import Unbounded
        >>> Unbounded((2, 3)).reshape(-1).shape
        torch.Size([6])
        """
        if len(shape) == 1 and not is_int(shape[0]):
            shape = tuple(shape[0])
        try:
            new = torch.empty(self.shape, device="meta").reshape(shape).shape
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"cannot reshape a spec of shape {tuple(self.shape)} to {tuple(shape)}: {err}") from None
        if self.event_last and (not new or new[-1] != self.shape[-1]):
            raise ValueError(f"cannot reshape to {tuple(new)}: the last dim {self.shape[-1]} of this spec is its "
                             f"event (the one-hot row or bit vector) and must stay last")
        return self._reshape(new)

    view = reshape

    def unbind(self, dim: int = 0) -> tuple["TensorSpec", ...]:
        """One spec per index along `dim` (as `torch.unbind`): the specs of the slices."""
        if not is_int(dim) or not -self.ndim <= dim < self.ndim:
            raise IndexError(f"cannot unbind a spec of shape {tuple(self.shape)} along dim {dim!r}")
        dim = dim % self.ndim
        lead = (slice(None),) * dim
        return tuple(self[(*lead, index)] for index in range(self.shape[dim]))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "TensorSpec":
        """Dims `start_dim..end_dim` merged into one, as `torch.flatten` (torchrl: "Flattens a
        ``TensorSpec``"). The event dim of one-hot and bit-vector specs cannot be merged.

        >>> from rldsl.specs import Unbounded
        >>> Unbounded((2, 3, 4)).flatten(0, 1).shape
        torch.Size([6, 4])
        """
        return self.reshape(flattened_shape(self.shape, start_dim, end_dim))

    def unflatten(self, dim: int, sizes: Sequence[int]) -> "TensorSpec":
        """Dim `dim` split into `sizes`, as `torch.unflatten` (torchrl: "Unflattens a ``TensorSpec``").

        >>> from rldsl.specs import Unbounded
        >>> Unbounded((6, 4)).unflatten(0, (2, 3)).shape
        torch.Size([2, 3, 4])
        """
        return self.reshape(unflattened_shape(self.shape, dim, sizes))

    # --- counting, listing and indexing outcomes -------------------------------------------------
    def cardinality(self) -> int | float:
        """The number of outcomes (torchrl: "the number of possible outcomes in a spec").

        Defined by the finite specs; the others raise `SpecUndefinedError`, as torchrl raises
        `NotImplementedError` there.
        """
        raise SpecUndefinedError(f"{type(self).__name__} has no cardinality")

    def enumerate(self, use_mask: bool = False) -> Any:
        """Every outcome, stacked along a new first dim (torchrl: "Returns all the samples that
        can be obtained from the TensorSpec ... This method is only implemented for discrete specs").
        """
        raise SpecUndefinedError(f"{type(self).__name__} has no finite set of outcomes to enumerate")

    def index(self, index: Any, tensor_to_index: Any) -> Any:
        """The entries of `tensor_to_index` that the value `index` of this spec selects (torchrl:
        "Indexes the input tensor"); defined by the discrete specs."""
        raise SpecUndefinedError(f"{type(self).__name__}.index is not defined: its values do not select entries")

    def _reshape(self, shape: torch.Size) -> "TensorSpec":
        """A copy with the same elements laid out in `shape` (only size-1 dims added or removed)."""
        return self._rebuild(shape=shape)

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
