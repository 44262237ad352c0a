"""``DiffusionActor`` in the language: torchrl's diffusion policy as a kind.

What is pinned: the keys it reads and writes by default and the specs the checker gives them
(the action unbounded, or the spec's with ``safe=true``); ``obs_dim`` inferred from the
observation and passed to the runtime class; a score network typed on the concatenation
``[action_dim + obs_dim + 1]`` and sized by it when compiled; every diagnostic of the rule by code
and span (E0465 for the schedule, E0466 for a score network that does not return the action's
noise, E0406, E0401, E0503, E0603, E0606, W0501); the compiled module against one built by hand
from ``rldsl.modules``; and a run on ``meta`` that confirms the checked shapes.
"""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.kinds import Meaning, lookup
from rldsl.lang.types import spec_text
from rldsl.modules import DiffusionActor, ExplorationType, set_exploration_type

HEAD = """key observation : f32[17]
key action : f32[6] in [-1.0, 1.0]
"""
POLICY = HEAD + "actor policy = DiffusionActor(action_dim=6, num_steps=5, in=[observation], spec=action, safe=true)\n"
SCORED = HEAD + ("actor policy = DiffusionActor(6, score_network=MLP(out_features=6, num_cells=[32, 32], "
                 "activation_class=SiLU), num_steps=5, spec=action, safe=true)\n")


def diagnostics(text: str) -> list[tuple[str, int, int]]:
    """``(code, line, column)`` of every diagnostic of ``text``."""
    return [(d.code, d.span.line, d.span.column) for d in check_text(text, "d.rlm").diagnostics]


def column(text: str, line: int, needle: str) -> int:
    """The 1-based column of ``needle`` on ``line`` of ``text``."""
    return text.splitlines()[line - 1].index(needle) + 1


def only(text: str):
    (found,) = check_text(text, "d.rlm").diagnostics
    return found


def key_specs(text: str) -> dict[str, str]:
    report = rldsl.check(text)
    assert report.ok, [(d.code, d.message) for d in report.diagnostics]
    return {".".join(info.path): spec_text(info.spec) for info in report.keys}


# --------------------------------------------------------------------------- the description
def test_the_kind_is_an_actor_whose_obs_dim_is_the_input_size() -> None:
    kind = lookup("DiffusionActor")
    assert kind is not None and kind.role == "actor" and kind.runtime == "rldsl.modules.DiffusionActor"
    assert [p.name for p in kind.params_meaning(Meaning.INPUT_SIZE)] == ["obs_dim"]
    assert kind.param("in").default == ("observation",) and kind.param("out").default == ("action",)
    assert (kind.param("num_steps").default, kind.param("beta_start").default, kind.param("beta_end").default) \
        == (100, 1e-4, 0.02)


# --------------------------------------------------------------------------- types and keys
def test_it_reads_the_observation_and_writes_the_action_in_its_spec() -> None:
    assert diagnostics(POLICY) == []
    report = rldsl.check(POLICY)
    policy = report.modules["policy"]
    assert [r.dotted for r in policy.reads] == ["observation"] and [r.dotted for r in policy.writes] == ["action"]
    assert key_specs(POLICY)["action"] == "f32[6] in [-1.0, 1.0]"


def test_without_a_spec_the_action_is_unbounded_with_the_observations_batch_dims() -> None:
    text = ("dim n_agents = 3\nkey observation : f32[n_agents, 17]\n"
            "actor policy = DiffusionActor(6, num_steps=5, out=[raw])\nmodule use = MLP(out_features=1) : raw -> v\n")
    specs = key_specs(text)
    assert specs["raw"] == "f32[n_agents, 6]"


def test_a_bounded_spec_without_safe_warns_that_the_action_may_leave_it() -> None:
    text = HEAD + "actor policy = DiffusionActor(6, num_steps=5, spec=action)\n"
    found = only(text)
    assert (found.code, found.span.line) == ("W0501", 3)
    assert "safe=true" in found.help


def test_the_score_network_is_typed_on_the_noisy_action_observation_and_step() -> None:
    report = rldsl.check(SCORED)
    assert report.ok
    (widths,) = [tuple(spec_text(s) for s in specs) for specs in report.network_inputs.values()
                 if len(specs) == 1 and spec_text(specs[0]) == "f32[24]"]
    assert widths == ("f32[24]",)


# --------------------------------------------------------------------------- compiled
def test_obs_dim_is_inferred_and_sizes_the_default_score_network() -> None:
    program = rldsl.compile(POLICY)
    actor = program["policy"]
    assert isinstance(actor, DiffusionActor)
    first = actor.module.score_network[0]
    assert isinstance(first, torch.nn.Linear) and first.in_features == 6 + 17 + 1
    assert actor.module.num_steps == 5 and actor.in_keys == ["observation"] and actor.out_keys == ["action"]
    assert list(actor.state_dict())[:4] == ["module.betas", "module.alphas", "module.alphas_cumprod",
                                            "module.score_network.0.weight"]


