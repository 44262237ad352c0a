"""Dreamer's modules (rldsl.modules.dreamer, rldsl.modules.tensordict_module.world_models) against
torchrl 0.14's documented layout, defaults, state_dict names, shapes and numerics."""

from __future__ import annotations

import doctest
from copy import deepcopy

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule, TensorDictSequential
from torch import nn
from torch.nn import functional as F

import rldsl.modules.dreamer
import rldsl.modules.tensordict_module.world_models
from rldsl.modules import (
    MLP,
    DreamerActor,
    ObsDecoder,
    ObsEncoder,
    RSSMPosterior,
    RSSMPrior,
    RSSMRollout,
    SafeModule,
    TanhNormal,
    WorldModelWrapper,
)
from rldsl.modules.utils import inv_softplus
from rldsl.specs import Bounded

BATCHES = [(), (4,), (2, 3)]
ACTION = Bounded(-1.0, 1.0, shape=(6,))
PRIOR_KEYS = dict(in_keys=["state", "belief", "action"],
                  out_keys=[("next", "prior_mean"), ("next", "prior_std"), "_", ("next", "belief")])
POSTERIOR_KEYS = dict(in_keys=[("next", "belief"), ("next", "encoded_latents")],
                      out_keys=[("next", "posterior_mean"), ("next", "posterior_std"), ("next", "state")])


def layout(module: nn.Module) -> list[str]:
    """The layers of a sequential network with their sizes (lazy layers without their input size)."""
    out = []
    for layer in module:
        if isinstance(layer, (nn.LazyLinear, nn.LazyConv2d)):
            width = layer.out_features if isinstance(layer, nn.Linear) else layer.out_channels
            out.append(f"{type(layer).__name__}({width})")
        elif isinstance(layer, nn.Linear):
            out.append(f"Linear({layer.in_features}, {layer.out_features})")
        elif isinstance(layer, (nn.Conv2d, nn.ConvTranspose2d)):
            out.append(f"{type(layer).__name__}({layer.in_channels}, {layer.out_channels}, k={layer.kernel_size[0]}, "
                       f"s={layer.stride[0]})")
        else:
            out.append(type(layer).__name__)
    return out


def shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {name: tuple(value.shape) for name, value in module.state_dict().items()}


def test_doctests() -> None:
    for module in (rldsl.modules.dreamer, rldsl.modules.tensordict_module.world_models):
        assert doctest.testmod(module).failed == 0


# --- ObsEncoder ---------------------------------------------------------------------------------------
def test_encoder_layout_and_state_dict_names() -> None:
    encoder = ObsEncoder(in_channels=3)
    assert layout(encoder.encoder) == [
        "Conv2d(3, 32, k=4, s=2)", "ReLU", "Conv2d(32, 64, k=4, s=2)", "ReLU",
        "Conv2d(64, 128, k=4, s=2)", "ReLU", "Conv2d(128, 256, k=4, s=2)", "ReLU"]
    assert shapes(encoder) == {
        "encoder.0.weight": (32, 3, 4, 4), "encoder.0.bias": (32,), "encoder.2.weight": (64, 32, 4, 4),
        "encoder.2.bias": (64,), "encoder.4.weight": (128, 64, 4, 4), "encoder.4.bias": (128,),
        "encoder.6.weight": (256, 128, 4, 4), "encoder.6.bias": (256,)}
    lazy = ObsEncoder()
    assert layout(lazy.encoder)[0] == "LazyConv2d(32)"
    lazy(torch.zeros(1, 3, 64, 64))
    assert shapes(lazy) == shapes(encoder)
    lazy.load_state_dict(encoder.state_dict())  # a checkpoint with torchrl's names loads


@pytest.mark.parametrize("batch", BATCHES + [(2, 3, 5)])
def test_encoder_flattens_and_restores_batch_dims(batch: tuple[int, ...]) -> None:
    encoder = ObsEncoder(in_channels=3)
    pixels = torch.randn(*batch, 3, 64, 64)
    embedding = encoder(pixels)
    assert embedding.shape == (*batch, 1024)
    flat = encoder(pixels.reshape(-1, 3, 64, 64))
    assert torch.allclose(embedding.reshape(-1, 1024), flat, atol=1e-6)


