"""Dueling DQN and DDPG networks (rldsl.modules.algorithms) against torchrl 0.14's documented
structure, defaults, initialisation, state_dict names and forward contracts."""

from __future__ import annotations

import doctest

import pytest
import torch
from torch import nn

from rldsl.modules import (
    MLP,
    ConvNet,
    DdpgCnnActor,
    DdpgCnnQNet,
    DdpgMlpActor,
    DdpgMlpQNet,
    DuelingCnnDQNet,
    DuelingMlpDQNet,
    SquashDims,
    Squeeze2dLayer,
)
import rldsl.modules.algorithms
from rldsl.modules.algorithms import ddpg_init_last_layer


def layout(module: nn.Module) -> list[str]:
    """The layers of a sequential network, as torchrl's docs print them (without the sizes of lazy ones)."""
    out = []
    for layer in module:
        if isinstance(layer, nn.LazyLinear):
            out.append(f"LazyLinear({layer.out_features})")
        elif isinstance(layer, nn.Linear):
            out.append(f"Linear({layer.in_features}, {layer.out_features})")
        elif isinstance(layer, nn.LazyConv2d):
            out.append(f"LazyConv2d({layer.out_channels}, k={layer.kernel_size[0]}, s={layer.stride[0]}, "
                       f"p={layer.padding[0]})")
        elif isinstance(layer, nn.Conv2d):
            out.append(f"Conv2d({layer.in_channels}, {layer.out_channels}, k={layer.kernel_size[0]}, "
                       f"s={layer.stride[0]}, p={layer.padding[0]})")
        else:
            out.append(type(layer).__name__)
    return out


def in_range(tensor: torch.Tensor, bound: float) -> bool:
    return bool(tensor.abs().max() <= bound) and bool(tensor.abs().max() > 0)


# --- DuelingMlpDQNet ---------------------------------------------------------------------------------
def test_dueling_mlp_layout_and_state_dict_names() -> None:
    net = DuelingMlpDQNet(out_features=(3, 2))
    assert layout(net.features) == ["LazyLinear(256)", "ELU", "Linear(256, 256)", "ELU", "Linear(256, 256)", "ELU"]
    assert layout(net.advantage) == ["LazyLinear(512)", "ELU", "Linear(512, 6)"]
    assert layout(net.value) == ["LazyLinear(512)", "ELU", "Linear(512, 1)"]
    net(torch.zeros(1, 5))
    assert list(net.state_dict()) == [
        "features.0.weight", "features.0.bias", "features.2.weight", "features.2.bias", "features.4.weight",
        "features.4.bias", "advantage.0.weight", "advantage.0.bias", "advantage.2.weight", "advantage.2.bias",
        "value.0.weight", "value.0.bias", "value.2.weight", "value.2.bias",
    ]
    assert net.out_features == (3, 2) and net.out_features_value == 1


def test_dueling_mlp_zeroes_biases_except_lazy_first_layers() -> None:
    torch.manual_seed(0)
    net = DuelingMlpDQNet(out_features=4)
    net(torch.randn(2, 5))  # the lazy first layers get torch's default init now
    for name in ("features.2", "features.4", "advantage.2", "value.2"):
        assert torch.count_nonzero(net.get_submodule(name).bias) == 0, name
    for name in ("features.0", "advantage.0", "value.0"):
        assert torch.count_nonzero(net.get_submodule(name).bias) > 0, name
    sized = DuelingMlpDQNet(out_features=4, mlp_kwargs_feature={"in_features": 5},
                            mlp_kwargs_output={"in_features": 256})
    assert all(torch.count_nonzero(m.bias) == 0 for m in sized.modules() if isinstance(m, nn.Linear))


def test_dueling_decomposition_removes_the_mean_advantage() -> None:
    torch.manual_seed(1)
    net = DuelingMlpDQNet(out_features=5, mlp_kwargs_feature={"in_features": 3})
    x = torch.randn(7, 3)
    q = net(x)
    hidden = net.features(x)
    advantage, value = net.advantage(hidden), net.value(hidden)
    assert q.shape == (7, 5)
    torch.testing.assert_close(q, value + advantage - advantage.mean(-1, keepdim=True))
    torch.testing.assert_close(q.mean(-1, keepdim=True), value)  # the advantages average to zero
    torch.testing.assert_close(q - q.mean(-1, keepdim=True), advantage - advantage.mean(-1, keepdim=True))


