"""Planners (`CEMPlanner`, `MPPIPlanner`, `MPCPlannerBase`) and the model environment they plan in.

What is pinned: on a problem whose optimum is known (a linear model ``next = obs + action``,
reward ``-|target - next|^2``, actions in ``[-1, 1]``) both planners' first action is the
clipped optimum; the algorithm is torchrl's step for step (a hand-written reference on the same
random draws gives the same numbers); rewards after a candidate's first ``done`` do not count
(the reward at the done step does); any batch dims; the candidates are rolled out in one batch
(one model call per horizon step, whatever ``num_candidates``); torchrl's state dicts (empty for
CEM, ``temperature`` for MPPI); a batch-locked environment is refused; `ModelEnv` steps, resets
and rolls out as a torchrl environment does.
"""

from __future__ import annotations

import doctest

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tensordict import TensorDict, TensorDictBase
from tensordict.nn import TensorDictModule
from torch import nn

import rldsl.modules.planners as planners_module
from rldsl.modules import CEMPlanner, MPCPlannerBase, MPPIPlanner, ModelEnv, PlanningEnv
from rldsl.specs import Bounded, Categorical, Composite, Unbounded

TARGET = torch.tensor([3.0, -0.5])
# from the origin: full speed (+1) towards 3 in the first dim, exactly -0.5 (then stay) in the second
OPTIMUM_FROM_ORIGIN = torch.tensor([1.0, -0.5])


class CountingMove(nn.Module):
    """``next = obs + action``, counting its calls (one per horizon step when vectorised)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return obs + action


def distance_reward(obs: torch.Tensor) -> torch.Tensor:
    return -(TARGET - obs).pow(2).sum(-1, keepdim=True)


def linear_env(action_key: str = "action") -> ModelEnv:
    move = TensorDictModule(CountingMove(), in_keys=["observation", action_key], out_keys=["observation"])
    score = TensorDictModule(distance_reward, in_keys=["observation"], out_keys=["reward"])
    return ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(2)),
                    action_spec=Bounded(-1.0, 1.0, shape=(2,)), action_key=action_key)


def reward_to_go(rollout: TensorDictBase) -> TensorDictBase:
    """An advantage without a value network: the sum of the rewards from each step on."""
    reward = rollout.get(("next", "reward"))
    time_dim = rollout.batch_dims - 1
    rollout.set("advantage", reward.flip(time_dim).cumsum(time_dim).flip(time_dim))
    return rollout


def observations(*batch: int) -> TensorDict:
    return TensorDict(observation=torch.zeros(*batch, 2), batch_size=batch)


# --------------------------------------------------------------------------- convergence
@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_cem_finds_the_clipped_optimum(batch: tuple) -> None:
    torch.manual_seed(0)
    planner = CEMPlanner(linear_env(), planning_horizon=3, optim_steps=10, num_candidates=1000, top_k=100)
    td = planner(observations(*batch))
    assert td["action"].shape == (*batch, 2)
    torch.testing.assert_close(td["action"], OPTIMUM_FROM_ORIGIN.expand(*batch, 2), atol=0.05, rtol=0)


@pytest.mark.parametrize("batch", [(), (2, 3)])
def test_mppi_finds_the_clipped_optimum(batch: tuple) -> None:
    torch.manual_seed(0)
    planner = MPPIPlanner(linear_env(), reward_to_go, temperature=1.0, planning_horizon=3, optim_steps=10,
                          num_candidates=1000, top_k=100)
    td = planner(observations(*batch))
    assert td["action"].shape == (*batch, 2)
    torch.testing.assert_close(td["action"], OPTIMUM_FROM_ORIGIN.expand(*batch, 2), atol=0.05, rtol=0)


def test_each_batch_element_plans_from_its_own_observation() -> None:
    torch.manual_seed(0)
    start = torch.tensor([[0.0, 0.0], [2.8, -0.5], [5.0, 0.2]])
    planner = CEMPlanner(linear_env(), planning_horizon=3, optim_steps=8, num_candidates=400, top_k=40)
    action = planner(TensorDict(observation=start, batch_size=[3]))["action"]
    optimum = (TARGET - start).clamp(-1, 1)
    torch.testing.assert_close(action, optimum, atol=0.05, rtol=0)


def test_the_planner_is_a_policy_for_the_environment() -> None:
    # torchrl's usage: env.rollout(n, planner); the planner re-plans at every step (MPC)
    torch.manual_seed(0)
    env = linear_env()
    planner = CEMPlanner(env, planning_horizon=3, optim_steps=6, num_candidates=300, top_k=30)
    rollout = env.rollout(5, planner, tensordict=observations(2))
    assert rollout.batch_size == (2, 5)
    torch.testing.assert_close(rollout["next", "observation"][:, -1], TARGET.expand(2, 2), atol=0.1, rtol=0)


def test_planner_leaves_the_input_entries_alone_and_writes_a_member_of_the_spec() -> None:
    env = linear_env()
    td = TensorDict(observation=torch.randn(5, 2), batch_size=[5])
    before = td.clone()
    td = CEMPlanner(env, 3, 2, 50, 5)(td)
    assert set(td.keys()) == {"observation", "action"}
    assert torch.equal(td["observation"], before["observation"])
    assert env.action_spec.is_in(td["action"])


# --------------------------------------------------------------------------- torchrl's algorithm
def reference_plan(obs: torch.Tensor, horizon: int, steps: int, n: int, k: int, mppi_temperature=None):
    """The planners' step written out for one unbatched observation ``[2]`` (same random draws)."""
    mean, std = torch.zeros(1, horizon, 2), torch.ones(1, horizon, 2)
    for _ in range(steps):
        actions = (mean + std * torch.randn(n, horizon, 2)).clamp(-1, 1)
        position, rewards = obs.expand(n, 2), []
        for t in range(horizon):
            position = position + actions[:, t]
            rewards.append(distance_reward(position))
        rewards = torch.stack(rewards, 1)  # [n, H, 1]
        if mppi_temperature is None:
            best = actions[rewards.sum(1).squeeze(-1).topk(k).indices]
            mean, std = best.mean(0, keepdim=True), best.std(0, keepdim=True)
        else:
            values, index = rewards.sum(1).squeeze(-1).topk(k)
            weights = (mppi_temperature * values).exp().reshape(k, 1, 1)
            best = actions[index]
            mean = (weights * best).sum(0, keepdim=True) / weights.sum(0, keepdim=True)
            std = ((weights * (best - mean).pow(2)).sum(0, keepdim=True) / weights.sum(0, keepdim=True)).sqrt()
    return mean[0, 0]


