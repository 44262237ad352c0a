"""Multi-agent networks, second part: MultiAgentMLP's lazy ``n_agent_inputs=None`` and its
parameters as a TensorDict (``use_td_params``), torchrl's ``get_stateful_net`` /
``from_stateful_net``, MultiAgentConvNet (shapes, layouts, lazy channels, names), and one batched
call for all agents (no Python loop)."""

from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict
from tensordict.nn import TensorDictParams
from torch import nn
from torch.overrides import TorchFunctionMode

from rldsl.modules import ConvNet, MultiAgentConvNet, MultiAgentMLP, MultiAgentNetBase

LAYOUTS = [(True, False), (True, True), (False, False), (False, True)]
LAYOUT_IDS = ["shared-decentralised", "shared-centralised", "own-decentralised", "own-centralised"]


def mlp(share: bool = False, centralized: bool = False, n_in: int | None = 5, **kwargs) -> MultiAgentMLP:
    kwargs.setdefault("depth", 1)
    kwargs.setdefault("num_cells", 6)
    return MultiAgentMLP(n_in, 2, 3, centralized=centralized, share_params=share, **kwargs)


def cnn(share: bool = False, centralized: bool = False, in_features: int | None = 2, **kwargs) -> MultiAgentConvNet:
    kwargs.setdefault("num_cells", [4, 5])
    kwargs.setdefault("kernel_sizes", 3)
    kwargs.setdefault("strides", 1)
    return MultiAgentConvNet(3, centralized, share, in_features=in_features, **kwargs)


class CountCalls(TorchFunctionMode):
    """Counts the torch functions called (by name) while active."""

    def __init__(self) -> None:
        super().__init__()
        self.counts: dict[str, int] = {}

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's signature)
        name = getattr(func, "__name__", str(func))
        self.counts[name] = self.counts.get(name, 0) + 1
        return func(*args, **(kwargs or {}))


# ---------------------------------------------------------------------------------------------
# Lazy n_agent_inputs


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_lazy_input_size_is_taken_from_the_first_call(share: bool, centralized: bool) -> None:
    net = mlp(share, centralized, n_in=None)
    assert not net.initialized and net.n_agent_inputs is None
    assert list(net.state_dict()) == [] and list(net.parameters()) == []
    out = net(torch.randn(4, 3, 7))
    assert out.shape == (4, 3, 2) and net.initialized and net.n_agent_inputs == 7
    lead = () if share else (3,)
    assert net.params["0", "weight"].shape == (*lead, 6, 21 if centralized else 7)
    assert net(torch.randn(2, 5, 3, 7)).shape == (2, 5, 3, 2)
    with pytest.raises(ValueError, match=r"\[\*B, 3, 7\], but got \[4, 3, 8\]"):
        net(torch.randn(4, 3, 8))


def test_lazy_network_equals_an_eager_one_drawn_from_the_same_seed() -> None:
    torch.manual_seed(3)
    eager = mlp(n_in=7)
    lazy = mlp(n_in=None)
    torch.manual_seed(3)
    x = torch.randn(4, 3, 7)
    torch.manual_seed(3)
    lazy(x)
    torch.testing.assert_close(lazy(x), eager(x))


def test_lazy_agents_are_initialised_each_on_its_own() -> None:
    net = mlp(n_in=None)
    net(torch.randn(2, 3, 4))
    weight = net.params["0", "weight"]
    assert not torch.equal(weight[0], weight[1]) and not torch.equal(weight[1], weight[2])


def test_lazy_network_is_built_where_and_as_the_module_was_moved() -> None:
    double = mlp(n_in=None).double()
    assert double(torch.randn(2, 3, 4, dtype=torch.float64)).dtype == torch.float64
    assert all(p.dtype == torch.float64 for p in double.parameters())
    on_meta = mlp(n_in=None).to("meta")
    assert on_meta(torch.empty(2, 3, 4, device="meta")).is_meta
    assert all(p.is_meta for p in on_meta.parameters())
    built_on = mlp(n_in=None, device="meta")
    assert built_on(torch.empty(1, 3, 4, device="meta")).is_meta and all(p.is_meta for p in built_on.parameters())


def test_lazy_network_loads_a_checkpoint_by_taking_its_size() -> None:
    for share, centralized in LAYOUTS:
        source = mlp(share, centralized, n_in=4)
        lazy = mlp(share, centralized, n_in=None)
        lazy.load_state_dict(source.state_dict())
        assert lazy.n_agent_inputs == 4
        x = torch.randn(5, 3, 4)
        assert torch.equal(lazy(x), source(x))


