"""Finite specs: `OneHot`, `Categorical`, `Binary`, `MultiOneHot`, `MultiCategorical`.

Every discrete spec but `Binary` may carry an action mask (`mask=` or `update_mask`):
a bool tensor whose False entries are forbidden values. `rand` draws only allowed values,
`is_in` rejects forbidden ones and `project` maps into the allowed ones.

Projection rules (ties always go to the lowest index, NaN scores never win):

* `OneHot`: one-hot of the argmax of the allowed entries.
* `Categorical` / `MultiCategorical`: the nearest allowed index (NaN -> the lowest allowed).
* `Binary`: ``value > 0.5`` element-wise (NaN -> 0).
* `MultiOneHot`: each block as a `OneHot`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

from rldsl.specs._base import (
    CategoricalBox,
    SpecUndefinedError,
    TensorSpec,
    as_device,
    as_dtype,
    SpecValueError,
    as_shape,
    batch_dims,
    check_enumerable,
    check_positive_int,
    has_values,
    indexed_shape,
    is_integer_dtype,
)
from rldsl.specs.continuous import cast_into, nearest_integer, require_tensor


# --- shared mechanics ---------------------------------------------------------------------------
def as_mask(mask: Any, shape: torch.Size, device: torch.device, owner: str) -> torch.Tensor | None:
    """Validate an action mask: bool, broadcastable to `shape`, one allowed entry per row."""
    if mask is None:
        return None
    mask = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
    if mask.dtype is not torch.bool:
        raise TypeError(f"{owner} `mask` must be a bool tensor (True = allowed), got dtype {mask.dtype}")
    try:
        mask = mask.to(device).broadcast_to(shape).clone()
    except RuntimeError:
        raise ValueError(
            f"{owner} `mask` of shape {tuple(mask.shape)} does not fit the expected shape {tuple(shape)}"
        ) from None
    if mask.numel() and has_values(mask) and not mask.any(-1).all():
        raise ValueError(f"{owner} `mask` forbids every value in some row; each row needs at least one True")
    return mask


def argmax_allowed(scores: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Index of the largest allowed score per row; ties go to the lowest index.

    NaN loses to every number, -inf included; a row whose allowed scores are all NaN gives
    its lowest allowed index.
    """
    if scores.is_floating_point() and mask is None:
        index = scores.argmax(-1)  # torch ranks NaN above everything: redo the rows that have one
        if not has_values(scores) or not bool(torch.isnan(scores).any()):
            return index
    if scores.is_floating_point():
        valid = ~torch.isnan(scores)
        scores = scores.masked_fill(~valid, float("-inf"))
        lowest = float("-inf")
    else:  # integers compare exactly (a float copy would merge scores beyond 2**24)
        valid = None
        scores = scores.to(torch.uint8) if scores.dtype is torch.bool else scores
        lowest = torch.iinfo(scores.dtype).min
    if mask is not None:
        mask = mask.expand_as(scores)
        scores = scores.masked_fill(~mask, lowest)
        valid = mask if valid is None else valid & mask
    index = scores.argmax(-1)
    if valid is None:
        return index
    # A NaN or forbidden winner means every valid score ties at `lowest`: take the first valid one.
    chosen = valid.gather(-1, index.unsqueeze(-1)).squeeze(-1)
    fallback = valid.to(torch.uint8).argmax(-1)
    if mask is not None:
        fallback = torch.where(valid.any(-1), fallback, mask.to(torch.uint8).argmax(-1))
    return torch.where(chosen, index, fallback)


def nearest_allowed(value: torch.Tensor, n: int, mask: torch.Tensor | None) -> torch.Tensor:
    """The nearest index in ``{0..n-1}`` (allowed by `mask`) to each entry of `value`.

    Ties go to the lower index; NaN goes to the lowest allowed index.
    """
    value = value.double() if value.dtype is not torch.float64 else value
    value = torch.nan_to_num(value, nan=-1.0, posinf=float(n), neginf=-1.0).clamp(-1.0, float(n))
    if mask is None:
        return nearest_integer(value, nan_to=0.0).clamp(0, n - 1).long()
    candidates = torch.arange(n, device=value.device, dtype=torch.float64)
    distance = (candidates - value.unsqueeze(-1)).abs()
    distance = distance.masked_fill(~mask.expand_as(distance), float("inf"))
    return distance.argmin(-1)


def sample_allowed(mask: torch.Tensor, batch: torch.Size) -> torch.Tensor:
    """Uniform index among the True entries of each mask row, with batch dims `batch` in front."""
    rows = mask.expand(*batch, *mask.shape)
    n = rows.shape[-1]
    flat = rows.reshape(-1, n).float()
    if flat.shape[0] == 0:
        return torch.zeros(rows.shape[:-1], dtype=torch.long, device=mask.device)
    return torch.multinomial(flat, 1).reshape(rows.shape[:-1])


def one_hot(index: torch.Tensor, n: int, dtype: torch.dtype) -> torch.Tensor:
    """One-hot rows of length `n` in `dtype`."""
    return torch.nn.functional.one_hot(index, n).to(dtype)


def check_one_hot_rows(value: torch.Tensor, mask: torch.Tensor | None) -> bool:
    """Every row holds a single 1 (others 0), at an allowed position."""
    if value.dtype is torch.bool:
        hot = value
    else:
        if not ((value == 0) | (value == 1)).all():
            return False
        hot = value.bool()
    if not (hot.sum(-1) == 1).all():
        return False
    return mask is None or not (hot & ~mask).any()


