"""`DiffusionActor`: torchrl 0.14's diffusion policy (a DDPM chain denoising the action).

What is pinned: the constructor's defaults and keys; the schedule (``betas`` a linspace,
``alphas = 1 - betas``, ``alphas_cumprod`` their running product); the reverse chain, step by
step against the DDPM formulas written here in plain torch (a zero start and no noise under
``DETERMINISTIC``, a seeded Gaussian start and noise otherwise); the timestep the score network
reads (the raw step index, a float column after the noisy action and the observation); the forward
process ``add_noise`` a behaviour-cloning loss uses, against its closed form; the state-dict names
torchrl's checkpoints have; a custom score network; the reduced-precision step limits; the
argument errors; and a few steps of the behaviour-cloning loss (the MSE between predicted and
true noise) that lower it on a toy dataset.
"""

from __future__ import annotations

import inspect

import pytest
import torch
from tensordict import TensorDict
from torch import nn

from rldsl.modules import DiffusionActor, ExplorationType, set_exploration_type
from rldsl.modules.tensordict_module.diffusion import REDUCED_PRECISION_STEPS, check_timestep_dtype
from rldsl.specs import Bounded, Composite


def observations(*batch: int, obs_dim: int = 3, seed: int = 0) -> TensorDict:
    generator = torch.Generator().manual_seed(seed)
    return TensorDict(observation=torch.randn(*batch, obs_dim, generator=generator), batch_size=list(batch))


class Recording(nn.Module):
    """A score network that remembers every input it is given (and returns a fixed linear map)."""

    def __init__(self, width: int, action_dim: int) -> None:
        super().__init__()
        self.linear = nn.Linear(width, action_dim)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.detach().clone())
        return self.linear(x)


def reference_chain(actor: DiffusionActor, observation: torch.Tensor, start: torch.Tensor,
                    noises: list[torch.Tensor] | None) -> torch.Tensor:
    """The DDPM reverse chain written out: for t = T-1 .. 0, eps = net([x, obs, t]),
    x = (x - beta_t / sqrt(1 - abar_t) * eps) / sqrt(alpha_t) (+ sqrt(beta_t) * z_t for t > 0)."""
    chain = actor.module
    steps = chain.num_steps
    betas = torch.linspace(1e-4, 0.02, steps)  # the default schedule, computed here
    alphas = 1 - betas
    abar = torch.cumprod(alphas, 0)
    x = start
    for index, t in enumerate(reversed(range(steps))):
        column = torch.full((*x.shape[:-1], 1), float(t))
        eps = chain.score_network(torch.cat([x, observation, column], -1))
        x = (x - betas[t] / torch.sqrt(1 - abar[t]) * eps) / torch.sqrt(alphas[t])
        if noises is not None and t > 0:
            x = x + torch.sqrt(betas[t]) * noises[index]
    return x


# --------------------------------------------------------------------------- constructor
def test_defaults_are_torchrls() -> None:
    parameters = inspect.signature(DiffusionActor).parameters
    assert list(parameters) == ["action_dim", "obs_dim", "score_network", "num_steps", "beta_start", "beta_end",
                                "in_keys", "out_keys", "spec", "safe"]
    assert parameters["num_steps"].default == 100
    assert parameters["beta_start"].default == 1e-4 and parameters["beta_end"].default == 0.02
    actor = DiffusionActor(action_dim=2, obs_dim=3)
    assert actor.in_keys == ["observation"] and actor.out_keys == ["action"]
    assert actor.module.num_steps == 100 and actor.module.action_dim == 2


def test_the_default_score_network_is_two_hidden_layers_of_256() -> None:
    known = DiffusionActor(action_dim=2, obs_dim=3).module.score_network
    assert [type(m).__name__ for m in known] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert (known[0].in_features, known[0].out_features) == (2 + 3 + 1, 256)
    assert (known[2].in_features, known[2].out_features, known[4].out_features) == (256, 256, 2)
    lazy = DiffusionActor(action_dim=2).module.score_network  # obs_dim need not be given
    assert isinstance(lazy[0], nn.LazyLinear)
    lazy_actor = DiffusionActor(action_dim=2, num_steps=3)
    lazy_actor(observations(4, obs_dim=5))
    assert lazy_actor.module.score_network[0].weight.shape == (256, 2 + 5 + 1)


def test_state_dict_names_are_torchrls_and_load_into_a_fresh_actor() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=5)
    assert list(actor.state_dict()) == [
        "module.betas", "module.alphas", "module.alphas_cumprod",
        "module.score_network.0.weight", "module.score_network.0.bias",
        "module.score_network.2.weight", "module.score_network.2.bias",
        "module.score_network.4.weight", "module.score_network.4.bias",
    ]
    other = DiffusionActor(action_dim=2, obs_dim=3, num_steps=5)
    other.load_state_dict(actor.state_dict())
    td = observations(4)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        assert torch.equal(actor(td.clone())["action"], other(td.clone())["action"])


