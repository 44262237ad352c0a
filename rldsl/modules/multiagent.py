"""Multi-agent networks: :class:`MultiAgentMLP`, one MLP per agent (or one shared) along an agent dim.

The per-agent parameters are stacked on a leading agent dim and kept as ordinary registered
``nn.Parameter`` s under ``params``, named as in the per-agent :class:`~rldsl.modules.MLP`
(``"params.0.weight"`` of shape ``[n_agents, out, in]``, as torchrl's ``TensorDictParams``
names them), so ``state_dict``, ``.to(...)``, ``.double()``, optimizers and
``torch.load(..., weights_only=True)`` work as for any module. The forward pass runs one
parameter-free copy of the MLP (on the ``meta`` device) with :func:`torch.func.functional_call`,
under :func:`torch.vmap` over the agent dim when the agents do not share parameters.
"""

from __future__ import annotations

import copy
from typing import Any, Callable

import torch
from torch import nn
from torch.func import functional_call

from rldsl._checks import require_int, require_positive
from rldsl.modules.models import MLP
from rldsl.modules.utils import check_flag

__all__ = ["MultiAgentMLP"]


class MultiAgentMLP(nn.Module):
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
    :meth:`reset_parameters` draws them again, agent by agent. The parameters live under
    ``params`` with a leading ``n_agents`` dim when not shared (``params.0.weight`` is
    ``[n_agents, out, in]``) and without it when shared.

    Args:
        n_agent_inputs (int): input features per agent (the last dim of the input). torchrl
            accepts ``None`` (lazy layers); rldsl has no lazy multi-agent layers and refuses it
            with a ``ValueError`` — the compiler always knows and passes the size.
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
        use_td_params (bool, optional): accepted for torchrl compatibility and ignored: the
            parameters are always registered under ``params``. Defaults to ``True``.
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
        >>> net.state_dict()["params.0.weight"].shape  # stacked on a leading agent dim
        torch.Size([3, 32, 8])
        >>> shared = MultiAgentMLP(8, 4, 3, centralized=True, share_params=True)
        >>> out = shared(torch.randn(5, 3, 8))
        >>> torch.equal(out[:, 0], out[:, 2])  # one centralised output for every agent
        True
    """

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
        num_cells: int | list[int] | None = None,
        activation_class: type[nn.Module] | Callable = nn.Tanh,
        use_td_params: bool = True,
        **mlp_kwargs: Any,
    ) -> None:
        super().__init__()
        centralized = _centralized_argument(centralized, mlp_kwargs)
        if share_params is None:
            raise TypeError("MultiAgentMLP needs share_params=True or share_params=False: whether all agents "
                            "use the same weights.")
        check_flag(centralized, "centralized")
        check_flag(share_params, "share_params")
        check_flag(use_td_params, "use_td_params")
        if n_agent_inputs is None:
            raise ValueError(
                "n_agent_inputs=None (lazy layers) is not supported by rldsl's MultiAgentMLP; pass the "
                "number of input features per agent (the last dim of the input)."
            )
        _check_size(n_agent_inputs, "n_agent_inputs")
        _check_size(n_agent_outputs, "n_agent_outputs")
        _check_size(n_agents, "n_agents")
        for name in ("in_features", "out_features"):
            if name in mlp_kwargs:
                raise TypeError(f"MultiAgentMLP sets the MLP's {name} itself; pass n_agent_inputs and "
                                f"n_agent_outputs instead of {name}=.")
        self.n_agent_inputs = int(n_agent_inputs)
        self.n_agent_outputs = int(n_agent_outputs)
        self.n_agents = int(n_agents)
        self.centralized = centralized
        self.share_params = share_params
        self.depth = depth
        self.num_cells = num_cells
        self.activation_class = activation_class
        self.use_td_params = use_td_params
        self.mlp_kwargs = dict(mlp_kwargs)
        in_features = self.n_agent_inputs * (self.n_agents if centralized else 1)
        self._mlp_args: dict[str, Any] = dict(
            in_features=in_features, out_features=self.n_agent_outputs, depth=depth,
            num_cells=num_cells, activation_class=activation_class, **mlp_kwargs,
        )
        nets = [self._new_net(device) for _ in range(1 if share_params else self.n_agents)]
        # The architecture without its tensors: the forward pass swaps the real ones in. Not
        # registered (it holds no state; .to()/.double() need not touch it).
        self.__dict__["_empty_net"] = copy.deepcopy(nets[0]).to("meta")
        self.params = _stacked(nets, stack=not share_params)

    # -- construction ---------------------------------------------------------------------------

    def _new_net(self, device: Any) -> MLP:
        """One freshly initialised per-agent MLP."""
        return MLP(**self._mlp_args, device=device)

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """Initialise the parameters again, each agent's MLP on its own (as at construction)."""
        tensors = self._tensors()
        if not tensors:
            return
        first = next(iter(tensors.values()))
        for agent in range(1 if self.share_params else self.n_agents):
            net = self._new_net(first.device)
            fresh = {**dict(net.named_parameters()), **dict(net.named_buffers())}
            for name, tensor in tensors.items():
                (tensor if self.share_params else tensor[agent]).copy_(fresh[name])

    def train(self, mode: bool = True) -> MultiAgentMLP:
        """Set the training mode, of the per-agent MLP too (dropout, normalisation layers)."""
        super().train(mode)
        self.__dict__["_empty_net"].train(mode)
        return self

    # -- forward --------------------------------------------------------------------------------

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``input: [*B, n_agents, n_agent_inputs] -> [*B, n_agents, n_agent_outputs]``.

        Several inputs are concatenated on the last dim first (their sizes sum to
        ``n_agent_inputs``). Centralised, each agent's MLP reads the flattened
        ``[*B, n_agents * n_agent_inputs]``; shared and centralised, the one output
        ``[*B, n_agent_outputs]`` is expanded over the agent dim (a view).
        """
        if not inputs:
            raise TypeError("MultiAgentMLP.forward needs at least one input tensor.")
        x = inputs[0] if len(inputs) == 1 else torch.cat(inputs, -1)
        self._check_input(x)
        if self.centralized:
            x = x.flatten(-2, -1)
        tensors = self._tensors()
        net = self.__dict__["_empty_net"]
        if self.share_params:
            out = functional_call(net, tensors, (x,))
            if self.centralized:
                out = out.unsqueeze(-2).expand(*out.shape[:-1], self.n_agents, out.shape[-1])
            return out

        def one_agent(agent_tensors: dict[str, torch.Tensor], agent_input: torch.Tensor) -> torch.Tensor:
            return functional_call(net, agent_tensors, (agent_input,))

        in_dims = (0, None if self.centralized else -2)
        return torch.vmap(one_agent, in_dims=in_dims, out_dims=-2, randomness="different")(tensors, x)

    def _check_input(self, x: torch.Tensor) -> None:
        if x.ndim < 2 or x.shape[-2] != self.n_agents or x.shape[-1] != self.n_agent_inputs:
            raise ValueError(
                f"MultiAgentMLP expects an input of shape [*B, n_agents, n_agent_inputs] = "
                f"[*B, {self.n_agents}, {self.n_agent_inputs}], but got {list(x.shape)}."
            )

    def _tensors(self) -> dict[str, torch.Tensor]:
        """The parameters and buffers, by their name in the per-agent MLP."""
        return {**dict(self.params.named_parameters()), **dict(self.params.named_buffers())}

    def __repr__(self) -> str:
        net = repr(self.__dict__["_empty_net"]).replace("\n", "\n  ")
        if self.share_params:
            layout = "one MLP shared by every agent"
        else:
            layout = f"{self.n_agents} MLPs, one per agent, parameters stacked on a leading dim of {self.n_agents}"
        return (
            f"{type(self).__name__}(\n"
            f"  n_agents={self.n_agents}, n_agent_inputs={self.n_agent_inputs}, "
            f"n_agent_outputs={self.n_agent_outputs}, share_params={self.share_params}, "
            f"centralized={self.centralized},\n"
            f"  {layout}; each agent's MLP:\n"
            f"  {net}\n)"
        )


def _centralized_argument(centralized: bool | None, mlp_kwargs: dict[str, Any]) -> bool:
    """``centralized``, or its alias ``centralised``; one of them is required."""
    if "centralised" in mlp_kwargs:
        alias = mlp_kwargs.pop("centralised")
        if centralized is not None and alias != centralized:
            raise TypeError(f"MultiAgentMLP got centralized={centralized!r} and centralised={alias!r}; pass one.")
        centralized = alias
    if centralized is None:
        raise TypeError("MultiAgentMLP needs centralized=True or centralized=False: whether each agent sees "
                        "every agent's input.")
    return centralized


def _check_size(value: Any, name: str) -> None:
    require_int(value, name, expected="a positive int", integral=True, suffix=".")
    require_positive(value, name, expected="a positive int", suffix=".")


class AgentParams(nn.Module):
    """The parameters (and buffers) of a :class:`MultiAgentMLP`, in a module tree named like its
    per-agent MLP (``"0.weight"``, ...). It has no forward pass of its own."""


def _stacked(nets: list[nn.Module], *, stack: bool) -> AgentParams:
    """A parameter-only module tree named like ``nets[0]`` whose tensors are those of ``nets``
    stacked on a leading dim (or ``nets[0]``'s own when not stacked)."""
    root = AgentParams()
    states = [dict(net.named_parameters()) for net in nets]
    buffers = [dict(net.named_buffers()) for net in nets]
    for name in states[0]:
        values = [state[name].detach() for state in states]
        tensor = torch.stack(values) if stack else values[0]
        owner, leaf = _owner(root, name)
        owner.register_parameter(leaf, nn.Parameter(tensor, requires_grad=states[0][name].requires_grad))
    for name in buffers[0]:
        values = [state[name] for state in buffers]
        tensor = torch.stack(values) if stack else values[0]
        owner, leaf = _owner(root, name)
        owner.register_buffer(leaf, tensor)
    return root


def _owner(root: nn.Module, name: str) -> tuple[nn.Module, str]:
    """The (created on demand) submodule of ``root`` that holds the dotted ``name``, and the leaf name."""
    *path, leaf = name.split(".")
    owner = root
    for part in path:
        child = owner._modules.get(part)
        if child is None:
            child = AgentParams()
            owner.add_module(part, child)
        owner = child
    return owner, leaf