def test_a_score_network_from_the_text_is_sized_by_the_concatenation() -> None:
    program = rldsl.compile(SCORED)
    network = program["policy"].module.score_network
    assert network[0].in_features == 24 and network[-1].out_features == 6
    assert [type(m).__name__ for m in network] == ["Linear", "SiLU", "Linear", "SiLU", "Linear"]
    names = [n for n in program["policy"].state_dict() if n.startswith("module.score_network")]
    assert names == [f"module.score_network.{i}.{p}" for i in (0, 2, 4) for p in ("weight", "bias")]


def test_the_compiled_actor_is_the_hand_built_one() -> None:
    program = rldsl.compile(POLICY, seed=0)
    compiled = program["policy"]
    by_hand = DiffusionActor(action_dim=6, obs_dim=17, num_steps=5)
    by_hand.load_state_dict(compiled.state_dict())
    td = TensorDict(observation=torch.randn(4, 17), batch_size=[4])
    with set_exploration_type(ExplorationType.DETERMINISTIC), torch.no_grad():
        expected = by_hand(td.clone())["action"].clamp(-1.0, 1.0)  # the compiled one projects (safe=true)
        got = compiled(td.clone())["action"]
    torch.testing.assert_close(got, expected)
    with set_exploration_type(ExplorationType.RANDOM):
        action = compiled(td.clone())["action"]
    assert action.shape == (4, 6) and bool(action.abs().le(1.0).all())


def test_the_compiled_actor_runs_on_meta_with_the_checked_shapes() -> None:
    program = rldsl.compile(SCORED, device="meta")
    out = program["policy"](program.spec_random_input("policy", (3,)))
    assert out["action"].device == torch.device("meta") and out["action"].shape == (3, 6)


# --------------------------------------------------------------------------- diagnostics
@pytest.mark.parametrize("call, needle", [
    ("DiffusionActor(6, num_steps=0)", "0"),
    ("DiffusionActor(6, num_steps=20000)", "20000"),
    ("DiffusionActor(6, beta_start=0.0)", "0.0"),
    ("DiffusionActor(6, beta_end=1.0)", "1.0"),
    ("DiffusionActor(6, beta_start=0.05)", "0.05"),  # above the default beta_end
    ("DiffusionActor(6, beta_start=0.02, beta_end=0.01)", "0.01"),
    ("DiffusionActor(6, beta_end=inf)", "inf"),
])
def test_the_schedule_is_checked(call: str, needle: str) -> None:
    text = HEAD + f"actor policy = {call[:-1]}, spec=action, safe=true)\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0465", 3, column(text, 3, needle))
    assert found.help


def test_a_score_network_must_return_the_actions_noise() -> None:
    text = HEAD + "actor policy = DiffusionActor(6, score_network=MLP(out_features=4), spec=action, safe=true)\n"
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == ("E0466", 3, column(text, 3, "MLP"))
    assert "f32[6]" in found.message and "returns f32[4]" in found.message
    two = HEAD + ("actor policy = DiffusionActor(6, score_network=MLP(out_features=12) >> NormalParamExtractor(), "
                  "spec=action, safe=true)\n")
    assert [code for code, _, _ in diagnostics(two)] == ["E0466"]


def test_a_score_network_reading_another_width_is_told_the_concatenations() -> None:
    text = HEAD + "actor policy = DiffusionActor(6, score_network=Linear(23, 6), spec=action, safe=true)\n"
    found = only(text)
    assert found.code == "E0406" and "24 features" in found.label


def test_obs_dim_when_given_is_the_observations_width() -> None:
    text = HEAD + "actor policy = DiffusionActor(6, obs_dim=16, spec=action, safe=true)\n"
    found = only(text)
    assert (found.code, found.span.column) == ("E0406", column(text, 3, "16"))
    assert diagnostics(HEAD + "actor policy = DiffusionActor(6, obs_dim=17, spec=action, safe=true)\n") == []


@pytest.mark.parametrize("declared, call, code, needle", [
    ("key count : i64[3]\n", "DiffusionActor(6, in=[count], out=[raw])", "E0503", "count"),
    ("key scalar : f32[]\n", "DiffusionActor(6, in=[scalar], out=[raw])", "E0401", "scalar"),
    ("", "DiffusionActor(6, safe=true, out=[raw])", "E0603", "true"),
    ("", "DiffusionActor(0, out=[raw])", "E0606", "0"),
    ("key other : f32[2]\n", "DiffusionActor(6, in=[observation, other], out=[raw])", "E0606", "["),
    ("", "DiffusionActor(6, out=[raw, extra])", "E0606", "[raw"),
])
def test_other_mistakes(declared: str, call: str, code: str, needle: str) -> None:
    text = HEAD + declared + f"actor policy = {call}\n"
    line = 3 + declared.count("\n")
    found = only(text)
    assert (found.code, found.span.line, found.span.column) == (code, line, column(text, line, needle))


def test_the_broken_examples_file_names_both_new_codes() -> None:
    from pathlib import Path

    header = (Path(__file__).resolve().parents[2] / "examples" / "errors" / "diffusion.rlm").read_text().splitlines()[0]
    assert "E0465@" in header and "E0466@" in header
