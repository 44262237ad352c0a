"""Decision-transformer actors and their inference wrapper (torchrl 0.14's ``DTActor``,
``OnlineDTActor`` and ``DecisionTransformerInferenceWrapper``).

The actors are plain ``nn.Module``s on a :class:`~rldsl.modules.DecisionTransformer` (held as
``transformer``, so their state_dict keys are torchrl's: ``transformer.transformer.h.0.attn.c_attn.weight``,
``action_layer.weight``...). They read whole windows of steps and answer for every step.

The wrapper turns such an actor into a policy for acting: it hides the steps older than its
``inference_context`` (zeros), shifts the action history so that the action being predicted is
never seen, runs the policy and keeps the last step's action and return-to-go.
"""

from __future__ import annotations

from typing import Any

import torch
from tensordict import TensorDictBase
from tensordict.nn import TensorDictModuleBase, TensorDictModuleWrapper, dispatch
from tensordict.utils import NestedKey, unravel_key
from torch import nn

from rldsl._checks import is_int
from rldsl.modules.decision_transformer import DecisionTransformer, DTConfig, resolve_dt_config
from rldsl.modules.tensordict_module._entries import check_key
from rldsl.modules.tensordict_module.common import SpecOwner
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Composite, TensorSpec

__all__ = ["DTActor", "DecisionTransformerInferenceWrapper", "OnlineDTActor"]


def _actor_default_config() -> DTConfig:
    """The actors' default transformer: torchrl's ``n_embd=512, n_layer=4, n_head=4, n_inner=2048``."""
    return DTConfig(n_embd=512, n_layer=4, n_head=4, n_inner=2048, activation="relu", n_positions=1024,
                    resid_pdrop=0.1, attn_pdrop=0.1)


def _orthogonal_head(in_features: int, out_features: int, device: Any) -> nn.Linear:
    """A linear head with an orthogonal weight and a zero bias (torchrl's init of the DT heads)."""
    head = nn.Linear(in_features, out_features, device=device)
    with torch.no_grad():
        nn.init.orthogonal_(head.weight)
        head.bias.zero_()
    return head


class _DTActorBase(nn.Module):
    """The trunk the two actors share: a :class:`DecisionTransformer` under ``transformer``."""

    @classmethod
    def default_config(cls) -> DTConfig:
        """The actors' default configuration (torchrl's): ``DTConfig(n_embd=512, n_layer=4,
        n_head=4, n_inner=2048, activation="relu", n_positions=1024, resid_pdrop=0.1, attn_pdrop=0.1)``."""
        return _actor_default_config()

    def _build_trunk(self, state_dim: int, action_dim: int, transformer_config: Any, device: Any) -> int:
        """Build ``self.transformer``; returns its width ``n_embd``. A partial dict takes the actor's defaults."""
        config = resolve_dt_config(transformer_config, self.default_config(), type(self).__name__)
        self.transformer = DecisionTransformer(state_dim=state_dim, action_dim=action_dim, config=config,
                                               device=device)
        return config.n_embd


