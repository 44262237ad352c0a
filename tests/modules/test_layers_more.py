"""BatchRenorm1d, ConsistentDropout / ConsistentDropoutModule and LSTMNet against torchrl 0.14's
documented behaviour: numerics (BatchRenorm1d against the batch-renorm formulas written out here,
and against torch's BatchNorm1d during the warm-up), keys, masks, shapes, state_dict names, and
clear errors for bad arguments."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tensordict import TensorDict
from torch import nn
from torch.nn.modules.dropout import _DropoutNd

from rldsl.modules import MLP, BatchRenorm1d, ConsistentDropout, ConsistentDropoutModule, LSTMNet
from rldsl.modules.dropout import ConsistentDropoutLayer
from rldsl.modules.lstm_net import lstm_net_from_sizes

# ---------------------------------------------------------------------------------------------
# BatchRenorm1d: a reference written from the paper's formulas (arXiv:1702.03275, Algorithm 1)


class ReferenceRenorm:
    """Batch renormalisation in float64 from its formulas: statistics over every dim but 1,
    r and d clipped and blended in by the warm-up factor min(step, warmup) / warmup (floored
    unless smooth), running statistics moved by `momentum` (the variance unbiased over the values
    averaged per feature)."""

    def __init__(self, features: int, momentum: float, eps: float, max_r: float, max_d: float, warmup: int,
                 smooth: bool) -> None:
        self.mean = torch.zeros(features, dtype=torch.float64)
        self.var = torch.ones(features, dtype=torch.float64)
        self.step = 0
        self.momentum, self.eps, self.max_r, self.max_d, self.warmup, self.smooth = \
            momentum, eps, max_r, max_d, warmup, smooth

    def _view(self, v: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return v.reshape(1, -1, *([1] * (x.dim() - 2)))

    def train_step(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        dims = [d for d in range(x.dim()) if d != 1]
        count = x.numel() // x.shape[1]
        mu = x.mean(dims)
        sigma2 = ((x - self._view(mu, x)) ** 2).mean(dims)
        sigma = (sigma2 + self.eps).sqrt()
        running_sigma = (self.var + self.eps).sqrt()
        r = torch.clamp(sigma / running_sigma, 1 / self.max_r, self.max_r)
        d = torch.clamp((mu - self.mean) / running_sigma, -self.max_d, self.max_d)
        if self.warmup > 0:
            seen = min(self.step, self.warmup)
            factor = seen / self.warmup if self.smooth else float(seen // self.warmup)
            r = 1 + (r - 1) * factor
            d = d * factor
        out = (x - self._view(mu, x)) / self._view(sigma, x) * self._view(r, x) + self._view(d, x)
        self.var = self.var + self.momentum * (sigma2 * count / (count - 1) - self.var)
        self.mean = self.mean + self.momentum * (mu - self.mean)
        self.step += 1
        return out

    def eval_step(self, x: torch.Tensor) -> torch.Tensor:
        x = x.double()
        return (x - self._view(self.mean, x)) / self._view((self.var + self.eps).sqrt(), x)


def test_batch_renorm_defaults_and_state_dict_names_are_torchrl_s() -> None:
    layer = BatchRenorm1d(4)
    assert (layer.momentum, layer.eps, layer.max_r, layer.max_d, layer.warmup_steps, layer.smooth) == \
        (0.01, 1e-5, 3.0, 5.0, 10000, False)
    state = layer.state_dict()
    assert list(state) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert [n for n, _ in layer.named_parameters()] == ["weight", "bias"]
    assert state["running_mean"].tolist() == [0.0] * 4 and state["running_var"].tolist() == [1.0] * 4
    assert state["weight"].tolist() == [1.0] * 4 and state["bias"].tolist() == [0.0] * 4
    assert state["num_batches_tracked"].dtype == torch.int64 and state["num_batches_tracked"].shape == ()
    assert all(state[k].dtype == torch.float32 for k in ("weight", "bias", "running_mean", "running_var"))


@pytest.mark.parametrize("smooth", [False, True])
@pytest.mark.parametrize("shape", [(16, 3), (6, 3, 5)], ids=["2d", "3d"])
def test_batch_renorm_training_matches_the_formulas_through_and_past_the_warm_up(smooth: bool, shape: tuple) -> None:
    torch.manual_seed(0)
    layer = BatchRenorm1d(3, momentum=0.2, max_r=1.5, max_d=0.5, warmup_steps=3, smooth=smooth).double()
    reference = ReferenceRenorm(3, 0.2, 1e-5, 1.5, 0.5, 3, smooth)
    for step in range(9):  # three warm-ups long: torchrl's factor would reach 2 after six steps
        x = torch.randn(*shape, dtype=torch.float64) * (1 + step) + step  # drifting statistics: r and d clip
        torch.testing.assert_close(layer(x), reference.train_step(x))
        torch.testing.assert_close(layer.running_mean, reference.mean)
        torch.testing.assert_close(layer.running_var, reference.var)
        assert int(layer.num_batches_tracked) == min(step + 1, 3)
    layer.eval()
    x = torch.randn(*shape, dtype=torch.float64)
    torch.testing.assert_close(layer(x), reference.eval_step(x))


def test_batch_renorm_during_the_warm_up_is_torch_batch_norm() -> None:
    torch.manual_seed(1)
    renorm = BatchRenorm1d(5, momentum=0.1, warmup_steps=100)
    with torch.no_grad():
        renorm.weight.uniform_(0.5, 2.0)
        renorm.bias.normal_()
    norm = nn.BatchNorm1d(5, eps=1e-5, momentum=0.1)
    norm.load_state_dict({k: v for k, v in renorm.state_dict().items()})
    for _ in range(5):
        x = torch.randn(32, 5) * 3 + 1
        torch.testing.assert_close(renorm(x), norm(x))
        torch.testing.assert_close(renorm.running_mean, norm.running_mean)
        torch.testing.assert_close(renorm.running_var, norm.running_var)
    renorm.eval(), norm.eval()
    x = torch.randn(7, 5)
    torch.testing.assert_close(renorm(x), norm(x))


def test_after_the_warm_up_a_training_output_is_the_running_statistics_one() -> None:
    """With r and d inside their clips the correction undoes the batch statistics exactly:
    (x - mu) / sigma * (sigma / s) + (mu - m) / s = (x - m) / s."""
    torch.manual_seed(2)
    layer = BatchRenorm1d(4, warmup_steps=1, momentum=0.0, max_r=100.0, max_d=100.0)
    layer(torch.randn(64, 4))  # one step: the warm-up is over
    for _ in range(4):  # the factor stays 1 (torchrl's would grow with its counter)
        x = torch.randn(64, 4) * 2 + 0.5
        expected = (x - layer.running_mean) / (layer.running_var + layer.eps).sqrt()
        torch.testing.assert_close(layer(x), expected, rtol=1e-5, atol=1e-5)
    assert int(layer.num_batches_tracked) == 1


def test_a_counter_past_the_warm_up_from_a_torchrl_checkpoint_counts_as_done() -> None:
    torch.manual_seed(3)
    ours = BatchRenorm1d(3, warmup_steps=2, momentum=0.0, max_r=100.0, max_d=100.0)
    state = ours.state_dict()
    state["num_batches_tracked"] = torch.tensor(7)  # torchrl keeps counting past warmup_steps
    state["running_mean"] = torch.tensor([0.5, -0.5, 1.0])
    ours.load_state_dict(state)
    x = torch.randn(32, 3)
    expected = (x - ours.running_mean) / (ours.running_var + ours.eps).sqrt()
    torch.testing.assert_close(ours(x), expected, rtol=1e-5, atol=1e-5)
    assert int(ours.num_batches_tracked) == 2


def test_r_and_d_are_constants_for_the_gradient() -> None:
    torch.manual_seed(4)
    layer = BatchRenorm1d(3, warmup_steps=1, momentum=0.5).double()
    layer(torch.randn(8, 3, dtype=torch.float64))
    x = torch.randn(8, 3, dtype=torch.float64, requires_grad=True)
    running_mean, running_std = layer.running_mean.clone(), (layer.running_var + layer.eps).sqrt()
    layer(x).pow(2).sum().backward()
    y = x.detach().clone().requires_grad_(True)
    mu, sigma = y.mean(0), (y.var(0, unbiased=False) + layer.eps).sqrt()
    r = (sigma.detach() / running_std).clamp(1 / 3, 3)
    d = ((mu.detach() - running_mean) / running_std).clamp(-5, 5)
    ((y - mu) / sigma * r + d).pow(2).sum().backward()
    torch.testing.assert_close(x.grad, y.grad)


def test_batch_renorm_input_checks_and_bad_arguments() -> None:
    layer = BatchRenorm1d(3)
    with pytest.raises(ValueError, match="2D"):
        layer(torch.randn(3))
    with pytest.raises(ValueError, match="dim 1"):
        layer(torch.randn(4, 5))
    with pytest.raises(ValueError, match="more than one value per feature"):
        layer(torch.randn(1, 3))
    assert layer.eval()(torch.randn(1, 3)).shape == (1, 3)  # evaluation needs no batch statistics
    for kwargs, error in [({"num_features": 0}, ValueError), ({"num_features": 2.0}, ValueError),
                          ({"momentum": 1.5}, ValueError), ({"eps": -1.0}, ValueError),
                          ({"max_r": 0.5}, ValueError), ({"max_d": -1.0}, ValueError),
                          ({"warmup_steps": -1}, ValueError), ({"smooth": 1}, TypeError),
                          ({"momentum": float("nan")}, ValueError), ({"eps": "small"}, TypeError)]:
        arguments = {"num_features": 3, **kwargs}
        with pytest.raises(error):
            BatchRenorm1d(arguments.pop("num_features"), **arguments)


def test_batch_renorm_warmup_zero_renormalises_from_the_first_batch_and_runs_on_meta() -> None:
    layer = BatchRenorm1d(2, warmup_steps=0, momentum=0.0)
    x = torch.tensor([[0.0, 10.0], [2.0, 14.0]])
    # running (0, 1): r = clamp(sigma, 1/3, 3), d = clamp(mu, -5, 5), applied at once
    expected = torch.tensor([[-1.0 * 1.0 + 1.0, -1.0 * 2.0 + 5.0], [1.0 * 1.0 + 1.0, 1.0 * 2.0 + 5.0]])
    torch.testing.assert_close(layer(x), expected, rtol=1e-4, atol=1e-4)
    meta = BatchRenorm1d(6).to("meta")
    assert meta(torch.empty(4, 6, device="meta")).shape == (4, 6)


# ---------------------------------------------------------------------------------------------
# ConsistentDropout


def test_consistent_dropout_draws_a_float_mask_and_reuses_a_given_one() -> None:
    torch.manual_seed(0)
    dropout = ConsistentDropout(p=0.25)
    assert isinstance(dropout, _DropoutNd) and dropout.p == 0.25 and list(dropout.state_dict()) == []
    x = torch.randn(50, 40)
    y, mask = dropout(x)
    assert mask.dtype == torch.float32 and mask.shape == x.shape
    # torchrl's docstring shows a bool mask; its masks are float, 0 or 1 / (1 - p)
    assert torch.equal(mask.unique(), torch.tensor([0.0, 1 / 0.75]))
    torch.testing.assert_close(y, x * mask)
    y_again, same = dropout(torch.ones(50, 40) * x, mask=mask)
    assert same is mask and torch.equal(y_again, y)


@given(st.floats(0.05, 0.95))
def test_consistent_dropout_zeroes_about_p_of_the_elements(p: float) -> None:
    torch.manual_seed(0)
    _, mask = ConsistentDropout(p)(torch.ones(200, 100))
    assert abs((mask == 0).float().mean().item() - p) < 0.02
    assert torch.allclose(mask[mask != 0], torch.tensor(1 / (1 - p)))


def test_consistent_dropout_in_evaluation_returns_the_input_itself() -> None:
    dropout = ConsistentDropout(0.5).eval()
    x = torch.randn(3, 4)
    assert dropout(x) is x and dropout(x, mask=torch.zeros(3, 4)) is x
    assert torch.equal(dropout.make_mask(input=x), torch.ones(3, 4))  # F.dropout off in evaluation


def test_consistent_dropout_make_mask_and_p_checks() -> None:
    dropout = ConsistentDropout(0.5)
    assert dropout.make_mask(shape=(2, 3)).shape == (2, 3)
    assert dropout.make_mask(input=torch.zeros(4, dtype=torch.float64)).dtype == torch.float64
    with pytest.raises(RuntimeError, match="input.*shape"):
        dropout.make_mask()
    assert torch.equal(ConsistentDropout(1.0)(torch.ones(3))[1], torch.zeros(3))  # as torch's dropout, p=1 allowed
    for bad, error in [(-0.1, ValueError), (1.5, ValueError), (float("nan"), ValueError), ("0.5", TypeError)]:
        with pytest.raises(error):
            ConsistentDropout(bad)


def test_consistent_dropout_layer_returns_one_tensor_in_both_modes() -> None:
    torch.manual_seed(0)
    layer = ConsistentDropoutLayer(0.5)
    x = torch.randn(4, 6)
    out = layer(x)
    assert isinstance(out, torch.Tensor) and out.shape == x.shape
    mask = torch.full((4, 6), 2.0)
    assert torch.equal(layer(x, mask), x * 2)
    assert layer.eval()(x) is x
    assert nn.Sequential(nn.Linear(6, 6), ConsistentDropoutLayer(0.2), nn.Tanh())(x).shape == (4, 6)


# ---------------------------------------------------------------------------------------------
# ConsistentDropoutModule


def test_module_keys_follow_torchrl_mask_per_object() -> None:
    module = ConsistentDropoutModule(0.1, in_keys="x")
    assert module.in_keys == ["x", f"mask_{id(module)}"] and module.out_keys == module.in_keys
    other = ConsistentDropoutModule(0.1, in_keys="x")
    assert other.in_keys[1] != module.in_keys[1]  # a new mask name per object: torchrl's quirk, kept
    listed = ConsistentDropoutModule(0.1, in_keys=["x", "m"], out_keys=["y", "m"])
    assert (listed.in_keys, listed.out_keys) == (["x", "m"], ["y", "m"])
    named = ConsistentDropoutModule(0.1, in_keys=("agents", "x"), out_keys="y", mask_key=("agents", "m"))
    assert named.in_keys == [("agents", "x"), ("agents", "m")] and named.out_keys == ["y", ("agents", "m")]
    assert module.p == 0.1 and list(module.state_dict()) == [] and isinstance(module.consistent_dropout,
                                                                             ConsistentDropout)


def test_module_argument_errors() -> None:
    with pytest.raises(ValueError, match="length must be 2"):
        ConsistentDropoutModule(0.1, in_keys=["x"])
    with pytest.raises(ValueError, match=r"\[0, ?1\)"):
        ConsistentDropoutModule(1.0, in_keys="x")
    with pytest.raises(ValueError, match="mask_key"):
        ConsistentDropoutModule(0.1, in_keys=["x", "m"], mask_key="other")
    with pytest.raises(TypeError):
        ConsistentDropoutModule(0.1, in_keys=3)
    with pytest.raises(TypeError):
        ConsistentDropoutModule(0.1, in_keys="x", mask_key=3)


def test_module_stores_its_mask_and_an_update_replays_it() -> None:
    torch.manual_seed(0)
    module = ConsistentDropoutModule(0.5, in_keys="hidden", out_keys="dropped", mask_key="mask")
    hidden = torch.randn(5, 8)
    rollout = module(TensorDict(hidden=hidden, batch_size=[5]))
    mask = rollout["mask"]
    assert mask.dtype == torch.float32 and set(mask.unique().tolist()) <= {0.0, 2.0}
    torch.testing.assert_close(rollout["dropped"], hidden * mask)
    update = module(TensorDict(hidden=hidden, mask=mask, batch_size=[5]))  # the stored data, read again
    assert torch.equal(update["dropped"], rollout["dropped"]) and torch.equal(update["mask"], mask)
    fresh = module(TensorDict(hidden=hidden, batch_size=[5]))
    assert not torch.equal(fresh["mask"], mask)  # without the stored mask, a new one


def test_module_in_evaluation_writes_the_input_and_no_mask() -> None:
    module = ConsistentDropoutModule(0.5, in_keys="x", out_keys="y", mask_key="m").eval()
    x = torch.randn(3, 2)
    out = module(TensorDict(x=x, batch_size=[3]))
    assert torch.equal(out["y"], x) and "m" not in out.keys()


def test_module_primer_draws_a_new_mask_at_each_reset() -> None:
    with pytest.raises(RuntimeError, match="input_shape"):
        ConsistentDropoutModule(0.1, in_keys="x").make_tensordict_primer()
    module = ConsistentDropoutModule(0.5, in_keys="x", input_shape=(64,))
    primer = module.make_tensordict_primer()
    mask_key = module.in_keys[1]
    assert primer.keys() == [mask_key]
    torch.manual_seed(0)
    first = primer.reset(TensorDict(batch_size=[3]))[mask_key]
    second = primer.reset(TensorDict(batch_size=[3]))[mask_key]
    assert first.shape == (3, 64) and set(first.unique().tolist()) <= {0.0, 2.0}
    assert not torch.equal(first, second)  # a new episode, a new mask
    kept = TensorDict({mask_key: first}, batch_size=[3])
    assert primer.reset(kept)[mask_key] is first  # within an episode the mask stays
    x = torch.randn(3, 64)
    out = module(TensorDict(x=x, **{mask_key: first}, batch_size=[3]))
    assert torch.equal(out["x"], x * first)


# ---------------------------------------------------------------------------------------------
# LSTMNet


def _net(**lstm: object) -> LSTMNet:
    torch.manual_seed(0)
    return LSTMNet(10, {"input_size": 5, "hidden_size": 6, **lstm}, {"in_features": 4, "out_features": 5,
                                                                       "num_cells": [8]})


def test_lstm_net_structure_and_state_dict_names() -> None:
    net = _net(num_layers=2)
    assert isinstance(net.mlp, MLP) and isinstance(net.lstm, nn.LSTM) and net.lstm.batch_first
    assert list(net.state_dict()) == [
        "mlp.0.weight", "mlp.0.bias", "mlp.2.weight", "mlp.2.bias",
        "lstm.weight_ih_l0", "lstm.weight_hh_l0", "lstm.bias_ih_l0", "lstm.bias_hh_l0",
        "lstm.weight_ih_l1", "lstm.weight_hh_l1", "lstm.bias_ih_l1", "lstm.bias_hh_l1",
        "linear.weight", "linear.bias"]
    assert net.linear.weight.shape == (10, 6)


@pytest.mark.parametrize("lead", [(7, 6), (7,), ()], ids=["sequence", "step", "unbatched"])
def test_lstm_net_shapes(lead: tuple) -> None:
    net = _net(num_layers=2)
    outputs = net(torch.randn(*lead, 4))
    assert [tuple(t.shape) for t in outputs] == [(*lead, 10)] + [(*lead, 2, 6)] * 4


def test_lstm_net_outputs_equal_the_layers_run_by_hand() -> None:
    net = _net(num_layers=2)
    x = torch.randn(3, 5, 4)
    y, h_in, c_in, h_out, c_out = net(x)
    features, (h, c) = net.lstm(net.mlp(x))  # zero initial states
    torch.testing.assert_close(y, net.linear(features))
    assert not h_in.any() and not c_in.any()
    assert not h_out[:, :-1].any() and not c_out[:, :-1].any()  # zero but at the last step
    torch.testing.assert_close(h_out[:, -1], h.transpose(0, 1))
    torch.testing.assert_close(c_out[:, -1], c.transpose(0, 1))


def test_lstm_net_steps_fed_their_states_equal_the_sequence() -> None:
    net = _net(num_layers=2)
    x = torch.randn(3, 4, 4)
    y_sequence = net(x)[0]
    h = c = None
    steps = []
    for t in range(4):
        y, _, _, h, c = net(x[:, t], h, c) if h is not None else net(x[:, t])
        steps.append(y)
    torch.testing.assert_close(torch.stack(steps, 1), y_sequence)


def test_lstm_net_reads_the_first_step_of_given_sequence_states() -> None:
    net = _net()
    x = torch.randn(2, 3, 4)
    h0, c0 = torch.randn(2, 3, 1, 6), torch.randn(2, 3, 1, 6)
    y, h_in, c_in, _, _ = net(x, h0, c0)
    assert h_in is h0 and c_in is c0
    features, _ = net.lstm(net.mlp(x), (h0[:, 0].transpose(0, 1).contiguous(), c0[:, 0].transpose(0, 1).contiguous()))
    torch.testing.assert_close(y, net.linear(features))
    unbatched = net(torch.randn(4), torch.randn(1, 6), torch.randn(1, 6))
    assert [tuple(t.shape) for t in unbatched] == [(10,)] + [(1, 6)] * 4


def test_lstm_net_leaves_its_arguments_alone_and_reports_bad_ones() -> None:
    lstm_kwargs = {"input_size": 5, "hidden_size": 6}
    LSTMNet(3, lstm_kwargs, {"out_features": 5})
    assert lstm_kwargs == {"input_size": 5, "hidden_size": 6}  # torchrl adds batch_first to the caller's dict
    with pytest.raises(ValueError, match="lstm_backend"):
        LSTMNet(3, lstm_kwargs, {"out_features": 5}, lstm_backend="cudnn")
    with pytest.raises(ValueError):
        LSTMNet(0, lstm_kwargs, {"out_features": 5})
    with pytest.raises(TypeError, match="dict"):
        LSTMNet(3, [("input_size", 5)], {"out_features": 5})
    net = _net()
    with pytest.raises(RuntimeError, match="both hidden states"):
        net(torch.randn(2, 4), torch.zeros(2, 1, 6))
    with pytest.raises(ValueError, match="batch, time, features"):
        net(torch.randn(2, 3, 4, 4))


@pytest.mark.filterwarnings("ignore:LSTM with projections")
def test_lstm_net_states_of_bidirectional_and_projected_lstms() -> None:
    net = LSTMNet(3, {"input_size": 5, "hidden_size": 6, "proj_size": 2, "bidirectional": True, "num_layers": 2},
                  {"out_features": 5, "in_features": 4})
    y, h_in, c_in, h_out, c_out = net(torch.randn(2, 3, 4))
    assert y.shape == (2, 3, 3)
    assert h_in.shape == h_out.shape == (2, 3, 4, 2) and c_in.shape == c_out.shape == (2, 3, 4, 6)


def test_lstm_net_from_sizes() -> None:
    net = lstm_net_from_sizes(2, 8, in_features=3, num_layers=2, mlp_num_cells=[16], mlp_activation_class=nn.ReLU)
    assert net.mlp[0].in_features == 3 and net.mlp[-1].out_features == 8 and isinstance(net.mlp[1], nn.ReLU)
    assert (net.lstm.input_size, net.lstm.hidden_size, net.lstm.num_layers) == (8, 8, 2)
    assert lstm_net_from_sizes(2, 8, in_features=3, mlp_out_features=5).lstm.input_size == 5
    with pytest.raises(ValueError):
        lstm_net_from_sizes(2, 0, in_features=3)


def test_lstm_net_with_torchrls_python_lstm_gives_the_same_numbers() -> None:
    from rldsl.modules import LSTM

    torch.manual_seed(0)
    native = LSTMNet(3, {"input_size": 5, "hidden_size": 6}, {"out_features": 5})
    python = LSTMNet(3, {"input_size": 5, "hidden_size": 6}, {"out_features": 5}, lstm_backend="torchrl")
    assert isinstance(python.lstm, LSTM) and python.lstm.batch_first
    x = torch.randn(2, 4, 5)
    native(x), python(x)  # size the lazy layers
    python.load_state_dict(native.state_dict())
    for a, b in zip(native(x), python(x)):
        torch.testing.assert_close(a, b)
