"""`VmapModule`: run a tensordict module over one batch dimension of its input with ``torch.vmap``."""

from __future__ import annotations


import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase

from rldsl._checks import require_bool, require_int

__all__ = ["VmapModule"]

_RANDOMNESS = ("error", "different", "same")


class VmapModule(TensorDictModuleBase):
    """Hide one batch dimension from a module: ``torch.vmap(module, (dim,), (dim,))(td)``.

    For modules written for inputs with one batch dimension fewer than the data has. The
    outputs are written back into the input tensordict (``td.update(out)``), which is
    returned. ``mock=True`` loops over ``td.unbind(dim)`` and stacks the results instead:
    the reference semantics, useful to check a module against its vmapped run.

    Args:
        module (TensorDictModuleBase): the module to map.
        vmap_dim (int, optional): the batch dim mapped over (negative counts from the end).
            Defaults to the last batch dim of each input.
        mock (bool): loop instead of vmapping. Defaults to ``False``.

    Keyword Args:
        randomness (str): ``torch.vmap``'s ``randomness``: ``"error"`` (default: a random
            draw inside the module raises), ``"different"`` or ``"same"``.

    Tensors as arguments (dispatch) are not supported: vmap needs the tensordict's batch size.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> first = TensorDictModule(lambda x: x[0], in_keys=["x"], out_keys=["y"])
    >>> td = TensorDict(x=torch.arange(6.0).view(2, 3), batch_size=[2])
    >>> VmapModule(first, vmap_dim=0)(td)["y"]
    tensor([0., 3.])
    """

    def __init__(self, module: TensorDictModuleBase, vmap_dim: int | None = None, mock: bool = False,
                 *, randomness: str = "error") -> None:
        if not isinstance(module, TensorDictModuleBase):
            raise TypeError(
                f"VmapModule `module` must be a tensordict module, got {type(module).__name__}; wrap a "
                f"network with TensorDictModule(net, in_keys=[...], out_keys=[...])"
            )
        require_int(vmap_dim, "VmapModule `vmap_dim`", expected="an int or None", optional=True)
        require_bool(mock, "VmapModule `mock`")
        if randomness not in _RANDOMNESS:
            raise ValueError(f"VmapModule `randomness` must be one of {_RANDOMNESS}, got {randomness!r}")
        super().__init__()
        self.in_keys = module.in_keys
        self.out_keys = module.out_keys
        self.module = module
        self.vmap_dim = vmap_dim
        self.mock = mock
        self.randomness = randomness

    def mock_(self, value: bool = True) -> "VmapModule":
        """Switch the loop (``True``) or vmap (``False``) mode on; returns the module."""
        if not isinstance(value, bool):
            raise TypeError(f"mock_ takes True or False, got {value!r}")
        self.mock = value
        return self

    def _dim(self, tensordict: TensorDictBase) -> int:
        """The non-negative batch dim mapped over, checked against the input's batch dims."""
        ndim = tensordict.batch_dims
        dim = ndim - 1 if self.vmap_dim is None else self.vmap_dim
        if ndim == 0 or not -ndim <= dim < ndim:
            raise ValueError(
                f"VmapModule maps over batch dim {self.vmap_dim if self.vmap_dim is not None else 'last'}, "
                f"but the input has batch_size {tuple(tensordict.batch_size)}; give the tensordict a batch "
                f"dim to map over or choose vmap_dim within range"
            )
        return dim % ndim

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Run ``module`` over ``vmap_dim`` and write its outputs into ``tensordict``.

        ``td: [*B]`` -> ``module`` sees each slice ``[*B']`` (``*B`` without ``vmap_dim``) and
        writes ``out_keys: [*B', ...]``; they come back stacked on ``vmap_dim`` as ``[*B, ...]``.
        """
        if not isinstance(tensordict, TensorDictBase):
            raise TypeError(
                f"VmapModule takes a tensordict (its batch size says what to map over), got "
                f"{type(tensordict).__name__}"
            )
        dim = self._dim(tensordict)
        if self.mock:
            out = torch.stack([self.module(part) for part in tensordict.unbind(dim)], dim)
        else:
            out = torch.vmap(self.module, (dim,), (dim,), randomness=self.randomness)(tensordict)
        return tensordict.update(out)