def test_lazy_network_is_trainable_after_its_first_call() -> None:
    net = mlp(n_in=None)
    with torch.inference_mode():
        net(torch.randn(2, 3, 4))  # built under inference mode: still ordinary parameters
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = [p.detach().clone() for p in net.parameters()]
    net(torch.randn(2, 3, 4)).square().sum().backward()
    optimizer.step()
    assert all(not torch.equal(a, b) for a, b in zip(before, net.parameters()))


def test_lazy_network_before_its_first_call() -> None:
    net = mlp(n_in=None)
    assert "lazy" in repr(net)
    with pytest.raises(RuntimeError, match="call the module once first"):
        net.get_stateful_net()
    net.reset_parameters()  # nothing to reset yet
    copied = pickle.loads(pickle.dumps(net))
    assert copied(torch.randn(2, 3, 4)).shape == (2, 3, 2)
    with pytest.raises(ValueError, match=r"\[\*B, 3, n_agent_inputs\], but got \[2, 4, 4\]"):
        net(torch.randn(2, 4, 4))


# ---------------------------------------------------------------------------------------------
# Parameters as a TensorDict


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_params_are_a_tensordict_params_batched_over_the_agents(share: bool, centralized: bool) -> None:
    net = mlp(share, centralized)
    assert isinstance(net.params, TensorDictParams) and isinstance(net.params, nn.Module)
    assert net.params.batch_size == (() if share else (3,))
    assert set(net.params.keys(True, True)) == {("0", "weight"), ("0", "bias"), ("2", "weight"), ("2", "bias")}
    named = dict(net.named_parameters())
    assert list(named) == ["params.0.weight", "params.0.bias", "params.2.weight", "params.2.bias"]
    for key in net.params.keys(True, True):
        assert net.params[key] is named["params." + ".".join(key)]


def test_tensordict_operations_on_params_change_the_network() -> None:
    net = mlp()
    x = torch.randn(4, 3, 5)
    before = net(x)
    net.params.data.apply_(lambda t: t.zero_())
    assert torch.equal(net(x), torch.zeros_like(before))
    net.params["2", "bias"].data.copy_(torch.arange(6.0).reshape(3, 2))
    assert torch.equal(net(x)[0], torch.arange(6.0).reshape(3, 2))
    assert isinstance(net.params[1], TensorDict) and net.params[1]["0", "weight"].shape == (6, 5)  # agent 1


@pytest.mark.parametrize("target", ["meta", torch.float64, torch.float16], ids=str)
def test_params_stay_the_view_of_the_module_after_a_move(target: object) -> None:
    net = copy.deepcopy(mlp(norm_class=nn.LayerNorm, norm_kwargs={"normalized_shape": 6})).to(target)
    named = dict(net.named_parameters())
    for key in net.params.keys(True, True):
        assert net.params[key] is named["params." + ".".join(key)]
    first = net.params["0", "weight"]
    assert first.is_meta if target == "meta" else first.dtype == target


def test_float_conversions_keep_the_parameter_objects_for_optimizers() -> None:
    net = mlp()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    kept = list(net.parameters())
    net.double()
    assert all(a is b for a, b in zip(kept, net.parameters()))
    assert all(p.dtype == torch.float64 for p in optimizer.param_groups[0]["params"])
    net(torch.randn(2, 3, 5, dtype=torch.float64)).sum().backward()
    net.float()
    assert all(p.grad is not None and p.grad.dtype == torch.float32 for p in net.parameters())


def test_buffers_are_stacked_in_the_tensordict_too() -> None:
    net = mlp(norm_class=nn.BatchNorm1d, norm_kwargs={"num_features": 6})
    assert "params.1.running_mean" in net.state_dict()
    assert net.params["1", "running_mean"].shape == (3, 6)
    net.train()
    net(torch.randn(8, 3, 5) + 3)
    assert (net.params["1", "running_mean"].abs() > 0).all()  # updated through vmap, per agent
    on_meta = copy.deepcopy(net).to("meta")
    assert on_meta.params["1", "running_mean"].is_meta


def test_use_td_params_false_keeps_the_parameters_in_the_empty_net() -> None:
    torch.manual_seed(0)
    with_td = mlp()
    torch.manual_seed(0)
    without = mlp(use_td_params=False)
    assert list(without.state_dict()) == [k.replace("params.", "_empty_net.") for k in with_td.state_dict()]
    assert isinstance(without._empty_net, nn.Sequential)
    view = without.params
    assert isinstance(view, TensorDict) and not isinstance(view, nn.Module) and view.batch_size == (3,)
    assert view["0", "weight"] is without._empty_net[0].weight
    x = torch.randn(4, 3, 5)
    assert torch.equal(without(x), with_td(x))
    moved = copy.deepcopy(without).to("meta")
    assert moved(torch.empty(2, 3, 5, device="meta")).is_meta


