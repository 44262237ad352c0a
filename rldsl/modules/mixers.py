"""Value mixers for cooperative multi-agent Q-learning: :class:`VDNMixer` and :class:`QMixer`.

A mixer turns the value each agent gives its chosen action, ``[*B, n_agents, 1]``, into one
joint value ``[*B, 1]`` (what a QMIX / VDN loss regresses onto the team's return). Both are
monotone in every agent's value, so each agent choosing its own greedy action also maximises the
joint value. As torchrl 0.14 (``torchrl.modules.QMixer``, ``VDNMixer``, on a ``Mixer`` base).
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from rldsl._checks import is_int, require_bool, require_int, require_positive, type_name

__all__ = ["Mixer", "QMixer", "VDNMixer"]


class Mixer(nn.Module, metaclass=abc.ABCMeta):
    """The base of every mixer: checks the shapes going in and out, and leaves the mixing to
    :meth:`mix`.

    Args:
        n_agents (int): number of agents (the second-to-last dim of the agents' values).
        needs_state (bool): whether the mixer reads a global state as its second input.
        state_shape (sequence of int or torch.Size): the state's shape without batch dims (empty
            when ``needs_state`` is False).
        device (torch.device, optional): where to create the parameters. torchrl requires it;
            rldsl defaults it to None (torch's default device).

    A subclass implements ``mix(chosen_action_value, state) -> [*B, 1]``; ``state`` is None for
    a mixer that does not read one.
    """

    def __init__(self, n_agents: int, needs_state: bool, state_shape: Sequence[int] | torch.Size | int,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        owner = type(self).__name__
        require_int(n_agents, f"{owner} n_agents", expected="a positive int", integral=True)
        require_positive(n_agents, f"{owner} n_agents", expected="a positive int")
        self.n_agents = int(n_agents)
        self.needs_state = require_bool(needs_state, f"{owner} needs_state")
        self.state_shape = _state_shape(state_shape, owner)
        self.device = device

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """``chosen_action_value: [*B, n_agents, 1]`` (and, for a mixer that needs it,
        ``state: [*B, *state_shape]``) ``-> [*B, 1]``: the joint value of the agents' chosen
        actions."""
        owner = type(self).__name__
        expected = 2 if self.needs_state else 1
        if len(inputs) != expected:
            what = "the agents' chosen action values and the state" if self.needs_state else \
                "the agents' chosen action values only (it reads no state)"
            raise ValueError(f"{owner} takes {expected} input{'s' if expected > 1 else ''}, {what}; got "
                             f"{len(inputs)}.")
        chosen_action_value = inputs[0]
        if not isinstance(chosen_action_value, torch.Tensor):
            raise TypeError(f"{owner} expects tensors, got {type_name(chosen_action_value)}.")
        if chosen_action_value.ndim < 2 or tuple(chosen_action_value.shape[-2:]) != (self.n_agents, 1):
            raise ValueError(f"{owner} expects chosen_action_value of shape [*B, n_agents, 1] = "
                             f"[*B, {self.n_agents}, 1], but got {list(chosen_action_value.shape)}.")
        batch = chosen_action_value.shape[:-2]
        state = inputs[1] if self.needs_state else None
        if state is not None:
            self._check_state(state, batch)
        output = self.mix(chosen_action_value, state)
        if output.shape != (*batch, 1):
            raise ValueError(f"{owner}.mix must return the joint value of shape [*B, 1] = {[*batch, 1]}, but "
                             f"returned {list(output.shape)}.")
        return output

    def _check_state(self, state: torch.Tensor, batch: torch.Size) -> None:
        owner = type(self).__name__
        if not isinstance(state, torch.Tensor):
            raise TypeError(f"{owner} expects the state as a tensor, got {type_name(state)}.")
        size = len(self.state_shape)
        if state.ndim < size or tuple(state.shape[state.ndim - size:]) != tuple(self.state_shape):
            raise ValueError(f"{owner} expects a state of shape [*B, *state_shape] = [*B, "
                             f"{', '.join(map(str, self.state_shape))}], but got {list(state.shape)}.")
        if state.shape[:state.ndim - size] != batch:
            raise ValueError(f"{owner} expects the state's batch dims to be those of chosen_action_value "
                             f"({list(batch)}), but got a state of shape {list(state.shape)}.")

    @abc.abstractmethod
    def mix(self, chosen_action_value: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """``[*B, n_agents, 1]`` (and ``[*B, *state_shape]``) ``-> [*B, 1]``: each mixer's own
        rule (a subclass without it cannot be made)."""

    def extra_repr(self) -> str:
        state = f", state_shape={list(self.state_shape)}" if self.needs_state else ""
        return f"n_agents={self.n_agents}{state}"


class VDNMixer(Mixer):
    """Value-decomposition network mixer (Sunehag et al., 2017): the joint value is the sum of
    the agents' values, ``[*B, n_agents, 1] -> [*B, 1]``. It has no parameters and reads no state.

    Args:
        n_agents (int): number of agents.
        device (torch.device, optional): accepted for torchrl compatibility (nothing is created).

    Examples:
        >>> import torch
        >>> from rldsl.modules import VDNMixer
        >>> vdn = VDNMixer(n_agents=3)
        >>> vdn(torch.tensor([[[1.0], [2.0], [4.0]]]))
        tensor([[7.]])
    """

    def __init__(self, n_agents: int, device: torch.device | str | int | None = None) -> None:
        super().__init__(n_agents=n_agents, needs_state=False, state_shape=torch.Size([]), device=device)

    def mix(self, chosen_action_value: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """``[*B, n_agents, 1] -> [*B, 1]``: the sum over the agent dim."""
        return chosen_action_value.sum(dim=-2)


class QMixer(Mixer):
    """QMIX mixer (Rashid et al., 2018): a two-layer mixing network whose weights a hypernetwork
    computes from the global state, made non-negative with ``abs`` so that the joint value is
    monotone in every agent's value.

    With ``s`` the state flattened to ``state_dim = prod(state_shape)`` features, ``q`` the
    agents' values as a row ``[1, n_agents]`` and ``E = mixing_embed_dim``::

        W1 = |hyper_w_1(s)|      viewed [n_agents, E]     b1 = hyper_b_1(s)      [1, E]
        h  = elu(q @ W1 + b1)                                                     [1, E]
        Wf = |hyper_w_final(s)|  viewed [E, 1]            V(s) = V(s)            [1, 1]
        Q_tot = h @ Wf + V(s)

    where ``V`` is ``Linear(state_dim, E) -> ReLU -> Linear(E, 1)``. The parameters are named as
    torchrl's (``hyper_w_1``, ``hyper_w_final``, ``hyper_b_1``, ``V.0``, ``V.2``), created in the
    same order, so torchrl checkpoints load and a seed gives the same weights.

    Args:
        state_shape (sequence of int or torch.Size): the state's shape without batch dims.
        mixing_embed_dim (int): the mixing network's hidden size ``E``.
        n_agents (int): number of agents.
        device (torch.device, optional): where to create the parameters (torchrl requires it;
            rldsl defaults it to None).

    Examples:
        >>> import torch
        >>> from rldsl.modules import QMixer
        >>> qmix = QMixer(state_shape=(8,), mixing_embed_dim=32, n_agents=3)
        >>> qmix(torch.randn(5, 3, 1), torch.randn(5, 8)).shape
        torch.Size([5, 1])
        >>> sorted(name for name, _ in qmix.named_parameters())[:3]
        ['V.0.bias', 'V.0.weight', 'V.2.bias']
    """

    def __init__(self, state_shape: Sequence[int] | torch.Size | int, mixing_embed_dim: int, n_agents: int,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__(n_agents=n_agents, needs_state=True, state_shape=state_shape, device=device)
        if not self.state_shape:
            raise ValueError("QMixer needs a state with at least one dim: state_shape is empty.")
        require_int(mixing_embed_dim, "QMixer mixing_embed_dim", expected="a positive int", integral=True)
        require_positive(mixing_embed_dim, "QMixer mixing_embed_dim", expected="a positive int")
        self.embed_dim = int(mixing_embed_dim)
        self.state_dim = math.prod(self.state_shape)
        embed, state_dim = self.embed_dim, self.state_dim
        # Created in torchrl's order, so that one seed draws the same weights.
        self.hyper_w_1 = nn.Linear(state_dim, embed * self.n_agents, device=device)
        self.hyper_w_final = nn.Linear(state_dim, embed, device=device)
        self.hyper_b_1 = nn.Linear(state_dim, embed, device=device)
        self.V = nn.Sequential(nn.Linear(state_dim, embed, device=device), nn.ReLU(),
                               nn.Linear(embed, 1, device=device))

    def mix(self, chosen_action_value: torch.Tensor, state: torch.Tensor | None) -> torch.Tensor:
        """``[*B, n_agents, 1]`` and ``[*B, *state_shape]`` ``-> [*B, 1]``."""
        assert state is not None
        batch = chosen_action_value.shape[:-2]
        rows = math.prod(batch)
        flat_state = state.reshape(rows, self.state_dim)
        values = chosen_action_value.reshape(rows, 1, self.n_agents)
        w_1 = self.hyper_w_1(flat_state).abs().view(rows, self.n_agents, self.embed_dim)
        b_1 = self.hyper_b_1(flat_state).view(rows, 1, self.embed_dim)
        hidden = F.elu(torch.baddbmm(b_1, values, w_1))
        w_final = self.hyper_w_final(flat_state).abs().view(rows, self.embed_dim, 1)
        v = self.V(flat_state).view(rows, 1, 1)
        return torch.baddbmm(v, hidden, w_final).view(*batch, 1)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, mixing_embed_dim={self.embed_dim}"


def _state_shape(value: Any, owner: str) -> torch.Size:
    """``state_shape`` as a ``torch.Size`` of positive sizes (an int ``n`` is ``(n,)``)."""
    items = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    try:
        sizes = tuple(items)
    except TypeError:
        raise TypeError(f"{owner} state_shape must be a sequence of positive ints, got {value!r}.") from None
    for size in sizes:
        if not is_int(size, integral=True) or size < 1:
            raise ValueError(f"{owner} state_shape must be a sequence of positive ints, got {value!r}.")
    return torch.Size(int(size) for size in sizes)
