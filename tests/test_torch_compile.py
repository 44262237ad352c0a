"""``torch.compile`` works on compiled graphs: same outputs as the eager module, in one graph.

The fast tests use the ``aot_eager`` backend (Dynamo tracing and AOTAutograd, no code
generation), counted by ``CompileCounterWithBackend`` so that a graph break fails the test;
the inductor test (code generation, slower) is marked ``slow``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

import rldsl
from rldsl.modules import ExplorationType, set_exploration_type

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

#: (example, module, exploration type). Under RANDOM the eager and compiled calls draw from
#: the same seed: aot_eager keeps torch's random ops, so the draws are the same.
CASES = [
    ("pendulum_actor.rlm", "policy", ExplorationType.DETERMINISTIC),
    ("pendulum_sac.rlm", "policy", ExplorationType.DETERMINISTIC),
    ("pendulum_sac.rlm", "policy", ExplorationType.RANDOM),
    ("pendulum_sac.rlm", "qvalue", ExplorationType.DETERMINISTIC),
    ("cartpole_dqn.rlm", "q", ExplorationType.DETERMINISTIC),
    ("cartpole_dqn.rlm", "q_explore", ExplorationType.RANDOM),  # eps_init=1: every action is drawn
    ("qvalue_actor.rlm", "qvalue_actor", ExplorationType.DETERMINISTIC),
]


def _run(module: torch.nn.Module, td, seed: int = 0):
    torch.manual_seed(seed)
    return module(td.clone())


@pytest.fixture(autouse=True)
def _fresh_dynamo():
    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.parametrize("example, name, kind", CASES, ids=[f"{e[:-4]}-{n}-{k}" for e, n, k in CASES])
def test_aot_eager_matches_eager_in_one_graph(example: str, name: str, kind: ExplorationType) -> None:
    program = rldsl.compile(EXAMPLES / example)
    module = program[name]
    td = program.spec_random_input(name, (4,))
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(module, backend=counter, fullgraph=False)
    with set_exploration_type(kind):
        eager = _run(module, td)
        for _ in range(2):  # the second call reuses the compiled graph
            out = _run(compiled, td)
            for key in program.writes(name):
                assert out.get(key).dtype == eager.get(key).dtype, key
                torch.testing.assert_close(out.get(key), eager.get(key), rtol=1e-6, atol=1e-6, msg=str(key))
    assert counter.frame_count == 1, f"{counter.frame_count} graphs: torch.compile broke the graph"


@pytest.mark.slow
def test_inductor_matches_eager() -> None:
    program = rldsl.compile(EXAMPLES / "pendulum_sac.rlm")
    module = program["policy"]
    td = program.spec_random_input("policy", (8,))
    compiled = torch.compile(module)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        eager = _run(module, td)
        out = _run(compiled, td)
    for key in program.writes("policy"):
        torch.testing.assert_close(out.get(key), eager.get(key), rtol=1e-5, atol=1e-5, msg=str(key))
