"""`SafeProbabilisticModule`, `SafeProbabilisticTensorDictSequential` and `ProbabilisticActor`.

Keys (log-prob naming), exploration types, log-probabilities against closed forms, the
project-then-score rule (the stored log-prob is that of the stored action), num_samples,
generators, composite distributions, parameters and argument errors.
"""

from __future__ import annotations

import copy
import functools
import math

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import (
    CompositeDistribution,
    NormalParamExtractor,
    ProbabilisticTensorDictSequential,
    TensorDictModule,
    set_composite_lp_aggregate,
    set_skip_existing,
)
from torch import distributions as D, nn

from rldsl.modules import (
    MLP,
    ExplorationType,
    IndependentNormal,
    OneHotCategorical,
    ProbabilisticActor,
    SafeProbabilisticModule,
    SafeProbabilisticTensorDictSequential,
    TanhNormal,
    set_exploration_type,
)
from rldsl.specs import Bounded, Composite, OneHot

RANDOM, DETERMINISTIC = ExplorationType.RANDOM, ExplorationType.DETERMINISTIC


def params_td(batch: int = 5, dim: int = 2, loc: float = 0.0, scale: float = 1.0) -> TensorDict:
    return TensorDict(loc=torch.full((batch, dim), loc), scale=torch.full((batch, dim), scale), batch_size=[batch])


def normal_module(**kwargs) -> SafeProbabilisticModule:
    kwargs.setdefault("distribution_class", D.Normal)
    kwargs.setdefault("out_keys", ["action"])
    return SafeProbabilisticModule(in_keys=["loc", "scale"], **kwargs)


def tanh_normal_actor(act: int = 2, obs: int = 3, **kwargs) -> ProbabilisticActor:
    torch.manual_seed(0)
    net = TensorDictModule(nn.Sequential(MLP(in_features=obs, out_features=2 * act, num_cells=[16]), NormalParamExtractor()),
                           in_keys=["observation"], out_keys=["loc", "scale"])
    kwargs.setdefault("distribution_class", TanhNormal)
    kwargs.setdefault("return_log_prob", True)
    return ProbabilisticActor(net, in_keys=["loc", "scale"], **kwargs)


def observation(batch: int = 5, obs: int = 3, scale: float = 1.0) -> TensorDict:
    return TensorDict(observation=torch.randn(batch, obs) * scale, batch_size=[batch])


# ----------------------------------------------------------------------------- keys
def test_probabilistic_actor_keys():
    actor = tanh_normal_actor()
    assert actor.in_keys == ["observation"]
    assert actor.out_keys == ["loc", "scale", "action", "action_log_prob"]
    assert actor.log_prob_keys == ["action_log_prob"] and actor.log_prob_key == "action_log_prob"
    assert actor.dist_sample_keys == ["action"]
    td = actor(observation())
    assert td["action"].shape == (5, 2) and td["action_log_prob"].shape == (5,)


def test_without_return_log_prob_no_log_prob_is_written():
    td = tanh_normal_actor(return_log_prob=False)(observation())
    assert "action_log_prob" not in td.keys()


def test_nested_out_key_gets_the_suffix_on_its_last_part():
    module = normal_module(out_keys=[("agents", "action")], return_log_prob=True)
    assert module.log_prob_key == ("agents", "action_log_prob")
    td = module(params_td())
    assert td["agents", "action_log_prob"].shape == (5, 2)


def test_explicit_log_prob_key():
    module = normal_module(return_log_prob=True, log_prob_key="sample_log_prob")
    assert "sample_log_prob" in module(params_td()).keys()


def test_aggregate_log_prob_setting_at_construction_names_the_key_sample_log_prob():
    with set_composite_lp_aggregate(True):
        module = normal_module(return_log_prob=True)
        assert module.log_prob_key == "sample_log_prob"
        assert "sample_log_prob" in module(params_td()).keys()


def test_dict_in_keys_map_keywords_to_keys():
    module = SafeProbabilisticModule(in_keys={"loc": "mu", "scale": "sigma"}, out_keys=["action"],
                                     distribution_class=D.Normal)
    td = TensorDict(mu=torch.full((3,), 2.0), sigma=torch.ones(3), batch_size=[3])
    assert module(td)["action"].tolist() == [2.0, 2.0, 2.0]


def test_default_out_key_is_torchrls():
    module = SafeProbabilisticModule(in_keys=["loc", "scale"], distribution_class=D.Normal)
    assert module.out_keys == ["_"]