def test_state_dicts_load_across_copies_with_weights_only() -> None:
    for use_td_params in (True, False):
        net = mlp(use_td_params=use_td_params)
        buffer = io.BytesIO()
        torch.save(net.state_dict(), buffer)
        buffer.seek(0)
        other = mlp(use_td_params=use_td_params)
        other.load_state_dict(torch.load(buffer, weights_only=True))
        x = torch.randn(2, 3, 5)
        assert torch.equal(other(x), net(x))


# ---------------------------------------------------------------------------------------------
# get_stateful_net / from_stateful_net


def test_stateful_net_shares_the_parameters_for_in_place_initialisation() -> None:
    net = mlp()
    stateful = net.get_stateful_net()
    assert isinstance(stateful, nn.Sequential) and stateful[0].weight is net.params["0", "weight"]
    stateful.apply(lambda m: nn.init.zeros_(m.weight) if isinstance(m, nn.Linear) else None)
    assert net.params["0", "weight"].abs().sum() == 0
    inside = net.get_stateful_net(copy=False)
    assert inside[2].bias is net.params["2", "bias"]
    assert net(torch.randn(2, 3, 5)).shape == (2, 3, 2)


def test_from_stateful_net_copies_values_in() -> None:
    net = mlp()
    stateful = net.get_stateful_net()
    stateful[0].weight = nn.Parameter(torch.ones_like(stateful[0].weight))  # out of place
    assert net.params["0", "weight"].sum() != net.params["0", "weight"].numel()
    net.from_stateful_net(stateful)
    assert torch.equal(net.params["0", "weight"], torch.ones(3, 6, 5))
    with pytest.raises(RuntimeError, match="keys of params and provided module differ"):
        net.from_stateful_net(nn.Linear(5, 6))


# ---------------------------------------------------------------------------------------------
# MultiAgentConvNet


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
@settings(max_examples=5, deadline=None)
@given(batch=st.lists(st.integers(1, 3), max_size=2), size=st.integers(5, 9))
def test_conv_output_shape_for_any_batch(share: bool, centralized: bool, batch: list[int], size: int) -> None:
    net = cnn(share, centralized)
    out = net(torch.randn(*batch, 3, 2, size, size))
    assert out.shape == (*batch, 3, 5 * (size - 4) ** 2)


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_conv_parameters_are_stacked_unless_shared(share: bool, centralized: bool) -> None:
    net = cnn(share, centralized)
    lead = () if share else (3,)
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {
        "params.0.weight": (*lead, 4, 6 if centralized else 2, 3, 3), "params.0.bias": (*lead, 4),
        "params.2.weight": (*lead, 5, 4, 3, 3), "params.2.bias": (*lead, 5)}


def _agent_convnet(net: MultiAgentConvNet, agent: int) -> ConvNet:
    channels = net.in_features * (net.n_agents if net.centralized else 1)
    conv = ConvNet(in_features=channels, num_cells=net.num_cells, kernel_sizes=net.kernel_sizes,
                   strides=net.strides, paddings=net.paddings, activation_class=net.activation_class)
    conv.load_state_dict({name.removeprefix("params."): value if net.share_params else value[agent]
                          for name, value in net.state_dict().items()})
    return conv


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_conv_each_agent_runs_its_convnet_on_what_it_sees(share: bool, centralized: bool) -> None:
    net = cnn(share, centralized)
    x = torch.randn(4, 3, 2, 7, 7)
    out = net(x)
    for agent in range(3):
        seen = x.flatten(1, 2) if centralized else x[:, agent]
        torch.testing.assert_close(out[:, agent], _agent_convnet(net, agent)(seen), rtol=1e-5, atol=1e-5)
    if share and centralized:
        assert torch.equal(out[:, 0], out[:, 2])
    if not share:
        same = x[:, :1].expand_as(x)
        answers = net(same)
        assert not torch.allclose(answers[:, 0], answers[:, 1])


def test_conv_defaults_are_torchrls() -> None:
    """torchrl's docs: 7 agents, 3x100x100 images, defaults -> 2592 features (32 * 9 * 9)."""
    net = MultiAgentConvNet(7, centralized=False, share_params=True, in_features=3)
    conv = net.get_stateful_net()
    assert [type(m).__name__ for m in conv] == ["Conv2d", "ELU", "Conv2d", "ELU", "Conv2d", "ELU", "SquashDims"]
    assert conv[0].kernel_size == (5, 5) and conv[0].stride == (2, 2) and conv[0].padding == (0, 0)
    assert net(torch.randn(2, 7, 3, 100, 100)).shape == (2, 7, 2592)
    assert net.agent_dim == -4 and net.vmap_randomness == "different"


