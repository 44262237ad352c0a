"""Compiled graphs meet what torchrl's collectors and losses expect of a module
(../shared/reference/torchrl_interop.md): the runtime input check installed by the compiler must not
get in the way of deep copies, parameter swaps (target networks), vmap or functional calls."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModuleBase

import rldsl
from rldsl.compiler import InputMismatch
from rldsl.modules import ExplorationType, set_exploration_type

ROOT = Path(__file__).resolve().parents[1]
SAC = ROOT / "examples" / "pendulum_sac.rlm"


@pytest.fixture(scope="module")
def sac() -> object:
    return rldsl.compile(SAC, seed=0)


def test_every_compiled_module_is_a_tensordict_module(sac: object) -> None:
    assert all(isinstance(module, TensorDictModuleBase) for module in sac.values())


def test_a_deep_copy_runs_its_own_weights_and_keeps_the_input_check(sac: object) -> None:
    critic = sac["qvalue"]
    twin = copy.deepcopy(critic)
    with torch.no_grad():
        for parameter in twin.parameters():
            parameter.add_(1.0)
    td = sac.spec_random_input("qvalue", (4,))
    assert not torch.equal(critic(td.clone())["state_action_value"], twin(td.clone())["state_action_value"])
    with pytest.raises(InputMismatch, match="module `qvalue` reads `observation`"):
        twin(TensorDict(observation=torch.zeros(4, 7), action=torch.zeros(4, 1), batch_size=[4]))


def test_parameters_swapped_in_with_to_module_are_used(sac: object) -> None:
    critic = sac["critic"]
    td = sac.spec_random_input("critic", (3,))
    params = TensorDict.from_module(critic, as_module=True)
    target = params.data.clone().apply(torch.zeros_like)
    with target.to_module(critic):
        assert torch.equal(critic(td.clone())["state_value"], torch.zeros(3, 1))
    assert not torch.equal(critic(td.clone())["state_value"], torch.zeros(3, 1))
    assert not any("_sep_" in name for name, _ in critic.named_parameters())


def test_critics_run_under_vmap_over_stacked_parameters(sac: object) -> None:
    critic = sac["qvalue"]
    params = TensorDict.from_module(critic)
    stacked = torch.stack([params.data.clone(), params.data.clone().apply(torch.zeros_like)])
    td = sac.spec_random_input("qvalue", (5,))

    def call(p: TensorDict, inputs: TensorDict) -> torch.Tensor:
        with p.to_module(critic):
            return critic(inputs.clone())["state_action_value"]

    out = torch.vmap(call, (0, None), randomness="error")(stacked, td)
    assert out.shape == (2, 5, 1)
    assert torch.allclose(out[0], critic(td.clone())["state_action_value"], atol=1e-6)  # batched matmul rounding
    assert torch.equal(out[1], torch.zeros(5, 1))


def test_the_policy_log_prob_is_the_distributions(sac: object) -> None:
    policy = sac["policy"]
    td = sac.spec_random_input("policy", (6,))
    with set_exploration_type(ExplorationType.RANDOM), torch.no_grad():
        out = policy(td)
        again = policy.get_dist(out).log_prob(out["action"])
    assert torch.equal(out["action_log_prob"], again)
    assert policy.log_prob_keys == ["action_log_prob"] and policy.dist_sample_keys == ["action"]
