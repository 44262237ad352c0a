"""Model-based TensorDict modules: :class:`RSSMRollout` (the RSSM over a time dim) and
:class:`WorldModelWrapper` (a transition model followed by a reward model).

Both mirror torchrl 0.14's classes of the same names: constructor arguments, default keys and
submodule names (``rssm_prior``/``rssm_posterior``; ``module.0``/``module.1``), so a torchrl
``state_dict`` loads unchanged.

The RSSM keys, as torchrl's Dreamer wires them (``*B`` batch dims, ``T`` the time dim)::

    prior:     state [*B, state_dim], belief [*B, rnn_hidden_dim], action [*B, A]
               -> ("next", "prior_mean"), ("next", "prior_std"), "_", ("next", "belief")
    posterior: ("next", "belief"), ("next", "encoded_latents") [*B, obs_embed_dim]
               -> ("next", "posterior_mean"), ("next", "posterior_std"), ("next", "state")
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase, TensorDictSequential
from tensordict.utils import NestedKey, unravel_key

from rldsl._checks import require_bool

__all__ = ["RSSMRollout", "WorldModelWrapper"]


def _require_td_module(module: Any, name: str, owner: str) -> None:
    """``module`` must be a tensordict module (it reads and writes keys)."""
    if not isinstance(module, TensorDictModuleBase):
        raise TypeError(
            f"{owner}: {name} must be a tensordict module (TensorDictModuleBase), got {type(module).__name__}; "
            f"wrap the network with TensorDictModule(net, in_keys=[...], out_keys=[...]).")


def _as_tuple(key: NestedKey) -> tuple[str, ...]:
    """A nested key as a tuple of strings (``"state"`` -> ``("state",)``)."""
    key = unravel_key(key)
    return key if isinstance(key, tuple) else (key,)


class RSSMRollout(TensorDictModuleBase):
    """Rolls the RSSM over the time dim: each step's posterior state is the next step's prior input.

    At each step ``t`` the prior reads ``state``, ``belief`` and ``action`` and writes the prior
    over the next state and the next belief under ``"next"``; the posterior reads the next belief
    and the next encoded observation and writes the posterior and the next ``state``. Step ``t + 1``
    then starts from step ``t``'s ``("next", "state")`` and ``("next", "belief")``: only the first
    step's ``state`` and ``belief`` (the primers) are read from the input. In general, every input
    key ``k`` of the prior whose ``("next", k)`` the two modules write is carried that way.
    Reference: https://arxiv.org/abs/1811.04551.

    Args:
        rssm_prior (TensorDictModule): the prior (e.g. an :class:`~rldsl.modules.RSSMPrior` wrapped
            with the keys above).
        rssm_posterior (TensorDictModule): the posterior (e.g. an :class:`~rldsl.modules.RSSMPosterior`).
        use_scan (bool, optional): torchrl's switch to ``torch._higher_order_ops.scan``; accepted,
            and the rollout runs the same steps in a Python loop either way. Defaults to ``False``.
        compile_step (bool, keyword-only, optional): compile one step (prior then posterior) with
            ``torch.compile`` at the first call. Defaults to ``False``.
        compile_backend (str, keyword-only, optional): ``torch.compile``'s backend. Defaults to
            ``"inductor"``.
        compile_mode (str, keyword-only, optional): ``torch.compile``'s mode. Defaults to ``None``.

    ``in_keys``/``out_keys`` are those of ``TensorDictSequential(rssm_prior, rssm_posterior)``.
    State dict: ``rssm_prior.module.*`` and ``rssm_posterior.module.*``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> from rldsl.modules import RSSMPosterior, RSSMPrior
    >>> from rldsl.specs import Bounded
    >>> prior = TensorDictModule(RSSMPrior(Bounded(-1.0, 1.0, shape=(2,)), 8, 8, 4, action_dim=2),
    ...     in_keys=["state", "belief", "action"],
    ...     out_keys=[("next", "prior_mean"), ("next", "prior_std"), "_", ("next", "belief")])
    >>> posterior = TensorDictModule(RSSMPosterior(8, 4, rnn_hidden_dim=8, obs_embed_dim=5),
    ...     in_keys=[("next", "belief"), ("next", "encoded_latents")],
    ...     out_keys=[("next", "posterior_mean"), ("next", "posterior_std"), ("next", "state")])
    >>> td = TensorDict({"state": torch.zeros(3, 7, 4), "belief": torch.zeros(3, 7, 8),
    ...     "action": torch.zeros(3, 7, 2), ("next", "encoded_latents"): torch.zeros(3, 7, 5)}, [3, 7])
    >>> RSSMRollout(prior, posterior)(td)["next", "state"].shape
    torch.Size([3, 7, 4])
    """

    def __init__(self, rssm_prior: TensorDictModuleBase, rssm_posterior: TensorDictModuleBase,
                 use_scan: bool = False, *, compile_step: bool = False, compile_backend: str = "inductor",
                 compile_mode: str | None = None) -> None:
        owner = type(self).__name__
        _require_td_module(rssm_prior, "rssm_prior", owner)
        _require_td_module(rssm_posterior, "rssm_posterior", owner)
        require_bool(use_scan, f"{owner} `use_scan`")
        require_bool(compile_step, f"{owner} `compile_step`")
        if not isinstance(compile_backend, str):
            raise TypeError(f"{owner}: compile_backend must be a str, got {compile_backend!r}; e.g. \"inductor\".")
        if compile_mode is not None and not isinstance(compile_mode, str):
            raise TypeError(f"{owner}: compile_mode must be a str or None, got {compile_mode!r}.")
        super().__init__()
        chain = TensorDictSequential(rssm_prior, rssm_posterior)
        self.in_keys = chain.in_keys
        self.out_keys = chain.out_keys
        self.rssm_prior = rssm_prior
        self.rssm_posterior = rssm_posterior
        self.use_scan = use_scan
        self.compile_step = compile_step
        self.compile_backend = compile_backend
        self.compile_mode = compile_mode
        self._carried = self._carried_keys()
        self._compiled_step: Any = None

    def _carried_keys(self) -> list[tuple[NestedKey, NestedKey]]:
        """``(k, ("next", k))`` for each prior input ``k`` whose next value the step writes."""
        written = {_as_tuple(key) for key in self.out_keys}
        carried = []
        for key in self.rssm_prior.in_keys:
            next_key = ("next", *_as_tuple(key))
            if next_key in written:
                carried.append((key, next_key))
        return carried

    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Roll out over the last batch dim: ``tensordict [*B, T] -> a new tensordict [*B, T]``.

        Reads ``state: [*B, T, state_dim]`` and ``belief: [*B, T, rnn_hidden_dim]`` (only their
        first step), ``action: [*B, T, A]`` and ``("next", "encoded_latents"): [*B, T, obs_embed_dim]``;
        the result holds every input entry (with ``state`` and ``belief`` from step 1 on replaced
        by the previous step's posterior state and belief) and, per step, ``("next", "prior_mean")``,
        ``("next", "prior_std")``, ``("next", "posterior_mean")``, ``("next", "posterior_std")``,
        ``("next", "state")``: ``[*B, T, state_dim]`` and ``("next", "belief"): [*B, T, rnn_hidden_dim]``.
        A missing ``belief`` primer is a zero belief (the GRU cell's default), recorded in the
        result. The input tensordict is not modified.
        """
        if tensordict.batch_dims < 1:
            raise ValueError("RSSMRollout needs a time dim: the tensordict's last batch dim, e.g. batch size [B, T]; "
                             "got a tensordict without batch dims.")
        steps = tensordict.exclude(*self.out_keys).unbind(tensordict.batch_dims - 1)
        outputs = []
        carry: dict[NestedKey, torch.Tensor] = {}
        for step in steps:
            for key, value in carry.items():
                step.set(key, value)
            step = self._step(step)
            outputs.append(step)
            carry = {key: step.get(next_key) for key, next_key in self._carried}
        self._record_missing_primers(outputs)
        return torch.stack(outputs, tensordict.batch_dims - 1)

    def _step(self, step: TensorDictBase) -> TensorDictBase:
        """One step, compiled at the first call when ``compile_step``.

        The compiled function takes the rollout as an argument (it holds no reference to it),
        so a deep copy of a rollout runs its own modules.
        """
        if not self.compile_step:
            return _run_step(self, step)
        if self._compiled_step is None:
            self._compiled_step = torch.compile(_run_step, backend=self.compile_backend, mode=self.compile_mode)
        return self._compiled_step(self, step)

    def _record_missing_primers(self, outputs: list[TensorDictBase]) -> None:
        """A carried key absent from the first step (no primer given) was zeros: write them there,
        so that every step holds the same keys."""
        first = outputs[0]
        for key, next_key in self._carried:
            if key not in first.keys(include_nested=True):
                first.set(key, torch.zeros_like(first.get(next_key)))


