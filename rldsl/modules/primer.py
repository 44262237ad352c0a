"""`TensorDictPrimer`: the specs of the extra entries a policy needs, and their initial values.

A recurrent policy reads its state (``recurrent_state_h``, ...) from the tensordict of each step.
torchrl's ``torchrl.envs.transforms.TensorDictPrimer`` is the environment transform that declares
those entries in the environment's specs and writes their initial value at every reset;
``LSTMModule.make_tensordict_primer()`` and ``get_primers_from_module(policy)`` return one.

rldsl has no environments, so this class mirrors that transform for what a policy's states need,
and nothing more:

- it holds the specs as a :class:`~rldsl.specs.Composite` (``primers``), the fill value
  (``default_value``, ``0.0`` unless given; a number or one number per key), ``random`` (draw
  from each spec instead) and ``expand_specs`` (kept for torchrl, which expands the specs to a
  batched environment's batch size; here the batch comes from each tensordict);
- ``reset(tensordict)`` and ``primer(tensordict)`` write each primer entry the tensordict lacks,
  of shape ``[*tensordict.batch_size, *spec.shape]`` with the spec's dtype (on the tensordict's
  device when it has one, else the spec's); entries already there are kept;
- ``TensorDictPrimer.merge(*primers)`` joins several into one (what ``get_primers_from_module``
  returns for a policy with several recurrent modules).

What it does not do, being no environment transform: register the entries in an environment's
observation or state specs, honour a ``"_reset"`` mask (partial resets of a batched environment;
here a reset writes the missing entries of the whole tensordict), take callables as default values,
or carry ``("next", key)`` to ``key`` between steps (the caller's step loop does that, as torchrl's
``step_mdp``). With torchrl installed, build its transform from the same specs:
``torchrl.envs.TensorDictPrimer(dict(primer.primers.items(include_nested=True, leaves_only=True)),
expand_specs=True)`` (with torchrl's spec classes).

>>> from rldsl.specs import Unbounded
>>> from tensordict import TensorDict
>>> primer = TensorDictPrimer({"recurrent_state": Unbounded(shape=(1, 8))}, expand_specs=True)
>>> primer(TensorDict(batch_size=[4]))["recurrent_state"].shape
torch.Size([4, 1, 8])
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Real
from typing import Any, Union

import torch
from tensordict import TensorDictBase
from tensordict.utils import NestedKey

from rldsl.specs import Composite, TensorSpec

__all__ = ["TensorDictPrimer"]

DefaultValue = Union[float, Mapping[NestedKey, float]]


def _as_tuple(key: NestedKey) -> tuple[str, ...]:
    return (key,) if isinstance(key, str) else tuple(key)


class TensorDictPrimer:
    """Specs of entries to add to each tensordict (a policy's recurrent states), and their fill value.

    Args:
        primers (dict or Composite, optional): key -> spec of each entry (nested keys as tuples).
        random (bool, optional): draw each value from its spec (``spec.rand``) instead of filling it
            with ``default_value``. Default: ``False``.
        default_value (float, callable or dict, optional): the fill value, one for all entries or
            one per key. A callable is called with no argument at each reset and returns a tensor of
            the spec's shape (expanded to the batch) or of the whole ``[*B, *spec.shape]``, as
            torchrl's (a consistent-dropout mask). Default: ``0.0``.
        expand_specs (bool, optional): torchrl's flag for expanding the specs to a batched
            environment; kept and shown, no effect here (the batch is each tensordict's).
        **kwargs: more ``key=spec`` entries.

    ``primer(tensordict)`` / ``primer.reset(tensordict)``: ``[*B] -> [*B]`` with each missing
    entry written, of shape ``[*B, *spec.shape]``.
    """

    def __init__(self, primers: Mapping[NestedKey, Any] | Composite | None = None, random: bool | None = None,
                 default_value: DefaultValue | None = None, expand_specs: bool | None = None,
                 **kwargs: TensorSpec) -> None:
        if random and default_value is not None:
            raise ValueError("TensorDictPrimer: a default_value was given with random=True; choose one of them")
        self.primers = self._as_composite(primers, kwargs)
        self.random = random
        self.default_value: DefaultValue = 0.0 if default_value is None else self._check_default(default_value)
        self.expand_specs = expand_specs

    @staticmethod
    def _as_composite(primers: Mapping[NestedKey, Any] | Composite | None, more: Mapping[str, Any]) -> Composite:
        if primers is not None and not isinstance(primers, (Mapping, Composite)):
            raise TypeError(f"TensorDictPrimer `primers` must be a dict of specs or a Composite, "
                            f"got {type(primers).__name__}")
        found = Composite()
        for source in (primers or {}), more:
            for key in (source.keys(True, True) if isinstance(source, Composite) else source):
                spec = source[key]
                if not isinstance(spec, TensorSpec) or isinstance(spec, Composite):
                    raise TypeError(f"TensorDictPrimer entry {key!r} must be a leaf spec (e.g. Unbounded), "
                                    f"got {type(spec).__name__}")
                found[key] = spec
        return found

    def _check_default(self, value: Any) -> DefaultValue:
        if isinstance(value, Mapping):
            missing = [key for key in self.keys() if _as_tuple(key) not in {_as_tuple(k) for k in value}]
            if missing:
                raise KeyError(f"TensorDictPrimer `default_value` has no value for {missing}")
            return {_as_tuple(key): self._check_number(v) for key, v in value.items()}
        return self._check_number(value)

    @staticmethod
    def _check_number(value: Any) -> Any:
        if callable(value):
            return value
        if isinstance(value, bool) or not isinstance(value, Real):
            raise TypeError(f"TensorDictPrimer `default_value` must be a number, a callable returning a tensor, or a "
                            f"dict of them, got {value!r}")
        return value

    def keys(self) -> list[NestedKey]:
        """The primed entries' keys (nested ones as tuples)."""
        return [key[0] if len(key) == 1 else key for key, _ in self.primers.leaves()]

    def value_for(self, key: NestedKey) -> float:
        """The fill value of entry ``key``."""
        if isinstance(self.default_value, Mapping):
            return self.default_value[_as_tuple(key)]
        return self.default_value

    def reset(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write each primer entry ``tensordict`` lacks: ``[*B, *spec.shape]`` of the spec's dtype,
        filled with ``default_value`` (or drawn from the spec with ``random``). Returns ``tensordict``."""
        if not isinstance(tensordict, TensorDictBase):
            raise TypeError(f"TensorDictPrimer fills a TensorDict, got {type(tensordict).__name__}")
        batch = tensordict.batch_size
        for key, spec in self.primers.leaves():
            if tensordict.get(key, None) is not None:
                continue
            tensordict.set(key, self._initial_value(key, spec, batch, tensordict.device))
        return tensordict

    __call__ = reset

    def _initial_value(self, key: tuple[str, ...], spec: TensorSpec, batch: torch.Size,
                       device: torch.device | None) -> torch.Tensor:
        if self.random:
            value = spec.rand(batch)
            return value if device is None else value.to(device)
        fill = self.value_for(key)
        device = device if device is not None else spec.device
        if callable(fill):
            return self._called(key, fill, spec, batch, device)
        return torch.full((*batch, *spec.shape), fill, dtype=spec.dtype, device=device)

    @staticmethod
    def _called(key: tuple[str, ...], fill: Any, spec: TensorSpec, batch: torch.Size,
                device: torch.device | None) -> torch.Tensor:
        """A callable default's value: the spec's shape expanded to the batch, or the batch's."""
        value = fill()
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"TensorDictPrimer: the default value of {key!r} returned {type(value).__name__}, "
                            "not a tensor")
        full = (*batch, *spec.shape)
        if tuple(value.shape) == tuple(spec.shape):
            value = value.expand(full).clone()
        elif tuple(value.shape) != full:
            raise ValueError(f"TensorDictPrimer: the default value of {key!r} has shape {list(value.shape)}, "
                             f"neither the spec's {list(spec.shape)} nor the batch's {list(full)}")
        return value.to(device=device, dtype=spec.dtype)

    @classmethod
    def merge(cls, *primers: TensorDictPrimer) -> TensorDictPrimer:
        """One primer with the entries of all ``primers``; a key in several must have the same spec."""
        if not primers:
            raise ValueError("TensorDictPrimer.merge needs at least one primer")
        specs: dict[tuple[str, ...], TensorSpec] = {}
        values: dict[tuple[str, ...], float] = {}
        for primer in primers:
            if not isinstance(primer, TensorDictPrimer):
                raise TypeError(f"TensorDictPrimer.merge takes TensorDictPrimers, got {type(primer).__name__}")
            for key, spec in primer.primers.leaves():
                if key in specs and specs[key] != spec:
                    raise ValueError(f"TensorDictPrimer.merge: two primers give {key!r} different specs: "
                                     f"{specs[key]} and {spec}")
                specs[key] = spec
                values[key] = primer.value_for(key)
        randoms = {bool(primer.random) for primer in primers}
        if len(randoms) > 1:
            raise ValueError("TensorDictPrimer.merge: some primers draw random values and others do not")
        uniform = set(values.values())
        default: DefaultValue | None = None
        if not randoms.pop():
            default = uniform.pop() if len(uniform) == 1 else values
        expand = any(primer.expand_specs for primer in primers) or None
        return cls(dict(specs), random=primers[0].random, default_value=default, expand_specs=expand)

    def __repr__(self) -> str:
        return (f"TensorDictPrimer(primers={self.primers!r}, default_value={self.default_value!r}, "
                f"random={self.random!r}, expand_specs={self.expand_specs!r})")