# --- outcomes: what `cardinality`, `enumerate` and `index` share ----------------------------------
# As in torchrl, an outcome of a discrete spec is one event (an index for `Categorical`, a row for
# the one-hot, bit-vector and multi-variable specs) and the dims in front of it are batch dims that
# every enumerated outcome fills alike: `Categorical(4, shape=(5,))` has 4 outcomes, not 4**5.
def allowed_in_every_row(mask: torch.Tensor | None, n: int, use_mask: bool) -> torch.Tensor:
    """The categories ``0..n-1`` that `mask` (rows of length `n`) allows in every row, as int64.

    All of them without a mask or with ``use_mask=False``. An outcome fills every row alike, so
    it is a member only when each row allows it.
    """
    categories = torch.arange(n, device=mask.device if mask is not None else None)
    if mask is None or not use_mask:
        return categories
    return categories[mask.reshape(-1, n).all(0)]


def cartesian_rows(columns: Sequence[torch.Tensor]) -> torch.Tensor:
    """Every combination of one entry per column, one per row (the first column varies slowest)."""
    grids = torch.meshgrid(*columns, indexing="ij")
    return torch.stack([grid.reshape(-1) for grid in grids], -1)


def broadcast_outcomes(events: torch.Tensor, lead: torch.Size) -> torch.Tensor:
    """Outcomes ``(N, *event)`` repeated over the batch dims `lead`: ``(N, *lead, *event)`` (a view)."""
    count, event = events.shape[0], events.shape[1:]
    return events.reshape(count, *(1,) * len(lead), *event).expand(count, *lead, *event)


def require_index_value(spec: TensorSpec, index: Any) -> torch.Tensor:
    """`index` itself when it is a tensor shaped like a value of `spec` (any batch dims in front)."""
    owner = type(spec).__name__
    if not isinstance(index, torch.Tensor):
        raise TypeError(f"{owner}.index takes a value of the spec as a torch.Tensor, got {type(index).__name__}")
    if not spec._fits(index.shape):
        raise ValueError(f"{owner}.index: the index of shape {tuple(index.shape)} is not a value of the spec: "
                         f"its trailing dims must be {tuple(spec.shape)}")
    return index


def require_indexed(tensor_to_index: Any, entries: int, owner: str, exactly: bool = False) -> torch.Tensor:
    """`tensor_to_index` itself when it is a tensor whose last dim holds (at least) `entries` entries."""
    if not isinstance(tensor_to_index, torch.Tensor):
        raise TypeError(f"{owner}.index indexes a torch.Tensor, got {type(tensor_to_index).__name__}")
    size = tensor_to_index.shape[-1] if tensor_to_index.ndim else 0
    if size < entries or (exactly and size != entries):
        wanted = f"exactly {entries}" if exactly else f"at least {entries}"
        raise ValueError(f"{owner}.index: the indexed tensor of shape {tuple(tensor_to_index.shape)} needs "
                         f"{wanted} entries in its last dim (one per category)")
    return tensor_to_index


def hot_positions(rows: torch.Tensor, owner: str) -> torch.Tensor:
    """The position of the single non-zero entry of each one-hot row (the last dim dropped)."""
    hot = rows != 0
    if rows.numel() and not bool((hot.sum(-1) == 1).all()):
        raise ValueError(f"{owner}.index takes one-hot rows (one non-zero entry each) as the index")
    return hot.to(torch.uint8).argmax(-1)


def gather_last(values: torch.Tensor, index: torch.Tensor, owner: str) -> torch.Tensor:
    """``values[..., index[..., j]]`` for every `j`: `gather` on the last dim, leading dims broadcast."""
    try:
        lead = torch.broadcast_shapes(index.shape[:-1], values.shape[:-1])
    except RuntimeError:
        raise ValueError(f"{owner}.index: the index's batch dims {tuple(index.shape[:-1])} do not broadcast with "
                         f"the indexed tensor's {tuple(values.shape[:-1])}") from None
    index = index.long().to(values.device)
    return values.expand(*lead, values.shape[-1]).gather(-1, index.expand(*lead, index.shape[-1]))


def _discrete_dtype(dtype: Any, default: torch.dtype, owner: str, largest: int) -> torch.dtype:
    """An integer or bool dtype that can hold every index up to `largest`."""
    dtype = as_dtype(dtype, default)
    if not (is_integer_dtype(dtype) or dtype is torch.bool):
        raise TypeError(f"{owner} holds indices: `dtype` must be an integer dtype (e.g. torch.int64), got {dtype}")
    if largest > (1 if dtype is torch.bool else torch.iinfo(dtype).max):
        raise TypeError(f"{owner} `dtype` {dtype} cannot hold the index {largest}; use torch.int64")
    return dtype


class _DiscreteSpec(TensorSpec):
    """Shared state of the discrete specs: the mask and its updates."""

    domain = "discrete"
    mask: torch.Tensor | None

    def _mask_shape(self) -> torch.Size:
        return self.shape

    def update_mask(self, mask: Any) -> None:
        """Set (or clear, with None) the action mask; True marks an allowed value."""
        self.mask = as_mask(mask, self._mask_shape(), self.device, type(self).__name__)

    def _same_domain(self, other: TensorSpec) -> bool:
        if (self.mask is None) != (other.mask is None):
            return False
        return self.mask is None or torch.equal(self.mask, other.mask)

    def _mask_repr(self) -> str:
        if self.mask is None:
            return ""
        return f", mask={self.mask.tolist() if has_values(self.mask) else '...'}"

    # --- `index` by integer values (Categorical, Binary, MultiCategorical) ---------------------
    def index(self, index: Any, tensor_to_index: Any) -> torch.Tensor:
        """``tensor_to_index[..., i]`` for each index `i` in `index`: `gather` on the last dim
        (torchrl's `Categorical.index`, which `Binary` and `MultiCategorical` inherit), batch
        dims broadcast. `OneHot` and `MultiOneHot` take one-hot rows instead.

        For the scalar-shaped spec the result has the index's shape (torchrl's version fails
        there); otherwise its last dim has the index's last dim.

        >>> from rldsl.specs import Categorical
        >>> Categorical(3).index(torch.tensor([2, 0]), torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        tensor([3., 4.])
        """
        owner = type(self).__name__
        index = self._require_indices(require_index_value(self, index))
        values = require_indexed(tensor_to_index, self._categories_indexed(), owner)
        if self.ndim == 0:
            return gather_last(values, index.unsqueeze(-1), owner).squeeze(-1)
        return gather_last(values, index, owner)

    def _require_indices(self, index: torch.Tensor) -> torch.Tensor:
        """`index` when it holds valid indices of the spec (the mask does not matter here)."""
        owner = type(self).__name__
        if index.is_floating_point() or index.is_complex():
            raise TypeError(f"{owner}.index takes integer indices, got dtype {index.dtype}")
        wide = index.long()
        limit = self._index_limit()
        if isinstance(limit, torch.Tensor):
            limit = limit.to(wide.device)
        if wide.numel() and has_values(wide) and not bool(((wide >= 0) & (wide < limit)).all()):
            raise ValueError(f"{owner}.index: the index holds values outside the spec's categories")
        return wide

    def _index_limit(self) -> int | torch.Tensor:
        """One more than the largest index (per element for several variables)."""
        return self.n

    def _categories_indexed(self) -> int:
        """How many entries the indexed tensor's last dim needs."""
        return self.n


