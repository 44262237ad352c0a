"""The examples of the torchrl.modules reference (seed document), run with rldsl on real gymnasium envs.

torchrl's ``GymEnv("Pendulum-v1")`` and ``env.rollout(n, policy)`` become
``rldsl.specs.env_specs("Pendulum-v1")`` and the small `rollout` loop below, which steps a
gymnasium env with the policy's actions (under ``ExplorationType.RANDOM``, as torchrl's
collectors do).
"""

from __future__ import annotations

import gymnasium
import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import NormalParamExtractor, TensorDictModule, TensorDictSequential
from torch import nn
from torch.distributions import Normal

from rldsl.modules import (
    Actor,
    ActorCriticWrapper,
    ActorValueOperator,
    ExplorationType,
    ProbabilisticActor,
    SafeModule,
    SafeProbabilisticModule,
    TanhNormal,
    ValueOperator,
    set_exploration_type,
)
from rldsl.specs import action_to_env, env_specs, observation_from_env

PENDULUM = "Pendulum-v1"


@pytest.fixture(scope="module")
def pendulum():
    return env_specs(PENDULUM)


def rollout(specs, policy, steps: int, seed: int = 0) -> TensorDict:
    """``steps`` transitions of the env driven by ``policy`` (a TensorDict stacked on time)."""
    env = gymnasium.make(PENDULUM)
    try:
        obs, _ = env.reset(seed=seed)
        frames = []
        with set_exploration_type(ExplorationType.RANDOM), torch.no_grad():
            for _ in range(steps):
                td = observation_from_env(specs.observation, obs, specs.observation_space)
                policy(td)
                obs, reward, terminated, truncated, _ = env.step(
                    action_to_env(specs.action, td["action"], specs.action_space)
                )
                td["next"] = observation_from_env(specs.observation, obs, specs.observation_space)
                td["next", "reward"] = torch.tensor([reward], dtype=torch.float32)
                td["next", "done"] = torch.tensor([terminated or truncated])
                frames.append(td)
                if terminated or truncated:
                    obs, _ = env.reset()
        return torch.stack(frames)
    finally:
        env.close()


def test_pendulum_specs_are_torchrls(pendulum):
    assert pendulum.action.shape == (1,) and pendulum.action.low.item() == -2.0 and pendulum.action.high.item() == 2.0
    assert pendulum.observation["observation"].shape == (3,)


def test_safe_actor_on_pendulum(pendulum):
    # >>> model = nn.LazyLinear(action_spec.shape[-1])
    # >>> policy = Actor(model, in_keys=["observation"], spec=action_spec, safe=True)
    action_spec = pendulum.action
    model = nn.LazyLinear(action_spec.shape[-1])
    policy = Actor(model, in_keys=["observation"], spec=action_spec, safe=True)
    data = rollout(pendulum, policy, steps=3)
    assert data.batch_size == (3,) and data["action"].shape == (3, 1)
    assert action_spec.is_in(data["action"])
    with torch.no_grad():  # a network whose outputs leave the box: projected back onto it
        model.weight.fill_(100.0)
        model.bias.fill_(100.0)
    data = rollout(pendulum, policy, steps=5, seed=1)
    assert action_spec.is_in(data["action"]) and (data["action"].abs() == 2.0).any()


def test_safe_probabilistic_module_example(pendulum):
    action_spec = pendulum.action
    model = nn.Sequential(nn.LazyLinear(action_spec.shape[-1] * 2), NormalParamExtractor())
    model = TensorDictModule(model, in_keys=["observation"], out_keys=["loc", "scale"])
    prob_module = SafeProbabilisticModule(
        in_keys=["loc", "scale"],
        out_keys=["action"],
        distribution_class=Normal,
        return_log_prob=True,
        spec=action_spec,
    )
    policy = TensorDictSequential(model, prob_module)
    data = rollout(pendulum, policy, steps=3)
    assert {"observation", "loc", "scale", "action", "action_log_prob"} <= set(data.keys())
    expected = Normal(data["loc"], data["scale"]).log_prob(data["action"])
    torch.testing.assert_close(data["action_log_prob"], expected)  # stored step by step, recomputed batched


