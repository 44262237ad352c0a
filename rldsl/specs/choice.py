"""`Choice`: a spec whose values come from one of several specs, picked at random by `rand`.

As torchrl 0.14's `Choice` ("a discrete choice spec for either tensor or non-tensor data"):
every choice has the same class, shape, dtype and device, and `rand` picks one choice
uniformly with torch's random generator (so ``torch.manual_seed`` reproduces it) and returns
that choice's `rand`. Choices of non-tensor data (`NonTensor` specs, or `NonTensorData` values,
which are held as `NonTensor` specs with that data as `example_data`) draw one of several fixed
Python values, such as prompts or task names.

>>> import torch
>>> from tensordict import NonTensorData
>>> _ = torch.manual_seed(0)
>>> spec = Choice([NonTensorData(task) for task in ["reach", "push", "pick", "place"]])
>>> spec.rand().data, spec.rand().data
('reach', 'place')
>>> spec.is_in("push"), spec.is_in("throw")
(True, False)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from tensordict import NonTensorData, NonTensorStack, is_non_tensor

from rldsl.specs._base import SpecUndefinedError, TensorSpec, as_device, check_enumerable
from rldsl.specs.nontensor import NonTensor, same_data


def data_items(value: Any) -> list[Any] | None:
    """The Python objects a non-tensor value holds: one for `NonTensorData` or a plain object,
    every element for a `NonTensorStack`; None for a tensor or a TensorDict (no non-tensor data)."""
    if isinstance(value, NonTensorStack):
        return [item for part in value.tensordicts for item in (data_items(part) or [None])]
    if is_non_tensor(value):
        return [value.data]
    if isinstance(value, torch.Tensor) or hasattr(value, "batch_size"):
        return None
    return [value]


def as_choice(choice: Any, position: int) -> TensorSpec:
    """A choice as a spec: a spec as it is, `NonTensorData` as a `NonTensor` spec holding its data."""
    if isinstance(choice, TensorSpec):
        return choice
    if isinstance(choice, NonTensorStack):
        raise TypeError(f"choice {position} is a NonTensorStack; pass one NonTensorData (or NonTensor spec) "
                        f"per choice instead")
    if is_non_tensor(choice):
        return NonTensor(shape=choice.batch_size, device=choice.device, example_data=choice.data)
    raise TypeError(f"choice {position} must be a spec or a tensordict.NonTensorData, got {type(choice).__name__}; "
                    f"wrap Python values as NonTensorData(value) or NonTensor(example_data=value)")


class Choice(TensorSpec):
    """One of several specs of the same class, shape, dtype and device, chosen at random.

    `rand(shape)` picks one choice (one for the whole batch, as torchrl's) and returns its
    `rand(shape)`; `zero` uses the first choice and `one` the second (the first when there is
    only one), as torchrl does. `is_in` is True when the value is in one of the choices; for
    non-tensor choices, when the value's data equals one of their `example_data` (torchrl's
    `NonTensor.is_in` would accept any data). `project` returns a member unchanged and raises
    `SpecUndefinedError` otherwise: there is no nearest choice. Shape operations (`expand`,
    `unsqueeze`, `squeeze`, `reshape`, indexing, `unbind`, `to`, `clone`) apply to every choice.

    `choices` is a list of specs, or of `NonTensorData` (each held as a `NonTensor` spec with
    its data); the choices are copied, so later changes to them do not reach the `Choice`.
    `device`, when given, moves every choice there.

    >>> from rldsl.specs import Bounded
    >>> spec = Choice([Bounded(0.0, 1.0, shape=(1,)), Bounded(10.0, 11.0, shape=(1,))])
    >>> spec.shape, spec.num_choices
    (torch.Size([1]), 2)
    >>> spec.rand((4,)).shape
    torch.Size([4, 1])
    >>> spec.is_in(torch.tensor([10.5])), spec.is_in(torch.tensor([5.0]))
    (True, False)
    """

    def __init__(self, choices: Sequence[Any], device: Any = None) -> None:
        if isinstance(choices, (str, bytes, Mapping, TensorSpec)) or not isinstance(choices, Sequence):
            raise TypeError(f"`choices` must be a list of specs, got {type(choices).__name__}; "
                            f"pass e.g. Choice([spec_a, spec_b])")
        if not choices:
            raise ValueError("`choices` must hold at least one spec to choose from")
        specs = [as_choice(choice, position) for position, choice in enumerate(choices)]
        if device is not None:
            specs = [spec.to(as_device(device)) for spec in specs]
        _check_alike(specs)
        self.choices: list[TensorSpec] = [spec.clone() for spec in specs]
        first = self.choices[0]
        self._set_shape(first.shape)
        self.dtype = first.dtype
        self.device = first.device
        self.domain = first.domain
        self.event_last = first.event_last

    @property
    def num_choices(self) -> int:
        """How many choices `rand` picks from."""
        return len(self.choices)

    @property
    def _holds_data(self) -> bool:
        """True when the choices are `NonTensor` specs: members are then their `example_data`."""
        return isinstance(self.choices[0], NonTensor)

    # --- membership and projection ---------------------------------------------------------
    def is_in(self, value: Any) -> bool:
        """True when `value` is in one of the choices (non-tensor data: equals one's example)."""
        if not self._holds_data:
            return any(choice.is_in(value) for choice in self.choices)
        items = data_items(value)
        if items is None or not self.choices[0].is_in(value):
            return False
        return all(any(same_data(item, choice.example_data) for choice in self.choices) for item in items)

    def project(self, value: Any) -> Any:
        """A member unchanged; anything else has no nearest choice (`SpecUndefinedError`, also a
        `NotImplementedError` as torchrl's)."""
        if self.is_in(value):
            return value
        raise SpecUndefinedError(f"Choice.project: the value is in none of the {self.num_choices} choices, and "
                                  f"a Choice has no nearest member to project it onto")

    # --- values --------------------------------------------------------------------------------
    def rand(self, shape: Any = ()) -> Any:
        """The `rand` of one choice picked uniformly (one pick for the whole batch)."""
        picked = int(torch.randint(self.num_choices, ()).item())
        return self.choices[picked].rand(shape)

    def zero(self, shape: Any = ()) -> Any:
        """The first choice's `zero`."""
        return self.choices[0].zero(shape)

    def one(self, shape: Any = ()) -> Any:
        """The second choice's `one` (the first's when there is only one), as torchrl picks it."""
        return self.choices[min(1, self.num_choices - 1)].one(shape)

    zeros = zero
    ones = one

    def encode(self, value: Any) -> Any:
        """`value` encoded as the choices encode it (they share class, shape and dtype)."""
        return self.choices[0].encode(value)

    def type_check(self, value: Any, key: Any = None) -> None:
        """The choices' dtype check (they share one dtype)."""
        self.choices[0].type_check(value, key)

    # --- counting, listing and indexing outcomes -------------------------------------------------
    def cardinality(self) -> int | float:
        """The number of choices for non-tensor data, else the sum of the choices' cardinalities
        (as torchrl's `Choice.cardinality`; outcomes two choices share are counted twice)."""
        if self._holds_data:
            return self.num_choices
        return sum(choice.cardinality() for choice in self.choices)

    def enumerate(self, use_mask: bool = False) -> Any:
        """Every choice's outcomes, choice after choice, stacked along a new first dim: a tensor (a
        TensorDict for composites), or a `NonTensorStack` of the choices' data for non-tensor
        choices. torchrl returns a Python list of the same outcomes; a stacked value also fits
        a `Composite`'s enumeration.

        >>> from rldsl.specs import Categorical
        >>> Choice([Categorical(2), Categorical(3)]).enumerate()
        tensor([0, 1, 0, 1, 2])
        """
        check_enumerable(self.cardinality(), "Choice")
        if self._holds_data:
            return torch.stack([choice.rand() for choice in self.choices])
        return torch.cat([choice.enumerate(use_mask) for choice in self.choices])

    def index(self, index: Any, tensor_to_index: Any) -> Any:
        """Not defined (torchrl: "index is not implemented for Choice")."""
        raise SpecUndefinedError("Choice.index is not defined: index with the chosen spec (spec.choices[i]) instead")

    # --- spec algebra: every choice transformed alike ------------------------------------------
    def _each(self, transform: Any) -> "Choice":
        return Choice([transform(choice) for choice in self.choices])

    def expand(self, *shape: Any) -> "Choice":
        return self._each(lambda choice: choice.expand(*shape))

    def unsqueeze(self, dim: int) -> "Choice":
        return self._each(lambda choice: choice.unsqueeze(dim))

    def squeeze(self, dim: int | None = None) -> "Choice":
        return self._each(lambda choice: choice.squeeze(dim))

    def reshape(self, *shape: Any) -> "Choice":
        return self._each(lambda choice: choice.reshape(*shape))

    view = reshape

    def __getitem__(self, index: Any) -> "Choice":
        return self._each(lambda choice: choice[index])

    def unbind(self, dim: int = 0) -> tuple["Choice", ...]:
        """One `Choice` per index along `dim`, of the choices' slices there."""
        slices = [choice.unbind(dim) for choice in self.choices]
        return tuple(Choice(list(parts)) for parts in zip(*slices))

    def to(self, dest: Any) -> "Choice":
        return self._each(lambda choice: choice.to(dest))

    def clone(self) -> "Choice":
        return self._each(lambda choice: choice.clone())

    def _rebuild(self, **changes: Any) -> "Choice":
        """A copy with the device, dtype and/or shape changed in every choice (a new shape lays
        the same elements out differently, as `reshape`)."""
        result = self
        if "device" in changes:
            result = result.to(changes["device"])
        if "dtype" in changes:
            result = result.to(changes["dtype"])
        if "shape" in changes and changes["shape"] != self.shape:
            result = result.reshape(changes["shape"])
        return result.clone() if result is self else result

    def _same_domain(self, other: TensorSpec) -> bool:
        return self.num_choices == other.num_choices and all(
            mine == theirs for mine, theirs in zip(self.choices, other.choices))

    def __eq__(self, other: object) -> bool:
        """Equal when the choices are equal in order (non-tensor choices: their example data too)."""
        if type(other) is not type(self):
            return NotImplemented
        return self._same_domain(other)

    __hash__ = None

    def __repr__(self) -> str:
        inner = "".join(f"    {_indent(repr(choice))},\n" for choice in self.choices)
        return f"Choice(\n{inner}    {self._common_repr()})"


def _check_alike(specs: list[TensorSpec]) -> None:
    """Refuse choices that differ in class (TypeError) or in shape, dtype or device (ValueError)."""
    first = specs[0]
    for position, spec in enumerate(specs[1:], start=1):
        if type(spec) is not type(first):
            raise TypeError(f"every choice must be of one spec class: choice 0 is a {type(first).__name__}, "
                            f"choice {position} a {type(spec).__name__}")
        for attribute in ("shape", "dtype", "device"):
            mine, theirs = getattr(first, attribute), getattr(spec, attribute)
            if mine != theirs:
                shown = (tuple(mine), tuple(theirs)) if attribute == "shape" else (mine, theirs)
                raise ValueError(f"every choice must have the same {attribute}: choice 0 has {shown[0]}, "
                                 f"choice {position} has {shown[1]}")


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")