# --- one-hot --------------------------------------------------------------------------------------
class OneHot(_DiscreteSpec):
    """One-hot rows over `n` categories (the last dim is the row): the default discrete action.

    `dtype` defaults to bool, as in torchrl. `mask` (shape `shape`, True = allowed) limits
    `rand`, `is_in` and `project`. `project` takes scores (logits, Q-values or a multi-hot
    row) and returns the one-hot of the best allowed entry.

    >>> import torch
    >>> spec = OneHot(4)
    >>> spec.project(torch.tensor([0.1, 2.0, -1.0, 0.5]))
    tensor([False,  True, False, False])
    >>> spec.update_mask(torch.tensor([True, False, True, True]))
    >>> spec.project(torch.tensor([0.1, 2.0, -1.0, 0.5])).int()
    tensor([0, 0, 0, 1], dtype=torch.int32)
    """

    def __init__(self, n: int, shape: Any = None, device: Any = None, dtype: Any = torch.bool,
                 use_register: bool = False, mask: Any = None) -> None:
        self.n = check_positive_int(n, "n")
        self._set_shape(as_shape(shape if shape is not None else (self.n,)))
        if not self.shape or self.shape[-1] != self.n:
            raise ValueError(f"OneHot `shape` must end with n={self.n} (the one-hot row), got {tuple(self.shape)}")
        self.device = as_device(device)
        self.dtype = as_dtype(dtype, torch.bool)
        self.use_register = bool(use_register)
        self._register: dict[Any, int] = {}
        self.mask = as_mask(mask, self.shape, self.device, "OneHot")

    @property
    def space(self) -> CategoricalBox:
        """The category set ``{0..n-1}`` (``space.n``)."""
        return CategoricalBox(self.n)

    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if not has_values(value):  # a "meta" value has the right shape and dtype: nothing more to check
            return True
        return check_one_hot_rows(value, self._mask_on(value.device))

    def project(self, value: Any) -> torch.Tensor:
        """One-hot of the argmax of the allowed entries (ties: lowest index; NaN never wins)."""
        value = require_tensor(value, self, "project")
        return one_hot(argmax_allowed(value, self._mask_on(value.device)), self.n, self.dtype)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """A uniformly drawn allowed category per row, one-hot encoded."""
        batch = batch_dims(shape)
        if self.mask is None:
            index = torch.randint(0, self.n, (*batch, *self.shape[:-1]), device=self.device)
        else:
            index = sample_allowed(self.mask, batch)
        return one_hot(index, self.n, self.dtype)

    def encode(self, value: Any) -> torch.Tensor:
        """Category indices (int, array or tensor) to one-hot rows of this spec.

        With ``use_register=True`` any hashable values are given indices in order of
        first appearance (a vocabulary of at most `n` values).
        """
        if self.use_register and not isinstance(value, (torch.Tensor, int)):
            value = self._registered_index(value)
        index = torch.as_tensor(value, device=self.device)
        if index.is_floating_point() and not torch.equal(index, index.round()):
            raise SpecValueError(f"OneHot.encode takes category indices, got non-integer values {index.tolist()}")
        index = index.long()
        if index.numel() and (index.min() < 0 or index.max() >= self.n):
            raise SpecValueError(f"OneHot.encode: indices must lie in [0, {self.n - 1}], got {index.tolist()}")
        return one_hot(index, self.n, self.dtype).reshape(*index.shape[: index.ndim - self.ndim + 1], *self.shape)

    def _registered_index(self, value: Any) -> int:
        if value not in self._register:
            if len(self._register) >= self.n:
                raise ValueError(f"OneHot register is full: {self.n} values already have an index")
            self._register[value] = len(self._register)
        return self._register[value]

    # --- outcomes ---------------------------------------------------------------------------
    def cardinality(self) -> int:
        """`n`, as torchrl's: the dims in front of the one-hot row are batch dims."""
        return self.n

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """The `n` one-hot rows, each repeated over the dims in front of the row: ``(n, *shape)``.

        With ``use_mask=True`` only the categories the mask allows in every row (torchrl raises
        `NotImplementedError` for ``use_mask=True``).

        >>> OneHot(3).enumerate().int()
        tensor([[1, 0, 0],
                [0, 1, 0],
                [0, 0, 1]], dtype=torch.int32)
        """
        categories = allowed_in_every_row(self.mask, self.n, use_mask).to(self.device)
        return broadcast_outcomes(one_hot(categories, self.n, self.dtype), self.shape[:-1])

    def index(self, index: Any, tensor_to_index: Any) -> torch.Tensor:
        """The entry of each row of `tensor_to_index` picked by the one-hot `index`, keeping a
        trailing dim of size 1 (torchrl's `OneHot.index`: ``tensor_to_index.gather(-1, position)``).

        Batch dims of `index` and `tensor_to_index` broadcast; each row of a batched index picks
        from its own row (torchrl gathers every row's position from every row there).

        >>> OneHot(3).index(torch.tensor([0, 0, 1]), torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]))
        tensor([[3.],
                [6.]])
        """
        positions = hot_positions(require_index_value(self, index), "OneHot")
        values = require_indexed(tensor_to_index, self.n, "OneHot")
        return gather_last(values, positions.unsqueeze(-1), "OneHot")

    def to_categorical(self, value: torch.Tensor) -> torch.Tensor:
        """Indices (int64) of the hot entries."""
        return argmax_allowed(value, None)

    def to_numpy(self, value: torch.Tensor):
        """Indices of the hot entries as a numpy array (what gymnasium's Discrete takes)."""
        return self.to_categorical(value).detach().cpu().numpy()

    def to_categorical_spec(self) -> "Categorical":
        """The same action space as a `Categorical` spec (mask carried over)."""
        return Categorical(self.n, self.shape[:-1], self.device, torch.int64, mask=self.mask)

    def _mask_on(self, device: torch.device) -> torch.Tensor | None:
        return self.mask if self.mask is None or self.mask.device == device else self.mask.to(device)

    def __getitem__(self, index: Any) -> "OneHot":
        shape = indexed_shape(self.shape, index, protected_last=True)
        mask = None if self.mask is None else self.mask[index].reshape(shape)
        return OneHot(self.n, shape, self.device, self.dtype, self.use_register, mask)

    event_last = True

    def _reshape(self, shape: torch.Size) -> "OneHot":
        mask = None if self.mask is None else self.mask.reshape(shape)
        return OneHot(self.n, shape, self.device, self.dtype, self.use_register, mask)

    def _rebuild(self, **changes: Any) -> "OneHot":
        shape = changes.get("shape", self.shape)
        mask = None if self.mask is None else self.mask.expand(shape)
        return OneHot(self.n, shape, changes.get("device", self.device), changes.get("dtype", self.dtype),
                      self.use_register, mask)

    def _same_domain(self, other: TensorSpec) -> bool:
        return self.n == other.n and super()._same_domain(other)

    def __repr__(self) -> str:
        return f"OneHot(n={self.n}, {self._common_repr()}{self._mask_repr()})"


