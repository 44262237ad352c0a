"""Continuous distributions: Delta, IndependentNormal, NormalParamWrapper, TanhNormal, TanhDelta."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, strategies as st
from tensordict import TensorDict
from tensordict.nn import (
    InteractionType,
    ProbabilisticTensorDictModule,
    set_interaction_type,
)
from torch import distributions as D, nn

from rldsl.modules import (
    Delta,
    IndependentNormal,
    NormalParamWrapper,
    TanhDelta,
    TanhNormal,
)
from rldsl.modules.utils import ArgumentError


def _torch_tanh_normal(loc, scale, low, high, event_dims):
    """The same law built from torch.distributions parts (the reference)."""
    base = D.Normal(loc, scale)
    low, high = torch.as_tensor(low), torch.as_tensor(high)
    transforms = [D.TanhTransform(), D.AffineTransform((high + low) / 2, (high - low) / 2)]
    dist = D.TransformedDistribution(base, transforms)
    return D.Independent(dist, event_dims) if event_dims else dist


# ----------------------------------------------------------------------------- Delta


def test_delta_default_shapes():
    dist = Delta(torch.zeros(4, 3))
    assert dist.batch_shape == (4,) and dist.event_shape == (3,)
    scalar = Delta(torch.tensor(1.0))
    assert scalar.batch_shape == () and scalar.event_shape == ()


def test_delta_inferred_and_explicit_shapes():
    assert Delta(torch.zeros(4, 3, 2), event_shape=(3, 2)).batch_shape == (4,)
    assert Delta(torch.zeros(4, 3, 2), batch_shape=(4, 3)).event_shape == (2,)
    with pytest.raises(ValueError, match="must equal param.shape"):
        Delta(torch.zeros(4, 3), batch_shape=(4,), event_shape=(2,))


def test_delta_log_prob_with_tolerance():
    param = torch.tensor([[0.5, -0.5], [2.0, 1.0]])
    dist = Delta(param, atol=1e-3, rtol=0.0)
    values = param + torch.tensor([[5e-4, 0.0], [0.0, 2e-3]])
    assert dist.log_prob(values).tolist() == [math.inf, -math.inf]
    assert dist.log_prob(param.expand(3, 2, 2)).shape == (3, 2)


def test_delta_samples_and_gradients():
    param = torch.randn(2, 3, requires_grad=True)
    dist = Delta(param)
    assert not dist.sample((5,)).requires_grad
    sample = dist.rsample((5,))
    assert sample.shape == (5, 2, 3) and torch.equal(sample[0], param.detach())
    sample.sum().backward()
    assert torch.equal(param.grad, torch.full((2, 3), 5.0))
    assert dist.mode is param and dist.mean is param and dist.deterministic_sample is param


def test_delta_expand_and_update():
    dist = Delta(torch.zeros(3)).expand((4,))
    assert dist.batch_shape == (4,) and dist.param.shape == (4, 3)
    dist.update(torch.ones(4, 3))
    assert torch.equal(dist.mode, torch.ones(4, 3))


def test_delta_has_no_entropy():
    with pytest.raises(NotImplementedError):
        Delta(torch.zeros(3)).entropy()


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(param=[1.0]), TypeError, "param must be a tensor"),
    (dict(param=torch.zeros(2), atol=-1.0), ValueError, "atol must be >= 0"),
    (dict(param=torch.zeros(2), rtol="x"), TypeError, "rtol must be a number"),
    (dict(param=torch.zeros(2), batch_shape="ab"), TypeError, "batch_shape must be a sequence of ints"),
])
def test_delta_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        Delta(**kwargs)


# ----------------------------------------------------------------------------- IndependentNormal


def test_independent_normal_matches_torch():
    loc, scale = torch.randn(5, 3), torch.rand(5, 3) + 0.1
    dist = IndependentNormal(loc, scale)
    ref = D.Independent(D.Normal(loc, scale), 1)
    value = torch.randn(5, 3)
    assert torch.allclose(dist.log_prob(value), ref.log_prob(value))
    assert torch.allclose(dist.entropy(), ref.entropy())
    assert torch.equal(dist.mode, loc) and torch.equal(dist.deterministic_sample, loc)
    assert dist.batch_shape == (5,) and dist.event_shape == (3,)


def test_independent_normal_scale_forms_and_event_dim():
    loc = torch.zeros(2, 3, 4)
    assert torch.equal(IndependentNormal(loc, 2.0).stddev, torch.full((2, 3, 4), 2.0))
    assert torch.equal(IndependentNormal(loc, torch.ones_like).stddev, torch.ones(2, 3, 4))
    dist = IndependentNormal(loc, 1.0, event_dim=2)
    assert dist.log_prob(loc).shape == (2,)
    with pytest.raises(ValueError, match="event_dim=4 is out of range"):
        IndependentNormal(loc, 1.0, event_dim=4)


def test_independent_normal_rsample_gradient():
    loc = torch.zeros(3, requires_grad=True)
    IndependentNormal(loc, 1.0).rsample((10,)).sum().backward()
    assert torch.equal(loc.grad, torch.full((3,), 10.0))


def test_independent_normal_update_and_validation_default():
    dist = IndependentNormal(torch.zeros(3), 1.0, tanh_loc=True, upscale=2.0)
    dist.update(torch.full((3,), 100.0), 0.5)
    assert torch.allclose(dist.mean, torch.full((3,), 2.0))
    # argument validation is off by default (as in torchrl), on when asked for
    IndependentNormal(torch.zeros(3), -1.0)
    with pytest.raises(ValueError):
        IndependentNormal(torch.zeros(3), -1.0, validate_args=True)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(upscale=0.0), ValueError, "upscale must be > 0"),
    (dict(upscale="5"), TypeError, "upscale must be a number"),
    (dict(tanh_loc=1), TypeError, "tanh_loc must be True or False"),
    (dict(scale="one"), TypeError, "scale must be a tensor, a number or a callable"),
    (dict(scale=lambda loc: 1.0), TypeError, "a callable scale must return a tensor"),
])
def test_independent_normal_bad_arguments(kwargs, error, match):
    kwargs = {"loc": torch.zeros(3), "scale": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        IndependentNormal(**kwargs)


# ----------------------------------------------------------------------------- NormalParamWrapper


def test_normal_param_wrapper_splits_and_maps():
    linear = nn.Linear(3, 4)
    module = NormalParamWrapper(linear)
    x = torch.randn(5, 3)
    loc, scale = module(x)
    out = linear(x)
    assert torch.equal(loc, out[..., :2])
    expected = nn.functional.softplus(out[..., 2:] + math.log(math.expm1(1.0 - 0.01))) + 0.01
    assert torch.allclose(scale, expected.clamp_min(1e-4))
    assert list(module.state_dict()) == ["operator.weight", "operator.bias"]


def test_normal_param_wrapper_zero_gives_unit_scale_and_lower_bound():
    zeros = NormalParamWrapper(lambda x: torch.zeros(2, 4))
    assert torch.allclose(zeros(None)[1], torch.ones(2, 2))
    low = NormalParamWrapper(lambda x: torch.full((2, 4), -100.0), scale_mapping="exp", scale_lb=0.1)
    assert torch.equal(low(None)[1], torch.full((2, 2), 0.1))


def test_normal_param_wrapper_passes_extra_outputs():
    lstm = nn.LSTM(3, 4, batch_first=True)
    loc, scale, (h, c) = NormalParamWrapper(lstm)(torch.randn(2, 5, 3))
    assert loc.shape == scale.shape == (2, 5, 2) and h.shape == (1, 2, 4)


def test_normal_param_wrapper_errors():
    with pytest.raises(TypeError, match="operator must be an nn.Module or a callable"):
        NormalParamWrapper(3)
    with pytest.raises(ValueError, match="scale_mapping='softmax' is not a known mapping"):
        NormalParamWrapper(nn.Linear(2, 2), scale_mapping="softmax")
    with pytest.raises(TypeError, match="scale_mapping must be a string"):
        NormalParamWrapper(nn.Linear(2, 2), scale_mapping=None)
    with pytest.raises(ValueError, match="scale_lb must be a number >= 0"):
        NormalParamWrapper(nn.Linear(2, 2), scale_lb=-1)
    with pytest.raises(ValueError, match="odd last dimension"):
        NormalParamWrapper(nn.Linear(2, 3))(torch.randn(2))


# ----------------------------------------------------------------------------- TanhNormal


@pytest.mark.parametrize("low, high", [(-1.0, 1.0), (-2.0, 3.0), (torch.tensor([-1.0, 0.0, -3.0]), torch.tensor([1.0, 2.0, 4.0]))])
@pytest.mark.parametrize("event_dims", [0, 1, 2])
def test_tanh_normal_log_prob_matches_torch(low, high, event_dims):
    torch.manual_seed(0)
    loc, scale = torch.randn(4, 3), torch.rand(4, 3) + 0.2
    dist = TanhNormal(loc, scale, low=low, high=high, event_dims=event_dims)
    ref = _torch_tanh_normal(loc, scale, low, high, event_dims)
    value = ref.sample((6,))
    assert torch.allclose(dist.log_prob(value), ref.log_prob(value), atol=1e-4, rtol=1e-4)
    assert dist.log_prob(value).shape == (6, *loc.shape[: loc.ndim - event_dims])


def test_tanh_normal_reference_values():
    # values computed with torchrl 0.14.1
    dist = TanhNormal(torch.tensor([0.3, -0.2]), torch.tensor([0.5, 2.0]),
                      low=torch.tensor([-2.0, 0.0]), high=torch.tensor([1.0, 5.0]))
    assert dist.log_prob(torch.tensor([0.5, 4.0])).item() == pytest.approx(-2.734755516052246, abs=1e-5)
    assert dist.deterministic_sample.tolist() == pytest.approx([-0.06303104758262634, 2.006561756134033])
    dist = TanhNormal(torch.tensor([[0.1, 0.2], [0.3, -0.4]]), torch.tensor([[0.5, 1.5], [1.0, 2.0]]),
                      low=-3.0, high=2.0, event_dims=2)
    assert dist.log_prob(torch.tensor([[0.1, -1.2], [1.5, -2.9]])).item() == pytest.approx(-4.750221252441406, abs=1e-5)


def test_tanh_normal_shapes_and_defaults():
    dist = TanhNormal(torch.zeros(5, 2), torch.ones(5, 2))
    assert dist.batch_shape == (5,) and dist.event_shape == (2,) and dist.event_dims == 1
    assert (dist.upscale, dist.tanh_loc, dist.safe_tanh) == (5.0, False, True)
    assert dist.low.item() == -1.0 and dist.high.item() == 1.0
    assert dist.sample((3,)).shape == (3, 5, 2)
    scalar = TanhNormal(torch.tensor(0.0), 1.0)
    assert scalar.event_dims == 0 and scalar.event_shape == ()
    wide = TanhNormal(torch.zeros(2), 1.0, low=torch.full((4, 2), -2.0), high=2.0)
    assert wide.batch_shape == (4,) and wide.sample().shape == (4, 2)


def test_tanh_normal_jacobian_correction():
    # density of y = tanh(z) is N(z) / (1 - y^2); with bounds add -log(half-width) per dim
    dist = TanhNormal(torch.zeros(1), torch.ones(1), low=-3.0, high=1.0)
    y = torch.tensor([-0.2])
    u = (y + 1.0) / 2.0
    z = torch.atanh(u)
    expected = D.Normal(0.0, 1.0).log_prob(z) - torch.log1p(-u * u) - math.log(2.0)
    assert torch.allclose(dist.log_prob(y), expected.sum(-1))


def test_tanh_normal_samples_in_bounds_and_gradients():
    loc = torch.tensor([[30.0, -30.0, 0.0]], requires_grad=True)
    scale = torch.tensor([[0.1, 0.1, 1.0]], requires_grad=True)
    dist = TanhNormal(loc, scale, low=-2.0, high=0.5)
    sample = dist.rsample((100,))
    assert ((sample >= -2.0) & (sample <= 0.5)).all()
    assert (sample < 0.5).all() and (sample > -2.0).all()  # safe tanh keeps them strictly inside
    sample.sum().backward()
    assert torch.isfinite(loc.grad).all() and (loc.grad > 0).all()
    assert torch.isfinite(scale.grad).all()
    assert not dist.sample().requires_grad


def test_tanh_normal_finite_at_the_bounds_with_safe_tanh():
    dist = TanhNormal(torch.zeros(2), torch.ones(2))
    # torchrl 0.14.1 gives the same numbers
    assert dist.log_prob(torch.tensor([1.0, -1.0])).item() == pytest.approx(-28.149158477783203, abs=1e-3)
    assert dist.log_prob(torch.tensor([1.0, 0.5])).item() == pytest.approx(-14.856704711914062, abs=1e-3)
    # outside the box values are clamped onto it, as in torchrl
    assert dist.log_prob(torch.tensor([3.0, 0.5])).item() == pytest.approx(-14.856704711914062, abs=1e-3)
    unsafe = TanhNormal(torch.zeros(2), torch.ones(2), safe_tanh=False)
    assert torch.isnan(unsafe.log_prob(torch.tensor([1.0, -1.0])))


def test_tanh_normal_gradient_at_the_bounds_is_finite():
    loc = torch.zeros(2, requires_grad=True)
    TanhNormal(loc, 1.0).log_prob(torch.tensor([1.0, -1.0])).backward()
    assert torch.isfinite(loc.grad).all()


def test_rsample_and_log_prob_scores_the_exact_pre_tanh_draw():
    loc, scale = torch.tensor([20.0, -20.0]), torch.full((2,), 0.1)
    dist = TanhNormal(loc, scale)
    torch.manual_seed(3)
    action, log_prob = dist.rsample_and_log_prob((4,))
    torch.manual_seed(3)
    z = D.Normal(loc, scale).rsample((4,))
    ladj = 2 * (math.log(2) - z - nn.functional.softplus(-2 * z))
    expected = (D.Normal(loc, scale).log_prob(z) - ladj).sum(-1)
    assert torch.allclose(log_prob, expected)
    assert action.shape == (4, 2) and log_prob.shape == (4,)
    # the round trip through the saturated action gives a different (wrong) score
    assert not torch.allclose(dist.log_prob(action), log_prob)


def test_sample_and_log_prob_detaches_the_action_only():
    loc = torch.zeros(3, requires_grad=True)
    dist = TanhNormal(loc, 1.0)
    action, log_prob = dist.sample_and_log_prob((2,))
    assert not action.requires_grad and log_prob.requires_grad
    assert torch.allclose(log_prob, dist.log_prob(action), atol=1e-4)
    log_prob.sum().backward()
    assert loc.grad is not None


def test_tanh_normal_deterministic_sample_mode_mean_entropy():
    loc = torch.tensor([0.5, -1.0])
    dist = TanhNormal(loc, 1.0, low=0.0, high=4.0)
    assert torch.allclose(dist.deterministic_sample, 2.0 + 2.0 * torch.tanh(loc))
    with pytest.raises(RuntimeError, match="has not analytical mode"):
        dist.mode
    with pytest.raises(NotImplementedError, match="closed form formula for the average"):
        dist.mean
    assert type(dist).entropy is D.Distribution.entropy  # no (wrong) entropy is defined
    with pytest.raises(NotImplementedError):
        dist.entropy()


def test_tanh_normal_tanh_loc_and_update():
    dist = TanhNormal(torch.full((2,), 100.0), 1.0, upscale=2.0, tanh_loc=True)
    assert torch.allclose(dist.loc, torch.full((2,), 2.0))
    dist.update(torch.zeros(3, 2), torch.full((3, 2), 0.5))
    assert dist.batch_shape == (3,) and torch.equal(dist.scale, torch.full((3, 2), 0.5))
    assert torch.allclose(dist.loc, torch.zeros(3, 2))


def test_tanh_normal_scale_forms_support_expand():
    dist = TanhNormal(torch.zeros(2), torch.ones_like, low=-2.0, high=2.0)
    assert torch.equal(dist.scale, torch.ones(2))
    assert dist.support.check(dist.sample((10,))).all()
    assert not dist.support.check(torch.tensor([3.0, 0.0]))
    expanded = dist.expand((4,))
    assert expanded.batch_shape == (4,) and expanded.sample().shape == (4, 2)


def test_tanh_normal_get_mode_matches_a_grid_search():
    for loc, scale in [(0.5, 0.3), (0.2, 2.0), (-1.5, 0.8), (0.0, 1.5)]:
        dist = TanhNormal(torch.tensor([loc]), torch.tensor([scale]), low=-1.0, high=3.0)
        grid = torch.linspace(-1.0, 3.0, 40001)[1:-1].unsqueeze(-1)
        best = grid[dist.log_prob(grid).argmax()]
        assert dist.get_mode().item() == pytest.approx(best.item(), abs=2e-3)


def test_tanh_normal_in_a_probabilistic_module():
    module = ProbabilisticTensorDictModule(
        in_keys=["loc", "scale"], out_keys=["action"], distribution_class=TanhNormal,
        distribution_kwargs={"low": -2.0, "high": 2.0}, return_log_prob=True,
    )
    td = TensorDict({"loc": torch.zeros(4, 2), "scale": torch.full((4, 2), 0.5)}, [4])
    with set_interaction_type(InteractionType.DETERMINISTIC):
        assert torch.equal(module(td.clone())["action"], torch.zeros(4, 2))
    with set_interaction_type(InteractionType.RANDOM):
        out = module(td.clone())
    dist = module.get_dist(out)
    assert torch.allclose(out["action_log_prob"], dist.log_prob(out["action"]), atol=1e-4)
    torch.manual_seed(0)
    with set_interaction_type(InteractionType.MEAN):  # Monte-Carlo fallback
        mean = module(td.clone())["action"]
    assert mean.abs().max() < 0.1
    with set_interaction_type(InteractionType.MODE), pytest.raises(RuntimeError):
        module(td.clone())


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(low=1.0, high=1.0), ArgumentError, "TanhNormal high values must be strictly greater than low values"),
    (dict(low=torch.tensor([0.0, 2.0]), high=1.0), ArgumentError, "high > low everywhere"),
    (dict(low="a"), TypeError, "low must be a number or a tensor"),
    (dict(event_dims=3), ValueError, "event_dims=3 is out of range"),
    (dict(event_dims=1.0), TypeError, "event_dims must be an int"),
    (dict(upscale=-1.0), ValueError, "upscale must be > 0"),
    (dict(safe_tanh=None), TypeError, "safe_tanh must be True or False"),
    (dict(scale=[1.0]), TypeError, "scale must be a tensor"),
    (dict(min=-1.0), TypeError, "min"),
])
def test_tanh_normal_bad_arguments(kwargs, error, match):
    kwargs = {"loc": torch.zeros(2), "scale": 1.0, **kwargs}
    with pytest.raises(error, match=match):
        TanhNormal(**kwargs)


def test_bad_bounds_error_is_value_and_runtime_error():
    with pytest.raises(ValueError):
        TanhNormal(torch.zeros(2), 1.0, low=2.0, high=1.0)
    with pytest.raises(RuntimeError):
        TanhNormal(torch.zeros(2), 1.0, low=2.0, high=1.0)


box = st.tuples(st.floats(-5, 5), st.floats(0.01, 10)).map(lambda t: (t[0], t[0] + t[1]))


@given(box=box, loc=st.floats(-20, 20), scale=st.floats(1e-3, 10), frac=st.floats(0.0, 1.0))
def test_tanh_normal_log_prob_finite_in_the_box(box, loc, scale, frac):
    low, high = box
    dist = TanhNormal(torch.tensor([loc]), torch.tensor([scale]), low=low, high=high)
    value = torch.tensor([low + frac * (high - low)]).clamp(low, high)
    assert torch.isfinite(dist.log_prob(value)).all()


@given(box=box, loc=st.floats(-50, 50), scale=st.floats(1e-3, 20))
def test_tanh_normal_samples_always_in_the_box(box, loc, scale):
    low, high = box
    dist = TanhNormal(torch.full((64, 1), loc), torch.full((64, 1), scale), low=low, high=high)
    sample, log_prob = dist.rsample_and_log_prob()
    assert ((sample >= low) & (sample <= high)).all()
    assert not torch.isnan(log_prob).any()


# ----------------------------------------------------------------------------- TanhDelta


def test_tanh_delta_mode_log_prob_and_shapes():
    param = torch.tensor([[0.3, -0.7, 2.0]])
    dist = TanhDelta(param, low=-1.0, high=3.0)
    expected = 1.0 + 2.0 * torch.tanh(param)
    assert torch.allclose(dist.mode, expected) and torch.equal(dist.deterministic_sample, dist.mode)
    assert dist.batch_shape == (1,) and dist.event_shape == (3,)
    assert dist.log_prob(dist.mode).tolist() == [math.inf]
    assert dist.log_prob(dist.mode + 1e-2).tolist() == [-math.inf]
    assert TanhDelta(torch.zeros(2, 3), event_dims=2).log_prob(torch.zeros(2, 3)).shape == ()
    assert TanhDelta(torch.zeros(2, 3), event_dims=0).log_prob(torch.zeros(2, 3)).shape == (2, 3)


def test_tanh_delta_samples_and_gradients():
    param = torch.zeros(2, 3, requires_grad=True)
    dist = TanhDelta(param)
    assert not dist.sample((4,)).requires_grad and dist.sample((4,)).shape == (4, 2, 3)
    dist.rsample().sum().backward()
    assert torch.allclose(param.grad, torch.ones(2, 3))
    assert dist.support.check(dist.sample()).all()


def test_tanh_delta_saturated_mode_is_still_its_own_support():
    dist = TanhDelta(torch.tensor([50.0, -50.0]))
    mode = dist.mode
    assert (mode.abs() < 1).all() and dist.log_prob(mode).item() == math.inf


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(low=1.0, high=0.0), ValueError, "TanhDelta high values must be strictly greater than low values"),
    (dict(event_dims=3), ValueError, "event_dims=3 is out of range"),
    (dict(atol=-1.0), ValueError, "atol must be >= 0"),
    (dict(safe=1), TypeError, "safe must be True or False"),
    (dict(param=[0.0]), TypeError, "param must be a tensor"),
])
def test_tanh_delta_bad_arguments(kwargs, error, match):
    kwargs = {"param": torch.zeros(2), **kwargs}
    with pytest.raises(error, match=match):
        TanhDelta(**kwargs)


def test_tanh_normal_log_prob_under_vmap_and_grad():
    def log_prob(loc, scale, action):
        return TanhNormal(loc, scale, low=-2.0, high=2.0).log_prob(action)

    loc, scale, action = torch.randn(4, 3), torch.rand(4, 3) + 0.1, torch.rand(4, 3) * 2 - 1
    assert torch.allclose(torch.vmap(log_prob)(loc, scale, action), log_prob(loc, scale, action))
    grads = torch.vmap(torch.func.grad(lambda *a: log_prob(*a).sum()))(loc, scale, action)
    assert grads.shape == (4, 3) and torch.isfinite(grads).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_continuous_distributions_on_cuda():
    loc = torch.randn(4, 2, device="cuda")
    for dist in (
        TanhNormal(loc, 0.5, low=-2.0, high=3.0),
        IndependentNormal(loc, 0.5),
        TanhDelta(loc, low=0.0, high=1.0),
        Delta(loc),
    ):
        sample = dist.sample((3,))
        assert sample.device.type == "cuda" and dist.log_prob(sample).device.type == "cuda"
