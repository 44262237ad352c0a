"""`TanhModule`: bounds from specs or arguments, buffers, clamp, exactness and membership."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from tensordict import TensorDict

from rldsl.modules import TanhModule
from rldsl.specs import Bounded, Composite, OneHot, Unbounded


def td_of(**values) -> TensorDict:
    return TensorDict(values, batch_size=[])


def test_default_bounds_give_tanh_exactly():
    x = torch.tensor([-30.0, -1.0, -1e-8, 0.0, 3e-9, 0.5, 30.0])
    out = TanhModule(in_keys=["action"])(td_of(action=x.clone()))["action"]
    assert torch.equal(out, x.tanh())  # torchrl's low + (high-low)(t+1)/2 rounds 3e-9 to 0


def test_given_bounds_map_zero_to_the_middle_and_saturate_on_the_bounds():
    module = TanhModule(in_keys=["action"], low=-2.0, high=1.0)
    out = module(td_of(action=torch.tensor([-100.0, 0.0, 100.0])))["action"]
    assert out.tolist() == [-2.0, -0.5, 1.0]


def test_out_keys_default_to_in_keys_and_can_differ():
    module = TanhModule(in_keys=["raw"], out_keys=["action"])
    td = module(td_of(raw=torch.zeros(3)))
    assert module.in_keys == ["raw"] and module.out_keys == ["action"]
    assert torch.equal(td["action"], torch.zeros(3)) and "raw" in td.keys()


def test_bounds_come_from_the_spec():
    spec = Bounded(torch.tensor([-1.0, 0.0]), torch.tensor([1.0, 4.0]))
    module = TanhModule(in_keys=["action"], spec=spec)
    assert torch.equal(module.action_low, spec.low) and torch.equal(module.action_high, spec.high)
    out = module(td_of(action=torch.tensor([100.0, 0.0])))["action"]
    assert out.tolist() == [1.0, 2.0]
    assert module.spec["action"] == spec


def test_a_composite_spec_gives_bounds_per_key():
    spec = Composite(a=Bounded(-3.0, 0.0, shape=()), b=Bounded(0.0, 3.0, shape=()))
    module = TanhModule(in_keys=["a", "b"], spec=spec)
    td = module(TensorDict(a=torch.randn(50) * 3, b=torch.randn(50) * 3, batch_size=[50]))
    assert spec["a"].is_in(td["a"]) and spec["b"].is_in(td["b"])


def test_a_composite_spec_without_an_entry_uses_the_default_box():
    module = TanhModule(in_keys=["a", "b"], spec=Composite(a=Bounded(0.0, 2.0, shape=())))
    assert module.b_low.item() == -1.0 and module.b_high.item() == 1.0 and module.spec["b"] is None


def test_nested_keys_name_buffers_with_underscores():
    module = TanhModule(in_keys=[("agents", "action")], low=0.0, high=1.0)
    assert "agents_action_low" in dict(module.named_buffers())
    td = module(TensorDict({("agents", "action"): torch.zeros(2)}, batch_size=[]))
    assert td["agents", "action"].tolist() == [0.5, 0.5]


def test_low_and_high_accept_arrays():
    module = TanhModule(in_keys=["action"], low=np.array([-1.0, -2.0]), high=np.array([1.0, 2.0]))
    out = module(td_of(action=torch.full((2,), 100.0)))["action"]
    assert out.tolist() == [1.0, 2.0]


def test_clamp_keeps_values_strictly_inside():
    module = TanhModule(in_keys=["action"], clamp=True)
    out = module(td_of(action=torch.tensor([-100.0, 100.0])))["action"]
    assert (out.abs() < 1).all() and (out.abs() > 0.999).all()


def test_gradients_flow_and_buffers_are_not_parameters():
    module = TanhModule(in_keys=["action"], low=-2.0, high=2.0)
    x = torch.tensor([0.0, 0.5], requires_grad=True)
    module(td_of(action=x))["action"].sum().backward()
    torch.testing.assert_close(x.grad, 2 * (1 - x.detach().tanh() ** 2))
    assert list(module.parameters()) == []


def test_bounds_are_read_at_call_time():
    module = TanhModule(in_keys=["action"])
    module.load_state_dict({"action_low": torch.tensor(0.0), "action_high": torch.tensor(10.0)})
    assert module(td_of(action=torch.tensor([100.0])))["action"].tolist() == [10.0]
    swapped = TensorDict(action_low=torch.tensor(-5.0), action_high=torch.tensor(5.0), batch_size=[])
    with swapped.to_module(module):
        assert module(td_of(action=torch.tensor([100.0])))["action"].tolist() == [5.0]


def test_deep_copy_and_dtype_conversion():
    module = TanhModule(in_keys=["action"], low=-2.0, high=2.0)
    twin = copy.deepcopy(module)
    twin.to(torch.float64)
    out = twin(td_of(action=torch.tensor([0.3], dtype=torch.float64)))["action"]
    assert out.dtype == torch.float64 and module.action_low.dtype == torch.float32


def test_float64_inputs_with_float32_bounds():
    module = TanhModule(in_keys=["action"], low=-2.0, high=2.0)
    out = module(td_of(action=torch.tensor([1e3], dtype=torch.float64)))["action"]
    assert out.dtype == torch.float64 and out.item() == 2.0


def test_tensors_as_arguments():
    module = TanhModule(in_keys=["action"], low=0.0, high=2.0)
    assert module(action=torch.zeros(2)).tolist() == [1.0, 1.0]


@given(
    low=st.floats(-100, 100),
    width=st.floats(1e-3, 100),
    scale=st.floats(1e-3, 1e4),
    clamp=st.booleans(),
    seed=st.integers(0, 50),
)
def test_outputs_always_lie_in_the_box(low, width, scale, clamp, seed):
    torch.manual_seed(seed)
    spec = Bounded(low, low + width, shape=(3,))
    module = TanhModule(in_keys=["action"], spec=spec, clamp=clamp)
    out = module(TensorDict(action=torch.randn(64, 3) * scale, batch_size=[64]))["action"]
    assert spec.is_in(out)


# ----------------------------------------------------------------------------- errors
def test_spec_and_different_bounds_are_refused():
    spec = Bounded(-1.0, 1.0, shape=(2,))
    with pytest.raises(ValueError, match="minimum value"):
        TanhModule(in_keys=["action"], spec=spec, low=-2.0)
    with pytest.raises(ValueError, match="maximum value"):
        TanhModule(in_keys=["action"], spec=spec, high=2.0)
    TanhModule(in_keys=["action"], spec=spec, low=-1.0, high=1.0)  # equal bounds are fine


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"low": 1.0, "high": -1.0}, ValueError, "high < low"),
        ({"low": -float("inf")}, ValueError, "finite"),
        ({"spec": OneHot(3)}, TypeError, "Bounded"),
        ({"spec": Unbounded(shape=(2,))}, TypeError, "Bounded"),
        ({"spec": Bounded(-1, 1, shape=(2,), dtype=torch.int64)}, TypeError, "floating"),
        ({"spec": "box"}, TypeError, "spec"),
        ({"clamp": 1}, TypeError, "clamp"),
        ({"out_keys": ["a", "b"]}, ValueError, "same length"),
        ({"low": "low"}, TypeError, "low"),
        ({"low": torch.zeros(3), "high": torch.ones(2)}, ValueError, "broadcast"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        TanhModule(in_keys=["action"], **kwargs)


def test_clashing_buffer_names_are_refused():
    with pytest.raises(ValueError, match="clashing"):
        TanhModule(in_keys=[("a", "b"), "a_b"])


def test_a_key_with_a_dot_is_refused():
    with pytest.raises(ValueError, match="buffer"):
        TanhModule(in_keys=["a.b"])


def test_missing_input_is_a_key_error():
    with pytest.raises(KeyError, match="action"):
        TanhModule(in_keys=["action"])(td_of(other=torch.zeros(1)))
