"""`NonTensor`: the spec of an entry holding Python data (strings, dicts...), not a tensor.

As torchrl 0.14's `NonTensor`: the default shape is ``(1,)``, the domain is None, the device
may be None, any non-tensor value is a member, and `rand`/`zero`/`one` return a
`tensordict.NonTensorData` holding `example_data` over the batch dims.

>>> spec = NonTensor(example_data="a prompt")
>>> spec.is_in("any text"), spec.is_in(123)
(True, True)
>>> data = spec.rand((2,))
>>> data.batch_size, data.data
(torch.Size([2, 1]), 'a prompt')
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import NonTensorData, is_non_tensor

from rldsl.specs._base import SpecUndefinedError, TensorSpec, as_device, as_shape, batch_dims, indexed_shape


def same_data(first: Any, second: Any) -> bool:
    """True when two pieces of Python data (or tensors) are equal, never raising.

    Tensors compare by shape and values; array-likes whose ``==`` gives an array (numpy) by
    shape and every element; other objects by ``==``. A comparison that raises or gives no
    truth value counts as different.

    >>> import numpy as np
    >>> same_data("a", "a"), same_data(np.zeros(2), np.zeros(2)), same_data(np.zeros(2), np.zeros(3))
    (True, True, False)
    """
    if first is second:
        return True
    try:
        if isinstance(first, torch.Tensor) or isinstance(second, torch.Tensor):
            return (isinstance(first, torch.Tensor) and isinstance(second, torch.Tensor)
                    and first.shape == second.shape and bool((first == second).all()))
        equal = first == second
        if isinstance(equal, bool):
            return equal
        if getattr(first, "shape", None) != getattr(second, "shape", None):
            return False  # numpy broadcasts [1] == [1, 1] to [True, True]
        return bool(equal.all()) if hasattr(equal, "all") else bool(equal)
    except Exception:  # any failure of a user type's __eq__ or __bool__ means "not known equal"
        return False


class NonTensor(TensorSpec):
    """Non-tensor data (text, dicts, any Python object) carried through a TensorDict.

    `is_in` is True for any value that is not a tensor (a `NonTensorData` must also have the
    spec's trailing shape); `project` returns a member unchanged and raises
    `NotImplementedError` otherwise (there is no nearest Python object), as torchrl's.
    """

    domain = None

    def __init__(self, shape: Any = (1,), device: Any = None, dtype: Any = None, example_data: Any = None,
                 batched: bool | None = None, feature_dims: int | None = None) -> None:
        self._set_shape(as_shape(shape))
        self.device = None if device is None else as_device(device)
        if dtype is not None and not isinstance(dtype, torch.dtype):
            raise TypeError(f"`dtype` must be a torch.dtype or None, got {dtype!r}")
        self.dtype = dtype
        self.example_data = example_data
        self.batched = batched
        self.feature_dims = feature_dims

    def is_in(self, value: Any) -> bool:
        if is_non_tensor(value):
            return self._fits(value.batch_size)
        return not isinstance(value, torch.Tensor) and not hasattr(value, "batch_size")

    def project(self, value: Any) -> Any:
        """A member unchanged; anything else has no nearest member (`SpecUndefinedError`, a
        `NotImplementedError` as torchrl's)."""
        if self.is_in(value):
            return value
        raise SpecUndefinedError(f"NonTensor.project: a {type(value).__name__} is not non-tensor data "
                                  f"of shape {tuple(self.shape)}, and there is no nearest one")

    def rand(self, shape: Any = ()) -> NonTensorData:
        """`example_data` over batch dims ``(*shape, *spec.shape)``."""
        return NonTensorData(self.example_data, batch_size=(*batch_dims(shape), *self.shape), device=self.device)

    def zero(self, shape: Any = ()) -> NonTensorData:
        return self.rand(shape)

    def one(self, shape: Any = ()) -> NonTensorData:
        return self.rand(shape)

    zeros = zero
    ones = one

    def encode(self, value: Any) -> NonTensorData:
        """`value` wrapped as `NonTensorData` of the spec's shape (a `NonTensorData` comes back as it is)."""
        if is_non_tensor(value):
            return value
        return NonTensorData(value, batch_size=self.shape, device=self.device)

    def type_check(self, value: Any, key: Any = None) -> None:
        """Non-tensor data has no dtype to check."""

    # --- counting and listing: not defined (torchrl raises `NotImplementedError` for each) ------
    def cardinality(self) -> int:
        """Not defined (torchrl: "Cannot enumerate a NonTensor spec.")."""
        raise SpecUndefinedError("NonTensor.cardinality is not defined: any Python object is a member, so "
                                 "there is nothing to count; use Choice for a fixed set of values")

    def enumerate(self, use_mask: bool = False) -> Any:
        """Not defined (torchrl: "Cannot enumerate a NonTensor spec.")."""
        raise SpecUndefinedError("NonTensor.enumerate is not defined: any Python object is a member, so "
                                 "there is no list of outcomes; use Choice for a fixed set of values")

    def index(self, index: Any, tensor_to_index: Any) -> Any:
        """Not defined (torchrl: "Cannot use index with a NonTensorSpec.")."""
        raise SpecUndefinedError("NonTensor.index is not defined: non-tensor data does not select entries")

    def __getitem__(self, index: Any) -> "NonTensor":
        return self._rebuild(shape=indexed_shape(self.shape, index, protected_last=False))

    def to(self, dest: Any) -> "NonTensor":
        """A copy on another device; a dtype cast leaves non-tensor data as it is."""
        if isinstance(dest, torch.dtype):
            return self.clone()
        return self._rebuild(device=as_device(dest))

    def _rebuild(self, **changes: Any) -> "NonTensor":
        return NonTensor(changes.get("shape", self.shape), changes.get("device", self.device),
                         changes.get("dtype", self.dtype), self.example_data, self.batched, self.feature_dims)

    def _same_domain(self, other: TensorSpec) -> bool:
        """Equal example data, as torchrl's equality compares ``example_data`` (here without ever
        raising: tensors and numpy arrays compare by value, see `same_data`)."""
        return same_data(self.example_data, other.example_data)

    def __repr__(self) -> str:
        return f"NonTensor({self._common_repr()}, example_data={self.example_data!r})"
