"""`SafeModule`: a `TensorDictModule` that knows the specs of its outputs.

The spec is a `Composite` keyed by the module's out keys (entries may be `None`). With
``safe=True`` every output that has a leaf spec is projected into it (`spec.project`) before
it is written, so the written values always lie in their specs.

Also the pieces the other rldsl tensordict modules share: turning a spec argument into the
`Composite` of a module's outputs (`spec_for_out_keys`), moving specs with the module
(`SpecOwner`), and the short forward path (`LeanForwardMixin`) that keeps a module call close
to the cost of the network it wraps.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.modules.module as _nn_module
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictModule, skip_existing
from tensordict.utils import NestedKey

from rldsl._checks import require_bool
from rldsl.modules.tensordict_module._entries import read_entry, write_entry
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Composite, TensorSpec


def key_tuple(key: NestedKey) -> tuple[str, ...]:
    """A nested key as a tuple of strings (``"a"`` -> ``("a",)``)."""
    return (key,) if isinstance(key, str) else tuple(key)


def spec_for_out_keys(spec: TensorSpec | None, out_keys: Sequence[NestedKey], owner: str) -> Composite:
    """The `Composite` of a module's outputs: one entry (maybe `None`) per out key.

    A plain spec is accepted for a module with a single out key and filed under it.
    Errors are `ArgumentError` (a `ValueError` that is also the `RuntimeError` torchrl raises).

    >>> from rldsl.specs import Bounded
    >>> spec_for_out_keys(Bounded(-1.0, 1.0, shape=(2,)), ["action"], "Actor")["action"].shape
    torch.Size([2])
    """
    if spec is None:
        composite = Composite()
    elif isinstance(spec, Composite):
        composite = spec.clone()
    elif isinstance(spec, TensorSpec):
        if len(out_keys) != 1:
            raise ArgumentError(
                f"{owner} got a single spec for {len(out_keys)} out_keys {list(out_keys)}; pass "
                f"spec=Composite({{key: spec, ...}}) to say which output each spec describes"
            )
        composite = Composite()
        composite[out_keys[0]] = spec.clone()
    else:
        raise TypeError(f"{owner} `spec` must be an rldsl spec (e.g. rldsl.specs.Bounded) or None, "
                        f"got {type(spec).__name__}")
    out = {key_tuple(key) for key in out_keys}
    extra = [key for key, _ in composite.items(include_nested=True, leaves_only=True) if key_tuple(key) not in out]
    if extra:
        raise ArgumentError(
            f"{owner} spec has entries {extra} that are not among its out_keys {list(out_keys)}; "
            f"spec keys and out_keys must match"
        )
    for key in out_keys:
        if key not in composite:
            composite[key] = None
    return composite


def leaf_specs(spec: Composite, out_keys: Sequence[NestedKey]) -> list[tuple[int, TensorSpec]]:
    """``(position in out_keys, leaf spec)`` for every out key that has a non-None spec."""
    found = []
    for position, key in enumerate(out_keys):
        leaf = spec.get(key)
        if leaf is not None and not isinstance(leaf, Composite):
            found.append((position, leaf))
    return found


def check_safe_has_spec(safe: bool, projections: list, owner: str) -> None:
    """``safe=True`` needs at least one output with a spec to project into."""
    if safe and not projections:
        raise ArgumentError(
            f"{owner}(spec=None, safe=True) is not a valid configuration: safe=True "
            f"projects outputs into their specs, so give a spec for at least one out key"
        )


def project_outputs(outputs: Any, projections: list[tuple[int, TensorSpec]], out_keys: Sequence[NestedKey]) -> Any:
    """Project a module's raw outputs (a tensor, a tuple, or a mapping by key) into their specs."""
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
        single = True
    else:
        single = False
    if isinstance(outputs, (dict, TensorDictBase)):
        projected = outputs.copy()
        for position, spec in projections:
            key = out_keys[position]
            if key in projected.keys():
                projected[key] = spec.project(projected[key])
        return projected
    projected = list(outputs)
    for position, spec in projections:
        if position < len(projected) and projected[position] is not None:
            projected[position] = spec.project(projected[position])
    return projected[0] if single else tuple(projected)


def device_after(fn: Callable[[torch.Tensor], torch.Tensor], device: torch.device) -> torch.device:
    """The device that ``nn.Module._apply``'s ``fn`` sends a tensor on ``device`` to.

    ``fn`` is tried on an empty tensor, so any conversion (``.to``, ``.cuda()``, ``.cpu()``,
    ``to_empty``...) is read off without knowing how it was asked for.
    """
    return fn(torch.empty(0, device=device)).device


