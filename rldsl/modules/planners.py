"""Model-predictive planners (`CEMPlanner`, `MPPIPlanner`) and the model environment they plan in.

torchrl's planners plan against a torchrl environment that accepts any batch size (typically a
``ModelBasedEnvBase``). rldsl has no environment classes, so this module defines the smallest
environment a planner needs, `ModelEnv`, and states the protocol (`PlanningEnv`) any other
object must follow to be planned in:

- ``batch_locked`` is ``False``: the environment steps a tensordict of any batch size;
- ``action_spec`` (an rldsl leaf spec) and ``observation_spec`` (an rldsl `Composite` whose
  leaf keys are the observation keys), ``action_key`` (optional, defaults to ``"action"``)
  and ``device``;
- ``rollout(max_steps, policy, auto_reset=False, tensordict=td, break_when_any_done=False)``
  steps ``max_steps`` times from ``td`` (batch ``[*B]``), calling ``policy(td)`` before each
  step to write the action, and returns the steps stacked on a new last batch dim
  (``[*B, T]``) with the step's results under ``"next"`` (``("next", "reward")``,
  ``("next", "done")``, the next observations), as a torchrl rollout does.

A planner's call plans from the observations in the input tensordict: it expands the input to
``num_candidates`` copies, draws candidate action sequences from a Gaussian, rolls the
candidates out in the environment in one batch (no Python loop over candidates; the loops run
over optimisation steps and the horizon), scores them and refits the Gaussian. The first step
of the final mean is the action. Rewards after a candidate's first ``done`` do not count.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import torch
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictModuleBase
from tensordict.utils import NestedKey, unravel_key
from torch import nn

from rldsl._checks import require_int
from rldsl.modules.tensordict_module.common import device_after
from rldsl.specs import Composite, TensorSpec

__all__ = ["CEMPlanner", "MPCPlannerBase", "MPPIPlanner", "ModelEnv", "PlanningEnv"]

DONE_KEYS = ("done", "terminated")


# --------------------------------------------------------------------------- the protocol
@runtime_checkable
class PlanningEnv(Protocol):
    """What a planner needs from the environment it plans in (see the module docstring).

    `ModelEnv` follows it; so does a torchrl ``ModelBasedEnvBase``.
    """

    batch_locked: bool
    action_spec: Any
    observation_spec: Any
    device: Any

    def rollout(self, max_steps: int, policy: Any = None, *, auto_reset: bool = ...,
                tensordict: Any = None, break_when_any_done: bool = ...) -> TensorDictBase:
        """Step ``max_steps`` times from ``tensordict`` and stack the steps on a new last batch dim."""
        ...


def _unravel_all(keys: Sequence[NestedKey]) -> list[NestedKey]:
    return [unravel_key(key) for key in keys]


def _require_td_module(module: Any, what: str) -> None:
    if not isinstance(module, TensorDictModuleBase):
        raise TypeError(
            f"ModelEnv `{what}` must be a tensordict module (TensorDictModuleBase), got "
            f"{type(module).__name__}; wrap a network with TensorDictModule(net, in_keys=[...], out_keys=[...])"
        )


def _first_device(*modules: nn.Module | None) -> torch.device:
    """The device of the first parameter or buffer of ``modules`` (the CPU when they have none)."""
    for module in modules:
        if module is not None:
            for tensor in (*module.parameters(), *module.buffers()):
                return tensor.device
    return torch.device("cpu")


# --------------------------------------------------------------------------- ModelEnv
class ModelEnv(nn.Module):
    """A model environment: a world model (and a reward model) stepped as an environment.

    One step reads the observations and the action from the tensordict, runs
    ``world_model`` (which writes the next observations under the observation keys) then
    ``reward_model`` (which reads the updated tensordict, so the reward is a function of the
    next observation, and writes ``reward_key``), and writes under ``"next"`` the
    observations, the reward and the done flags (``"done"`` and ``"terminated"``: those a
    model writes, else ``False``; each defaults to the other). Keys the models write that
    are neither observations, reward nor done flags stay out of ``"next"``, as in torchrl's
    ``ModelBasedEnvBase``. The input's own entries are never modified.

    Unlike a torchrl environment it is not batch locked: any batch size is stepped at once,
    which is what planners need (they step every candidate in one call).

    Shapes: ``observation: [*B, *obs], action: [*B, *action] -> ("next", observation):
    [*B, *obs], ("next", reward): [*B, 1], ("next", done): [*B, 1]`` (the reward's shape is
    what the reward model writes); `rollout` stacks ``T`` steps: ``[*B, T, ...]``.

    Args:
        world_model (TensorDictModuleBase): reads the observation keys and the action key,
            writes the next observation under every observation key (it may also write the
            reward and done flags itself, e.g. a ``WorldModelWrapper``).
        reward_model (TensorDictModuleBase, optional): runs after ``world_model`` and writes
            ``reward_key``. ``None``: ``world_model`` writes it.

    Keyword Args:
        observation_spec (Composite): the observations; its leaf keys are the observation keys.
        action_spec (TensorSpec): the action (a leaf spec, e.g. ``Bounded``).
        action_key (NestedKey): where the action is read. Defaults to ``"action"``.
        reward_key (NestedKey): where the reward is written. Defaults to ``"reward"``.
        batch_size: the batch size of `reset` without a tensordict. Defaults to ``()``.
        device: the device of the specs and of reset tensors. Defaults to the device of the
            models' first parameter (the CPU without parameters).

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> from rldsl.specs import Bounded, Composite, Unbounded
    >>> move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"],
    ...                         out_keys=["observation"])
    >>> score = TensorDictModule(lambda obs: -obs.pow(2).sum(-1, keepdim=True), in_keys=["observation"],
    ...                          out_keys=["reward"])
    >>> env = ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(2)),
    ...                action_spec=Bounded(-1.0, 1.0, shape=(2,)))
    >>> td = env.step(TensorDict(observation=torch.ones(3, 2), action=-torch.ones(3, 2), batch_size=[3]))
    >>> td["next", "reward"].squeeze(-1).tolist()
    [-0.0, -0.0, -0.0]
    >>> env.rollout(5, auto_reset=False, tensordict=td.exclude("next")).batch_size
    torch.Size([3, 5])
    """

    batch_locked = False

    def __init__(
        self,
        world_model: TensorDictModuleBase,
        reward_model: TensorDictModuleBase | None = None,
        *,
        observation_spec: Composite,
        action_spec: TensorSpec,
        action_key: NestedKey = "action",
        reward_key: NestedKey = "reward",
        batch_size: Sequence[int] | torch.Size = (),
        device: Any = None,
    ) -> None:
        super().__init__()
        _require_td_module(world_model, "world_model")
        if reward_model is not None:
            _require_td_module(reward_model, "reward_model")
        if not isinstance(observation_spec, Composite) or not observation_spec.keys(True, True):
            raise TypeError("ModelEnv `observation_spec` must be a non-empty rldsl Composite (its leaf keys are "
                            f"the observation keys), got {observation_spec!r}")
        if not isinstance(action_spec, TensorSpec) or isinstance(action_spec, Composite):
            raise TypeError(f"ModelEnv `action_spec` must be an rldsl leaf spec (e.g. Bounded), got {action_spec!r}")
        self.world_model = world_model
        self.reward_model = reward_model
        self.action_key = unravel_key(action_key)
        self.reward_key = unravel_key(reward_key)
        self.observation_keys = _unravel_all(observation_spec.keys(True, True))
        self._check_models_write_what_a_step_needs()
        self.batch_size = torch.Size(batch_size)
        self._device = torch.device(device) if device is not None else _first_device(world_model, reward_model)
        self._observation_spec = observation_spec.to(self._device)
        self._action_spec = action_spec.to(self._device)

    def _check_models_write_what_a_step_needs(self) -> None:
        """Every observation key must be written by the world model, the reward key by a model."""
        world_out = set(_unravel_all(getattr(self.world_model, "out_keys", ())))
        reward_out = set(_unravel_all(getattr(self.reward_model, "out_keys", ()))) if self.reward_model else set()
        missing = [key for key in self.observation_keys if key not in world_out]
        if missing:
            raise ValueError(
                f"ModelEnv: the world model writes {sorted(map(str, world_out))} but not the observation key(s) "
                f"{missing}; a step must produce every next observation (out_keys=[...observation keys])"
            )
        if self.reward_key not in world_out | reward_out:
            raise ValueError(
                f"ModelEnv: no model writes the reward key {self.reward_key!r}; give a reward_model writing it "
                f"or pass reward_key= naming the key your model writes"
            )

    # --- what the planners read --------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The device of the specs and of the tensors `reset` creates."""
        return self._device

    @property
    def action_spec(self) -> TensorSpec:
        """The spec of the action (planners project their candidates into it)."""
        return self._action_spec

    @property
    def observation_spec(self) -> Composite:
        """The spec of the observations (a planner reads its leaf keys)."""
        return self._observation_spec

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        result = super()._apply(fn, *args, **kwargs)
        target = device_after(fn, self._device)
        if target != self._device:
            self._device = target
            self._observation_spec = self._observation_spec.to(target)
            self._action_spec = self._action_spec.to(target)
        return result

    # --- stepping ------------------------------------------------------------------------------
    def forward(self, tensordict: TensorDictBase) -> TensorDictBase:
        """One step (`step`): ``observation: [*B, *obs], action: [*B, *action] -> ("next", ...): [*B, ...]``."""
        return self.step(tensordict)

    def step(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Run the models on the observations and the action; write the results under ``"next"``.

        ``tensordict`` (batch ``[*B]``) gains ``"next"``: every observation ``[*B, *obs]``,
        the reward, ``"done"`` and ``"terminated"`` ``[*B, 1]`` (bool). Returns ``tensordict``.
        """
        self._require_keys(tensordict, [*self.observation_keys, self.action_key], "step")
        work = tensordict.exclude("next", self.reward_key, *DONE_KEYS)
        work = self.world_model(work)
        if self.reward_model is not None:
            work = self.reward_model(work)
        if work.get(self.reward_key, None) is None:
            raise KeyError(f"ModelEnv.step: the models wrote no reward at {self.reward_key!r}")
        step_out = work.select(*self.observation_keys, self.reward_key, *DONE_KEYS, strict=False)
        self._complete_done(step_out)
        tensordict.set("next", step_out)
        return tensordict

    @staticmethod
    def _complete_done(step_out: TensorDictBase) -> None:
        """Fill the missing done flags: each of ``done``/``terminated`` is the other, else ``False``."""
        done, terminated = step_out.get("done", None), step_out.get("terminated", None)
        if done is None and terminated is None:
            done = torch.zeros((*step_out.batch_size, 1), dtype=torch.bool, device=step_out.device)
            step_out.set("done", done)
            step_out.set("terminated", done.clone())
        elif done is None:
            step_out.set("done", terminated.clone())
        elif terminated is None:
            step_out.set("terminated", done.clone())

    @staticmethod
    def _require_keys(tensordict: Any, keys: Sequence[NestedKey], where: str) -> None:
        if not isinstance(tensordict, TensorDictBase):
            raise TypeError(f"ModelEnv.{where} expects a TensorDict, got {type(tensordict).__name__}")
        missing = [key for key in keys if tensordict.get(key, None) is None]
        if missing:
            raise KeyError(f"ModelEnv.{where}: the tensordict has no {missing} (it holds {list(tensordict.keys())})")

    def reset(self, tensordict: TensorDictBase | None = None) -> TensorDictBase:
        """A tensordict to start from: the observations of ``tensordict`` (random members of
        their specs where missing) and ``done``/``terminated`` set to ``False``.

        The batch size is ``tensordict``'s (``env.batch_size`` without one); shapes
        ``observation: [*B, *obs]``, ``done: [*B, 1]``.
        """
        if tensordict is None:
            tensordict = TensorDict({}, batch_size=self.batch_size, device=self._device)
        elif not isinstance(tensordict, TensorDictBase):
            raise TypeError(f"ModelEnv.reset expects a TensorDict or None, got {type(tensordict).__name__}")
        out = tensordict.exclude("next", self.action_key, self.reward_key)
        for key in self.observation_keys:
            if out.get(key, None) is None:
                out.set(key, self._observation_spec[key].rand(out.batch_size))
        done = torch.zeros((*out.batch_size, 1), dtype=torch.bool, device=self._device)
        out.set("done", done)
        out.set("terminated", done.clone())
        return out

    def rand_action(self, tensordict: TensorDictBase) -> TensorDictBase:
        """Write a random member of the action spec: ``action: [*B, *action]``."""
        tensordict.set(self.action_key, self._action_spec.rand(tensordict.batch_size))
        return tensordict

    def _step_mdp(self, tensordict: TensorDictBase) -> TensorDictBase:
        """The tensordict of the next step: ``"next"``'s entries (but the reward) replace the root's."""
        following = tensordict.exclude(self.action_key, "next", self.reward_key)
        following.update(tensordict.get("next").exclude(self.reward_key))
        return following

    def rollout(
        self,
        max_steps: int,
        policy: Callable[[TensorDictBase], TensorDictBase] | None = None,
        *,
        auto_reset: bool = True,
        tensordict: TensorDictBase | None = None,
        break_when_any_done: bool = True,
    ) -> TensorDictBase:
        """Step ``max_steps`` times, stacking the steps on a new last batch dim: ``[*B] -> [*B, T]``.

        Before each step ``policy(td)`` writes the action (a random action without a policy).
        ``auto_reset=True`` starts from ``reset(tensordict)``, ``False`` from ``tensordict``
        itself (required then; missing done flags start ``False``). ``break_when_any_done``
        stops after the first step in which any element is done (``T <= max_steps``). Each step
        holds the root entries it was taken from, the action and ``"next"``; the next step
        starts from ``"next"``.
        """
        require_int(max_steps, "ModelEnv.rollout `max_steps`", expected="an int >= 1", minimum=1,
                    error=ValueError)
        if auto_reset:
            tensordict = self.reset(tensordict)
        elif tensordict is None:
            raise ValueError("ModelEnv.rollout(auto_reset=False) needs the tensordict to start from")
        else:
            tensordict = tensordict.copy()
            self._complete_done(tensordict)  # the start's flags, as a reset writes them
        steps = []
        for index in range(max_steps):
            tensordict = policy(tensordict) if policy is not None else self.rand_action(tensordict)
            tensordict = self.step(tensordict)
            steps.append(tensordict)
            if index == max_steps - 1 or (break_when_any_done and bool(tensordict.get(("next", "done")).any())):
                break
            tensordict = self._step_mdp(tensordict)
        return torch.stack(steps, dim=len(steps[0].batch_size))


# --------------------------------------------------------------------------- planners
class _PlannedActions:
    """A policy feeding precomputed actions ``[*B, N, H, *action]`` one time step per call."""

    def __init__(self, actions: torch.Tensor, time_dim: int, action_key: NestedKey) -> None:
        self.actions = actions
        self.time_dim = time_dim
        self.action_key = action_key
        self.step = 0

    def __call__(self, tensordict: TensorDictBase) -> TensorDictBase:
        if self.step >= self.actions.shape[self.time_dim]:
            raise ValueError("the precomputed action sequence is shorter than the rollout")
        tensordict.set(self.action_key, self.actions.select(self.time_dim, self.step))
        self.step += 1
        return tensordict


def _done_mask(rollout: TensorDictBase, reward_key: tuple, reward: torch.Tensor) -> torch.Tensor | None:
    """Where a reward comes after its element's first ``done`` (True = drop), or None without done flags.

    The done flags read are ``done`` in the reward's group and in every group above it up
    to ``"next"`` (``("next", "agents", "done")`` and ``("next", "done")`` for
    ``("next", "agents", "reward")``); any of them ends the element's trajectory. A flag of
    the reward's own trailing shape applies elementwise; any other is reduced over its
    trailing dims. The reward at the done step counts.
    """
    batch_dims, time_dim = rollout.batch_dims, rollout.batch_dims - 1
    done_any = None
    for depth in range(len(reward_key) - 1, 0, -1):
        flag = rollout.get((*reward_key[:depth], "done"), None)
        if flag is None:
            continue
        if flag.shape[batch_dims:] != reward.shape[batch_dims:]:
            flag = flag.reshape(*flag.shape[:batch_dims], -1).any(-1)
            flag = flag.reshape(*flag.shape, *([1] * (reward.ndim - batch_dims)))
        done_any = flag if done_any is None else done_any | flag
    if done_any is None:
        return None
    done_any = done_any.to(torch.int64)
    done_before = done_any.cumsum(time_dim) - done_any
    return (done_before > 0).expand_as(reward)


def _check_planner_ints(planning_horizon: Any, optim_steps: Any, num_candidates: Any, top_k: Any,
                        owner: str, min_top_k: int) -> None:
    for value, name in ((planning_horizon, "planning_horizon"), (optim_steps, "optim_steps"),
                        (num_candidates, "num_candidates")):
        require_int(value, f"{owner} `{name}`", expected="an int >= 1", minimum=1, error=ValueError)
    require_int(top_k, f"{owner} `top_k`", expected=f"an int >= {min_top_k}", minimum=min_top_k, error=ValueError,
                suffix=" (CEM refits an unbiased std: one candidate has none)" if min_top_k > 1 else "")
    if top_k > num_candidates:
        raise ValueError(f"{owner} `top_k` ({top_k}) cannot exceed `num_candidates` ({num_candidates})")


class MPCPlannerBase(TensorDictModuleBase, metaclass=abc.ABCMeta):
    """Base of model-predictive planners: plan from the observations, write the action.

    ``in_keys`` are the environment's observation keys (the leaf keys of its
    ``observation_spec``), ``out_keys`` is ``[action_key]``. A call runs `planning`, projects
    its result into ``env.action_spec`` and writes it. The environment must accept any batch
    size (``env.batch_locked`` is ``False``); see `PlanningEnv` and `ModelEnv`.

    The environment is not a submodule: the planner's ``state_dict`` holds only the
    planner's own state (nothing for `CEMPlanner`, ``temperature`` for `MPPIPlanner`), as in
    torchrl, whose environments have an empty state dict. ``planner.to(device)`` moves the
    environment too.

    Args:
        env (PlanningEnv): the environment to plan in, e.g. a `ModelEnv`.
        action_key (NestedKey): where the planned action is written. Defaults to ``"action"``.
    """

    def __init__(self, env: PlanningEnv, action_key: NestedKey = "action") -> None:
        if not isinstance(env, PlanningEnv):
            raise TypeError(
                f"{type(self).__name__} `env` must follow the PlanningEnv protocol (batch_locked, action_spec, "
                f"observation_spec, device, rollout), e.g. rldsl.modules.ModelEnv; got {type(env).__name__}"
            )
        if env.batch_locked:
            raise ValueError(
                "Environment is batch_locked. MPCPlanners need an environment that accepts batched inputs with "
                "any batch size (e.g. rldsl.modules.ModelEnv, whose batch_locked is False)"
            )
        super().__init__()
        self.__dict__["env"] = env  # not a submodule: its parameters stay out of the planner's state_dict
        self.in_keys = list(env.observation_spec.keys(True, True))
        self.out_keys = [unravel_key(action_key)]
        self.action_key = self.out_keys[0]
        self.to(env.device)

    @property
    def action_spec(self) -> TensorSpec:
        """The environment's action spec (plans are projected into it)."""
        return self.env.action_spec

    def _apply(self, fn: Callable, *args: Any, **kwargs: Any) -> Any:
        result = super()._apply(fn, *args, **kwargs)
        if isinstance(self.env, nn.Module):
            self.env._apply(fn, *args, **kwargs)
        return result

    @abc.abstractmethod
    def planning(self, tensordict: TensorDictBase) -> torch.Tensor:
        """Plan from ``tensordict`` (batch ``[*B]``): the action to take, ``[*B, *action]``."""

    def forward(self, tensordict: TensorDictBase, tensordict_out: TensorDictBase | None = None,
                **kwargs: Any) -> TensorDictBase:
        """Plan and write the action: ``observation: [*B, *obs] -> action: [*B, *action]``.

        The action is projected into ``env.action_spec``; it is written into
        ``tensordict_out`` when given, else into ``tensordict`` (returned).
        """
        if "params" in kwargs or "vmap" in kwargs:
            raise ValueError(f"{type(self).__name__} does not take functional `params`/`vmap` arguments")
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {sorted(kwargs)}")
        if not isinstance(tensordict, TensorDictBase):
            raise TypeError(f"{type(self).__name__} expects a TensorDict, got {type(tensordict).__name__}")
        action = self.action_spec.project(self.planning(tensordict))
        target = tensordict if tensordict_out is None else tensordict_out
        target.set(self.action_key, action)
        return target

    # --- shared by the Gaussian planners -------------------------------------------------------
    def _search(self, tensordict: TensorDictBase, refit: Any) -> torch.Tensor:
        """The Gaussian search both planners run: from mean 0 and std 1 over the plans
        ``[*B, 1, H, *action]``, ``optim_steps`` times draw ``num_candidates`` plans, project
        them into the action spec, roll them all out at once and ``refit(actions, rollout,
        (candidate dim, time dim))`` the mean and std. Returns the first step of the final mean."""
        batch, batch_dims = tensordict.batch_size, tensordict.batch_dims
        dims = (batch_dims, batch_dims + 1)
        start = self._start_tensordicts(tensordict, self.num_candidates)
        device, dtype = self._device_of(tensordict), self._sampling_dtype()
        mean = torch.zeros((*batch, 1, self.planning_horizon, *self.action_spec.shape), device=device, dtype=dtype)
        std = torch.ones_like(mean)
        draw_shape = (*batch, self.num_candidates, self.planning_horizon, *self.action_spec.shape)
        for _ in range(self.optim_steps):
            actions = self.action_spec.project(mean + std * torch.randn(draw_shape, device=device, dtype=dtype))
            rollout = self._rollout_candidates(start, actions, dims[1])
            mean, std = refit(actions.to(dtype), rollout, dims)
        return _first_step(mean, batch_dims)

    def _sampling_dtype(self) -> torch.dtype:
        """The dtype of the Gaussian: the action spec's when floating, else the default float dtype."""
        dtype = self.action_spec.dtype
        return dtype if dtype is not None and dtype.is_floating_point else torch.get_default_dtype()

    def _rollout_candidates(self, start: TensorDictBase, actions: torch.Tensor, time_dim: int) -> TensorDictBase:
        """Roll out every candidate at once: ``start`` ``[*B, N]``, ``actions`` ``[*B, N, H, *action]``
        -> the rollout ``[*B, N, H]``."""
        action_key = getattr(self.env, "action_key", "action")
        policy = _PlannedActions(actions, time_dim, action_key)
        return self.env.rollout(max_steps=actions.shape[time_dim], policy=policy, auto_reset=False,
                                tensordict=start.clone(), break_when_any_done=False)

    def _masked_rewards(self, rollout: TensorDictBase, reward_key: tuple) -> torch.Tensor:
        """The rewards ``[*B, N, H, *reward]``, zero after each candidate's first done step."""
        reward = rollout.get(reward_key, None)
        if reward is None:
            raise KeyError(f"{type(self).__name__}: the rollout has no reward at {reward_key!r}; set reward_key "
                           f"to the key the environment writes (torchrl's default is ('next', 'reward'))")
        mask = _done_mask(rollout, reward_key, reward)
        return reward if mask is None else reward.masked_fill(mask, 0)

    def _start_tensordicts(self, tensordict: TensorDictBase, num_candidates: int) -> TensorDictBase:
        """The input repeated for every candidate: batch ``[*B] -> [*B, N]`` (materialised once)."""
        expanded = tensordict.unsqueeze(tensordict.batch_dims).expand(*tensordict.batch_size, num_candidates)
        return expanded.clone()

    def _device_of(self, tensordict: TensorDictBase) -> torch.device:
        return tensordict.device if tensordict.device is not None else torch.device(self.env.device)