def test_encoder_embedding_is_channel_major_flattening_of_the_last_map() -> None:
    encoder = ObsEncoder(in_channels=3)
    pixels = torch.randn(2, 3, 64, 64)
    assert torch.equal(encoder(pixels), encoder.encoder(pixels).reshape(2, -1))
    assert encoder.encoder(pixels).shape == (2, 256, 2, 2)


@pytest.mark.parametrize("channels, num_layers, size, features", [
    (64, 4, 64, 64 * 8 * 4), (16, 3, 64, 16 * 4 * 6 * 6), (8, 1, 10, 8 * 4 * 4), (32, 4, 46, 256)])
def test_encoder_sizes(channels: int, num_layers: int, size: int, features: int) -> None:
    encoder = ObsEncoder(channels=channels, num_layers=num_layers)
    assert encoder(torch.zeros(2, 1, size, size)).shape == (2, features)


def test_encoder_argument_errors() -> None:
    with pytest.warns(UserWarning, match="channels=16"):
        encoder = ObsEncoder(depth=16, in_channels=3)
    assert encoder.encoder[0].out_channels == 16
    with pytest.raises(RuntimeError, match="num_layers cannot be smaller than 1"):
        ObsEncoder(num_layers=0)
    with pytest.raises(ValueError):
        ObsEncoder(num_layers=0)
    with pytest.raises(TypeError, match="channels"):
        ObsEncoder(channels=2.5)
    with pytest.raises(ValueError, match="in_channels"):
        ObsEncoder(in_channels=0)
    with pytest.raises(ValueError, match="at least 46x46"):
        ObsEncoder(in_channels=3)(torch.zeros(1, 3, 45, 64))
    with pytest.raises(ValueError, match=r"\[\*B, C, H, W\]"):
        ObsEncoder(in_channels=3)(torch.zeros(64, 64))


# --- ObsDecoder ---------------------------------------------------------------------------------------
def test_decoder_layout_and_state_dict_names() -> None:
    decoder = ObsDecoder(latent_dim=230)
    assert layout(decoder.state_to_latent) == ["Linear(230, 1024)", "ReLU"]
    assert layout(decoder.decoder) == [
        "ConvTranspose2d(1024, 128, k=5, s=2)", "ReLU", "ConvTranspose2d(128, 64, k=5, s=2)", "ReLU",
        "ConvTranspose2d(64, 32, k=6, s=2)", "ReLU", "ConvTranspose2d(32, 3, k=6, s=2)"]
    assert shapes(decoder) == {
        "state_to_latent.0.weight": (1024, 230), "state_to_latent.0.bias": (1024,),
        "decoder.0.weight": (1024, 128, 5, 5), "decoder.0.bias": (128,),
        "decoder.2.weight": (128, 64, 5, 5), "decoder.2.bias": (64,),
        "decoder.4.weight": (64, 32, 6, 6), "decoder.4.bias": (32,),
        "decoder.6.weight": (32, 3, 6, 6), "decoder.6.bias": (3,)}
    lazy = ObsDecoder()
    assert isinstance(lazy.state_to_latent[0], nn.LazyLinear)
    lazy(torch.zeros(30), torch.zeros(200))
    lazy.load_state_dict(decoder.state_dict())
    assert decoder._depth == 32


@pytest.mark.parametrize("batch", BATCHES + [(2, 3, 5)])
def test_decoder_gives_64x64_pixels_for_any_batch(batch: tuple[int, ...]) -> None:
    decoder = ObsDecoder(latent_dim=230)
    state, hidden = torch.randn(*batch, 30), torch.randn(*batch, 200)
    pixels = decoder(state, hidden)
    assert pixels.shape == (*batch, 3, 64, 64)
    flat = decoder(state.reshape(-1, 30), hidden.reshape(-1, 200))
    assert torch.allclose(pixels.reshape(-1, 3, 64, 64), flat, atol=1e-6)


@pytest.mark.parametrize("kwargs, channels, size", [
    (dict(out_channels=1), 1, 64),
    (dict(channels=16), 3, 64),
    (dict(num_layers=3), 3, 29),  # kernels 5: 1 -> 5 -> 13 -> 29
    (dict(num_layers=2, kernel_sizes=4), 3, 10),  # 1 -> 4 -> 10
    (dict(kernel_sizes=[4, 4, 4, 4]), 3, 46),
])
def test_decoder_options(kwargs: dict, channels: int, size: int) -> None:
    decoder = ObsDecoder(**kwargs)
    assert decoder(torch.zeros(2, 10), torch.zeros(2, 20)).shape == (2, channels, size, size)


