"""Multi-agent networks: one network per agent (or one shared), applied along an agent dim.

:class:`MultiAgentNetBase` holds what :class:`MultiAgentMLP` and :class:`MultiAgentConvNet` share,
as torchrl 0.14 does:

- **Parameters as a TensorDict.** With ``use_td_params=True`` (the default) the per-agent
  parameters live in ``self.params``, a :class:`tensordict.nn.TensorDictParams` (a TensorDict and
  an ``nn.Module`` at once) with a leading ``n_agents`` batch dim when the agents do not share
  them: ``net.params["0", "weight"]`` is ``[n_agents, out, in]`` and the ``state_dict`` names it
  ``"params.0.weight"``, as torchrl's. With ``use_td_params=False`` they live, stacked the same
  way, in ``self._empty_net`` (``"_empty_net.0.weight"``) and ``self.params`` is a plain
  TensorDict view of them. With ``use_td_params=True``, ``self._empty_net`` is torchrl's
  parameter-free copy of one agent's network on the ``meta`` device (not a registered submodule:
  it holds no state), for torchrl's recipe ``params.to_module(net._empty_net)`` and
  :meth:`MultiAgentNetBase.vmap_func_module`.
- **One batched call.** The forward pass runs one parameter-free copy of the per-agent network
  (on the ``meta`` device) with :func:`torch.func.functional_call`, under :func:`torch.vmap` over
  the agent dim when the agents have their own parameters: every agent is evaluated in one call
  (batched matrix products, grouped convolutions), never in a Python loop.
- **Lazy input size.** ``n_agent_inputs=None`` (``in_features=None`` for images) leaves the input
  size to the first call, as torch's lazy layers do: the per-agent networks are built then, on
  the device and in the dtype the module was last moved to. Until then the module has no
  parameters (create optimizers after the first call); loading a ``state_dict`` into it first
  builds the networks with the size the checkpoint has.
"""

from __future__ import annotations

import abc
import copy
from collections.abc import Sequence
from typing import Any, Callable

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictParams
from torch import nn
from torch.func import functional_call

from rldsl._checks import require_int, require_positive
from rldsl.modules.conv import ConvNet
from rldsl.modules.models import MLP
from rldsl.modules.utils import check_flag

__all__ = ["MultiAgentConvNet", "MultiAgentMLP", "MultiAgentNetBase"]

_RANDOMNESS = ("error", "different", "same")


