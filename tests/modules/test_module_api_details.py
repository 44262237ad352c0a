"""Module API details torchrl code relies on (issue 13, item 2): ``TruncatedNormal.device``, and
probabilistic actors whose inner network already writes the action (gSDE-style) combined with
``safe=True``."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import distributions as D

from rldsl import specs as S
from rldsl.modules import ExplorationType, ProbabilisticActor, TruncatedNormal, set_exploration_type


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_truncated_normal_reports_the_device_of_its_location(device: str) -> None:
    """torchrl's ``TruncatedNormal`` records ``loc.device`` as ``device`` at construction (code written
    for it, e.g. casting actions onto the policy's device, reads ``dist.device``)."""
    dist = TruncatedNormal(torch.zeros(3, 2, device=device), torch.ones(3, 2, device=device), low=-1.0, high=2.0)
    assert dist.device == torch.device(device)
    dist.update(torch.ones(4, 2, device=device), torch.ones(4, 2, device=device))
    assert dist.device == torch.device(device)


class _WritesItsOwnAction(torch.nn.Module):
    """A gSDE-style network: besides the distribution's parameters it writes the action itself
    (here deliberately far outside the action's box)."""

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return observation * 0, observation.abs() + 0.5, observation * 10


def _actor(safe: bool) -> ProbabilisticActor:
    net = TensorDictModule(_WritesItsOwnAction(), in_keys=["observation"], out_keys=["loc", "scale", "action"])
    return ProbabilisticActor(net, in_keys=["loc", "scale"], spec=S.Bounded(-1.0, 1.0, shape=(2,)), safe=safe,
                              distribution_class=D.Normal, return_log_prob=True)


def _observation() -> TensorDict:
    return TensorDict(observation=torch.tensor([[0.05, -3.0], [0.2, 0.3]]), batch_size=[2])


@pytest.mark.parametrize("exploration", [ExplorationType.RANDOM, ExplorationType.DETERMINISTIC])
def test_an_action_written_by_the_inner_network_is_projected_when_safe(exploration: ExplorationType) -> None:
    """torchrl's SafeModule: "safe (bool) – if True, the value of the output is checked against the input
    spec ... If this value is out of bounds, it is projected back onto the desired space using the
    TensorSpec.project method"; its safe hook projects every key with a spec present in the output
    (behaviour reference §3.1), so an action the inner network wrote (the sampling step is skipped:
    "The sampling step is skipped if the supplied TensorDict has all the desired key-value pairs
    already") is projected as well. rldsl scores the projected value (its documented difference:
    the stored log-prob is ``get_dist(td).log_prob(td["action"])``)."""
    actor = _actor(safe=True)
    with set_exploration_type(exploration):
        out = actor(_observation())
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    expected = actor.get_dist(out.clone()).log_prob(out["action"])
    assert torch.equal(out["action_log_prob"], expected)


def test_without_safe_the_action_written_by_the_inner_network_is_kept() -> None:
    actor = _actor(safe=False)
    out = actor(_observation())
    assert torch.equal(out["action"], torch.tensor([[0.5, -30.0], [2.0, 3.0]]))
    assert torch.equal(out["action_log_prob"], actor.get_dist(out.clone()).log_prob(out["action"]))


def test_the_projected_action_goes_to_a_separate_output_tensordict() -> None:
    """The probabilistic step alone, given ``tensordict_out``: the projected value and its score are
    written there, and the input keeps the network's raw value."""
    actor = _actor(safe=True)
    td = actor.module[0](_observation())
    last = actor.module[-1]
    out = last(td, TensorDict(batch_size=[2]), _requires_sample=False)
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    assert torch.equal(td["action"], torch.tensor([[0.5, -30.0], [2.0, 3.0]]))
    assert "action_log_prob" in out.keys()


def test_the_generic_sequence_path_projects_the_written_action_too() -> None:
    """``actor(td, tensordict_out=...)`` goes through tensordict's generic forward (not rldsl's short
    path); the action the network wrote is projected there as well."""
    actor = _actor(safe=True)
    out = actor(_observation(), tensordict_out=TensorDict(batch_size=[2]))
    assert torch.equal(out["action"], torch.tensor([[0.5, -1.0], [1.0, 1.0]]))
    assert torch.equal(out["action_log_prob"], actor.get_dist(_observation()).log_prob(out["action"]))