def test_dueling_tuple_out_features_adds_each_sample_its_own_value() -> None:
    torch.manual_seed(2)
    net = DuelingMlpDQNet(out_features=(3, 2), mlp_kwargs_feature={"in_features": 5})
    x = torch.randn(4, 5)
    q = net(x)
    assert q.shape == (4, 3, 2)
    hidden = net.features(x)
    advantage, value = net.advantage(hidden), net.value(hidden)
    expected = value[:, None, :] + advantage - advantage.mean(-1, keepdim=True)
    torch.testing.assert_close(q, expected)
    one = x[:1]  # a batch of one: torchrl's broadcast gives the same numbers
    h1 = net.features(one)
    a1, v1 = net.advantage(h1), net.value(h1)
    torch.testing.assert_close(net(one), v1 + a1 - a1.mean(-1, keepdim=True))
    assert net(torch.randn(5)).shape == (3, 2)  # no batch dim


def test_dueling_value_width() -> None:
    assert DuelingMlpDQNet(out_features=4, out_features_value=4)(torch.zeros(2, 3)).shape == (2, 4)
    with pytest.raises(ValueError, match="out_features_value=3 cannot be added to 4 advantages"):
        DuelingMlpDQNet(out_features=4, out_features_value=3)
    with pytest.raises(ValueError, match="positive int"):
        DuelingMlpDQNet(out_features=4, out_features_value=0)


def test_dueling_kwargs_override_the_defaults() -> None:
    net = DuelingMlpDQNet(out_features=2, mlp_kwargs_feature={"num_cells": [16], "out_features": 8},
                          mlp_kwargs_output={"num_cells": 32, "activation_class": nn.Tanh})
    assert layout(net.features) == ["LazyLinear(16)", "ELU", "Linear(16, 8)", "ELU"]
    assert layout(net.advantage) == ["LazyLinear(32)", "Tanh", "Linear(32, 2)"]
    with pytest.raises(TypeError, match="mlp_kwargs_feature must be a dict"):
        DuelingMlpDQNet(out_features=2, mlp_kwargs_feature=[16])


# --- DuelingCnnDQNet ---------------------------------------------------------------------------------
def test_dueling_cnn_layout_shapes_and_names() -> None:
    torch.manual_seed(3)
    net = DuelingCnnDQNet(out_features=6)
    assert isinstance(net.features, ConvNet)
    assert layout(net.features) == ["LazyConv2d(32, k=8, s=4, p=0)", "ELU", "Conv2d(32, 64, k=4, s=2, p=0)", "ELU",
                                    "Conv2d(64, 64, k=3, s=1, p=0)", "ELU", "SquashDims"]
    assert layout(net.advantage) == ["LazyLinear(512)", "ELU", "Linear(512, 6)"]
    q = net(torch.rand(2, 4, 84, 84))
    assert q.shape == (2, 6)
    assert net.advantage[0].in_features == 64 * 7 * 7
    assert net(torch.rand(3, 2, 4, 84, 84)).shape == (3, 2, 6)  # two batch dims
    assert list(net.state_dict())[:6] == ["features.0.weight", "features.0.bias", "features.2.weight",
                                          "features.2.bias", "features.4.weight", "features.4.bias"]
    for name in ("features.2", "features.4", "advantage.2", "value.2"):
        assert torch.count_nonzero(net.get_submodule(name).bias) == 0, name
    assert torch.count_nonzero(net.features[0].bias) > 0  # lazy: default init when it was sized
    x = torch.rand(5, 4, 84, 84)
    hidden = net.features(x)
    advantage, value = net.advantage(hidden), net.value(hidden)
    torch.testing.assert_close(net(x), value + advantage - advantage.mean(-1, keepdim=True))


