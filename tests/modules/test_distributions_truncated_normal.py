"""TruncatedNormal: closed forms (asymmetric bounds, far tails), samples, gradients, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, strategies as st

from rldsl.modules import TruncatedNormal
from rldsl.modules.utils import ArgumentError

# (loc, scale, low, high, values, log_pdf(values), mean, variance, entropy) from
# scipy.stats.truncnorm (scipy 1.17), except the entropies marked None (scipy returns nan
# there), which are checked by numerical integration below.
CLOSED_FORMS = [
    (0.0, 1.0, -1.0, 2.0, [-0.5, 0.0, 1.5], [-0.84377223888021, -0.71877223888021, -1.84377223888021],
     0.22963717909132902, 0.5197625392115339, 1.0050201254964886),
    (6.0, 1.0, -1.0, 2.0, [1.9, -0.5], [1.0361629937319154, -11.683837006268087],
     1.774392973179908, 0.046672496899443305, -0.4899493727265174),
    (-8.0, 1.0, 0.0, 1.0, [0.1, 0.9], [1.2896800602324845, -5.51031993976752],
     0.1211889929798673, 0.014148542782169593, None),
    (0.0, 0.01, 0.5, 1.0, [0.5001, 0.51], [8.017542792203376, -41.98240720779675],
     0.5001998403190218, 3.990433601320787e-08, None),
    (0.3, 2.0, -1.0, 1.0, [0.0, 0.99], [-0.6530758484518259, -0.7013383484518259],
     0.024168235474573307, 0.32201629712251334, 0.6915882808822913),
    (0.0, 1.0, -math.inf, 0.5, [0.0, -3.0], [-0.5499921179160163, -5.049992117916016],
     -0.5091604338370335, 0.4861754356963671, None),
]


def _dist(loc, scale, low, high):
    return TruncatedNormal(torch.tensor([loc]), torch.tensor([scale]), low=low, high=high)


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=lambda c: f"loc{c[0]}_box{c[2]}_{c[3]}")
def test_closed_forms(case):
    loc, scale, low, high, values, log_pdfs, mean, var, _ = case
    dist = _dist(loc, scale, low, high)
    for value, expected in zip(values, log_pdfs):
        assert dist.log_prob(torch.tensor([value])).item() == pytest.approx(expected, rel=1e-5, abs=1e-4)
    assert dist.mean.item() == pytest.approx(mean, rel=1e-5, abs=1e-6)
    assert dist.variance.item() == pytest.approx(var, rel=1e-4)
    assert dist.deterministic_sample.item() == pytest.approx(mean, rel=1e-5, abs=1e-6)


@pytest.mark.parametrize("case", CLOSED_FORMS, ids=lambda c: f"loc{c[0]}_box{c[2]}_{c[3]}")
def test_entropy_matches_scipy_or_integration(case):
    loc, scale, low, high, *_, entropy = case
    dist = _dist(loc, scale, low, high)
    if entropy is not None:
        assert dist.entropy().item() == pytest.approx(entropy, rel=1e-5)
    lo = max(low, loc - 40 * scale)
    grid = torch.linspace(lo, high, 200001, dtype=torch.float64)
    fine = TruncatedNormal(torch.tensor([loc], dtype=torch.float64), torch.tensor([scale], dtype=torch.float64),
                           low=low, high=high)
    lp = fine.log_prob(grid.unsqueeze(-1))
    integrand = -(lp.exp() * lp).nan_to_num()
    numeric = torch.trapezoid(integrand, grid).item()
    assert dist.entropy().item() == pytest.approx(numeric, rel=1e-3, abs=1e-3)


def test_shapes_and_event_sum():
    dist = TruncatedNormal(torch.zeros(4, 3), torch.ones(4, 3), low=-1.0, high=2.0)
    assert dist.batch_shape == (4,) and dist.event_shape == (3,)
    assert dist.rsample((5,)).shape == (5, 4, 3)
    value = torch.full((4, 3), 0.5)
    per_dim = TruncatedNormal(torch.zeros(1), torch.ones(1), low=-1.0, high=2.0).log_prob(torch.tensor([0.5]))
    assert torch.allclose(dist.log_prob(value), 3 * per_dim.expand(4))
    assert dist.entropy().shape == (4,)


def test_out_of_box_values_have_minus_inf():
    dist = TruncatedNormal(torch.zeros(2, 2), torch.ones(2, 2), low=-1.0, high=2.0)
    value = torch.tensor([[0.0, 2.5], [0.0, 0.0]])
    lp = dist.log_prob(value)
    assert lp[0].item() == -math.inf and math.isfinite(lp[1].item())
    assert math.isfinite(dist.log_prob(torch.tensor([[-1.0, 2.0], [2.0, -1.0]]))[0].item())


def test_mode_and_support():
    dist = TruncatedNormal(torch.tensor([3.0, 0.2, -5.0]), torch.ones(3), low=-1.0, high=2.0)
    assert dist.mode.tolist() == pytest.approx([2.0, 0.2, -1.0])
    assert dist.support.check(dist.sample((10,))).all()


def test_sample_moments_match_the_closed_form():
    torch.manual_seed(0)
    dist = TruncatedNormal(torch.tensor([0.0, 6.0, -8.0]), torch.ones(3),
                           low=torch.tensor([-1.0, -1.0, 0.0]), high=torch.tensor([2.0, 2.0, 1.0]))
    sample = dist.sample((100_000,))
    stderr = (dist.variance / 100_000).sqrt()
    assert ((sample.mean(0) - dist.mean).abs() < 5 * stderr).all()
    assert torch.allclose(sample.var(0), dist.variance, rtol=0.03)


def test_cdf_and_icdf_round_trip():
    base = TruncatedNormal(torch.tensor([0.0, 6.0]), torch.ones(2), low=-1.0, high=2.0).base_dist
    u = torch.tensor([[0.01, 0.3], [0.5, 0.99]], dtype=torch.float64)
    assert torch.allclose(base.cdf(base.icdf(u)).double(), u, atol=1e-4)


def test_rsample_gradient_matches_the_mean_gradient():
    torch.manual_seed(0)
    loc = torch.tensor([0.3, 5.0], requires_grad=True)
    scale = torch.tensor([0.5, 1.0], requires_grad=True)
    dist = TruncatedNormal(loc, scale, low=-1.0, high=2.0)
    n = 50_000
    dist.rsample((n,)).sum(0).sum().backward()
    mc_loc, mc_scale = loc.grad / n, scale.grad / n
    loc.grad = scale.grad = None
    TruncatedNormal(loc, scale, low=-1.0, high=2.0).mean.sum().backward()
    assert torch.allclose(mc_loc, loc.grad, atol=0.02)
    assert torch.allclose(mc_scale, scale.grad, atol=0.02)
    assert not dist.sample().requires_grad


def test_log_prob_gradient_is_finite_far_from_the_box():
    loc = torch.tensor([30.0], requires_grad=True)
    TruncatedNormal(loc, torch.ones(1), low=-1.0, high=1.0).log_prob(torch.tensor([0.9])).backward()
    assert torch.isfinite(loc.grad).all()


def test_tanh_loc_and_update():
    dist = TruncatedNormal(torch.full((2,), 100.0), torch.ones(2), upscale=2.0, tanh_loc=True, low=-5.0, high=5.0)
    assert torch.allclose(dist.loc, torch.full((2,), 2.0))
    dist.update(torch.zeros(3, 2), torch.full((3, 2), 0.5))
    assert dist.batch_shape == (3,)


def test_scale_is_clamped_and_float_scale_accepted():
    dist = TruncatedNormal(torch.zeros(2), 0.0, low=-1.0, high=1.0)
    assert torch.equal(dist.base_dist.scale, torch.full((2,), 1e-6))
    sample = dist.sample()
    assert ((sample >= -1) & (sample <= 1)).all()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(low=1.0, high=-1.0), ArgumentError, "TruncatedNormal high values must be strictly greater than low values"),
    (dict(low=torch.tensor([0.0, 2.0]), high=1.0), ArgumentError, "high > low everywhere"),
    (dict(high="1"), TypeError, "high must be a number or a tensor"),
    (dict(loc=torch.tensor(0.0), scale=1.0), ValueError, "needs at least one dimension"),
    (dict(upscale=0), ValueError, "upscale must be > 0"),
    (dict(tanh_loc="no"), TypeError, "tanh_loc must be True or False"),
])
def test_bad_arguments(kwargs, error, match):
    kwargs = {"loc": torch.zeros(2), "scale": torch.ones(2), **kwargs}
    with pytest.raises(error, match=match):
        TruncatedNormal(**kwargs)


@given(
    low=st.floats(-5, 5),
    width=st.floats(1e-3, 10),
    loc=st.floats(-100, 100),
    scale=st.floats(1e-4, 20),
)
def test_samples_always_inside_and_stats_finite(low, width, loc, scale):
    high = low + width
    dist = TruncatedNormal(torch.full((32, 1), loc), torch.full((32, 1), scale), low=low, high=high)
    sample = dist.rsample()
    assert ((sample >= low) & (sample <= high)).all()
    assert torch.isfinite(dist.log_prob(sample)).all()
    mean = dist.mean
    assert ((mean >= low) & (mean <= high)).all()
    assert torch.isfinite(dist.entropy()).all() and (dist.variance >= 0).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda():
    dist = TruncatedNormal(torch.randn(4, 2, device="cuda"), 0.5, low=-1.0, high=2.0)
    sample = dist.rsample((3,))
    assert sample.device.type == "cuda" and ((sample >= -1) & (sample <= 2)).all()
    assert dist.log_prob(sample).device.type == "cuda" and dist.entropy().device.type == "cuda"
