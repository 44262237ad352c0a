"""`TanhModule`: squash network outputs into a box with ``tanh``, for deterministic bounded policies."""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase, dispatch
from tensordict.utils import NestedKey

from rldsl._checks import require_bool
from rldsl.modules.tensordict_module.common import SpecOwner
from rldsl.specs import Bounded, Composite, TensorSpec
from rldsl.specs._base import has_values

__all__ = ["TanhModule"]


def _as_key_list(keys: Any, name: str) -> list:
    if isinstance(keys, (str, tuple)):
        return [keys]
    if isinstance(keys, (list, torch.Size)) or (hasattr(keys, "__iter__") and not isinstance(keys, dict)):
        return list(keys)
    raise TypeError(f"TanhModule `{name}` must be a key or a list of keys, got {type(keys).__name__}")


def buffer_stem(key: NestedKey) -> str:
    """The buffer-name stem of an out key: the key, or its parts joined by ``_`` (as torchrl)."""
    stem = key if isinstance(key, str) else "_".join(key)
    if "." in stem or not stem:
        raise ValueError(
            f"TanhModule out key {key!r} cannot name a buffer ({stem!r}: buffer names are non-empty "
            f"and have no '.'); rename the key"
        )
    return stem


def _spec_per_key(spec: Any, out_keys: list) -> list:
    """The leaf spec of each out key (`None` where there is none)."""
    if spec is None or (isinstance(spec, TensorSpec) and not isinstance(spec, Composite)):
        return [spec for _ in out_keys]
    if isinstance(spec, Composite):
        return [spec.get(key) for key in out_keys]
    raise TypeError(f"TanhModule `spec` must be an rldsl spec or None, got {type(spec).__name__}")


def _bound(value: Any, name: str, like_dtype: torch.dtype) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value.detach().clone().to(like_dtype if not value.is_floating_point() else value.dtype)
    try:
        return torch.as_tensor(value, dtype=like_dtype)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"TanhModule `{name}` must be a number, an array or a tensor, got {type(value).__name__}") from None


def _bounds_for(key: NestedKey, low: Any, high: Any, leaf: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """``(low, high)`` of one out key: the spec's box, or the given bounds, or ``(-1, 1)``."""
    if leaf is not None and not isinstance(leaf, Bounded):
        raise TypeError(
            f"TanhModule maps {key!r} onto a box, so its spec must be Bounded (or None), got "
            f"{type(leaf).__name__}"
        )
    dtype = leaf.dtype if leaf is not None else torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"TanhModule writes floating-point values, but the spec of {key!r} has dtype {dtype}")
    bounds = []
    for value, name, default, from_spec in ((low, "low", -1.0, getattr(leaf, "low", None)),
                                            (high, "high", 1.0, getattr(leaf, "high", None))):
        if value is None:
            bound = from_spec.clone() if from_spec is not None else torch.tensor(default, dtype=dtype)
        else:
            bound = _bound(value, name, dtype)
            if from_spec is not None and not _same_bound(bound, from_spec):
                raise ValueError(
                    f"The {'minimum' if name == 'low' else 'maximum'} value ({value}) provided to TanhModule "
                    f"does not match the spec's {name} ({from_spec.tolist()}) for {key!r}; pass one or the other"
                )
        bounds.append(bound)
    return _checked_box(key, *bounds)


def _same_bound(given: torch.Tensor, from_spec: torch.Tensor) -> bool:
    """Whether a bound given as an argument equals the spec's (after broadcasting).

    Bounds without values (``meta`` tensors) cannot be compared: only their shapes are checked.
    """
    try:
        if not has_values(given, from_spec):
            return given.expand_as(from_spec).shape == from_spec.shape
        return torch.equal(given.to(from_spec.dtype).expand_as(from_spec), from_spec)
    except RuntimeError:
        return False


