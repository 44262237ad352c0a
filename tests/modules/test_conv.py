"""The convolutional networks (``ConvNet``/``Conv2dNet``, ``Conv3dNet``) and their last layers
(``SquashDims``, ``SqueezeLayer``, ``Squeeze2dLayer``), against torchrl 0.14's documented layout,
defaults, ``state_dict`` names and errors."""

from __future__ import annotations

import inspect
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from rldsl.modules import (
    MLP,
    Conv2dNet,
    Conv3dNet,
    ConvNet,
    SquashDims,
    Squeeze2dLayer,
    SqueezeLayer,
)

ATARI = {"num_cells": [32, 64, 64], "kernel_sizes": [8, 4, 3], "strides": [4, 2, 1]}


def _out(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


# --- defaults and layout ----------------------------------------------------------------------------
def test_constructor_signatures_are_torchrls() -> None:
    expected = {
        "in_features": None, "depth": None, "num_cells": None, "kernel_sizes": 3, "strides": 1, "paddings": 0,
        "activation_class": nn.ELU, "activation_kwargs": None, "norm_class": None, "norm_kwargs": None,
        "bias_last_layer": True, "aggregator_class": SquashDims, "aggregator_kwargs": None,
        "squeeze_output": False, "device": None,
    }
    for cls in (ConvNet, Conv3dNet):
        parameters = inspect.signature(cls).parameters
        assert list(parameters) == list(expected)
        assert {name: p.default for name, p in parameters.items()} == expected
    assert Conv2dNet is ConvNet
    assert inspect.signature(SquashDims).parameters["ndims_in"].default == 3
    assert inspect.signature(SqueezeLayer).parameters["dims"].default == (-1,)


def test_default_convnet_is_three_lazy_layers_of_32_elu_then_squashdims() -> None:
    net = ConvNet()
    assert [type(m) for m in net] == [nn.LazyConv2d, nn.ELU, nn.Conv2d, nn.ELU, nn.Conv2d, nn.ELU, SquashDims]
    assert (net.depth, net.num_cells, net.kernel_sizes, net.strides, net.paddings) == (
        3, [32, 32, 32], [3, 3, 3], [1, 1, 1], [0, 0, 0])
    assert net.out_features == 32 and net.aggregator_kwargs == {"ndims_in": 3} and net[-1].ndims_in == 3
    assert net.activation_kwargs == {} and net.norm_kwargs == {} and net.in_features is None
    conv = net[2]
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding) == (
        32, 32, (3, 3), (1, 1), (0, 0))
    assert net(torch.zeros(2, 3, 10, 10)).shape == (2, 32 * 4 * 4)


def test_layout_of_torchrls_docstring_examples() -> None:
    net = ConvNet(in_features=3, num_cells=[32, 33, 34, 35], kernel_sizes=[3, 4, 5, (2, 3)])
    assert [net[i].kernel_size for i in (0, 2, 4, 6)] == [(3, 3), (4, 4), (5, 5), (2, 3)]
    assert [(net[i].in_channels, net[i].out_channels) for i in (0, 2, 4, 6)] == [(3, 32), (32, 33), (33, 34), (34, 35)]
    net = ConvNet(in_features=3, depth=4, num_cells=32)
    assert len(net) == 9 and isinstance(net[8], SquashDims)
    assert ConvNet(in_features=3, depth=1, num_cells=[32]).depth == 1


def test_depth_alone_gives_32_channels_per_layer() -> None:
    # torchrl 0.14's ConvNet refuses depth without num_cells (its default is always [32, 32, 32]);
    # rldsl does what Conv3dNet does (docs/differences_from_torchrl.md).
    assert ConvNet(depth=2).num_cells == [32, 32]
    assert Conv3dNet(depth=2).num_cells == [32, 32]


def test_scalars_broadcast_to_the_depth_given_by_any_list() -> None:
    net = ConvNet(in_features=2, num_cells=8, strides=[2, 1], kernel_sizes=3, paddings=1)
    assert net.depth == 2 and net.num_cells == [8, 8] and net.paddings == [1, 1]
    assert [net[i].stride for i in (0, 2)] == [(2, 2), (1, 1)]
    assert net(torch.zeros(4, 2, 9, 9)).shape == (4, 8 * 5 * 5)


