"""Pins every deliberate difference from torchrl 0.14.1 listed in docs/differences_from_torchrl.md.

Each test names the section of that document it pins; the torchrl value is quoted in a
comment (observed with torchrl 0.14.1) so that the difference is explicit.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import distributions as D, nn

from rldsl.modules import (
    MLP,
    Delta,
    IndependentNormal,
    MaskedCategorical,
    MaskedOneHotCategorical,
    NormalParamWrapper,
    OneHotCategorical,
    TanhDelta,
    TanhNormal,
    TruncatedNormal,
)

# ----------------------------------------------------------------------------- Distributions


def test_one_hot_mode_ties_give_a_single_one_hot():
    # torchrl: (logits == max) -> [1, 1, 0] (multi-hot, not a valid action)
    assert OneHotCategorical(logits=torch.tensor([2.0, 2.0, 0.0])).mode.tolist() == [1, 0, 0]
    masked = MaskedOneHotCategorical(logits=torch.zeros(3), mask=torch.tensor([False, True, True]))
    assert masked.mode.tolist() == [0, 1, 0]  # torchrl: [0, 1, 1]


def test_one_hot_rsample_values_are_exact():
    # torchrl: sample + probs - probs.detach() can be 1 ulp away from 0/1
    torch.manual_seed(0)
    sample = OneHotCategorical(logits=torch.randn(1000, 7)).rsample()
    assert set(sample.unique().tolist()) == {0.0, 1.0}


def test_one_hot_support_is_one_hot():
    # torchrl: Categorical's integer support and index-valued enumerate_support
    dist = OneHotCategorical(logits=torch.zeros(3))
    assert dist.support is D.constraints.one_hot
    assert dist.enumerate_support().tolist() == [[1, 0, 0], [0, 1, 0], [0, 0, 1]]


def test_grad_method_is_checked_at_construction():
    # torchrl: accepted, then AttributeError ('reparam_strategy') at rsample()
    with pytest.raises(ValueError, match="grad_method"):
        OneHotCategorical(logits=torch.zeros(3), grad_method="x")


def test_tanh_delta_has_no_pre_tanh_shift():
    # torchrl: low=0, high=2, param=0 -> 1 + tanh(0 + 1) = 1.7616
    assert TanhDelta(torch.zeros(2), low=0.0, high=2.0).mode.tolist() == [1.0, 1.0]


def test_tanh_delta_mean_is_its_point():
    # torchrl: AttributeError("TanhDelta mean has not analytical form.")
    dist = TanhDelta(torch.tensor([0.5, -0.5]), low=-2.0, high=2.0)
    assert torch.equal(dist.mean, dist.mode)


def test_tanh_delta_log_prob_is_judged_in_action_space():
    # torchrl: the saturated mode maps back to atanh(1 - 1e-6) != 50 -> log_prob(mode) = -inf
    dist = TanhDelta(torch.tensor([50.0, 0.3]))
    assert dist.log_prob(dist.mode).item() == math.inf


def test_tanh_delta_event_dims_zero_means_no_event():
    # torchrl: event_dims=0 makes the whole shape the event (param.shape[-0:])
    dist = TanhDelta(torch.zeros(2, 3), event_dims=0)
    assert dist.batch_shape == (2, 3) and dist.event_shape == ()


def test_tanh_normal_tanh_loc_has_no_shift_with_bounds():
    # torchrl: low=0, high=2, tanh_loc=True, loc=0 -> deterministic_sample 1 + tanh(1) = 1.7616
    dist = TanhNormal(torch.zeros(2), torch.ones(2), low=0.0, high=2.0, tanh_loc=True)
    assert dist.deterministic_sample.tolist() == [1.0, 1.0]
    loc = torch.tensor([3.0])
    dist = TanhNormal(loc, 1.0, low=0.0, high=2.0, tanh_loc=True, upscale=2.0)
    assert torch.allclose(dist.deterministic_sample, 1.0 + torch.tanh(2.0 * torch.tanh(loc / 2.0)))


def test_tanh_normal_mean_mode_entropy_choices():
    # same as torchrl: no analytic mean (NotImplementedError, so tensordict falls back to a
    # Monte-Carlo MEAN), no mode (RuntimeError), and no entropy defined at all.
    dist = TanhNormal(torch.zeros(2), 1.0)
    with pytest.raises(NotImplementedError):
        dist.mean
    with pytest.raises(RuntimeError):
        dist.mode
    assert type(dist).entropy is D.Distribution.entropy


def test_tanh_normal_support_is_the_box():
    # torchrl: TypeError ('_Real' object is not callable)
    dist = TanhNormal(torch.zeros(2), 1.0, low=-2.0, high=3.0)
    assert dist.support.check(torch.tensor([-2.0, 3.0])) and not dist.support.check(torch.tensor([-2.5, 0.0]))


def test_tanh_normal_get_mode_is_deterministic():
    # torchrl: an Adam search from a 1000-sample start (stochastic)
    dist = TanhNormal(torch.tensor([0.4, -0.2]), torch.tensor([0.3, 1.2]))
    torch.manual_seed(0)
    first = dist.get_mode()
    torch.manual_seed(1)
    assert torch.equal(first, dist.get_mode())


def test_independent_normal_tanh_loc_applies_at_construction():
    # torchrl: only update() applies it -> mean stays 100
    dist = IndependentNormal(torch.full((2,), 100.0), 1.0, upscale=2.0, tanh_loc=True)
    assert torch.allclose(dist.mean, torch.full((2,), 2.0))


def test_truncated_normal_far_from_the_box():
    # scipy: mean 1.774393, logpdf(1.9) 1.036163; torchrl: 1.6378 and 1.0680 (clamped CDFs)
    dist = TruncatedNormal(torch.tensor([6.0]), torch.tensor([1.0]), low=-1.0, high=2.0)
    assert dist.mean.item() == pytest.approx(1.774392973179908, rel=1e-5)
    assert dist.log_prob(torch.tensor([1.9])).item() == pytest.approx(1.0361629937319154, rel=1e-5)


def test_truncated_normal_mode_and_bounds_are_exact():
    # torchrl: mode and log_prob use [low + 1e-6, high - 1e-6]
    dist = TruncatedNormal(torch.tensor([5.0]), torch.tensor([1.0]), low=-1.0, high=2.0)
    assert dist.mode.item() == 2.0
    expected = D.Normal(5.0, 1.0).log_prob(torch.tensor(2.0)) - math.log(
        D.Normal(5.0, 1.0).cdf(torch.tensor(2.0)) - D.Normal(5.0, 1.0).cdf(torch.tensor(-1.0))
    )
    assert dist.log_prob(torch.tensor([2.0])).item() == pytest.approx(expected.item(), rel=1e-5)


def test_truncated_normal_bound_error_names_the_class():
    # torchrl: "TanhNormal high values must be ..." from TruncatedNormal
    with pytest.raises(ValueError, match="^TruncatedNormal high values"):
        TruncatedNormal(torch.zeros(1), torch.ones(1), low=1.0, high=0.0)


def test_delta_sample_is_detached():
    # torchrl: sample() of a parameter that requires grad returns requires_grad=True
    param = torch.zeros(3, requires_grad=True)
    assert not Delta(param).sample().requires_grad


def test_delta_shapes_are_inferred_and_checked():
    # torchrl: event_shape alone leaves batch_shape=() even when param has batch dims
    assert Delta(torch.zeros(4, 3), event_shape=(3,)).batch_shape == (4,)
    with pytest.raises(ValueError):
        Delta(torch.zeros(4, 3), batch_shape=(2,), event_shape=(3,))


def test_sparse_duplicate_indices_sum_their_slots():
    # slots (0, 0, 2) with logits (0, 0, 1): action 0 has two slots.
    # torchrl: log_prob(0) = -1.5514 (one slot), entropy 0.9753 (over slots)
    dist = MaskedCategorical(logits=torch.tensor([0.0, 0.0, 1.0]), indices=torch.tensor([0, 0, 2]))
    p0 = 2 / (2 + math.e)
    assert dist.log_prob(torch.tensor(0)).item() == pytest.approx(math.log(p0))
    assert dist.entropy().item() == pytest.approx(-(p0 * math.log(p0) + (1 - p0) * math.log(1 - p0)))
    dist = MaskedCategorical(logits=torch.tensor([0.0, 0.0, 0.3]), indices=torch.tensor([0, 0, 2]))
    assert dist.mode.item() == 0  # 2 / (2 + e^0.3) > e^0.3 / (2 + e^0.3); torchrl: 2


def test_sparse_padded_entropy_is_finite():
    # torchrl: nan for rows with padding
    dist = MaskedCategorical(logits=torch.zeros(5), indices=torch.tensor([0, 2, -1]), padding_value=-1)
    assert dist.entropy().item() == pytest.approx(math.log(2))


def test_masked_log_prob_accepts_sample_dims():
    # torchrl: ValueError from cross_entropy for a [S, B] value with batch [B]
    dist = MaskedCategorical(logits=torch.randn(4, 5), mask=torch.ones(4, 5, dtype=torch.bool))
    assert dist.log_prob(dist.sample((3,))).shape == (3, 4)


def test_masked_needs_logits_or_probs():
    # torchrl: AttributeError ('NoneType' object has no attribute 'shape')
    with pytest.raises(ValueError, match="logits"):
        MaskedCategorical(mask=torch.ones(3, dtype=torch.bool))


def test_normal_param_wrapper_works():
    # torchrl: RuntimeError at construction (deprecated in favour of NormalParamExtractor)
    loc, scale = NormalParamWrapper(nn.Linear(3, 4))(torch.randn(2, 3))
    assert loc.shape == scale.shape == (2, 2)


def test_bound_errors_are_value_errors_too():
    # torchrl: RuntimeError only
    for make in (lambda: TanhNormal(torch.zeros(1), 1.0, low=1.0, high=1.0),
                 lambda: TruncatedNormal(torch.zeros(1), torch.ones(1), low=1.0, high=1.0)):
        with pytest.raises(ValueError):
            make()
        with pytest.raises(RuntimeError):
            make()


# ----------------------------------------------------------------------------- MLP and utils


def test_mlp_slice_is_a_plain_sequential():
    # torchrl: ValueError("out_features must be specified for MLP.")
    mlp = MLP(in_features=3, out_features=2, num_cells=[4])
    head = mlp[:2]
    assert type(head) is nn.Sequential and head(torch.randn(5, 3)).shape == (5, 4)


def test_mlp_argument_errors_are_value_errors():
    # torchrl: RuntimeError (int num_cells without depth / length conflict), KeyError (no lazy
    # layer), StopIteration or silence (kwargs lists of the wrong length)
    with pytest.raises(ValueError):
        MLP(out_features=2, num_cells=8)
    with pytest.raises(ValueError):
        MLP(out_features=2, num_cells=[8], depth=2)
    with pytest.raises(ValueError):
        MLP(out_features=2, layer_class=nn.Bilinear)
    with pytest.raises(ValueError):
        MLP(in_features=3, out_features=2, num_cells=[4], layer_kwargs=[{}])
    with pytest.raises(ValueError):
        MLP(in_features=3, out_features=2, num_cells=[4], layer_kwargs=[{}, {}, {}])


def test_mlp_noisy_layers_are_recognised_by_reset_noise():
    # torchrl: isinstance(layer, NoisyLinear) (its own class only)
    class Noisy(nn.Linear):
        def reset_noise(self):
            pass

    with pytest.raises(ValueError, match="NoisyLinear"):
        MLP(in_features=3, out_features=2, layer_class=Noisy, single_bias_last_layer=True)