def _key_tuple(key: NestedKey) -> tuple:
    key = unravel_key(key)
    return key if isinstance(key, tuple) else (key,)


def _first_step(stats: torch.Tensor, batch_dims: int) -> torch.Tensor:
    """``[*B, 1, H, *action] -> [*B, *action]``: the first step of the plan."""
    return stats[(slice(None),) * batch_dims + (0, 0)]


def _gather_candidates(values: torch.Tensor, index: torch.Tensor, dim: int) -> torch.Tensor:
    """``values[..., index, ...]`` along the candidate dim ``dim``; ``index`` is ``[*B, K]``."""
    shape = (*index.shape, *values.shape[dim + 1:])
    index = index.reshape(*index.shape, *([1] * (values.ndim - dim - 1))).expand(shape)
    return values.gather(dim, index)


class CEMPlanner(MPCPlannerBase):
    """Cross-entropy-method planner (Botev et al. 2013), as torchrl's.

    Per call, for an input of batch ``[*B]``: the Gaussian over action sequences starts at
    mean 0 and std 1 (shape ``[*B, 1, H, *action]``); ``optim_steps`` times it draws
    ``num_candidates`` sequences ``mean + std * N(0, 1)``, projects them into the action
    spec, rolls them all out for ``H = planning_horizon`` steps in one batch, sums each
    candidate's rewards over time (none after its first ``done``) and refits the mean and the
    (unbiased) std to the ``top_k`` best. The action is the first step of the final mean:
    ``observation: [*B, *obs] -> action: [*B, *action]``.

    The state dict is empty (torchrl's too).

    Args:
        env (PlanningEnv): the environment to plan in (e.g. a `ModelEnv`), not batch locked.
        planning_horizon (int): the length ``H`` of the simulated trajectories.
        optim_steps (int): the number of refits.
        num_candidates (int): the number ``N`` of sequences drawn per refit.
        top_k (int): how many of the best refit the Gaussian (at least 2: an unbiased std).
        reward_key (NestedKey): the reward in the rollout. Defaults to ``("next", "reward")``.
        action_key (NestedKey): where the action is written. Defaults to ``"action"``.

    >>> import torch
    >>> from tensordict import TensorDict
    >>> from tensordict.nn import TensorDictModule
    >>> from rldsl.specs import Bounded, Composite, Unbounded
    >>> move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"],
    ...                         out_keys=["observation"])
    >>> score = TensorDictModule(lambda obs: -(obs - 3).pow(2).sum(-1, keepdim=True),
    ...                          in_keys=["observation"], out_keys=["reward"])
    >>> env = ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(1)),
    ...                action_spec=Bounded(-1.0, 1.0, shape=(1,)))
    >>> planner = CEMPlanner(env, planning_horizon=3, optim_steps=5, num_candidates=200, top_k=20)
    >>> _ = torch.manual_seed(0)
    >>> td = planner(TensorDict(observation=torch.zeros(4, 1), batch_size=[4]))
    >>> td["action"].shape, bool((td["action"] > 0.9).all())
    (torch.Size([4, 1]), True)
    """

    def __init__(
        self,
        env: PlanningEnv,
        planning_horizon: int,
        optim_steps: int,
        num_candidates: int,
        top_k: int,
        reward_key: NestedKey = ("next", "reward"),
        action_key: NestedKey = "action",
    ) -> None:
        _check_planner_ints(planning_horizon, optim_steps, num_candidates, top_k, "CEMPlanner", min_top_k=2)
        super().__init__(env=env, action_key=action_key)
        self.planning_horizon = planning_horizon
        self.optim_steps = optim_steps
        self.num_candidates = num_candidates
        self.top_k = top_k
        self.reward_key = _key_tuple(reward_key)

    def planning(self, tensordict: TensorDictBase) -> torch.Tensor:
        """``observation: [*B, *obs] -> [*B, *action]``: the first step of the refitted mean."""
        return self._search(tensordict, self._refit)

    def _refit(self, actions: torch.Tensor, rollout: TensorDictBase, dims: tuple[int, int]) -> tuple:
        """The mean and (unbiased) std of the ``top_k`` candidates with the largest returns."""
        cand_dim, time_dim = dims
        rewards = self._masked_rewards(rollout, self.reward_key)
        returns = rewards.sum(time_dim).reshape(*actions.shape[:cand_dim + 1], -1).sum(-1)
        best = _gather_candidates(actions, returns.topk(self.top_k, dim=-1).indices, cand_dim)
        return best.mean(dim=cand_dim, keepdim=True), best.std(dim=cand_dim, keepdim=True)