def test_probabilistic_actor_example(pendulum):
    action_spec = pendulum.action
    model = TensorDictModule(nn.Sequential(nn.LazyLinear(action_spec.shape[-1] * 2), NormalParamExtractor()),
                             in_keys=["observation"], out_keys=["loc", "scale"])
    policy = ProbabilisticActor(
        model,
        in_keys=["loc", "scale"],
        out_keys=["action"],
        distribution_class=Normal,
        return_log_prob=True,
        spec=action_spec,
    )
    data = rollout(pendulum, policy, steps=3)
    # "Outputs of this policy will contain a loc and scale entries, an action sampled according
    # to the normal distribution and the log-probability of this action."
    assert {"loc", "scale", "action", "action_log_prob"} <= set(data.keys())
    torch.testing.assert_close(data["action_log_prob"], policy.get_dist(data).log_prob(data["action"]))
    assert policy.spec["action"] == action_spec


def test_bounded_tanh_normal_actor_on_pendulum(pendulum):
    action_spec = pendulum.action
    model = TensorDictModule(nn.Sequential(nn.Linear(3, 2), NormalParamExtractor()),
                             in_keys=["observation"], out_keys=["loc", "scale"])
    policy = ProbabilisticActor(model, in_keys=["loc", "scale"], distribution_class=TanhNormal,
                                distribution_kwargs={"low": action_spec.low, "high": action_spec.high},
                                return_log_prob=True, spec=action_spec, safe=True)
    data = rollout(pendulum, policy, steps=20)
    assert action_spec.is_in(data["action"])
    torch.testing.assert_close(data["action_log_prob"], policy.get_dist(data).log_prob(data["action"]))


def make_pendulum_parts(action_dim: int):
    common = SafeModule(nn.Linear(3, 4), in_keys=["observation"], out_keys=["hidden"])
    head = TensorDictModule(nn.Sequential(nn.Linear(4, 2 * action_dim), NormalParamExtractor()),
                            in_keys=["hidden"], out_keys=["loc", "scale"])
    actor = ProbabilisticActor(head, in_keys=["loc", "scale"], out_keys=["action"], distribution_class=TanhNormal,
                               distribution_kwargs={"low": -2.0, "high": 2.0}, return_log_prob=True)
    value = ValueOperator(nn.Linear(4, 1), in_keys=["hidden"])
    return common, actor, value


def test_actor_value_operator_example(pendulum):
    common, actor, value = make_pendulum_parts(pendulum.action.shape[-1])
    td_module = ActorValueOperator(common, actor, value)
    td = TensorDict(observation=torch.randn(3, 3), batch_size=[3])
    full = td_module(td.clone())
    assert set(full.keys()) == {"observation", "hidden", "loc", "scale", "action", "action_log_prob", "state_value"}
    policy_only = td_module.get_policy_operator()(td.clone())
    assert "state_value" not in policy_only.keys() and "action" in policy_only.keys()
    value_only = td_module.get_value_operator()(td.clone())
    assert set(value_only.keys()) == {"observation", "hidden", "state_value"}
    data = rollout(pendulum, td_module.get_policy_operator(), steps=4)
    values = td_module.get_value_operator()(data)["state_value"]
    assert values.shape == (4, 1)


@pytest.mark.parametrize("shared_params", [True, False])
def test_policy_operator_works_with_and_without_a_common_trunk(pendulum, shared_params):
    # >>> if shared_params: model = ActorValueOperator(common, actor, value)
    # ... else: model = ActorCriticWrapper(actor, value)   (the reference writes ActorValueOperator(actor, value))
    # >>> policy = model.get_policy_operator()  # will work in both cases
    if shared_params:
        model = ActorValueOperator(*make_pendulum_parts(1))
    else:
        actor = Actor(nn.Linear(3, 1), spec=pendulum.action, safe=True)
        model = ActorCriticWrapper(actor, ValueOperator(nn.Linear(3, 1)))
    policy = model.get_policy_operator()
    data = rollout(pendulum, policy, steps=3)
    assert pendulum.action.is_in(data["action"]) and data["action"].shape == (3, 1)
    assert model.get_value_operator()(data)["state_value"].shape == (3, 1)
