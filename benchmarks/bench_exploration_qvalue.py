"""Q-value actor and ε-greedy exploration against the same math written as a plain ``nn.Module``.

Cases, one thread, batch 1 and 1024 (observation 8, 4 actions, one-hot actions):

* ``QValueActor``: value network (``Linear(8, 4)``, or an MLP 8-64-64-4) -> argmax ->
  one-hot action + chosen value. Plain: the network, ``argmax``, ``scatter`` and ``gather``
  on tensors.
* ``EGreedyModule``: the same Q actor followed by ε-greedy (ε = 0.5, so both branches
  run). Plain: the plain Q module, then ``where(rand(B) < eps, random one-hot, action)``.

rldsl runs on a prebuilt TensorDict holding the observation (what an environment hands a
policy); plain torch runs on the observation tensor. Both keep their outputs alive until
the next call, as a rollout does (the TensorDict holds them; the plain outputs are kept in
a dict): dropping them at once would let the allocator hand the same memory back hot,
which no real loop gets. Budget (issue 3): rldsl at most 2x
plain at batch 1 and 1.15x at batch 1024. When torchrl is importable (ad hoc, e.g.
``PYTHONPATH=/tmp/torchrl_ref``) a third table compares rldsl with torchrl 0.14.

    python benchmarks/bench_exploration_qvalue.py
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictSequential
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare, print_table  # noqa: E402

from rldsl.modules import EGreedyModule, QValueActor  # noqa: E402
from rldsl.specs import OneHot  # noqa: E402

BUDGETS = {1: 2.0, 1024: 1.15}
OBS, ACTIONS, EPS = 8, 4, 0.5


class PlainQ(nn.Module):
    """The Q-value actor's math on tensors: greedy one-hot action, values, chosen value."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        values = self.net(observation)
        index = values.argmax(-1, keepdim=True)
        action = torch.zeros_like(values, dtype=torch.long).scatter_(-1, index, 1)
        return action, values, values.gather(-1, index)


class PlainEGreedy(nn.Module):
    """Plain Q followed by ε-greedy: one coin per batch element, a uniform random one-hot."""

    def __init__(self, q: PlainQ, eps: float) -> None:
        super().__init__()
        self.q = q
        self.register_buffer("eps", torch.tensor(eps))

    def forward(self, observation: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        action, values, chosen = self.q(observation)
        batch = action.shape[:-1]
        flips = torch.rand(batch) < self.eps
        random = torch.nn.functional.one_hot(torch.randint(0, action.shape[-1], batch), action.shape[-1])
        return torch.where(flips.unsqueeze(-1), random, action), values, chosen


def networks() -> dict[str, nn.Module]:
    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(OBS, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, ACTIONS))
    return {"Linear": nn.Linear(OBS, ACTIONS), "MLP 64x64": mlp}


def keeping(module: nn.Module, observation: torch.Tensor) -> Callable[[], None]:
    """A call of `module` whose outputs stay alive until the next call (like a TensorDict's entries)."""
    kept: dict[str, object] = {}

    def call() -> None:
        kept["outputs"] = module(observation)

    return call


def rows_for(batch: int) -> list[tuple[str, float, float, float]]:
    observation = torch.randn(batch, OBS)
    td = TensorDict({"observation": observation}, [batch])
    rows = []
    for name, net in networks().items():
        plain_q = PlainQ(net)
        actor = QValueActor(net, spec=OneHot(ACTIONS))
        rows.append((f"QValueActor ({name}), batch {batch}",
                     *compare(keeping(plain_q, observation), lambda: actor(td))))
        plain_e = PlainEGreedy(plain_q, EPS)
        explore = TensorDictSequential(actor, EGreedyModule(OneHot(ACTIONS), eps_init=EPS, eps_end=EPS))
        rows.append((f"QValueActor + EGreedy ({name}), batch {batch}",
                     *compare(keeping(plain_e, observation), lambda: explore(td))))
    return rows


def torchrl_rows(batch: int) -> list[tuple[str, float, float, float]]:
    """torchrl 0.14 (baseline column) against rldsl, same networks and inputs."""
    import torchrl.data as trl_data
    import torchrl.modules as trl

    observation = torch.randn(batch, OBS)
    td = TensorDict({"observation": observation}, [batch])
    td_ref = td.clone()
    rows = []
    for name, net in networks().items():
        ours = QValueActor(net, spec=OneHot(ACTIONS))
        theirs = trl.QValueActor(net, spec=trl_data.OneHot(ACTIONS))
        rows.append((f"QValueActor ({name}), batch {batch}", *compare(lambda: theirs(td_ref), lambda: ours(td))))
        ours_e = TensorDictSequential(ours, EGreedyModule(OneHot(ACTIONS), eps_init=EPS, eps_end=EPS))
        theirs_e = TensorDictSequential(theirs, trl.EGreedyModule(trl_data.OneHot(ACTIONS), eps_init=EPS, eps_end=EPS))
        rows.append((f"QValueActor + EGreedy ({name}), batch {batch}",
                     *compare(lambda: theirs_e(td_ref), lambda: ours_e(td))))
    return rows


def main() -> int:
    torch.set_num_threads(1)
    ok = True
    for batch, budget in BUDGETS.items():
        ok &= print_table(f"rldsl vs plain torch, batch {batch} (one thread)", rows_for(batch), budget=budget)
    try:
        import torchrl  # noqa: F401
    except ImportError:
        print("\n(torchrl not importable: no torchrl comparison)")
    else:
        rows = [row for batch in BUDGETS for row in torchrl_rows(batch)]
        ok &= print_table("rldsl vs torchrl 0.14 (baseline = torchrl; one thread)", rows, budget=1.0)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