def test_decoder_channel_chain_with_three_layers() -> None:
    decoder = ObsDecoder(channels=8, num_layers=3)
    assert layout(decoder.decoder) == [
        "ConvTranspose2d(256, 16, k=5, s=2)", "ReLU", "ConvTranspose2d(16, 8, k=5, s=2)", "ReLU",
        "ConvTranspose2d(8, 3, k=5, s=2)"]


def test_decoder_argument_errors() -> None:
    with pytest.warns(UserWarning, match="channels=8"):
        assert ObsDecoder(depth=8)._depth == 8
    with pytest.raises(RuntimeError, match="num_layers cannot be smaller than 1"):
        ObsDecoder(num_layers=0)
    with pytest.raises(ValueError, match="at least 2"):  # torchrl's one-layer decoder cannot run
        ObsDecoder(num_layers=1)
    with pytest.raises(ValueError, match="3 entries for 4 layers"):
        ObsDecoder(kernel_sizes=[5, 5, 6])
    with pytest.raises(TypeError, match="kernel_sizes"):
        ObsDecoder(kernel_sizes="5")
    with pytest.raises(ValueError, match="out_channels"):
        ObsDecoder(out_channels=0)
    with pytest.raises(ValueError, match="same leading"):
        ObsDecoder()(torch.zeros(2, 30), torch.zeros(3, 200))


# --- RSSMPrior ----------------------------------------------------------------------------------------
def test_prior_layout_defaults_and_state_dict_names() -> None:
    prior = RSSMPrior(ACTION, action_dim=6)
    assert (prior.rnn.input_size, prior.rnn.hidden_size) == (200, 200)
    assert layout(prior.action_state_projector) == ["Linear(36, 200)", "ELU"]
    assert layout(prior.rnn_to_prior_projector) == [
        "Linear(200, 200)", "ELU", "Linear(200, 60)", "NormalParamExtractor"]
    assert shapes(prior) == {
        "rnn.weight_ih": (600, 200), "rnn.weight_hh": (600, 200), "rnn.bias_ih": (600,), "rnn.bias_hh": (600,),
        "action_state_projector.0.weight": (200, 36), "action_state_projector.0.bias": (200,),
        "rnn_to_prior_projector.0.weight": (200, 200), "rnn_to_prior_projector.0.bias": (200,),
        "rnn_to_prior_projector.2.weight": (60, 200), "rnn_to_prior_projector.2.bias": (60,)}
    assert (prior.state_dim, prior.rnn_hidden_dim, prior.action_shape) == (30, 200, torch.Size([6]))
    assert prior.rnn_to_prior_projector[-1].scale_lb == 0.1
    lazy = RSSMPrior(ACTION)
    assert isinstance(lazy.action_state_projector[0], nn.LazyLinear)
    lazy(torch.zeros(30), torch.zeros(200), torch.zeros(6))
    lazy.load_state_dict(prior.state_dict())


def reference_prior(prior: RSSMPrior, state, belief, action, noise):
    """The prior written out from its state dict: Linear+ELU, torch's GRU cell equations, the
    projector, ``std = max(softplus, 0.1)``, ``state = mean + noise * std``."""
    p = prior.state_dict()
    x = F.elu(F.linear(torch.cat([state, action], -1), p["action_state_projector.0.weight"],
                       p["action_state_projector.0.bias"]))
    gi = F.linear(x, p["rnn.weight_ih"], p["rnn.bias_ih"])
    gh = F.linear(belief, p["rnn.weight_hh"], p["rnn.bias_hh"])
    i_r, i_z, i_n = gi.chunk(3, -1)
    h_r, h_z, h_n = gh.chunk(3, -1)
    reset, update = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    new = torch.tanh(i_n + reset * h_n)
    belief = (1 - update) * new + update * belief
    hidden = F.elu(F.linear(belief, p["rnn_to_prior_projector.0.weight"], p["rnn_to_prior_projector.0.bias"]))
    mean, raw = F.linear(hidden, p["rnn_to_prior_projector.2.weight"], p["rnn_to_prior_projector.2.bias"]).chunk(2, -1)
    std = F.softplus(raw).clamp_min(0.1)
    return mean, std, mean + noise * std, belief


