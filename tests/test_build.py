"""The Python builder (rldsl.build): the same syntax tree as the `.rlm` text, the same checker,
diagnostics at the Python call site, canonical printing, compiling and saving."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import rldsl
from rldsl.build import (
    MLP,
    Actor,
    BuildError,
    EGreedyModule,
    Model,
    MultiAgentMLP,
    NormalParamExtractor,
    ProbabilisticActor,
    QValueModule,
    Tanh,
    TanhNormal,
    ValueOperator,
    ref,
)
from rldsl.lang import ast as A
from rldsl.lang.parse import parse
from rldsl.lang.printer import expr_source

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve()


def line_of(marker: str) -> int:
    """The line of this file that holds ``marker`` (in a comment), to compare spans with."""
    lines = HERE.read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if line.rstrip().endswith("# " + marker))


def sac_model() -> Model:
    """examples/pendulum_sac.rlm, written in Python."""
    m = Model("sac")
    m.env("pendulum", "Pendulum-v1")
    observation = m.key("observation", "f32[3]")
    action = m.key("action", "f32[1] in [-2.0, 2.0]")
    params = m.module("params",
                      MLP(out_features=2 * action.shape[-1], num_cells=[64, 64], activation_class=Tanh)
                      >> NormalParamExtractor(scale_mapping="biased_softplus_1.0"),
                      reads=[observation], writes=["loc", "scale"])
    m.actor("policy", ProbabilisticActor(params, in_=["loc", "scale"], out=[action],
                                         dist=TanhNormal(low=action.low, high=action.high),
                                         return_log_prob=True, spec=action))
    m.value("qvalue", ValueOperator(MLP(out_features=1, num_cells=[256, 256]), in_=[observation, action]))
    m.value("critic", ValueOperator(MLP(out_features=1, num_cells=[64, 64]), in_=["observation"]))
    return m


def clean_parse(text: str) -> A.Module:
    module, diagnostics = parse(text, "t.rlm")
    assert not diagnostics, diagnostics
    return module


def expr(text: str) -> A.Expr:
    """An expression as the parser reads it."""
    return clean_parse(f"dim d = {text}").body[0].value


# ---------------------------------------------------------------------------------------------
# The same program as the text


def test_built_model_is_the_parsed_example() -> None:
    example = clean_parse((ROOT / "examples" / "pendulum_sac.rlm").read_text())
    model = sac_model()
    assert model.ast == example
    assert clean_parse(model.to_source()) == example
    assert rldsl.to_source(model) == model.to_source() == rldsl.to_source(example)


def test_built_model_checks_and_compiles_like_the_example() -> None:
    model = sac_model()
    report = model.check()
    assert report.ok and not report.diagnostics
    assert report.types == rldsl.check(ROOT / "examples" / "pendulum_sac.rlm").types == rldsl.check(model).types
    assert list(rldsl.compile(model)) == ["params", "policy", "qvalue", "critic"]
    built = model.compile(seed=7)
    parsed = rldsl.compile(ROOT / "examples" / "pendulum_sac.rlm", seed=7)
    assert list(built) == list(parsed)
    for name in built:
        mine, theirs = built[name].state_dict(), parsed[name].state_dict()
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k], theirs[k]) for k in mine)
    td = built.spec_random_input("policy", (5,))
    assert built["policy"](td)["action"].shape == (5, 1)


def test_saved_model_loads_with_the_same_outputs(tmp_path: Path) -> None:
    model = sac_model()
    program = model.save(tmp_path / "sac.rlmz", seed=2)
    loaded = rldsl.load(tmp_path / "sac.rlmz")
    td = program.spec_random_input("qvalue", (3,))
    assert torch.equal(program["qvalue"](td.clone())["state_action_value"],
                       loaded["qvalue"](td.clone())["state_action_value"])


def test_a_model_with_an_include(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT / "examples" / "multiagent")
    m = Model("policy")
    m.include("specs.rlm")
    n_agents, n_actions = ref("n_agents"), ref("n_actions")
    m.module("agent_q", MultiAgentMLP(n_agent_inputs=8, n_agent_outputs=n_actions, n_agents=n_agents,
                                      centralized=False, share_params=True, depth=2, num_cells=64),
             reads=["agents.observation"], writes=["agents.action_value"])
    m.actor("policy", QValueModule(spec="agents.action", action_value_key="agents.action_value",
                                   action_mask_key="agents.action_mask",
                                   out=["agents.action", "agents.action_value", "agents.chosen_action_value"]))
    m.explore("noisy", EGreedyModule(spec="agents.action", action_key="agents.action",
                                     action_mask_key="agents.action_mask", eps_init=0.5, eps_end=0.01))
    report = m.check()
    assert report.ok, report.render()
    assert "specs.rlm" in report.sources
    assert m.ast == clean_parse((ROOT / "examples" / "multiagent" / "policy.rlm").read_text())
    assert report.types == rldsl.check(ROOT / "examples" / "multiagent" / "policy.rlm").types
    missing = Model()
    missing.include("no_such_file.rlm")  # MISSING
    (error,) = missing.check().errors
    assert error.span.line == line_of("MISSING") and error.span.file == str(HERE)


# ---------------------------------------------------------------------------------------------
# Diagnostics at the Python call site


def test_check_errors_point_at_the_python_argument() -> None:
    m = Model()
    m.key("observation", "f32[3]")
    m.value("v", ValueOperator(MLP(out_features=1), in_=["obs"]))  # BAD-KEY
    report = m.check()
    (error,) = report.errors
    line = HERE.read_text().splitlines()[line_of("BAD-KEY") - 1]
    assert error.code == "E0301"
    assert error.span.file == str(HERE) and error.span.line == line_of("BAD-KEY")
    assert line[error.span.column - 1:error.span.end_column - 1] == '"obs"'
    rendered = report.render()
    assert f"{HERE}:{line_of('BAD-KEY')}:" in rendered and line.strip() in rendered


def test_shape_errors_point_at_the_call_that_made_the_network() -> None:
    m = Model()
    m.key("observation", "f32[3]")
    m.key("action", "f32[2]")
    m.actor("policy", Actor(MLP(out_features=5,  # WRONG-OUT
                                num_cells=[8]), spec="action"))
    report = m.check()
    assert report.errors and all(e.span.file == str(HERE) for e in report.errors)
    assert {e.span.line for e in report.errors} <= {line_of("WRONG-OUT"), line_of("WRONG-OUT") + 1}


def test_spec_syntax_errors_point_inside_the_string() -> None:
    m = Model()
    with pytest.raises(BuildError) as caught:
        m.key("x", "f32[3] in [1.0,")  # BAD-SPEC
    message = str(caught.value)
    assert "E0103" in message and f"{HERE}:{line_of('BAD-SPEC')}:" in message
    line = HERE.read_text().splitlines()[line_of("BAD-SPEC") - 1]
    caret = next(text for text in message.splitlines() if "^" in text)
    column = caret.index("^") - caret.index("|") - 2
    assert line[column] == "["


def test_spec_errors_in_a_computed_string_show_the_spec() -> None:
    spec = "f32[3" + "]]"
    with pytest.raises(BuildError, match=r"spec of `x`"):
        Model().key("x", spec)
    with pytest.raises(BuildError, match="more than one spec"):
        Model().key("x", "f32[3]\nkey y : f32[2]")


def test_a_model_name_is_a_plain_file_name() -> None:
    assert Model("pendulum-sac").name == "pendulum-sac"
    for bad in ("", "../up", "a/b", ".hidden"):
        with pytest.raises(BuildError, match="plain name"):
            Model(bad)


@pytest.mark.parametrize("name", ["", "1x", "a-b", "key", "module", 3])
def test_names_that_are_not_names(name: object) -> None:
    with pytest.raises(BuildError, match="not a `.rlm` name"):
        Model().key(name, "f32[1]")  # type: ignore[arg-type]


def test_values_without_a_rlm_form() -> None:
    with pytest.raises(BuildError, match="NaN"):
        MLP(out_features=float("nan"))
    with pytest.raises(BuildError, match="dict has no `.rlm` form"):
        MLP(out_features={"a": 1})
    with pytest.raises(BuildError, match="not a key or name"):
        ValueOperator(MLP(out_features=1), in_=["not a key"])
    with pytest.raises(BuildError, match="reads and writes at least one key"):
        Model().module("m", MLP(out_features=1), reads=["observation"])
    with pytest.raises(AttributeError, match="did you mean `ProbabilisticActor`"):
        rldsl.build.ProbablisticActor  # noqa: B018


# ---------------------------------------------------------------------------------------------
# Expressions


def test_strings_name_keys_only_where_the_kind_takes_names() -> None:
    call = ProbabilisticActor("params", in_=["loc"], out="action", dist="TanhNormal", return_log_prob=True)
    assert call.node == expr("ProbabilisticActor(params, in=[loc], out=action, dist=TanhNormal, "
                             "return_log_prob=true)")
    assert NormalParamExtractor(scale_mapping="exp").node == expr('NormalParamExtractor(scale_mapping="exp")')
    assert EGreedyModule(spec="agents.action", eps_init=0.5).node == expr("EGreedyModule(spec=agents.action, eps_init=0.5)")


def test_expressions_are_the_parsed_ones() -> None:
    a, b, c = ref("a"), ref("b"), ref("c")
    pairs = [
        (2 * a.shape[-1], "2 * a.shape[-1]"),
        (-(a + 1), "-(a + 1)"),
        (a - (b - c), "a - (b - c)"),
        ((a - b) - c, "a - b - c"),
        (a // 2 % 3, "a // 2 % 3"),
        (+a, "+a"),
        (-(-a), "--a"),
        (a >> b >> c, "a >> b >> c"),
        (a >> (b >> c), "a >> (b >> c)"),
        (MLP(out_features=1) >> Tanh(), "MLP(out_features=1) >> Tanh()"),
        (a.low[0], "a.low[0]"),
        (c(1, x=[1, 2.5], y=(3,), z=None, w=True), "c(1, x=[1, 2.5], y=(3,), z=none, w=true)"),
    ]
    for built, text in pairs:
        assert built.node == expr(text), (text, built)
        assert expr(expr_source(built.node)) == expr(text)


def test_negative_numbers_are_numbers() -> None:
    assert MLP(out_features=-3).node == expr("MLP(out_features=-3)")
    assert (-ref("a").shape[0]).node == expr("-a.shape[0]") and isinstance(expr("-a.shape[0]"), A.UnaryOp)
    m = Model()
    n = m.dim("n", 3)
    assert repr(n) == "Expr(n)" and repr(-n * 2) == "Expr(-n * 2)"


def test_expressions_are_not_iterable_or_callable_everywhere() -> None:
    with pytest.raises(TypeError):
        list(ref("a"))
    with pytest.raises(TypeError, match="cannot be called"):
        (ref("a") + 1)()
    with pytest.raises(AttributeError):
        (ref("a") + 1).low  # noqa: B018


def test_to_source_of_text_and_paths(tmp_path: Path) -> None:
    path = tmp_path / "a.rlm"
    path.write_text("key   obs:f32[ 3 ]  # observations\n")
    assert rldsl.to_source(path) == rldsl.to_source(os.fspath(path)) == "key obs : f32[3]  # observations\n"
    with pytest.raises(ValueError, match="E0107"):
        rldsl.to_source("key obs f32[3]\n")
    with pytest.raises(TypeError):
        rldsl.to_source(3)


def test_keys_take_runtime_specs() -> None:
    from rldsl.specs import Bounded, Composite, OneHot, Unbounded, env_specs

    m = Model()
    m.key("observation", env_specs("Pendulum-v1").observation["observation"])
    m.key("action", Bounded(-2.0, 2.0, shape=(1,)))
    m.key("move", OneHot(3, dtype=torch.int64, mask=torch.tensor([True, False, True])))
    m.key("agents", Composite(obs=Unbounded((2, 4)), shape=(2,)))
    assert m.to_source() == (
        "key observation : f32[3] in [[-1.0, -1.0, -8.0], [1.0, 1.0, 8.0]]\n"
        "key action      : f32[1] in [-2.0, 2.0]\n"
        "key move        : onehot(3, mask=[true, false, true])\n"
        "key agents      : { obs: f32[2, 4] }[2]\n"
    )
    assert m.check().ok


def test_numpy_and_torch_values_become_numbers() -> None:
    import numpy as np

    call = MLP(out_features=np.int64(3), num_cells=np.array([8, 8]), dropout=torch.tensor(0.25)).node
    assert call == expr("MLP(out_features=3, num_cells=[8, 8], dropout=0.25)")


def test_the_builder_is_reachable_from_the_package() -> None:
    assert rldsl.Model is Model and rldsl.to_source is rldsl.api.to_source
    assert {"Model", "to_source"} <= set(dir(rldsl))


def test_a_saved_model_with_an_include_stores_the_included_file(monkeypatch: pytest.MonkeyPatch,
                                                                tmp_path: Path) -> None:
    import zipfile

    monkeypatch.chdir(ROOT / "examples" / "multiagent")
    m = Model("team")
    m.include("specs.rlm")
    m.module("agent_q", MultiAgentMLP(n_agent_outputs=ref("n_actions"), n_agents=ref("n_agents"),
                                      centralized=False, share_params=False),
             reads=["agents.observation"], writes=["agents.action_value"])
    program = m.save(tmp_path / "team.rlmz", seed=1)
    with zipfile.ZipFile(tmp_path / "team.rlmz") as archive:
        assert {"source/team.rlm", "source/specs.rlm"} <= set(archive.namelist())
    monkeypatch.chdir(tmp_path)  # loading reads only the artifact
    loaded = rldsl.load(tmp_path / "team.rlmz")
    td = program.spec_random_input("agent_q", (2,))
    assert torch.equal(program["agent_q"](td.clone())["agents", "action_value"],
                       loaded["agent_q"](td.clone())["agents", "action_value"])