def _checked_box(key: NestedKey, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    try:
        torch.broadcast_shapes(low.shape, high.shape)
    except RuntimeError:
        raise ValueError(f"TanhModule low {tuple(low.shape)} and high {tuple(high.shape)} of {key!r} do not broadcast") from None
    if not has_values(low, high):  # a "meta" box has no values to check
        return low, high
    if not (torch.isfinite(low).all() and torch.isfinite(high).all()):
        raise ValueError(
            f"TanhModule needs finite bounds for {key!r} (tanh cannot reach an infinite bound); "
            f"got low={low.tolist()}, high={high.tolist()}"
        )
    if (high < low).any():
        raise ValueError(f"Got high < low in TanhModule for {key!r}: low={low.tolist()}, high={high.tolist()}")
    return low, high


class TanhModule(SpecOwner, TensorDictModuleBase):
    """Map each input through ``tanh`` onto its box ``[low, high]`` (an in-spec deterministic action).

    ``y = mid + half * tanh(x)`` with ``mid = (high + low) / 2`` and ``half = (high - low) / 2``,
    then clamped to ``[low, high]`` so that rounding never leaves the box; with the default
    ``±1`` bounds this is ``tanh(x)`` exactly. ``clamp=True`` first keeps ``tanh`` at least
    ``finfo(dtype).resolution`` away from ``±1`` (so that e.g. a TanhNormal log-prob of the
    output stays finite).

    Bounds per out key: the spec's box (a `Bounded` leaf), else ``low``/``high``, else
    ``-1``/``1``; ``low``/``high`` given together with a spec must equal the spec's. They
    are buffers named ``<key>_low`` and ``<key>_high`` (nested keys joined by ``_``), read at
    every call.

    Args:
        in_keys: keys of the unbounded inputs.
        out_keys: where the bounded values go; defaults to ``in_keys`` (same length).

    Keyword Args:
        spec: one spec for every out key, or a `Composite` keyed by out keys.
        low, high: bounds (numbers, arrays or tensors broadcasting to the values).
        clamp (bool): keep ``tanh`` strictly inside ``(-1, 1)``. Defaults to ``False``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> module = TanhModule(in_keys=["action"], low=-2.0, high=1.0)
    >>> td = module(TensorDict(action=torch.tensor([-100.0, 0.0, 100.0])))
    >>> td["action"]
    tensor([-2.0000, -0.5000,  1.0000])
    """

    def __init__(
        self,
        in_keys: NestedKey | list[NestedKey],
        out_keys: NestedKey | list[NestedKey] | None = None,
        *,
        spec: TensorSpec | None = None,
        low: Any = None,
        high: Any = None,
        clamp: bool = False,
    ) -> None:
        super().__init__()
        in_keys = _as_key_list(in_keys, "in_keys")
        out_keys = list(in_keys) if out_keys is None else _as_key_list(out_keys, "out_keys")
        if len(in_keys) != len(out_keys):
            raise ValueError(
                f"in_keys and out_keys should have the same length, got in_keys={in_keys} and out_keys={out_keys}"
            )
        require_bool(clamp, "TanhModule `clamp`")
        self.in_keys = in_keys
        self.out_keys = out_keys
        self.clamp = clamp
        leaves = _spec_per_key(spec, self.out_keys)
        self._spec = self._composite(leaves)
        self._stems = [buffer_stem(key) for key in self.out_keys]
        if len(set(self._stems)) != len(self._stems):
            raise ValueError(f"TanhModule out_keys {self.out_keys} give clashing buffer names {self._stems}")
        for key, stem, leaf in zip(self.out_keys, self._stems, leaves):
            key_low, key_high = _bounds_for(key, low, high, leaf)
            self.register_buffer(f"{stem}_low", key_low)
            self.register_buffer(f"{stem}_high", key_high)

    def _composite(self, leaves: list) -> Composite:
        composite = Composite()
        for key, leaf in zip(self.out_keys, leaves):
            composite[key] = None if leaf is None else leaf.clone()
        return composite

    @property
    def spec(self) -> Composite:
        """The `Composite` spec of the outputs (one entry per out key, maybe `None`)."""
        return self._spec

    def forward(self, tensordict: Any = None, *args: Any, **kwargs: Any) -> Any:
        """Squash each input into its box; tensors as arguments get tensors back.

        ``in_keys[i]: [*B, *S] -> out_keys[i]: [*B, *S]`` in ``[low, high]``, the key's bounds
        (buffers ``<key>_low``, ``<key>_high``) broadcasting against the value.
        """
        if isinstance(tensordict, TensorDictBase) and not args and not kwargs:
            return self._squash_all(tensordict)
        inputs = args if tensordict is None else (tensordict, *args)
        return self._dispatched(*inputs, **kwargs)

    @dispatch(auto_batch_size=False)
    def _dispatched(self, tensordict: TensorDictBase) -> TensorDictBase:
        return self._squash_all(tensordict)

    def _squash_all(self, tensordict: TensorDictBase) -> TensorDictBase:
        values = [tensordict.get(key, None) for key in self.in_keys]
        missing = [key for key, value in zip(self.in_keys, values) if value is None]
        if missing:
            raise KeyError(f"TanhModule inputs {missing} are not in the tensordict (keys: {list(tensordict.keys(True))})")
        for out_key, stem, value in zip(self.out_keys, self._stems, values):
            tensordict.set(out_key, self._squash(value, getattr(self, f"{stem}_low"), getattr(self, f"{stem}_high")))
        return tensordict

    def _squash(self, value: torch.Tensor, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        squashed = value.tanh()
        if self.clamp:
            limit = 1.0 - torch.finfo(squashed.dtype).resolution
            squashed = squashed.clamp(-limit, limit)
        mid = (high + low) / 2
        half = (high - low) / 2
        return torch.clamp(mid + half * squashed, low, high)
