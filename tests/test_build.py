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
    with pytest.raises(BuildError, match="keyed by argument names, not by a int"):
        MLP(out_features={1: 1})
    looped: dict = {}
    looped["x"] = looped
    with pytest.raises(BuildError, match="dict that contains itself"):
        MLP(out_features=looped)
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
    assert EGreedyModule(spec="agents.action", eps_init=0.5).node == expr(
        "EGreedyModule(spec=agents.action, eps_init=0.5)")


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


# ---------------------------------------------------------------------------------------------
# Hostile and huge values: a BuildError at the Python call, never a RecursionError or ValueError


def _deep_sum(levels: int) -> object:
    x = ref("a")
    for _ in range(levels):
        x = x + 1  # DEEP-SUM
    return x


def test_a_deep_expression_is_refused_where_it_gets_too_deep() -> None:
    from rldsl.build import MAX_DEPTH

    with pytest.raises(BuildError, match=f"more than {MAX_DEPTH} levels deep") as caught:
        _deep_sum(10_000)
    assert f"{HERE}:{line_of('DEEP-SUM')}:" in str(caught.value)
    with pytest.raises(BuildError, match="levels deep"):
        x = MLP(out_features=1)
        for _ in range(5_000):
            x = MLP(out_features=1) >> x  # nests: MLP >> (MLP >> (...))
    with pytest.raises(BuildError, match="levels deep"):
        v: object = 1
        for _ in range(10_000):
            v = [v]
        MLP(num_cells=v)
    with pytest.raises(BuildError, match="levels deep"):
        i: object = ref("a")
        for _ in range(10_000):
            i = ref("a")[i]


def test_a_long_chain_of_pipes_is_one_flat_pipe() -> None:
    x = MLP(out_features=3)
    for _ in range(5_000):
        x = x >> Tanh()
    assert isinstance(x.node, A.Pipe) and len(x.node.stages) == 5_001 and x.depth == 3
    m = Model()
    m.key("observation", "f32[3]")
    m.module("p", x, reads=["observation"], writes=["y"])
    assert clean_parse(m.to_source()) == m.ast
    assert [d.code for d in m.check().diagnostics] == ["W0301"]


def _nest(shape: str, levels: int) -> object:
    """An expression ``levels`` deep, each level printed in the way that takes the most parser
    levels and brackets: a right operand in parentheses, a keyword argument, a list, a pipe in
    parentheses, an index, a negated sum."""
    x: object = 1
    for _ in range(levels):
        if shape == "sub":
            x = ref("a") - x
        elif shape == "kwarg":
            x = ref("MLP")(num_cells=x)
        elif shape == "list":
            x = [x]
        elif shape == "pipe":
            x = Tanh() >> (x if isinstance(x, rldsl.build.Expr) else Tanh())
        elif shape == "index":
            x = ref("a")[x]
        elif shape == "neg":
            x = -(ref("a") + x)
    return x


@pytest.mark.parametrize("shape", ["sub", "kwarg", "list", "pipe", "index", "neg"])
def test_the_deepest_expression_prints_parses_and_checks(shape: str) -> None:
    from rldsl.build import MAX_DEPTH
    from rldsl.lang.parse import MAX_NESTING

    assert 2 * MAX_DEPTH + 8 <= 2 * MAX_NESTING and MAX_DEPTH < MAX_NESTING  # see MAX_DEPTH
    levels = MAX_DEPTH - 1 if shape in ("sub", "kwarg", "list", "index", "pipe") else (MAX_DEPTH - 1) // 2
    m = Model()
    m.key("observation", "f32[3]")
    m.dim("a", 2)
    value = _nest(shape, levels)
    if shape in ("kwarg", "pipe"):
        m.module("p", value, reads=["observation"], writes=["y"])
    else:
        m.dim("d", value)
    assert clean_parse(m.to_source()) == m.ast
    report = m.check()  # diagnostics or not, never an exception
    assert report.diagnostics is not None
    with pytest.raises(BuildError, match="levels deep"):
        deeper = Model()
        deeper.dim("d", _nest(shape, levels + 2 if shape != "neg" else levels + 1))
        if shape in ("kwarg", "pipe"):
            raise AssertionError("built")


def test_lists_that_contain_themselves() -> None:
    a: list = []
    a.append(a)
    with pytest.raises(BuildError, match="a list that contains itself"):
        MLP(num_cells=a)
    b: list = [1]
    t = (b,)
    b.append(t)
    with pytest.raises(BuildError, match="contains itself"):
        Model().dim("d", t)
    shared = [1, 2]
    assert MLP(num_cells=[shared, shared]).node == expr("MLP(num_cells=[[1, 2], [1, 2]])")  # not a cycle


def test_values_whose_tolist_never_ends_or_fails() -> None:
    class Endless:
        def tolist(self) -> object:
            return self

    class Failing:
        def tolist(self) -> object:
            raise RuntimeError("boom")

    with pytest.raises(BuildError, match="levels deep"):
        MLP(num_cells=Endless())
    with pytest.raises(BuildError, match="tolist.*RuntimeError"):
        MLP(num_cells=Failing())


@pytest.mark.parametrize("value", [10**5000, -(10**5000), 2**62 + 1, 10**400], ids=["10e5000", "-10e5000", "2e62+1",
                                                                                    "10e400"])
def test_huge_integers_are_refused_without_printing_them(value: int) -> None:
    with pytest.raises(BuildError, match=r"at most 2\*\*62") as caught:
        Model().dim("d", value)  # HUGE
    assert f"{HERE}:{line_of('HUGE')}:" in str(caught.value) and len(str(caught.value)) < 300


def test_the_largest_integers_round_trip() -> None:
    m = Model()
    m.dim("a", 2**62)
    m.dim("b", -(2**62))
    assert clean_parse(m.to_source()) == m.ast


