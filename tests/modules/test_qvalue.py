"""Q-value modules, actors and hooks: action spaces, keys, masks, shapes, gradients, vmap."""

from __future__ import annotations

import copy
import doctest

import pytest
import torch
from tensordict import LazyStackedTensorDict, TensorDict
from tensordict.nn import TensorDictModule, TensorDictModuleBase, TensorDictSequential, set_skip_existing

import rldsl.modules.tensordict_module.qvalue as qvalue_module
from rldsl.modules import (
    DistributionalDQNnet,
    DistributionalQValueActor,
    DistributionalQValueHook,
    DistributionalQValueModule,
    EGreedyModule,
    QValueActor,
    QValueHook,
    QValueModule,
)
from rldsl.modules.tensordict_module.common import SafeModule
from rldsl.modules.utils import ArgumentError
from rldsl.specs import Binary, Bounded, Categorical, Composite, MultiCategorical, MultiOneHot, OneHot


def test_doctests():
    result = doctest.testmod(qvalue_module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


# ----------------------------------------------------------------------------- action spaces
@pytest.mark.parametrize("name, canonical", [
    ("one_hot", "one_hot"), ("one-hot", "one_hot"),
    ("mult_one_hot", "mult_one_hot"), ("mult-one-hot", "mult_one_hot"),
    ("multi_one_hot", "mult_one_hot"), ("multi-one-hot", "mult_one_hot"),
    ("binary", "binary"), ("categorical", "categorical"),
    ("multi_categorical", "multi_categorical"), ("multi-categorical", "multi_categorical"),
    ("multi_discrete", "multi_categorical"), ("multi-discrete", "multi_categorical"),
])
def test_action_space_names(name, canonical):
    var_nums = 2 if canonical in ("mult_one_hot", "multi_categorical") else None
    assert QValueModule(name, var_nums=var_nums).action_space == canonical


@pytest.mark.parametrize("spec, canonical", [
    (OneHot(4), "one_hot"), (MultiOneHot([2, 3]), "mult_one_hot"), (Binary(3), "binary"),
    (Categorical(4), "categorical"), (MultiCategorical([2, 3]), "multi_categorical"),
])
def test_action_space_is_inferred_from_the_spec_class(spec, canonical):
    assert QValueModule(spec=spec).action_space == canonical
    assert QValueActor(torch.nn.Linear(3, 5), spec=spec).action_space == canonical


def test_action_space_errors():
    with pytest.raises(ValueError, match="could not be retrieved"):
        QValueModule("onehot")
    with pytest.raises(ValueError, match="Neither action_space nor spec"):
        QValueModule()
    with pytest.raises(ValueError, match="do not match"):
        QValueModule("categorical", spec=OneHot(4))
    with pytest.raises(ValueError, match="not compatible"):
        QValueModule(spec=Bounded(-1.0, 1.0, shape=(2,)))
    with pytest.raises(TypeError, match="deprecated"):
        QValueModule(OneHot(4))
    with pytest.raises(RuntimeError, match="deprecated"):  # torchrl raises RuntimeError in the actor
        QValueActor(torch.nn.Linear(3, 4), action_space=OneHot(4))
    with pytest.raises(KeyError, match="action could not be found"):
        QValueModule(spec=Composite(observation=OneHot(4)))
    with pytest.raises(TypeError, match="spec"):
        QValueModule(spec="one_hot")


def test_composite_specs_and_nested_action_keys():
    spec = Composite({("agents", "action"): OneHot(4)})
    assert QValueModule(spec=spec).action_space == "one_hot"
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4), action_key=("agents", "action"))
    td = actor(TensorDict({"observation": torch.randn(2, 3)}, [2]))
    assert td["agents", "action"].shape == (2, 4)
    moved = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4), action_key="move")  # torchrl: KeyError
    assert moved(TensorDict({"observation": torch.randn(2, 3)}, [2]))["move"].shape == (2, 4)
    assert moved.spec["move"] == OneHot(4)


# ----------------------------------------------------------------------------- one-hot / categorical
def test_one_hot_keys_shapes_and_values():
    values = torch.randn(7, 4)
    td = QValueModule("one_hot")(TensorDict({"action_value": values}, [7]))
    assert set(td.keys()) == {"action", "action_value", "chosen_action_value"}
    assert td["action"].dtype is torch.int64 and td["action"].shape == (7, 4)
    assert torch.equal(td["action"].argmax(-1), values.argmax(-1)) and (td["action"].sum(-1) == 1).all()
    assert torch.equal(td["chosen_action_value"], values.max(-1, keepdim=True).values)
    assert td["action_value"] is values


