"""`Actor` and the `SafeModule` machinery under it: keys, specs, projection, get_dist, calls.

Also the cross-cutting guarantees of the tensordict modules of issue 3: parameters read at
call time (``from_module``/``to_module`` swaps), deep copies, specs following ``.to``,
``exploration_type`` being tensordict's own objects, importing rldsl changing no global
state, and the docstring examples of the new modules.
"""

from __future__ import annotations

import copy
import doctest
import importlib
import subprocess
import sys

import pytest
import torch
from hypothesis import given, strategies as st
from tensordict import TensorDict
from tensordict.nn import InteractionType, TensorDictModule, set_interaction_type
from tensordict.nn.probabilistic import interaction_type
from torch import nn

from rldsl.modules import (
    MLP,
    Actor,
    Delta,
    ExplorationType,
    SafeModule,
    SafeSequential,
    exploration_type,
    set_exploration_type,
)
from rldsl.specs import Bounded, Categorical, Composite, OneHot, Unbounded


def observation(batch: int = 4, dim: int = 3, scale: float = 1.0) -> TensorDict:
    return TensorDict(observation=torch.randn(batch, dim) * scale, batch_size=[batch])


def linear_actor(**kwargs) -> Actor:
    torch.manual_seed(0)
    return Actor(nn.Linear(3, 2), **kwargs)


# ----------------------------------------------------------------------------- keys and specs
def test_actor_default_keys_and_output():
    actor = linear_actor()
    assert actor.in_keys == ["observation"] and actor.out_keys == ["action"]
    td = observation()
    out = actor(td)
    assert out is td
    torch.testing.assert_close(td["action"], actor.module(td["observation"]))


def test_actor_custom_keys_accept_single_keys_and_nested_keys():
    actor = Actor(nn.Linear(3, 2), in_keys="obs", out_keys=("agent", "act"))
    assert actor.in_keys == ["obs"] and actor.out_keys == [("agent", "act")]
    td = actor(TensorDict(obs=torch.randn(5, 3), batch_size=[5]))
    assert td["agent", "act"].shape == (5, 2)


def test_plain_spec_goes_to_the_action_key():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    actor = Actor(nn.Linear(3, 4), out_keys=["hidden", "action"], spec=spec)
    assert isinstance(actor.spec, Composite)
    assert actor.spec["action"] == spec and actor.spec["hidden"] is None


def test_plain_spec_goes_to_the_single_out_key():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    actor = Actor(nn.Linear(3, 2), out_keys=["act"], spec=spec)
    assert actor.spec["act"] == spec


def test_spec_is_copied_not_shared():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    actor = Actor(nn.Linear(3, 2), spec=spec)
    assert actor.spec["action"] == spec and actor.spec["action"] is not spec


def test_single_spec_for_several_out_keys_without_action_is_refused():
    with pytest.raises(ValueError, match="single spec"):
        Actor(nn.Linear(3, 2), out_keys=["a", "b"], spec=Bounded(-1.0, 1.0, shape=(2,)))


def test_spec_keys_must_be_out_keys():
    with pytest.raises(ValueError, match="spec keys and out_keys must match"):
        Actor(nn.Linear(3, 2), spec=Composite(other=Bounded(-1.0, 1.0, shape=(2,))))


def test_safe_without_spec_is_refused_as_value_and_runtime_error():
    with pytest.raises(ValueError, match="safe=True"):
        Actor(nn.Linear(3, 2), safe=True)
    with pytest.raises(RuntimeError, match="not a valid configuration"):  # torchrl raises RuntimeError
        Actor(nn.Linear(3, 2), spec=Composite(action=None), safe=True)


@pytest.mark.parametrize("bad", ["yes", 1, None])
def test_safe_must_be_a_bool(bad):
    with pytest.raises(TypeError, match="safe"):
        Actor(nn.Linear(3, 2), spec=Bounded(-1.0, 1.0, shape=(2,)), safe=bad)


def test_spec_of_the_wrong_type_is_a_type_error():
    with pytest.raises(TypeError, match="spec"):
        Actor(nn.Linear(3, 2), spec="box")


# ----------------------------------------------------------------------------- projection
def test_safe_actor_projects_into_a_bounded_spec_and_unsafe_does_not():
    spec = Bounded(-0.5, 0.5, shape=(2,))
    td = observation(scale=100.0)
    unsafe = linear_actor(spec=spec)(td.clone())["action"]
    safe = linear_actor(spec=spec, safe=True)(td.clone())["action"]
    assert unsafe.abs().max() > 0.5
    assert spec.is_in(safe)
    torch.testing.assert_close(safe, unsafe.clamp(-0.5, 0.5))


def test_safe_projection_gradient_is_one_inside_zero_outside():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    actor = Actor(nn.Identity(), in_keys=["x"], spec=spec, safe=True)
    x = torch.tensor([[0.5, 3.0]], requires_grad=True)
    actor(TensorDict(x=x, batch_size=[1]))["action"].sum().backward()
    assert x.grad.tolist() == [[1.0, 0.0]]