def test_cem_is_torchrls_algorithm_step_for_step() -> None:
    obs = torch.tensor([0.3, -0.2])
    torch.manual_seed(3)
    got = CEMPlanner(linear_env(), 3, 4, 30, 6)(TensorDict(observation=obs, batch_size=[]))["action"]
    torch.manual_seed(3)
    torch.testing.assert_close(got, reference_plan(obs, 3, 4, 30, 6))


def test_mppi_is_torchrls_algorithm_step_for_step() -> None:
    obs = torch.tensor([0.3, -0.2])
    planner = MPPIPlanner(linear_env(), reward_to_go, 0.05, 3, 4, 30, 6)
    torch.manual_seed(3)
    got = planner(TensorDict(observation=obs, batch_size=[]))["action"]
    torch.manual_seed(3)
    torch.testing.assert_close(got, reference_plan(obs, 3, 4, 30, 6, mppi_temperature=0.05))


def test_mppi_weights_do_not_overflow() -> None:
    # exp(50 * advantage) overflows float32 for advantages above ~1.8; the weights are shifted first
    planner = MPPIPlanner(linear_env(), reward_to_go, 50.0, 3, 3, 50, 10)
    torch.manual_seed(0)
    action = planner(TensorDict(observation=torch.tensor([-60.0, 0.0]), batch_size=[]))["action"]
    assert torch.isfinite(action).all()