def test_the_schedule_is_a_linear_ramp_of_betas_and_their_running_product() -> None:
    chain = DiffusionActor(action_dim=2, obs_dim=3, num_steps=50, beta_start=1e-3, beta_end=0.05).module
    torch.testing.assert_close(chain.betas, torch.linspace(1e-3, 0.05, 50))
    torch.testing.assert_close(chain.alphas, 1 - chain.betas)
    expected, running = [], 1.0
    for beta in torch.linspace(1e-3, 0.05, 50).tolist():
        running *= 1 - beta
        expected.append(running)
    torch.testing.assert_close(chain.alphas_cumprod, torch.tensor(expected), rtol=1e-5, atol=1e-7)
    assert chain.betas[0].item() == pytest.approx(1e-3) and chain.betas[-1].item() == pytest.approx(0.05)


def test_spec_is_the_actions_and_safe_projects_into_it() -> None:
    spec = Bounded(low=-0.01, high=0.01, shape=(2,))
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=3, spec=spec, safe=True)
    assert isinstance(actor.spec, Composite) and actor.spec["action"] == spec
    action = actor(observations(64))["action"]
    assert action.abs().max() <= 0.01
    loose = DiffusionActor(action_dim=2, obs_dim=3, num_steps=3, spec=spec)  # without safe: unbounded
    assert loose(observations(64))["action"].abs().max() > 0.01


# --------------------------------------------------------------------------- the chain
@pytest.mark.parametrize("batch", [(), (4,), (2, 3)])
def test_shapes(batch: tuple[int, ...]) -> None:
    actor = DiffusionActor(action_dim=4, obs_dim=6, num_steps=3)
    td = actor(observations(*batch, obs_dim=6))
    assert td["action"].shape == (*batch, 4) and td["action"].dtype == torch.float32


def test_custom_keys_nested_too() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=2, in_keys=[("agent", "obs")], out_keys=["act"])
    td = TensorDict({("agent", "obs"): torch.randn(5, 3)}, batch_size=[5])
    assert actor(td)["act"].shape == (5, 2)


def test_deterministic_starts_from_zeros_and_adds_no_noise() -> None:
    small = nn.Sequential(nn.Linear(2 + 3 + 1, 16), nn.Tanh(), nn.Linear(16, 2))
    actor = DiffusionActor(action_dim=2, score_network=small, num_steps=100)
    td = observations(4)
    with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
        first = actor(td.clone())["action"]
        second = actor(td.clone())["action"]
        expected = reference_chain(actor, td["observation"], torch.zeros(4, 2), noises=None)
    assert torch.equal(first, second)
    torch.testing.assert_close(first, expected)


def test_random_starts_from_a_gaussian_and_adds_noise_at_every_step_but_the_last() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=6)
    td = observations(4)
    with set_exploration_type(ExplorationType.RANDOM), torch.no_grad():
        torch.manual_seed(7)
        got = actor(td.clone())["action"]
        torch.manual_seed(7)
        start = torch.randn(4, 2)
        noises = [torch.randn(4, 2) for _ in range(5)]  # steps 5 .. 1; step 0 adds none
        noises.append(None)  # type: ignore[arg-type]
        expected = reference_chain(actor, td["observation"], start, noises)
    torch.testing.assert_close(got, expected)


def test_seeded_runs_repeat_and_unseeded_runs_differ() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=4)
    td = observations(4)
    torch.manual_seed(0)
    a = actor(td.clone())["action"]
    torch.manual_seed(0)
    b = actor(td.clone())["action"]
    c = actor(td.clone())["action"]  # outside any context the chain samples, as under RANDOM
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_the_score_network_reads_noisy_action_observation_and_the_raw_step() -> None:
    network = Recording(2 + 3 + 1, 2)
    actor = DiffusionActor(action_dim=2, obs_dim=3, score_network=network, num_steps=4)
    td = observations(5)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        actor(td.clone())
    assert len(network.inputs) == 4
    for t, seen in zip([3, 2, 1, 0], network.inputs):
        assert seen.shape == (5, 6)
        torch.testing.assert_close(seen[:, 2:5], td["observation"])
        assert torch.equal(seen[:, 5], torch.full((5,), float(t)))
    assert torch.equal(network.inputs[0][:, :2], torch.zeros(5, 2))  # the deterministic latent


def test_gradients_reach_the_score_network() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=3)
    actor(observations(4))["action"].sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in actor.parameters())


def test_the_schedule_moves_with_the_module() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=3).to("meta")
    assert actor.module.alphas_cumprod.device.type == "meta"
    td = TensorDict(observation=torch.empty(4, 3, device="meta"), batch_size=[4], device="meta")
    assert actor(td)["action"].shape == (4, 2)


def test_float64_computes_in_float64() -> None:
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=3).double()
    td = TensorDict(observation=torch.randn(4, 3, dtype=torch.float64), batch_size=[4])
    assert actor(td)["action"].dtype == torch.float64