def test_ties_give_the_first_maximal_action():
    values = torch.tensor([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
    action, _, chosen = QValueModule("one_hot")(values)
    assert action.tolist() == [[0, 1, 0, 0], [1, 0, 0, 0]]  # torchrl: [[0, 1, 1, 0], [1, 1, 1, 1]]
    assert chosen.tolist() == [[3.0], [2.0]]  # torchrl: [[6.0], [8.0]]
    index, _, chosen = QValueModule("categorical")(values)
    assert index.tolist() == [1, 0] and chosen.tolist() == [[3.0], [2.0]]
    blocks, _, chosen = QValueModule("mult_one_hot", var_nums=[2, 2])(values)
    assert blocks.tolist() == [[0, 1, 1, 0], [1, 0, 1, 0]] and chosen.tolist() == [[6.0], [4.0]]


def test_categorical_action_and_chosen_value():
    values = torch.randn(3, 5, 6)
    action, _, chosen = QValueModule("categorical")(values)
    assert action.shape == (3, 5) and action.dtype is torch.int64
    assert torch.equal(chosen, values.gather(-1, values.argmax(-1, keepdim=True)))
    unbatched = QValueModule("categorical")(torch.tensor([0.0, 5.0, 1.0]))
    assert unbatched[0].item() == 1 and unbatched[2].tolist() == [5.0]


# ----------------------------------------------------------------------------- several variables
def test_mult_one_hot_var_nums_forms_and_spec():
    values = torch.randn(6, 5)
    expected = torch.cat([torch.nn.functional.one_hot(values[:, :2].argmax(-1), 2),
                          torch.nn.functional.one_hot(values[:, 2:].argmax(-1), 3)], -1)
    by_list = QValueModule("mult_one_hot", var_nums=[2, 3])(values)
    by_spec = QValueModule(spec=MultiOneHot([2, 3]))(values)  # torchrl needs var_nums even with this spec
    assert torch.equal(by_list[0], expected) and torch.equal(by_spec[0], expected)
    chosen = values[:, :2].max(-1, keepdim=True).values + values[:, 2:].max(-1, keepdim=True).values
    assert torch.allclose(by_list[2], chosen)
    equal = QValueModule("mult_one_hot", var_nums=2)(torch.randn(6, 6))[0]
    assert (equal.reshape(6, 3, 2).sum(-1) == 1).all()


def test_multi_variable_argument_errors():
    with pytest.raises(ValueError, match="var_nums must be provided"):
        QValueModule("mult_one_hot")
    with pytest.raises(ValueError, match="does not match the spec"):
        QValueModule(spec=MultiOneHot([2, 3]), var_nums=[3, 2])
    with pytest.raises(TypeError, match="var_nums"):
        QValueModule("multi_categorical", var_nums="2")
    with pytest.raises(ValueError, match="last dim"):
        QValueModule("mult_one_hot", var_nums=[2, 3])(torch.randn(2, 4))


def test_multi_categorical_matches_mult_one_hot():
    values = torch.randn(8, 7)
    index, _, chosen_index = QValueModule(spec=MultiCategorical([3, 4]))(values)
    blocks, _, chosen_blocks = QValueModule(spec=MultiOneHot([3, 4]))(values)
    assert index.shape == (8, 2) and index.dtype is torch.int64
    assert torch.equal(MultiCategorical([3, 4]).to_one_hot(index).long(), blocks)
    assert torch.equal(chosen_index, chosen_blocks)
    assert MultiCategorical([3, 4]).is_in(index)


def test_binary_actions_choose_each_bit_from_its_pair():
    values = torch.tensor([[0.0, 1.0, 2.0, -1.0, 0.5, 0.5]])  # bits: (0 vs 1), (0 vs 1), (0 vs 1)
    action, _, chosen = QValueModule(spec=Binary(3))(values)
    assert action.tolist() == [[1, 0, 0]] and chosen.tolist() == [[3.5]]
    assert QValueModule("binary")(values)[0].tolist() == [[1, 0, 0]]  # no spec: pairs inferred
    actor = QValueActor(torch.nn.Linear(3, 8), spec=Binary(4))
    td = actor(TensorDict({"observation": torch.randn(5, 3)}, [5]))
    assert td["action"].shape == (5, 4) and Binary(4, dtype=torch.int64).is_in(td["action"])
    explored = EGreedyModule(Binary(4), eps_init=1.0, eps_end=1.0)(td)
    assert Binary(4, dtype=torch.int64).is_in(explored["action"])
    with pytest.raises(ValueError, match="odd"):
        QValueModule("binary")(torch.randn(2, 5))
    with pytest.raises(TypeError, match="no mask"):
        QValueModule("binary", action_mask_key="mask")
    with pytest.raises(ValueError, match="pairs"):
        QValueModule("binary", var_nums=3)


# ----------------------------------------------------------------------------- masks
def as_hot(action: torch.Tensor, space: str, width: int) -> torch.Tensor:
    """The chosen entries as a bool mask over the values' last dim (blocks of 2 and 3 for multi spaces)."""
    one_hot = torch.nn.functional.one_hot
    if space == "categorical":
        return one_hot(action, width).bool()
    if space == "multi_categorical":
        return torch.cat([one_hot(action[:, 0], 2), one_hot(action[:, 1], 3)], -1).bool()
    return action.bool()


@pytest.mark.parametrize("space, width, kwargs", [
    ("one_hot", 5, {}), ("categorical", 5, {}), ("mult_one_hot", 5, {"var_nums": [2, 3]}),
    ("multi_categorical", 5, {"var_nums": [2, 3]}),
])
def test_masked_actions_are_never_chosen(space, width, kwargs):
    torch.manual_seed(0)
    n = 2000
    mask = torch.rand(n, width) < 0.4
    for block in ([mask] if "var_nums" not in kwargs else [mask[:, :2], mask[:, 2:]]):
        block[:, -1] |= ~block.any(-1)
    values = torch.randn(n, width)
    td = QValueModule(space, action_mask_key="action_mask", **kwargs)(
        TensorDict({"action_value": values, "action_mask": mask}, [n]))
    assert not (as_hot(td["action"], space, width) & ~mask).any()
    best_allowed = values.masked_fill(~mask, float("-inf"))
    if space in ("one_hot", "categorical"):
        assert torch.equal(td["chosen_action_value"], best_allowed.max(-1, keepdim=True).values)
    assert torch.equal(td["action_value"], values)  # the network's values, not masked ones


def test_mask_errors():
    module = QValueModule("categorical", action_mask_key="mask")
    with pytest.raises(KeyError, match="mask"):
        module(TensorDict({"action_value": torch.randn(2, 3)}, [2]))
    with pytest.raises(TypeError, match="bool"):
        module(TensorDict({"action_value": torch.randn(2, 3), "mask": torch.ones(2, 3)}, [2]))
    with pytest.raises(KeyError, match="action_value"):
        QValueModule("categorical")(TensorDict({}, [2]))


# ----------------------------------------------------------------------------- shapes
def test_strict_shape():
    values = TensorDict({"action_value": torch.randn(5, 4)}, [5])
    with pytest.raises(RuntimeError, match="strict_shape='auto'"):
        QValueModule(spec=Categorical(4, shape=(1,)))(values.clone())
    auto = QValueModule(spec=Categorical(4, shape=(1,)), strict_shape="auto")(values.clone())
    assert auto["action"].shape == (5, 1)
    loose = QValueModule(spec=Categorical(4, shape=(1,)), strict_shape=False)(values.clone())
    assert loose["action"].shape == (5,)
    with pytest.raises(ValueError, match="strict_shape"):
        QValueModule("categorical", strict_shape="yes")
    module = QValueModule(spec=Categorical(4, shape=(1,)), strict_shape=False)
    module.strict_shape = "auto"
    assert module(values.clone())["action"].shape == (5, 1)
    agents = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4, shape=(2, 4)))
    assert agents(TensorDict({"observation": torch.randn(5, 2, 3)}, [5]))["action"].shape == (5, 2, 4)
    standalone = QValueModule(spec=OneHot(4, shape=(2, 4)))  # torchrl's QValueModule raises here
    assert standalone(TensorDict({"action_value": torch.randn(5, 2, 4)}, [5]))["action"].shape == (5, 2, 4)