# --------------------------------------------------------------------------- vectorised
@pytest.mark.parametrize("num_candidates", [10, 1000])
def test_candidates_are_rolled_out_in_one_batch(num_candidates: int) -> None:
    env = linear_env()
    move = env.world_model.module
    CEMPlanner(env, planning_horizon=5, optim_steps=3, num_candidates=num_candidates, top_k=5)(observations(4))
    assert move.calls == 3 * 5  # one model call per horizon step and refit, whatever the number of candidates


def test_no_python_loop_over_candidates_in_the_source() -> None:
    source = open(planners_module.__file__).read()
    assert "range(self.num_candidates)" not in source and "for candidate" not in source


# --------------------------------------------------------------------------- done masking
def rollout_with(rewards: list, done: list, nested: bool = False) -> TensorDict:
    reward = torch.tensor(rewards, dtype=torch.float32).reshape(1, -1, 1)
    flags = torch.tensor(done).reshape(1, -1, 1)
    nxt = TensorDict(reward=reward, done=flags, batch_size=[1, len(rewards)])
    if nested:
        nxt = TensorDict(agents=TensorDict(reward=reward.unsqueeze(-2).expand(1, len(rewards), 2, 1).clone(),
                                           done=torch.zeros(1, len(rewards), 2, 1, dtype=torch.bool),
                                           batch_size=[1, len(rewards)]),
                         done=flags, batch_size=[1, len(rewards)])
    return TensorDict(next=nxt, batch_size=[1, len(rewards)])


def test_rewards_after_the_first_done_are_dropped_the_done_step_counts() -> None:
    planner = CEMPlanner(linear_env(), 4, 1, 4, 2)
    masked = planner._masked_rewards(rollout_with([1, 2, 3, 4], [False, True, False, True]), ("next", "reward"))
    assert masked.flatten().tolist() == [1, 2, 0, 0]
    masked = planner._masked_rewards(rollout_with([1, 2, 3, 4], [False] * 4), ("next", "reward"))
    assert masked.flatten().tolist() == [1, 2, 3, 4]


def test_a_done_above_a_nested_reward_ends_it_too() -> None:
    planner = CEMPlanner(linear_env(), 3, 1, 4, 2)
    rollout = rollout_with([1, 2, 3], [True, False, False], nested=True)
    masked = planner._masked_rewards(rollout, ("next", "agents", "reward"))
    assert masked.shape == (1, 3, 2, 1)
    assert masked[0, :, 0, 0].tolist() == [1, 0, 0] and masked[0, :, 1, 0].tolist() == [1, 0, 0]


@given(st.lists(st.tuples(st.floats(-5, 5), st.booleans()), min_size=1, max_size=8))
def test_masking_matches_a_loop(steps: list) -> None:
    rewards, done = [r for r, _ in steps], [d for _, d in steps]
    masked = CEMPlanner(linear_env(), 2, 1, 2, 2)._masked_rewards(rollout_with(rewards, done), ("next", "reward"))
    expected, ended = [], False
    for reward, flag in steps:
        expected.append(0.0 if ended else reward)
        ended = ended or flag
    torch.testing.assert_close(masked.flatten(), torch.tensor(expected, dtype=torch.float32))


def cliff_env() -> ModelEnv:
    """1-D: the reward is the position, but passing 0.5 ends the episode (done) at once."""
    move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"], out_keys=["observation"])
    score = TensorDictModule(lambda obs: (obs, obs > 0.5), in_keys=["observation"], out_keys=["reward", "done"])
    return ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(1)),
                    action_spec=Bounded(-1.0, 1.0, shape=(1,)))


def test_done_masking_changes_the_plan() -> None:
    # counting every reward, rushing right (+1 per step, return 1+2+...+5 = 15) wins; with the episode
    # ending past the cliff, stopping just short of it (about 0.5 per step, 2.5) beats one step of 1
    torch.manual_seed(0)
    env = cliff_env()
    action = CEMPlanner(env, planning_horizon=5, optim_steps=10, num_candidates=500, top_k=50)(
        TensorDict(observation=torch.zeros(1), batch_size=[]))["action"]
    assert 0.2 < action.item() <= 0.55
    rollout = env.rollout(5, lambda td: td.set("action", torch.ones(1)), auto_reset=False,
                          tensordict=TensorDict(observation=torch.zeros(1), batch_size=[]),
                          break_when_any_done=False)
    assert rollout["next", "done"].flatten().tolist() == [True] * 5 and rollout["next", "reward"].sum() == 15