# --- state_dict names --------------------------------------------------------------------------------
def test_state_dict_keys_are_torchrls() -> None:
    net = ConvNet(in_features=4, **ATARI)
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    shapes = {k: tuple(v.shape) for k, v in net.state_dict().items()}
    assert shapes["0.weight"] == (32, 4, 8, 8) and shapes["4.weight"] == (64, 64, 3, 3)


def test_norm_comes_after_the_activation_and_shifts_the_indices() -> None:
    net = ConvNet(in_features=3, num_cells=[8, 8], norm_class=nn.BatchNorm2d, norm_kwargs={"num_features": 8})
    assert [type(m) for m in net] == [nn.Conv2d, nn.ELU, nn.BatchNorm2d, nn.Conv2d, nn.ELU, nn.BatchNorm2d, SquashDims]
    assert list(net.state_dict())[:7] == ["0.weight", "0.bias", "2.weight", "2.bias", "2.running_mean",
                                         "2.running_var", "2.num_batches_tracked"]
    assert "3.weight" in net.state_dict() and "5.running_var" in net.state_dict()


def test_a_torchrl_layout_checkpoint_loads() -> None:
    """A state_dict saved from torchrl's layout (a Sequential of the same layers) loads unchanged."""
    source = ConvNet(in_features=4, **ATARI)
    plain = nn.Sequential(*[nn.Conv2d(4, 32, 8, 4), nn.ELU(), nn.Conv2d(32, 64, 4, 2), nn.ELU(),
                            nn.Conv2d(64, 64, 3, 1), nn.ELU(), nn.Flatten(-3)])
    plain.load_state_dict(source.state_dict())
    target = ConvNet(in_features=4, **ATARI)
    target.load_state_dict(plain.state_dict())
    x = torch.randn(3, 4, 84, 84)
    torch.testing.assert_close(target(x), plain(x))
    torch.testing.assert_close(source(x), plain(x))


# --- forward: batch dims -----------------------------------------------------------------------------
@pytest.mark.parametrize("batch", [(), (5,), (2, 3), (2, 1, 3)])
def test_leading_batch_dims_are_flattened_and_restored(batch: tuple) -> None:
    torch.manual_seed(0)
    net = ConvNet(in_features=3, num_cells=[4, 6], kernel_sizes=[3, 2], strides=[2, 1])
    x = torch.randn(*batch, 3, 11, 11)
    out = net(x)
    assert out.shape == (*batch, 6 * 4 * 4)
    flat = net(x.reshape(-1, 3, 11, 11)) if batch else net(x.unsqueeze(0))[0]
    torch.testing.assert_close(out.reshape(flat.shape), flat)


@pytest.mark.parametrize("batch", [(), (5,), (2, 3)])
def test_conv3dnet_shapes(batch: tuple) -> None:
    net = Conv3dNet(in_features=2, num_cells=[4, 8], kernel_sizes=3, strides=[1, 2])
    assert [type(m) for m in net] == [nn.Conv3d, nn.ELU, nn.Conv3d, nn.ELU, SquashDims]
    assert net.aggregator_kwargs == {"ndims_in": 4}
    out = net(torch.zeros(*batch, 2, 7, 9, 9))
    assert out.shape == (*batch, 8 * 2 * 3 * 3)
    assert isinstance(Conv3dNet(num_cells=[4])[0], nn.LazyConv3d)


def test_lazy_first_layer_infers_the_channels() -> None:
    net = ConvNet(num_cells=[8, 8])
    assert isinstance(net[0], nn.LazyConv2d)
    assert net(torch.zeros(2, 5, 3, 12, 12)).shape == (2, 5, 8 * 8 * 8)
    assert type(net[0]) is nn.Conv2d and net[0].in_channels == 3
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_the_same_math_as_the_layers_by_hand() -> None:
    torch.manual_seed(0)
    net = ConvNet(in_features=2, num_cells=[3, 4], kernel_sizes=[3, 2], strides=[1, 2], paddings=[1, 0],
                  activation_class=nn.Tanh)
    x = torch.randn(6, 2, 8, 8)
    h = torch.tanh(nn.functional.conv2d(x, net[0].weight, net[0].bias, stride=1, padding=1))
    h = torch.tanh(nn.functional.conv2d(h, net[2].weight, net[2].bias, stride=2))
    torch.testing.assert_close(net(x), h.flatten(-3))


