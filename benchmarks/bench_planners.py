"""``CEMPlanner`` planning step with 10 and with 1,000 candidates: the candidates run in one batch.

A planning step (``optim_steps=1``: draw the candidates, roll them all out for the horizon,
refit the Gaussian to the best) is timed with 10 candidates and with 1,000, in one run,
interleaved, the median of many repeats (``_timing.compare``). A Python loop over candidates
would make the 1,000-candidate step about 100x the 10-candidate one; rolling the candidates out
as one batch makes it cost about the same (the per-step work is one model call on a bigger batch).

Models: the linear model of the tests (``next = obs + action``, reward ``-|target - next|^2``,
2-D) and an MLP world model (8-D observation, 64 hidden units) with a linear reward head.
Horizon 10, one thread.

Budget (issue 12): vectorised, i.e. with the linear model and one observation (a batch of
1,000 candidates) the 1,000-candidate step at most 10x the 10-candidate step (linear scaling
would be 100x). The linear model costs next to nothing, so that row measures the planner itself.
The other rows are shown without a budget: with the MLP, or with 16 observations (16,000
rollouts), the model's arithmetic grows with the number of rollouts whatever the planner does.

    python benchmarks/bench_planners.py [--quick]
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _timing import compare  # noqa: E402

from rldsl.modules import MLP, CEMPlanner, ModelEnv  # noqa: E402
from rldsl.specs import Bounded, Composite, Unbounded  # noqa: E402

BUDGET = 10.0
HORIZON = 10
FEW, MANY = 10, 1000


def linear_env() -> ModelEnv:
    target = torch.tensor([3.0, -0.5])
    move = TensorDictModule(lambda obs, act: obs + act, in_keys=["observation", "action"], out_keys=["observation"])
    score = TensorDictModule(lambda obs: -(target - obs).pow(2).sum(-1, keepdim=True), in_keys=["observation"],
                             out_keys=["reward"])
    return ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(2)),
                    action_spec=Bounded(-1.0, 1.0, shape=(2,)))


def mlp_env() -> ModelEnv:
    dynamics = MLP(in_features=10, out_features=8, num_cells=[64, 64])
    move = TensorDictModule(dynamics, in_keys=["observation", "action"], out_keys=["observation"])
    score = TensorDictModule(torch.nn.Linear(8, 1), in_keys=["observation"], out_keys=["reward"])
    return ModelEnv(move, score, observation_spec=Composite(observation=Unbounded(8)),
                    action_spec=Bounded(-1.0, 1.0, shape=(2,)))


def planning_step(env: ModelEnv, candidates: int, batch: int):
    planner = CEMPlanner(env, planning_horizon=HORIZON, optim_steps=1, num_candidates=candidates,
                         top_k=min(5, candidates))
    obs_dim = env.observation_spec["observation"].shape[-1]
    td = TensorDict(observation=torch.zeros(batch, obs_dim), batch_size=[batch])
    return lambda: planner(td.copy())


def cases(quick: bool) -> list[tuple[str, float, float, float, bool]]:
    kwargs = {"number": 3 if quick else 10, "repeats": 5 if quick else 15}
    rows = []
    for name, make_env in (("linear model", linear_env), ("MLP world model", mlp_env)):
        for batch in (1, 16):
            env = make_env()
            with torch.no_grad():
                few, many = planning_step(env, FEW, batch), planning_step(env, MANY, batch)
                rows.append((f"{name}, batch {batch}", *compare(few, many, **kwargs),
                             make_env is linear_env and batch == 1))
    return rows


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    torch.set_num_threads(1)
    rows = cases(quick)
    print(f"\nCEMPlanner planning step (horizon {HORIZON}, one refit), one thread")
    print(f"{'case':<28} {f'{FEW} cand. ms':>12} {f'{MANY} cand. ms':>14} {'ratio':>7}")
    ok = True
    for name, few, many, ratio, budgeted in rows:
        flag = "" if budgeted else "  (no budget)"
        if budgeted and ratio > BUDGET:
            flag, ok = "  over budget", False
        print(f"{name:<28} {few / 1e3:>12.2f} {many / 1e3:>14.2f} {ratio:>6.2f}x{flag}")
    print(f"budget (linear model, batch 1): {MANY} candidates at most {BUDGET:.0f}x {FEW} "
          f"(a loop would be {MANY // FEW}x) -> {'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