class MPPIPlanner(MPCPlannerBase):
    """Model-predictive path-integral planner (Williams et al.; Hansen et al., TD-MPC), as torchrl's.

    Sampling and rollouts as in `CEMPlanner`. After each rollout the done-masked rewards are
    written back into the rollout and ``advantage_module(rollout)`` must write
    ``"advantage"`` (``[*B, N, H, 1]``); each candidate is scored by its first step's
    advantage. The ``top_k`` best get weights ``exp(temperature * advantage)`` and the
    Gaussian is refitted to their weighted mean and weighted (biased) std. The action is the
    first step of the final mean: ``observation: [*B, *obs] -> action: [*B, *action]``.

    The state dict holds ``temperature`` (a buffer) and the advantage module's own state
    under ``advantage_module.``, as torchrl's.

    Args:
        env (PlanningEnv): the environment to plan in (e.g. a `ModelEnv`), not batch locked.
        advantage_module (callable): reads a rollout ``[*B, N, H]``, writes ``"advantage"``.
        temperature (float): the inverse temperature of the weights.
        planning_horizon, optim_steps, num_candidates, top_k: as in `CEMPlanner` (``top_k >= 1``).
        reward_key (NestedKey): the reward in the rollout. Defaults to ``("next", "reward")``.
        action_key (NestedKey): where the action is written. Defaults to ``"action"``.
    """

    def __init__(
        self,
        env: PlanningEnv,
        advantage_module: Callable[[TensorDictBase], Any],
        temperature: float,
        planning_horizon: int,
        optim_steps: int,
        num_candidates: int,
        top_k: int,
        reward_key: NestedKey = ("next", "reward"),
        action_key: NestedKey = "action",
    ) -> None:
        _check_planner_ints(planning_horizon, optim_steps, num_candidates, top_k, "MPPIPlanner", min_top_k=1)
        if not callable(advantage_module):
            raise TypeError(f"MPPIPlanner `advantage_module` must be callable on a rollout tensordict, got "
                            f"{type(advantage_module).__name__}")
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float, torch.Tensor)):
            raise TypeError(f"MPPIPlanner `temperature` must be a number, got {temperature!r}")
        temperature = torch.as_tensor(temperature, dtype=torch.get_default_dtype())
        if temperature.numel() != 1 or not bool(torch.isfinite(temperature)):
            raise ValueError(f"MPPIPlanner `temperature` must be a finite number, got {temperature}")
        super().__init__(env=env, action_key=action_key)
        self.advantage_module = advantage_module
        self.planning_horizon = planning_horizon
        self.optim_steps = optim_steps
        self.num_candidates = num_candidates
        self.top_k = top_k
        self.reward_key = _key_tuple(reward_key)
        self.register_buffer("temperature", temperature.reshape(()).clone().to(self._device_of_env()))

    def _device_of_env(self) -> torch.device:
        return torch.device(self.env.device)

    def _advantages(self, rollout: TensorDictBase, rewards: torch.Tensor, time_dim: int) -> torch.Tensor:
        """Each candidate's first-step advantage: ``[*B, N]``."""
        rollout.set(self.reward_key, rewards)
        returned = self.advantage_module(rollout)
        source = returned if isinstance(returned, TensorDictBase) else rollout
        advantage = source.get("advantage", None)
        if advantage is None:
            raise KeyError("MPPIPlanner: the advantage module wrote no 'advantage' entry in the rollout")
        first = advantage.select(time_dim, 0)
        return first.reshape(*first.shape[:time_dim], -1).sum(-1)

    def planning(self, tensordict: TensorDictBase) -> torch.Tensor:
        """``observation: [*B, *obs] -> [*B, *action]``: the first step of the weighted mean."""
        return self._search(tensordict, self._refit)

    def _refit(self, actions: torch.Tensor, rollout: TensorDictBase, dims: tuple[int, int]) -> tuple:
        """The mean and std of the ``top_k`` candidates by first-step advantage, weighted by
        ``exp(temperature * advantage)``."""
        cand_dim, time_dim = dims
        advantage = self._advantages(rollout, self._masked_rewards(rollout, self.reward_key), time_dim)
        best_values, best_index = advantage.topk(self.top_k, dim=-1)
        best = _gather_candidates(actions, best_index, cand_dim)
        # exp(t * a) normalised; shifting by the largest exponent changes nothing but overflow
        exponent = self.temperature.to(best_values.dtype) * best_values
        weights = (exponent - exponent.amax(dim=-1, keepdim=True)).exp()
        trailing = (1,) * (actions.dim() - cand_dim - 1)  # the H and action dims
        weights = weights.reshape(*weights.shape, *trailing).to(actions.dtype)
        total = weights.sum(dim=cand_dim, keepdim=True)
        mean = (weights * best).sum(dim=cand_dim, keepdim=True) / total
        std = ((weights * (best - mean).pow(2)).sum(dim=cand_dim, keepdim=True) / total).sqrt()
        return mean, std
