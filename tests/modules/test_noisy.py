"""Noisy layers: NoisyLinear, NoisyLazyLinear and reset_noise, against torchrl 0.14's documented behaviour.

What is pinned: torchrl's parameter and buffer names (so checkpoints load), its initialisation and
the order of its random draws (a seed gives torchrl's numbers), the factorised noise, when the
noise is used (only under the RANDOM exploration type by default, or in training mode with
``use_exploration_type=False``), that only ``reset_noise`` draws new noise, the lazy variant, and
the layers inside an MLP.
"""

from __future__ import annotations

import doctest
import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

import rldsl.modules.noisy as noisy_module
from rldsl.modules import (
    MLP,
    ExplorationType,
    NoisyLazyLinear,
    NoisyLinear,
    reset_noise,
    set_exploration_type,
)

RANDOM = ExplorationType.RANDOM
NOT_RANDOM = [ExplorationType.DETERMINISTIC, ExplorationType.MODE, ExplorationType.MEAN, ExplorationType.MEDIAN]


def scaled(x: torch.Tensor) -> torch.Tensor:
    """The paper's noise transform, ``sign(x) * sqrt(|x|)``."""
    return x.sign() * x.abs().sqrt()


def mean_output(layer: NoisyLinear, x: torch.Tensor) -> torch.Tensor:
    return F.linear(x, layer.weight_mu, layer.bias_mu)


def noisy_output(layer: NoisyLinear, x: torch.Tensor) -> torch.Tensor:
    bias = None if layer.bias_mu is None else layer.bias_mu + layer.bias_sigma * layer.bias_epsilon
    return F.linear(x, layer.weight_mu + layer.weight_sigma * layer.weight_epsilon, bias)


def noise_buffers(module: nn.Module) -> dict[str, torch.Tensor]:
    return {name: b.clone() for name, b in module.named_buffers() if name.endswith("epsilon")}


# --- structure: names, shapes, initialisation ---------------------------------------------------------


def test_state_dict_names_and_shapes_are_torchrl_s() -> None:
    layer = NoisyLinear(3, 5)
    assert {k: list(v.shape) for k, v in layer.state_dict().items()} == {
        "weight_mu": [5, 3], "weight_sigma": [5, 3], "bias_mu": [5], "bias_sigma": [5],
        "weight_epsilon": [5, 3], "bias_epsilon": [5]}
    assert [name for name, _ in layer.named_parameters()] == ["weight_mu", "weight_sigma", "bias_mu", "bias_sigma"]
    assert [name for name, _ in layer.named_buffers()] == ["weight_epsilon", "bias_epsilon"]
    assert isinstance(layer, nn.Linear)  # as torchrl's, which subclasses nn.Linear
    assert (layer.in_features, layer.out_features, layer.std_init, layer.use_exploration_type) == (3, 5, 0.5, True)


def test_without_bias_there_are_no_bias_entries() -> None:
    layer = NoisyLinear(3, 5, bias=False)
    assert list(layer.state_dict()) == ["weight_mu", "weight_sigma", "weight_epsilon"]
    assert layer.bias is None and layer.bias_mu is None
    x = torch.randn(2, 3)
    with set_exploration_type(RANDOM):
        torch.testing.assert_close(layer(x), noisy_output(layer, x))
    assert "bias=False" in repr(layer)


@pytest.mark.parametrize("fan_in, fan_out, std_init", [(3, 5, 0.5), (64, 7, 0.1), (1, 1, 2.0)])
def test_initialisation_ranges(fan_in: int, fan_out: int, std_init: float) -> None:
    layer = NoisyLinear(fan_in, fan_out, std_init=std_init)
    bound = 1 / math.sqrt(fan_in)
    assert layer.weight_mu.abs().max() <= bound and layer.bias_mu.abs().max() <= bound
    torch.testing.assert_close(layer.weight_sigma, torch.full((fan_out, fan_in), std_init / math.sqrt(fan_in)))
    torch.testing.assert_close(layer.bias_sigma, torch.full((fan_out,), std_init / math.sqrt(fan_out)))


def test_a_seed_draws_torchrl_s_numbers_in_torchrl_s_order() -> None:
    # torchrl: weight_mu, then bias_mu (uniform), then the input noise, then the output noise.
    torch.manual_seed(7)
    layer = NoisyLinear(3, 4)
    torch.manual_seed(7)
    bound = 1 / math.sqrt(3)
    weight_mu = torch.empty(4, 3).uniform_(-bound, bound)
    bias_mu = torch.empty(4).uniform_(-bound, bound)
    eps_in, eps_out = scaled(torch.randn(3)), scaled(torch.randn(4))
    assert torch.equal(layer.weight_mu, weight_mu) and torch.equal(layer.bias_mu, bias_mu)
    torch.testing.assert_close(layer.weight_epsilon, torch.outer(eps_out, eps_in))
    torch.testing.assert_close(layer.bias_epsilon, eps_out)