# --------------------------------------------------------------------------- the module
def test_keys_state_dicts_and_parameters() -> None:
    env = linear_env()
    # a reward model with parameters: they are the env's, not in the planner's state dict
    env.reward_model = TensorDictModule(nn.Linear(2, 1), in_keys=["observation"], out_keys=["reward"])
    cem = CEMPlanner(env, 3, 2, 10, 3)
    assert cem.in_keys == ["observation"] and cem.out_keys == ["action"]
    assert list(cem.state_dict()) == []
    mppi = MPPIPlanner(env, reward_to_go, 2.0, 3, 2, 10, 3)
    assert list(mppi.state_dict()) == ["temperature"]
    assert mppi.temperature.dtype == torch.float32 and mppi.temperature.item() == 2.0
    assert cem.env is env and cem.action_spec is env.action_spec


def test_a_parametric_advantage_module_is_a_submodule() -> None:
    value = nn.Linear(2, 1)

    class Advantage(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.value_network = value

        def forward(self, rollout: TensorDictBase) -> TensorDictBase:
            return reward_to_go(rollout)

    mppi = MPPIPlanner(linear_env(), Advantage(), 1.0, 2, 1, 4, 2)
    assert sorted(mppi.state_dict()) == ["advantage_module.value_network.bias",
                                         "advantage_module.value_network.weight", "temperature"]


def test_action_keys() -> None:
    env = linear_env(action_key="move")  # the env reads "move": candidates are fed there
    torch.manual_seed(0)
    td = CEMPlanner(env, 3, 6, 300, 30, action_key=("agent", "action"))(observations(2))
    assert td["agent", "action"].shape == (2, 2) and "move" not in td.keys()
    torch.testing.assert_close(td["agent", "action"], OPTIMUM_FROM_ORIGIN.expand(2, 2), atol=0.05, rtol=0)


def test_a_discrete_action_spec_is_planned_in_floats_and_projected() -> None:
    move = TensorDictModule(lambda obs, act: obs + (act.unsqueeze(-1).float() - 1), in_keys=["observation", "action"],
                            out_keys=["observation"])
    score = TensorDictModule(lambda obs: -(obs - 2).abs(), in_keys=["observation"], out_keys=["reward"])
    spec = Categorical(3)
    env = ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(1)), action_spec=spec)
    torch.manual_seed(0)
    td = CEMPlanner(env, 2, 4, 100, 10)(TensorDict(observation=torch.zeros(4, 1), batch_size=[4]))
    assert spec.is_in(td["action"]) and td["action"].tolist() == [2, 2, 2, 2]


@pytest.mark.parametrize("planner_class", [CEMPlanner, MPPIPlanner])
def test_actions_of_several_dims(planner_class: type) -> None:
    # torchrl counts the candidate dim as len(action_shape) - 4 from the end: right for 1-D actions only
    move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"], out_keys=["observation"])
    score = TensorDictModule(lambda obs: -(obs - 3).pow(2).sum((-2, -1)).unsqueeze(-1), in_keys=["observation"],
                             out_keys=["reward"])
    env = ModelEnv(move, score, observation_spec=Composite(observation=Unbounded((2, 2))),
                   action_spec=Bounded(-1.0, 1.0, shape=(2, 2)))
    extra = (reward_to_go, 0.1) if planner_class is MPPIPlanner else ()
    torch.manual_seed(0)
    td = planner_class(env, *extra, 2, 6, 300, 30)(TensorDict(observation=torch.zeros(3, 2, 2), batch_size=[3]))
    torch.testing.assert_close(td["action"], torch.ones(3, 2, 2), atol=0.05, rtol=0)