@given(scale=st.floats(0.01, 1e4), low=st.floats(-5, 0), width=st.floats(0.01, 5), seed=st.integers(0, 100))
def test_safe_actor_output_is_always_in_its_spec(scale, low, width, seed):
    torch.manual_seed(seed)
    spec = Bounded(low, low + width, shape=(2,))
    actor = Actor(nn.Linear(3, 2), spec=spec, safe=True)
    assert spec.is_in(actor(observation(8, scale=scale))["action"])


def test_safe_one_hot_actor_writes_a_one_hot_action():
    spec = OneHot(4)
    actor = Actor(nn.Linear(3, 4), spec=spec, safe=True)
    action = actor(observation())["action"]
    assert spec.is_in(action)


def test_safe_setter_turns_projection_on_and_off():
    actor = linear_actor(spec=Bounded(-0.1, 0.1, shape=(2,)))
    td = observation(scale=100.0)
    assert actor(td.clone())["action"].abs().max() > 0.1
    actor.safe = True
    assert actor(td.clone())["action"].abs().max() <= 0.1


def test_spec_setter_wraps_a_plain_spec_and_updates_projection():
    actor = linear_actor(spec=Bounded(-1.0, 1.0, shape=(2,)), safe=True)
    actor.spec = Bounded(-0.01, 0.01, shape=(2,))
    assert actor(observation(scale=10.0))["action"].abs().max() <= 0.01


def test_random_writes_a_tensor_member_of_the_spec():
    spec = Bounded(-2.0, 2.0, shape=(2,))
    actor = linear_actor(spec=spec)
    td = actor.random(TensorDict(batch_size=[7]))
    assert isinstance(td.get("action"), torch.Tensor)  # torchrl: a sub-TensorDict
    assert td["action"].shape == (7, 2) and spec.is_in(td["action"])
    assert actor.random_sample(TensorDict(batch_size=[3]))["action"].shape == (3, 2)


# ----------------------------------------------------------------------------- get_dist
def test_get_dist_is_a_delta_at_the_action_and_leaves_the_input_alone():
    actor = linear_actor(spec=Bounded(-5.0, 5.0, shape=(2,)))
    td = observation()
    stored = torch.zeros(4, 2)
    td["action"] = stored
    dist = actor.get_dist(td)
    assert isinstance(dist, Delta)
    assert td["action"] is stored  # torchrl overwrites the stored action
    action = actor.module(td["observation"])
    assert dist.batch_shape == (4,) and dist.event_shape == (2,)
    assert torch.isinf(dist.log_prob(action)).all() and (dist.log_prob(action) > 0).all()
    assert (dist.log_prob(action + 1.0) == -float("inf")).all()


def test_get_dist_uses_the_spec_event_shape_for_scalar_actions():
    actor = Actor(lambda x: x.sum(-1), spec=Unbounded(shape=()))
    dist = actor.get_dist(observation(5))
    assert dist.batch_shape == (5,) and dist.event_shape == ()


def test_get_dist_without_spec_takes_the_last_dim_as_event():
    dist = linear_actor().get_dist(observation(3))
    assert dist.batch_shape == (3,) and dist.event_shape == (2,)


# ----------------------------------------------------------------------------- call forms
def test_tensors_as_arguments_return_tensors():
    actor = linear_actor(spec=Bounded(-0.1, 0.1, shape=(2,)), safe=True)
    obs = torch.randn(6, 3) * 50
    by_keyword, by_position = actor(observation=obs), actor(obs)
    assert isinstance(by_keyword, torch.Tensor) and by_keyword.abs().max() <= 0.1
    torch.testing.assert_close(by_keyword, by_position)


@pytest.mark.parametrize("inplace", [False, "empty"])
def test_inplace_false_and_empty_write_a_new_tensordict(inplace):
    actor = linear_actor(inplace=inplace)
    td = observation()
    out = actor(td)
    assert out is not td and "action" not in td.keys() and set(out.keys()) == {"action"}


def test_tensordict_out_receives_the_outputs():
    actor = linear_actor(spec=Bounded(-0.1, 0.1, shape=(2,)), safe=True)
    td, out = observation(scale=10.0), TensorDict(batch_size=[4])
    assert actor(td, tensordict_out=out) is out
    assert "action" not in td.keys() and out["action"].abs().max() <= 0.1


def test_missing_input_names_the_key():
    with pytest.raises(KeyError, match="observation"):
        linear_actor()(TensorDict(other=torch.zeros(2, 3), batch_size=[2]))


def test_select_out_keys_still_works():
    actor = Actor(lambda x: (x + 1, x - 1), out_keys=["action", "extra"])
    actor.select_out_keys("action")
    td = actor(observation())
    assert "action" in td.keys() and "extra" not in td.keys()


def test_method_and_method_kwargs_take_the_generic_path():
    class Net(nn.Module):
        def act(self, x, *, shift):
            return x[..., :2] + shift

    actor = Actor(Net(), method="act", method_kwargs={"shift": 1.0})
    td = observation()
    torch.testing.assert_close(actor(td)["action"], td["observation"][..., :2] + 1.0)