class SpecOwner:
    """Mixin for modules that hold a spec in ``self._spec``: the spec follows the module.

    `nn.Module.to`, `.cuda()`, `.cpu()` reach every submodule through ``_apply``, so the
    spec moves with the parameters even when the call is made on an enclosing module.
    Subclasses re-derive what they build from the spec in `_spec_moved`.
    """

    _spec: Composite | None

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        result = super()._apply(fn, *args, **kwargs)
        spec = self.__dict__.get("_spec")
        if spec is not None:
            current = next((leaf.device for _, leaf in spec.leaves()), None)
            if current is not None:
                target = device_after(fn, current)
                if target != current:
                    self._spec = spec.to(target)
                    self._spec_moved()
        return result

    def _spec_moved(self) -> None:
        """Hook: the spec was replaced by a copy on another device."""


def read_inputs(tensordict: TensorDictBase, in_keys: Sequence[NestedKey]) -> list[torch.Tensor] | None:
    """The entries at ``in_keys``, or ``None`` if one is missing (the caller then takes the slow path)."""
    values = [read_entry(tensordict, key) for key in in_keys]
    return None if any(value is None for value in values) else values


def write_outputs(tensordict: TensorDictBase, outputs: Any, out_keys: Sequence[NestedKey]) -> TensorDictBase:
    """Write a module's outputs (a value, a tuple of values, or a mapping holding every out key) at ``out_keys``.

    The out key ``"_"`` marks an output that is not written, as in `TensorDictModule`.
    """
    if isinstance(outputs, torch.Tensor):
        outputs = (outputs,)
    elif isinstance(outputs, (dict, TensorDictBase)) and all(key in outputs.keys() for key in out_keys):
        outputs = tuple(outputs[key] for key in out_keys)
    elif outputs is None:
        outputs = ()
    elif not isinstance(outputs, tuple):  # only a tuple holds several outputs, as in TensorDictModule
        outputs = (outputs,)
    if len(outputs) != len(out_keys):
        raise RuntimeError(
            f"the module returned {len(outputs)} output(s) for {len(out_keys)} out_keys {list(out_keys)}; "
            f"make it return one tensor per out key"
        )
    for key, value in zip(out_keys, outputs):
        if key != "_":
            if isinstance(value, (torch.Tensor, TensorDictBase)):
                write_entry(tensordict, key, value)
            else:
                tensordict.set(key, TensorDict.from_any(value))
    return tensordict


_GLOBAL_HOOK_NAMES = ("_global_forward_hooks", "_global_forward_pre_hooks",
                      "_global_backward_hooks", "_global_backward_pre_hooks")


def _global_hooks_present() -> bool:
    """Whether module hooks were registered for every module (``register_module_forward_hook``...).

    An unknown torch layout counts as "present", which keeps the regular call.
    """
    return any(getattr(_nn_module, name, True) for name in _GLOBAL_HOOK_NAMES)


def _lean_tensordict_module_ok(module: TensorDictModule) -> bool:
    """Whether ``module(td)`` may be run by `call_module`'s short path (see there)."""
    return (
        type(module) is TensorDictModule
        and module.inplace is True
        and module.method is None
        and module._kwargs is None
        and not module.method_kwargs
        and not module._get_kwargs
        and not (module._forward_hooks or module._forward_pre_hooks
                 or module._backward_hooks or module._backward_pre_hooks)
        and not _global_hooks_present()
        and not torch.jit.is_tracing()
        and not skip_existing()
    )


def call_module(module: Any, tensordict: TensorDictBase) -> TensorDictBase:
    """``module(tensordict)``, run directly for a plain `TensorDictModule` in the common case.

    A `TensorDictModule` (exactly that class) without hooks, writing in place, with every
    input present, is run as its own ``forward`` would: read the inputs, call the wrapped
    network, write the outputs. This skips tensordict's generic bookkeeping (tens of
    microseconds per call with tensordict 0.14) for the networks that rldsl sequences run
    before a distribution. Any other module, or any other case, is simply called.
    """
    if isinstance(module, TensorDictModule) and _lean_tensordict_module_ok(module):
        inputs = read_inputs(tensordict, module.in_keys)
        if inputs is not None:  # no method, no method_kwargs: `_call_module` is the plain call
            network = module._modules.get("module")
            if network is None:  # a plain callable is an attribute, not a submodule
                network = module.module
            return write_outputs(tensordict, network(*inputs), module.out_keys_source)
    return module(tensordict)