# ----------------------------------------------------------------------------- exploration
def test_default_is_deterministic_tanh_of_loc():
    actor = tanh_normal_actor()
    td = actor(observation())
    torch.testing.assert_close(td["action"], td["loc"].tanh())
    assert actor.module[-1].default_interaction_type is DETERMINISTIC


def test_random_draws_and_deterministic_does_not():
    actor = tanh_normal_actor()
    td = observation()
    with set_exploration_type(DETERMINISTIC):
        first, second = actor(td.clone())["action"], actor(td.clone())["action"]
    assert torch.equal(first, second)
    with set_exploration_type(RANDOM):
        first, second = actor(td.clone())["action"], actor(td.clone())["action"]
    assert not torch.equal(first, second)


def test_random_uses_rsample_so_gradients_flow_through_the_action():
    actor = tanh_normal_actor()
    with set_exploration_type(RANDOM):
        td = actor(observation())
    (td["action"].sum() + td["action_log_prob"].sum()).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


def test_random_without_rsample_samples_without_gradient():
    module = SafeProbabilisticModule(in_keys=["logits"], out_keys=["action"], distribution_class=OneHotCategorical,
                                     return_log_prob=True)
    logits = torch.randn(6, 4, requires_grad=True)
    with set_exploration_type(RANDOM):
        td = module(TensorDict(logits=logits, batch_size=[6]))
    assert not td["action"].requires_grad and td["action_log_prob"].requires_grad
    assert (td["action"].sum(-1) == 1).all()


def test_mode_of_a_tanh_normal_raises():
    with set_exploration_type(ExplorationType.MODE), pytest.raises(RuntimeError, match="analytical mode"):
        tanh_normal_actor()(observation())


def test_mean_of_a_tanh_normal_is_a_monte_carlo_estimate():
    module = SafeProbabilisticModule(in_keys=["loc", "scale"], out_keys=["action"], distribution_class=TanhNormal,
                                     n_empirical_estimate=20000)
    torch.manual_seed(0)
    td = params_td(batch=1, dim=1, loc=0.5, scale=1.0)
    with set_exploration_type(ExplorationType.MEAN):
        mean = module(td)["action"]
    torch.manual_seed(1)
    reference = TanhNormal(td["loc"], td["scale"]).sample((20000,)).mean(0)
    torch.testing.assert_close(mean, reference, atol=0.02, rtol=0)


def test_mean_and_mode_use_closed_forms_when_there_are_some():
    module = SafeProbabilisticModule(in_keys=["loc", "scale"], out_keys=["action"], distribution_class=IndependentNormal)
    td = params_td(loc=0.3)
    for kind in (ExplorationType.MEAN, ExplorationType.MODE, DETERMINISTIC):
        with set_exploration_type(kind):
            assert torch.equal(module(td.clone())["action"], td["loc"])


def test_default_interaction_type_accepts_names():
    module = normal_module(default_interaction_type="random")
    assert module.default_interaction_type is RANDOM
    td = params_td()
    assert not torch.equal(module(td.clone())["action"], module(td.clone())["action"])


# ----------------------------------------------------------------------------- log-probabilities
def test_normal_log_prob_matches_torch():
    module = normal_module(return_log_prob=True, default_interaction_type=RANDOM)
    td = module(params_td(loc=0.5, scale=2.0))
    expected = D.Normal(td["loc"], td["scale"]).log_prob(td["action"])
    torch.testing.assert_close(td["action_log_prob"], expected)