# --- categorical ----------------------------------------------------------------------------------
class Categorical(_DiscreteSpec):
    """Integer indices in ``{0, ..., n-1}``; `shape` defaults to ``()`` (one index).

    `mask` has shape ``(*shape, n)``. `project` maps numbers to the nearest allowed index
    (rounding floats, ties to the lower index, NaN to the lowest allowed index).

    >>> import torch
    >>> Categorical(5).project(torch.tensor([-3.0, 1.4, 2.5, 9.0]))
    tensor([0, 1, 2, 4])
    """

    def __init__(self, n: int, shape: Any = None, device: Any = None, dtype: Any = torch.int64,
                 mask: Any = None) -> None:
        self.n = check_positive_int(n, "n")
        self._set_shape(as_shape(shape if shape is not None else ()))
        self.device = as_device(device)
        self.dtype = _discrete_dtype(dtype, torch.int64, "Categorical", self.n - 1)
        self.mask = as_mask(mask, self._mask_shape(), self.device, "Categorical")

    def _mask_shape(self) -> torch.Size:
        return torch.Size((*self.shape, self.n))

    @property
    def space(self) -> CategoricalBox:
        """The category set ``{0..n-1}`` (``space.n``)."""
        return CategoricalBox(self.n)

    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if value.numel() == 0 or not has_values(value):
            return True
        smallest, largest = torch.aminmax(value.long() if value.dtype is torch.bool else value)
        if not bool((smallest >= 0) & (largest.long() < self.n)):  # `n` may not fit the value's dtype
            return False
        return self.mask is None or bool(self._allowed(value).all())

    def _allowed(self, value: torch.Tensor) -> torch.Tensor:
        mask = self.mask.to(value.device).expand(*value.shape, self.n)
        return mask.gather(-1, value.long().unsqueeze(-1))

    def project(self, value: Any) -> torch.Tensor:
        """The nearest allowed index, in the spec's dtype."""
        value = require_tensor(value, self, "project")
        if self.mask is None and is_integer_dtype(value.dtype):
            return cast_into(value.clamp(0, min(self.n - 1, torch.iinfo(value.dtype).max)), self.dtype)
        mask = None if self.mask is None else self.mask.to(value.device)
        return nearest_allowed(value, self.n, mask).to(self.dtype)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """A uniformly drawn allowed index per element."""
        batch = batch_dims(shape)
        if self.mask is None:
            return torch.randint(0, self.n, (*batch, *self.shape), device=self.device).to(self.dtype)
        return sample_allowed(self.mask, batch).to(self.dtype)

    def encode(self, value: Any) -> torch.Tensor:
        """Indices (int, list, array or tensor) to a tensor of this spec; out-of-domain values are refused.

        torchrl documents `encode` as mapping an environment's value "to the TorchRL required
        domain"; a value outside ``{0..n-1}`` (or forbidden by the mask), or a non-integer
        number, raises `SpecValueError` (a `ValueError` and an `AssertionError`, what torchrl's
        encode check raises) instead of being returned as an invalid action.
        """
        raw = value if isinstance(value, torch.Tensor) else torch.as_tensor(value)
        if raw.is_floating_point() and has_values(raw) and not torch.equal(raw, raw.round()):
            raise SpecValueError(f"{type(self).__name__}.encode takes whole numbers, got {raw.tolist()}")
        self._check_encoded_range(raw)
        encoded = super().encode(raw)
        if has_values(encoded) and not self.is_in(encoded):
            raise SpecValueError(f"{type(self).__name__}.encode: {raw.tolist()} holds values forbidden by the mask")
        return encoded

    def _check_encoded_range(self, raw: torch.Tensor) -> None:
        """Refuse values outside ``{0..n-1}`` before the dtype cast could wrap or truncate them."""
        if raw.numel() == 0 or not has_values(raw):
            return
        wide = raw.double() if raw.is_floating_point() else raw.long()
        if bool((wide < 0).any()) or bool((wide > self.n - 1).any()):
            shown = raw.tolist() if raw.numel() <= 16 else f"a tensor of shape {tuple(raw.shape)}"
            raise SpecValueError(f"{type(self).__name__}.encode: values must lie in [0, {self.n - 1}], got {shown}")

    # --- outcomes ---------------------------------------------------------------------------
    def cardinality(self) -> int:
        """`n`, as torchrl's: every dim of the shape is a batch dim of one index."""
        return self.n

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """The indices ``0..n-1``, each filling the spec's shape: ``(n, *shape)`` in the spec's dtype.

        With ``use_mask=True`` only the indices the mask allows everywhere.

        >>> Categorical(3, shape=(2,)).enumerate()
        tensor([[0, 0],
                [1, 1],
                [2, 2]])
        """
        values = allowed_in_every_row(self.mask, self.n, use_mask).to(self.device)
        return broadcast_outcomes(values.to(self.dtype), self.shape)

    def to_one_hot(self, value: torch.Tensor) -> torch.Tensor:
        """One-hot rows (bool) of the indices."""
        return torch.nn.functional.one_hot(value.long(), self.n).bool()

    def to_one_hot_spec(self) -> OneHot:
        """The same action space as a `OneHot` spec (mask carried over)."""
        return OneHot(self.n, (*self.shape, self.n), self.device, torch.bool, mask=self.mask)

    def __getitem__(self, index: Any) -> "Categorical":
        shape = indexed_shape(self.shape, index, protected_last=False)
        mask = None if self.mask is None else self.mask[index].reshape(*shape, self.n)
        return Categorical(self.n, shape, self.device, self.dtype, mask)

    def _reshape(self, shape: torch.Size) -> "Categorical":
        mask = None if self.mask is None else self.mask.reshape(*shape, self.n)
        return Categorical(self.n, shape, self.device, self.dtype, mask)

    def _rebuild(self, **changes: Any) -> "Categorical":
        shape = changes.get("shape", self.shape)
        mask = None if self.mask is None else self.mask.expand(*shape, self.n)
        return Categorical(self.n, shape, changes.get("device", self.device), changes.get("dtype", self.dtype), mask)

    def _same_domain(self, other: TensorSpec) -> bool:
        return self.n == other.n and super()._same_domain(other)

    def __repr__(self) -> str:
        return f"Categorical(n={self.n}, {self._common_repr()}{self._mask_repr()})"