def test_noise_is_factorised() -> None:
    layer = NoisyLinear(6, 4)
    eps = layer.weight_epsilon
    assert torch.linalg.matrix_rank(eps) == 1
    # each row is the output noise times the same input noise: eps[i, j] = bias_eps[i] * f(e_in)[j]
    eps_in = eps[0] / layer.bias_epsilon[0]
    torch.testing.assert_close(eps, torch.outer(layer.bias_epsilon, eps_in))


def test_a_torchrl_state_dict_loads() -> None:
    source, target = NoisyLinear(3, 4), NoisyLinear(3, 4)
    target.load_state_dict(source.state_dict())  # strict: the same names and shapes
    x = torch.randn(5, 3)
    with set_exploration_type(RANDOM):
        assert torch.equal(source(x), target(x))


@given(fan_in=st.integers(1, 9), fan_out=st.integers(1, 9), batch=st.lists(st.integers(1, 3), max_size=3))
@settings(max_examples=25, deadline=None)
def test_forward_shapes_and_formula(fan_in: int, fan_out: int, batch: list[int]) -> None:
    layer = NoisyLinear(fan_in, fan_out)
    x = torch.randn(*batch, fan_in)
    assert layer(x).shape == (*batch, fan_out)
    torch.testing.assert_close(layer(x), mean_output(layer, x))
    with set_exploration_type(RANDOM):
        torch.testing.assert_close(layer(x), noisy_output(layer, x))


# --- when the noise is used ----------------------------------------------------------------------------


def test_no_noise_outside_an_exploration_context() -> None:
    layer = NoisyLinear(4, 3)
    x = torch.randn(8, 4)
    assert torch.equal(layer(x), mean_output(layer, x))
    assert layer.weight is layer.weight_mu and layer.bias is layer.bias_mu
    assert not layer.noise_active


@pytest.mark.parametrize("kind", NOT_RANDOM, ids=str)
def test_no_noise_under_a_deterministic_exploration_type(kind: ExplorationType) -> None:
    layer = NoisyLinear(4, 3)
    x = torch.randn(8, 4)
    with set_exploration_type(kind):
        assert torch.equal(layer(x), mean_output(layer, x))


def test_noise_under_random() -> None:
    layer = NoisyLinear(4, 3)
    x = torch.randn(8, 4)
    with set_exploration_type("random"):  # the name works as the member does
        assert layer.noise_active
        out = layer(x)
        torch.testing.assert_close(layer.weight, layer.weight_mu + layer.weight_sigma * layer.weight_epsilon)
    torch.testing.assert_close(out, noisy_output(layer, x))
    assert not torch.allclose(out, mean_output(layer, x))


def test_training_mode_does_not_matter_with_exploration_types() -> None:
    layer = NoisyLinear(4, 3)
    x = torch.randn(8, 4)
    layer.eval()
    with set_exploration_type(RANDOM):
        torch.testing.assert_close(layer(x), noisy_output(layer, x))
    layer.train()
    assert torch.equal(layer(x), mean_output(layer, x))


def test_use_exploration_type_false_follows_training_mode() -> None:
    layer = NoisyLinear(4, 3, use_exploration_type=False)
    x = torch.randn(8, 4)
    layer.train()
    torch.testing.assert_close(layer(x), noisy_output(layer, x))  # no context needed
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        torch.testing.assert_close(layer(x), noisy_output(layer, x))
    layer.eval()
    with set_exploration_type(RANDOM):
        assert torch.equal(layer(x), mean_output(layer, x))


def test_use_exploration_type_none_means_true() -> None:
    layer = NoisyLinear(4, 3, use_exploration_type=None)
    assert layer.use_exploration_type is True
    x = torch.randn(2, 4)
    assert torch.equal(layer.train()(x), mean_output(layer, x))


# --- when the noise is drawn ---------------------------------------------------------------------------


def test_forward_and_training_steps_never_redraw_the_noise() -> None:
    layer = NoisyLinear(4, 3)
    before = noise_buffers(layer)
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    x = torch.randn(8, 4)
    with set_exploration_type(RANDOM):
        first = layer(x)
        for _ in range(3):
            assert torch.equal(layer(x), first)
        layer(x).square().sum().backward()
        optimizer.step()
    after = noise_buffers(layer)
    assert all(torch.equal(before[name], after[name]) for name in before)


def test_reset_noise_redraws_the_noise() -> None:
    layer = NoisyLinear(4, 3)
    before = noise_buffers(layer)
    x = torch.randn(8, 4)
    with set_exploration_type(RANDOM):
        first = layer(x)
        layer.reset_noise()
        second = layer(x)
    assert not torch.allclose(first, second)
    assert all(not torch.equal(before[name], buffer) for name, buffer in noise_buffers(layer).items())
    reset_noise(layer)  # the function calls the method
    assert not torch.equal(noise_buffers(layer)["weight_epsilon"], before["weight_epsilon"])