@pytest.mark.parametrize("batch", BATCHES)
def test_prior_numerics_and_batch_dims(batch: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    prior = RSSMPrior(ACTION, hidden_dim=16, rnn_hidden_dim=16, state_dim=5, action_dim=6)
    state, belief, action = torch.randn(*batch, 5), torch.randn(*batch, 16), torch.randn(*batch, 6)
    noise = torch.randn(*batch, 5)
    got = prior(state, belief, action, noise)
    expected = reference_prior(prior, state, belief, action, noise)
    assert [tuple(t.shape) for t in got] == [(*batch, 5)] * 3 + [(*batch, 16)]
    for value, reference in zip(got, expected):
        assert torch.allclose(value, reference, atol=1e-5)
    assert bool((got[1] >= 0.1).all())


def test_prior_without_belief_starts_from_zeros_and_noise_positionally() -> None:
    torch.manual_seed(1)
    prior = RSSMPrior(ACTION, hidden_dim=8, rnn_hidden_dim=8, state_dim=3)
    state, action, noise = torch.randn(4, 3), torch.randn(4, 6), torch.randn(4, 3)
    from_none = prior(state, None, action, noise)
    from_zeros = prior(state, torch.zeros(4, 8), action, noise)
    for a, b in zip(from_none, from_zeros):
        assert torch.equal(a, b)


def test_prior_samples_are_reparameterised() -> None:
    torch.manual_seed(2)
    prior = RSSMPrior(ACTION, hidden_dim=8, rnn_hidden_dim=8, state_dim=3, action_dim=6)
    state, belief, action = (torch.randn(1, size).expand(20000, size) for size in (3, 8, 6))
    mean, std, sample, _ = prior(state, belief, action)
    assert torch.allclose(sample.mean(0), mean[0], atol=4 * std[0].max().item() / 100)
    assert torch.allclose(sample.std(0), std[0], rtol=0.05)
    sample[:5].sum().backward()  # gradients reach the projector through mean and std
    assert prior.rnn_to_prior_projector[2].weight.grad.abs().sum() > 0
    assert prior.rnn.weight_ih.grad.abs().sum() > 0


def test_prior_sizes_its_projector_from_the_belief() -> None:
    # torchrl's projector is Linear(hidden_dim, ...) fed the belief: it needs hidden_dim == rnn_hidden_dim
    prior = RSSMPrior(ACTION, hidden_dim=12, rnn_hidden_dim=20, state_dim=4, action_dim=6)
    assert layout(prior.rnn_to_prior_projector)[0] == "Linear(20, 12)"
    mean, _, _, belief = prior(torch.zeros(2, 4), torch.zeros(2, 20), torch.zeros(2, 6))
    assert mean.shape == (2, 4) and belief.shape == (2, 20)


def test_prior_gru_runs_in_its_own_dtype_with_autocast_off() -> None:
    torch.manual_seed(3)
    prior = RSSMPrior(ACTION, hidden_dim=8, rnn_hidden_dim=8, state_dim=3, action_dim=6)
    state, belief, action = torch.randn(2, 3), torch.randn(2, 8), torch.randn(2, 6)
    reference = prior(state, belief, action, torch.zeros(2, 3))[3]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        under_autocast = prior(state, belief, action, torch.zeros(2, 3))[3]
    assert under_autocast.dtype == torch.bfloat16
    assert torch.allclose(under_autocast.float(), reference, atol=0.05)
    double = prior.double()
    assert double(state.double(), belief.double(), action.double())[3].dtype == torch.float64


def test_prior_argument_errors() -> None:
    with pytest.raises(TypeError, match="action_spec"):
        RSSMPrior(None)
    with pytest.raises(ValueError, match="action_dim=6"):
        RSSMPrior(ACTION, action_dim=4)
    with pytest.raises(ValueError, match="state_dim"):
        RSSMPrior(ACTION, state_dim=0)
    with pytest.raises(ValueError, match="scale_lb"):
        RSSMPrior(ACTION, scale_lb=-0.1)
    prior = RSSMPrior(ACTION, hidden_dim=8, rnn_hidden_dim=8, state_dim=3, action_dim=6)
    with pytest.raises(ValueError, match="needs a state"):
        prior(None, None, torch.zeros(6))
    with pytest.raises(ValueError, match="noise has shape"):
        prior(torch.zeros(2, 3), None, torch.zeros(2, 6), torch.zeros(3))
    with pytest.raises(ValueError, match="same leading"):
        prior(torch.zeros(2, 3), torch.zeros(3, 8), torch.zeros(2, 6))


# --- RSSMPosterior ------------------------------------------------------------------------------------
def test_posterior_layout_defaults_and_state_dict_names() -> None:
    posterior = RSSMPosterior(rnn_hidden_dim=200, obs_embed_dim=1024)
    assert layout(posterior.obs_rnn_to_post_projector) == [
        "Linear(1224, 200)", "ELU", "Linear(200, 60)", "NormalParamExtractor"]
    assert shapes(posterior) == {
        "obs_rnn_to_post_projector.0.weight": (200, 1224), "obs_rnn_to_post_projector.0.bias": (200,),
        "obs_rnn_to_post_projector.2.weight": (60, 200), "obs_rnn_to_post_projector.2.bias": (60,)}
    assert posterior.hidden_dim == 200
    for lazy in (RSSMPosterior(), RSSMPosterior(rnn_hidden_dim=200)):
        assert isinstance(lazy.obs_rnn_to_post_projector[0], nn.LazyLinear)
        lazy(torch.zeros(200), torch.zeros(1024))
        lazy.load_state_dict(posterior.state_dict())


@pytest.mark.parametrize("batch", BATCHES)
def test_posterior_numerics_and_batch_dims(batch: tuple[int, ...]) -> None:
    torch.manual_seed(4)
    posterior = RSSMPosterior(hidden_dim=16, state_dim=5, scale_lb=0.2, rnn_hidden_dim=8, obs_embed_dim=10)
    belief, embedding, noise = torch.randn(*batch, 8), torch.randn(*batch, 10), torch.randn(*batch, 5)
    mean, std, state = posterior(belief, embedding, noise)
    net = posterior.obs_rnn_to_post_projector
    expected_mean, raw = net[2](net[1](net[0](torch.cat([belief, embedding], -1)))).chunk(2, -1)
    assert mean.shape == std.shape == state.shape == (*batch, 5)
    assert torch.allclose(mean, expected_mean) and torch.allclose(std, F.softplus(raw).clamp_min(0.2))
    assert torch.allclose(state, mean + noise * std)
    torch.manual_seed(5)
    first = posterior(belief, embedding)[2]
    torch.manual_seed(5)
    assert torch.equal(first, posterior(belief, embedding)[2])  # the draw is randn_like's


# --- DreamerActor -------------------------------------------------------------------------------------
def test_actor_layout_defaults_and_state_dict_names() -> None:
    actor = DreamerActor(6)
    assert isinstance(actor.backbone, MLP)
    assert layout(actor.backbone) == ["LazyLinear(200)", "ELU", "Linear(200, 200)", "ELU", "Linear(200, 200)", "ELU",
                                      "Linear(200, 200)", "ELU", "Linear(200, 12)", "NormalParamExtractor"]
    actor(torch.zeros(30), torch.zeros(200))
    assert list(actor.state_dict()) == [f"backbone.{i}.{p}" for i in (0, 2, 4, 6, 8) for p in ("weight", "bias")]
    assert actor.state_dict()["backbone.0.weight"].shape == (200, 230)


@pytest.mark.parametrize("batch", BATCHES + [(2, 3, 5)])
def test_actor_shapes_and_tanh_normal(batch: tuple[int, ...]) -> None:
    actor = DreamerActor(3, depth=1, num_cells=16)
    loc, scale = actor(torch.randn(*batch, 4), torch.randn(*batch, 7))
    assert loc.shape == scale.shape == (*batch, 3) and bool((scale > 0).all())
    action = TanhNormal(loc, scale).rsample()
    assert action.shape == (*batch, 3) and bool((action.abs() <= 1).all())


@pytest.mark.parametrize("std_bias, std_min_val", [(5.0, 1e-4), (1.0, 0.1), (2.0, 0.0)])
def test_actor_scale_mapping_is_the_biased_softplus(std_bias: float, std_min_val: float) -> None:
    actor = DreamerActor(2, depth=1, num_cells=8, std_bias=std_bias, std_min_val=std_min_val)
    raw = torch.randn(5, 4) * 3
    last = actor.backbone[2]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.copy_(raw[0])
    loc, scale = actor(torch.randn(1, 3), torch.randn(1, 2))
    expected = F.softplus(raw[0, 2:] + inv_softplus(std_bias - std_min_val)) + std_min_val
    assert torch.allclose(loc[0], raw[0, :2]) and torch.allclose(scale[0], expected)
    with torch.no_grad():
        last.bias.zero_()
    assert torch.allclose(actor(torch.randn(1, 3), torch.randn(1, 2))[1], torch.full((1, 2), std_bias))


def test_actor_argument_errors() -> None:
    with pytest.raises(TypeError, match="out_features"):
        DreamerActor((2, 3))
    with pytest.raises(ValueError, match="std_bias"):
        DreamerActor(2, std_bias=1e-5)
    with pytest.raises(ValueError, match="std_min_val"):
        DreamerActor(2, std_min_val=-1.0)
    with pytest.raises(ValueError, match="same leading"):
        DreamerActor(2)(torch.zeros(2, 3), torch.zeros(4, 3))


# --- RSSMRollout --------------------------------------------------------------------------------------
def make_rollout(state_dim=4, belief_dim=8, action_dim=2, embed_dim=5, device=None, **kwargs) -> RSSMRollout:
    spec = Bounded(-1.0, 1.0, shape=(action_dim,))
    prior = RSSMPrior(spec, belief_dim, belief_dim, state_dim, action_dim=action_dim, device=device)
    posterior = RSSMPosterior(belief_dim, state_dim, rnn_hidden_dim=belief_dim, obs_embed_dim=embed_dim, device=device)
    return RSSMRollout(TensorDictModule(prior, **PRIOR_KEYS), TensorDictModule(posterior, **POSTERIOR_KEYS), **kwargs)


def rollout_input(batch, steps, belief=True, device=None) -> TensorDict:
    entries = {"state": torch.randn(*batch, steps, 4, device=device),
               "action": torch.randn(*batch, steps, 2, device=device),
               ("next", "encoded_latents"): torch.randn(*batch, steps, 5, device=device),
               "other": torch.randn(*batch, steps, 1, device=device)}
    if belief:
        entries["belief"] = torch.randn(*batch, steps, 8, device=device)
    return TensorDict(entries, [*batch, steps], device=device)


def test_rollout_keys_and_state_dict_names() -> None:
    rollout = make_rollout()
    assert rollout.in_keys == ["state", "belief", "action", ("next", "encoded_latents")]
    assert rollout.out_keys == [("next", "prior_mean"), ("next", "prior_std"), "_", ("next", "belief"),
                                ("next", "posterior_mean"), ("next", "posterior_std"), ("next", "state")]
    names = list(rollout.state_dict())
    assert names[0] == "rssm_prior.module.rnn.weight_ih"
    assert names[-1] == "rssm_posterior.module.obs_rnn_to_post_projector.2.bias"
    assert (rollout.use_scan, rollout.compile_step, rollout.compile_backend, rollout.compile_mode) == (
        False, False, "inductor", None)


@pytest.mark.parametrize("batch", [(), (3,), (2, 3)])
def test_rollout_equals_stepping_by_hand(batch: tuple[int, ...]) -> None:
    torch.manual_seed(6)
    rollout, steps = make_rollout(), 5
    td = rollout_input(batch, steps)
    before = td.clone()
    torch.manual_seed(7)
    out = rollout(td)
    assert out.batch_size == (*batch, steps)
    assert (td == before).all()  # the input is not modified

    prior, posterior = rollout.rssm_prior.module, rollout.rssm_posterior.module
    torch.manual_seed(7)  # the same draws, in the same order: the prior's, then the posterior's, per step
    state, belief = td["state"][..., 0, :], td["belief"][..., 0, :]
    for t in range(steps):
        step = out[..., t]
        assert torch.equal(step["state"], state) and torch.equal(step["belief"], belief)
        prior_mean, prior_std, _, belief = prior(state, belief, td["action"][..., t, :])
        post_mean, post_std, state = posterior(belief, td["next", "encoded_latents"][..., t, :])
        for key, value in (("prior_mean", prior_mean), ("prior_std", prior_std), ("belief", belief),
                           ("posterior_mean", post_mean), ("posterior_std", post_std), ("state", state)):
            assert torch.allclose(step["next", key], value, atol=1e-6), (t, key)
        for key in ("action", "other"):
            assert torch.equal(step[key], td[key][..., t, :])


def test_rollout_reads_only_the_first_state_and_belief() -> None:
    torch.manual_seed(8)
    rollout = make_rollout()
    td = rollout_input((2,), 4)
    changed = td.clone()
    changed["state"][:, 1:] = 0
    changed["belief"][:, 1:] = 7.0
    changed["next", "belief"] = torch.ones(2, 4, 8)  # outputs in the input are replaced
    torch.manual_seed(0)
    first = rollout(td)
    torch.manual_seed(0)
    second = rollout(changed)
    for key in rollout.out_keys:
        if key != "_":
            assert torch.equal(first[key], second[key]), key


def test_rollout_without_a_belief_primer_starts_from_zeros_and_records_them() -> None:
    torch.manual_seed(9)
    rollout = make_rollout()
    td = rollout_input((3,), 4, belief=False)
    with_zeros = td.clone()
    with_zeros["belief"] = torch.zeros(3, 4, 8)
    torch.manual_seed(1)
    out = rollout(td)
    torch.manual_seed(1)
    expected = rollout(with_zeros)
    assert torch.equal(out["belief"][:, 0], torch.zeros(3, 8))
    assert (out == expected).all()


def test_rollout_of_lazy_safe_modules_as_torchrl_tests_it() -> None:
    # torchrl's own test: lazy layers, SafeModule wrappers, the belief given under "next" only
    prior = SafeModule(RSSMPrior(Bounded(-1.0, 1.0, shape=(3,)), hidden_dim=10, rnn_hidden_dim=10, state_dim=20),
                       **PRIOR_KEYS)
    posterior = SafeModule(RSSMPosterior(hidden_dim=10, state_dim=20), **POSTERIOR_KEYS)
    rollout = RSSMRollout(prior, posterior)
    td = TensorDict({"state": torch.randn(2, 4, 20), "action": torch.randn(2, 4, 3),
                     "next": {"encoded_latents": torch.randn(2, 4, 1024), "belief": torch.randn(2, 4, 10)}}, [2, 4])
    rollout(td.clone())  # sizes the lazy layers
    out = rollout(td)
    for key, size in (("prior_mean", 20), ("prior_std", 20), ("state", 20), ("belief", 10),
                      ("posterior_mean", 20), ("posterior_std", 20)):
        assert out["next", key].shape == (2, 4, size)
    assert bool((out["next", "prior_std"] > 0).all()) and bool((out["next", "posterior_std"] > 0).all())


def test_rollout_errors() -> None:
    with pytest.raises(ValueError, match="needs a time dim"):
        make_rollout()(TensorDict(state=torch.zeros(4), batch_size=[]))
    with pytest.raises(TypeError, match="rssm_prior must be a tensordict module"):
        RSSMRollout(RSSMPrior(ACTION), make_rollout().rssm_posterior)
    with pytest.raises(TypeError, match="use_scan"):
        make_rollout(use_scan=1)
    with pytest.raises(TypeError, match="compile_backend"):
        make_rollout(compile_backend=None)


def test_rollout_use_scan_gives_the_same_rollout() -> None:
    torch.manual_seed(10)
    looped, scanned = make_rollout(), make_rollout(use_scan=True)
    scanned.load_state_dict(looped.state_dict())
    td = rollout_input((2,), 3)
    torch.manual_seed(2)
    first = looped(td)
    torch.manual_seed(2)
    assert (first == scanned(td)).all()


@pytest.mark.slow
def test_rollout_compile_step_gives_the_same_rollout() -> None:
    torch.manual_seed(11)
    plain = make_rollout()
    compiled = make_rollout(compile_step=True, compile_backend="eager")
    compiled.load_state_dict(plain.state_dict())
    td = rollout_input((2,), 3)
    torch.manual_seed(3)
    first = plain(td)
    torch.manual_seed(3)
    assert (first == compiled(td)).all()
    copy = deepcopy(compiled)  # the copy runs its own modules, not the original's
    with torch.no_grad():
        for parameter in copy.parameters():
            parameter.zero_()
    assert torch.equal(copy(td)["next", "prior_mean"], torch.zeros(2, 3, 4))
    torch.manual_seed(3)
    assert (first == compiled(td)).all()


# --- WorldModelWrapper: Dreamer's world model ---------------------------------------------------------
def dreamer_world_model(device=None) -> WorldModelWrapper:
    """torchrl's Dreamer wiring: encoder -> RSSM rollout -> decoder, then a reward MLP."""
    encoder = TensorDictModule(ObsEncoder(channels=8, in_channels=3, device=device),
                               in_keys=[("next", "pixels")], out_keys=[("next", "encoded_latents")])
    prior = RSSMPrior(ACTION, 16, 16, 4, action_dim=6, device=device)
    posterior = RSSMPosterior(16, 4, rnn_hidden_dim=16, obs_embed_dim=256, device=device)
    rollout = RSSMRollout(TensorDictModule(prior, **PRIOR_KEYS), TensorDictModule(posterior, **POSTERIOR_KEYS))
    decoder = TensorDictModule(ObsDecoder(channels=8, latent_dim=20, device=device),
                               in_keys=[("next", "state"), ("next", "belief")], out_keys=[("next", "reco_pixels")])
    transition = TensorDictSequential(encoder, rollout, decoder)
    reward = TensorDictModule(MLP(in_features=20, out_features=1, depth=2, num_cells=16, device=device),
                              in_keys=[("next", "state"), ("next", "belief")], out_keys=[("next", "reward")])
    return WorldModelWrapper(transition, reward)


def dreamer_batch(device=None) -> TensorDict:
    return TensorDict({"state": torch.zeros(2, 3, 4, device=device), "belief": torch.zeros(2, 3, 16, device=device),
                       "action": torch.zeros(2, 3, 6, device=device),
                       ("next", "pixels"): torch.zeros(2, 3, 3, 64, 64, device=device)}, [2, 3], device=device)


def test_world_model_wrapper_runs_dreamer_and_exposes_its_parts() -> None:
    world = dreamer_world_model()
    out = world(dreamer_batch())
    assert out["next", "reco_pixels"].shape == (2, 3, 3, 64, 64)
    assert out["next", "reward"].shape == (2, 3, 1)
    assert out["next", "state"].shape == (2, 3, 4) and out["next", "belief"].shape == (2, 3, 16)
    assert isinstance(world, TensorDictSequential)
    assert world.get_transition_model_operator() is world.module[0]
    assert world.get_reward_operator() is world.module[1]
    names = list(world.state_dict())
    assert names[0] == "module.0.module.0.module.encoder.0.weight"
    assert "module.0.module.1.rssm_prior.module.rnn.weight_ih" in names
    assert names[-1] == "module.1.module.4.bias"
    with pytest.raises(TypeError, match="reward_model must be a tensordict module"):
        WorldModelWrapper(world.module[0], nn.Linear(2, 1))


# --- the meta device ----------------------------------------------------------------------------------
def test_every_module_runs_on_the_meta_device() -> None:
    meta = "meta"
    assert ObsEncoder(device=meta)(torch.empty(2, 5, 3, 64, 64, device=meta)).shape == (2, 5, 1024)
    assert ObsDecoder(device=meta)(torch.empty(2, 5, 30, device=meta),
                                   torch.empty(2, 5, 200, device=meta)).shape == (2, 5, 3, 64, 64)
    prior = RSSMPrior(ACTION, device=meta)
    outputs = prior(torch.empty(7, 30, device=meta), torch.empty(7, 200, device=meta), torch.empty(7, 6, device=meta))
    assert [t.shape for t in outputs] == [(7, 30)] * 3 + [(7, 200)] and outputs[0].is_meta
    posterior = RSSMPosterior(device=meta)
    assert posterior(torch.empty(7, 200, device=meta), torch.empty(7, 1024, device=meta))[2].shape == (7, 30)
    loc, scale = DreamerActor(6, device=meta)(torch.empty(7, 30, device=meta), torch.empty(7, 200, device=meta))
    assert loc.shape == scale.shape == (7, 6) and loc.is_meta
    out = make_rollout(device=meta)(rollout_input((2,), 3, device=meta))
    assert out["next", "state"].shape == (2, 3, 4) and out["next", "state"].is_meta
    out = dreamer_world_model(device=meta)(dreamer_batch(device=meta))
    assert out["next", "reward"].shape == (2, 3, 1) and out["next", "reco_pixels"].is_meta
    for module in (ObsEncoder(in_channels=3, device=meta), RSSMPrior(ACTION, action_dim=6, device=meta)):
        assert all(p.is_meta for p in module.parameters())