class Binary(Categorical):
    """A vector of `n` independent bits (gymnasium's MultiBinary); dtype int8 by default.

    `n` is the vector length (or give `shape`, ending with it); as in torchrl,
    ``spec.n`` / ``spec.space.n`` is then 2, the number of values of each bit.
    `project` thresholds at 0.5 (0.5 itself and NaN give 0). Binary specs have no mask.

    >>> import torch
    >>> Binary(3).project(torch.tensor([0.7, 0.5, -2.0]))
    tensor([1, 0, 0], dtype=torch.int8)
    """

    def __init__(self, n: int | None = None, shape: Any = None, device: Any = None,
                 dtype: Any = torch.int8) -> None:
        if n is None and shape is None:
            raise TypeError("Binary needs `n` (the number of bits) or `shape`, e.g. Binary(4)")
        shape = as_shape(shape if shape is not None else (check_positive_int(n, "n"),))
        if not shape or (n is not None and shape[-1] != n):
            raise ValueError(f"Binary `shape` must end with n={n} (the bit vector), got {tuple(shape)}")
        self.n = 2
        self._set_shape(shape)
        self.device = as_device(device)
        self.dtype = _discrete_dtype(dtype, torch.int8, "Binary", 1)
        self.mask = None

    def update_mask(self, mask: Any) -> None:
        """Binary specs have no mask: each bit can always take both values."""
        raise TypeError("Binary specs take no mask; use MultiCategorical([2, 2, ...]) for maskable bits")

    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if value.numel() == 0 or value.dtype is torch.bool or not has_values(value):
            return True
        smallest, largest = torch.aminmax(value)
        return bool((smallest >= 0) & (largest <= 1))

    def project(self, value: Any) -> torch.Tensor:
        """``value > 0.5`` in the spec's dtype."""
        value = require_tensor(value, self, "project")
        if value.dtype is torch.bool:
            return value.to(self.dtype)
        return (value > 0.5).to(self.dtype)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """Independent fair bits."""
        return torch.randint(0, 2, (*batch_dims(shape), *self.shape), device=self.device).to(self.dtype)

    # --- outcomes ---------------------------------------------------------------------------
    def cardinality(self) -> int:
        """``2 ** n``: every bit vector (torchrl inherits `Categorical`'s and says 2)."""
        return 2 ** self.shape[-1]

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """Every bit vector, counting up in binary (the first bit varies slowest), each repeated
        over the dims in front of the vector: ``(2**n, *shape)``. Binary specs have no mask.

        >>> Binary(2).enumerate()
        tensor([[0, 0],
                [0, 1],
                [1, 0],
                [1, 1]], dtype=torch.int8)
        """
        check_enumerable(self.cardinality(), "Binary")
        bits = [torch.arange(2, device=self.device)] * self.shape[-1]
        return broadcast_outcomes(cartesian_rows(bits).to(self.dtype), self.shape[:-1])

    def __getitem__(self, index: Any) -> "Binary":
        shape = indexed_shape(self.shape, index, protected_last=True)
        return Binary(shape[-1], shape, self.device, self.dtype)

    event_last = True

    def _reshape(self, shape: torch.Size) -> "Binary":
        return self._rebuild(shape=shape)

    def _rebuild(self, **changes: Any) -> "Binary":
        shape = changes.get("shape", self.shape)
        return Binary(shape[-1], shape, changes.get("device", self.device), changes.get("dtype", self.dtype))

    def __repr__(self) -> str:
        return f"Binary(n={self.shape[-1]}, {self._common_repr()})"


