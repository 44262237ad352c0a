"""Stacks of specs: ``torch.stack([spec_a, spec_b], dim)``, as torchrl 0.14's specs answer it.

Stacking specs that are all equal gives a spec of the same class with the new dim (torchrl:
"stack multiple specs along a new dimension"); stacking different ones of one class gives a
lazy stack, `Stacked` for leaf specs and `StackedComposite` for composites, which keeps each
spec and answers per element. Dims whose size differs between the elements are ``-1`` in the
stack's shape, as in torchrl.

>>> import torch
>>> from rldsl.specs import Bounded, Unbounded
>>> torch.stack([Unbounded(3), Unbounded(3)]).shape
torch.Size([2, 3])
>>> stack = torch.stack([Unbounded(3), Unbounded(4)])
>>> stack.shape, stack[1]
(torch.Size([2, -1]), UnboundedContinuous(shape=(4,), dtype=torch.float32, device=cpu))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from tensordict import LazyStackedTensorDict, TensorDictBase, is_non_tensor

from rldsl.specs._base import TORCH_FUNCTIONS, SpecUndefinedError, TensorSpec, batch_dims, expanded_shape
from rldsl.specs.composite import Composite


def stack_specs(specs: Sequence[TensorSpec], dim: int = 0) -> TensorSpec:
    """``torch.stack`` for specs: a spec of the same class when all are equal, else a lazy stack."""
    specs = list(specs)
    if not specs:
        raise ValueError("torch.stack needs at least one spec")
    first = specs[0]
    if any(type(spec) is not type(first) for spec in specs):
        names = sorted({type(spec).__name__ for spec in specs})
        raise TypeError(f"cannot stack specs of different classes ({', '.join(names)}); convert them to one class")
    if any(spec.device != first.device for spec in specs):
        raise ValueError("cannot stack specs on different devices; move them with spec.to(device) first")
    if any(spec.ndim != first.ndim for spec in specs):
        raise ValueError(f"cannot stack specs with different numbers of dims: {[tuple(s.shape) for s in specs]}")
    position = _stack_position(dim, first.ndim)
    if all(spec == first for spec in specs[1:]):
        if isinstance(first, _LazyStack):  # equal lazy stacks: stack each element, keep the outer stack lazy
            inner = position if position <= first.dim else position - 1
            outer = first.dim + 1 if position <= first.dim else first.dim
            return type(first)(*(stack_specs([spec] * len(specs), inner) for spec in first._specs), dim=outer)
        shape = (*first.shape[:position], len(specs), *first.shape[position:])
        return first.unsqueeze(position).expand(*shape)
    if isinstance(first, Composite):
        return StackedComposite(*specs, dim=position)
    return Stacked(*specs, dim=position)


def _stack_position(dim: int, ndim: int) -> int:
    """The non-negative position of the new dim, by torch.stack's rule (-1 appends)."""
    if not isinstance(dim, int) or isinstance(dim, bool):
        raise TypeError(f"`dim` must be an int, got {dim!r}")
    position = dim + ndim + 1 if dim < 0 else dim
    if not 0 <= position <= ndim:
        raise IndexError(f"stack dim {dim} is out of range for specs with {ndim} dims")
    return position


def _torch_stack(tensors: Sequence[TensorSpec], dim: int = 0, *, out: Any = None) -> TensorSpec:
    if out is not None:
        raise TypeError("torch.stack of specs takes no `out`")
    return stack_specs(tensors, dim)


TORCH_FUNCTIONS[torch.stack] = _torch_stack