def test_numbers_that_are_not_floats() -> None:
    from fractions import Fraction

    with pytest.raises(BuildError, match="Fraction that cannot be a float"):
        MLP(dropout=Fraction(10**400, 3))
    assert MLP(dropout=Fraction(1, 4)).node == expr("MLP(dropout=0.25)")


@pytest.mark.parametrize("bad", ["a\x00b", "a\nb", "a\x1b[31mred", "a\u2028b", " sac", "sac\t", "x" * 300, "\ud800"],
                         ids=["nul", "newline", "escape", "line-separator", "leading-space", "trailing-tab", "long",
                              "surrogate"])
def test_model_names_with_control_characters(bad: str) -> None:
    with pytest.raises(BuildError, match="plain name") as caught:
        Model(bad)  # BAD-MODEL-NAME
    message = str(caught.value)
    assert f"{HERE}:{line_of('BAD-MODEL-NAME')}:" in message
    assert message.isprintable() and len(message) < 400


@pytest.mark.parametrize("bad", ["a\x00", "a\nb", "a\x1b", "dim b", "a b", "é", "a" * 10_000 + "\x00"],
                         ids=["nul", "newline", "escape", "two-words", "space", "non-ascii", "long"])
def test_names_with_control_characters_are_refused_escaped(bad: str) -> None:
    attempts = [
        lambda: Model().key(bad, "f32[1]"),
        lambda: Model().module(bad, MLP(out_features=1), reads=["x"], writes=["y"]),
        lambda: Model().dim(bad, 3),
        lambda: Model().env(bad, "Pendulum-v1"),
        lambda: MLP(**{bad: 1}),
        lambda: ValueOperator(MLP(out_features=1), in_=[bad]),
        lambda: getattr(ref("a"), bad),
        lambda: ref(bad),
    ]
    for attempt in attempts:
        with pytest.raises(BuildError) as caught:
            attempt()
        message = str(caught.value)
        assert message.isprintable() and len(message) < 400 and f"{HERE}:" in message


@pytest.mark.parametrize("char", ["\x00", "\x1b", "\x7f", "\x85", "\u2028", "\ud800", "\x0b"])
def test_strings_a_rlm_file_cannot_hold(char: str) -> None:
    with pytest.raises(BuildError, match=f"U\\+{ord(char):04X}") as caught:
        Model().env("e", f"Pendulum{char}-v1")  # BAD-STRING
    assert f"{HERE}:{line_of('BAD-STRING')}:" in str(caught.value) and str(caught.value).isprintable()
    with pytest.raises(BuildError, match="cannot hold"):
        NormalParamExtractor(scale_mapping=f"exp{char}")
    with pytest.raises(BuildError, match="cannot hold"):
        Model().include(f"specs{char}.rlm")


def test_strings_with_tabs_and_newlines_round_trip() -> None:
    m = Model()
    m.env("e", "a\tb\nc\rd\\e\"f'g")
    m.key("observation", "f32[3]")
    m.module("p", MLP(out_features=1) >> NormalParamExtractor(scale_mapping="ex\np"), reads=["observation"],
             writes=["loc", "scale"])
    assert clean_parse(m.to_source()) == m.ast


def test_include_paths_are_strings() -> None:
    with pytest.raises(BuildError, match="string path"):
        Model().include(b"specs.rlm")  # type: ignore[arg-type]
    with pytest.raises(BuildError, match="string path"):
        Model().include(3)  # type: ignore[arg-type]


def test_only_names_calls_and_indexes_can_be_indexed() -> None:
    with pytest.raises(BuildError, match="cannot be indexed"):
        (ref("a") + 1)[0]  # noqa: B018
    with pytest.raises(BuildError, match="cannot be indexed"):
        (MLP(out_features=1) >> Tanh())[0]  # noqa: B018
    assert ref("a").shape[0][1].node == expr("a.shape[0][1]")
    assert MLP(out_features=1)[0].node == expr("MLP(out_features=1)[0]")


def test_deep_or_self_containing_runtime_specs() -> None:
    from rldsl.specs import Composite, Unbounded

    spec = Unbounded((1,))
    for _ in range(3_000):
        spec = Composite(a=spec)
    with pytest.raises(BuildError, match="nests composites"):
        Model().key("x", spec)
    looped = Composite(a=Unbounded((1,)))
    looped["b"] = looped
    with pytest.raises(BuildError, match="contains itself"):
        Model().key("x", looped)


def test_keys_are_listed() -> None:
    with pytest.raises(BuildError, match="lists keys"):
        Model().module("m", MLP(out_features=1), reads=3, writes=["y"])  # type: ignore[arg-type]


def test_unknown_kinds_from_python() -> None:
    with pytest.raises(AttributeError, match="wraps a Python language-model object"):
        rldsl.build.LMHeadActorValueOperator  # noqa: B018
    with pytest.raises(AttributeError) as caught:
        rldsl.build.MPCPlannerBase  # noqa: B018
    assert "did you mean" not in str(caught.value) and "CEMPlanner" in str(caught.value)
    with pytest.raises(AttributeError) as caught:
        getattr(rldsl.build, "Zz\x1b[2J")
    assert str(caught.value).isprintable()


def test_build_docstring_examples() -> None:
    import doctest

    result = doctest.testmod(rldsl.build, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_a_python_file_that_cannot_be_parsed_gives_bare_sites(monkeypatch: pytest.MonkeyPatch) -> None:
    from rldsl.lang import pysite

    def too_deep(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded during compilation")

    monkeypatch.setattr(pysite.pyast, "parse", too_deep)
    assert pysite._index.__wrapped__("generated.py", "x = 1\n") == {}