# --------------------------------------------------------------------------- add_noise
def test_add_noise_is_the_closed_form_forward_process() -> None:
    chain = DiffusionActor(action_dim=2, obs_dim=3, num_steps=100).module
    clean = torch.randn(8, 2)
    t = torch.tensor([0, 1, 5, 17, 50, 98, 99, 42])
    torch.manual_seed(3)
    noisy, noise = chain.add_noise(clean, t)
    torch.manual_seed(3)
    assert torch.equal(noise, torch.randn(8, 2))
    abar = torch.cumprod(1 - torch.linspace(1e-4, 0.02, 100), 0)[t].unsqueeze(-1)
    torch.testing.assert_close(noisy, abar.sqrt() * clean + (1 - abar).sqrt() * noise)
    assert bool((chain.alphas_cumprod[1:] < chain.alphas_cumprod[:-1]).all())  # later steps keep less of it
    torch.manual_seed(3)
    one_step, _ = chain.add_noise(clean, 17)  # one step for the whole batch
    torch.testing.assert_close(one_step, abar[3].sqrt() * clean + (1 - abar[3]).sqrt() * noise)


# --------------------------------------------------------------------------- errors
def test_reduced_precision_step_limits() -> None:
    assert REDUCED_PRECISION_STEPS == {torch.bfloat16: 257, torch.float16: 2049}
    check_timestep_dtype(257, torch.bfloat16)
    check_timestep_dtype(2049, torch.float16)
    check_timestep_dtype(100_000, torch.float32)
    with pytest.raises(ValueError, match="at most 257 steps"):
        check_timestep_dtype(258, torch.bfloat16)
    with pytest.raises(ValueError, match="at most 2049 steps"):
        check_timestep_dtype(2050, torch.float16)
    actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=300).to(torch.bfloat16)
    td = TensorDict(observation=torch.randn(4, 3, dtype=torch.bfloat16), batch_size=[4])
    with pytest.raises(ValueError, match="bfloat16"):
        actor(td)
    small = DiffusionActor(action_dim=2, obs_dim=3, num_steps=4).to(torch.bfloat16)
    assert small(td)["action"].dtype == torch.bfloat16


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(num_steps=0), ValueError, "num_steps"),
    (dict(num_steps=2.5), TypeError, "num_steps"),
    (dict(beta_start=0.0), ValueError, "0 < beta_start < beta_end < 1"),
    (dict(beta_start=0.03), ValueError, "0 < beta_start < beta_end < 1"),
    (dict(beta_end=1.0), ValueError, "0 < beta_start < beta_end < 1"),
    (dict(beta_end=float("nan")), TypeError, "finite"),
    (dict(action_dim=0), ValueError, "action_dim"),
    (dict(obs_dim=0), ValueError, "obs_dim"),
    (dict(safe=1), TypeError, "safe"),
    (dict(score_network="mlp"), TypeError, "score_network"),
    (dict(in_keys=["a", "b"]), ValueError, "in_keys"),
    (dict(safe=True), RuntimeError, "spec"),
])
def test_bad_arguments_are_refused_clearly(kwargs: dict, error: type, words: str) -> None:
    arguments = dict(action_dim=2, obs_dim=3) | kwargs
    with pytest.raises(error, match=words):
        DiffusionActor(**arguments)


# --------------------------------------------------------------------------- behaviour cloning
@pytest.mark.slow  # about a second alone, several on a loaded machine
def test_a_few_steps_of_the_denoising_loss_lower_it_on_a_toy_dataset() -> None:
    """torchrl's DiffusionBCLoss, in plain torch: sample a step per item, noise the demonstrated
    action with ``add_noise``, ask the score network for the noise, take the MSE."""
    torch.manual_seed(0)
    observation = torch.randn(128, 3)
    action = torch.tanh(observation[:, :2] * 2.0)  # a deterministic expert
    network = nn.Sequential(nn.Linear(2 + 3 + 1, 64), nn.ReLU(), nn.Linear(64, 2))
    actor = DiffusionActor(action_dim=2, score_network=network, num_steps=20)
    chain = actor.module
    optimiser = torch.optim.Adam(actor.parameters(), lr=1e-2)

    def loss() -> torch.Tensor:
        t = torch.randint(0, chain.num_steps, (observation.shape[0],))
        noisy, noise = chain.add_noise(action, t)
        predicted = chain.score_network(torch.cat([noisy, observation, t.float().unsqueeze(-1)], -1))
        return nn.functional.mse_loss(predicted, noise)

    torch.manual_seed(1)
    before = torch.stack([loss() for _ in range(20)]).mean().item()
    for _ in range(60):
        optimiser.zero_grad()
        loss().backward()
        optimiser.step()
    torch.manual_seed(1)
    after = torch.stack([loss() for _ in range(20)]).mean().item()
    assert after < 0.7 * before, (before, after)
