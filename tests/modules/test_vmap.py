"""`VmapModule`: mapped dims, the loop (mock) reference, randomness and errors."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torch import nn

from rldsl.modules import Actor, ExplorationType, SafeProbabilisticModule, ValueOperator, VmapModule, set_exploration_type


def first_element() -> TensorDictModule:
    return TensorDictModule(lambda x: x[0], in_keys=["x"], out_keys=["y"])


def minus_first() -> TensorDictModule:
    return TensorDictModule(lambda x: x - x[0], in_keys=["x"], out_keys=["y"])


def test_maps_over_the_given_dim():
    td = TensorDict(x=torch.randn(4, 3, 2), batch_size=[4, 3])
    out = VmapModule(minus_first(), vmap_dim=0)(td)
    assert out is td  # each call sees a row x[i] (batch [3]) and subtracts its first entry
    assert torch.equal(td["y"], td["x"] - td["x"][:, :1])
    VmapModule(minus_first(), vmap_dim=1)(td)  # each call sees a column x[:, j] (batch [4])
    assert torch.equal(td["y"], td["x"] - td["x"][:1])


def test_default_is_the_last_batch_dim():
    td = TensorDict(x=torch.arange(24.0).view(4, 3, 2), batch_size=[4])
    VmapModule(first_element())(td)
    assert torch.equal(td["y"], td["x"][:, 0])


def test_negative_dims_count_from_the_end():
    td = TensorDict(x=torch.randn(4, 3, 2), batch_size=[4, 3])
    assert torch.equal(VmapModule(minus_first(), vmap_dim=-2)(td.clone())["y"], td["x"] - td["x"][:, :1])
    assert torch.equal(VmapModule(minus_first())(td.clone())["y"], td["x"] - td["x"][:1])


def test_mock_loops_and_agrees_with_vmap():
    torch.manual_seed(0)
    actor = Actor(nn.Linear(3, 2))
    td = TensorDict(observation=torch.randn(5, 4, 3), batch_size=[5, 4])
    mapped = VmapModule(actor, vmap_dim=1)(td.clone())
    looped = VmapModule(actor, vmap_dim=1, mock=True)(td.clone())
    torch.testing.assert_close(mapped["action"], looped["action"])
    module = VmapModule(actor)
    assert module.mock_() is module and module.mock is True


def test_keys_are_the_modules():
    value = ValueOperator(nn.Linear(3, 1))
    module = VmapModule(value)
    assert module.in_keys == value.in_keys and module.out_keys == value.out_keys


def test_random_draws_raise_by_default_and_follow_the_randomness_argument():
    head = SafeProbabilisticModule(["loc", "scale"], ["action"], distribution_class=torch.distributions.Normal)
    td = TensorDict(loc=torch.zeros(6, 2), scale=torch.ones(6, 2), batch_size=[6])
    with set_exploration_type(ExplorationType.RANDOM):
        with pytest.raises(RuntimeError, match="randomness"):
            VmapModule(head)(td.clone())
        out = VmapModule(head, randomness="same")(td.clone())
    assert out["action"].shape == (6, 2) and (out["action"] == out["action"][0]).all()
    assert torch.equal(VmapModule(head)(td.clone())["action"], torch.zeros(6, 2))  # deterministic: no draw


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((nn.Linear(2, 2),), TypeError, "tensordict module"),
        ((first_element(), 1.5), TypeError, "vmap_dim"),
        ((first_element(), None, "yes"), TypeError, "mock"),
    ],
)
def test_bad_arguments(args, error, match):
    with pytest.raises(error, match=match):
        VmapModule(*args)


def test_bad_randomness():
    with pytest.raises(ValueError, match="randomness"):
        VmapModule(first_element(), randomness="sometimes")


def test_inputs_without_the_mapped_dim_are_refused():
    with pytest.raises(ValueError, match="batch"):
        VmapModule(first_element())(TensorDict(x=torch.zeros(3), batch_size=[]))
    with pytest.raises(ValueError, match="batch"):
        VmapModule(first_element(), vmap_dim=2)(TensorDict(x=torch.zeros(3, 2), batch_size=[3]))
    with pytest.raises(TypeError, match="tensordict"):
        VmapModule(first_element())(torch.zeros(3))