def test_conv_kwargs_reach_the_convnet() -> None:
    net = cnn(activation_class=nn.ReLU, paddings=1, aggregator_kwargs={"ndims_in": 3})
    conv = net.get_stateful_net()
    assert isinstance(conv[1], nn.ReLU) and conv[0].padding == (1, 1)
    assert net(torch.randn(2, 3, 2, 6, 6)).shape == (2, 3, 5 * 6 * 6)


def test_conv_lazy_channels_and_centralised_alias() -> None:
    net = MultiAgentConvNet(3, centralised=True, share_params=False, num_cells=[4], kernel_sizes=3, strides=1)
    assert net.centralized and not net.initialized and net.in_features is None
    assert net(torch.randn(2, 3, 5, 6, 6)).shape == (2, 3, 4 * 16)
    assert net.in_features == 5 and net.params["0", "weight"].shape == (3, 4, 15, 3, 3)


def test_conv_errors() -> None:
    net = cnn()
    with pytest.raises(ValueError, match=r"\[\*B, 3, 2, H, W\], but got \[2, 4, 2, 7, 7\]"):
        net(torch.randn(2, 4, 2, 7, 7))
    with pytest.raises(ValueError, match=r"but got \[3, 2, 7\]"):
        net(torch.randn(3, 2, 7))
    with pytest.raises(ValueError, match=r"but got \[2, 3, 5, 7, 7\]"):
        net(torch.randn(2, 3, 5, 7, 7))
    with pytest.raises(TypeError, match="centralized=True or centralized=False"):
        MultiAgentConvNet(3, share_params=True)
    with pytest.raises(TypeError, match="share_params=True or share_params=False"):
        MultiAgentConvNet(3, centralized=True)
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        MultiAgentConvNet(3, False, False, in_features=0)


def test_conv_on_meta_and_in_double() -> None:
    net = cnn(device="meta")
    assert all(p.is_meta for p in net.parameters())
    assert net(torch.empty(2, 3, 2, 7, 7, device="meta")).shape == (2, 3, 45)
    double = cnn().double()
    assert double(torch.randn(2, 3, 2, 7, 7, dtype=torch.float64)).dtype == torch.float64


def test_conv_repr_names_the_convnet() -> None:
    text = repr(cnn(share=False))
    assert "3 ConvNets, one per agent" in text and "Conv2d(2, 4" in text and "in_features=2" in text


# ---------------------------------------------------------------------------------------------
# One batched call for all agents


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_mlp_agents_are_evaluated_in_one_call_per_layer(share: bool, centralized: bool) -> None:
    net = MultiAgentMLP(4, 2, 8, centralized=centralized, share_params=share, num_cells=[16, 16])
    x = torch.randn(5, 8, 4)
    with CountCalls() as counter:
        net(x)
    assert counter.counts.get("linear") == 3  # three layers, whatever the number of agents


@pytest.mark.parametrize(("share", "centralized"), LAYOUTS, ids=LAYOUT_IDS)
def test_conv_agents_are_evaluated_in_one_call_per_layer(share: bool, centralized: bool) -> None:
    net = MultiAgentConvNet(8, centralized, share, in_features=2, num_cells=[4, 4], kernel_sizes=3, strides=1)
    with CountCalls() as counter:
        net(torch.randn(2, 8, 2, 6, 6))
    assert counter.counts.get("conv2d") == 2


def test_dropout_draws_different_masks_per_agent() -> None:
    torch.manual_seed(0)
    net = MultiAgentMLP(4, 64, 3, centralized=False, share_params=False, num_cells=[64], dropout=0.5)
    net.params.data.apply_(lambda t: t.fill_(0.1))  # identical agents: only dropout differs
    out = net(torch.ones(1, 3, 4))
    assert not torch.equal(out[:, 0], out[:, 1])
    net.eval()
    out = net(torch.ones(1, 3, 4))
    assert torch.equal(out[:, 0], out[:, 1])


def test_the_base_class_requires_its_arguments() -> None:
    class NoAgentDim(MultiAgentMLP):
        def __init__(self) -> None:
            self.n_agent_inputs = 4
            MultiAgentNetBase.__init__(self, n_agents=3, centralized=False, share_params=False)

    with pytest.raises(TypeError, match="needs agent_dim"):
        NoAgentDim()
    with pytest.raises(ValueError, match="vmap_randomness"):
        mlp(vmap_randomness="sometimes")
    assert mlp(vmap_randomness="same").vmap_randomness == "same"