class _LazyStack(TensorSpec):
    """The shared mechanics of `Stacked` and `StackedComposite`: elements, stack dim, shape."""

    def __init__(self, *specs: TensorSpec, dim: int) -> None:
        if len(specs) == 1 and isinstance(specs[0], (list, tuple)):
            specs = tuple(specs[0])
        if not specs:
            raise ValueError(f"{type(self).__name__} needs at least one spec")
        first = specs[0]
        if any(spec.ndim != first.ndim for spec in specs):
            raise ValueError(f"the stacked specs must have the same number of dims, got {[tuple(s.shape) for s in specs]}")
        self.dim = _stack_position(dim, first.ndim)
        self._specs = list(specs)
        self.device = first.device
        self.domain = first.domain
        sizes = [
            spec_dims[0] if all(d == spec_dims[0] for d in spec_dims) else -1
            for spec_dims in zip(*(spec.shape for spec in specs))
        ]
        self.shape = torch.Size((*sizes[: self.dim], len(specs), *sizes[self.dim:]))

    @property
    def heterogeneous(self) -> bool:
        """True when the elements' shapes differ (a value is then no single tensor)."""
        return -1 in self.shape

    def __len__(self) -> int:
        return len(self._specs)

    def unbind(self, dim: int = 0) -> tuple[TensorSpec, ...]:
        """The stacked specs, when `dim` is the stack dim."""
        if (dim + self.ndim if dim < 0 else dim) != self.dim:
            raise ValueError(f"a {type(self).__name__} unbinds only along its stack dim {self.dim}, got {dim}")
        return tuple(self._specs)

    def __getitem__(self, index: Any) -> Any:
        """Index along the stack dim: an int gives that element, a slice or list a smaller stack.

        Leading dims in front of the stack dim are taken whole (``spec[:, 1]`` for dim 1), as
        torchrl's lazy stacks allow "indexing ... only along the stack dimension".
        """
        parts = index if isinstance(index, tuple) else (index,)
        lead, rest = parts[: self.dim], parts[self.dim:]
        if any(part != slice(None) for part in lead) or len(rest) > 1 or not rest:
            raise IndexError(f"a {type(self).__name__} is indexed along its stack dim {self.dim} only, got {index!r}")
        chosen = rest[0]
        if isinstance(chosen, int) and not isinstance(chosen, bool):
            return self._specs[chosen]
        if isinstance(chosen, torch.Tensor):
            chosen = chosen.tolist()
        picked = self._specs[chosen] if isinstance(chosen, slice) else [self._specs[i] for i in chosen]
        return stack_specs(picked, self.dim)

    def _insert_dim(self, position: int) -> "_LazyStack":
        """This stack with a size-1 dim inserted at `position`."""
        if position <= self.dim:
            return type(self)(*(spec.unsqueeze(position) for spec in self._specs), dim=self.dim + 1)
        return type(self)(*(spec.unsqueeze(position - 1) for spec in self._specs), dim=self.dim)

    def unsqueeze(self, dim: int) -> "_LazyStack":
        """A size-1 dim inserted at `dim`, in every element (the stack dim moves along)."""
        return self._insert_dim(dim + self.ndim + 1 if dim < 0 else dim)

    def squeeze(self, dim: int | None = None) -> TensorSpec:
        """Size-1 dims removed from the elements; squeezing a stack of one gives that element."""
        if dim is None:
            result: TensorSpec = self
            for position in reversed(range(self.ndim)):
                if self.shape[position] == 1:
                    result = result.squeeze(position)
            return result
        position = dim + self.ndim if dim < 0 else dim
        if position == self.dim:
            return self._specs[0].clone() if len(self._specs) == 1 else self
        if self.shape[position] != 1:
            return self
        inner = position if position < self.dim else position - 1
        new_dim = self.dim - 1 if position < self.dim else self.dim
        return type(self)(*(spec.squeeze(inner) for spec in self._specs), dim=new_dim)

    def reshape(self, *shape: Any) -> TensorSpec:
        """Not defined for a lazy stack: reshape its elements (``spec.unbind(dim)``) instead."""
        raise SpecUndefinedError(f"a {type(self).__name__} cannot be reshaped; reshape each element "
                                  f"(spec.unbind({self.dim})) and stack them again")

    view = reshape

    def expand(self, *shape: Any) -> "_LazyStack":
        """Leading dims added in front of every element (the stack dim moves along)."""
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        lead = len(shape) - self.ndim
        if lead < 0 or tuple(shape[lead:]) != tuple(self.shape):
            raise ValueError(f"a {type(self).__name__} of shape {tuple(self.shape)} can only get leading dims, "
                             f"got {tuple(shape)}")
        new_lead = expanded_shape(torch.Size(), shape[:lead]) if lead else ()
        return type(self)(*(spec.expand(*new_lead, *spec.shape) for spec in self._specs), dim=self.dim + lead)

    # --- counting, listing and indexing outcomes -------------------------------------------------
    def cardinality(self) -> int:
        """Not defined (torchrl: "`cardinality` is not implemented for Stacked specs")."""
        raise SpecUndefinedError(f"{type(self).__name__}.cardinality is not defined: count each element's "
                                 f"outcomes (spec.unbind({self.dim})) instead")

    def index(self, index: Any, tensor_to_index: Any) -> Any:
        """Not defined (torchrl: "`index` is not implemented for Stacked specs")."""
        raise SpecUndefinedError(f"{type(self).__name__}.index is not defined: index with each element's spec "
                                 f"(spec.unbind({self.dim})) instead")

    def enumerate(self, use_mask: bool = False) -> Any:
        """Outcome `j` of every element, stacked along the stack dim, for each `j` (torchrl stacks
        the elements' enumerations along ``stack_dim + 1``): the elements are batch entries
        of the stack, each with its own spec, so they need as many outcomes each."""
        if self.heterogeneous:
            raise SpecUndefinedError(f"{type(self).__name__}.enumerate is not defined: the stacked specs have "
                                     f"different shapes {[tuple(s.shape) for s in self._specs]}, so their outcomes "
                                     f"make no single value; enumerate each element instead")
        outcomes = [spec.enumerate(use_mask) for spec in self._specs]
        counts = sorted({len(values) for values in outcomes})
        if len(counts) > 1:
            raise SpecUndefinedError(f"{type(self).__name__}.enumerate is not defined: the stacked specs have "
                                     f"different numbers of outcomes ({counts}); enumerate each element instead")
        return self._stack_values(outcomes, self.dim + 1)

    @staticmethod
    def _stack_values(values: list[Any], dim: int) -> Any:
        """The elements' values stacked along `dim` (tensors; composites stack lazily when needed)."""
        return torch.stack(values, dim)

    def _rebuild(self, **changes: Any) -> "_LazyStack":
        if "shape" in changes and changes["shape"] != self.shape:
            return self.expand(changes["shape"])
        specs = self._specs
        if "device" in changes:
            specs = [spec.to(changes["device"]) for spec in specs]
        if "dtype" in changes:
            specs = [spec.to(changes["dtype"]) for spec in specs]
        return type(self)(*(spec.clone() for spec in specs), dim=self.dim)

    def _same_domain(self, other: TensorSpec) -> bool:
        return self.dim == other.dim and len(self._specs) == len(other._specs) and all(
            mine == theirs for mine, theirs in zip(self._specs, other._specs))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.shape == other.shape and self.device == other.device and self._same_domain(other)

    __hash__ = None

    def _stack_dim_of(self, batch: torch.Size) -> int:
        return len(batch) + self.dim

    def _stack_dim_in_value(self, value: Any) -> int:
        return value.ndim - self.ndim + self.dim

    def __repr__(self) -> str:
        inner = ",\n".join("    " + repr(spec).replace("\n", "\n    ") for spec in self._specs)
        return f"{type(self).__name__}(\n{inner},\n    dim={self.dim}, shape={tuple(self.shape)}, device={self.device})"