def _run_step(rollout: RSSMRollout, step: TensorDictBase) -> TensorDictBase:
    """The prior, then the posterior, on one step's tensordict (written in place)."""
    rollout.rssm_prior(step)
    rollout.rssm_posterior(step)
    return step


class WorldModelWrapper(TensorDictSequential):
    """A world model: a transition model, then a reward model that reads the state it writes.

    The transition model maps an observation to a world state, or a world state to the next
    one (for Dreamer: the pixel encoder, :class:`RSSMRollout` and the pixel decoder); the reward
    model reads that state and writes the reward. Shapes are the two modules', on one tensordict
    ``[*B]`` (``[*B, T]`` with a time dim), e.g. ``("next", "pixels"): [*B, T, 3, 64, 64] ->
    ("next", "state"): [*B, T, state_dim] -> ("next", "reward"): [*B, T, 1]``.

    Args:
        transition_model (TensorDictModule): writes the (next) world state.
        reward_model (TensorDictModule): reads the world state, writes the reward.

    State dict: ``module.0.*`` (the transition model) and ``module.1.*`` (the reward model).

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> transition = TensorDictModule(torch.nn.Linear(3, 3), ["state"], [("next", "state")])
    >>> reward = TensorDictModule(torch.nn.Linear(3, 1), [("next", "state")], [("next", "reward")])
    >>> world = WorldModelWrapper(transition, reward)
    >>> world(TensorDict(state=torch.zeros(5, 3), batch_size=[5]))["next", "reward"].shape
    torch.Size([5, 1])
    >>> world.get_reward_operator() is reward
    True
    """

    def __init__(self, transition_model: TensorDictModuleBase, reward_model: TensorDictModuleBase) -> None:
        owner = type(self).__name__
        _require_td_module(transition_model, "transition_model", owner)
        _require_td_module(reward_model, "reward_model", owner)
        super().__init__(transition_model, reward_model)

    def get_transition_model_operator(self) -> TensorDictModuleBase:
        """The transition model (``module[0]``): an observation or a world state to the next world state."""
        return self.module[0]

    def get_reward_operator(self) -> TensorDictModuleBase:
        """The reward model (``module[1]``): a world state to its reward."""
        return self.module[1]
