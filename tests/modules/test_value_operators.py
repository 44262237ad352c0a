"""`ValueOperator` and the joined operators (`ActorValueOperator`, `ActorCriticOperator`, `ActorCriticWrapper`).

Default keys, shared modules (same parameter tensors, not copies), the operators they hand
out, ``torch.vmap`` over stacked parameter sets (as torchrl's SAC/GAE do, with
``randomness="error"``), deep copies and argument errors.
"""

from __future__ import annotations

import copy

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import NormalParamExtractor, TensorDictModule
from torch import nn

from rldsl.modules import (
    MLP,
    Actor,
    ActorCriticOperator,
    ActorCriticWrapper,
    ActorValueOperator,
    ExplorationType,
    ProbabilisticActor,
    SafeProbabilisticTensorDictSequential,
    SafeSequential,
    TanhNormal,
    ValueOperator,
    set_exploration_type,
)


def data(batch: int = 4) -> TensorDict:
    torch.manual_seed(1)
    return TensorDict(observation=torch.randn(batch, 3), action=torch.randn(batch, 2), batch_size=[batch])


# ----------------------------------------------------------------------------- ValueOperator
def test_state_value_by_default():
    value = ValueOperator(nn.Linear(3, 1))
    assert value.in_keys == ["observation"] and value.out_keys == ["state_value"]
    td = value(data())
    torch.testing.assert_close(td["state_value"], value.module(td["observation"]))


def test_state_action_value_when_the_action_is_read():
    value = ValueOperator(MLP(in_features=5, out_features=1, num_cells=[8]), in_keys=["observation", "action"])
    assert value.out_keys == ["state_action_value"]
    td = value(data())
    expected = value.module(td["observation"], td["action"])
    torch.testing.assert_close(td["state_action_value"], expected)


def test_a_nested_action_key_does_not_count_as_the_action():
    value = ValueOperator(nn.Linear(5, 1), in_keys=["observation", ("agents", "action")])
    assert value.out_keys == ["state_value"]


def test_key_names_that_merely_contain_action_do_not_count():
    assert ValueOperator(nn.Linear(3, 1), in_keys="obs_action").out_keys == ["state_value"]
    assert ValueOperator(nn.Linear(3, 1), in_keys="action").out_keys == ["state_action_value"]


def test_dict_in_keys_are_judged_by_the_keys_read():
    value = ValueOperator(lambda obs, act: torch.cat([obs, act], -1).sum(-1, keepdim=True),
                          in_keys={"obs": "observation", "act": "action"})
    assert value.out_keys == ["state_action_value"]
    td = value(data())
    torch.testing.assert_close(td["state_action_value"], torch.cat([td["observation"], td["action"]], -1).sum(-1, keepdim=True))


def test_custom_out_keys_and_tensor_calls():
    value = ValueOperator(nn.Linear(3, 1), out_keys="v")
    assert value.out_keys == ["v"]
    obs = torch.randn(2, 3)
    torch.testing.assert_close(value(obs), value.module(obs))


def test_bad_keys_are_type_errors():
    with pytest.raises(TypeError, match="in_keys"):
        ValueOperator(nn.Linear(3, 1), in_keys=3)


def _call_with_params(module, params, td):
    with params.to_module(module):
        return module(td)


def test_vmap_over_stacked_parameters_with_randomness_error():
    torch.manual_seed(0)
    q1 = ValueOperator(MLP(in_features=5, out_features=1, num_cells=[8]), in_keys=["observation", "action"])
    q2 = copy.deepcopy(q1)
    with torch.no_grad():
        for p in q2.parameters():
            p.add_(0.5)
    params = torch.stack([TensorDict.from_module(q1).data, TensorDict.from_module(q2).data])
    td = data()
    out = torch.vmap(lambda p, x: _call_with_params(q1, p, x), (0, None), randomness="error")(params, td.clone())
    assert out["state_action_value"].shape == (2, 4, 1)
    torch.testing.assert_close(out["state_action_value"][0], q1(td.clone())["state_action_value"])
    torch.testing.assert_close(out["state_action_value"][1], q2(td.clone())["state_action_value"])