@settings(max_examples=40, deadline=None)
@given(size=st.integers(1, 40), kernel=st.integers(1, 6), stride=st.integers(1, 4), padding=st.integers(0, 3),
       depth=st.integers(1, 3))
def test_each_layer_maps_the_size_as_the_formula_says(size: int, kernel: int, stride: int, padding: int,
                                                      depth: int) -> None:
    expected = size
    for _ in range(depth):
        expected = _out(expected, kernel, stride, padding)
        if expected < 1:
            return
    net = ConvNet(in_features=1, num_cells=[2] * depth, kernel_sizes=kernel, strides=stride, paddings=padding,
                  aggregator_class=None, device="meta")
    assert net(torch.empty(3, 1, size, size, device="meta")).shape == (3, 2, expected, expected)


# --- aggregator, squeeze, activations ----------------------------------------------------------------
def test_no_aggregator_keeps_the_image() -> None:
    net = ConvNet(in_features=3, num_cells=[8], aggregator_class=None)
    assert [type(m) for m in net] == [nn.Conv2d, nn.ELU]
    assert net(torch.zeros(2, 4, 3, 10, 10)).shape == (2, 4, 8, 8, 8)


def test_pooling_aggregator_with_squeeze_output() -> None:
    net = ConvNet(in_features=3, num_cells=[8, 16], aggregator_class=nn.AdaptiveAvgPool2d,
                  aggregator_kwargs={"output_size": (1, 1)}, squeeze_output=True)
    assert isinstance(net[-1], Squeeze2dLayer) and isinstance(net[-2], nn.AdaptiveAvgPool2d)
    assert net(torch.zeros(2, 5, 3, 12, 12)).shape == (2, 5, 16)
    net3 = Conv3dNet(in_features=1, num_cells=[4], aggregator_class=nn.AdaptiveAvgPool3d,
                     aggregator_kwargs={"output_size": 1}, squeeze_output=True)
    assert net3[-1].dims == (-3, -2, -1) and net3(torch.zeros(2, 1, 5, 5, 5)).shape == (2, 4)


def test_squeeze_output_after_squashdims_fails_as_in_torchrl() -> None:
    net = ConvNet(in_features=3, num_cells=[4], squeeze_output=True)
    with pytest.raises(RuntimeError, match="squeeze"):
        net(torch.zeros(2, 3, 8, 8))


def test_default_aggregator_kwargs_do_not_fit_another_class() -> None:
    with pytest.raises(TypeError, match="aggregator_kwargs"):
        ConvNet(in_features=3, num_cells=[4], aggregator_class=nn.AdaptiveAvgPool2d)


def test_activation_kwargs_one_per_layer() -> None:
    net = ConvNet(in_features=1, num_cells=[2, 2], activation_class=nn.LeakyReLU,
                  activation_kwargs=[{"negative_slope": 0.1}, {"negative_slope": 0.2}])
    assert [net[1].negative_slope, net[3].negative_slope] == [0.1, 0.2]
    with pytest.raises(ValueError, match="activation_kwargs has 1 entries but the network has 2 layers"):
        ConvNet(in_features=1, num_cells=[2, 2], activation_kwargs=[{}])


def test_a_plain_function_as_activation_becomes_a_layer() -> None:
    net = ConvNet(in_features=1, num_cells=[2], activation_class=lambda: torch.relu)
    assert isinstance(net[1], nn.Module) and net(-torch.ones(1, 1, 4, 4)).min() >= 0


def test_bias_last_layer_false_is_ignored_with_a_warning() -> None:
    with pytest.warns(UserWarning, match="ignored"):
        net = ConvNet(in_features=1, num_cells=[2, 2], bias_last_layer=False)
    assert net[2].bias is not None  # as torchrl 0.14: every conv keeps its bias
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConvNet(in_features=1, num_cells=[2, 2])