def test_several_outputs_are_projected_by_their_own_specs():
    spec = Composite(action=Bounded(-1.0, 1.0, shape=(2,)), mode=Categorical(3))
    module = SafeModule(lambda x: (x[..., :2] * 100, x[..., 0] * 100), in_keys=["observation"],
                        out_keys=["action", "mode"], spec=spec, safe=True)
    td = module(observation())
    assert spec["action"].is_in(td["action"]) and spec["mode"].is_in(td["mode"])


def test_dict_outputs_are_read_by_key():
    module = SafeModule(lambda x: {"b": x * 100, "a": x}, in_keys=["observation"], out_keys=["a", "b"],
                        spec=Composite(b=Bounded(-1.0, 1.0, shape=(3,))), safe=True)
    td = module(observation())
    assert td["b"].abs().max() <= 1.0 and torch.equal(td["a"], td["observation"])


def test_wrong_number_of_outputs_is_an_error():
    module = SafeModule(lambda x: (x, x), in_keys=["observation"], out_keys=["a"])
    with pytest.raises(RuntimeError, match="out_keys"):
        module(observation())


# ----------------------------------------------------------------------------- parameters
def test_parameters_are_read_at_call_time_from_module_to_module():
    actor = Actor(MLP(in_features=3, out_features=2, num_cells=[8]))
    td = observation()
    params = TensorDict.from_module(actor, as_module=True)
    zeros = params.data.apply(torch.zeros_like)
    with zeros.to_module(actor):
        assert torch.equal(actor(td.clone())["action"], torch.zeros(4, 2))
    assert not torch.equal(actor(td.clone())["action"], torch.zeros(4, 2))


def test_deep_copy_has_its_own_parameters_and_spec():
    actor = linear_actor(spec=Bounded(-1.0, 1.0, shape=(2,)), safe=True)
    twin = copy.deepcopy(actor)
    td = observation(scale=10.0)
    torch.testing.assert_close(twin(td.clone())["action"], actor(td.clone())["action"])
    assert twin.spec == actor.spec and twin.spec is not actor.spec
    with torch.no_grad():
        twin.module.weight.zero_()
    assert not torch.equal(twin(td.clone())["action"], actor(td.clone())["action"])


def test_spec_follows_the_module_device():
    actor = Actor(nn.Linear(3, 2), spec=Unbounded(shape=(2,)), safe=True)
    holder = SafeSequential(actor)  # moved through an enclosing module
    holder.to_empty(device="meta")
    assert actor.module.weight.device.type == "meta"
    assert actor.spec["action"].device.type == "meta"
    assert actor._projections[0][1].device.type == "meta"


def test_plain_to_keeps_the_spec_when_the_device_does_not_change():
    actor = linear_actor(spec=Bounded(-1.0, 1.0, shape=(2,)), safe=True)
    spec = actor.spec
    actor.to(torch.float64)
    assert actor.spec is spec and actor.module.weight.dtype == torch.float64


def test_gradients_reach_the_network():
    actor = Actor(MLP(in_features=3, out_features=2, num_cells=[8]), spec=Bounded(-1e3, 1e3, shape=(2,)), safe=True)
    actor(observation())["action"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


def test_actor_is_a_tensordict_module_for_torchrl():
    from tensordict.nn import TensorDictModuleBase

    assert isinstance(linear_actor(), (TensorDictModule, TensorDictModuleBase))


# ----------------------------------------------------------------------------- exploration type
def test_exploration_type_names_are_tensordicts_objects():
    assert ExplorationType is InteractionType
    assert set_exploration_type is set_interaction_type
    assert exploration_type is interaction_type
    assert exploration_type() is None
    with set_exploration_type("RANDOM"):
        assert exploration_type() is ExplorationType.RANDOM
    assert exploration_type() is None


_SNAPSHOT = """
import torch, tensordict.nn as tdnn
from tensordict.nn.probabilistic import interaction_type
def snap():
    return (torch.distributions.Distribution._validate_args, interaction_type(), tdnn.composite_lp_aggregate(),
            tdnn.skip_existing(), torch.get_default_dtype(), torch.is_grad_enabled(), torch.get_num_threads())
before = snap()
import rldsl, rldsl.modules, rldsl.specs
from rldsl.modules import *
assert snap() == before, (before, snap())
print("same")
"""


def test_importing_rldsl_changes_no_global_state():
    result = subprocess.run([sys.executable, "-c", _SNAPSHOT], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "same"


# ----------------------------------------------------------------------------- docstrings
_DOCTESTED = [
    "rldsl.modules.exploration_type",
    "rldsl.modules.tensordict_module.common",
    "rldsl.modules.tensordict_module.sequence",
    "rldsl.modules.tensordict_module.actors",
    "rldsl.modules.tensordict_module.probabilistic",
    "rldsl.modules.tensordict_module.tanh",
    "rldsl.modules.tensordict_module.vmap",
]


@pytest.mark.parametrize("name", _DOCTESTED)
def test_docstring_examples_run(name):
    torch.manual_seed(0)
    result = doctest.testmod(importlib.import_module(name), verbose=False)
    assert result.attempted > 0 and result.failed == 0