def test_dueling_cnn_kwargs() -> None:
    net = DuelingCnnDQNet(out_features=3, out_features_value=3,
                          cnn_kwargs={"in_features": 1, "num_cells": [8], "kernel_sizes": 3, "strides": 1},
                          mlp_kwargs={"num_cells": 16})
    assert layout(net.features) == ["Conv2d(1, 8, k=3, s=1, p=0)", "ELU", "SquashDims"]
    assert torch.count_nonzero(net.features[0].bias) == 0  # a sized conv is zeroed too
    assert net(torch.rand(2, 1, 5, 5)).shape == (2, 3)
    with pytest.raises(TypeError, match="cnn_kwargs must be a dict"):
        DuelingCnnDQNet(out_features=3, cnn_kwargs="big")


# --- DDPG on vectors ---------------------------------------------------------------------------------
def test_ddpg_mlp_actor_defaults_and_init() -> None:
    torch.manual_seed(4)
    actor = DdpgMlpActor(action_dim=4)
    assert layout(actor.mlp) == ["LazyLinear(400)", "ELU", "Linear(400, 300)", "ELU", "Linear(300, 4)"]
    last = actor.mlp[4]
    assert in_range(last.weight, 3e-3) and in_range(last.bias, 3e-3)
    assert actor(torch.zeros(10, 6)).shape == (10, 4)
    assert actor(torch.zeros(2, 3, 6)).shape == (2, 3, 4)
    assert list(actor.state_dict()) == ["mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight",
                                        "mlp.4.bias"]


def test_ddpg_last_layer_draws_follow_the_mlp_draws() -> None:
    """Same seed, same weights as the MLP built first and then two uniform draws (torchrl's order)."""
    torch.manual_seed(5)
    actor = DdpgMlpActor(action_dim=2, mlp_net_kwargs={"in_features": 3, "num_cells": [8, 8]})
    torch.manual_seed(5)
    mlp = MLP(in_features=3, out_features=2, depth=2, num_cells=[8, 8], activation_class=nn.ELU)
    weight = torch.rand(2, 8) * 6e-3 - 3e-3
    bias = torch.rand(2) * 6e-3 - 3e-3
    torch.testing.assert_close(actor.mlp[0].weight, mlp[0].weight)
    torch.testing.assert_close(actor.mlp[4].weight, weight)
    torch.testing.assert_close(actor.mlp[4].bias, bias)


def test_ddpg_mlp_qnet_joins_the_action_after_the_first_layer() -> None:
    torch.manual_seed(6)
    net = DdpgMlpQNet()
    assert layout(net.mlp1) == ["LazyLinear(400)", "ELU"]
    assert layout(net.mlp2) == ["LazyLinear(300)", "ELU", "Linear(300, 1)"]
    assert in_range(net.mlp2[2].weight, 3e-3) and in_range(net.mlp2[2].bias, 3e-3)
    observation, action = torch.randn(5, 32), torch.randn(5, 4)
    value = net(observation, action)
    assert value.shape == (5, 1)
    assert net.mlp2[0].in_features == 404
    torch.testing.assert_close(value, net.mlp2(torch.cat([net.mlp1(observation), action], -1)))
    assert list(net.state_dict()) == ["mlp1.0.weight", "mlp1.0.bias", "mlp2.0.weight", "mlp2.0.bias", "mlp2.2.weight",
                                      "mlp2.2.bias"]
    custom = DdpgMlpQNet(mlp_net_kwargs_net1={"out_features": 16}, mlp_net_kwargs_net2={"num_cells": [8, 8]})
    assert layout(custom.mlp2) == ["LazyLinear(8)", "ELU", "Linear(8, 8)", "ELU", "Linear(8, 1)"]


def test_ddpg_init_last_layer() -> None:
    mlp = MLP(in_features=4, out_features=5, num_cells=[10, 10])
    ddpg_init_last_layer(mlp)  # torchrl's default scale, 6e-4
    assert in_range(mlp[-1].weight, 3e-4) and in_range(mlp[-1].bias, 3e-4)
    with pytest.raises(RuntimeError, match="Could not find a nn.Linear / nn.Conv2d"):
        ddpg_init_last_layer(nn.Sequential(nn.Tanh()))
    with pytest.raises(ValueError, match="lazy"):
        DdpgMlpActor(action_dim=2, mlp_net_kwargs={"depth": 0, "num_cells": []})