def test_reset_noise_is_a_no_op_for_other_modules_and_fits_apply() -> None:
    linear = nn.Linear(3, 3)
    state = {k: v.clone() for k, v in linear.state_dict().items()}
    reset_noise(linear)
    assert all(torch.equal(state[k], v) for k, v in linear.state_dict().items())
    net = nn.Sequential(NoisyLinear(4, 5), nn.Tanh(), nn.Sequential(NoisyLinear(5, 2)))
    before = noise_buffers(net)
    assert net.apply(reset_noise) is net
    after = noise_buffers(net)
    assert set(before) == {"0.weight_epsilon", "0.bias_epsilon", "2.0.weight_epsilon", "2.0.bias_epsilon"}
    assert all(not torch.equal(before[name], after[name]) for name in before)


def test_reset_noise_is_seeded() -> None:
    layer = NoisyLinear(4, 3)
    torch.manual_seed(3)
    layer.reset_noise()
    first = noise_buffers(layer)
    torch.manual_seed(3)
    layer.reset_noise()
    assert all(torch.equal(first[name], buffer) for name, buffer in noise_buffers(layer).items())


# --- gradients, dtypes, devices ---------------------------------------------------------------------


def test_gradients_reach_mu_and_sigma_under_random() -> None:
    layer = NoisyLinear(4, 3)
    x = torch.randn(8, 4)
    with set_exploration_type(RANDOM):
        layer(x).sum().backward()
    grad_weight = torch.ones(8, 3).T @ x  # d(sum)/dW
    torch.testing.assert_close(layer.weight_mu.grad, grad_weight)
    torch.testing.assert_close(layer.weight_sigma.grad, grad_weight * layer.weight_epsilon)
    torch.testing.assert_close(layer.bias_sigma.grad, 8 * layer.bias_epsilon)
    assert layer.weight_epsilon.grad is None and not layer.weight_epsilon.requires_grad


def test_without_noise_sigma_gets_no_gradient() -> None:
    layer = NoisyLinear(4, 3)
    layer(torch.randn(8, 4)).sum().backward()
    assert layer.weight_mu.grad is not None and layer.weight_sigma.grad is None and layer.bias_sigma.grad is None


def test_dtype_and_meta_device() -> None:
    layer = NoisyLinear(4, 3, dtype=torch.float64)
    assert {t.dtype for t in layer.state_dict().values()} == {torch.float64}
    with set_exploration_type(RANDOM):
        assert layer(torch.randn(2, 4, dtype=torch.float64)).dtype == torch.float64
    meta = NoisyLinear(4, 3, device="meta")
    assert {t.device.type for t in meta.state_dict().values()} == {"meta"}
    with set_exploration_type(RANDOM):
        assert meta(torch.empty(2, 4, device="meta")).shape == (2, 3)
    moved = NoisyLinear(4, 3).double()
    assert moved.weight_epsilon.dtype == torch.float64
    moved.reset_noise()  # drawn in the default dtype, copied into the f64 buffers
    assert moved.weight_epsilon.dtype == torch.float64


def test_bad_arguments_are_clear_errors() -> None:
    with pytest.raises(ValueError, match="in_features must be an int >= 1"):
        NoisyLinear(0, 3)
    with pytest.raises(ValueError, match="out_features must be an int >= 1"):
        NoisyLinear(3, -2)
    with pytest.raises(ValueError, match="in_features"):
        NoisyLinear(2.5, 3)
    with pytest.raises(TypeError, match="std_init must be a finite number"):
        NoisyLinear(3, 3, std_init="big")
    with pytest.raises(ValueError, match="std_init must be a finite number"):
        NoisyLinear(3, 3, std_init=math.nan)
    with pytest.raises(ValueError, match="out_features must be an int >= 1"):
        NoisyLazyLinear(0)


# --- the lazy layer ------------------------------------------------------------------------------------


def test_lazy_layer_materialises_on_its_first_call() -> None:
    layer = NoisyLazyLinear(4)
    assert layer.has_uninitialized_params() and layer.in_features == 0
    assert layer.weight is None and layer.bias is None
    layer.reset_noise()  # a no-op before the first call
    x = torch.randn(5, 6)
    out = layer(x)
    assert type(layer) is NoisyLinear and layer.in_features == 6 and out.shape == (5, 4)
    assert {k: list(v.shape) for k, v in layer.state_dict().items()} == {
        "weight_mu": [4, 6], "weight_sigma": [4, 6], "bias_mu": [4], "bias_sigma": [4],
        "weight_epsilon": [4, 6], "bias_epsilon": [4]}
    assert layer.weight_mu.abs().max() <= 1 / math.sqrt(6)
    torch.testing.assert_close(layer.weight_sigma, torch.full((4, 6), 0.5 / math.sqrt(6)))
    torch.testing.assert_close(layer.bias_sigma, torch.full((4,), 0.5 / 2))
    assert torch.linalg.matrix_rank(layer.weight_epsilon) == 1
    torch.testing.assert_close(out, mean_output(layer, x))  # no context: the mean weights


