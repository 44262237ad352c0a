"""MLP: layer structure, torchrl-compatible state_dict layout, shapes and argument errors."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rldsl.modules import MLP
from rldsl.modules.models import LazyMapping, register_lazy_layer
from rldsl.modules.utils import ArgumentError, LazyLayerError

# Layer class names and state_dict (key -> shape; None for a lazy, uninitialised
# parameter) that torchrl 0.14.1's MLP builds for the same arguments. Derived from
# torchrl/modules/models/models.py (layer -> [Dropout] -> [norm] -> activation per hidden
# block, a _SharedBias after the output layer for single_bias_last_layer).
TORCHRL_LAYOUTS = {
    "default": (
        dict(in_features=3, out_features=4),
        ["Linear"],
        {"0.weight": [4, 3], "0.bias": [4]},
    ),
    "depth_only": (
        dict(in_features=3, out_features=4, depth=2),
        ["Linear", "Tanh", "Linear", "Tanh", "Linear"],
        {"0.weight": [32, 3], "0.bias": [32], "2.weight": [32, 32], "2.bias": [32],
         "4.weight": [4, 32], "4.bias": [4]},
    ),
    "cells_list": (
        dict(in_features=3, out_features=4, num_cells=[5, 6]),
        ["Linear", "Tanh", "Linear", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [6, 5], "2.bias": [6],
         "4.weight": [4, 6], "4.bias": [4]},
    ),
    "cells_int_depth": (
        dict(in_features=3, out_features=4, num_cells=7, depth=3),
        ["Linear", "Tanh", "Linear", "Tanh", "Linear", "Tanh", "Linear"],
        {"0.weight": [7, 3], "0.bias": [7], "2.weight": [7, 7], "2.bias": [7],
         "4.weight": [7, 7], "4.bias": [7], "6.weight": [4, 7], "6.bias": [4]},
    ),
    "depth_zero": (
        dict(in_features=3, out_features=4, depth=0),
        ["Linear"],
        {"0.weight": [4, 3], "0.bias": [4]},
    ),
    "tuple_out": (
        dict(in_features=3, out_features=(2, 3), num_cells=[5]),
        ["Linear", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [6, 5], "2.bias": [6]},
    ),
    "layer_norm": (
        dict(in_features=3, out_features=4, num_cells=[5, 5], norm_class=nn.LayerNorm,
             norm_kwargs={"normalized_shape": 5}),
        ["Linear", "LayerNorm", "Tanh", "Linear", "LayerNorm", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "1.weight": [5], "1.bias": [5],
         "3.weight": [5, 5], "3.bias": [5], "4.weight": [5], "4.bias": [5],
         "6.weight": [4, 5], "6.bias": [4]},
    ),
    "batch_norm": (
        dict(in_features=3, out_features=4, num_cells=[5], norm_class=nn.BatchNorm1d,
             norm_kwargs={"num_features": 5}),
        ["Linear", "BatchNorm1d", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "1.weight": [5], "1.bias": [5],
         "1.running_mean": [5], "1.running_var": [5], "1.num_batches_tracked": [],
         "3.weight": [4, 5], "3.bias": [4]},
    ),
    "dropout": (
        dict(in_features=3, out_features=4, num_cells=[5, 6], dropout=0.2),
        ["Linear", "Dropout", "Tanh", "Linear", "Dropout", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "3.weight": [6, 5], "3.bias": [6],
         "6.weight": [4, 6], "6.bias": [4]},
    ),
    "no_bias_last": (
        dict(in_features=3, out_features=4, num_cells=[5], bias_last_layer=False),
        ["Linear", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [4, 5]},
    ),
    "single_bias": (
        dict(in_features=3, out_features=4, num_cells=[5], single_bias_last_layer=True),
        ["Linear", "Tanh", "Linear", "_SharedBias"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [4, 5], "3.bias": [1]},
    ),
    "single_bias_no_bias": (
        dict(in_features=3, out_features=4, num_cells=[5], single_bias_last_layer=True,
             bias_last_layer=False),
        ["Linear", "Tanh", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [4, 5]},
    ),
    "single_bias_depth0": (
        dict(in_features=3, out_features=4, single_bias_last_layer=True),
        ["Linear", "_SharedBias"],
        {"0.weight": [4, 3], "1.bias": [1]},
    ),
    "activate_last": (
        dict(in_features=3, out_features=4, num_cells=[5], activate_last_layer=True),
        ["Linear", "Tanh", "Linear", "Tanh"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [4, 5], "2.bias": [4]},
    ),
    "all_tails": (
        dict(in_features=3, out_features=4, num_cells=[5], dropout=0.1, norm_class=nn.LayerNorm,
             norm_kwargs=[{"normalized_shape": 5}, {"normalized_shape": 4}],
             activate_last_layer=True, single_bias_last_layer=True),
        ["Linear", "Dropout", "LayerNorm", "Tanh", "Linear", "_SharedBias", "Dropout",
         "LayerNorm", "Tanh"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [5], "2.bias": [5],
         "4.weight": [4, 5], "5.bias": [1], "7.weight": [4], "7.bias": [4]},
    ),
    "layer_kwargs_bias": (
        dict(in_features=3, out_features=4, num_cells=[5, 6],
             layer_kwargs=[{"bias": False}, {}, {"bias": False}]),
        ["Linear", "Tanh", "Linear", "Tanh", "Linear"],
        {"0.weight": [5, 3], "2.weight": [6, 5], "2.bias": [6], "4.weight": [4, 6]},
    ),
    "lazy": (
        dict(out_features=4, num_cells=[5]),
        ["LazyLinear", "Tanh", "Linear"],
        {"0.weight": None, "0.bias": None, "2.weight": [4, 5], "2.bias": [4]},
    ),
    "activation_kwargs_list": (
        dict(in_features=3, out_features=4, num_cells=[5, 6], activation_class=nn.LeakyReLU,
             activation_kwargs=[{"negative_slope": 0.1}, {"negative_slope": 0.3}]),
        ["Linear", "LeakyReLU", "Linear", "LeakyReLU", "Linear"],
        {"0.weight": [5, 3], "0.bias": [5], "2.weight": [6, 5], "2.bias": [6],
         "4.weight": [4, 6], "4.bias": [4]},
    ),
}


def _layout(module: nn.Module) -> dict:
    """state_dict keys (in order) with their shapes; None for uninitialised lazy params."""
    out = {}
    for key, value in module.state_dict().items():
        lazy = isinstance(value, nn.parameter.UninitializedParameter)
        out[key] = None if lazy else list(value.shape)
    return out


@pytest.mark.parametrize("name", sorted(TORCHRL_LAYOUTS))
def test_state_dict_layout_matches_torchrl(name):
    kwargs, layer_names, expected = TORCHRL_LAYOUTS[name]
    mlp = MLP(**kwargs)
    assert [type(layer).__name__ for layer in mlp] == layer_names
    assert list(_layout(mlp)) == list(expected)  # same keys, same order
    assert _layout(mlp) == expected


@pytest.mark.parametrize("name", sorted(n for n in TORCHRL_LAYOUTS if n != "lazy"))
def test_torchrl_shaped_checkpoint_loads(name):
    kwargs, _, expected = TORCHRL_LAYOUTS[name]
    checkpoint = {k: torch.randn(shape) if shape else torch.tensor(3) for k, shape in expected.items()}
    mlp = MLP(**kwargs)
    mlp.load_state_dict(checkpoint, strict=True)
    for key, value in mlp.state_dict().items():
        assert torch.equal(value, checkpoint[key])


def test_lazy_checkpoint_loads_after_materialisation():
    mlp = MLP(out_features=4, num_cells=[5])
    mlp(torch.zeros(2, 3))
    assert _layout(mlp)["0.weight"] == [5, 3]
    fresh = MLP(out_features=4, num_cells=[5])
    fresh.load_state_dict(mlp.state_dict())
    x = torch.randn(7, 3)
    assert torch.equal(fresh(x), mlp(x))


def test_default_is_a_single_layer():
    mlp = MLP(in_features=3, out_features=2)
    assert len(mlp) == 1 and mlp.depth == 0 and mlp.num_cells == []


def test_depth_alone_gives_32_cells():
    mlp = MLP(in_features=3, out_features=2, depth=2)
    assert mlp.num_cells == [32, 32]
    assert [m.out_features for m in mlp if isinstance(m, nn.Linear)] == [32, 32, 2]


def test_attributes_mirror_arguments():
    mlp = MLP(3, (2, 5), 2, 8, nn.ReLU, None, None, None, 0.5, False, False, nn.Linear, None, True)
    assert mlp.in_features == 3 and mlp.out_features == (2, 5) and mlp._out_features_num == 10
    assert mlp.depth == 2 and mlp.num_cells == [8, 8] and mlp.dropout == 0.5
    assert mlp.activation_class is nn.ReLU and mlp.activate_last_layer is True
    assert mlp.bias_last_layer is False


@pytest.mark.parametrize("out_features, expected", [(4, (6, 4)), ((2, 3), (6, 2, 3)), (torch.Size([4, 1]), (6, 4, 1)), ([5], (6, 5))])
def test_output_shapes(out_features, expected):
    mlp = MLP(in_features=3, out_features=out_features, num_cells=[8])
    assert mlp(torch.randn(6, 3)).shape == expected


def test_batch_dims_are_kept():
    mlp = MLP(in_features=3, out_features=(2, 2), depth=1)
    assert mlp(torch.randn(4, 5, 3)).shape == (4, 5, 2, 2)


def test_inputs_are_concatenated_on_the_last_dim():
    torch.manual_seed(0)
    mlp = MLP(in_features=5, out_features=2, num_cells=[4])
    a, b, c = torch.randn(3, 2), torch.randn(3, 1), torch.randn(3, 2)
    assert torch.equal(mlp(a, b, c), mlp(torch.cat([a, b, c], -1)))


def test_no_input_raises():
    with pytest.raises(TypeError, match="at least one input"):
        MLP(in_features=3, out_features=2)()


def test_lazy_first_layer_infers_in_features():
    mlp = MLP(out_features=2, num_cells=[4])
    assert isinstance(mlp[0], nn.LazyLinear)
    assert mlp(torch.randn(3, 7)).shape == (3, 2)
    assert mlp[0].in_features == 7


def test_layer_order_with_dropout_and_norm():
    mlp = MLP(in_features=3, out_features=2, num_cells=[4], dropout=0.5, norm_class=nn.LayerNorm,
              norm_kwargs={"normalized_shape": 4}, activation_class=nn.ReLU)
    assert [type(m) for m in mlp] == [nn.Linear, nn.Dropout, nn.LayerNorm, nn.ReLU, nn.Linear]
    assert mlp[1].p == 0.5


def test_kwargs_dict_is_copied_per_layer():
    kwargs = {"negative_slope": 0.2}
    mlp = MLP(in_features=3, out_features=2, num_cells=[4, 4], activation_class=nn.LeakyReLU,
              activation_kwargs=kwargs)
    assert [m.negative_slope for m in mlp if isinstance(m, nn.LeakyReLU)] == [0.2, 0.2]
    assert kwargs == {"negative_slope": 0.2}


def test_layer_kwargs_bias_is_not_consumed_from_the_callers_dict():
    kwargs = [{"bias": False}, {}]
    MLP(in_features=3, out_features=2, num_cells=[4], layer_kwargs=kwargs)
    assert kwargs == [{"bias": False}, {}]


def test_single_bias_is_zero_initialised_and_shared():
    mlp = MLP(in_features=3, out_features=4, single_bias_last_layer=True)
    assert torch.equal(mlp[1].bias, torch.zeros(1))
    with torch.no_grad():
        mlp[1].bias.fill_(2.0)
    x = torch.randn(5, 3)
    assert torch.allclose(mlp(x), x @ mlp[0].weight.T + 2.0)


def test_single_bias_rejects_noisy_layers():
    class FakeNoisyLinear(nn.Linear):
        def reset_noise(self):
            pass

    with pytest.raises(ValueError, match="single_bias_last_layer=True is incompatible with NoisyLinear"):
        MLP(in_features=3, out_features=2, layer_class=FakeNoisyLinear, single_bias_last_layer=True)


def test_function_factories_are_wrapped():
    mlp = MLP(in_features=3, out_features=2, num_cells=[4], activation_class=lambda: torch.relu)
    assert type(mlp[1]).__name__ == "_ExecutableLayer"
    assert (mlp[:2](torch.randn(6, 3)) >= 0).all()


def test_device_meta_builds_without_memory():
    mlp = MLP(in_features=3, out_features=(2, 2), num_cells=[4], device="meta",
              norm_class=nn.LayerNorm, norm_kwargs={"normalized_shape": 4})
    assert all(p.is_meta for p in mlp.parameters())
    assert mlp(torch.empty(5, 3, device="meta")).shape == (5, 2, 2)


def test_device_meta_lazy_and_single_bias():
    mlp = MLP(out_features=2, single_bias_last_layer=True, device="meta")
    assert mlp[1].bias.is_meta


def test_register_lazy_layer():
    class MyLinear(nn.Linear):
        pass

    class MyLazyLinear(nn.LazyLinear):
        pass

    with pytest.raises(LazyLayerError, match="in_features=") as info:
        MLP(out_features=2, layer_class=MyLinear)
    assert isinstance(info.value, KeyError) and isinstance(info.value, ValueError)
    register_lazy_layer(MyLinear, MyLazyLinear)
    try:
        assert isinstance(MLP(out_features=2, layer_class=MyLinear)[0], MyLazyLinear)
    finally:
        del LazyMapping[MyLinear]


def test_forward_is_differentiable():
    mlp = MLP(in_features=3, out_features=2, num_cells=[4])
    mlp(torch.randn(5, 3)).sum().backward()
    assert all(p.grad is not None for p in mlp.parameters())


# ----------------------------------------------------------------------------- errors


def test_out_features_required():
    with pytest.raises(ValueError, match="out_features must be specified for MLP"):
        MLP(in_features=3)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(out_features="4"), TypeError, "out_features must be an int or a sequence"),
        (dict(out_features=0), ValueError, "out_features must be made of positive ints"),
        (dict(out_features=(2, 0)), ValueError, "out_features must be made of positive ints"),
        (dict(out_features=()), ValueError, "out_features must not be empty"),
        (dict(out_features=2.5), TypeError, "out_features must be made of positive ints"),
        (dict(out_features=2, in_features=0), ValueError, "in_features"),
        (dict(out_features=2, depth=-1), ValueError, "depth must be an int >= 0"),
        (dict(out_features=2, num_cells="32"), TypeError, "num_cells must be an int or a sequence"),
        (dict(out_features=2, num_cells=[4, 0]), ValueError, "num_cells must be made of positive"),
        (dict(out_features=2, dropout=1.5), ValueError, "dropout must be a probability"),
        (dict(out_features=2, activation_class="tanh"), TypeError, "activation_class must be a class"),
        (dict(out_features=2, norm_class=3), TypeError, "norm_class must be"),
        (dict(out_features=2, layer_class=None), TypeError, "layer_class must be"),
        (dict(out_features=2, bias_last_layer="yes"), TypeError, "bias_last_layer must be True or False"),
        (dict(out_features=2, num_cells=[4], layer_kwargs=[{}]), ValueError, r"layer_kwargs has 1 entries but the MLP needs 2 \(depth \+ 1\)"),
        (dict(out_features=2, num_cells=[4], activation_kwargs=[{}, {}]), ValueError, "activation_kwargs has 2 entries"),
        (dict(out_features=2, num_cells=[4], norm_kwargs=3), TypeError, "norm_kwargs must be a dict"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MLP(**kwargs)


def test_int_num_cells_needs_depth():
    with pytest.raises(ArgumentError, match="depth must be provided too") as info:
        MLP(out_features=2, num_cells=32)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)


def test_depth_and_num_cells_conflict():
    with pytest.raises(ArgumentError, match="depth and num_cells length conflict"):
        MLP(out_features=2, num_cells=[4, 4], depth=3)