def test_created_on_the_device() -> None:
    net = ConvNet(in_features=4, device="meta", **ATARI)
    assert all(p.is_meta for p in net.parameters())
    assert net(torch.empty(256, 4, 84, 84, device="meta")).shape == (256, 3136)


def test_default_atari_dqn() -> None:
    net = ConvNet.default_atari_dqn(6)
    assert isinstance(net[0], ConvNet) and isinstance(net[1], MLP)
    assert isinstance(net[0][1], nn.ReLU) and net[0].num_cells == [32, 64, 64]
    assert net(torch.zeros(2, 4, 84, 84)).shape == (2, 6)
    assert "1.2.weight" in net.state_dict() and "0.4.bias" in net.state_dict()


# --- the small layers --------------------------------------------------------------------------------
def test_squashdims_flattens_the_last_dims() -> None:
    assert SquashDims()(torch.zeros(2, 3, 4, 5, 6)).shape == (2, 3, 120)
    assert SquashDims(2)(torch.zeros(2, 3, 4)).shape == (2, 12)
    with pytest.raises(ValueError, match="ndims_in"):
        SquashDims(0)


def test_squeeze_layers() -> None:
    assert SqueezeLayer()(torch.zeros(2, 3, 1)).shape == (2, 3)
    assert SqueezeLayer((-3, -1))(torch.zeros(2, 1, 3, 1)).shape == (2, 3)
    assert Squeeze2dLayer()(torch.zeros(4, 3, 1, 1)).shape == (4, 3) and Squeeze2dLayer().dims == (-2, -1)
    with pytest.raises(RuntimeError, match="Tried to squeeze"):
        Squeeze2dLayer()(torch.zeros(4, 3, 2, 1))
    with pytest.raises(RuntimeError, match="Tried to squeeze"):
        SqueezeLayer((-3,))(torch.zeros(1, 1))
    with pytest.raises(RuntimeError, match="< 0"):
        SqueezeLayer((1,))
    with pytest.raises(TypeError, match="sequence of negative ints"):
        SqueezeLayer(-1)


# --- bad arguments -----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    ({"depth": 0}, ValueError, "Null depth"),
    ({"depth": -1}, ValueError, "depth"),
    ({"num_cells": 32}, ValueError, "depth=None requires"),
    ({"num_cells": [8, 8], "kernel_sizes": [3, 3, 3]}, RuntimeError, "disagree"),
    ({"depth": 2, "num_cells": [8, 8, 8]}, RuntimeError, "length conflict"),
    ({"num_cells": [8, 0]}, ValueError, "positive"),
    ({"num_cells": [8], "kernel_sizes": [0]}, ValueError, "kernel_sizes"),
    ({"num_cells": [8], "strides": [(1, 2, 3)]}, ValueError, "strides"),
    ({"num_cells": [8], "paddings": -1}, ValueError, "paddings"),
    ({"num_cells": [8], "paddings": "same"}, TypeError, "paddings"),
    ({"in_features": 0}, ValueError, "in_features"),
    ({"activation_class": 3}, TypeError, "activation_class"),
    ({"squeeze_output": 1}, TypeError, "squeeze_output"),
    ({"aggregator_kwargs": [1]}, TypeError, "aggregator_kwargs"),
])
def test_bad_arguments_raise(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        ConvNet(**kwargs)


def test_length_conflicts_are_runtime_errors_as_in_torchrl() -> None:
    with pytest.raises(RuntimeError):
        ConvNet(depth=3, kernel_sizes=[3, 3])
    with pytest.raises(ValueError):  # Conv3dNet raises ValueError in torchrl; rldsl's error is both
        Conv3dNet(depth=3, kernel_sizes=[3, 3])


@pytest.mark.parametrize("cls, shape", [(ConvNet, (3, 8)), (Conv3dNet, (3, 8, 8))])
def test_an_input_without_image_dims_is_refused(cls: type, shape: tuple) -> None:
    with pytest.raises(ValueError, match="at least"):
        cls(in_features=3, num_cells=[4])(torch.zeros(shape))