def test_lazy_layer_keeps_its_arguments() -> None:
    layer = NoisyLazyLinear(3, bias=False, dtype=torch.float64, std_init=0.2, use_exploration_type=False)
    layer.train()
    x = torch.randn(2, 5, dtype=torch.float64)
    out = layer(x)
    assert type(layer) is NoisyLinear and layer.bias_mu is None and layer.weight_mu.dtype == torch.float64
    torch.testing.assert_close(layer.weight_sigma, torch.full((3, 5), 0.2 / math.sqrt(5), dtype=torch.float64))
    torch.testing.assert_close(out, noisy_output(layer, x))  # training mode decides


def test_lazy_layer_loads_a_state_dict_before_its_first_call() -> None:
    source = NoisyLinear(6, 4)
    layer = NoisyLazyLinear(4)
    layer.load_state_dict(source.state_dict())
    x = torch.randn(3, 6)
    with set_exploration_type(RANDOM):
        torch.testing.assert_close(layer(x), source(x))


# --- inside an MLP ---------------------------------------------------------------------------------------


def test_mlp_with_noisy_layers_has_torchrl_s_layout() -> None:
    mlp = MLP(in_features=3, out_features=2, num_cells=[8], layer_class=NoisyLinear)
    assert [type(m).__name__ for m in mlp] == ["NoisyLinear", "Tanh", "NoisyLinear"]
    assert list(mlp.state_dict()) == [f"{i}.{name}" for i in (0, 2) for name in (
        "weight_mu", "weight_sigma", "bias_mu", "bias_sigma", "weight_epsilon", "bias_epsilon")]
    assert mlp[2].bias_mu is not None
    assert MLP(in_features=3, out_features=2, layer_class=NoisyLinear, bias_last_layer=False)[0].bias_mu is None


def test_mlp_without_in_features_starts_with_a_noisy_lazy_layer() -> None:
    mlp = MLP(out_features=2, num_cells=[8, 8], layer_class=NoisyLinear)
    assert [type(m).__name__ for m in mlp][::2] == ["NoisyLazyLinear", "NoisyLinear", "NoisyLinear"]
    x = torch.randn(5, 3)
    assert mlp(x).shape == (5, 2)
    assert type(mlp[0]) is NoisyLinear and mlp[0].in_features == 3


def test_mlp_noise_follows_the_exploration_type_and_reset_noise() -> None:
    mlp = MLP(in_features=3, out_features=2, num_cells=[8], layer_class=NoisyLinear)
    x = torch.randn(5, 3)
    mean = F.linear(torch.tanh(mean_output(mlp[0], x)), mlp[2].weight_mu, mlp[2].bias_mu)
    torch.testing.assert_close(mlp(x), mean)
    with set_exploration_type(RANDOM):
        first = mlp(x)
        torch.testing.assert_close(first, noisy_output(mlp[2], torch.tanh(noisy_output(mlp[0], x))))
        assert torch.equal(mlp(x), first)
        mlp.apply(reset_noise)
        assert not torch.allclose(mlp(x), first)


@pytest.mark.parametrize("in_features", [3, None])
def test_mlp_refuses_a_single_shared_bias_with_noisy_layers(in_features: int | None) -> None:
    with pytest.raises(ValueError, match="single_bias_last_layer=True is incompatible with NoisyLinear"):
        MLP(in_features=in_features, out_features=2, layer_class=NoisyLinear, single_bias_last_layer=True)
    with pytest.raises(ValueError, match="incompatible with NoisyLinear"):
        MLP(in_features=3, out_features=2, num_cells=[4], layer_class=NoisyLinear, single_bias_last_layer=True)


def test_gradients_flow_through_a_noisy_mlp() -> None:
    mlp = MLP(in_features=3, out_features=2, num_cells=[8], layer_class=NoisyLinear)
    with set_exploration_type(RANDOM):
        mlp(torch.randn(5, 3)).sum().backward()
    grads = {name: p.grad for name, p in mlp.named_parameters()}
    assert set(grads) == {f"{i}.{n}" for i in (0, 2) for n in ("weight_mu", "weight_sigma", "bias_mu", "bias_sigma")}
    assert all(g is not None and g.abs().sum() > 0 for g in grads.values())


def test_module_doctest() -> None:
    result = doctest.testmod(noisy_module, verbose=False)
    assert result.failed == 0 and result.attempted > 0