class LeanForwardMixin:
    """A short forward for `TensorDictModule` subclasses, for the common call ``module(td)``.

    When the module is called with one tensordict holding every input, writes in place
    (``inplace=True``) and has no ``method``, dict ``in_keys``, extra call arguments or
    ``set_skip_existing`` in force, it reads the inputs, calls `_call_module` and writes the
    outputs directly. That is what `TensorDictModule.forward` does for this case, without
    its generic bookkeeping (which costs tens of microseconds with tensordict 0.14). Every
    other call (tensors as arguments, ``tensordict_out``, missing keys...) goes to
    `TensorDictModule.forward` unchanged. Parameters are read at call time, so
    ``TensorDict.from_module(...).to_module(...)``, deep copies and ``torch.vmap`` work.
    """

    def forward(self, tensordict: Any = None, *args: Any, tensordict_out: Any = None, **kwargs: Any) -> Any:
        """Read ``in_keys``, call the wrapped network, write its outputs at ``out_keys``.

        ``in_keys: [*B, *in_i] -> out_keys: [*B, *out_j]``, the shapes the network gives (an
        ``MLP``: ``[*B, in_features] -> [*B, out_features]``); ``td`` keeps its batch size ``[*B]``.
        """
        if (
            tensordict_out is None
            and not args
            and not kwargs
            and isinstance(tensordict, TensorDictBase)
            and self._lean_call_ok()
        ):
            inputs = read_inputs(tensordict, self.in_keys)
            if inputs is not None:
                return write_outputs(tensordict, self._call_module(inputs), self.out_keys_source)
        return self._generic_forward(tensordict, args, tensordict_out, kwargs)

    def _lean_call_ok(self) -> bool:
        return (
            self.inplace is True
            and self.method is None
            and self._kwargs is None
            and not self.method_kwargs
            and not self._get_kwargs
            and not skip_existing()
        )

    def _generic_forward(self, tensordict: Any, args: tuple, tensordict_out: Any, kwargs: dict) -> Any:
        """`TensorDictModule.forward` (with its dispatch of tensor arguments)."""
        if tensordict_out is not None:
            kwargs["tensordict_out"] = tensordict_out
        if tensordict is None:
            return TensorDictModule.forward(self, *args, **kwargs)
        return TensorDictModule.forward(self, tensordict, *args, **kwargs)


class SafeModule(SpecOwner, LeanForwardMixin, TensorDictModule):
    """A `TensorDictModule` with a spec for its outputs, projecting into it when ``safe=True``.

    Shapes: ``in_keys: [*B, *in_i] -> out_keys: [*B, *out_j]`` as ``module`` maps them (e.g.
    ``observation: [*B, n_obs] -> action: [*B, d]``); with ``safe=True`` each output that has
    a spec is projected into it, keeping its shape.

    Args:
        module: the callable (usually an ``nn.Module``) reading `in_keys`, returning `out_keys`.
        in_keys, out_keys: keys read and written, as in `TensorDictModule`.
        spec: an rldsl spec for a single out key, or a `Composite` keyed by out keys.
        safe: project every output with a spec into it before writing it.
        inplace: as in `TensorDictModule` (True, False or "empty").

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.specs import Bounded
    >>> module = SafeModule(torch.nn.Linear(3, 1), in_keys=["observation"], out_keys=["action"],
    ...                     spec=Bounded(-0.1, 0.1, shape=(1,)), safe=True)
    >>> td = module(TensorDict({"observation": torch.randn(8, 3) * 100}, [8]))
    >>> bool(td["action"].abs().max() <= 0.1)
    True
    """

    def __init__(self, module: Any, in_keys: Any, out_keys: Any, spec: TensorSpec | None = None,
                 safe: bool = False, inplace: bool | str = True, **kwargs: Any) -> None:
        require_bool(safe, f"{type(self).__name__} `safe`")
        super().__init__(module, in_keys=in_keys, out_keys=out_keys, inplace=inplace, **kwargs)
        self._spec = spec_for_out_keys(spec, self.out_keys, type(self).__name__)
        self._safe = safe
        self._refresh_projections()

    @property
    def safe(self) -> bool:
        """Whether outputs are projected into their specs before being written."""
        return self._safe

    @safe.setter
    def safe(self, safe: bool) -> None:
        self._safe = bool(safe)
        self._refresh_projections()

    @property
    def spec(self) -> Composite:
        """The `Composite` spec of the outputs (one entry per out key, maybe `None`)."""
        return self._spec

    @spec.setter
    def spec(self, spec: TensorSpec | None) -> None:
        self._spec = spec_for_out_keys(spec, self.out_keys, type(self).__name__)
        self._refresh_projections()

    def _spec_moved(self) -> None:
        self._refresh_projections()

    def _refresh_projections(self) -> None:
        projections = leaf_specs(self._spec, self.out_keys)
        check_safe_has_spec(self._safe, projections, type(self).__name__)
        self._projections = projections if self._safe else []

    def _call_module(self, tensors: Sequence[torch.Tensor], **kwargs: Any) -> Any:
        outputs = super()._call_module(tensors, **kwargs)
        if self._projections:
            outputs = project_outputs(outputs, self._projections, self.out_keys)
        return outputs

    def random(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write a random member of each output's spec (for outputs that have one).

        Each value is written as a tensor at its own key (torchrl writes a sub-TensorDict
        under the first out key instead).
        """
        for key in self.out_keys:
            leaf = self._spec.get(key)
            if leaf is not None:
                tensordict.set(key, leaf.rand(tensordict.batch_size))
        return tensordict

    random_sample = random
