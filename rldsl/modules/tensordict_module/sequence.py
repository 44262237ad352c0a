"""`SafeSequential`: a `TensorDictSequential` whose spec is the union of its modules' specs."""

from __future__ import annotations

from typing import Any

from tensordict.nn import TensorDictSequential

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

    @property
    def spec(self) -> Composite:
        """The union of the sub-modules' specs, keyed by `out_keys` (computed on access)."""
        return union_of_specs(self._module_iter(), self.out_keys)

    @spec.setter
    def spec(self, spec: Any) -> None:
        raise AttributeError(
            "SafeSequential.spec is the union of its modules' specs; set the spec on the sub-module instead"
        )