def test_ddpg_nets_on_the_meta_device() -> None:
    actor = DdpgMlpActor(2, mlp_net_kwargs={"in_features": 3}, device="meta")
    assert all(p.is_meta for p in actor.parameters())
    assert actor(torch.zeros(4, 3, device="meta")).shape == (4, 2)


# --- DDPG on pixels ----------------------------------------------------------------------------------
def test_ddpg_cnn_actor_returns_action_and_hidden() -> None:
    torch.manual_seed(7)
    actor = DdpgCnnActor(action_dim=4)
    assert layout(actor.convnet) == ["LazyConv2d(32, k=8, s=4, p=0)", "ELU", "Conv2d(32, 64, k=4, s=2, p=0)", "ELU",
                                     "Conv2d(64, 64, k=3, s=1, p=1)", "ELU", "SquashDims"]
    assert layout(actor.mlp) == ["LazyLinear(200)", "ELU", "Linear(200, 200)", "ELU", "Linear(200, 4)"]
    assert in_range(actor.mlp[4].weight, 3e-4) and in_range(actor.mlp[4].bias, 3e-4)
    observation = torch.randn(10, 3, 64, 64)
    action, hidden = actor(observation)
    assert action.shape == (10, 4) and hidden.shape == (10, 2304)
    torch.testing.assert_close(hidden, actor.convnet(observation))
    torch.testing.assert_close(action, actor.mlp(hidden))
    assert [k for k in actor.state_dict()] == [
        "convnet.0.weight", "convnet.0.bias", "convnet.2.weight", "convnet.2.bias", "convnet.4.weight",
        "convnet.4.bias", "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias", "mlp.4.weight", "mlp.4.bias",
    ]


def test_ddpg_cnn_actor_average_pooling() -> None:
    actor = DdpgCnnActor(action_dim=2, use_avg_pooling=True)
    assert layout(actor.convnet)[-2:] == ["AdaptiveAvgPool2d", "Squeeze2dLayer"]
    assert actor.convnet[6].output_size == (1, 1)
    action, hidden = actor(torch.randn(3, 5, 3, 64, 64))
    assert action.shape == (3, 5, 2) and hidden.shape == (3, 5, 64)
    with pytest.raises(TypeError, match="use_avg_pooling"):
        DdpgCnnActor(action_dim=2, use_avg_pooling=1)


def test_ddpg_cnn_qnet() -> None:
    torch.manual_seed(8)
    net = DdpgCnnQNet()
    assert layout(net.convnet) == ["LazyConv2d(32, k=8, s=4, p=0)", "ELU", "Conv2d(32, 64, k=4, s=2, p=0)", "ELU",
                                   "Conv2d(64, 128, k=3, s=1, p=1)", "ELU", "AdaptiveAvgPool2d", "Squeeze2dLayer"]
    assert isinstance(net.convnet[7], Squeeze2dLayer)
    assert net.convnet[6].output_size == (1, 1)
    assert in_range(net.mlp[4].weight, 3e-4)
    observation, action = torch.zeros(1, 3, 64, 64), torch.zeros(1, 4)
    assert net(observation, action).shape == (1, 1)
    assert net.mlp[0].in_features == 128 + 4
    flat = DdpgCnnQNet(use_avg_pooling=False)
    assert isinstance(flat.convnet[6], SquashDims) and len(flat.convnet) == 7
    assert flat(torch.zeros(2, 3, 3, 64, 64), torch.zeros(2, 3, 1)).shape == (2, 3, 1)
    assert flat.mlp[0].in_features == 128 * 6 * 6 + 1
    assert list(net.state_dict())[-2:] == ["mlp.4.weight", "mlp.4.bias"]


def test_docstring_examples_run() -> None:
    torch.manual_seed(0)
    result = doctest.testmod(rldsl.modules.algorithms, verbose=False)
    assert result.attempted > 0 and result.failed == 0