def test_vmap_over_the_batch_of_a_value_operator():
    value = ValueOperator(nn.Linear(3, 1))
    td = data()
    out = torch.vmap(value, (0,), randomness="error")(td.clone())
    torch.testing.assert_close(out["state_value"], value(td)["state_value"])


def test_value_operator_parameters_swap_and_deep_copy():
    value = ValueOperator(nn.Linear(3, 1))
    zeros = TensorDict.from_module(value).data.apply(torch.zeros_like)
    with zeros.to_module(value):
        assert (value(data())["state_value"] == 0).all()
    twin = copy.deepcopy(value)
    torch.testing.assert_close(twin(data())["state_value"], value(data())["state_value"])
    assert twin.module.weight is not value.module.weight


# ----------------------------------------------------------------------------- ActorValueOperator
def shared_parts():
    torch.manual_seed(0)
    common = TensorDictModule(nn.Linear(3, 8), in_keys=["observation"], out_keys=["hidden"])
    policy = Actor(nn.Linear(8, 2), in_keys=["hidden"])
    value = ValueOperator(nn.Linear(8, 1), in_keys=["hidden"])
    return common, policy, value


def probabilistic_head() -> ProbabilisticActor:
    net = TensorDictModule(nn.Sequential(nn.Linear(8, 4), NormalParamExtractor()), in_keys=["hidden"],
                           out_keys=["loc", "scale"])
    return ProbabilisticActor(net, in_keys=["loc", "scale"], distribution_class=TanhNormal, return_log_prob=True)


def test_actor_value_operator_runs_common_policy_value():
    common, policy, value = shared_parts()
    model = ActorValueOperator(common, policy, value)
    assert model.in_keys == ["observation"]
    assert set(model.out_keys) == {"hidden", "action", "state_value"}
    td = model(data())
    hidden = common.module(td["observation"])
    torch.testing.assert_close(td["action"], policy.module(hidden))
    torch.testing.assert_close(td["state_value"], value.module(hidden))


def test_operators_share_the_same_modules_and_parameter_tensors():
    common, policy, value = shared_parts()
    model = ActorValueOperator(common, policy, value)
    policy_op, value_op = model.get_policy_operator(), model.get_value_operator()
    assert isinstance(policy_op, SafeSequential) and isinstance(value_op, SafeSequential)
    assert policy_op[0] is common and policy_op[1] is policy
    assert value_op[0] is common and value_op[1] is value
    assert model.get_policy_head() is policy and model.get_value_head() is value
    assert policy_op[0].module.weight is model.module[0].module.weight is value_op[0].module.weight
    td = data()
    policy_op(td)
    torch.testing.assert_close(td["action"], policy.module(common.module(td["observation"])))
    assert "state_value" not in td.keys()


def test_training_the_value_operator_moves_the_shared_trunk():
    common, policy, value = shared_parts()
    model = ActorValueOperator(common, policy, value)
    before = model.get_policy_operator()(data())["action"].detach()
    optim = torch.optim.SGD(model.get_value_operator().parameters(), lr=1.0)
    model.get_value_operator()(data())["state_value"].sum().backward()
    optim.step()
    after = model.get_policy_operator()(data())["action"]
    assert not torch.allclose(before, after)


def test_probabilistic_policy_head_keeps_get_dist():
    common, _, value = shared_parts()
    model = ActorValueOperator(common, probabilistic_head(), value)
    policy_op = model.get_policy_operator()
    assert isinstance(policy_op, SafeProbabilisticTensorDictSequential)
    assert policy_op[0] is common
    with set_exploration_type(ExplorationType.RANDOM):
        td = policy_op(data())
    assert torch.equal(td["action_log_prob"], policy_op.get_dist(td).log_prob(td["action"]))
    assert policy_op.log_prob_keys == ["action_log_prob"]