def test_tanh_normal_log_prob_matches_the_change_of_variables_formula():
    actor = tanh_normal_actor(distribution_kwargs={"low": -2.0, "high": 2.0})
    with set_exploration_type(RANDOM):
        td = actor(observation(50))
    action, loc, scale = td["action"].double(), td["loc"].double(), td["scale"].double()
    pre_tanh = torch.atanh(action / 2)
    expected = (D.Normal(loc, scale).log_prob(pre_tanh) - torch.log(2 * (1 - (action / 2) ** 2))).sum(-1)
    torch.testing.assert_close(td["action_log_prob"].double(), expected, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("kind", [RANDOM, DETERMINISTIC])
def test_stored_log_prob_is_exactly_that_of_the_stored_action(kind):
    actor = tanh_normal_actor(distribution_kwargs={"low": -2.0, "high": 2.0})
    with set_exploration_type(kind):
        td = actor(observation(64, scale=30.0))  # large inputs: tanh saturates on some entries
    assert torch.equal(td["action_log_prob"], actor.get_dist(td).log_prob(td["action"]))


def test_safe_projection_happens_before_scoring():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    module = normal_module(spec=spec, safe=True, return_log_prob=True)
    td = params_td(loc=0.0, scale=5.0)
    torch.manual_seed(0)
    with set_exploration_type(RANDOM):
        module(td)
    action = td["action"]
    assert spec.is_in(action) and (action.abs() == 1).any()  # some draws were clamped
    expected = D.Normal(td["loc"], td["scale"]).log_prob(action)
    assert torch.equal(td["action_log_prob"], expected)
    assert torch.equal(td["action_log_prob"], module.get_dist(td).log_prob(td["action"]))


def test_safe_projection_of_a_deterministic_value_is_scored_too():
    module = normal_module(spec=Bounded(-1.0, 1.0, shape=(2,)), safe=True, return_log_prob=True)
    td = module(params_td(loc=3.0))
    assert (td["action"] == 1.0).all()
    torch.testing.assert_close(td["action_log_prob"], D.Normal(3.0, 1.0).log_prob(torch.ones(5, 2)))


def test_unsafe_module_does_not_project():
    module = normal_module(spec=Bounded(-1.0, 1.0, shape=(2,)), return_log_prob=True)
    assert (module(params_td(loc=3.0))["action"] == 3.0).all()


def test_safe_probabilistic_actor_keeps_actions_in_a_narrow_spec():
    spec = Bounded(-0.5, 0.5, shape=(2,))
    actor = tanh_normal_actor(spec=spec, safe=True)
    with set_exploration_type(RANDOM):
        td = actor(observation(200, scale=5.0))
    assert spec.is_in(td["action"])
    assert torch.equal(td["action_log_prob"], actor.get_dist(td).log_prob(td["action"]))


def test_log_prob_of_values_written_upstream():
    upstream = TensorDictModule(lambda loc: loc + 1.0, in_keys=["loc"], out_keys=["action"])
    head = normal_module(return_log_prob=True)
    seq = SafeProbabilisticTensorDictSequential(upstream, head)
    td = seq(params_td())
    assert (td["action"] == 1.0).all()  # not resampled
    torch.testing.assert_close(td["action_log_prob"], D.Normal(0.0, 1.0).log_prob(torch.ones(5, 2)))


# ----------------------------------------------------------------------------- existing values
def test_existing_values_are_overwritten_by_default():
    module = normal_module()
    td = params_td(loc=2.0)
    td["action"] = torch.zeros(5, 2)
    assert (module(td)["action"] == 2.0).all()


def test_set_skip_existing_keeps_existing_values():
    module = normal_module()
    td = params_td(loc=2.0)
    td["action"] = torch.zeros(5, 2)
    with set_skip_existing(True):
        assert (module(td)["action"] == 0.0).all()


# ----------------------------------------------------------------------------- samples and generators
def test_num_samples_adds_a_leading_dim():
    module = normal_module(num_samples=3, return_log_prob=True, default_interaction_type=RANDOM)
    out = module(params_td())
    assert out.batch_size == (3, 5) and out["action"].shape == (3, 5, 2)
    assert out["action_log_prob"].shape == (3, 5, 2)


def test_num_samples_repeats_a_deterministic_value():
    out = normal_module(num_samples=4)(params_td(loc=1.5))
    assert out["action"].shape == (4, 5, 2) and (out["action"] == 1.5).all()


def test_an_int_generator_makes_draws_reproducible():
    draws = []
    for _ in range(2):
        module = normal_module(generator=123, default_interaction_type=RANDOM)
        draws.append(module(params_td())["action"])
    assert torch.equal(*draws)


def test_a_generator_is_used_and_advances():
    generator = torch.Generator().manual_seed(7)
    module = normal_module(generator=generator, default_interaction_type=RANDOM)
    first, second = module(params_td())["action"], module(params_td())["action"]
    assert not torch.equal(first, second)
    generator.manual_seed(7)
    assert torch.equal(module(params_td())["action"], first)


# ----------------------------------------------------------------------------- calls and outputs
def test_tensors_as_arguments_return_tensors():
    module = normal_module(return_log_prob=True)
    action, log_prob = module(loc=torch.zeros(3), scale=torch.ones(3))
    assert torch.equal(action, torch.zeros(3)) and log_prob.shape == (3,)


def test_tensordict_out_and_cache_dist():
    module = normal_module(cache_dist=True)
    td, out = params_td(loc=1.0), TensorDict(batch_size=[5])
    assert module(td, out) is out
    assert "action" not in td.keys() and (out["action"] == 1.0).all()
    assert torch.equal(out["loc"], td["loc"]) and torch.equal(out["scale"], td["scale"])
    assert "loc" not in normal_module()(params_td(), TensorDict(batch_size=[5])).keys()


def test_random_writes_a_tensor_member_of_the_spec():
    spec = Bounded(-2.0, 2.0, shape=(2,))
    module = normal_module(spec=spec)
    td = module.random(TensorDict(batch_size=[4]))
    assert isinstance(td.get("action"), torch.Tensor) and spec.is_in(td["action"])


def test_distribution_class_may_be_a_name_or_a_factory():
    by_name = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class="tanhnormal")
    assert by_name.distribution_class is TanhNormal
    factory = functools.partial(TanhNormal, low=-3.0, high=3.0)
    module = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=factory)
    torch.testing.assert_close(module(params_td(loc=0.5))["action"], 3 * torch.tanh(torch.full((5, 2), 0.5)))
    assert SafeProbabilisticModule(["loc", "scale"], ["a"], distribution_class="Normal").distribution_class is D.Normal


