"""A diffusion policy, as torchrl 0.14's ``DiffusionActor``: actions denoised by a DDPM chain.

`DiffusionActor` is an `Actor` (``observation -> action``) whose module, `_DDPMModule`, starts
from a latent action and runs the reverse chain of a denoising diffusion model (Ho et al., 2020)
conditioned on the observation. The score network predicts the noise in a noisy action; it reads
``(noisy_action, observation, timestep)`` concatenated on the last dim, the timestep being the raw
step index ``t`` (``0 .. num_steps - 1``) as one float column, as torchrl's behaviour-cloning loss
(``DiffusionBCLoss``) feeds it.

The schedule (buffers of the inner module, so a checkpoint carries them and they move with it):

- ``betas = linspace(beta_start, beta_end, num_steps)``, ``alphas = 1 - betas``,
- ``alphas_cumprod[t] = alphas[0] * ... * alphas[t]`` (written ``abar_t`` below).

The reverse chain, for ``t = num_steps - 1`` down to ``0``::

    eps  = score_network(cat([x, observation, t], -1))
    mean = (x - betas[t] / sqrt(1 - abar_t) * eps) / sqrt(alphas[t])
    x    = mean + sqrt(betas[t]) * z      (z ~ N(0, 1); no noise at t = 0)

Under ``DETERMINISTIC`` interaction (``set_exploration_type(ExplorationType.DETERMINISTIC)``) the
chain starts from an all-zero latent and adds no noise, so the action is repeatable (it is not a
sample of the model); otherwise it starts from ``N(0, 1)`` and adds ``sqrt(betas[t]) * z`` at every
step but the last. The chain is differentiable (gradients reach the score network).

`_DDPMModule.add_noise(clean_action, t)` is the forward process a behaviour-cloning loss trains
with: ``sqrt(abar_t) * clean_action + sqrt(1 - abar_t) * noise`` and the noise drawn.

Parameter names are torchrl's: the default score network is ``module.score_network.{0,2,4}`` (two
hidden layers of 256 with ReLU, then the action), the schedule ``module.betas``, ``module.alphas``
and ``module.alphas_cumprod``.

>>> import torch
>>> from tensordict import TensorDict
>>> from rldsl.modules import DiffusionActor, ExplorationType, set_exploration_type
>>> actor = DiffusionActor(action_dim=2, obs_dim=3, num_steps=10)
>>> td = actor(TensorDict(observation=torch.randn(4, 3), batch_size=[4]))
>>> td["action"].shape
torch.Size([4, 2])
>>> with set_exploration_type(ExplorationType.DETERMINISTIC):
...     first = actor(td.exclude("action"))["action"]
...     again = actor(td.exclude("action"))["action"]
>>> torch.equal(first, again)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from tensordict.nn.probabilistic import InteractionType, interaction_type
from tensordict.utils import NestedKey
from torch import nn

from rldsl._checks import is_int, require_bool, require_int
from rldsl.modules.tensordict_module.actors import Actor
from rldsl.specs import TensorSpec

__all__ = ["DiffusionActor"]

#: The width of the default score network's two hidden layers.
HIDDEN_WIDTH = 256

#: The most steps a chain may have when it computes in a reduced-precision float dtype: above it,
#: raw integer timesteps stop being distinct numbers in that dtype (bfloat16 holds every integer up
#: to 256 exactly, float16 up to 2048), and the score network could not tell steps apart.
REDUCED_PRECISION_STEPS: dict[torch.dtype, int] = {torch.bfloat16: 257, torch.float16: 2049}


def default_score_network(action_dim: int, obs_dim: int | None) -> nn.Sequential:
    """The score network torchrl builds when none is given: ``Linear -> ReLU -> Linear(256, 256) ->
    ReLU -> Linear(256, action_dim)``. Its first layer reads ``action_dim + obs_dim + 1`` features
    (the noisy action, the observation, the timestep); it is lazy (sized on the first call) when
    ``obs_dim`` is not known."""
    first: nn.Module
    if obs_dim is None:
        first = nn.LazyLinear(HIDDEN_WIDTH)
    else:
        first = nn.Linear(action_dim + obs_dim + 1, HIDDEN_WIDTH)
    return nn.Sequential(first, nn.ReLU(), nn.Linear(HIDDEN_WIDTH, HIDDEN_WIDTH), nn.ReLU(),
                         nn.Linear(HIDDEN_WIDTH, action_dim))


def check_schedule(num_steps: Any, beta_start: Any, beta_end: Any) -> None:
    """The DDPM schedule's arguments: at least one step, and ``0 < beta_start < beta_end < 1`` (a
    beta of 0 makes the first reverse step divide by zero, one of 1 the others)."""
    require_int(num_steps, "DiffusionActor `num_steps`", expected="an int >= 1", minimum=1,
                error=TypeError if not is_int(num_steps) else ValueError)
    for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise TypeError(f"DiffusionActor `{name}` must be a finite number, got {value!r}")
    if not 0 < beta_start < beta_end < 1:
        raise ValueError("DiffusionActor needs 0 < beta_start < beta_end < 1 (a linear schedule of noise "
                         f"variances), got beta_start={beta_start} and beta_end={beta_end}")


def check_timestep_dtype(num_steps: int, dtype: torch.dtype) -> None:
    """A chain computing in bfloat16 has at most 257 steps, in float16 at most 2049 (ValueError):
    every raw integer timestep must stay a distinct number in the dtype it is fed in."""
    limit = REDUCED_PRECISION_STEPS.get(dtype)
    if limit is not None and num_steps > limit:
        raise ValueError(f"DiffusionActor with num_steps={num_steps} cannot compute in {dtype}: its timesteps "
                         f"0 .. {num_steps - 1} are not all distinct in that dtype; use at most {limit} steps, or "
                         "float32")


class _DDPMModule(nn.Module):
    """The denoising chain: ``observation [*B, obs_dim] -> action [*B, action_dim]``.

    Holds the score network (``score_network``) and the schedule buffers (``betas``, ``alphas``,
    ``alphas_cumprod``, each ``[num_steps]``). See the module docstring for the chain.
    """

    def __init__(self, action_dim: int, score_network: nn.Module, num_steps: int, beta_start: float,
                 beta_end: float) -> None:
        super().__init__()
        self.action_dim = action_dim
        self.num_steps = num_steps
        self.score_network = score_network
        betas = torch.linspace(beta_start, beta_end, num_steps)
        alphas = 1.0 - betas
        self.register_buffer("betas", betas)
        self.register_buffer("alphas", alphas)
        self.register_buffer("alphas_cumprod", torch.cumprod(alphas, dim=0))

    def add_noise(self, clean_action: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The forward process at steps ``t``: ``(noisy_action, noise)`` where
        ``noisy_action = sqrt(abar_t) * clean_action + sqrt(1 - abar_t) * noise``, ``noise ~ N(0, 1)``.

        ``clean_action: [*B, action_dim]``, ``t: [*B]`` integer steps (or one step for all) ->
        two tensors ``[*B, action_dim]``.
        """
        t = torch.as_tensor(t, device=self.alphas_cumprod.device).long()
        abar = self.alphas_cumprod[t].to(clean_action.dtype).unsqueeze(-1)
        noise = torch.randn_like(clean_action)
        return abar.sqrt() * clean_action + (1.0 - abar).sqrt() * noise, noise

    def predict_noise(self, noisy_action: torch.Tensor, observation: torch.Tensor, t: int) -> torch.Tensor:
        """The score network's noise for ``noisy_action`` at step ``t`` given ``observation``: it
        reads ``cat([noisy_action, observation, t], -1)``, ``t`` a float column."""
        column = torch.full((*noisy_action.shape[:-1], 1), float(t), dtype=noisy_action.dtype,
                            device=noisy_action.device)
        return self.score_network(torch.cat([noisy_action, observation, column], dim=-1))

    def forward(self, observation: torch.Tensor) -> torch.Tensor:
        """``observation: [*B, obs_dim] -> action: [*B, action_dim]`` (the end of the reverse chain)."""
        check_timestep_dtype(self.num_steps, observation.dtype)
        deterministic = interaction_type() == InteractionType.DETERMINISTIC
        shape = (*observation.shape[:-1], self.action_dim)
        make = torch.zeros if deterministic else torch.randn
        x = make(shape, dtype=observation.dtype, device=observation.device)
        for t in reversed(range(self.num_steps)):
            x = self._step(x, observation, t, noisy=not deterministic and t > 0)
        return x

    def _step(self, x: torch.Tensor, observation: torch.Tensor, t: int, noisy: bool) -> torch.Tensor:
        """One reverse step ``x_t -> x_{t-1}``: the posterior mean, plus ``sqrt(beta_t)`` noise when
        ``noisy``."""
        beta, alpha, abar = (buffer[t].to(x.dtype) for buffer in (self.betas, self.alphas, self.alphas_cumprod))
        eps = self.predict_noise(x, observation, t)
        mean = (x - beta / (1.0 - abar).sqrt() * eps) / alpha.sqrt()
        if not noisy:
            return mean
        return mean + beta.sqrt() * torch.randn_like(x)