def test_out_keys_rules():
    module = QValueModule("one_hot", out_keys=["a", "action_value", "c"])
    td = module(TensorDict({"action_value": torch.randn(2, 3)}, [2]))
    assert {"a", "c"} <= set(td.keys())
    with pytest.raises(RuntimeError, match="action-value key"):
        QValueModule("one_hot", out_keys=["a", "c", "action_value"])
    with pytest.raises(ValueError, match="out_keys"):
        QValueModule("one_hot", out_keys=["a", "action_value"])


def test_safe_projects_the_action_into_the_spec():
    td = QValueModule(spec=OneHot(4), safe=True)(TensorDict({"action_value": torch.randn(3, 4)}, [3]))
    assert td["action"].dtype is torch.bool and OneHot(4).is_in(td["action"])
    with pytest.raises(ArgumentError, match="safe=True"):
        QValueModule("one_hot", safe=True)


# ----------------------------------------------------------------------------- dispatch and hooks
def test_tensor_dispatch_returns_the_outputs():
    values = torch.randn(3, 4)
    action, same, chosen = QValueModule("one_hot")(values)
    assert same is values and action.shape == (3, 4) and chosen.shape == (3, 1)
    by_name = QValueModule("one_hot")(action_value=values)
    assert torch.equal(by_name[0], action)
    log_p = torch.log_softmax(torch.randn(3, 5, 4), -2)
    action, same = DistributionalQValueModule("categorical", support=torch.arange(5.0))(log_p)
    assert action.shape == (3,) and same is log_p