class Stacked(_LazyStack):
    """A lazy stack of leaf specs of one class (``torch.stack`` of specs that differ).

    torchrl: "A lazy representation of a stack of tensor specs." Each element answers for its
    slice of the stack dim: `is_in`, `project`, `rand`, `zero` and `one` go element by element.
    Values are single tensors, so elements of different shapes cannot be drawn or checked
    together (torchrl: "rand/zero may fail"): `rand` then raises, and `spec[i]` gives the
    element. `project`, which torchrl does not implement, projects each slice.

    >>> import torch
    >>> from rldsl.specs import Bounded
    >>> stack = torch.stack([Bounded(0.0, 1.0, shape=(2,)), Bounded(-5.0, 5.0, shape=(2,))])
    >>> stack.project(torch.tensor([[3.0, -3.0], [3.0, -3.0]]))
    tensor([[ 1.,  0.],
            [ 3., -3.]])
    """

    def __init__(self, *specs: TensorSpec, dim: int = 0) -> None:
        super().__init__(*specs, dim=dim)
        dtypes = {spec.dtype for spec in self._specs}
        if len(dtypes) != 1:
            raise ValueError(f"the stacked specs must share a dtype, got {sorted(map(str, dtypes))}")
        self.dtype = self._specs[0].dtype
        self._set_shape(self.shape)

    def _require_homogeneous(self, action: str) -> None:
        if self.heterogeneous:
            raise RuntimeError(f"Stacked.{action}: the stacked specs have different shapes "
                               f"{[tuple(s.shape) for s in self._specs]}, so their values make no single tensor; "
                               f"use spec[i].{action}() for each element")

    def _slices(self, value: Any) -> tuple[Any, ...] | None:
        """The value's slices along the stack dim: a tensor's, or non-tensor data's (a stack of
        `NonTensor` specs holds `NonTensorData`/`NonTensorStack` values)."""
        if not (isinstance(value, torch.Tensor) or is_non_tensor(value)) or value.ndim < self.ndim:
            return None
        dim = self._stack_dim_in_value(value)
        if value.shape[dim] != len(self._specs):
            return None
        return value.unbind(dim)

    def is_in(self, value: Any) -> bool:
        """True when each slice along the stack dim is in its element spec."""
        slices = self._slices(value)
        return slices is not None and all(spec.is_in(part) for spec, part in zip(self._specs, slices))

    def project(self, value: Any) -> torch.Tensor:
        """Each slice along the stack dim projected into its element spec."""
        self._require_homogeneous("project")
        slices = self._slices(value)
        if slices is None:
            raise ValueError(f"Stacked.project: a value of shape {tuple(getattr(value, 'shape', ()))} does not end "
                             f"with the stack's shape {tuple(self.shape)}")
        parts = [spec.project(part) for spec, part in zip(self._specs, slices)]
        return torch.stack(parts, self._stack_dim_in_value(value))

    def rand(self, shape: Any = ()) -> torch.Tensor:
        return self._draw("rand", shape)

    def zero(self, shape: Any = ()) -> torch.Tensor:
        return self._draw("zero", shape)

    def one(self, shape: Any = ()) -> torch.Tensor:
        return self._draw("one", shape)

    zeros = zero
    ones = one

    def _draw(self, action: str, shape: Any) -> torch.Tensor:
        self._require_homogeneous(action)
        batch = batch_dims(shape)
        return torch.stack([getattr(spec, action)(batch) for spec in self._specs], self._stack_dim_of(batch))

    def encode(self, value: Any) -> torch.Tensor:
        """Each slice encoded by its element spec (elements of one shape only)."""
        self._require_homogeneous("encode")
        tensor = torch.as_tensor(value)
        dim = tensor.ndim - self.ndim + self.dim
        return torch.stack([spec.encode(part) for spec, part in zip(self._specs, tensor.unbind(dim))], dim)