class MultiAgentNetBase(nn.Module):
    """The base of the multi-agent networks: per-agent parameters (stacked, or one shared set),
    the batched forward pass, lazy input sizes, and torchrl's ``get_stateful_net`` /
    ``from_stateful_net`` for custom initialisation.

    A subclass sets its own attributes, then calls this constructor, and implements
    ``_build_single_net(*, device, **kwargs)`` (one agent's network), ``_input_check(x)`` (raise
    for a wrong input; the input size may still be unknown), ``_input_size_of(x)`` (the input
    size a lazy network takes from its first input), ``_set_input_size(size)`` and
    ``_input_size`` (the size, or None while lazy).

    Keyword Args:
        n_agents (int): number of agents.
        centralized (bool): whether each agent sees every agent's input (required;
            ``centralised=`` is accepted too).
        share_params (bool): whether all agents use the same parameters (required).
        agent_dim (int): the input's agent dim (required; -2 for vectors, -4 for images).
        vmap_randomness (str): ``torch.vmap``'s ``randomness`` for agents with their own
            parameters: ``"different"`` (default: each agent draws its own dropout masks),
            ``"same"`` or ``"error"``.
        use_td_params (bool): where the parameters live (see the module docstring).
        **kwargs: passed to ``_build_single_net`` (``device`` among them).
    """

    def __init__(self, *, n_agents: int, centralized: bool | None = None, share_params: bool | None = None,
                 agent_dim: int | None = None, vmap_randomness: str = "different", use_td_params: bool = True,
                 **kwargs: Any) -> None:
        super().__init__()
        owner = type(self).__name__
        centralized = _centralized_argument(centralized, kwargs, owner)
        if share_params is None:
            raise TypeError(f"{owner} needs share_params=True or share_params=False: whether all agents use the "
                            "same weights.")
        if agent_dim is None:
            raise TypeError(f"{owner} needs agent_dim: the input dim that indexes the agents.")
        check_flag(centralized, "centralized")
        check_flag(share_params, "share_params")
        check_flag(use_td_params, "use_td_params")
        _check_size(n_agents, "n_agents")
        require_int(agent_dim, "agent_dim", expected="a negative int", minimum=None)
        if agent_dim >= 0:
            raise ValueError(f"agent_dim must be a negative int (counted from the end), got {agent_dim}.")
        if vmap_randomness not in _RANDOMNESS:
            raise ValueError(f"vmap_randomness must be one of {', '.join(map(repr, _RANDOMNESS))}, got "
                             f"{vmap_randomness!r}.")
        self.n_agents = int(n_agents)
        self.centralized = centralized
        self.share_params = share_params
        self.agent_dim = agent_dim
        self.use_td_params = use_td_params
        self._vmap_randomness = vmap_randomness
        self._net_kwargs = dict(kwargs)
        # Where and in what dtype a lazy network is built on its first call; moved with the module.
        self.__dict__["_lazy_device"] = kwargs.get("device")
        self.__dict__["_lazy_dtype"] = None
        self.initialized = False
        if self._input_size is None:
            self._store([])
        else:
            self._materialize(kwargs.get("device"), None)

    # -- what a subclass provides ---------------------------------------------------------------

    @abc.abstractmethod
    def _build_single_net(self, *, device: Any, **kwargs: Any) -> nn.Module:
        """One agent's network, freshly initialised, with the known input size."""

    @abc.abstractmethod
    def _input_check(self, x: torch.Tensor) -> None:
        """Raise ``ValueError`` for an input of the wrong shape."""

    @abc.abstractmethod
    def _input_size_of(self, x: torch.Tensor) -> int:
        """The per-agent input size a lazy network takes from its first input."""

    @abc.abstractmethod
    def _set_input_size(self, size: int) -> None:
        """Record the input size found by a lazy network (first call or checkpoint)."""

    @property
    @abc.abstractmethod
    def _input_size(self) -> int | None:
        """The per-agent input size, or None while lazy."""

    def _pre_forward_check(self, x: torch.Tensor) -> torch.Tensor:
        """The input checked, agents flattened into the features when centralised."""
        self._input_check(x)
        if self.centralized:
            x = x.flatten(self.agent_dim, self.agent_dim + 1)
        return x

    # -- construction ---------------------------------------------------------------------------

    @property
    def vmap_randomness(self) -> str:
        """The ``randomness`` the agents' vmap runs with."""
        return self._vmap_randomness if self.initialized else "same"

    def _materialize(self, device: Any, dtype: torch.dtype | None) -> None:
        """Build every agent's network (the input size is known) and store their parameters."""
        kwargs = {k: v for k, v in self._net_kwargs.items() if k != "device"}
        with torch.inference_mode(False):
            nets = [self._build_single_net(device=device, **kwargs)
                    for _ in range(1 if self.share_params else self.n_agents)]
            if dtype is not None:
                nets = [net.to(dtype) for net in nets]
            # The architecture without its tensors: the forward pass swaps the real ones in. Not
            # registered: it holds no state, and .to()/.double() need not touch it.
            self.__dict__["_skeleton"] = copy.deepcopy(nets[0]).to("meta")
            self.__dict__["_skeleton"].train(self.training)
            self._store(nets)
        self.initialized = True

    def _store(self, nets: list[nn.Module]) -> None:
        """Keep the parameters of ``nets`` (stacked on a leading agent dim unless shared) as
        ``params`` or in ``_empty_net``, by ``use_td_params``."""
        tensors = _stacked_tensors(nets, stack=not self.share_params)
        if self.use_td_params:
            self.params = _td_params(tensors, self._batch_size)
        else:
            holder = copy.deepcopy(nets[0]) if nets else nn.Module()
            for name, tensor in tensors.items():
                _place(holder, name, tensor)
            self._empty_net = holder

    @property
    def _batch_size(self) -> torch.Size:
        return torch.Size([] if self.share_params else [self.n_agents])

    def _storage(self) -> nn.Module:
        return self._modules["params"] if self.use_td_params else self._modules["_empty_net"]

    def _tensors(self) -> dict[str, torch.Tensor]:
        """The parameters and buffers, by their name in one agent's network."""
        storage = self._storage()
        return {**dict(storage.named_parameters()), **dict(storage.named_buffers())}

    def __getattr__(self, name: str) -> Any:
        if name == "params" and not self.__dict__.get("use_td_params", True) and "_empty_net" in self._modules:
            # use_td_params=False: a TensorDict view of the tensors held by _empty_net.
            return _td_view(self._tensors(), self._batch_size)
        if name == "_empty_net" and self.__dict__.get("use_td_params", True):
            return self._parameter_free_net()
        return super().__getattr__(name)

    def _parameter_free_net(self) -> nn.Module:
        """torchrl's ``_empty_net`` with ``use_td_params=True``: one agent's architecture on the
        ``meta`` device, into which ``params.to_module(net)`` swaps the real tensors (the forward
        pass uses it the same way). Not a registered submodule, so it adds nothing to
        ``state_dict``, ``named_modules`` or ``.to()``."""
        skeleton = self.__dict__.get("_skeleton")
        if skeleton is None:
            raise AttributeError(f"{type(self).__name__}._empty_net is built with the per-agent networks, at the "
                                 "first call of a lazy network: call the module once first.")
        return skeleton

    @staticmethod
    def vmap_func_module(module: nn.Module, *args: Any, **kwargs: Any) -> Callable[..., Any]:
        """torchrl's helper: ``torch.vmap`` (with ``args``/``kwargs`` as its ``in_dims``,
        ``out_dims``, ``randomness``...) of ``f(params, *inputs)``, which runs ``module(*inputs)``
        with the TensorDict ``params`` swapped into ``module`` (``params.to_module``). With
        ``net.params`` stacked over the agents, ``vmap_func_module(net._empty_net, (0, -2),
        (-2,))(net.params, x)`` is what ``net(x)`` computes."""

        def run_with(params: TensorDict, *inputs: Any) -> Any:
            with params.to_module(module):
                return module(*inputs)

        return torch.vmap(run_with, *args, **kwargs)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise the parameters again, each agent's network on its own (as at construction)."""
        if not self.initialized:
            return
        tensors = self._tensors()
        first = next(iter(tensors.values()), None)
        device = first.device if first is not None else None
        kwargs = {k: v for k, v in self._net_kwargs.items() if k != "device"}
        for agent in range(1 if self.share_params else self.n_agents):
            net = self._build_single_net(device=device, **kwargs)
            fresh = {**dict(net.named_parameters()), **dict(net.named_buffers())}
            for name, tensor in tensors.items():
                (tensor if self.share_params else tensor[agent]).copy_(fresh[name])

    def get_stateful_net(self, copy: bool = True) -> nn.Module:
        """One agent's network architecture holding this module's (stacked) parameters, the same
        tensor objects: initialise them in place with ``torch.nn.init`` (``net.apply(init)``).
        It is not callable as is when the parameters are stacked. ``copy=False`` puts them in
        the internal copy of the architecture itself instead of a new copy, as torchrl does (the
        forward pass swaps this module's tensors in either way)."""
        self._require_initialized("get_stateful_net")
        skeleton = self.__dict__["_skeleton"]
        net = _deepcopy_module(skeleton) if copy else skeleton
        for name, tensor in self._tensors().items():
            _place(net, name, tensor)
        return net

    @torch.no_grad()
    def from_stateful_net(self, stateful_net: nn.Module) -> None:
        """Copy the parameters of ``stateful_net`` (for instance one from :meth:`get_stateful_net`
        re-initialised out of place) into this module's; the names must be the same."""
        self._require_initialized("from_stateful_net")
        given = {**dict(stateful_net.named_parameters()), **dict(stateful_net.named_buffers())}
        mine = self._tensors()
        if set(given) != set(mine):
            raise RuntimeError(f"The keys of params and provided module differ: {sorted(set(mine) - set(given))} are "
                               f"in self.params and not in the module, {sorted(set(given) - set(mine))} are in the "
                               "module but not in self.params.")
        for name, tensor in mine.items():
            tensor.copy_(given[name])

    def _require_initialized(self, what: str) -> None:
        if not self.initialized:
            raise RuntimeError(f"{type(self).__name__}.{what}() needs the parameters, which a lazy network creates "
                               "on its first call: call the module once first.")

    # -- module plumbing ------------------------------------------------------------------------

    def train(self, mode: bool = True) -> MultiAgentNetBase:
        """Set the training mode, of the per-agent network too (dropout, normalisation layers)."""
        super().train(mode)
        if "_skeleton" in self.__dict__:
            self.__dict__["_skeleton"].train(mode)
        return self

    def _apply(self, fn: Callable[[torch.Tensor], torch.Tensor], recurse: bool = True) -> MultiAgentNetBase:
        """``.to()``, ``.double()``, ``.cuda()``, ...: as for any module, and the TensorDict of the
        parameters stays the view of the tensors the module holds (a new device such as ``meta``
        replaces the parameter objects, which ``TensorDictParams`` alone would not follow)."""
        probe = fn(torch.empty(0, device=self.__dict__["_lazy_device"], dtype=self.__dict__["_lazy_dtype"]))
        self.__dict__["_lazy_device"], self.__dict__["_lazy_dtype"] = probe.device, probe.dtype
        if not self.use_td_params:
            return super()._apply(fn, recurse)
        params = self._modules.pop("params")
        try:
            super()._apply(fn, recurse)
        finally:
            self._modules["params"] = params
        self._modules["params"] = _td_params(_applied(params, fn), self._batch_size)
        return self

    def _load_from_state_dict(self, state_dict: dict[str, Any], prefix: str, *args: Any, **kwargs: Any) -> None:
        """A lazy network loading a checkpoint takes its input size from it, then loads it."""
        if not self.initialized:
            size = self._input_size_from_state(state_dict, prefix)
            if size is not None:
                self._set_input_size(size)
                self._materialize(self.__dict__["_lazy_device"], self.__dict__["_lazy_dtype"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _input_size_from_state(self, state_dict: dict[str, Any], prefix: str) -> int | None:
        """The per-agent input size of a checkpoint: dim 1 of its first layer's weight (``[out, in,
        ...]`` for linear and convolutional layers), divided by ``n_agents`` when centralised."""
        start = prefix + ("params." if self.use_td_params else "_empty_net.")
        for name, tensor in state_dict.items():
            if name.startswith(start) and name.rsplit(".", 1)[-1].startswith("weight"):
                per_agent = tensor.shape if self.share_params else tensor.shape[1:]
                if len(per_agent) < 2:
                    return None
                size = int(per_agent[1])
                return size // self.n_agents if self.centralized else size
        return None

    # -- forward --------------------------------------------------------------------------------

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``[*B, n_agents, ...] -> [*B, n_agents, n_agent_outputs]``: each agent's network on its
        own input (or, centralised, on every agent's); several inputs are concatenated on the
        last dim first. The shapes of each subclass are in its ``forward``."""
        if not inputs:
            raise TypeError(f"{type(self).__name__}.forward needs at least one input tensor.")
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, -1)
        if not self.initialized:
            self._input_check(x)
            self._set_input_size(self._input_size_of(x))
            self._materialize(self.__dict__["_lazy_device"], self.__dict__["_lazy_dtype"])
        x = self._pre_forward_check(x)
        net = self.__dict__["_skeleton"]
        tensors = self._tensors()
        if self.share_params:
            out = functional_call(net, tensors, (x,))
            if self.centralized:
                out = out.unsqueeze(-2).expand(*out.shape[:-1], self.n_agents, out.shape[-1])
        else:

            def one_agent(agent_tensors: dict[str, torch.Tensor], agent_input: torch.Tensor) -> torch.Tensor:
                return functional_call(net, agent_tensors, (agent_input,))

            in_dims = (0, None if self.centralized else self.agent_dim)
            out = torch.vmap(one_agent, in_dims=in_dims, out_dims=-2, randomness=self.vmap_randomness)(tensors, x)
        if out.ndim < 2 or out.shape[-2] != self.n_agents:
            raise ValueError(f"{type(self).__name__} expected an output with shape[-2] = n_agents = {self.n_agents}, "
                             f"but got {list(out.shape)}: the per-agent network must return [*B, features].")
        return out

    # -- printing -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        kind = self._net_name
        if "_skeleton" in self.__dict__:
            net = repr(self.__dict__["_skeleton"]).replace("\n", "\n  ")
        else:
            net = "(lazy: built on the first call, when the input size is known)"
        if self.share_params:
            layout = f"one {kind} shared by every agent"
        else:
            layout = (f"{self.n_agents} {kind}s, one per agent, parameters stacked on a leading dim of "
                      f"{self.n_agents}")
        return (f"{type(self).__name__}(\n  n_agents={self.n_agents}, {self._size_text()}, "
                f"share_params={self.share_params}, centralized={self.centralized}, agent_dim={self.agent_dim},\n"
                f"  {layout}; each agent's {kind}:\n  {net}\n)")

    _net_name = "network"

    def _size_text(self) -> str:
        return ""


class MultiAgentMLP(MultiAgentNetBase):
    """An MLP per agent, applied along the agent dim of ``[*B, n_agents, n_agent_inputs]`` inputs.

    Each agent's network is ``MLP(in_features, n_agent_outputs, depth=depth, num_cells=num_cells,
    activation_class=activation_class, **mlp_kwargs)`` with ``in_features = n_agent_inputs``, or
    ``n_agent_inputs * n_agents`` when centralised. As in torchrl 0.14, leaving out both
    ``depth`` and ``num_cells`` gives a single linear layer.

    ======================  ===============  ===================================================
    ``share_params``        ``centralized``  computation
    ======================  ===============  ===================================================
    ``True``                ``False``        one MLP, applied to each agent's own input
    ``True``                ``True``         one MLP on the flattened ``[*B, n_agents * in]``
                                             input; its output is expanded to every agent
                                             (identical outputs, a view)
    ``False``               ``False``        ``n_agents`` MLPs (run with ``torch.vmap``); agent
                                             ``i`` sees only its own input
    ``False``               ``True``         ``n_agents`` MLPs, each seeing the flattened input
    ======================  ===============  ===================================================

    Without shared parameters each agent's MLP is initialised on its own (different weights);
    :meth:`reset_parameters` draws them again, agent by agent. The parameters are
    ``self.params``, a :class:`~tensordict.nn.TensorDictParams` named as the per-agent MLP with
    a leading ``n_agents`` dim when not shared (``net.params["0", "weight"]`` is
    ``[n_agents, out, in]``; ``state_dict`` key ``"params.0.weight"``).

    Args:
        n_agent_inputs (int or None): input features per agent (the last dim of the input);
            None: taken from the first input (lazy).
        n_agent_outputs (int): output features per agent.
        n_agents (int): number of agents (the second-to-last dim of the input).

    Keyword Args:
        centralized (bool): whether each agent sees every agent's input (required;
            ``centralised=`` is accepted as well).
        share_params (bool): whether all agents use the same weights (required).
        device (torch.device, optional): where to create the parameters.
        depth (int, optional): hidden layers of each agent's MLP.
        num_cells (int or sequence of int, optional): hidden sizes of each agent's MLP.
        activation_class (type or callable, optional): the activation. Defaults to ``nn.Tanh``.
        use_td_params (bool, optional): keep the parameters in ``self.params`` (True, default)
            or in ``self._empty_net`` (False); the two give different ``state_dict`` names.
        **mlp_kwargs: any other :class:`~rldsl.modules.MLP` argument (``dropout``,
            ``norm_class``, ``activate_last_layer``, ...).

    One module object should not be called from several threads at once: each call swaps
    the parameters into the shared parameter-free copy for its duration (as
    :func:`torch.func.functional_call` does). Separate processes, or a copy per thread, are fine.

    Examples:
        >>> import torch
        >>> from rldsl.modules import MultiAgentMLP
        >>> net = MultiAgentMLP(8, 4, n_agents=3, centralized=False, share_params=False,
        ...                     depth=2, num_cells=32)
        >>> net(torch.randn(5, 3, 8)).shape
        torch.Size([5, 3, 4])
        >>> net.params["0", "weight"].shape  # stacked on a leading agent dim
        torch.Size([3, 32, 8])
        >>> list(net.state_dict())[:2]
        ['params.0.weight', 'params.0.bias']
        >>> shared = MultiAgentMLP(8, 4, 3, centralized=True, share_params=True)
        >>> out = shared(torch.randn(5, 3, 8))
        >>> torch.equal(out[:, 0], out[:, 2])  # one centralised output for every agent
        True
        >>> lazy = MultiAgentMLP(None, 4, 3, centralized=False, share_params=False)
        >>> lazy(torch.randn(5, 3, 6)).shape, lazy.n_agent_inputs
        (torch.Size([5, 3, 4]), 6)
    """

    _net_name = "MLP"

    def __init__(
        self,
        n_agent_inputs: int | None,
        n_agent_outputs: int,
        n_agents: int,
        *,
        centralized: bool | None = None,
        share_params: bool | None = None,
        device: torch.device | str | int | None = None,
        depth: int | None = None,
        num_cells: int | Sequence[int] | None = None,
        activation_class: type[nn.Module] | Callable = nn.Tanh,
        use_td_params: bool = True,
        **mlp_kwargs: Any,
    ) -> None:
        if n_agent_inputs is not None:
            _check_size(n_agent_inputs, "n_agent_inputs")
        _check_size(n_agent_outputs, "n_agent_outputs")
        _check_size(n_agents, "n_agents")
        for name in ("in_features", "out_features"):
            if name in mlp_kwargs:
                raise TypeError(f"MultiAgentMLP sets the MLP's {name} itself; pass n_agent_inputs and "
                                f"n_agent_outputs instead of {name}=.")
        self.n_agent_inputs = None if n_agent_inputs is None else int(n_agent_inputs)
        self.n_agent_outputs = int(n_agent_outputs)
        self.depth = depth
        self.num_cells = num_cells
        self.activation_class = activation_class
        self.mlp_kwargs = {k: v for k, v in mlp_kwargs.items() if k != "centralised"}
        super().__init__(n_agents=n_agents, centralized=centralized, share_params=share_params, agent_dim=-2,
                         use_td_params=use_td_params, device=device, **mlp_kwargs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``input: [*B, n_agents, n_agent_inputs] -> [*B, n_agents, n_agent_outputs]``.

        Several inputs are concatenated on the last dim first (their sizes sum to
        ``n_agent_inputs``). Centralised, each agent's MLP reads the flattened
        ``[*B, n_agents * n_agent_inputs]``; shared and centralised, the one output
        ``[*B, n_agent_outputs]`` is expanded over the agent dim (a view).
        """
        return super().forward(*inputs)

    def _build_single_net(self, *, device: Any, **kwargs: Any) -> nn.Module:
        assert self.n_agent_inputs is not None
        in_features = self.n_agent_inputs * (self.n_agents if self.centralized else 1)
        return MLP(in_features=in_features, out_features=self.n_agent_outputs, depth=self.depth,
                   num_cells=self.num_cells, activation_class=self.activation_class, device=device, **kwargs)

    def _input_check(self, x: torch.Tensor) -> None:
        size = self.n_agent_inputs
        if x.ndim < 2 or x.shape[-2] != self.n_agents or (size is not None and x.shape[-1] != size):
            shown = "n_agent_inputs" if size is None else size
            raise ValueError(
                f"MultiAgentMLP expects an input of shape [*B, n_agents, n_agent_inputs] = "
                f"[*B, {self.n_agents}, {shown}], but got {list(x.shape)}."
            )

    def _input_size_of(self, x: torch.Tensor) -> int:
        return int(x.shape[-1])

    def _set_input_size(self, size: int) -> None:
        self.n_agent_inputs = size

    @property
    def _input_size(self) -> int | None:
        return self.n_agent_inputs

    def _size_text(self) -> str:
        return f"n_agent_inputs={self.n_agent_inputs}, n_agent_outputs={self.n_agent_outputs}"


class MultiAgentConvNet(MultiAgentNetBase):
    """A ConvNet per agent, applied along the agent dim of ``[*B, n_agents, C, H, W]`` images.

    Each agent's network is ``ConvNet(in_features, num_cells=num_cells, kernel_sizes=...,
    strides=..., paddings=..., activation_class=..., **kwargs)`` with ``in_features = C``, or
    ``C * n_agents`` when centralised (the agents' images stacked on the channels). With
    torchrl's defaults (three layers of 32 channels, kernels 5, strides 2, no padding, ELU, the
    output flattened) each agent gives ``32 * H' * W'`` features. The layouts of
    ``share_params`` and ``centralized`` are those of :class:`MultiAgentMLP`; the parameters are
    ``self.params`` (``"params.0.weight"`` is ``[n_agents, out, in, k, k]`` when not shared).

    Args:
        n_agents (int): number of agents (dim -4 of the input).
        centralized (bool): whether each agent sees every agent's image (required; ``centralised=``
            is accepted too).
        share_params (bool): whether all agents use the same weights (required).

    Keyword Args:
        in_features (int, optional): channels per agent (dim -3 of the input); None: taken
            from the first input (lazy).
        device (torch.device, optional): where to create the parameters.
        num_cells (int or sequence of int, optional): channels of each layer (ConvNet's default
            when None).
        kernel_sizes, strides, paddings (int or sequence): per layer, or one for all. Default
            ``5``, ``2``, ``0``.
        activation_class (type): the activation. Defaults to ``nn.ELU``.
        use_td_params (bool): as :class:`MultiAgentMLP`'s.
        **kwargs: any other ConvNet argument (``norm_class``, ``aggregator_class``, ...).

    Examples:
        >>> import torch
        >>> from rldsl.modules import MultiAgentConvNet
        >>> cnn = MultiAgentConvNet(4, centralized=False, share_params=False, in_features=3)
        >>> cnn(torch.randn(2, 4, 3, 32, 32)).shape  # 32x32 -> 14 -> 5 -> 1
        torch.Size([2, 4, 32])
        >>> cnn.params["0", "weight"].shape
        torch.Size([4, 32, 3, 5, 5])
    """

    _net_name = "ConvNet"

    def __init__(
        self,
        n_agents: int,
        centralized: bool | None = None,
        share_params: bool | None = None,
        *,
        in_features: int | None = None,
        device: torch.device | str | int | None = None,
        num_cells: Sequence[int] | int | None = None,
        kernel_sizes: Sequence[int | Sequence[int]] | int = 5,
        strides: Sequence[int] | int = 2,
        paddings: Sequence[int] | int = 0,
        activation_class: type[nn.Module] = nn.ELU,
        use_td_params: bool = True,
        **kwargs: Any,
    ) -> None:
        if in_features is not None:
            _check_size(in_features, "in_features")
        _check_size(n_agents, "n_agents")
        self.in_features = None if in_features is None else int(in_features)
        self.num_cells = num_cells
        self.kernel_sizes = kernel_sizes
        self.strides = strides
        self.paddings = paddings
        self.activation_class = activation_class
        self.conv_kwargs = {k: v for k, v in kwargs.items() if k != "centralised"}
        super().__init__(n_agents=n_agents, centralized=centralized, share_params=share_params, agent_dim=-4,
                         use_td_params=use_td_params, device=device, **kwargs)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``input: [*B, n_agents, C, H, W] -> [*B, n_agents, features]`` (the per-agent ConvNet's
        output size). Centralised, each agent's ConvNet reads ``[*B, n_agents * C, H, W]``."""
        return super().forward(*inputs)

    def _build_single_net(self, *, device: Any, **kwargs: Any) -> nn.Module:
        assert self.in_features is not None
        in_features = self.in_features * (self.n_agents if self.centralized else 1)
        return ConvNet(in_features=in_features, num_cells=self.num_cells, kernel_sizes=self.kernel_sizes,
                       strides=self.strides, paddings=self.paddings, activation_class=self.activation_class,
                       device=device, **kwargs)

    def _input_check(self, x: torch.Tensor) -> None:
        channels = self.in_features
        if x.ndim < 4 or x.shape[-4] != self.n_agents or (channels is not None and x.shape[-3] != channels):
            shown = "C" if channels is None else channels
            raise ValueError(f"MultiAgentConvNet expects images of shape [*B, n_agents, C, H, W] = "
                             f"[*B, {self.n_agents}, {shown}, H, W], but got {list(x.shape)}.")

    def _input_size_of(self, x: torch.Tensor) -> int:
        return int(x.shape[-3])

    def _set_input_size(self, size: int) -> None:
        self.in_features = size

    @property
    def _input_size(self) -> int | None:
        return self.in_features

    def _size_text(self) -> str:
        return f"in_features={self.in_features}"


# ---------------------------------------------------------------------------------------------
# Helpers


def _centralized_argument(centralized: bool | None, kwargs: dict[str, Any], owner: str) -> bool:
    """``centralized``, or its alias ``centralised`` (popped from ``kwargs``); one is required."""
    if "centralised" in kwargs:
        alias = kwargs.pop("centralised")
        if centralized is not None and alias != centralized:
            raise TypeError(f"{owner} got centralized={centralized!r} and centralised={alias!r}; pass one.")
        centralized = alias
    if centralized is None:
        raise TypeError(f"{owner} needs centralized=True or centralized=False: whether each agent sees every "
                        "agent's input.")
    return centralized


def _check_size(value: Any, name: str) -> None:
    require_int(value, name, expected="a positive int", integral=True, suffix=".")
    require_positive(value, name, expected="a positive int", suffix=".")


def _stacked_tensors(nets: list[nn.Module], *, stack: bool) -> dict[str, torch.Tensor]:
    """The parameters (as new ``nn.Parameter`` s) and buffers of ``nets``, by name, stacked on a
    leading dim (or ``nets[0]``'s own when not stacked)."""
    if not nets:
        return {}
    out: dict[str, torch.Tensor] = {}
    for name, first in nets[0].named_parameters():
        values = [dict(net.named_parameters())[name].detach() for net in nets] if stack else [first.detach()]
        out[name] = nn.Parameter(torch.stack(values) if stack else values[0], requires_grad=first.requires_grad)
    for name, first in nets[0].named_buffers():
        out[name] = torch.stack([dict(net.named_buffers())[name] for net in nets]) if stack else first
    return out


def _td_params(tensors: dict[str, torch.Tensor], batch_size: torch.Size) -> TensorDictParams:
    """A ``TensorDictParams`` holding exactly ``tensors`` (parameters stay the same objects,
    other tensors are buffers), nested by the dotted names."""
    return TensorDictParams(_td_view(tensors, batch_size), no_convert=True)


def _td_view(tensors: dict[str, torch.Tensor], batch_size: torch.Size) -> TensorDict:
    """A TensorDict of ``tensors`` nested by their dotted names (``"0.weight"`` -> ``("0", "weight")``)."""
    return TensorDict(dict(tensors), batch_size=batch_size).unflatten_keys(".")


def _applied(params: TensorDictParams, fn: Callable[[torch.Tensor], torch.Tensor]) -> dict[str, torch.Tensor]:
    """``fn`` applied to the tensors of ``params`` the way ``nn.Module._apply`` applies it: a
    parameter is changed in place when the new tensor can share its type (so optimizers keep
    it), replaced by a new ``nn.Parameter`` otherwise (a move to ``meta``); buffers are replaced."""
    out: dict[str, torch.Tensor] = {}
    overwrite = torch.__future__.get_overwrite_module_params_on_conversion()
    for name, param in params.named_parameters():
        with torch.no_grad():
            new = fn(param)
        if torch._has_compatible_shallow_copy_type(param, new) and not overwrite:
            param.data = new
            kept = param
        else:
            kept = nn.Parameter(new, requires_grad=param.requires_grad)
        if param.grad is not None:
            with torch.no_grad():
                grad = fn(param.grad)
            kept.grad = grad
        out[name] = kept
    for name, buffer in params.named_buffers():
        out[name] = fn(buffer)
    return out


def _place(root: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Register ``tensor`` in ``root`` under the dotted ``name`` (submodules created on demand):
    as a parameter when it is one, else as a buffer."""
    *path, leaf = name.split(".")
    owner = root
    for part in path:
        child = owner._modules.get(part)
        if child is None:
            child = nn.Module()
            owner.add_module(part, child)
        owner = child
    owner._parameters.pop(leaf, None)
    owner._buffers.pop(leaf, None)
    owner.__dict__.pop(leaf, None)
    if isinstance(tensor, nn.Parameter):
        owner._parameters[leaf] = tensor
    else:
        owner._buffers[leaf] = tensor


def _deepcopy_module(module: nn.Module) -> nn.Module:
    try:
        return copy.deepcopy(module)
    except RuntimeError as error:
        raise RuntimeError("Failed to deepcopy the module, consider using copy=False.") from error
