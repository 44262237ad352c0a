"""Actors, value operators and joined actor-value models, as in ``torchrl.modules``.

- `Actor`: a deterministic policy (``observation -> action``), a `SafeModule`.
- `ProbabilisticActor`: a network writing distribution parameters followed by a
  `SafeProbabilisticModule` (``observation -> loc, scale -> action[, action_log_prob]``).
- `ValueOperator`: ``observation -> state_value``, or ``-> state_action_value`` when the
  action is an input.
- `ActorValueOperator`, `ActorCriticOperator`, `ActorCriticWrapper`: an actor and a value
  network run together, sharing a common trunk (the same modules, not copies) or not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tensordict import TensorDictBase
from tensordict.nn import (
    CompositeDistribution,
    ProbabilisticTensorDictModule,
    ProbabilisticTensorDictSequential,
    TensorDictModule,
    TensorDictModuleBase,
)
from tensordict.utils import NestedKey
from torch import nn

from rldsl.modules.distributions import Delta
from rldsl.modules.tensordict_module.common import LeanForwardMixin, SafeModule
from rldsl.modules.tensordict_module.probabilistic import (
    SafeProbabilisticModule,
    SafeProbabilisticTensorDictSequential,
)
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Composite, TensorSpec

__all__ = [
    "Actor",
    "ActorCriticOperator",
    "ActorCriticWrapper",
    "ActorValueOperator",
    "ProbabilisticActor",
    "ValueOperator",
]


def _key_list(keys: Any, name: str, owner: str) -> list:
    """``keys`` as a list of keys (a single str/tuple key is wrapped)."""
    if isinstance(keys, (str, tuple)):
        return [keys]
    if isinstance(keys, Sequence):
        return list(keys)
    raise TypeError(f"{owner} `{name}` must be a key or a list of keys, got {type(keys).__name__}")


def _require_td_module(module: Any, name: str, owner: str) -> None:
    if not isinstance(module, TensorDictModuleBase):
        raise TypeError(
            f"{owner} `{name}` must be a tensordict module (TensorDictModuleBase), got "
            f"{type(module).__name__}; wrap a network with TensorDictModule(net, in_keys=[...], out_keys=[...])"
        )


# --------------------------------------------------------------------------- Actor
class Actor(SafeModule):
    """A deterministic policy: ``module`` maps the observation to the action.

    Defaults: ``in_keys=["observation"]``, ``out_keys=["action"]``. A plain spec is the
    spec of ``"action"`` (when ``"action"`` is an out key) or of the single out key.
    ``safe=True`` projects the output into the spec, so the action written always lies in it.

    Shapes: ``observation: [*B, n_obs] -> action: [*B, d]`` as ``module`` maps them (e.g. an
    ``MLP(in_features=n_obs, out_features=d)``); projection keeps the shape.

    Args:
        module (nn.Module or callable): reads the ``in_keys`` tensors, returns one tensor
            per out key.
        in_keys, out_keys: keys read and written.

    Keyword Args:
        spec: the action's spec (or a `Composite` keyed by out keys).
        safe (bool): project outputs into their specs. Defaults to ``False``.
        inplace: as in `TensorDictModule`.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules import MLP
    >>> from rldsl.specs import Bounded
    >>> actor = Actor(MLP(in_features=3, out_features=1, num_cells=[16]),
    ...               spec=Bounded(-2.0, 2.0, shape=(1,)), safe=True)
    >>> td = actor(TensorDict(observation=torch.randn(4, 3) * 100, batch_size=[4]))
    >>> td["action"].shape, bool(td["action"].abs().max() <= 2)
    (torch.Size([4, 1]), True)
    """

    def __init__(
        self,
        module: nn.Module | Any,
        in_keys: Sequence[NestedKey] | NestedKey | None = None,
        out_keys: Sequence[NestedKey] | NestedKey | None = None,
        *,
        spec: TensorSpec | None = None,
        **kwargs: Any,
    ) -> None:
        in_keys = ["observation"] if in_keys is None else _key_list(in_keys, "in_keys", "Actor")
        out_keys = ["action"] if out_keys is None else _key_list(out_keys, "out_keys", "Actor")
        if "action" in out_keys and isinstance(spec, TensorSpec) and not isinstance(spec, Composite):
            wrapped = Composite()
            wrapped["action"] = spec
            spec = wrapped
        super().__init__(module, in_keys=in_keys, out_keys=out_keys, spec=spec, **kwargs)

    def get_dist(self, tensordict: TensorDictBase) -> Delta:
        """A `Delta` at the action the actor would take for ``tensordict``.

        Its ``log_prob`` is ``+inf`` at that action and ``-inf`` elsewhere (a point mass has
        no finite density). The actor runs on a shallow copy, so ``tensordict`` (and any
        action it already holds) is left unchanged.
        """
        key = self.out_keys[0]
        action = self(tensordict.copy()).get(key)
        leaf = self._spec.get(key)
        if leaf is None or isinstance(leaf, Composite):
            return Delta(action)
        event = leaf.shape
        return Delta(action, batch_shape=action.shape[: action.ndim - len(event)], event_shape=event)


# --------------------------------------------------------------------------- ProbabilisticActor
def _composite_out_keys(distribution_kwargs: Any) -> list:
    """The sample keys of a `CompositeDistribution`: its ``name_map`` values or ``distribution_map`` keys."""
    distribution_kwargs = distribution_kwargs or {}
    if "distribution_map" not in distribution_kwargs:
        raise KeyError(
            "'distribution_map' must be provided within distribution_kwargs whenever the distribution "
            "is a CompositeDistribution (it names the sample keys)"
        )
    name_map = distribution_kwargs.get("name_map")
    if name_map is not None:
        return list(name_map.values())
    return list(distribution_kwargs["distribution_map"].keys())


def _is_composite_class(distribution_class: Any) -> bool:
    return isinstance(distribution_class, type) and issubclass(distribution_class, CompositeDistribution)


class ProbabilisticActor(SafeProbabilisticTensorDictSequential):
    """A stochastic policy: ``module`` writes distribution parameters, a distribution gives the action.

    The same as ``SafeProbabilisticTensorDictSequential(module, SafeProbabilisticModule(in_keys,
    out_keys, spec, **kwargs))``. ``out_keys`` defaults to ``["action"]`` (for a
    `CompositeDistribution`, to its ``name_map``/``distribution_map`` keys); a plain spec
    is the action's. Outside any exploration context the action is the distribution's
    deterministic value (e.g. ``tanh(loc)`` for `TanhNormal`); collectors set ``RANDOM``.

    Shapes (a `TanhNormal` policy): ``observation: [*B, n_obs] -> loc, scale: [*B, d] ->
    action: [*B, d]``, ``action_log_prob: [*B]`` (the distribution's batch shape; see
    `SafeProbabilisticModule.forward`). ``num_samples=k`` expands every output to ``[k, *B, ...]``.

    Args:
        module (TensorDictModuleBase): writes the distribution parameters (e.g. ``loc``, ``scale``).
        in_keys: the parameter keys the distribution reads (``["loc", "scale"]``, or a dict
            ``{keyword: key}``).
        out_keys: where the action is written.

    Keyword Args:
        spec: the action's spec. With ``safe=True`` the action is projected into it before
            its log-probability is computed.
        **kwargs: the other `SafeProbabilisticModule` arguments: ``safe``,
            ``distribution_class``, ``distribution_kwargs``, ``return_log_prob``,
            ``log_prob_key(s)``, ``default_interaction_type``, ``cache_dist``,
            ``n_empirical_estimate``, ``num_samples``, ``generator``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import NormalParamExtractor, TensorDictModule
    >>> from rldsl.modules import MLP, TanhNormal, ExplorationType, set_exploration_type
    >>> net = TensorDictModule(
    ...     torch.nn.Sequential(MLP(in_features=3, out_features=2, num_cells=[16]), NormalParamExtractor()),
    ...     in_keys=["observation"], out_keys=["loc", "scale"])
    >>> actor = ProbabilisticActor(net, in_keys=["loc", "scale"], distribution_class=TanhNormal,
    ...                            distribution_kwargs={"low": -2.0, "high": 2.0}, return_log_prob=True)
    >>> actor.out_keys
    ['loc', 'scale', 'action', 'action_log_prob']
    >>> with set_exploration_type(ExplorationType.RANDOM):
    ...     td = actor(TensorDict(observation=torch.randn(4, 3), batch_size=[4]))
    >>> td["action"].shape, td["action_log_prob"].shape
    (torch.Size([4, 1]), torch.Size([4]))
    >>> torch.allclose(td["action_log_prob"], actor.get_dist(td).log_prob(td["action"]))
    True
    """

    def __init__(
        self,
        module: TensorDictModuleBase,
        in_keys: NestedKey | Sequence[NestedKey] | dict,
        out_keys: Sequence[NestedKey] | NestedKey | None = None,
        *,
        spec: TensorSpec | None = None,
        **kwargs: Any,
    ) -> None:
        _require_td_module(module, "module", "ProbabilisticActor")
        if out_keys is None:
            if _is_composite_class(kwargs.get("distribution_class")):
                out_keys = _composite_out_keys(kwargs.get("distribution_kwargs"))
            else:
                out_keys = ["action"]
        else:
            out_keys = _key_list(out_keys, "out_keys", "ProbabilisticActor")
        if len(out_keys) == 1 and isinstance(spec, TensorSpec) and not isinstance(spec, Composite):
            wrapped = Composite()
            wrapped[out_keys[0]] = spec
            spec = wrapped
        head = SafeProbabilisticModule(in_keys=in_keys, out_keys=out_keys, spec=spec, **kwargs)
        super().__init__(module, head)


# --------------------------------------------------------------------------- ValueOperator
def _keys_read(in_keys: Any) -> list:
    """The tensordict keys a module with these ``in_keys`` reads (dict in_keys: the values)."""
    if isinstance(in_keys, dict):
        return list(in_keys.values())
    return _key_list(in_keys, "in_keys", "ValueOperator")


class ValueOperator(LeanForwardMixin, TensorDictModule):
    """A value network: ``observation -> state_value`` (or ``state_action_value`` with the action).

    Defaults: ``in_keys=["observation"]``; ``out_keys=["state_action_value"]`` when the key
    ``"action"`` is among the keys read, ``["state_value"]`` otherwise. A plain
    `TensorDictModule` (no spec): values are not projected.

    Shapes: ``observation: [*B, n_obs]`` (and ``action: [*B, n_action]``, passed to ``module``
    in ``in_keys`` order) ``-> state_value: [*B, 1]`` (or ``state_action_value``), as
    ``module`` maps them; ``[*B, 1]`` for a network with one output.

    Args:
        module (nn.Module or callable): reads the ``in_keys`` tensors (in order), returns the value.
        in_keys, out_keys: keys read and written.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from rldsl.modules import MLP
    >>> critic = ValueOperator(MLP(in_features=5, out_features=1, num_cells=[16]),
    ...                        in_keys=["observation", "action"])
    >>> critic.out_keys
    ['state_action_value']
    >>> td = TensorDict(observation=torch.randn(4, 3), action=torch.randn(4, 2), batch_size=[4])
    >>> critic(td)["state_action_value"].shape
    torch.Size([4, 1])
    """

    def __init__(
        self,
        module: nn.Module | Any,
        in_keys: Sequence[NestedKey] | NestedKey | None = None,
        out_keys: Sequence[NestedKey] | NestedKey | None = None,
    ) -> None:
        if in_keys is None:
            in_keys = ["observation"]
        elif not isinstance(in_keys, dict):
            in_keys = _key_list(in_keys, "in_keys", "ValueOperator")
        if out_keys is None:
            out_keys = ["state_action_value"] if "action" in _keys_read(in_keys) else ["state_value"]
        else:
            out_keys = _key_list(out_keys, "out_keys", "ValueOperator")
        super().__init__(module=module, in_keys=in_keys, out_keys=out_keys)


# --------------------------------------------------------------------------- joined operators
class ActorValueOperator(SafeSequential):
    """An actor and a value head on a common trunk: ``common -> policy``, ``common -> value``.

    Calling it runs the three modules in order (trunk, policy, value). The operators it
    hands out reuse the same module objects, so they share parameters with it and with
    each other.

    Shapes (with the example's keys): ``observation: [*B, n_obs] -> hidden: [*B, n_hidden]
    -> action: [*B, d]`` and ``hidden -> state_value: [*B, 1]``.

    Args:
        common_operator (TensorDictModuleBase): the trunk, e.g. ``observation -> hidden``.
        policy_operator (TensorDictModuleBase): the policy head, e.g. ``hidden -> action``
            (an `Actor`, a `ProbabilisticActor`...).
        value_operator (TensorDictModuleBase): the value head, e.g. ``hidden -> state_value``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> common = TensorDictModule(torch.nn.Linear(3, 8), in_keys=["observation"], out_keys=["hidden"])
    >>> policy = Actor(torch.nn.Linear(8, 1), in_keys=["hidden"])
    >>> value = ValueOperator(torch.nn.Linear(8, 1), in_keys=["hidden"])
    >>> model = ActorValueOperator(common, policy, value)
    >>> td = model(TensorDict(observation=torch.randn(2, 3), batch_size=[2]))
    >>> sorted(td.keys())
    ['action', 'hidden', 'observation', 'state_value']
    >>> model.get_policy_operator()[0] is common
    True
    """

    def __init__(
        self,
        common_operator: TensorDictModuleBase,
        policy_operator: TensorDictModuleBase,
        value_operator: TensorDictModuleBase,
    ) -> None:
        owner = type(self).__name__
        _require_td_module(common_operator, "common_operator", owner)
        _require_td_module(policy_operator, "policy_operator", owner)
        _require_td_module(value_operator, "value_operator", owner)
        super().__init__(common_operator, policy_operator, value_operator)

    def get_policy_operator(self) -> SafeSequential:
        """``common -> policy`` as one module; probabilistic heads keep `get_dist` working."""
        common, policy = self.module[0], self.module[1]
        if isinstance(policy, ProbabilisticTensorDictSequential):
            return SafeProbabilisticTensorDictSequential(common, *policy._module_iter())
        if isinstance(policy, ProbabilisticTensorDictModule):
            return SafeProbabilisticTensorDictSequential(common, policy)
        return SafeSequential(common, policy)

    def get_value_operator(self) -> SafeSequential:
        """``common -> value`` as one module."""
        return SafeSequential(self.module[0], self.module[2])

    def get_policy_head(self) -> TensorDictModuleBase:
        """The policy head alone (reads the trunk's output)."""
        return self.module[1]

    def get_value_head(self) -> TensorDictModuleBase:
        """The value head alone (reads the trunk's output)."""
        return self.module[2]


class ActorCriticOperator(ActorValueOperator):
    """An actor and a Q-value critic on a common trunk: ``common -> policy -> critic(hidden, action)``.

    The critic must compute a state-action value: a value head writing ``"state_value"``
    is refused (use `ActorValueOperator` for that). `get_critic_operator` is the whole
    operator (trunk, policy, critic); there is no value operator.

    Shapes (with the example's keys): ``observation: [*B, n_obs] -> hidden: [*B, n_hidden]
    -> action: [*B, d]``, then ``hidden, action -> state_action_value: [*B, 1]``.

    Args:
        common_operator, policy_operator, value_operator: as in `ActorValueOperator`; the
            value head reads the action (e.g. ``ValueOperator(net, in_keys=["hidden", "action"])``).

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> from rldsl.modules import MLP
    >>> common = TensorDictModule(torch.nn.Linear(3, 8), in_keys=["observation"], out_keys=["hidden"])
    >>> policy = Actor(torch.nn.Linear(8, 1), in_keys=["hidden"])
    >>> critic = ValueOperator(MLP(in_features=9, out_features=1, num_cells=[8]), in_keys=["hidden", "action"])
    >>> model = ActorCriticOperator(common, policy, critic)
    >>> td = model.get_critic_operator()(TensorDict(observation=torch.randn(2, 3), batch_size=[2]))
    >>> td["state_action_value"].shape
    torch.Size([2, 1])
    """

    def __init__(
        self,
        common_operator: TensorDictModuleBase,
        policy_operator: TensorDictModuleBase,
        value_operator: TensorDictModuleBase,
    ) -> None:
        super().__init__(common_operator, policy_operator, value_operator)
        if self.module[2].out_keys[0] == "state_value":
            raise ArgumentError(
                "Value out_key is state_value, which may lead to errors in downstream usages: an "
                "ActorCriticOperator's value head computes Q(s, a). Give it 'action' among its in_keys "
                "(its out key is then 'state_action_value'), or use ActorValueOperator for V(s)."
            )

    def get_critic_operator(self) -> "ActorCriticOperator":
        """The whole operator: trunk, policy, then the critic on the action."""
        return self

    def get_value_operator(self) -> SafeSequential:
        """Raises `RuntimeError`: this operator computes Q(s, a); see `get_critic_operator`."""
        raise RuntimeError(
            "value_operator is the term used for operators that associate a value with a "
            "state/observation; an ActorCriticOperator computes the value of a state-action pair. "
            "Use get_critic_operator() instead."
        )


class ActorCriticWrapper(SafeSequential):
    """An actor and a value network without a common trunk, run one after the other.

    Gives the same interface as `ActorValueOperator`, so that code can switch between a
    shared trunk and separate networks.

    Shapes (default keys): ``observation: [*B, n_obs] -> action: [*B, d]`` (the policy) and
    ``observation -> state_value: [*B, 1]`` (the value network).

    Args:
        policy_operator (TensorDictModuleBase): the policy.
        value_operator (TensorDictModuleBase): the value network.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> policy = Actor(torch.nn.Linear(3, 1))
    >>> value = ValueOperator(torch.nn.Linear(3, 1))
    >>> model = ActorCriticWrapper(policy, value)
    >>> td = model(TensorDict(observation=torch.randn(2, 3), batch_size=[2]))
    >>> sorted(td.keys())
    ['action', 'observation', 'state_value']
    >>> model.get_policy_operator() is policy
    True
    """

    def __init__(self, policy_operator: TensorDictModuleBase, value_operator: TensorDictModuleBase) -> None:
        _require_td_module(policy_operator, "policy_operator", "ActorCriticWrapper")
        _require_td_module(value_operator, "value_operator", "ActorCriticWrapper")
        super().__init__(policy_operator, value_operator)

    def get_policy_operator(self) -> TensorDictModuleBase:
        """The policy module itself."""
        return self.module[0]

    def get_value_operator(self) -> TensorDictModuleBase:
        """The value module itself."""
        return self.module[1]

    get_policy_head = get_policy_operator
    get_value_head = get_value_operator
