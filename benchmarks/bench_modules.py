"""Actors against the plain torch code a user would write instead.

Each case times one call of an rldsl module on a TensorDict against an ``nn.Module`` doing
the same math on tensors, one thread, batch 1 and 1024 (observation 17, action 6,
MLP with two hidden layers of 256 units):

- ``Actor(MLP)``: the MLP.
- ``Actor(MLP, safe=True)`` with a ``Bounded(-1, 1)`` spec: the MLP, then ``clamp``.
- ``ActorValueOperator`` with a shared trunk (``observation -> hidden``, one hidden layer of
  256 units), an ``Actor`` head (``hidden -> action``, linear) and a ``ValueOperator`` head
  (``hidden -> state_value``, linear), the whole operator: trunk, then both heads.
- ``Actor`` + ``AdditiveGaussianModule`` (``Bounded(-1, 1)``, sigma 0.5) in a
  ``TensorDictSequential`` under ``RANDOM``: the MLP, ``+ sigma * normal(0, 1)``, then ``clamp``.
- ``ProbabilisticActor`` + ``TanhNormal``, ``return_log_prob=True``, under ``RANDOM`` and
  ``DETERMINISTIC``: MLP -> split -> biased-softplus scale -> (reparameterised normal
  draw | the location) -> tanh -> log-prob with the tanh correction, summed over the
  action dims.

Ratios are medians over back-to-back pairs of timings (`_timing.compare`), which keeps them
steady on a shared machine. Budget (issues 3 and 13): at most 2x plain torch at batch 1
and 1.15x at batch 1024. For scale,
torchrl 0.14.1 measured ``Actor(MLP)`` 75 us vs 24 us plain and ``ProbabilisticActor`` +
``TanhNormal`` 1012 us vs 98 us plain at batch 1 (another machine).

    python benchmarks/bench_modules.py [--quick]
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import torch
import torch.nn.functional as F
from tensordict import TensorDict
from tensordict.nn import NormalParamExtractor, TensorDictModule, TensorDictSequential
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import (  # noqa: E402
    MLP,
    Actor,
    ActorValueOperator,
    AdditiveGaussianModule,
    ExplorationType,
    ProbabilisticActor,
    TanhNormal,
    ValueOperator,
    set_exploration_type,
)
from rldsl.modules.utils import inv_softplus  # noqa: E402
from rldsl.specs import Bounded  # noqa: E402

OBS, ACT, CELLS = 17, 6, [256, 256]
BUDGETS = {1: 2.0, 1024: 1.15}
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_LOG_2 = math.log(2.0)


def make_mlp(out_features: int) -> MLP:
    return MLP(in_features=OBS, out_features=out_features, num_cells=CELLS)


class PlainClamp(nn.Module):
    """The MLP, then a clamp into the box."""

    def __init__(self, mlp: nn.Module, low: float, high: float) -> None:
        super().__init__()
        self.mlp, self.low, self.high = mlp, low, high

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.mlp(obs).clamp(self.low, self.high)


class PlainTanhNormal(nn.Module):
    """MLP -> (loc, biased-softplus scale) -> tanh-normal action and its log-prob."""

    def __init__(self, mlp: nn.Module, random: bool) -> None:
        super().__init__()
        self.mlp, self.random = mlp, random
        self.bias = inv_softplus(1.0 - 0.01)  # NormalParamExtractor's "biased_softplus_1.0"

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        loc, raw = self.mlp(obs).chunk(2, -1)
        scale = (F.softplus(raw + self.bias) + 0.01).clamp_min(1e-4)
        if self.random:
            eps = torch.randn_like(loc)
            pre_tanh = loc + scale * eps
            normal_lp = -0.5 * eps * eps - scale.log() - _LOG_SQRT_2PI
        else:
            pre_tanh = loc
            normal_lp = -scale.log() - _LOG_SQRT_2PI
        correction = 2 * (_LOG_2 - pre_tanh - F.softplus(-2 * pre_tanh))
        return pre_tanh.tanh(), (normal_lp - correction).sum(-1)


class PlainActorValue(nn.Module):
    """Trunk -> hidden, then the policy head and the value head on the same hidden features."""

    def __init__(self, trunk: nn.Module, policy: nn.Module, value: nn.Module) -> None:
        super().__init__()
        self.trunk, self.policy, self.value = trunk, policy, value

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        hidden = self.trunk(obs)
        return hidden, self.policy(hidden), self.value(hidden)


class PlainGaussianNoise(nn.Module):
    """The MLP, plus sigma-scaled normal noise, clamped into the box."""

    def __init__(self, mlp: nn.Module, sigma: float, low: float, high: float) -> None:
        super().__init__()
        self.mlp, self.low, self.high = mlp, low, high
        self.register_buffer("mean", torch.tensor(0.0))
        self.register_buffer("std", torch.tensor(1.0))
        self.register_buffer("sigma", torch.tensor(sigma))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        action = self.mlp(obs)
        noise = torch.normal(self.mean.expand(action.shape), self.std.expand(action.shape))
        return (action + noise * self.sigma).clamp(self.low, self.high)


def rldsl_actor_value(trunk: nn.Module, policy: nn.Module, value: nn.Module) -> ActorValueOperator:
    common = TensorDictModule(trunk, in_keys=["observation"], out_keys=["hidden"])
    return ActorValueOperator(common, Actor(policy, in_keys=["hidden"]), ValueOperator(value, in_keys=["hidden"]))


def rldsl_tanh_normal_actor(mlp: nn.Module) -> ProbabilisticActor:
    net = TensorDictModule(nn.Sequential(mlp, NormalParamExtractor()), in_keys=["observation"], out_keys=["loc", "scale"])
    return ProbabilisticActor(net, in_keys=["loc", "scale"], distribution_class=TanhNormal, return_log_prob=True)


def timing(batch: int, quick: bool) -> dict:
    if batch == 1:
        return {"number": 100, "repeats": 8 if quick else 30}  # 5 * repeats pairs (_timing.compare)
    return {"number": 2 if quick else 4, "repeats": 3 if quick else 8}


def cases(batch: int, quick: bool) -> list[tuple[str, float, float, float]]:
    torch.manual_seed(0)
    obs = torch.randn(batch, OBS)
    td = TensorDict(observation=obs, batch_size=[batch])
    kwargs = timing(batch, quick)
    rows = []
    with torch.no_grad():
        mlp = make_mlp(ACT)
        actor = Actor(mlp)
        rows.append((f"Actor(MLP), batch {batch}", *compare(lambda: mlp(obs), lambda: actor(td), **kwargs)))
        plain_safe = PlainClamp(mlp, -1.0, 1.0)
        safe_actor = Actor(mlp, spec=Bounded(-1.0, 1.0, shape=(ACT,)), safe=True)
        rows.append((f"Actor(MLP, safe=True), batch {batch}",
                     *compare(lambda: plain_safe(obs), lambda: safe_actor(td), **kwargs)))
        trunk = MLP(in_features=OBS, out_features=CELLS[-1], num_cells=CELLS[:1], activate_last_layer=True)
        policy_head = MLP(in_features=CELLS[-1], out_features=ACT, num_cells=[])
        value_head = MLP(in_features=CELLS[-1], out_features=1, num_cells=[])
        plain_av = PlainActorValue(trunk, policy_head, value_head)
        actor_value = rldsl_actor_value(trunk, policy_head, value_head)
        rows.append((f"ActorValueOperator (shared trunk), batch {batch}",
                     *compare(lambda: plain_av(obs), lambda: actor_value(td), **kwargs)))
        plain_noise = PlainGaussianNoise(mlp, 0.5, -1.0, 1.0)
        noisy_actor = TensorDictSequential(
            actor, AdditiveGaussianModule(Bounded(-1.0, 1.0, shape=(ACT,)), sigma_init=0.5, sigma_end=0.1))
        with set_exploration_type(ExplorationType.RANDOM):
            rows.append((f"Actor+AdditiveGaussianModule, batch {batch}",
                         *compare(lambda: plain_noise(obs), lambda: noisy_actor(td), **kwargs)))
        mlp2 = make_mlp(2 * ACT)
        prob_actor = rldsl_tanh_normal_actor(mlp2)
        for name, kind in (("RANDOM", ExplorationType.RANDOM), ("DETERMINISTIC", ExplorationType.DETERMINISTIC)):
            plain = PlainTanhNormal(mlp2, random=kind is ExplorationType.RANDOM)
            with set_exploration_type(kind):
                rows.append((f"ProbActor+TanhNormal {name}, batch {batch}",
                             *compare(lambda: plain(obs), lambda: prob_actor(td), **kwargs)))
    return rows


def plain_tanh_normal_math(loc: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The tanh-normal draw and its log-prob (tanh correction summed), on tensors."""
    eps = torch.randn_like(loc)
    pre_tanh = loc + scale * eps
    correction = 2 * (_LOG_2 - pre_tanh - F.softplus(-2 * pre_tanh))
    return pre_tanh.tanh(), (-0.5 * eps * eps - scale.log() - _LOG_SQRT_2PI - correction).sum(-1)


def distribution_cases(batch: int, quick: bool) -> list[tuple[str, float, float, float]]:
    """Where the ProbabilisticActor's time goes: the distribution alone against the same math."""
    torch.manual_seed(0)
    loc, scale = torch.randn(batch, ACT), torch.rand(batch, ACT) + 0.1

    def rldsl_distribution() -> torch.Tensor:
        dist = TanhNormal(loc, scale)
        return dist.log_prob(dist.rsample())

    with torch.no_grad():
        return [(f"TanhNormal(loc, scale)+rsample+log_prob, batch {batch}",
                 *compare(lambda: plain_tanh_normal_math(loc, scale), rldsl_distribution, **timing(batch, quick)))]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    ok = True
    for batch in (1, 1024):
        ok &= print_table(f"rldsl actors vs plain torch, batch {batch} (one thread)",
                          cases(batch, quick), budget=BUDGETS[batch])
    print_table("For reference (no budget): the TanhNormal distribution vs the same math on tensors",
                [row for batch in (1, 1024) for row in distribution_cases(batch, quick)])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