def test_qvalue_hook_on_a_network():
    net = torch.nn.Linear(3, 4)
    net.register_forward_hook(QValueHook("one_hot"))
    actor = SafeModule(net, in_keys=["observation"], out_keys=["action", "action_value", "chosen_action_value"])
    td = actor(TensorDict({"observation": torch.randn(5, 3)}, [5]))
    assert torch.equal(td["action"].argmax(-1), td["action_value"].argmax(-1))
    assert torch.equal(td["chosen_action_value"], td["action_value"].max(-1, keepdim=True).values)
    with pytest.raises(ValueError, match="forward hook"):
        QValueHook("one_hot", action_mask_key="mask")
    with pytest.raises(RuntimeError, match="deprecated"):
        QValueHook(OneHot(4))
    nested = QValueHook("categorical", action_value_key=("q", "values"))
    assert nested.action_value_key == "q_values"


def test_distributional_hook():
    net = torch.nn.Sequential(torch.nn.Linear(3, 12), torch.nn.Unflatten(-1, (3, 4)), torch.nn.LogSoftmax(-2))
    net.register_forward_hook(DistributionalQValueHook("one_hot", support=torch.tensor([-1.0, 0.0, 1.0])))
    action, log_p = net(torch.randn(6, 3))
    expected = (log_p.exp() * torch.tensor([-1.0, 0.0, 1.0]).unsqueeze(-1)).sum(-2)
    assert torch.equal(action.argmax(-1), expected.argmax(-1))


# ----------------------------------------------------------------------------- actors
def test_qvalue_actor_keys_and_spec():
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
    assert actor.in_keys == ["observation"]
    assert actor.out_keys == ["action", "action_value", "chosen_action_value"]
    assert actor.spec["action"] == OneHot(4) and actor.spec["action_value"] is None
    assert isinstance(actor, TensorDictSequential)
    custom = QValueActor(torch.nn.Linear(3, 4), in_keys=["obs"], spec=OneHot(4), action_value_key="q",
                         chosen_action_value_key="q_chosen")
    td = custom(TensorDict({"obs": torch.randn(2, 3)}, [2]))
    assert {"q", "q_chosen", "action"} <= set(td.keys())
    with pytest.raises(KeyError, match="observation"):
        QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))(TensorDict({"obs": torch.randn(2, 3)}, [2]))


def test_qvalue_actor_with_a_tensordict_module():
    net = TensorDictModule(torch.nn.Linear(3, 4), in_keys=["obs"], out_keys=["action_value"])
    td = QValueActor(net, spec=Categorical(4))(TensorDict({"obs": torch.randn(2, 3)}, [2]))
    assert td["action"].shape == (2,)
    wrong = TensorDictModule(torch.nn.Linear(3, 4), in_keys=["obs"], out_keys=["values"])
    with pytest.raises(KeyError, match="out-keys"):
        QValueActor(wrong, spec=OneHot(4))
    with pytest.raises(TypeError, match="module"):
        QValueActor("net", spec=OneHot(4))


