"""`SafeSequential`: a `TensorDictSequential` whose spec is the union of its modules' specs."""

from __future__ import annotations

from typing import Any

from tensordict import TensorDictBase
from tensordict.nn import TensorDictSequential, skip_existing
from torch import nn

from rldsl.modules.tensordict_module.common import call_module
from rldsl.specs import Composite


def union_of_specs(modules: Any, out_keys: list) -> Composite:
    """One `Composite` with every module's output specs (`None` where a module has none).

    A key written by several modules keeps the spec of the last module that gives one.
    """
    union = Composite()
    for module in modules:
        spec = getattr(module, "spec", None)
        for key in getattr(module, "out_keys", ()):
            leaf = spec.get(key) if isinstance(spec, Composite) else None
            if leaf is not None or key not in union:
                union[key] = leaf
    for key in out_keys:
        if key not in union:
            union[key] = None
    return union


class SafeSequential(TensorDictSequential):
    """A sequence of TensorDict modules run one after the other, with the union of their specs.

    `in_keys` are the keys read and not produced upstream; `out_keys` every key written.
    Projection happens only inside the sub-modules that are themselves ``safe``. Specs move
    with the modules (``.to(device)`` reaches every sub-module's spec).

    Shapes: each module's, in order, on one tensordict of batch size ``[*B]``; e.g.
    ``observation: [*B, n_obs] -> hidden: [*B, n_hidden] -> action: [*B, d]``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules.tensordict_module.common import SafeModule
    >>> from rldsl.specs import Bounded
    >>> body = SafeModule(torch.nn.Linear(3, 4), in_keys=["observation"], out_keys=["hidden"])
    >>> head = SafeModule(torch.nn.Linear(4, 1), in_keys=["hidden"], out_keys=["action"],
    ...                   spec=Bounded(-1.0, 1.0, shape=(1,)), safe=True)
    >>> seq = SafeSequential(body, head)
    >>> seq.in_keys, seq.out_keys
    (['observation'], ['hidden', 'action'])
    >>> seq(TensorDict({"observation": torch.randn(2, 3)}, [2]))["action"].shape
    torch.Size([2, 1])
    """

    def __init__(self, *modules: Any, partial_tolerant: bool = False, **kwargs: Any) -> None:
        super().__init__(*modules, partial_tolerant=partial_tolerant, **kwargs)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """Run the modules in order on ``tensordict`` (as `TensorDictSequential.forward`).

        Each module's shapes, in order, on one tensordict of batch size ``[*B]``: e.g.
        ``observation: [*B, n_obs] -> hidden: [*B, n_hidden] -> action: [*B, d]``.

        The common call ``seq(td)`` (one tensordict, writing in place, no ``selected_out_keys``,
        not partial-tolerant, no ``set_skip_existing`` in force) runs the modules directly,
        plain `TensorDictModule`s through `call_module`; every other call (tensors,
        ``tensordict_out``...) is tensordict's generic forward, unchanged.
        """
        if len(args) == 1 and not kwargs and isinstance(args[0], TensorDictBase) and self._lean_sequence_ok():
            return self._lean_sequence_forward(args[0])
        return super().forward(*args, **kwargs)

    def _lean_sequence_ok(self) -> bool:
        return (
            self.inplace in (None, True)
            and not self._select_before_return
            and not self.partial_tolerant
            and not skip_existing()
        )

    def _lean_sequence_forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """What `TensorDictSequential.forward` does for ``seq(td)``, without its bookkeeping."""
        modules = self._modules["module"]
        result = tensordict
        for module in (modules.values() if isinstance(modules, nn.ModuleDict) else modules):
            try:
                result = call_module(module, result)
            except Exception as err:
                err.add_note(f"Failed while executing module '{self._get_module_num_or_key(module)}'.")
                raise
        if self.inplace is True and result is not tensordict:
            tensordict.update(result, keys_to_update=self.out_keys)
            return tensordict
        return result

    @property
    def spec(self) -> Composite:
        """The union of the sub-modules' specs, keyed by `out_keys` (computed on access)."""
        return union_of_specs(self._module_iter(), self.out_keys)

    @spec.setter
    def spec(self, spec: Any) -> None:
        raise AttributeError(
            "SafeSequential.spec is the union of its modules' specs; set the spec on the sub-module instead"
        )