def test_deterministic_sample_keeps_an_unknown_class_working():
    class Wrapped(D.Normal):
        pass

    module = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=Wrapped)
    with pytest.warns(UserWarning, match="deterministic_sample"):
        assert torch.equal(module(params_td(loc=0.25))["action"], torch.full((5, 2), 0.25))


# ----------------------------------------------------------------------------- composite distributions
def composite_params() -> TensorDict:
    cont = TensorDict(loc=torch.full((4, 2), 5.0), scale=torch.ones(4, 2), batch_size=[4])
    disc = TensorDict(logits=torch.randn(4, 3), batch_size=[4])
    return TensorDict(params=TensorDict(cont=cont, disc=disc, batch_size=[4]), batch_size=[4])


def test_composite_distribution_keys_are_inferred_and_projected_before_scoring():
    net = TensorDictModule(lambda x: x, in_keys=["params"], out_keys=["params"])
    actor = ProbabilisticActor(net, in_keys=["params"], distribution_class=CompositeDistribution,
                               distribution_kwargs={"distribution_map": {"cont": D.Normal, "disc": D.Categorical}},
                               return_log_prob=True, spec=Composite(cont=Bounded(-1.0, 1.0, shape=(2,))), safe=True)
    assert actor.dist_sample_keys == ["cont", "disc"]
    assert sorted(actor.log_prob_keys) == ["cont_log_prob", "disc_log_prob"]
    with set_exploration_type(RANDOM):
        td = actor(composite_params())
    assert (td["cont"] == 1.0).all()
    torch.testing.assert_close(td["cont_log_prob"], D.Normal(5.0, 1.0).log_prob(torch.ones(4, 2)))
    expected = actor.get_dist(td).log_prob(td)
    assert torch.equal(td["disc_log_prob"], expected["disc_log_prob"])


def test_composite_distribution_needs_a_distribution_map():
    net = TensorDictModule(lambda x: x, in_keys=["params"], out_keys=["params"])
    with pytest.raises(KeyError, match="distribution_map"):
        ProbabilisticActor(net, in_keys=["params"], distribution_class=CompositeDistribution)


# ----------------------------------------------------------------------------- the sequence
def test_sequence_exposes_get_dist_and_the_union_of_specs():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    actor = tanh_normal_actor(spec=spec)
    assert isinstance(actor, (SafeProbabilisticTensorDictSequential, ProbabilisticTensorDictSequential))
    assert actor.spec["action"] == spec and actor.spec["loc"] is None
    dist = actor.get_dist(observation())
    assert isinstance(dist, TanhNormal) and dist.batch_shape == (5,)


def test_sequence_needs_a_probabilistic_module():
    net = TensorDictModule(nn.Linear(3, 2), in_keys=["observation"], out_keys=["loc"])
    with pytest.raises(TypeError, match="probabilistic"):
        SafeProbabilisticTensorDictSequential(net)


def test_sequence_refuses_plain_networks():
    with pytest.raises(TypeError, match="tensordict module"):
        SafeProbabilisticTensorDictSequential(nn.Linear(3, 2), normal_module())
    with pytest.raises(TypeError, match="TensorDictModule"):
        ProbabilisticActor(nn.Linear(3, 4), in_keys=["loc", "scale"])


def test_the_body_runs_under_the_heads_default_type():
    seen = []
    probe = TensorDictModule(lambda x: seen.append(__import__("rldsl").modules.exploration_type()) or x,
                             in_keys=["loc"], out_keys=["loc"])
    seq = SafeProbabilisticTensorDictSequential(probe, normal_module())
    seq(params_td())
    with set_exploration_type(RANDOM):
        seq(params_td())
    assert seen == [DETERMINISTIC, RANDOM]