def test_gradients_flow_through_chosen_action_value():
    net = torch.nn.Linear(3, 4)
    td = QValueActor(net, spec=OneHot(4))(TensorDict({"observation": torch.randn(6, 3)}, [6]))
    td["chosen_action_value"].sum().backward()
    assert net.weight.grad is not None and net.weight.grad.abs().sum() > 0
    values = torch.randn(6, 4, requires_grad=True)
    QValueModule("one_hot")(values)[2].sum().backward()
    assert torch.equal(values.grad, torch.nn.functional.one_hot(values.argmax(-1), 4).float())


def test_lean_and_sequence_paths_agree():
    torch.manual_seed(1)
    net = torch.nn.Linear(3, 4)
    actor = QValueActor(net, spec=OneHot(4), action_mask_key="mask")
    td = TensorDict({"observation": torch.randn(8, 3), "mask": torch.rand(8, 4) > 0.3}, [8])
    td["mask"][:, 0] = True
    lean = actor(td.clone())
    calls = []
    actor.module[0].register_forward_hook(lambda *args: calls.append(1))  # a hook forces the sequence path
    generic = actor(td.clone())
    assert calls == [1]
    assert all(torch.equal(lean[k], generic[k]) for k in ("action", "action_value", "chosen_action_value"))
    out = TensorDict({}, [8])
    assert "action" in actor(td.clone(), tensordict_out=out).keys()


def test_other_tensordict_kinds_take_the_public_path():
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4), action_key=("agent", "action"))
    on_device = actor(TensorDict({"observation": torch.randn(2, 3)}, [2], device="cpu"))
    assert on_device["agent", "action"].device == torch.device("cpu")
    parts = [TensorDict({"observation": torch.randn(3)}, []) for _ in range(2)]
    stacked = actor(LazyStackedTensorDict.lazy_stack(parts, 0))
    assert stacked["agent", "action"].shape == (2, 4) and (stacked["agent", "action"].sum(-1) == 1).all()
    with pytest.raises(RuntimeError, match="batch"):
        QValueActor(torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Flatten(0)), spec=OneHot(8))(
            TensorDict({"observation": torch.randn(2, 3)}, [2]))  # the network drops the batch dim


def test_skip_existing_and_selected_out_keys():
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
    td = actor(TensorDict({"observation": torch.randn(2, 3)}, [2]))
    before = td["action_value"]
    with set_skip_existing(True):
        td["observation"] = torch.randn(2, 3)
        assert actor(td)["action_value"] is before
    actor.select_out_keys("action")
    td = actor(TensorDict({"observation": torch.randn(2, 3)}, [2]))
    assert set(td.keys()) == {"observation", "action"}


def test_actor_is_copyable_and_keeps_torchrl_state_dict_keys():
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
    assert sorted(actor.state_dict()) == ["module.0.module.bias", "module.0.module.weight"]
    clone = copy.deepcopy(actor)
    td = TensorDict({"observation": torch.randn(4, 3)}, [4])
    assert torch.equal(clone(td.clone())["action"], actor(td.clone())["action"])
    assert isinstance(clone, TensorDictModuleBase)


def test_specs_follow_the_module_device():
    actor = torch.nn.Sequential(QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))).to("meta")
    assert actor[0].spec["action"].device.type == "meta"
    assert actor[0].module[1]._action_spec.device.type == "meta"


def test_parameters_are_read_at_call_time_and_vmap_works():
    actor = QValueActor(torch.nn.Linear(3, 4), spec=OneHot(4))
    params = TensorDict.from_module(actor)
    stacked = torch.stack([params.data.clone(), params.data.clone().apply(lambda x: x * -1)], 0)
    td = TensorDict({"observation": torch.randn(5, 3)}, [5])

    def call(p, td):
        with p.to_module(actor):
            return actor(td)

    out = torch.vmap(call, (0, None), randomness="error")(stacked, td)
    assert out["action"].shape == (2, 5, 4)
    for i in range(2):
        with stacked[i].to_module(actor):
            ref = actor(td.clone())
        assert torch.equal(out["action"][i], ref["action"])
        assert torch.allclose(out["chosen_action_value"][i], ref["chosen_action_value"])
    blocks = QValueModule("mult_one_hot", var_nums=[2, 2])
    assert torch.vmap(lambda v: blocks(v)[0], randomness="error")(torch.randn(3, 5, 4)).shape == (3, 5, 4)