class DiffusionActor(Actor):
    """A policy that denoises a latent action into the action, conditioned on the observation.

    Shapes: ``observation: [*B, obs_dim] -> action: [*B, action_dim]``.

    Reads ``in_keys`` (one key, default ``["observation"]``: ``[*B, obs_dim]``) and writes
    ``out_keys`` (one key, default ``["action"]``: ``[*B, action_dim]``, unbounded unless
    ``safe=True`` projects it into ``spec``). ``actor.module`` is the chain (`_DDPMModule`):
    ``actor.module.add_noise(clean_action, t)`` and ``actor.module.score_network`` are what a
    behaviour-cloning loss uses.

    Args:
        action_dim (int): the action's features.
        obs_dim (int, optional): the observation's features; sizes the default score network's
            first layer (lazy when left out). Ignored when ``score_network`` is given.
        score_network (nn.Module, optional): reads ``[*B, action_dim + obs_dim + 1]`` (noisy action,
            observation, timestep) and returns the noise ``[*B, action_dim]``. Defaults to two
            hidden layers of 256 with ReLU.
        num_steps (int): denoising steps (at least 1). Defaults to 100. Computing in bfloat16
            allows at most 257, in float16 at most 2049 (ValueError at the call).
        beta_start, beta_end (float): the linear schedule of noise variances,
            ``0 < beta_start < beta_end < 1``. Default to 1e-4 and 0.02.
        in_keys, out_keys: one key each.
        spec (TensorSpec, optional): the action's spec (wrapped as ``Composite(action=spec)``).

    Keyword Args:
        safe (bool): project the action into ``spec``. Defaults to ``False``.
    """

    def __init__(
        self,
        action_dim: int,
        obs_dim: int | None = None,
        score_network: nn.Module | None = None,
        num_steps: int = 100,
        beta_start: float = 1e-4,
        beta_end: float = 0.02,
        in_keys: Sequence[NestedKey] | NestedKey | None = None,
        out_keys: Sequence[NestedKey] | NestedKey | None = None,
        spec: TensorSpec | None = None,
        *,
        safe: bool = False,
    ) -> None:
        require_int(action_dim, "DiffusionActor `action_dim`", expected="an int >= 1", minimum=1,
                    error=TypeError if not is_int(action_dim) else ValueError)
        require_int(obs_dim, "DiffusionActor `obs_dim`", expected="an int >= 1 or None", minimum=1, optional=True,
                    error=TypeError if not is_int(obs_dim) else ValueError)
        check_schedule(num_steps, beta_start, beta_end)
        require_bool(safe, "DiffusionActor `safe`")
        if score_network is None:
            score_network = default_score_network(action_dim, obs_dim)
        elif not isinstance(score_network, nn.Module):
            raise TypeError(f"DiffusionActor `score_network` must be an nn.Module, got {type(score_network).__name__}")
        chain = _DDPMModule(action_dim, score_network, num_steps, float(beta_start), float(beta_end))
        super().__init__(chain, in_keys=in_keys, out_keys=out_keys, spec=spec, safe=safe)
        for name, listed in (("in_keys", self.in_keys), ("out_keys", self.out_keys)):
            if len(listed) != 1:
                raise ValueError(f"DiffusionActor `{name}` holds one key, got {list(listed)}")