def test_forward_projects_and_writes_tensordict_out() -> None:
    class Constant(MPCPlannerBase):
        def planning(self, tensordict):
            return torch.full((*tensordict.batch_size, 2), 5.0)

    planner = Constant(linear_env())
    td = planner(observations(3))
    assert td["action"].eq(1.0).all()  # projected into [-1, 1]
    out = TensorDict({}, batch_size=[3])
    assert planner(observations(3), tensordict_out=out) is out and out["action"].shape == (3, 2)
    with pytest.raises(ValueError, match="params"):
        planner(observations(3), params=TensorDict())


def test_the_base_is_abstract() -> None:
    with pytest.raises(TypeError, match="abstract"):
        MPCPlannerBase(linear_env())


def test_a_batch_locked_env_is_refused() -> None:
    class Locked(ModelEnv):
        batch_locked = True

    env = linear_env()
    locked = Locked(env.world_model, env.reward_model, observation_spec=env.observation_spec,
                    action_spec=env.action_spec)
    with pytest.raises(ValueError, match="batch_locked"):
        CEMPlanner(locked, 3, 2, 10, 3)
    with pytest.raises(TypeError, match="PlanningEnv"):
        CEMPlanner(object(), 3, 2, 10, 3)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(planning_horizon=0), ValueError, "planning_horizon"),
    (dict(optim_steps=1.5), ValueError, "optim_steps"),
    (dict(num_candidates=0), ValueError, "num_candidates"),
    (dict(top_k=11), ValueError, "cannot exceed"),
    (dict(top_k=1), ValueError, "unbiased std"),
])
def test_cem_argument_errors(kwargs: dict, error: type, match: str) -> None:
    arguments = dict(planning_horizon=3, optim_steps=2, num_candidates=10, top_k=3) | kwargs
    with pytest.raises(error, match=match):
        CEMPlanner(linear_env(), **arguments)


def test_mppi_argument_errors() -> None:
    assert MPPIPlanner(linear_env(), reward_to_go, 1.0, 3, 2, 10, 1).top_k == 1  # a weighted std of one is 0
    with pytest.raises(TypeError, match="callable"):
        MPPIPlanner(linear_env(), "advantage", 1.0, 3, 2, 10, 3)
    with pytest.raises(TypeError, match="temperature"):
        MPPIPlanner(linear_env(), reward_to_go, "hot", 3, 2, 10, 3)
    with pytest.raises(ValueError, match="finite"):
        MPPIPlanner(linear_env(), reward_to_go, float("nan"), 3, 2, 10, 3)
    planner = MPPIPlanner(linear_env(), lambda rollout: rollout, 1.0, 3, 2, 10, 3)
    with pytest.raises(KeyError, match="advantage"):
        planner(observations(2))


def test_a_missing_reward_key_is_named() -> None:
    planner = CEMPlanner(linear_env(), 3, 2, 10, 3, reward_key="reward")
    with pytest.raises(KeyError, match="next"):
        planner(observations(2))


# --------------------------------------------------------------------------- ModelEnv
def test_model_env_follows_the_protocol_and_is_not_batch_locked() -> None:
    env = linear_env()
    assert isinstance(env, PlanningEnv) and env.batch_locked is False
    assert env.device == torch.device("cpu") and env.observation_keys == ["observation"]


def test_step_writes_next_and_leaves_the_input_entries_alone() -> None:
    env = linear_env()
    obs = torch.zeros(4, 2)
    td = TensorDict(observation=obs, action=torch.ones(4, 2), done=torch.ones(4, 1, dtype=torch.bool), batch_size=[4])
    td = env.step(td)
    assert td["observation"] is obs and td["observation"].eq(0).all()
    assert td["next", "observation"].eq(1).all()
    torch.testing.assert_close(td["next", "reward"], distance_reward(torch.ones(4, 2)))
    assert td["next", "done"].shape == (4, 1) and not td["next", "done"].any()  # a fresh flag, not the input's
    assert not td["next", "terminated"].any()
    assert env(td.exclude("next"))["next", "observation"].eq(1).all()  # forward is step