class DTActor(_DTActorBase):
    """Decision Transformer actor: a deterministic action per step ("Decision Transformer").

    ``action_layer`` is a ``Linear(n_embd, action_dim)`` (orthogonal weight, zero bias) on the
    transformer's state-token outputs. There is no squashing: torchrl's scripts put the output
    through a ``TanhDelta`` (``ProbabilisticActor``) or a ``TanhModule`` to bound it.

    Args:
        state_dim (int): the size of an observation vector.
        action_dim (int): the size of an action vector.
        transformer_config (DTConfig or dict, optional): the transformer's configuration; a dict
            may give only some keys, the others from :meth:`default_config`. Defaults to
            :meth:`default_config` (``n_embd=512``, ``n_inner=2048``: wider than
            ``DecisionTransformer``'s own default).
        device (torch.device, optional): where to create the parameters.

    >>> model = DTActor(state_dim=4, action_dim=2, transformer_config=DTActor.default_config())
    >>> model(torch.randn(32, 10, 4), torch.randn(32, 10, 2), torch.randn(32, 10, 1)).shape
    torch.Size([32, 10, 2])
    """

    def __init__(self, state_dim: int, action_dim: int, transformer_config: DTConfig | dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        n_embd = self._build_trunk(state_dim, action_dim, transformer_config, device)
        self.action_layer = _orthogonal_head(n_embd, int(action_dim), device)

    def forward(self, observation: torch.Tensor, action: torch.Tensor, return_to_go: torch.Tensor) -> torch.Tensor:
        """``observation: [*B, T, state_dim], action: [*B, T, action_dim], return_to_go: [*B, T, 1]
        -> [*B, T, action_dim]``, the action predicted at every step."""
        return self.action_layer(self.transformer(observation, action, return_to_go))


class OnlineDTActor(_DTActorBase):
    """Online Decision Transformer actor: the mean and standard deviation of a Gaussian per step.

    Two heads on the transformer's state-token outputs, ``action_layer_mean`` and
    ``action_layer_logstd`` (orthogonal weights, zero biases). The log-std is squashed by a
    ``tanh`` and mapped affinely onto ``[log_std_min, log_std_max] = [-5, 2]``, then
    exponentiated: ``std = exp(-5 + 3.5 * (tanh(h) + 1))`` lies in ``[e^-5, e^2]``. torchrl's
    online DT feeds ``(mu, std)`` to a ``TanhNormal`` (``ProbabilisticActor``).

    Args:
        state_dim (int): the size of an observation vector.
        action_dim (int): the size of an action vector.
        transformer_config (DTConfig or dict, optional): as for :class:`DTActor`.
        device (torch.device, optional): where to create the parameters.

    >>> model = OnlineDTActor(state_dim=4, action_dim=2, transformer_config=OnlineDTActor.default_config())
    >>> mu, std = model(torch.randn(32, 10, 4), torch.randn(32, 10, 2), torch.randn(32, 10, 1))
    >>> mu.shape, std.shape
    (torch.Size([32, 10, 2]), torch.Size([32, 10, 2]))
    """

    def __init__(self, state_dim: int, action_dim: int, transformer_config: DTConfig | dict | None = None,
                 device: torch.device | str | int | None = None) -> None:
        super().__init__()
        n_embd = self._build_trunk(state_dim, action_dim, transformer_config, device)
        self.action_layer_mean = _orthogonal_head(n_embd, int(action_dim), device)
        self.action_layer_logstd = _orthogonal_head(n_embd, int(action_dim), device)
        self.log_std_min, self.log_std_max = -5.0, 2.0

    def forward(self, observation: torch.Tensor, action: torch.Tensor,
                return_to_go: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``observation: [*B, T, state_dim], action: [*B, T, action_dim], return_to_go: [*B, T, 1]
        -> (mu: [*B, T, action_dim], std: [*B, T, action_dim])``."""
        hidden = self.transformer(observation, action, return_to_go)
        squashed = torch.tanh(self.action_layer_logstd(hidden))
        log_std = self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (squashed + 1.0)
        return self.action_layer_mean(hidden), log_std.exp()


# --- the inference wrapper ---------------------------------------------------------------------------

def _check_context(value: Any, name: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not is_int(value, integral=True) or value < 1:
        raise ArgumentError(f"DecisionTransformerInferenceWrapper `{name}` must be an int >= 1, got {value!r}")
    return int(value)


def _left_pad(value: torch.Tensor, length: int) -> torch.Tensor:
    """The last ``length`` steps of ``value: [*B, T, F]``, zero rows in front when ``T < length``."""
    steps = value.shape[-2]
    if steps >= length:
        return value[..., steps - length:, :]
    pad = value.new_zeros(*value.shape[:-2], length - steps, value.shape[-1])
    return torch.cat([pad, value], dim=-2)


class DecisionTransformerInferenceWrapper(SpecOwner, TensorDictModuleWrapper):
    """Inference wrapper for a decision-transformer policy: masks the context, keeps the last action.

    A policy reads windows ``observation: [*B, T, obs_dim]``, ``action: [*B, T, act_dim]``,
    ``return_to_go: [*B, T, 1]`` and writes an action per step; this wrapper makes it act:

    1. the input tensordict is copied (shallow clone: it is **not** modified);
    2. optionally (``context_length=L``, an rldsl addition) each window is cut or left-padded
       with zero steps to exactly ``L`` steps, as torchrl's ``CatFrames(padding="constant")``
       does for the first steps of an episode;
    3. masking with context ``c = inference_context``: observation and return-to-go entries
       older than the last ``c`` steps are zeroed; actions older than the last ``c - 1`` are
       zeroed, then the actions are shifted one step to the front with a zero step appended
       (the action history ends with the previous action: after the shift it sits beside its
       own observation, and the slot of the action being predicted is zero);
    4. the policy runs on the masked windows; its action at ``out_action`` and the
       return-to-go keep their **last step** only (``[*B, act_dim]``, ``[*B, 1]``); when the
       tensordict's batch dims included the time dim, it is dropped from the batch size. With
       ``last_action_key`` set (an rldsl addition), the last step's action is written there
       instead, and ``out_action`` and the return-to-go keep every step: no key changes its shape;
    5. the original (unmasked) observation is written back.

    Args:
        policy (TensorDictModuleBase): the policy, reading the observation, action and
            return-to-go keys and writing (at least) the ``out_action`` key.

    Keyword Args:
        inference_context (int): how many of the last steps stay visible. Defaults to ``5``.
        spec (TensorSpec, optional): the spec of the output action (or a ``Composite`` of the
            outputs). Defaults to the policy's spec, or a ``Composite`` of its out keys.
        device (torch.device, optional): where to put the spec.
        context_length (int, optional): rldsl addition: the window length ``L`` the policy
            reads; shorter histories are left-padded with zeros, longer ones keep their last ``L``
            steps. Defaults to ``None``: windows as given (torchrl's behaviour).
        observation_key, action_key, return_to_go_key, out_action_key (NestedKey, optional):
            rldsl additions: the keys :meth:`set_tensor_keys` sets (``observation``, ``action``,
            ``return_to_go``, ``out_action``), given when constructing. Default to torchrl's
            ``"observation"``, ``"action"``, ``"return_to_go"`` and ``"action"``.
        last_action_key (NestedKey, optional): rldsl addition: where the last step's action is
            written, leaving ``out_action`` and the return-to-go window whole. Defaults to ``None``:
            the last step overwrites them in place (torchrl's behaviour).

    ``in_keys`` are the observation, action and return-to-go keys; ``out_keys`` are those and
    every out key of the policy, sorted by their string form (as torchrl sorts them). Keys are
    changed with :meth:`set_tensor_keys`.

    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> actor = TensorDictModule(DTActor(state_dim=4, action_dim=2),
    ...                          in_keys=["observation", "action", "return_to_go"], out_keys=["action"])
    >>> policy = DecisionTransformerInferenceWrapper(actor, inference_context=5)
    >>> td = TensorDict(observation=torch.randn(1, 20, 4), action=torch.randn(1, 20, 2),
    ...                 return_to_go=torch.randn(1, 20, 1), batch_size=[1])
    >>> out = policy(td)
    >>> out["action"].shape, out["return_to_go"].shape, out["observation"].shape
    (torch.Size([1, 2]), torch.Size([1, 1]), torch.Size([1, 20, 4]))
    """

    def __init__(self, policy: TensorDictModuleBase, *, inference_context: int = 5,
                 spec: TensorSpec | None = None, device: torch.device | str | int | None = None,
                 context_length: int | None = None, observation_key: NestedKey = "observation",
                 action_key: NestedKey = "action", return_to_go_key: NestedKey = "return_to_go",
                 out_action_key: NestedKey = "action", last_action_key: NestedKey | None = None) -> None:
        if not isinstance(policy, TensorDictModuleBase):
            raise TypeError(f"DecisionTransformerInferenceWrapper `policy` must be a TensorDictModule, "
                            f"got {type(policy).__name__}")
        super().__init__(policy)
        keys = {"observation": observation_key, "action": action_key, "return_to_go": return_to_go_key,
                "out_action": out_action_key}
        keys = {name: unravel_key(check_key(value, f"{name}_key", type(self).__name__))
                for name, value in keys.items()}
        self.observation_key: NestedKey = keys["observation"]
        self.action_key: NestedKey = keys["action"]
        self.out_action_key: NestedKey = keys["out_action"]
        self.return_to_go_key: NestedKey = keys["return_to_go"]
        self.last_action_key: NestedKey | None = None if last_action_key is None else unravel_key(
            check_key(last_action_key, "last_action_key", type(self).__name__))
        self.inference_context = _check_context(inference_context, "inference_context")
        self.context_length = _check_context(context_length, "context_length", optional=True)
        self._spec = self._initial_spec(policy, spec)
        if device is not None:
            self._spec = self._spec.to(device)
        self.checked = False

    def _initial_spec(self, policy: TensorDictModuleBase, spec: Any) -> Composite:
        """The output spec: the one given (a plain spec is the action's), else the policy's."""
        if spec is not None:
            if isinstance(spec, Composite):
                return spec.clone()
            if not isinstance(spec, TensorSpec):
                raise TypeError(f"DecisionTransformerInferenceWrapper `spec` must be an rldsl spec or None, "
                                f"got {type(spec).__name__}")
            return Composite({self._result_key: spec.clone()}, shape=spec.shape[:-1])
        for attribute in ("_spec", "spec"):
            policy_spec = getattr(policy, attribute, None)
            if isinstance(policy_spec, Composite):
                policy_spec = policy_spec.clone()
                if self._result_key not in policy_spec.keys():
                    policy_spec[self._result_key] = None
                return policy_spec
        return Composite({key: None for key in policy.out_keys})

    @property
    def _result_key(self) -> NestedKey:
        """Where the acting action is: ``last_action_key`` when set, else the action key (torchrl)."""
        return self.action_key if self.last_action_key is None else self.last_action_key

    @property
    def spec(self) -> Composite:
        """The ``Composite`` of the outputs (the action's spec under the action key, or under
        ``last_action_key`` when it is set)."""
        return self._spec

    @property
    def in_keys(self) -> list[NestedKey]:
        """``[observation_key, action_key, return_to_go_key]``."""
        return [self.observation_key, self.action_key, self.return_to_go_key]

    @property
    def out_keys(self) -> list[NestedKey]:
        """The policy's out keys and the three in keys (and ``last_action_key`` when set), sorted by
        ``str`` (torchrl's order)."""
        keys = set(self.td_module.out_keys) | {self.observation_key, self.action_key, self.return_to_go_key}
        if self.last_action_key is not None:
            keys.add(self.last_action_key)
        return sorted(keys, key=str)

    def set_tensor_keys(self, **kwargs: NestedKey) -> None:
        """Set the keys the wrapper reads and writes.

        Keyword Args:
            observation (NestedKey, optional): the observation key.
            action (NestedKey, optional): the action key (the policy's input history).
            return_to_go (NestedKey, optional): the return-to-go key.
            out_action (NestedKey, optional): the action key the policy writes; it must be one
                of the policy's out keys (``ValueError`` otherwise).
        """
        keys = {}
        for name, current in (("observation", self.observation_key), ("action", self.action_key),
                              ("out_action", self.out_action_key), ("return_to_go", self.return_to_go_key)):
            keys[name] = unravel_key(check_key(kwargs.pop(name, current), name, "set_tensor_keys"))
        if kwargs:
            raise TypeError(f"set_tensor_keys got unknown input(s) {sorted(kwargs)}. Accepted keys are "
                            f"'observation', 'action', 'return_to_go' and 'out_action'.")
        policy_out = [unravel_key(key) for key in self.td_module.out_keys]
        if keys["out_action"] not in policy_out:
            raise ValueError(f"The value of out_action_key ({keys['out_action']!r}) must be within the "
                             f"actor output keys ({list(self.td_module.out_keys)}).")
        self.observation_key = keys["observation"]
        self.action_key = keys["action"]
        self.return_to_go_key = keys["return_to_go"]
        self.out_action_key = keys["out_action"]

    def check_keys(self) -> None:
        """Check once that the policy writes ``out_action`` (done at the first call)."""
        self.set_tensor_keys()
        self.checked = True

    def step(self, frames: int = 1) -> None:
        """Nothing to anneal: a no-op, for the exploration-module interface."""

    @staticmethod
    def _check_tensor_dims(reward: torch.Tensor, obs: torch.Tensor, action: torch.Tensor) -> None:
        """The three windows must share their leading dims ``[*B, T]``."""
        if reward.ndim < 2 or not reward.shape[:-1] == obs.shape[:-1] == action.shape[:-1]:
            raise ValueError(
                "Mismatched tensor dimensions: observation, action and return_to_go must be [*B, T, features] "
                f"with the same [*B, T]; got {list(obs.shape)}, {list(action.shape)}, {list(reward.shape)}")

    def _masked_action(self, action: torch.Tensor) -> torch.Tensor:
        """Zero the actions older than the last ``c - 1``, shift one step to the front, append a zero step."""
        visible = self.inference_context - 1
        steps = action.shape[-2]
        action = action.clone()
        action[..., : max(steps - visible, 0), :] = 0
        return torch.cat([action[..., 1:, :], action.new_zeros(*action.shape[:-2], 1, action.shape[-1])], dim=-2)

    def _masked_recent(self, value: torch.Tensor) -> torch.Tensor:
        """Zero the entries older than the last ``c`` steps."""
        value = value.clone()
        value[..., : max(value.shape[-2] - self.inference_context, 0), :] = 0
        return value

    def mask_context(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Mask the windows of ``tensordict`` to the inference context (writes into ``tensordict``).

        ``observation: [*B, T, obs_dim], action: [*B, T, act_dim], return_to_go: [*B, T, 1]
        -> the same shapes``, masked as described in the class docstring.
        """
        observation = tensordict.get(self.observation_key)
        action = tensordict.get(self.action_key)
        return_to_go = tensordict.get(self.return_to_go_key)
        self._check_tensor_dims(return_to_go, observation, action)
        tensordict.set(self.observation_key, self._masked_recent(observation))
        tensordict.set(self.action_key, self._masked_action(action))
        tensordict.set(self.return_to_go_key, self._masked_recent(return_to_go))
        return tensordict

    def _pad_windows(self, tensordict: TensorDictBase) -> None:
        """Cut or left-pad the three windows to ``context_length`` steps (when it is set)."""
        length = self.context_length
        if length is None:
            return
        observation = tensordict.get(self.observation_key)
        self._check_tensor_dims(tensordict.get(self.return_to_go_key), observation, tensordict.get(self.action_key))
        if observation.shape[-2] == length:
            return
        if tensordict.batch_dims >= observation.ndim - 1:
            tensordict.batch_size = tensordict.batch_size[: observation.ndim - 2]
        for key in (self.observation_key, self.action_key, self.return_to_go_key):
            tensordict.set(key, _left_pad(tensordict.get(key), length))

    @dispatch
    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """``observation: [*B, T, obs_dim], action: [*B, T, act_dim], return_to_go: [*B, T, 1]
        -> out_action: [*B, act_dim], return_to_go: [*B, 1]`` (observation unchanged, other policy
        outputs per step)."""
        if not self.checked:
            self.check_keys()
        tensordict = tensordict.clone(False)
        observation = tensordict.get(self.observation_key)
        self._pad_windows(tensordict)
        tensordict = self.td_module(self.mask_context(tensordict))
        out_action = tensordict.get(self.out_action_key)
        if tensordict.ndim == out_action.ndim - 1:
            tensordict.batch_size = tensordict.batch_size[:-1]
        if self.last_action_key is None:  # torchrl: the last step in place
            tensordict.set(self.out_action_key, out_action[..., -1, :])
            tensordict.set(self.return_to_go_key, tensordict.get(self.return_to_go_key)[..., -1, :])
        else:
            tensordict.set(self.last_action_key, out_action[..., -1, :])
        tensordict.set(self.observation_key, observation)
        return tensordict

    def _spec_moved(self) -> None:
        """Nothing is derived from the spec."""

