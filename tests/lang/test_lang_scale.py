"""A large generated model parses completely (timing belongs to benchmarks, not tests)."""

from __future__ import annotations

import pytest

from rldsl.lang import ast as A
from rldsl.lang.parse import parse


def generated_model(declarations: int) -> str:
    """A model with keys, bounded keys, composite keys, networks and actors in turn."""
    lines = ['env pendulum = gym("Pendulum-v1")', "dim n_agents = 3"]
    for i in range(declarations - len(lines)):
        kind = i % 5
        if kind == 0:
            lines.append(f"key obs_{i} : f32[{i % 7 + 1}]")
        elif kind == 1:
            lines.append(f"key act_{i} : f32[2] in [[-1.0, 0.0], [1.0, 2.0]]")
        elif kind == 2:
            lines.append(
                f"module body_{i} = MLP(out_features=2 * act_{i - 1}.shape[-1], num_cells=[64, 64])\n"
                f'    >> NormalParamExtractor(scale_mapping="biased_softplus_1.0")\n'
                f"    : obs_{i - 2} -> loc_{i}, scale_{i}"
            )
        elif kind == 3:
            lines.append(
                f"actor pol_{i} = ProbabilisticActor(body_{i - 1}, in=[loc_{i - 1}, scale_{i - 1}], "
                f"out=[act_{i - 2}], dist=TanhNormal(low=act_{i - 2}.low, high=act_{i - 2}.high), spec=act_{i - 2})"
            )
        else:
            lines.append(f"key agents_{i} : {{ obs: f32[n_agents, 8], action: onehot(4, shape=[n_agents, 4]) }}")
    return "\n".join(lines) + "\n"


@pytest.mark.slow
def test_two_thousand_declarations() -> None:
    module, diagnostics = parse(generated_model(2000), "generated.rlm")
    assert diagnostics == []
    assert len(module.body) == 2000
    assert sum(isinstance(d, A.ModuleDecl) for d in module.body) == 2 * 1998 // 5
