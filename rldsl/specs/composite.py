"""`Composite`: a spec for a whole TensorDict, one spec per (possibly nested) key.

A composite has a batch `shape` that every entry's shape starts with. Entries may be
`None` (a key whose spec is unknown: it is kept but never checked or projected). Nested
dicts and tuple keys create nested composites.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Union

import torch
from tensordict import TensorDict, TensorDictBase

from rldsl.specs._base import TensorSpec, as_device, as_shape, expanded_shape, indexed_shape

NestedKey = Union[str, tuple[str, ...]]
_RESERVED = frozenset({"shape", "device", "dtype", "space"})


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
        self.shape = as_shape(shape if shape is not None else ())
        self.device = None if device is None else as_device(device)
        self._specs: dict[str, TensorSpec | None] = {}
        for key, spec in {**(dict(specs) if specs is not None else {}), **kwargs}.items():
            self[key] = spec

    # --- the mapping ------------------------------------------------------------------------
    @property
    def dtype(self) -> None:
        """A composite has no single dtype."""
        return None

    def __setitem__(self, key: NestedKey, spec: Any) -> None:
        parts = as_key(key)
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
            raise KeyError(f"{name!r} cannot be a spec key: it is an attribute of every spec; rename the entry")
        if isinstance(spec, Mapping) and not isinstance(spec, TensorSpec):
            spec = Composite(spec, shape=self.shape, device=self.device)
        if spec is not None and not isinstance(spec, TensorSpec):
            raise TypeError(f"entry {name!r} must be a spec or None, got {type(spec).__name__}")
        if spec is not None:
            self._check_entry(name, spec)
        self._specs[name] = spec

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

    def keys(self, include_nested: bool = False, leaves_only: bool = False) -> list[NestedKey]:
        """Entry names; nested ones as tuples with `include_nested` (like TensorDict.keys)."""
        return [key for key, _ in self.items(include_nested, leaves_only)]

    def values(self, include_nested: bool = False, leaves_only: bool = False) -> list[Any]:
        """Entry specs, in the order of `keys`."""
        return [spec for _, spec in self.items(include_nested, leaves_only)]

    def items(self, include_nested: bool = False, leaves_only: bool = False) -> list[tuple[NestedKey, Any]]:
        """``(key, spec)`` pairs; `None` entries count as leaves."""
        result = []
        for name, spec in self._specs.items():
            nested = isinstance(spec, Composite)
            if not (leaves_only and nested):
                result.append((name, spec))
            if include_nested and nested:
                for sub_key, sub_spec in spec.items(True, leaves_only):
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
        batch = as_shape(shape)
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

    def clone(self) -> "Composite":
        entries = {name: None if spec is None else spec.clone() for name, spec in self._specs.items()}
        return Composite(entries, shape=self.shape, device=self.device)

    def _rebuild(self, **changes: Any) -> "Composite":
        return self.clone()

    def update(self, other: Mapping[str, Any]) -> None:
        """Set every entry of `other` (a Composite or a dict of specs) in this one."""
        for name in other:
            self[name] = other[name]

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


def _cast_entry(spec: TensorSpec | None, dtype: torch.dtype) -> TensorSpec | None:
    if spec is None:
        return None
    if isinstance(spec, Composite) or (spec.dtype is not None and spec.dtype.is_floating_point):
        return spec.to(dtype)
    return spec


def _indent(text: str) -> str:
    return text.replace("\n", "\n    ")