# ----------------------------------------------------------------------------- distributional
def test_distributional_dqn_net():
    td = DistributionalDQNnet()(TensorDict({"action_value": torch.randn(4, 3, 2)}, [4]))
    assert torch.allclose(td["action_value"].exp().sum(-2), torch.ones(4, 2))
    with pytest.raises(RuntimeError, match="at least 2-dimensional"):
        DistributionalDQNnet()(TensorDict({"action_value": torch.randn(4)}, [4]))
    assert DistributionalDQNnet(in_keys=["x"], out_keys=["y"])(torch.zeros(2, 2)).shape == (2, 2)


def test_distributional_expected_value_argmax():
    torch.manual_seed(2)
    support = torch.tensor([-2.0, 0.0, 3.0])
    net = torch.nn.Sequential(torch.nn.Linear(4, 12), torch.nn.Unflatten(-1, (3, 4)))
    actor = DistributionalQValueActor(net, support=support, spec=Categorical(4))
    td = actor(TensorDict({"observation": torch.randn(10, 4)}, [10]))
    log_p = td["action_value"]
    assert torch.allclose(log_p, torch.log_softmax(net(td["observation"]), -2))
    expected = (log_p.exp() * support.unsqueeze(-1)).sum(-2)
    assert torch.equal(td["action"], expected.argmax(-1))
    assert "chosen_action_value" not in td.keys()
    assert torch.equal(actor.support, support) and "support" in dict(actor.named_buffers())


def test_distributional_log_softmax_choices():
    net = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Unflatten(-1, (3, 2)))
    assert len(DistributionalQValueActor(net, support=torch.arange(3.0), spec=OneHot(2)).module) == 3
    assert len(DistributionalQValueActor(net, support=torch.arange(3.0), spec=OneHot(2),
                                         make_log_softmax=False).module) == 2
    already = DistributionalDQNnet(in_keys=["action_value"], out_keys=["action_value"])
    assert len(DistributionalQValueActor(already, support=torch.arange(3.0), spec=OneHot(2)).module) == 2
    raw = DistributionalQValueActor(torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Unflatten(-1, (3, 2))),
                                    support=torch.arange(3.0), spec=OneHot(2), make_log_softmax=False)
    with pytest.raises(ValueError, match="log-softmax"):
        raw(TensorDict({"observation": torch.full((2, 4), 10.0)}, [2]))


def test_distributional_argument_errors():
    with pytest.raises(RuntimeError, match="Support length"):
        DistributionalQValueModule("one_hot", support=torch.arange(4.0))(torch.log_softmax(torch.randn(2, 3, 4), -2))
    with pytest.raises(TypeError, match="support"):
        DistributionalQValueModule("one_hot", support=[0.0, 1.0])
    with pytest.raises(ValueError, match="support"):
        DistributionalQValueModule("one_hot", support=torch.zeros(2, 3))


def test_distributional_ties_and_masks_use_expected_values():
    support = torch.tensor([-1.0, 1.0])
    # action 0 and 1: expected 0.0; action 2: expected -0.5 (2 atoms x 3 actions)
    probs = torch.tensor([[0.5, 0.5, 0.75], [0.5, 0.5, 0.25]])
    module = DistributionalQValueModule("one_hot", support=support)
    assert module(probs.log())[0].tolist() == [1, 0, 0]  # torchrl: [1, 1, 0]
    # negative expectations everywhere: torchrl's finfo.min masking gives a masked action the
    # expected value 0 and picks it; rldsl masks the expected values and never does
    values = torch.tensor([[0.9, 0.8, 0.7], [0.1, 0.2, 0.3]]).log().unsqueeze(0)
    masked = DistributionalQValueModule("categorical", support=support, action_mask_key="mask")
    td = masked(TensorDict({"action_value": values, "mask": torch.tensor([[False, True, True]])}, [1]))
    assert td["action"].tolist() == [2]
    assert torch.equal(td["action_value"], values)


def test_distributional_multi_one_hot_shares_the_support():
    support = torch.tensor([0.0, 1.0])
    log_p = torch.log_softmax(torch.randn(4, 2, 5), -2)
    blocks = DistributionalQValueModule(None, support=support, spec=MultiOneHot([2, 3]))(log_p)[0]
    expected = (log_p.exp() * support.unsqueeze(-1)).sum(-2)
    assert torch.equal(blocks[:, :2].argmax(-1), expected[:, :2].argmax(-1))
    assert torch.equal(blocks[:, 2:].argmax(-1), expected[:, 2:].argmax(-1))