def test_deep_copy_keeps_sharing_inside_the_copy():
    model = ActorValueOperator(*shared_parts())
    twin = copy.deepcopy(model)
    assert twin.get_policy_operator()[0] is twin.module[0] is twin.get_value_operator()[0]
    assert twin.module[0] is not model.module[0]
    torch.testing.assert_close(twin(data())["state_value"], model(data())["state_value"])


def test_parameter_swap_reaches_every_operator():
    model = ActorValueOperator(*shared_parts())
    zeros = TensorDict.from_module(model).data.apply(torch.zeros_like)
    with zeros.to_module(model):
        td = model.get_value_operator()(data())
    assert (td["state_value"] == 0).all()


def test_joined_operators_refuse_plain_networks():
    common, policy, value = shared_parts()
    with pytest.raises(TypeError, match="common_operator"):
        ActorValueOperator(nn.Linear(3, 8), policy, value)
    with pytest.raises(TypeError, match="value_operator"):
        ActorCriticWrapper(policy, nn.Linear(3, 1))


# ----------------------------------------------------------------------------- ActorCriticOperator
def critic_parts():
    common, policy, _ = shared_parts()
    critic = ValueOperator(MLP(in_features=10, out_features=1, num_cells=[8]), in_keys=["hidden", "action"])
    return common, policy, critic


def test_actor_critic_operator_scores_the_policys_action():
    common, policy, critic = critic_parts()
    model = ActorCriticOperator(common, policy, critic)
    assert model.get_critic_operator() is model
    td = model(data())
    hidden = common.module(td["observation"])
    torch.testing.assert_close(td["state_action_value"], critic.module(hidden, policy.module(hidden)))
    assert model.get_policy_operator()[1] is policy
    assert model.get_policy_head() is policy and model.get_value_head() is critic


def test_actor_critic_operator_has_no_value_operator():
    model = ActorCriticOperator(*critic_parts())
    with pytest.raises(RuntimeError, match="get_critic_operator"):
        model.get_value_operator()


def test_actor_critic_operator_refuses_a_state_value_head():
    common, policy, value = shared_parts()
    with pytest.raises(ValueError, match="state_value"):
        ActorCriticOperator(common, policy, value)
    with pytest.raises(RuntimeError, match="state_value"):  # torchrl raises RuntimeError
        ActorCriticOperator(common, policy, value)


# ----------------------------------------------------------------------------- ActorCriticWrapper
def test_actor_critic_wrapper_runs_both_without_a_trunk():
    torch.manual_seed(0)
    policy = Actor(nn.Linear(3, 2))
    value = ValueOperator(MLP(in_features=5, out_features=1, num_cells=[4]), in_keys=["observation", "action"])
    model = ActorCriticWrapper(policy, value)
    assert model.get_policy_operator() is policy and model.get_policy_head() is policy
    assert model.get_value_operator() is value and model.get_value_head() is value
    td = model(data())
    expected = value.module(td["observation"], policy.module(td["observation"]))
    torch.testing.assert_close(td["state_action_value"], expected)


def test_policy_operator_of_any_probabilistic_head_has_get_dist():
    # torchrl flattens only its own SafeProbabilisticTensorDictSequential heads; a tensordict
    # ProbabilisticTensorDictSequential or a bare probabilistic module gave a SafeSequential without get_dist
    from tensordict.nn import ProbabilisticTensorDictSequential

    from rldsl.modules import SafeProbabilisticModule

    common, _, value = shared_parts()
    params = TensorDictModule(nn.Sequential(nn.Linear(8, 4), NormalParamExtractor()), in_keys=["hidden"],
                              out_keys=["loc", "scale"])
    head = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=TanhNormal, return_log_prob=True)
    for policy in (ProbabilisticTensorDictSequential(params, head), head):
        trunk = SafeSequential(common, params) if policy is head else common
        policy_op = ActorValueOperator(trunk, policy, value).get_policy_operator()
        assert isinstance(policy_op, SafeProbabilisticTensorDictSequential)
        td = policy_op(data())
        assert torch.equal(td["action_log_prob"], policy_op.get_dist(td).log_prob(td["action"]))
