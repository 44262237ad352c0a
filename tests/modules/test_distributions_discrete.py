"""Discrete distributions: OneHotCategorical, MaskedCategorical, MaskedOneHotCategorical."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from tensordict import TensorDict
from tensordict.nn import InteractionType, ProbabilisticTensorDictModule, set_interaction_type
from torch import distributions as D

from rldsl.modules import (
    MaskedCategorical,
    MaskedOneHotCategorical,
    OneHotCategorical,
    ReparamGradientStrategy,
)

# ----------------------------------------------------------------------------- OneHotCategorical


def test_one_hot_log_prob_entropy_match_categorical():
    logits = torch.randn(4, 5)
    dist, ref = OneHotCategorical(logits=logits), D.Categorical(logits=logits)
    value = F.one_hot(torch.tensor([0, 3, 4, 1]), 5)
    assert torch.allclose(dist.log_prob(value), ref.log_prob(torch.tensor([0, 3, 4, 1])))
    assert torch.allclose(dist.entropy(), ref.entropy())
    assert dist.num_samples == 5 and dist.batch_shape == (4,)


def test_one_hot_sample_shapes_and_dtype():
    dist = OneHotCategorical(probs=torch.tensor([0.2, 0.3, 0.5]))
    sample = dist.sample((7,))
    assert sample.shape == (7, 3) and sample.dtype == torch.long
    assert torch.equal(sample.sum(-1), torch.ones(7, dtype=torch.long))
    assert dist.sample().shape == (3,)


def test_one_hot_trailing_singleton_is_dropped():
    dist = OneHotCategorical(logits=torch.randn(2, 4, 1))
    assert dist.batch_shape == (2,) and dist.num_samples == 4


def test_one_hot_mode_and_deterministic_sample():
    dist = OneHotCategorical(logits=torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]]))
    assert dist.mode.tolist() == [[0, 1, 0], [1, 0, 0]]
    assert torch.equal(dist.deterministic_sample, dist.mode)


def test_one_hot_pass_through_rsample():
    logits = torch.randn(3, 4, requires_grad=True)
    dist = OneHotCategorical(logits=logits)
    sample = dist.rsample((5,))
    assert sample.dtype == torch.float32
    assert set(sample.unique().tolist()) <= {0.0, 1.0}  # exactly one-hot values
    weights = torch.randn(4)
    (sample * weights).sum().backward()
    expected = torch.autograd.grad((5 * logits.softmax(-1) * weights).sum(), logits)[0]
    assert torch.allclose(logits.grad, expected, atol=1e-6)


def test_one_hot_relaxed_rsample():
    logits = torch.randn(3, 4, requires_grad=True)
    dist = OneHotCategorical(logits=logits, grad_method=ReparamGradientStrategy.RelaxedOneHot)
    sample = dist.rsample((6,))
    assert torch.equal(sample.sum(-1), torch.ones(6, 3))
    assert set(sample.unique().tolist()) <= {0.0, 1.0}
    (sample * torch.randn(4)).sum().backward()
    assert logits.grad.abs().sum() > 0


def test_one_hot_has_rsample_false_and_grad_method_by_name():
    dist = OneHotCategorical(logits=torch.zeros(3), grad_method="RelaxedOneHot")
    assert dist.grad_method is ReparamGradientStrategy.RelaxedOneHot
    assert dist.has_rsample is False
    assert ReparamGradientStrategy.PassThrough.value == 1 and ReparamGradientStrategy.RelaxedOneHot.value == 2


def test_one_hot_support_and_enumerate_support():
    dist = OneHotCategorical(logits=torch.zeros(2, 3))
    support = dist.enumerate_support()
    assert support.shape == (3, 2, 3) and torch.equal(support[1, 0], torch.tensor([0, 1, 0]))
    assert dist.support.check(dist.sample()).all()


def test_one_hot_in_a_probabilistic_module():
    module = ProbabilisticTensorDictModule(
        in_keys=["logits"], out_keys=["action"], distribution_class=OneHotCategorical, return_log_prob=True
    )
    td = TensorDict({"logits": torch.tensor([[0.0, 5.0, 0.0]]).expand(4, 3)}, [4])
    with set_interaction_type(InteractionType.RANDOM):
        out = module(td.clone())
    assert out["action"].dtype == torch.long and out["action_log_prob"].shape == (4,)
    with set_interaction_type(InteractionType.DETERMINISTIC):
        assert module(td.clone())["action"].argmax(-1).tolist() == [1, 1, 1, 1]


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(), ValueError, "pass either `probs` or `logits`"),
    (dict(logits=torch.zeros(3), probs=torch.ones(3) / 3), ValueError, "not both"),
    (dict(logits=[0.0, 1.0]), TypeError, "logits must be a tensor"),
    (dict(logits=torch.tensor(1.0)), ValueError, "needs a last dimension"),
    (dict(logits=torch.zeros(3), grad_method="Gumbel"), ValueError, "grad_method='Gumbel' is unknown"),
    (dict(logits=torch.zeros(3), grad_method=2), TypeError, "grad_method must be one of"),
])
def test_one_hot_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        OneHotCategorical(**kwargs)


# ----------------------------------------------------------------------------- MaskedCategorical


def test_masked_dense_never_samples_invalid_actions():
    torch.manual_seed(0)
    mask = torch.tensor([True, False, True, True])
    dist = MaskedCategorical(logits=torch.randn(4) / 100, mask=mask)
    sample = dist.sample((2000,))
    assert not (sample == 1).any() and set(sample.unique().tolist()) == {0, 2, 3}


def test_masked_dense_log_prob_and_probs_path():
    probs = torch.ones(10) / 10
    mask = torch.tensor([False] + 9 * [True])
    dist = MaskedCategorical(probs=probs, mask=mask)
    lp = dist.log_prob(torch.arange(10))
    assert lp[0].item() == -math.inf
    assert torch.allclose(lp[1:], torch.full((9,), math.log(1 / 9)))


def test_masked_dense_log_prob_equals_log_softmax_over_valid():
    logits = torch.randn(3, 5)
    mask = torch.rand(3, 5) > 0.4
    mask[:, 2] = True
    dist = MaskedCategorical(logits=logits, mask=mask)
    ref = logits.masked_fill(~mask, -math.inf).log_softmax(-1)
    for action in range(5):
        value = torch.full((3,), action)
        assert torch.allclose(dist.log_prob(value), ref[:, action], equal_nan=True)


@pytest.mark.parametrize("use_cross_entropy", [True, False])
def test_masked_log_prob_with_sample_and_time_dims(use_cross_entropy):
    logits = torch.randn(2, 7, 4)  # [N, T, A]
    mask = torch.ones(2, 7, 4, dtype=torch.bool)
    mask[..., 0] = False
    dist = MaskedCategorical(logits=logits, mask=mask, use_cross_entropy=use_cross_entropy)
    value = dist.sample((3,))
    lp = dist.log_prob(value)
    assert lp.shape == (3, 2, 7)
    ref = logits.masked_fill(~mask, -math.inf).log_softmax(-1)
    assert torch.allclose(lp, ref.expand(3, 2, 7, 4).gather(-1, value.unsqueeze(-1)).squeeze(-1))


def test_masked_finite_neg_inf():
    dist = MaskedCategorical(logits=torch.zeros(3), mask=torch.tensor([True, False, True]), neg_inf=-1e9)
    assert dist.log_prob(torch.tensor(1)).item() == -1e9
    assert dist.log_prob(torch.tensor(0)).item() == pytest.approx(math.log(0.5))


def test_masked_entropy_counts_valid_actions_only():
    dist = MaskedCategorical(logits=torch.zeros(2, 4), mask=torch.tensor([[True, True, False, False], [False, True, False, False]]))
    assert dist.entropy()[0].item() == pytest.approx(math.log(2))
    assert dist.entropy()[1].item() == 0.0


def test_masked_mode_and_gradients():
    logits = torch.tensor([[5.0, 1.0, 2.0], [0.0, 3.0, 1.0]], requires_grad=True)
    mask = torch.tensor([[False, True, True], [True, True, True]])
    dist = MaskedCategorical(logits=logits, mask=mask)
    assert dist.mode.tolist() == [2, 1] and torch.equal(dist.deterministic_sample, dist.mode)
    dist.log_prob(torch.tensor([2, 1])).sum().backward()
    assert logits.grad[0, 0].item() == 0.0 and torch.isfinite(logits.grad).all()


def test_masked_broadcast_mask_over_batch():
    dist = MaskedCategorical(logits=torch.zeros(5, 3), mask=torch.tensor([True, False, True]))
    assert dist.batch_shape == (5,) and not (dist.sample((50,)) == 1).any()


def test_sparse_indices_map_back_to_action_ids():
    torch.manual_seed(0)
    logits = torch.randn(2, 6)
    indices = torch.tensor([[1, 4, 5], [0, 2, 3]])
    dist = MaskedCategorical(logits=logits, indices=indices)
    sample = dist.sample((500,))
    assert set(sample[:, 0].unique().tolist()) <= {1, 4, 5} and set(sample[:, 1].unique().tolist()) <= {0, 2, 3}
    mask = torch.zeros(2, 6, dtype=torch.bool).scatter(-1, indices, True)
    dense = MaskedCategorical(logits=logits, mask=mask)
    for action in range(6):
        value = torch.full((2,), action)
        assert torch.allclose(dist.log_prob(value), dense.log_prob(value))
    assert torch.equal(dist.mode, dense.mode)
    assert torch.allclose(dist.entropy(), dense.entropy())
    assert dist.logits.shape == (2, 3) and torch.equal(dist.indices, indices)


def test_sparse_mode_is_an_original_action_id():
    dist = MaskedCategorical(logits=torch.tensor([0.0, 0.0, 9.0, 0.0, 1.0]), indices=torch.tensor([3, 4]))
    assert dist.mode.item() == 4


def test_sparse_padding_value():
    logits = torch.zeros(2, 5)
    indices = torch.tensor([[-1, 1, 3], [0, 2, 4]])
    dist = MaskedCategorical(logits=logits, indices=indices, padding_value=-1)
    assert dist.log_prob(torch.tensor([1, 2])).tolist() == pytest.approx([math.log(0.5), math.log(1 / 3)])
    assert dist.log_prob(torch.tensor([0, 1]))[0].item() == -math.inf
    assert dist.log_prob(torch.tensor([-1, 0]))[0].item() == -math.inf
    assert not (dist.sample((300,))[:, 0] == -1).any()
    assert dist.entropy()[0].item() == pytest.approx(math.log(2))
    assert dist.padding_value == -1 and dist.padding_side == "left"
    assert MaskedCategorical(logits=logits, indices=indices.clamp_min(0)).padding_value == 0


def test_sparse_probs_path():
    probs = torch.tensor([0.1, 0.2, 0.3, 0.4])
    dist = MaskedCategorical(probs=probs, indices=torch.tensor([1, 3]))
    assert dist.log_prob(torch.tensor([1, 3, 0])).tolist() == pytest.approx([math.log(1 / 3), math.log(2 / 3), -math.inf])


def test_mask_and_indices_accessors():
    with pytest.raises(ValueError, match="does not support sparse masks"):
        MaskedCategorical(logits=torch.zeros(3), indices=torch.tensor([0])).mask
    with pytest.raises(ValueError, match="dense mask"):
        MaskedCategorical(logits=torch.zeros(3), mask=torch.ones(3, dtype=torch.bool)).indices


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(logits=torch.zeros(3)), ValueError, "A ``mask`` or some ``indices`` must be provided"),
    (dict(logits=torch.zeros(3), mask=torch.ones(3, dtype=torch.bool), indices=torch.tensor([0])), ValueError, "but not both"),
    (dict(mask=torch.ones(3, dtype=torch.bool)), ValueError, "pass either `probs` or `logits`"),
    (dict(logits=torch.zeros(3), mask=torch.ones(3)), TypeError, "mask must be a boolean tensor"),
    (dict(logits=torch.zeros(3), indices=torch.tensor([0.0])), TypeError, "indices must be an integer tensor"),
    (dict(logits=torch.zeros(3), mask=torch.ones(3, dtype=torch.bool), neg_inf=1.0), ValueError, "neg_inf must be a negative number"),
    (dict(logits=torch.zeros(3), indices=torch.tensor([0]), padding_value=0.5), TypeError, "padding_value must be an int"),
    (dict(logits=torch.zeros(3), mask=torch.ones(3, dtype=torch.bool), padding_side="up"), ValueError, "padding_side must be 'left' or 'right'"),
    (dict(logits=torch.zeros(3), mask=torch.ones(3, dtype=torch.bool), use_cross_entropy=1), TypeError, "use_cross_entropy must be True or False"),
    (dict(logits=torch.zeros(2, 3), mask=torch.ones(4, 3, dtype=torch.bool)), ValueError, "mask of shape \\(4, 3\\) does not broadcast"),
    (dict(logits=torch.zeros(2, 3), indices=torch.zeros(4, 1, dtype=torch.long)), ValueError, "indices of shape"),
])
def test_masked_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MaskedCategorical(**kwargs)


# ----------------------------------------------------------------------------- MaskedOneHotCategorical


def test_masked_one_hot_dense():
    torch.manual_seed(0)
    mask = torch.tensor([True, False, True, True])
    dist = MaskedOneHotCategorical(torch.randn(4) / 100, None, mask)  # positional, as in torchrl
    sample = dist.sample((200,))
    assert sample.shape == (200, 4) and sample.dtype == torch.long and not sample[:, 1].any()
    lp = dist.log_prob(sample)
    assert torch.allclose(lp, MaskedCategorical(logits=dist.logits, mask=mask).log_prob(sample.argmax(-1)))
    assert dist.log_prob(F.one_hot(torch.tensor(1), 4)).item() == -math.inf
    assert dist.mode.sum().item() == 1 and dist.mode[1].item() == 0
    assert dist.entropy().item() == pytest.approx(math.log(3), abs=1e-3)


def test_masked_one_hot_sparse_is_full_width():
    logits = torch.tensor([[0.0, 3.0, 0.0, 1.0, 0.0]])
    dist = MaskedOneHotCategorical(logits=logits, indices=torch.tensor([[3, 4]]))
    sample = dist.sample((100,))
    assert sample.shape == (100, 1, 5) and not sample[..., :3].any()
    assert dist.mode.tolist() == [[0, 0, 0, 1, 0]]
    lp = dist.log_prob(F.one_hot(torch.tensor([[3]]), 5))
    assert lp.item() == pytest.approx(1.0 - math.log(math.e + 1.0))


@pytest.mark.parametrize("grad_method", list(ReparamGradientStrategy))
@pytest.mark.parametrize("sparse", [False, True])
def test_masked_one_hot_rsample(grad_method, sparse):
    logits = torch.randn(2, 5, requires_grad=True)
    if sparse:
        kwargs = dict(indices=torch.tensor([[0, 2, 4], [1, 2, 3]]))
    else:
        kwargs = dict(mask=torch.tensor([[True, False, True, False, True], [False, True, True, True, False]]))
    dist = MaskedOneHotCategorical(logits=logits, grad_method=grad_method, **kwargs)
    sample = dist.rsample((8,))
    assert sample.shape == (8, 2, 5) and set(sample.unique().tolist()) <= {0.0, 1.0}
    assert not sample[:, 0, [1, 3]].any() and not sample[:, 1, [0, 4]].any()
    (sample * torch.randn(5)).sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


def test_masked_one_hot_pass_through_gradient_is_the_probs_gradient():
    logits = torch.randn(5, requires_grad=True)
    mask = torch.tensor([True, True, False, True, True])
    dist = MaskedOneHotCategorical(logits=logits, mask=mask)
    weights = torch.randn(5)
    (dist.rsample() * weights).sum().backward()
    probs = logits.masked_fill(~mask, -math.inf).softmax(-1)
    expected = torch.autograd.grad((probs * weights).sum(), logits)[0]
    assert torch.allclose(logits.grad, expected, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_discrete_distributions_on_cuda():
    logits = torch.randn(4, 5, device="cuda")
    mask = torch.ones(4, 5, dtype=torch.bool, device="cuda")
    indices = torch.tensor([[0, 2, -1]], device="cuda").expand(4, 3)
    for dist in (
        OneHotCategorical(logits=logits),
        MaskedCategorical(logits=logits, mask=mask),
        MaskedCategorical(logits=logits, indices=indices, padding_value=-1),
        MaskedOneHotCategorical(logits=logits, indices=indices, padding_value=-1),
    ):
        sample = dist.sample((3,))
        assert dist.log_prob(sample).device.type == "cuda" and dist.entropy().device.type == "cuda"
