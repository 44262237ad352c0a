"""The short call paths of the speed work (issue 13, item 3) give what the generic paths give.

`SafeSequential` (and the operators built on it) runs ``seq(td)`` without tensordict's
generic `TensorDictSequential.forward`; `write_outputs` / `SafeProbabilisticModule` write
through ``_entries.write_entry``; `TanhNormal` shares one `TanhBox` per number bounds. Each
test compares the short path with the generic one, or checks a case it must hand over.
"""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import (
    NormalParamExtractor,
    TensorDictModule,
    TensorDictSequential,
    set_skip_existing,
)
from torch import nn

from rldsl.modules import (
    Actor,
    ActorValueOperator,
    AdditiveGaussianWrapper,
    ExplorationType,
    ProbabilisticActor,
    TanhNormal,
    ValueOperator,
    set_exploration_type,
)
from rldsl.modules.distributions._squash import TanhBox
from rldsl.modules.tensordict_module.sequence import SafeSequential
from rldsl.specs import Bounded


def _actor_value() -> ActorValueOperator:
    torch.manual_seed(0)
    common = TensorDictModule(nn.Linear(3, 8), in_keys=["observation"], out_keys=["hidden"])
    policy = Actor(nn.Linear(8, 2), in_keys=["hidden"])
    value = ValueOperator(nn.Linear(8, 1), in_keys=["hidden"])
    return ActorValueOperator(common, policy, value)


def _td(batch: int = 4) -> TensorDict:
    return TensorDict(observation=torch.randn(batch, 3), batch_size=[batch])


def test_sequence_short_path_equals_tensordicts_generic_forward():
    model = _actor_value()
    td = _td()
    lean = model(td.clone())
    generic = TensorDictSequential.forward(model, td.clone())
    assert set(lean.keys()) == set(generic.keys()) == {"observation", "hidden", "action", "state_value"}
    for key in generic.keys():
        assert torch.equal(lean[key], generic[key])


def test_sequence_short_path_writes_in_place_and_returns_the_input():
    model = _actor_value()
    td = _td()
    assert model(td) is td
    assert "state_value" in td.keys()


def test_sequence_module_that_returns_a_new_tensordict_is_handled_as_tensordict_does():
    """inplace=None (the default) returns what the last module returned; inplace=True writes back."""
    first = TensorDictModule(nn.Linear(3, 2), in_keys=["observation"], out_keys=["a"], inplace=False)
    second = TensorDictModule(nn.Identity(), in_keys=["a"], out_keys=["b"])
    for inplace in (None, True):
        seq = SafeSequential(first, second, inplace=inplace)
        td = _td()
        lean = seq(td.clone())
        generic = TensorDictSequential.forward(seq, td.clone())
        assert set(lean.keys()) == set(generic.keys())
        for key in generic.keys():
            assert torch.equal(lean[key], generic[key])


def test_sequence_failure_names_the_module_that_failed():
    model = _actor_value()
    bad = TensorDict(observation=torch.randn(4, 5), batch_size=[4])  # wrong feature size
    with pytest.raises(RuntimeError) as info:
        model(bad)
    assert any("Failed while executing module '0'" in note for note in getattr(info.value, "__notes__", []))


def test_sequence_other_calls_take_the_generic_path():
    model = _actor_value()
    td = _td()
    out = TensorDict(batch_size=[4])
    result = model(td, tensordict_out=out)
    assert result is out and "action" in out.keys() and "action" not in td.keys()
    with set_skip_existing(True):
        td = _td()
        td["action"] = torch.zeros(4, 2)
        td["hidden"] = torch.zeros(4, 8)
        td["state_value"] = torch.zeros(4, 1)
        assert torch.equal(model(td)["action"], torch.zeros(4, 2))  # everything present: skipped


def test_exploration_wrapper_runs_through_the_short_path_with_its_semantics():
    torch.manual_seed(0)
    policy = Actor(nn.Linear(3, 2), spec=Bounded(-1.0, 1.0, shape=(2,)))
    wrapper = AdditiveGaussianWrapper(policy, sigma_init=10.0, sigma_end=1.0)
    td = _td(64)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        quiet = wrapper(td.clone())["action"]
    assert torch.equal(quiet, policy(td.clone())["action"])
    with set_exploration_type(ExplorationType.RANDOM):
        noisy = wrapper(td.clone())["action"]
    assert not torch.equal(noisy, quiet) and bool(noisy.abs().max() <= 1.0)


def test_probabilistic_actor_log_prob_is_that_of_the_written_action():
    torch.manual_seed(0)
    net = TensorDictModule(nn.Sequential(nn.Linear(3, 4), NormalParamExtractor()),
                           in_keys=["observation"], out_keys=["loc", "scale"])
    actor = ProbabilisticActor(net, in_keys=["loc", "scale"], distribution_class=TanhNormal, return_log_prob=True)
    for kind in (ExplorationType.RANDOM, ExplorationType.DETERMINISTIC):
        with set_exploration_type(kind):
            td = actor(_td(8))
        assert torch.equal(td["action_log_prob"], actor.get_dist(td).log_prob(td["action"]))


def test_probabilistic_write_with_wrong_batch_dims_still_fails_as_tensordict_does():
    """A value that does not fit the tensordict goes through `set`, which refuses it."""
    module = TensorDictModule(lambda x: x.sum(0), in_keys=["observation"], out_keys=["summed"])
    seq = SafeSequential(module)
    with pytest.raises(RuntimeError):
        seq(_td(4))


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (-2.0, 3.0), (0.0, 1.0), (-0.0, 1.0)])
def test_tanh_normal_shared_box_gives_the_values_of_a_fresh_box(low, high):
    torch.manual_seed(0)
    loc, scale = torch.randn(5, 3), torch.rand(5, 3) + 0.1
    dist = TanhNormal(loc, scale, low=low, high=high)
    fresh = TanhBox(low, high, True)
    z = torch.randn(5, 3)
    assert torch.equal(dist._box.squash(z), fresh.squash(z))
    assert torch.equal(dist._box.log_abs_det_jacobian(z), fresh.log_abs_det_jacobian(z))
    assert dist._box.mid == fresh.mid and str(dist._box.mid) == str(fresh.mid)  # -0.0 stays -0.0


def test_tanh_normal_checks_still_refuse_bad_arguments_on_the_inline_path():
    loc, scale = torch.zeros(2), torch.ones(2)
    with pytest.raises(ValueError):
        TanhNormal(loc, scale, upscale=0.0)
    with pytest.raises(ValueError):
        TanhNormal(loc, scale, upscale=float("nan"))
    with pytest.raises(TypeError):
        TanhNormal(loc, scale, tanh_loc=1)
    with pytest.raises(ValueError):
        TanhNormal(loc, scale, event_dims=2)
    broadcast = TanhNormal(torch.zeros(4, 2), torch.ones(2), low=torch.tensor(-2.0), high=2.0)
    assert broadcast.scale.shape == (4, 2) and broadcast.batch_shape == (4,)
