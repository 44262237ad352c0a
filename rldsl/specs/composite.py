"""`Composite`: a spec for a whole TensorDict, one spec per (possibly nested) key.

A composite has a batch `shape` that every entry's shape starts with. Entries may be
`None` (a key whose spec is unknown: it is kept but never checked or projected). Nested
dicts and tuple keys create nested composites. A nested `Composite` or `NonTensor` whose
shape is a shorter prefix of the batch shape takes the batch shape (on a copy), as in torchrl.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Union

import torch
from tensordict import TensorDict, TensorDictBase

from rldsl.specs._base import (
    SpecKeyError,
    SpecUndefinedError,
    TensorSpec,
    as_device,
    as_shape,
    batch_dims,
    check_enumerable,
    expanded_shape,
    indexed_shape,
    squeezed_shape,
    unsqueezed_shape,
)
from rldsl.specs.nontensor import NonTensor

NestedKey = Union[str, tuple[str, ...]]
_RESERVED = frozenset({"shape", "device", "dtype", "space"})


def is_composite_class(cls: type) -> bool:
    """The default `is_leaf` of `Composite.keys`: every class but `Composite` is a leaf."""
    return not issubclass(cls, Composite)


def as_key(key: Any) -> tuple[str, ...]:
    """A nested key as a non-empty tuple of strings (``"a"`` -> ``("a",)``)."""
    parts = (key,) if isinstance(key, str) else key
    if not isinstance(parts, tuple) or not parts or not all(isinstance(p, str) for p in parts):
        raise KeyError(f"a spec key must be a string or a non-empty tuple of strings, got {key!r}")
    return parts


class Composite(TensorSpec):
    """Specs of the entries of a TensorDict, keyed like it (nested keys are nested composites).

    `shape` is the batch shape shared by all entries (every entry's shape starts with it).
    `is_in`, `project`, `rand`, `zero` and `encode` work entry by entry; `project` returns a
    new TensorDict (the input is not modified) with every checked entry projected.

    >>> import torch
    >>> from rldsl.specs import Bounded, Unbounded, OneHot
    >>> spec = Composite(observation=Unbounded(3), agent={"action": OneHot(4)})
    >>> td = spec.rand((2,))
    >>> td["agent", "action"].shape
    torch.Size([2, 4])
    >>> spec.is_in(td)
    True
    """

    domain = "composite"

    def __init__(self, specs: Mapping[str, Any] | None = None, *, shape: Any = (), device: Any = None,
                 batch_size: Any = None, **kwargs: Any) -> None:
        if batch_size is not None:
            if shape not in ((), None):
                raise TypeError("Composite takes `shape` or its alias `batch_size`, not both")
            shape = batch_size
        self._specs: dict[str, TensorSpec | None] = {}
        self._locked = False
        self._shape = as_shape(shape if shape is not None else ())
        self.device = None if device is None else as_device(device)
        for key, spec in {**(dict(specs) if specs is not None else {}), **kwargs}.items():
            self[key] = spec

    # --- shape, device and locking ------------------------------------------------------------
    @property
    def shape(self) -> torch.Size:
        """The batch shape every entry's shape starts with."""
        return self._shape

    @shape.setter
    def shape(self, value: Any) -> None:
        """Set the batch shape; nested composites follow, a leaf that cannot take it is refused.

        torchrl 0.14 refuses the new shape with a `ValueError` when a leaf's shape does not
        start with it, sets it on nested composites, and refuses any change to a locked spec
        (`RuntimeError`). Nothing is changed when the shape is refused. A `NonTensor` entry
        whose shape is a shorter prefix of the new shape is replaced by a copy with the new
        shape, as when such an entry is set (torchrl's setter refuses it instead).
        """
        new = as_shape(value)
        self._require_unlocked("set the shape of")
        self._check_shape_fits(new)
        self._apply_shape(new)

    def _check_shape_fits(self, new: torch.Size) -> None:
        for name, spec in self._specs.items():
            if isinstance(spec, Composite):
                if spec.shape[: len(new)] != new:
                    spec._require_unlocked("set the shape of")
                    spec._check_shape_fits(new)
            elif spec is not None and spec.shape[: len(new)] != new and not _takes_batch_shape(spec, new):
                raise ValueError(
                    f"cannot set the Composite's shape to {tuple(new)}: entry {name!r} has shape "
                    f"{tuple(spec.shape)}, which does not start with it"
                )

    def _apply_shape(self, new: torch.Size) -> None:
        for name, spec in self._specs.items():
            if isinstance(spec, Composite) and spec.shape[: len(new)] != new:
                spec._apply_shape(new)
            elif isinstance(spec, NonTensor) and _takes_batch_shape(spec, new):
                self._specs[name] = spec._rebuild(shape=new)  # a new NonTensor: the old one may be shared
        self._shape = new

    @property
    def is_locked(self) -> bool:
        """True after `lock_`: entries cannot be set, deleted or updated, nor the shape changed."""
        return self._locked

    def lock_(self, recurse: bool | None = None) -> "Composite":
        """Lock the spec (and, unless ``recurse=False``, its nested composites); returns it.

        A locked spec raises `RuntimeError` on `__setitem__`, `__delitem__`, `update` and a
        shape change, as torchrl's; `clone` gives an unlocked copy.
        """
        self._locked = True
        if recurse is None or recurse:
            for spec in self._specs.values():
                if isinstance(spec, Composite):
                    spec.lock_(recurse=True)
        return self

    def unlock_(self, recurse: bool | None = None) -> "Composite":
        """Unlock the spec (and, unless ``recurse=False``, its nested composites); returns it."""
        self._locked = False
        if recurse is None or recurse:
            for spec in self._specs.values():
                if isinstance(spec, Composite):
                    spec.unlock_(recurse=True)
        return self

    def _require_unlocked(self, action: str) -> None:
        if self._locked:
            raise RuntimeError(f"cannot {action} a locked Composite; call spec.unlock_() first")

    def clear_device_(self) -> "Composite":
        """Erase the device of this composite and of its nested composites (leaves keep theirs)."""
        self.device = None
        for spec in self._specs.values():
            if spec is not None:
                spec.clear_device_()
        return self

    def is_empty(self, recurse: bool | None = None) -> bool:
        """True without entries; with ``recurse=True``, True when no leaf sits anywhere below.

        As torchrl's: "If True, will return True if there are no leaves. If False (default)
        will return whether there is any spec defined at the root level."
        """
        if not recurse:
            return not self._specs
        return all(isinstance(spec, Composite) and spec.is_empty(recurse=True) for spec in self._specs.values())

    def empty(self) -> "Composite":
        """A composite like this one (shape, device) with no entries."""
        return Composite(shape=self.shape, device=self.device)

    # --- the mapping ------------------------------------------------------------------------
    @property
    def dtype(self) -> None:
        """A composite has no single dtype."""
        return None

    def __setitem__(self, key: NestedKey, spec: Any) -> None:
        parts = as_key(key)
        self._require_unlocked("set an entry of")
        if len(parts) > 1:
            child = self._specs.get(parts[0])
            if child is None:
                child = Composite(shape=self.shape, device=self.device)
                self._set_entry(parts[0], child)
            elif not isinstance(child, Composite):
                raise KeyError(f"cannot set {key!r}: {parts[0]!r} holds a {type(child).__name__}, not a Composite")
            child[parts[1:]] = spec
            return
        self._set_entry(parts[0], spec)

    def _set_entry(self, name: str, spec: Any) -> None:
        if name in _RESERVED:
            raise SpecKeyError(f"{name!r} cannot be a spec key: it is an attribute of every spec; rename the entry")
        if isinstance(spec, Mapping) and not isinstance(spec, TensorSpec):
            spec = Composite(spec, shape=self.shape, device=self.device)
        if isinstance(spec, Composite):
            spec = self._adopt(spec)
        if isinstance(spec, (Composite, NonTensor)) and _takes_batch_shape(spec, self.shape):
            spec = self._widen(name, spec)
        if spec is not None and not isinstance(spec, TensorSpec):
            raise TypeError(f"entry {name!r} must be a spec or None, got {type(spec).__name__}")
        if spec is not None:
            self._check_entry(name, spec)
        self._specs[name] = spec

    def _adopt(self, child: "Composite") -> "Composite":
        """A nested composite without a device gets a copy on this one's device, as in torchrl."""
        if self.device is not None and child.device is None:
            child = child.to(self.device)
        return child

    def _widen(self, name: str, child: "Composite | NonTensor") -> "Composite | NonTensor":
        """A copy of a nested `Composite`/`NonTensor` whose shape is a shorter prefix of this
        batch shape, with this batch shape set, as torchrl's `Composite` does ("nested
        Composite/NonTensor with shorter shape get their shape set").

        The user's spec is not changed: the entry holds the copy. A `NonTensor` gets exactly
        the batch shape; a `Composite` whose entries do not start with it is refused
        (`ValueError`), as its `shape` setter refuses it.
        """
        if isinstance(child, NonTensor):
            return child._rebuild(shape=self.shape)
        copy = child.clone()
        try:
            copy.shape = self.shape
        except ValueError as err:
            raise ValueError(f"entry {name!r} (a Composite of batch shape {tuple(child.shape)}) cannot take the "
                             f"batch shape {tuple(self.shape)}: {err}") from None
        return copy

    def _check_entry(self, name: str, spec: TensorSpec) -> None:
        if spec.shape[: self.ndim] != self.shape:
            raise ValueError(
                f"entry {name!r} has shape {tuple(spec.shape)}, which does not start with the composite's "
                f"batch shape {tuple(self.shape)}; expand it with spec.expand({', '.join(map(str, self.shape))}, ...)"
            )
        if self.device is not None and spec.device is not None and spec.device != self.device:
            raise ValueError(
                f"entry {name!r} is on {spec.device} but the composite is on {self.device}; use spec.to({str(self.device)!r})"
            )

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, (str, tuple)) and key and all(isinstance(k, str) for k in (key if isinstance(key, tuple) else (key,))):
            return self._lookup(as_key(key))
        return self._index(key)

    def _lookup(self, parts: tuple[str, ...]) -> TensorSpec | None:
        node: Any = self
        for depth, part in enumerate(parts):
            if not isinstance(node, Composite) or part not in node._specs:
                known = ", ".join(repr(k) for k in (node._specs if isinstance(node, Composite) else ()))
                raise KeyError(f"no entry {parts[: depth + 1]!r} in this Composite (entries: {known or 'none'})")
            node = node._specs[part]
        return node

    def get(self, key: NestedKey, default: Any = None) -> Any:
        """The entry at `key`, or `default` when absent."""
        try:
            return self._lookup(as_key(key))
        except KeyError:
            return default

    def __delitem__(self, key: NestedKey) -> None:
        parts = as_key(key)
        self._require_unlocked("delete an entry of")
        parent = self._lookup(parts[:-1]) if len(parts) > 1 else self
        if not isinstance(parent, Composite) or parts[-1] not in parent._specs:
            raise KeyError(f"no entry {key!r} to delete")
        del parent._specs[parts[-1]]

    def __contains__(self, key: Any) -> bool:
        try:
            self._lookup(as_key(key))
        except KeyError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def keys(self, include_nested: bool = False, leaves_only: bool = False, *,
             is_leaf: Callable[[type], bool] | None = None) -> list[NestedKey]:
        """Entry names; nested ones as tuples with `include_nested` (like TensorDict.keys).

        `is_leaf` takes an entry's class and says whether it is a leaf (default: every class
        but `Composite`); `leaves_only` keeps the leaves, `include_nested` descends into the rest.
        """
        return [key for key, _ in self.items(include_nested, leaves_only, is_leaf=is_leaf)]

    def values(self, include_nested: bool = False, leaves_only: bool = False, *,
               is_leaf: Callable[[type], bool] | None = None) -> list[Any]:
        """Entry specs, in the order of `keys`."""
        return [spec for _, spec in self.items(include_nested, leaves_only, is_leaf=is_leaf)]

    def items(self, include_nested: bool = False, leaves_only: bool = False, *,
              is_leaf: Callable[[type], bool] | None = None) -> list[tuple[NestedKey, Any]]:
        """``(key, spec)`` pairs; `None` entries count as leaves."""
        is_leaf = is_composite_class if is_leaf is None else is_leaf
        result = []
        for name, spec in self._specs.items():
            leaf = is_leaf(type(spec))
            if leaf or not leaves_only:
                result.append((name, spec))
            if include_nested and not leaf and isinstance(spec, Composite):
                for sub_key, sub_spec in spec.items(True, leaves_only, is_leaf=is_leaf):
                    result.append(((name, *as_key(sub_key)), sub_spec))
        return result

    def leaves(self) -> list[tuple[tuple[str, ...], TensorSpec]]:
        """Every non-None leaf spec with its full key as a tuple."""
        return [(as_key(key), spec) for key, spec in self.items(True, True) if spec is not None]

    # --- membership and projection --------------------------------------------------------
    def is_in(self, value: Any) -> bool:
        """True when every checked entry is present in `value` and in its spec."""
        if not isinstance(value, TensorDictBase):
            return False
        for key, spec in self.leaves():
            entry = value.get(key, None)
            if entry is None or not spec.is_in(entry):
                return False
        return True

    def project(self, value: Any) -> TensorDictBase:
        """A shallow copy of `value` with every checked entry projected into its spec."""
        if not isinstance(value, TensorDictBase):
            raise TypeError(f"Composite.project expects a TensorDict, got {type(value).__name__}")
        result = value.copy()
        for key, spec in self.leaves():
            entry = value.get(key, None)
            if entry is None:
                raise KeyError(f"Composite.project: the TensorDict has no entry {key!r} to project")
            result.set(key, spec.project(entry))
        return result

    # --- values ---------------------------------------------------------------------------
    def rand(self, shape: Any = ()) -> TensorDict:
        """A TensorDict of random members, batch size ``(*shape, *self.shape)``."""
        return self._fill(shape, lambda spec, batch: spec.rand(batch))

    def zero(self, shape: Any = ()) -> TensorDict:
        """A TensorDict of zeros, batch size ``(*shape, *self.shape)``."""
        return self._fill(shape, lambda spec, batch: spec.zero(batch))

    def one(self, shape: Any = ()) -> TensorDict:
        """A TensorDict of ones, batch size ``(*shape, *self.shape)``."""
        return self._fill(shape, lambda spec, batch: spec.one(batch))

    zeros = zero
    ones = one

    def _fill(self, shape: Any, make: Any) -> TensorDict:
        batch = batch_dims(shape)
        entries = {name: make(spec, batch) for name, spec in self._specs.items() if spec is not None}
        return TensorDict(entries, batch_size=(*batch, *self.shape), device=self.device)

    def encode(self, value: Mapping[str, Any]) -> TensorDict:
        """A dict (or TensorDict) of array-likes to a TensorDict of this spec's entries."""
        if not isinstance(value, (Mapping, TensorDictBase)):
            raise TypeError(f"Composite.encode expects a dict, got {type(value).__name__}")
        entries = {}
        for name, item in value.items():
            if name not in self._specs:
                raise KeyError(f"Composite.encode: {name!r} is not an entry of this spec ({', '.join(self._specs)})")
            spec = self._specs[name]
            if spec is None:
                raise ValueError(f"Composite.encode: entry {name!r} has no spec (None), so it cannot be encoded")
            entries[name] = spec.encode(item)
        return TensorDict(entries, batch_size=self.shape, device=self.device)

    # --- counting, listing and indexing outcomes -------------------------------------------------
    def cardinality(self) -> int | float:
        """The product of the entries' cardinalities (torchrl: "the cardinality of a composite
        spec is the cartesian product of all possible outcomes"); `None` entries are skipped, and
        a composite without any spec has cardinality 0, as torchrl's."""
        specs = [spec for spec in self._specs.values() if spec is not None]
        if not specs:
            return 0
        return math.prod(spec.cardinality() for spec in specs)

    def enumerate(self, use_mask: bool = False) -> TensorDict:
        """Every combination of one outcome per entry (the first entry varies slowest): a
        TensorDict of batch size ``(count, *shape)``; `None` entries are left out.

        As in torchrl, each entry's outcomes fill the batch dims alike. A composite without any
        spec gives an empty TensorDict of batch size ``(0, *shape)`` (torchrl's has ``shape``).

        >>> from rldsl.specs import Categorical
        >>> Composite(a=Categorical(2), b=Categorical(3)).enumerate()["b"]
        tensor([0, 1, 2, 0, 1, 2])
        """
        outcomes = {name: spec.enumerate(use_mask) for name, spec in self._specs.items() if spec is not None}
        if not outcomes:
            return TensorDict({}, batch_size=(0, *self.shape), device=self.device)
        check_enumerable(math.prod(len(values) for values in outcomes.values()), "Composite")
        picks = torch.meshgrid(*(torch.arange(len(values)) for values in outcomes.values()), indexing="ij")
        entries = {name: values[pick.reshape(-1)] for (name, values), pick in zip(outcomes.items(), picks)}
        return TensorDict(entries, batch_size=(picks[0].numel(), *self.shape), device=self.device)

    def index(self, index: Any, tensor_to_index: Any) -> Any:
        """Not defined (torchrl: "`index` is not implemented for Composite specs.")."""
        raise SpecUndefinedError("Composite.index is not defined: index with an entry's spec (spec[key].index)")

    # --- spec algebra ---------------------------------------------------------------------
    def _index(self, index: Any) -> "Composite":
        shape = indexed_shape(self.shape, index, protected_last=False) if self.ndim else None
        if shape is None:
            raise IndexError("cannot index a Composite with an empty batch shape")
        entries = {name: None if spec is None else spec[index] for name, spec in self._specs.items()}
        return Composite(entries, shape=shape, device=self.device)

    def expand(self, *shape: Any) -> "Composite":
        """Add leading batch dims to the composite and to every entry."""
        new = expanded_shape(self.shape, shape)
        entries = {name: None if spec is None else spec.expand(*new, *spec.shape[self.ndim:])
                   for name, spec in self._specs.items()}
        return Composite(entries, shape=new, device=self.device)

    def to(self, dest: Any) -> "Composite":
        """Move every entry to a device, or cast the floating-point entries to a float dtype.

        Discrete entries keep their integer/bool dtypes under a float cast (they hold indices).
        """
        if isinstance(dest, torch.dtype):
            entries = {name: _cast_entry(spec, dest) for name, spec in self._specs.items()}
            return Composite(entries, shape=self.shape, device=self.device)
        device = as_device(dest)
        entries = {name: None if spec is None else spec.to(device) for name, spec in self._specs.items()}
        return Composite(entries, shape=self.shape, device=device)

    def unsqueeze(self, dim: int) -> "Composite":
        """A size-1 batch dim inserted at `dim` (among the batch dims), in every entry too."""
        new = unsqueezed_shape(self.shape, dim, protected_last=False)
        position = dim + self.ndim + 1 if dim < 0 else dim
        entries = {name: None if spec is None else spec.unsqueeze(position) for name, spec in self._specs.items()}
        return Composite(entries, shape=new, device=self.device)

    def squeeze(self, dim: int | None = None) -> "Composite":
        """The size-1 batch dims removed (or only `dim`), in every entry too."""
        if dim is None:
            result = self
            for position in reversed(range(self.ndim)):
                if self.shape[position] == 1:
                    result = result.squeeze(position)
            return result if result is not self else self.clone()
        new = squeezed_shape(self.shape, dim, protected_last=False)
        if new == self.shape:
            return self.clone()
        position = dim + self.ndim if dim < 0 else dim
        entries = {name: None if spec is None else spec.squeeze(position) for name, spec in self._specs.items()}
        return Composite(entries, shape=new, device=self.device)

    def reshape(self, *shape: Any) -> "Composite":
        """The batch dims laid out in another shape with as many elements, in every entry too."""
        if len(shape) == 1 and not isinstance(shape[0], int):
            shape = tuple(shape[0])
        try:
            new = torch.empty(self.shape, device="meta").reshape(shape).shape
        except (RuntimeError, TypeError) as err:
            raise ValueError(f"cannot reshape a Composite of batch shape {tuple(self.shape)} to {shape}: {err}") from None
        entries = {name: None if spec is None else spec.reshape(*new, *spec.shape[self.ndim:])
                   for name, spec in self._specs.items()}
        return Composite(entries, shape=new, device=self.device)

    view = reshape

    def clone(self) -> "Composite":
        """A copy with every entry cloned; locked specs give unlocked clones, as in torchrl."""
        entries = {name: None if spec is None else spec.clone() for name, spec in self._specs.items()}
        return Composite(entries, shape=self.shape, device=self.device)

    def _rebuild(self, **changes: Any) -> "Composite":
        return self.clone()

    def update(self, other: Mapping[str, Any]) -> "Composite":
        """Set every entry of `other` (a Composite or a dict of specs) in this one; returns it.

        Recursive, as torchrl's: where this spec already holds a nested `Composite`, that
        composite is updated with the new entry's entries instead of being replaced.
        """
        self._require_unlocked("update")
        for name in other:
            item = other[name]
            current = self._specs.get(name) if isinstance(name, str) else self.get(name)
            if isinstance(current, Composite) and isinstance(item, (Composite, Mapping)):
                current.update(item)
            else:
                self[name] = item
        return self

    def type_check(self, value: Any, selected_keys: Any = None) -> None:
        """Raise `TypeError` when an entry of `value` does not have its spec's dtype.

        `value` is a TensorDict (or a dict), or a tensor with `selected_keys` naming its
        entry, as in torchrl; `selected_keys` limits the check to those top-level keys.
        """
        if isinstance(value, torch.Tensor):
            if not isinstance(selected_keys, (str, tuple)):
                raise TypeError("Composite.type_check of a tensor needs `selected_keys`, the entry it belongs to")
            spec = self._lookup(as_key(selected_keys))
            if spec is not None:
                spec.type_check(value, selected_keys)
            return
        keys = None if selected_keys is None else {as_key(key)[0] for key in _as_key_list(selected_keys)}
        for name, spec in self._specs.items():
            if spec is None or (keys is not None and name not in keys):
                continue
            entry = value.get(name, None) if isinstance(value, (Mapping, TensorDictBase)) else None
            if entry is None:
                raise KeyError(f"Composite.type_check: the value has no entry {name!r}")
            spec.type_check(entry, name) if not isinstance(spec, Composite) else spec.type_check(entry)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Composite):
            return NotImplemented
        return self.shape == other.shape and self.device == other.device and self._specs == other._specs

    __hash__ = None

    def _same_domain(self, other: TensorSpec) -> bool:
        return self._specs == other._specs

    def __repr__(self) -> str:
        if not self._specs:
            return f"Composite(shape={tuple(self.shape)}, device={self.device})"
        lines = [f"    {name}: {_indent(repr(spec))}" for name, spec in self._specs.items()]
        return "Composite(\n" + ",\n".join(lines) + f",\n    shape={tuple(self.shape)}, device={self.device})"


def _takes_batch_shape(spec: TensorSpec, batch_shape: torch.Size) -> bool:
    """True for a nested `Composite`/`NonTensor` whose shape is a strict prefix of `batch_shape`:
    torchrl sets `batch_shape` on such an entry instead of refusing it."""
    return (isinstance(spec, (Composite, NonTensor)) and spec.ndim < len(batch_shape)
            and batch_shape[: spec.ndim] == spec.shape)


def _as_key_list(keys: Any) -> list[Any]:
    """`selected_keys` as a list: one key (a string or a tuple of strings) or a sequence of keys."""
    if isinstance(keys, str) or (isinstance(keys, tuple) and all(isinstance(k, str) for k in keys)):
        return [keys]
    if isinstance(keys, Sequence):
        return list(keys)
    raise TypeError(f"`selected_keys` must be a key or a list of keys, got {keys!r}")


def _cast_entry(spec: TensorSpec | None, dtype: torch.dtype) -> TensorSpec | None:
    if spec is None:
        return None
    if isinstance(spec, Composite) or (spec.dtype is not None and spec.dtype.is_floating_point):
        return spec.to(dtype)
    return spec


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")