def test_rollout_stacks_steps_on_a_new_last_batch_dim() -> None:
    env = linear_env()
    start = TensorDict(observation=torch.zeros(2, 3, 2), batch_size=[2, 3])
    rollout = env.rollout(4, lambda td: td.set("action", torch.full((*td.batch_size, 2), 0.5)),
                          auto_reset=False, tensordict=start, break_when_any_done=False)
    assert rollout.batch_size == (2, 3, 4)
    assert rollout["next", "observation"][0, 0, :, 0].tolist() == [0.5, 1.0, 1.5, 2.0]
    assert rollout["observation"][0, 0, :, 0].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert set(start.keys()) == {"observation"}
    random_rollout = env.rollout(3)  # reset, random actions
    assert random_rollout.batch_size == (3,) and env.action_spec.is_in(random_rollout["action"])


def test_rollout_breaks_when_any_is_done() -> None:
    env = cliff_env()
    start = TensorDict(observation=torch.tensor([[0.0], [-5.0]]), batch_size=[2])
    push = lambda td: td.set("action", torch.full((2, 1), 0.3))  # noqa: E731
    assert env.rollout(10, push, auto_reset=False, tensordict=start).batch_size == (2, 2)
    assert env.rollout(10, push, auto_reset=False, tensordict=start, break_when_any_done=False).batch_size == (2, 10)


def test_reset_keeps_given_observations_and_draws_missing_ones() -> None:
    env = linear_env()
    obs = torch.ones(3, 2)
    td = env.reset(TensorDict(observation=obs, action=torch.zeros(3, 2), batch_size=[3]))
    assert td["observation"] is obs and "action" not in td.keys() and not td["done"].any()
    assert env.reset(TensorDict({}, batch_size=[5]))["observation"].shape == (5, 2)
    assert env.reset()["observation"].shape == (2,)


def test_model_env_errors() -> None:
    move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"], out_keys=["observation"])
    obs_spec, act_spec = Composite(observation=Unbounded(2)), Bounded(-1.0, 1.0, shape=(2,))
    with pytest.raises(ValueError, match="reward"):
        ModelEnv(move, observation_spec=obs_spec, action_spec=act_spec)
    wrong = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"], out_keys=["other"])
    with pytest.raises(ValueError, match="observation"):
        ModelEnv(wrong, move, observation_spec=obs_spec, action_spec=act_spec)
    with pytest.raises(TypeError, match="tensordict module"):
        ModelEnv(nn.Linear(2, 2), observation_spec=obs_spec, action_spec=act_spec)
    with pytest.raises(TypeError, match="observation_spec"):
        ModelEnv(move, move, observation_spec=Unbounded(2), action_spec=act_spec)
    with pytest.raises(TypeError, match="action_spec"):
        ModelEnv(move, move, observation_spec=obs_spec, action_spec=Composite(action=act_spec))
    env = linear_env()
    with pytest.raises(KeyError, match="action"):
        env.step(TensorDict(observation=torch.zeros(2), batch_size=[]))
    with pytest.raises(ValueError, match="tensordict"):
        env.rollout(3, auto_reset=False)
    with pytest.raises(ValueError, match="max_steps"):
        env.rollout(0)


def test_a_world_model_writing_the_reward_needs_no_reward_model() -> None:
    both = TensorDictModule(lambda obs, act: (obs + act, -(obs + act).abs().sum(-1, keepdim=True)),
                            in_keys=["observation", "action"], out_keys=["observation", "reward"])
    env = ModelEnv(both, observation_spec=Composite(observation=Unbounded(2)), action_spec=Bounded(-1.0, 1.0, (2,)))
    torch.manual_seed(0)
    td = CEMPlanner(env, 2, 6, 300, 30)(TensorDict(observation=torch.tensor([0.5, -3.0]), batch_size=[]))
    torch.testing.assert_close(td["action"], torch.tensor([-0.5, 1.0]), atol=0.08, rtol=0)


def test_docstring_examples() -> None:
    torch.manual_seed(0)
    result = doctest.testmod(planners_module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