class StackedComposite(_LazyStack):
    """A lazy stack of `Composite` specs that differ (``torch.stack`` of composites).

    torchrl: "When random samples are drawn, a LazyStackedTensorDict is returned. Indexing is
    allowed but only along the stack dimension." A string key gives the stack of that entry
    over the elements. Unlike torchrl's class this one is not a `Composite` subclass.
    """

    dtype = None

    def __init__(self, *specs: Composite, dim: int = 0) -> None:
        super().__init__(*specs, dim=dim)
        if not all(isinstance(spec, Composite) for spec in self._specs):
            raise TypeError("StackedComposite stacks Composite specs only")

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, str) or (isinstance(index, tuple) and index and all(isinstance(k, str) for k in index)):
            entries = [spec[index] for spec in self._specs]
            if any(entry is None for entry in entries):
                return None
            return stack_specs(entries, self.dim)
        return super().__getitem__(index)

    def keys(self, include_nested: bool = False, leaves_only: bool = False) -> list[Any]:
        """The keys every element has, in the first element's order."""
        common = [set(spec.keys(include_nested, leaves_only)) for spec in self._specs[1:]]
        return [key for key in self._specs[0].keys(include_nested, leaves_only) if all(key in keys for keys in common)]

    def __contains__(self, key: Any) -> bool:
        return all(key in spec for spec in self._specs)

    @staticmethod
    def _stack_values(values: list[Any], dim: int) -> Any:
        return LazyStackedTensorDict.maybe_dense_stack(values, dim)

    def _slices(self, value: Any) -> tuple[TensorDictBase, ...] | None:
        if not isinstance(value, TensorDictBase) or value.batch_dims < self.ndim:
            return None
        dim = value.batch_dims - self.ndim + self.dim
        if value.batch_size[dim] != len(self._specs):
            return None
        return value.unbind(dim)

    def is_in(self, value: Any) -> bool:
        """True when each TensorDict along the stack dim is in its element composite."""
        slices = self._slices(value)
        return slices is not None and all(spec.is_in(part) for spec, part in zip(self._specs, slices))

    def project(self, value: Any) -> LazyStackedTensorDict:
        """Each TensorDict along the stack dim projected by its element composite (a lazy stack)."""
        slices = self._slices(value)
        if slices is None:
            raise ValueError("StackedComposite.project expects a TensorDict batched like the stack")
        dim = value.batch_dims - self.ndim + self.dim
        return LazyStackedTensorDict(*(spec.project(part) for spec, part in zip(self._specs, slices)), stack_dim=dim)

    def rand(self, shape: Any = ()) -> LazyStackedTensorDict:
        return self._draw("rand", shape)

    def zero(self, shape: Any = ()) -> LazyStackedTensorDict:
        return self._draw("zero", shape)

    def one(self, shape: Any = ()) -> LazyStackedTensorDict:
        return self._draw("one", shape)

    zeros = zero
    ones = one

    def _draw(self, action: str, shape: Any) -> LazyStackedTensorDict:
        batch = batch_dims(shape)
        parts = [getattr(spec, action)(batch) for spec in self._specs]
        return LazyStackedTensorDict(*parts, stack_dim=self._stack_dim_of(batch))