def test_short_and_generic_calls_agree():
    actor = tanh_normal_actor()
    td = observation()
    short = actor(td.clone())
    generic = actor(td.clone(), TensorDict(batch_size=[5]))
    for key in ("loc", "scale", "action", "action_log_prob"):
        assert torch.equal(short[key], generic[key])


def test_probabilistic_actor_called_with_tensors():
    actor = tanh_normal_actor()
    loc, scale, action, log_prob = actor(observation=torch.randn(3))
    torch.testing.assert_close(action, loc.tanh())


# ----------------------------------------------------------------------------- parameters
def test_parameter_swap_changes_the_distribution():
    actor = tanh_normal_actor()
    params = TensorDict.from_module(actor, as_module=True)
    zeros = params.data.apply(torch.zeros_like)
    with zeros.to_module(actor):
        td = actor(observation())
    assert (td["action"] == 0).all()
    torch.testing.assert_close(td["scale"], torch.ones(5, 2))  # biased softplus of 0


def test_deep_copy_is_independent():
    actor = tanh_normal_actor(spec=Bounded(-1.0, 1.0, shape=(2,)), safe=True)
    twin = copy.deepcopy(actor)
    td = observation()
    assert torch.equal(twin(td.clone())["action"], actor(td.clone())["action"])
    assert twin.spec == actor.spec
    with torch.no_grad():
        for p in twin.parameters():
            p.add_(1.0)
    assert not torch.equal(twin(td.clone())["action"], actor(td.clone())["action"])


# ----------------------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"distribution_class": "NoSuchDist"}, ValueError, "distribution_class"),
        ({"distribution_class": 3}, TypeError, "distribution_class"),
        ({"default_interaction_type": "sometimes"}, ValueError, "default_interaction_type"),
        ({"n_empirical_estimate": 0}, ValueError, "n_empirical_estimate"),
        ({"num_samples": -2}, ValueError, "num_samples"),
        ({"return_log_prob": "yes"}, TypeError, "return_log_prob"),
        ({"safe": 1, "spec": Bounded(-1.0, 1.0, shape=(2,))}, TypeError, "safe"),
        ({"cache_dist": None}, TypeError, "cache_dist"),
        ({"distribution_kwargs": [1.0]}, TypeError, "distribution_kwargs"),
        ({"safe": True}, ValueError, "safe=True"),
        ({"spec": "box"}, TypeError, "spec"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, error, match):
    kwargs.setdefault("distribution_class", D.Normal)
    with pytest.raises(error, match=match):
        SafeProbabilisticModule(in_keys=["loc", "scale"], out_keys=["action"], **kwargs)


def test_single_spec_for_several_sample_keys_is_refused():
    with pytest.raises(ValueError, match="single spec"):
        SafeProbabilisticModule(in_keys=["params"], out_keys=["a", "b"], spec=OneHot(3),
                                distribution_class=CompositeDistribution,
                                distribution_kwargs={"distribution_map": {"a": D.Normal, "b": D.Normal}})


def test_changing_the_aggregate_setting_after_construction_is_reported():
    module = normal_module(return_log_prob=True)
    with set_composite_lp_aggregate(True), pytest.raises(RuntimeError, match="composite_lp_aggregate"):
        module(params_td())


def test_log_prob_closed_form_for_independent_normal_is_summed():
    module = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=IndependentNormal,
                                     return_log_prob=True)
    td = module(params_td(loc=0.0, scale=1.0))
    assert td["action_log_prob"].shape == (5,)
    torch.testing.assert_close(td["action_log_prob"], torch.full((5,), -math.log(2 * math.pi)))


def test_sequence_built_from_an_ordered_dict():
    from collections import OrderedDict

    actor = tanh_normal_actor()
    net, head = actor.module[0], actor.module[1]
    named = SafeProbabilisticTensorDictSequential(OrderedDict(net=net, head=head))
    td = observation()
    assert torch.equal(named(td.clone())["action_log_prob"], actor(td.clone())["action_log_prob"])
    assert named.out_keys == actor.out_keys


def test_networks_given_as_plain_functions_run_in_the_sequence():
    double = TensorDictModule(lambda loc: loc * 2, in_keys=["loc"], out_keys=["loc"])
    seq = SafeProbabilisticTensorDictSequential(double, normal_module())
    assert (seq(params_td(loc=1.5))["action"] == 3.0).all()