# --- several categorical variables --------------------------------------------------------------
def as_nvec(nvec: Any, owner: str) -> torch.Tensor:
    """Validate the per-variable cardinalities: a non-empty array of positive ints."""
    try:
        tensor = torch.as_tensor(nvec)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{owner} `nvec` must be a list of positive ints, got {nvec!r}") from None
    if tensor.ndim == 0:
        tensor = tensor.reshape(1)
    if tensor.numel() == 0:
        raise ValueError(f"{owner} `nvec` must name at least one variable, got {nvec!r}")
    if tensor.is_floating_point() or tensor.dtype is torch.bool:
        raise TypeError(f"{owner} `nvec` must hold ints, got {tensor.tolist()}")
    if (tensor <= 0).any():
        raise ValueError(f"{owner} `nvec` entries must be >= 1, got {tensor.tolist()}")
    return tensor.long()


class MultiOneHot(_DiscreteSpec):
    """Several one-hot blocks side by side (block sizes `nvec`) in one last dim of ``sum(nvec)``.

    `mask` has the spec's shape; each block is projected and sampled like a `OneHot`.

    >>> import torch
    >>> spec = MultiOneHot([2, 3])
    >>> spec.project(torch.tensor([0.2, 0.1, -1.0, 3.0, 0.0])).int()
    tensor([1, 0, 0, 1, 0], dtype=torch.int32)
    """

    def __init__(self, nvec: Sequence[int], shape: Any = None, device: Any = None, dtype: Any = torch.bool,
                 use_register: bool = False, mask: Any = None) -> None:
        nvec_t = as_nvec(nvec, "MultiOneHot")
        if nvec_t.ndim != 1:
            raise ValueError(f"MultiOneHot `nvec` must be a flat list of block sizes, got {nvec_t.tolist()}")
        self.nvec = nvec_t.tolist()
        total = sum(self.nvec)
        self._set_shape(as_shape(shape if shape is not None else (total,)))
        if not self.shape or self.shape[-1] != total:
            raise ValueError(f"MultiOneHot `shape` must end with sum(nvec)={total}, got {tuple(self.shape)}")
        self.device = as_device(device)
        self.dtype = as_dtype(dtype, torch.bool)
        self.use_register = bool(use_register)
        self.mask = None
        self.update_mask(mask)

    def update_mask(self, mask: Any) -> None:
        """Set (or clear) the mask; every block needs at least one allowed entry per row."""
        mask = as_mask(mask, self.shape, self.device, "MultiOneHot") if mask is not None else None
        if mask is not None and has_values(mask):
            for block in mask.split(self.nvec, -1):
                if not block.any(-1).all():
                    raise ValueError("MultiOneHot `mask` forbids every entry of a block; each block needs a True")
        self.mask = mask

    def _blocks(self, value: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return value.split(self.nvec, -1)

    def _mask_blocks(self, device: torch.device) -> list[torch.Tensor | None]:
        if self.mask is None:
            return [None] * len(self.nvec)
        return list(self.mask.to(device).split(self.nvec, -1))

    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if not has_values(value):
            return True
        masks = self._mask_blocks(value.device)
        return all(check_one_hot_rows(block, mask) for block, mask in zip(self._blocks(value), masks))

    def project(self, value: Any) -> torch.Tensor:
        """Each block projected as a `OneHot` (argmax of its allowed entries)."""
        value = require_tensor(value, self, "project")
        masks = self._mask_blocks(value.device)
        blocks = [one_hot(argmax_allowed(block, mask), n, self.dtype)
                  for block, mask, n in zip(self._blocks(value), masks, self.nvec)]
        return torch.cat(blocks, -1)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """A uniformly drawn allowed entry per block."""
        batch = batch_dims(shape)
        blocks = []
        for n, mask in zip(self.nvec, self._mask_blocks(self.device)):
            if mask is None:
                index = torch.randint(0, n, (*batch, *self.shape[:-1]), device=self.device)
            else:
                index = sample_allowed(mask, batch)
            blocks.append(one_hot(index, n, self.dtype))
        return torch.cat(blocks, -1)

    def encode(self, value: Any) -> torch.Tensor:
        """Per-block indices (last dim = number of blocks) to concatenated one-hot rows."""
        index = torch.as_tensor(value, device=self.device).long()
        if index.ndim == 0 or index.shape[-1] != len(self.nvec):
            raise ValueError(f"MultiOneHot.encode takes {len(self.nvec)} indices per row, got shape {tuple(index.shape)}")
        nvec = torch.tensor(self.nvec, device=self.device)
        if ((index < 0) | (index >= nvec)).any():
            raise SpecValueError(f"MultiOneHot.encode: indices {index.tolist()} out of range for nvec={self.nvec}")
        blocks = [one_hot(i, n, self.dtype) for i, n in zip(index.unbind(-1), self.nvec)]
        return torch.cat(blocks, -1)

    # --- outcomes ---------------------------------------------------------------------------
    def cardinality(self) -> int:
        """The product of the block sizes (torchrl's ``prod(nvec)``)."""
        return math.prod(self.nvec)

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """Every combination of one hot entry per block (the first block varies slowest), each
        repeated over the dims in front of the row: ``(prod(nvec), *shape)``.

        With ``use_mask=True`` only entries the mask allows in every row.

        >>> MultiOneHot([2, 2]).enumerate().int()
        tensor([[1, 0, 1, 0],
                [1, 0, 0, 1],
                [0, 1, 1, 0],
                [0, 1, 0, 1]], dtype=torch.int32)
        """
        check_enumerable(self.cardinality(), "MultiOneHot")
        masks = self._mask_blocks(self.device)
        columns = [allowed_in_every_row(mask, n, use_mask).to(self.device) for n, mask in zip(self.nvec, masks)]
        choices = cartesian_rows(columns)
        rows = torch.cat([one_hot(column, n, self.dtype) for column, n in zip(choices.unbind(-1), self.nvec)], -1)
        return broadcast_outcomes(rows, self.shape[:-1])

    def index(self, index: Any, tensor_to_index: Any) -> torch.Tensor:
        """Per block, the entry of that block of `tensor_to_index` picked by the block's one-hot
        row, one column per block: ``(*batch, len(nvec))`` (torchrl's `MultiOneHot.index`).

        >>> MultiOneHot([2, 3]).index(torch.tensor([0, 1, 0, 0, 1]), torch.arange(5.0))
        tensor([1., 4.])
        """
        index = require_index_value(self, index)
        values = require_indexed(tensor_to_index, sum(self.nvec), "MultiOneHot", exactly=True)
        picked = [gather_last(block_values, hot_positions(block, "MultiOneHot").unsqueeze(-1), "MultiOneHot")
                  for block, block_values in zip(self._blocks(index), self._blocks(values))]
        return torch.cat(picked, -1)

    def to_categorical(self, value: torch.Tensor) -> torch.Tensor:
        """Per-block indices, stacked on the last dim."""
        return torch.stack([argmax_allowed(block, None) for block in self._blocks(value)], -1)

    def to_numpy(self, value: torch.Tensor):
        """Per-block indices as a numpy array (what gymnasium's MultiDiscrete takes)."""
        return self.to_categorical(value).detach().cpu().numpy()

    def to_categorical_spec(self) -> "MultiCategorical":
        """The same action space as a `MultiCategorical` spec (mask carried over)."""
        shape = (*self.shape[:-1], len(self.nvec))
        return MultiCategorical(torch.tensor(self.nvec).expand(shape), shape, self.device, torch.int64, self.mask)

    def __getitem__(self, index: Any) -> "MultiOneHot":
        shape = indexed_shape(self.shape, index, protected_last=True)
        mask = None if self.mask is None else self.mask[index].reshape(shape)
        return MultiOneHot(self.nvec, shape, self.device, self.dtype, self.use_register, mask)

    event_last = True

    def _reshape(self, shape: torch.Size) -> "MultiOneHot":
        mask = None if self.mask is None else self.mask.reshape(shape)
        return MultiOneHot(self.nvec, shape, self.device, self.dtype, self.use_register, mask)

    def _rebuild(self, **changes: Any) -> "MultiOneHot":
        shape = changes.get("shape", self.shape)
        mask = None if self.mask is None else self.mask.expand(shape)
        return MultiOneHot(self.nvec, shape, changes.get("device", self.device), changes.get("dtype", self.dtype),
                           self.use_register, mask)

    def _same_domain(self, other: TensorSpec) -> bool:
        return self.nvec == other.nvec and super()._same_domain(other)

    def __repr__(self) -> str:
        return f"MultiOneHot(nvec={self.nvec}, {self._common_repr()}{self._mask_repr()})"


class MultiCategorical(_DiscreteSpec):
    """Several categorical variables; variable ``i`` takes values in ``{0..nvec[i]-1}``.

    `nvec` gives the shape (or broadcasts to the given `shape`). `mask` has shape
    ``(*shape[:-1], sum(nvec))``: the allowed values of each variable side by side, which
    needs the same `nvec` along the last dim for every leading index.

    >>> import torch
    >>> MultiCategorical([3, 5]).project(torch.tensor([7.0, -1.0]))
    tensor([2, 0])
    """

    def __init__(self, nvec: Any, shape: Any = None, device: Any = None, dtype: Any = torch.int64,
                 mask: Any = None) -> None:
        nvec_t = as_nvec(nvec, "MultiCategorical")
        self._set_shape(as_shape(shape if shape is not None else nvec_t.shape))
        if not self.shape:
            raise ValueError("MultiCategorical needs at least one variable: `shape` must not be ()")
        self.device = as_device(device)
        # As given (before broadcasting): keeps the cardinalities when a leading dim has size 0.
        # Kept on the CPU: the cardinalities are the spec's structure, readable on any device ("meta" too).
        self._nvec_given = nvec_t.cpu()
        try:
            self.nvec = self._nvec_given.broadcast_to(self.shape).clone().to(self.device)
        except RuntimeError:
            raise ValueError(
                f"MultiCategorical `nvec` of shape {tuple(nvec_t.shape)} does not fit `shape` {tuple(self.shape)}"
            ) from None
        self.dtype = _discrete_dtype(dtype, torch.int64, "MultiCategorical", int(nvec_t.max()) - 1)
        self.mask = None
        self.update_mask(mask)

    def _row_nvec(self) -> list[int]:
        given = self._nvec_given
        rows = given.broadcast_to((*given.shape[:-1], self.shape[-1])).reshape(-1, self.shape[-1])
        if not bool((rows == rows[0]).all()):
            raise ValueError("a MultiCategorical mask needs the same nvec for every leading index")
        return rows[0].tolist()

    def _mask_shape(self) -> torch.Size:
        return torch.Size((*self.shape[:-1], sum(self._row_nvec())))

    def update_mask(self, mask: Any) -> None:
        """Set (or clear) the mask; each variable needs at least one allowed value."""
        if mask is None:
            self.mask = None
            return
        mask = as_mask(mask, self._mask_shape(), self.device, "MultiCategorical")
        for block in mask.split(self._row_nvec(), -1) if has_values(mask) else ():
            if not block.any(-1).all():
                raise ValueError("MultiCategorical `mask` forbids every value of a variable; each needs a True")
        self.mask = mask

    def _mask_blocks(self, device: torch.device) -> list[torch.Tensor]:
        return list(self.mask.to(device).split(self._row_nvec(), -1))

    def is_in(self, value: Any) -> bool:
        if not isinstance(value, torch.Tensor) or value.dtype is not self.dtype:
            return False
        if not self._fits(value.shape):
            return False
        if value.numel() == 0 or not has_values(value):
            return True
        index = value.long()
        if not bool(((index >= 0) & (index < self.nvec.to(value.device))).all()):
            return False
        if self.mask is None:
            return True
        for variable, mask in zip(index.unbind(-1), self._mask_blocks(value.device)):
            if not bool(mask.expand(*variable.shape, mask.shape[-1]).gather(-1, variable.unsqueeze(-1)).all()):
                return False
        return True

    def project(self, value: Any) -> torch.Tensor:
        """Each variable to its nearest allowed value, in the spec's dtype."""
        value = require_tensor(value, self, "project")
        nvec = self.nvec.to(value.device)
        if self.mask is None:
            clean = torch.nan_to_num(value.double(), nan=-1.0) if value.is_floating_point() else value.double()
            index = nearest_integer(clean, nan_to=0.0)
            return torch.minimum(index.clamp_min(0), (nvec - 1).double()).to(self.dtype)
        variables = [nearest_allowed(v, int(n), m)
                     for v, n, m in zip(value.unbind(-1), self._row_nvec(), self._mask_blocks(value.device))]
        return torch.stack(variables, -1).to(self.dtype)

    def rand(self, shape: Any = ()) -> torch.Tensor:
        """A uniformly drawn allowed value per variable."""
        batch = batch_dims(shape)
        if self.mask is None:
            uniform = torch.rand((*batch, *self.shape), device=self.device, dtype=torch.float64)
            return torch.minimum(torch.floor(uniform * self.nvec), self.nvec - 1).to(self.dtype)
        variables = [sample_allowed(mask, batch) for mask in self._mask_blocks(self.device)]
        return torch.stack(variables, -1).to(self.dtype)

    # --- outcomes ---------------------------------------------------------------------------
    def _event_nvec(self, action: str) -> list[int]:
        """The cardinalities of the variables, the same for every leading index (else undefined)."""
        given = self._nvec_given
        rows = given.broadcast_to((*given.shape[:-1], self.shape[-1])).reshape(-1, self.shape[-1])
        if not bool((rows == rows[0]).all()):
            raise SpecUndefinedError(
                f"MultiCategorical.{action} is not defined when the variables' cardinalities differ between "
                f"leading indices (nvec {given.tolist()}): an outcome fills every leading index alike"
            )
        return rows[0].tolist()

    def cardinality(self) -> int:
        """The product of the variables' cardinalities (torchrl's ``prod(nvec)``)."""
        return math.prod(self._event_nvec("cardinality"))

    def enumerate(self, use_mask: bool = False) -> torch.Tensor:
        """Every combination of one value per variable (the first variable varies slowest), each
        repeated over the dims in front of the variables: ``(prod(nvec), *shape)``.

        With ``use_mask=True`` only values the mask allows in every row (torchrl refuses
        ``use_mask=True``, and any masked spec).

        >>> MultiCategorical([2, 3]).enumerate().tolist()
        [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2]]
        """
        nvec = self._event_nvec("enumerate")
        check_enumerable(math.prod(nvec), "MultiCategorical")
        masks = self._mask_blocks(self.device) if self.mask is not None else [None] * len(nvec)
        columns = [allowed_in_every_row(mask, n, use_mask).to(self.device) for n, mask in zip(nvec, masks)]
        return broadcast_outcomes(cartesian_rows(columns).to(self.dtype), self.shape[:-1])

    def _index_limit(self) -> torch.Tensor:
        return self.nvec

    def _categories_indexed(self) -> int:
        return int(self._nvec_given.max())

    def to_one_hot(self, value: torch.Tensor) -> torch.Tensor:
        """Concatenated one-hot blocks (bool), one per variable."""
        blocks = [torch.nn.functional.one_hot(v.long(), int(n)).bool()
                  for v, n in zip(value.unbind(-1), self._row_nvec())]
        return torch.cat(blocks, -1)

    def to_one_hot_spec(self) -> MultiOneHot:
        """The same action space as a `MultiOneHot` spec (mask carried over)."""
        nvec = self._row_nvec()
        return MultiOneHot(nvec, (*self.shape[:-1], sum(nvec)), self.device, torch.bool, mask=self.mask)

    def __getitem__(self, index: Any) -> "MultiCategorical":
        shape = indexed_shape(self.shape, index, protected_last=True)
        mask = None if self.mask is None else self.mask[index].reshape(*shape[:-1], self.mask.shape[-1])
        cpu_index = index.cpu() if isinstance(index, torch.Tensor) else index  # the cardinalities live on the CPU
        nvec = self._nvec_given.broadcast_to(self.shape)[cpu_index].reshape(shape)
        return MultiCategorical(nvec, shape, self.device, self.dtype, mask)

    event_last = True

    def _reshape(self, shape: torch.Size) -> "MultiCategorical":
        mask = None if self.mask is None else self.mask.reshape(*shape[:-1], self.mask.shape[-1])
        nvec = self._nvec_given.broadcast_to(self.shape).reshape(shape)
        return MultiCategorical(nvec, shape, self.device, self.dtype, mask)

    def _rebuild(self, **changes: Any) -> "MultiCategorical":
        shape = changes.get("shape", self.shape)
        mask = None if self.mask is None else self.mask.expand(*shape[:-1], self.mask.shape[-1])
        return MultiCategorical(self._nvec_given, shape, changes.get("device", self.device),
                                changes.get("dtype", self.dtype), mask)

    def _same_domain(self, other: TensorSpec) -> bool:
        mine, theirs = self._nvec_given.broadcast_to(self.shape), other._nvec_given.broadcast_to(other.shape)
        return torch.equal(mine, theirs) and super()._same_domain(other)

    def __repr__(self) -> str:
        nvec = self._nvec_given.broadcast_to(self.shape).tolist()
        return f"MultiCategorical(nvec={nvec}, {self._common_repr()}{self._mask_repr()})"
