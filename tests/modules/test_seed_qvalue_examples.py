"""The seed reference's QValueActor and DistributionalQValueActor examples, run as tests.

The examples come from `seed/torchrl_modules_reference.txt` ("Q-Value actors"), with
``OneHot(4)`` (rldsl also exports torchrl's legacy name ``OneHotDiscreteTensorSpec``) and
rldsl's modules in place of torchrl's. The printed tensordicts there are checked entry by
entry (shape, dtype). A last test steps a real gymnasium CartPole-v1 with an ε-greedy
QValueActor.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictSequential
from torch import nn

from rldsl.modules import MLP, DistributionalQValueActor, EGreedyModule, QValueActor
from rldsl.specs import OneHot, OneHotDiscreteTensorSpec, action_to_env, env_specs


def entries(td: TensorDict) -> dict[str, tuple[tuple[int, ...], torch.dtype]]:
    return {key: (tuple(value.shape), value.dtype) for key, value in td.items()}


def test_legacy_spec_name_is_one_hot():
    assert OneHotDiscreteTensorSpec is OneHot


def test_seed_qvalue_actor_example():
    td = TensorDict({"observation": torch.randn(5, 3)}, [5])
    # we have 4 actions to choose from
    action_spec = OneHot(4)
    # the model reads a state of dimension 3 and outputs 4 values, one for each action available
    module = nn.Linear(3, 4)
    qvalue_actor = QValueActor(module=module, spec=action_spec)
    qvalue_actor(td)
    assert entries(td) == {
        "action": ((5, 4), torch.int64),
        "action_value": ((5, 4), torch.float32),
        "chosen_action_value": ((5, 1), torch.float32),
        "observation": ((5, 3), torch.float32),
    }
    assert (td["action"].sum(-1) == 1).all()
    assert torch.equal(td["chosen_action_value"], (td["action"] * td["action_value"]).sum(-1, keepdim=True))


def test_seed_distributional_qvalue_actor_example():
    td = TensorDict({"observation": torch.randn(5, 4)}, [5])
    nbins = 3
    # our model reads the observation and outputs a stack of 4 logits (one for each action) of size nbins=3
    module = MLP(out_features=(nbins, 4), depth=2)
    action_spec = OneHot(4)
    qvalue_actor = DistributionalQValueActor(module=module, spec=action_spec, support=torch.arange(nbins))
    td = qvalue_actor(td)
    assert entries(td) == {
        "action": ((5, 4), torch.int64),
        "action_value": ((5, 3, 4), torch.float32),
        "observation": ((5, 4), torch.float32),
    }
    expected = (td["action_value"].exp() * torch.arange(nbins).unsqueeze(-1)).sum(-2)
    assert torch.equal(td["action"].argmax(-1), expected.argmax(-1))


def test_egreedy_qvalue_actor_steps_cartpole():
    torch.manual_seed(0)
    specs = env_specs("CartPole-v1")
    observation_spec, action_spec = specs.observation["observation"], specs.action
    actor = QValueActor(MLP(in_features=observation_spec.shape[-1], out_features=action_spec.shape[-1],
                            num_cells=[16]), spec=action_spec)
    explore = EGreedyModule(action_spec, eps_init=1.0, eps_end=0.1, annealing_num_steps=4)
    policy = TensorDictSequential(actor, explore)
    env = gymnasium.make("CartPole-v1")
    try:
        observation, _ = env.reset(seed=0)
        steps = 0
        for _ in range(6):
            td = TensorDict({"observation": torch.as_tensor(observation, dtype=observation_spec.dtype)}, [])
            td = policy(td)
            assert action_spec.is_in(td["action"])
            action = action_to_env(action_spec, td["action"], env.action_space)
            assert env.action_space.contains(np.int64(action))
            observation, reward, terminated, truncated, _ = env.step(action)
            explore.step()
            steps += 1
            if terminated or truncated:
                observation, _ = env.reset()
    finally:
        env.close()
    assert steps == 6
    assert explore.eps.item() == pytest.approx(0.1)
