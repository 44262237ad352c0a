"""What ``check`` accepts, ``compile`` builds: every program that checks clean compiles and runs
its forward pass, on ``device="meta"`` (shapes and dtypes only) and on the CPU.

Programs are drawn by hypothesis from the kind descriptions (:mod:`rldsl.lang.kinds`): a small
"world" of keys and modules (continuous or discrete actions) and a few declarations, one per
template, each template fixing the arguments that wire keys and modules together and drawing
every other parameter of its kind from that parameter's type, as the description gives it
(:func:`free_arguments`; the value strategies are those of ``tests/test_build_roundtrip.py``, with
extreme numbers added). Whatever checks clean must compile and run; anything else must be a
diagnostic. Fast by default (the hypothesis profile of ``tests/conftest.py``); more examples with
``HYPOTHESIS_PROFILE=ci``, and 1,500 with ``-m slow`` (a few minutes).

The reproducers of issue 9 (deliverable 5) are tests of their own below: each once crashed
``rldsl compile`` with an internal error.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rldsl
import rldsl.build as B
from rldsl import cli
from rldsl.build import Model, ref
from rldsl.compiler import CompileError
from rldsl.compiler.specs import torch_dtype
from rldsl.compiler.summary import BATCH, run_once
from rldsl.lang.kinds import KINDS, ArgType, Family, Kind, Param, lookup
from test_build_roundtrip import ACTIVATIONS, floats, positive, small, value_for

ROOT = Path(__file__).resolve().parents[1]
META = torch.device("meta")

#: Keys a drawn key argument names: declared ones, new ones, and one nested under a tensor.
KEY_NAMES = ("observation", "action", "action_mask", "is_init", "fresh", "fresh.inner", "observation.inner")

#: Numbers that runtime classes are picky about: zero, tiny, huge and infinite ones.
EXTREME = st.sampled_from([0.0, 1e-12, 1e12, math.inf, -math.inf, -0.5])


def free_value(param: Param) -> st.SearchStrategy[object] | None:
    """A value for a parameter that does not wire keys or modules, drawn by its type (None: the
    template sets it, or leaves it to its default)."""
    if param.type is ArgType.FLOAT and not param.choices:
        return st.one_of(floats, small, EXTREME)
    if param.type is ArgType.BOUND:
        return st.one_of(floats, EXTREME, st.lists(st.one_of(floats, EXTREME), min_size=1, max_size=3))
    if param.type is ArgType.INT and not param.choices:
        return st.one_of(st.integers(-1, 6), small)
    if param.type is ArgType.ACTIVATION:
        return st.sampled_from(ACTIVATIONS)
    if param.type is ArgType.KEY:
        return st.sampled_from(KEY_NAMES)
    if param.type in (ArgType.CHOICE, ArgType.BOOL, ArgType.STR, ArgType.SIZE, ArgType.INTS, ArgType.NUMBERS) \
            or param.choices:
        return value_for(param, 0)
    return None


def free_arguments(draw: st.DrawFn, kind: Kind, fixed: dict[str, object]) -> dict[str, object]:
    """``fixed`` plus, now and then, a value for each other parameter of ``kind`` (by keyword)."""
    arguments = dict(fixed)
    for param in kind.params:
        if param.name in fixed or param.name in ("in", "out"):
            continue
        strategy = free_value(param)
        if strategy is not None and draw(st.integers(0, 3)) == 0:
            arguments[param.name] = draw(strategy)
    return arguments


def call(draw: st.DrawFn, name: str, **fixed: object) -> object:
    """A call of the kind ``name``: the ``fixed`` arguments and drawn free ones."""
    arguments = free_arguments(draw, lookup(name), {k.rstrip("_"): v for k, v in fixed.items()})
    return getattr(B, name)(**{("in_" if k == "in" else k): v for k, v in arguments.items()})


# ---------------------------------------------------------------------------------------------
# Worlds: the keys and modules that declarations refer to


class World:
    """A model under construction and what its declarations may use."""

    def __init__(self, model: Model, continuous: bool, action_size: int, values: int) -> None:
        self.model = model
        self.continuous = continuous
        self.action_size = action_size  # the last dim of `action` (continuous)
        self.values = values  # the number of action values (discrete)
        self.count = 0

    def name(self) -> str:
        self.count += 1
        return f"d{self.count}"


@st.composite
def worlds(draw: st.DrawFn) -> World:
    """Declared keys, and a few modules writing distribution parameters, a policy's action, or
    action values."""
    model = Model("drawn")
    continuous = draw(st.booleans())
    observation = draw(st.sampled_from(["f32[3]"] * 5 + ["f64[3]", "f16[3]", "f32[2, 3]", "f32[n]"]))
    if observation == "f32[n]":
        model.dim("n", draw(st.sampled_from([3, None])))  # `dim n` without a size: check passes, compile refuses
    model.key("observation", observation)
    if draw(st.booleans()):
        model.key("is_init", draw(st.sampled_from(["bool[1]", "bool[1]", "f32[1]"])))
    lead = "2, " if observation == "f32[2, 3]" else ""
    if continuous:
        size = draw(st.integers(1, 3))
        elements = size * (2 if lead else 1)
        per_element = f" in [[{', '.join(['-1.0'] * elements)}], [{', '.join(['2.0'] * elements)}]]"
        bounds = draw(st.sampled_from(["", " in [-1.0, 1.0]", " in [-1.0, 1.0]", " in [-2.0, 0.5]", per_element]))
        model.key("action", f"f32[{lead}{size}]{bounds}")
        _distribution_parameters(model, size, 4)
        model.actor("policy", B.Actor(B.MLP(out_features=size) >> B.Tanh(), spec="action"))
        return World(model, True, size, 0)
    values = draw(st.integers(2, 5))
    mask = draw(st.sampled_from(["", ", mask=[" + ", ".join(["true"] * (values - 1) + ["false"]) + "]"]))
    if lead:
        model.key("action", draw(st.sampled_from([f"onehot({values}, shape=[2, {values}]{mask})",
                                                  f"categorical({values}, shape=[2]{mask})"])))
    else:
        model.key("action", draw(st.sampled_from([f"onehot({values}{mask})", f"categorical({values}{mask})"])))
    model.key("action_mask", f"bool[{lead}{values}]")
    _distribution_parameters(model, 2, values)
    model.actor("greedy", B.QValueActor(B.MLP(out_features=values), spec="action"))
    return World(model, False, 0, values)


def _distribution_parameters(model: Model, size: int, values: int) -> None:
    """Modules writing the parameters of every sort of distribution: `loc` and `scale`, `param`, `logits`."""
    model.module("params", B.MLP(out_features=2 * size) >> B.NormalParamExtractor(),
                 reads=["observation"], writes=["loc", "scale"])
    model.module("param_net", B.MLP(out_features=size), reads=["observation"], writes=["param"])
    model.module("logit_net", B.MLP(out_features=values), reads=["observation"], writes=["logits"])


# ---------------------------------------------------------------------------------------------
# Templates: one declaration of a kind, its wiring fixed, its other arguments drawn


def keyed_network(draw: st.DrawFn, world: World) -> None:
    """A network given keys: an MLP, a Linear, an activation or a NormalParamExtractor after an MLP."""
    name = world.name()
    choice = draw(st.sampled_from(["MLP", "Linear", "activation", "NormalParamExtractor"]))
    writes = [f"{name}_out"]
    if choice == "MLP":
        net = call(draw, "MLP", out_features=draw(st.one_of(positive, st.tuples(positive, positive))))
    elif choice == "Linear":
        net = call(draw, "Linear", in_features=3, out_features=draw(positive))
    elif choice == "activation":
        net = B.MLP(out_features=draw(positive)) >> call(draw, draw(st.sampled_from(ACTIVATIONS)))
    else:
        net = B.MLP(out_features=2 * draw(positive)) >> call(draw, "NormalParamExtractor")
        writes = [f"{name}_loc", f"{name}_scale"]
    world.model.module(name, net, reads=["observation"], writes=writes)


def multi_agent(draw: st.DrawFn, world: World) -> None:
    name = world.name()
    world.model.key(f"{name}_team", "f32[3, 4]")
    net = call(draw, "MultiAgentMLP", n_agents=3, n_agent_outputs=draw(positive), centralized=draw(st.booleans()),
               share_params=draw(st.booleans()))
    world.model.module(name, net, reads=[f"{name}_team"], writes=[f"{name}_out"])


def actor(draw: st.DrawFn, world: World) -> None:
    last = draw(st.sampled_from([None, B.Tanh()]))
    net = B.MLP(out_features=world.action_size) if last is None else B.MLP(out_features=world.action_size) >> last
    kind = draw(st.sampled_from(["Actor", "SafeModule"]))
    if kind == "Actor":
        world.model.actor(world.name(), call(draw, "Actor", module=net, spec="action"))
    else:
        world.model.module(world.name(), call(draw, "SafeModule", module=net, in_=["observation"], out=["action"],
                                              spec="action"))


def tanh_module(draw: st.DrawFn, world: World) -> None:
    fixed: dict[str, object] = {"in_": ["param"], "out": ["action"]}
    if draw(st.booleans()):
        fixed["spec"] = "action"
    world.model.actor(world.name(), B.SafeSequential("param_net", call(draw, "TanhModule", **fixed)))


def probabilistic(draw: st.DrawFn, world: World) -> None:
    """A ProbabilisticActor (or SafeProbabilisticModule) with a distribution of the world's sort."""
    continuous = [k for k in KINDS if k.family is Family.DISTRIBUTION and k.dist.sample in ("real", "bounded")]
    discrete = [k for k in KINDS if k.family is Family.DISTRIBUTION and k.dist.sample in ("onehot", "index")]
    dist = draw(st.sampled_from(continuous if world.continuous else discrete) if draw(st.integers(0, 4))
                else st.sampled_from(continuous + discrete))  # now and then one of the wrong sort
    fixed: dict[str, object] = {}
    if dist.dist.sample == "bounded" and draw(st.integers(0, 3)):
        fixed = {"low": ref("action").low, "high": ref("action").high}
    if dist.dist.masked:
        fixed["mask"] = "action_mask"
    distribution = call(draw, dist.name, **fixed)
    if dist.dist.params == ("loc", "scale"):
        module, inputs = "params", ["loc", "scale"]
    elif dist.dist.params == ("param",):
        module, inputs = "param_net", ["param"]
    else:
        module, inputs = "logit_net", ["logits"]
    spec = {"spec": "action"} if draw(st.booleans()) else {}
    if draw(st.booleans()):
        world.model.actor(world.name(), call(draw, "ProbabilisticActor", module=module, in_=inputs, out=["action"],
                                             dist=distribution, **spec))
    else:
        world.model.actor(world.name(), B.SafeSequential(module, call(
            draw, "SafeProbabilisticModule", in_=inputs, out=["action"], dist=distribution, **spec)))


def value(draw: st.DrawFn, world: World) -> None:
    inputs = draw(st.sampled_from([["observation"], ["observation", "action"]] if world.continuous
                                  else [["observation"]]))
    world.model.value(world.name(), call(draw, "ValueOperator", module=B.MLP(out_features=1), in_=inputs))


def joined(draw: st.DrawFn, world: World) -> None:
    """ActorValueOperator, ActorCriticOperator or ActorCriticWrapper on a policy of the world."""
    name = world.name()
    hidden = f"{name}_hidden"
    world.model.module(f"{name}_common", B.MLP(out_features=4), reads=["observation"], writes=[hidden])
    if world.continuous:
        world.model.actor(f"{name}_policy", B.Actor(B.MLP(out_features=world.action_size) >> B.Tanh(), in_=[hidden],
                                                    spec="action"))
    else:
        world.model.actor(f"{name}_policy", B.QValueActor(B.MLP(out_features=world.values), in_=[hidden],
                                                          spec="action"))
    kind = draw(st.sampled_from(["ActorValueOperator", "ActorCriticOperator", "ActorCriticWrapper"]))
    critic_inputs = [hidden, "action"] if kind == "ActorCriticOperator" else [hidden]
    world.model.value(f"{name}_value", B.ValueOperator(B.MLP(out_features=1), in_=critic_inputs))
    if kind == "ActorCriticWrapper":
        world.model.module(name, B.ActorCriticWrapper(f"{name}_policy", f"{name}_value"))
    else:
        world.model.module(name, getattr(B, kind)(f"{name}_common", f"{name}_policy", f"{name}_value"))


def noise(draw: st.DrawFn, world: World) -> None:
    """Gaussian or Ornstein-Uhlenbeck noise on the policy's action."""
    kind = draw(st.sampled_from(["AdditiveGaussianModule", "OrnsteinUhlenbeckProcessModule"]))
    fixed: dict[str, object] = {"policy": "policy", "spec": "action"}
    if kind == "OrnsteinUhlenbeckProcessModule" and draw(st.booleans()):
        fixed["is_init_key"] = draw(st.sampled_from(["is_init", "observation"]))
    world.model.explore(world.name(), call(draw, kind, **fixed))


def q_values(draw: st.DrawFn, world: World) -> None:
    """A QValueActor, or a QValueModule after a network writing action values."""
    fixed: dict[str, object] = {"spec": "action"}
    if draw(st.booleans()):
        fixed["action_mask_key"] = "action_mask"
    if draw(st.booleans()):
        world.model.actor(world.name(), call(draw, "QValueActor", module=B.MLP(out_features=world.values), **fixed))
        return
    name = world.name()
    world.model.module(f"{name}_values", B.MLP(out_features=world.values), reads=["observation"],
                       writes=["action_value"])
    world.model.actor(name, B.SafeSequential(f"{name}_values", call(draw, "QValueModule", **fixed)))


def distributional(draw: st.DrawFn, world: World) -> None:
    """A DistributionalQValueActor over `bins` atoms."""
    bins = draw(st.integers(2, 6))
    support = draw(st.sampled_from([B.linspace(-10, 10, bins), [float(i) for i in range(bins)]]))
    world.model.actor(world.name(), call(draw, "DistributionalQValueActor",
                                         module=B.MLP(out_features=(bins, world.values)), support=support,
                                         spec="action"))


def distributional_module(draw: st.DrawFn, world: World) -> None:
    """A DistributionalQValueModule reading declared log-probabilities over `bins` atoms."""
    name = world.name()
    bins = draw(st.integers(2, 5))
    world.model.key(f"{name}_log_probs", f"f32[{bins}, {world.values}]")
    world.model.actor(name, call(draw, "DistributionalQValueModule", support=B.linspace(-1, 1, bins),
                                 action_value_key=f"{name}_log_probs", spec="action"))


def egreedy(draw: st.DrawFn, world: World) -> None:
    fixed: dict[str, object] = {"policy": "greedy", "spec": "action"}
    if draw(st.booleans()):
        fixed["action_mask_key"] = "action_mask"
    world.model.explore(world.name(), call(draw, "EGreedyModule", **fixed))


CONTINUOUS: tuple[Callable[[st.DrawFn, World], None], ...] = (
    keyed_network, multi_agent, actor, tanh_module, probabilistic, value, joined, noise)
DISCRETE: tuple[Callable[[st.DrawFn, World], None], ...] = (
    keyed_network, probabilistic, value, joined, q_values, distributional, distributional_module, egreedy)


@st.composite
def programs(draw: st.DrawFn) -> tuple[Model, str]:
    """A world, one to three declarations from its templates, and the compile dtype."""
    world = draw(worlds())
    for template in draw(st.lists(st.sampled_from(CONTINUOUS if world.continuous else DISCRETE),
                                  min_size=1, max_size=3)):
        template(draw, world)
    return world.model, draw(st.sampled_from(["f32", "f32", "f64"]))


# ---------------------------------------------------------------------------------------------
# The property


def assert_runs(model: Model, dtype: str, device: str | torch.device) -> None:
    """Compile on ``device`` and run every module once; each key written has the checked shape."""
    program = rldsl.compile(model, device=device, dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an OU module without `is_init` warns at every call, by design
        outputs = run_once(program)
    for name, out in outputs.items():
        for key in program.writes(name):
            static = program.static_spec(key)
            if not hasattr(static, "dtype"):
                continue
            value = out.get(key)
            assert value.device.type == torch.device(device).type, (name, key)
            assert tuple(value.shape) == (*BATCH, *program.spec(key).shape), (name, key, value.shape)
            expected = torch_dtype(static.dtype)
            if expected == torch.float32:
                expected = program.dtype
            assert value.dtype == expected, (name, key, value.dtype)


CLEAN: list[bool] = []


@given(programs())
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_programs_that_check_clean_compile_and_run_on_meta_and_cpu(drawn: tuple[Model, str]) -> None:
    CLEAN.append(check_compiles_and_runs(*drawn))


@pytest.mark.slow
@settings(max_examples=1500)
@given(programs())
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_many_programs_that_check_clean_compile_and_run(drawn: tuple[Model, str]) -> None:
    check_compiles_and_runs(*drawn)


def check_compiles_and_runs(model: Model, dtype: str) -> bool:
    """The property: a model that checks clean (for ``dtype``) compiles and runs on meta and on the
    CPU. Returns whether it checked clean."""
    report = rldsl.check(model, dtype=dtype)
    if not report.ok:
        return False
    source = model.to_source()
    if "dim n\n" in source:  # a dim without a size: compiling must say so, nothing else
        with pytest.raises(CompileError, match="the dim `n` has no size"):
            rldsl.compile(model, dtype=dtype)
        return True
    try:
        assert_runs(model, dtype, META)
        assert_runs(model, dtype, "cpu")
    except Exception as error:
        raise AssertionError(f"checks clean but does not compile and run ({dtype}):\n{source}") from error
    return True


def test_the_drawn_programs_often_check_clean() -> None:
    """Else the property above says little (runs after it, in file order)."""
    if not CLEAN:
        pytest.skip("the property test did not run")
    assert sum(CLEAN) >= len(CLEAN) // 4, f"{sum(CLEAN)} of {len(CLEAN)} programs check clean"


# ---------------------------------------------------------------------------------------------
# Distributions: `default_interaction_type` is accepted exactly when the distribution can do it

_DIST_WORLD = """key observation : f32[3]
key action : f32[2] in [-2.0, 2.0]
key choice : onehot(4)
key mask : bool[4]
module params = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale
module param_net = MLP(out_features=2) : observation -> param
module logit_net = MLP(out_features=4) : observation -> logits
"""


def _dist_program(dist: Kind, interaction: str) -> str:
    if dist.dist.params == ("loc", "scale"):
        wiring = "params, in=[loc, scale]"
    elif dist.dist.params == ("param",):
        wiring = "param_net, in=[param]"
    else:
        wiring = "logit_net, in=[logits]"
    arguments = "(mask=mask)" if dist.dist.masked else ""
    return (_DIST_WORLD + f"actor p = ProbabilisticActor({wiring}, out=[sample], dist={dist.name}{arguments}, "
            f'default_interaction_type="{interaction}")\n')


@pytest.mark.parametrize("dist", [k for k in KINDS if k.family is Family.DISTRIBUTION], ids=lambda k: k.name)
def test_interaction_types_are_accepted_exactly_when_the_distribution_computes_them(dist: Kind) -> None:
    for interaction in ("deterministic", "mode", "median", "mean", "random"):
        report = rldsl.check(_dist_program(dist, interaction))
        assert report.ok == (interaction in dist.dist.interactions), (dist.name, interaction, report.render())
        if not report.ok:
            assert [d.code for d in report.errors] == ["E0708"]
            continue
        program = rldsl.compile(_dist_program(dist, interaction))
        torch.manual_seed(0)
        sample = run_once(program)["p"]["sample"]
        assert not sample.is_floating_point() or bool(torch.isfinite(sample).all()), (dist.name, interaction)


# ---------------------------------------------------------------------------------------------
# The reproducers of issue 9 (deliverable 5)

OBSERVATION = "key observation : f32[3]\n"
ACTION = "key action : f32[1] in [-2.0, 2.0]\n"
POLICY = "actor raw = Actor(MLP(out_features=1), spec=action, safe=true)\n"


def _compile_status(tmp_path: Path, text: str, *options: str) -> int:
    path = tmp_path / "model.rlm"
    path.write_text(text)
    return cli.main(["compile", str(path), *options])


def test_ou_exploration_without_is_init_compiles_and_draws_it(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = OBSERVATION + ACTION + POLICY + "explore noisy = OrnsteinUhlenbeckProcessModule(raw, spec=action)\n"
    program = rldsl.compile(text)
    assert program.reads("noisy") == ["observation", "is_init"]
    td = program.spec_random_input("noisy", (5,))
    assert td["is_init"].dtype == torch.bool and td["is_init"].shape == (5, 1)
    assert program["noisy"](td)["action"].shape == (5, 1)
    assert _compile_status(tmp_path, text) == 0
    assert "internal error" not in capsys.readouterr().err


def test_ou_with_a_renamed_is_init_key_draws_that_key() -> None:
    text = OBSERVATION + ACTION + POLICY + "explore noisy = OrnsteinUhlenbeckProcessModule(raw, spec=action, " \
                                           "is_init_key=first)\n"
    program = rldsl.compile(text)
    assert program.spec_random_input("noisy", (2,))["first"].dtype == torch.bool


def test_the_warnings_example_compiles(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["compile", str(ROOT / "examples" / "errors" / "warnings.rlm")]) == 0
    assert "internal error" not in capsys.readouterr().err


def test_a_key_written_inside_a_tensor_it_reads_is_a_diagnostic() -> None:
    report = rldsl.check(OBSERVATION + "module m = MLP(out_features=2) : observation -> observation.x\n")
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("E0516", 2)]
    assert "`observation` is a tensor (f32[3])" in report.diagnostics[0].message


def test_a_key_written_inside_a_tensor_another_module_writes_is_a_diagnostic() -> None:
    report = rldsl.check(OBSERVATION + "module a = MLP(out_features=2) : observation -> hidden\n"
                                       "module b = MLP(out_features=2) : observation -> hidden.x\n"
                                       "module c = b >> a\n")
    assert [(d.code, d.span.line) for d in report.errors] == [("E0516", 3)]


def test_nested_keys_under_composites_and_new_parents_still_compile() -> None:
    text = (OBSERVATION + "key agents : { observation: f32[3] }\n"
            "module a = MLP(out_features=2) : observation -> agents.hidden\n"
            "module b = MLP(out_features=2) : agents.observation -> fresh.x\n")
    program = rldsl.compile(text)
    assert run_once(program)["a"]["agents", "hidden"].shape == (*BATCH, 2)


def test_an_unsized_dim_is_a_clear_compile_error(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    text = "dim n\nkey observation : f32[n]\nvalue v = ValueOperator(MLP(out_features=1))\n"
    assert rldsl.check(text).ok  # checking works with symbolic sizes
    with pytest.raises(CompileError, match=r"^<input>:3:\d+: the dim `n` has no size \(`observation` is f32\[n\]\)"
                                           r".*`dim n = 4`") as caught:
        rldsl.compile(text)
    assert caught.value.report is not None
    assert _compile_status(tmp_path, text) == 1
    err = capsys.readouterr().err
    assert "`n`" in err and "internal error" not in err


def test_an_unsized_dim_in_an_argument_is_a_clear_compile_error() -> None:
    text = OBSERVATION + "dim k\nvalue v = ValueOperator(MLP(out_features=k))\n"
    with pytest.raises(CompileError, match="`k`"):
        rldsl.compile(text)


@pytest.mark.parametrize("dtype", ["f16", "bf16", "f64"])
def test_a_network_input_in_another_dtype_is_a_check_diagnostic(dtype: str, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture) -> None:
    text = f"key observation : {dtype}[3]\nvalue v = ValueOperator(MLP(out_features=1))\n"
    report = rldsl.check(text)
    assert [d.code for d in report.diagnostics] == ["E0515"]
    message, help_ = report.diagnostics[0].message, report.diagnostics[0].help
    assert f"reads `observation` as {dtype}" in message and "f32 (the compile dtype)" in message
    assert "`f32[3]`" in help_ and (("--dtype f64" in help_) == (dtype == "f64"))
    assert _compile_status(tmp_path, text) == 1
    assert "internal error" not in capsys.readouterr().err


def test_f64_inputs_compile_with_dtype_f64_and_f32_ones_follow_it(tmp_path: Path) -> None:
    text = "key observation : f64[3]\nkey other : f32[2]\nvalue v = ValueOperator(MLP(out_features=1), " \
           "in=[observation, other])\n"
    assert rldsl.check(text, dtype="f64").ok
    assert [d.code for d in rldsl.check(text).errors] == ["E0503"]  # as f32, the two inputs differ
    program = rldsl.compile(text, dtype="f64")
    out = run_once(program)["v"]
    assert out["state_value"].dtype == torch.float64
    assert _compile_status(tmp_path, text, "--dtype", "f64") == 0


def test_a_report_checked_for_another_dtype_is_refused_clearly() -> None:
    from rldsl.compiler import compile_report

    report = rldsl.check("key observation : f64[3]\nvalue v = ValueOperator(MLP(out_features=1))\n", dtype="f64")
    with pytest.raises(CompileError, match="declare `observation` as f32 or compile with dtype `f64`"):
        compile_report(report, dtype="f32")


def test_a_wrong_compile_dtype_is_a_clear_error() -> None:
    with pytest.raises(CompileError, match="not a compile dtype"):
        rldsl.compile(OBSERVATION + "value v = ValueOperator(MLP(out_features=1))\n", dtype="f16")
    with pytest.raises(ValueError, match="not a compile dtype"):
        rldsl.check(OBSERVATION, dtype="i64")


def test_median_of_a_distribution_without_one_is_a_diagnostic() -> None:
    text = (OBSERVATION + ACTION + "module params = MLP(out_features=2) >> NormalParamExtractor() : observation -> "
            "loc, scale\nactor p = ProbabilisticActor(params, in=[loc, scale], dist=TanhNormal(low=action.low, "
            'high=action.high), spec=action, default_interaction_type="median")\n')
    report = rldsl.check(text)
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("E0708", 4)]
    assert "TanhNormal has no median" in report.diagnostics[0].message
    assert '"deterministic", "mean", "random"' in report.diagnostics[0].help


@pytest.mark.parametrize("argument", ["sigma_init=inf", "sigma_end=-inf", "mean=inf", "std=inf"])
def test_infinite_gaussian_noise_parameters_are_diagnostics(argument: str) -> None:
    report = rldsl.check(OBSERVATION + ACTION + POLICY +
                         f"explore noisy = AdditiveGaussianModule(raw, spec=action, {argument})\n")
    assert [(d.code, d.span.line) for d in report.diagnostics] == [("E0709", 4)]
    assert "must be a finite number" in report.diagnostics[0].message


@pytest.mark.parametrize("argument", ["eps_init=inf", "theta=inf", "mu=-inf", "sigma=inf", "dt=inf", "x0=inf",
                                      "sigma_min=-inf", "x0=[0.0, inf]"])
def test_infinite_ou_parameters_are_diagnostics(argument: str) -> None:
    report = rldsl.check(OBSERVATION + "key action : f32[2] in [-2.0, 2.0]\n"
                         "actor raw = Actor(MLP(out_features=2), spec=action, safe=true)\n"
                         f"explore noisy = OrnsteinUhlenbeckProcessModule(raw, spec=action, {argument})\n")
    assert [d.code for d in report.errors] == ["E0709"], report.render()


def test_an_ou_x0_list_must_fit_the_action() -> None:
    text = OBSERVATION + "key action : f32[2] in [-2.0, 2.0]\nactor raw = Actor(MLP(out_features=2), spec=action, " \
                         "safe=true)\nexplore noisy = OrnsteinUhlenbeckProcessModule(raw, spec=action, x0={})\n"
    assert [d.code for d in rldsl.check(text.format("[0.0, 1.0, 2.0]")).errors] == ["E0606"]
    program = rldsl.compile(text.format("[0.0, 1.0]"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert run_once(program)["noisy"]["action"].shape == (*BATCH, 2)


# ---------------------------------------------------------------------------------------------
# What the property test found: each a program that checked clean and did not compile or run

VALUES_WORLD = "key observation : f32[2, 3]\nkey action : categorical(3, shape=[2])\n"


@pytest.mark.parametrize("strict", ["", ", strict_shape=true", ', strict_shape="auto"'])
def test_q_values_for_a_categorical_spec_with_a_shape_need_strict_shape_off(strict: str) -> None:
    report = rldsl.check(VALUES_WORLD + f"actor q = QValueActor(MLP(out_features=3), spec=action{strict})\n")
    assert [d.code for d in report.errors] == ["E0606"]
    assert "strict_shape=false" in report.errors[0].help
    program = rldsl.compile(VALUES_WORLD + "actor q = QValueActor(MLP(out_features=3), spec=action, "
                                           "strict_shape=false)\n")
    assert run_once(program)["q"]["action"].shape == (*BATCH, 2)


def test_strict_shape_auto_would_reshape_the_action_out_of_its_spec() -> None:
    text = "key observation : f32[1, 3]\nkey action : categorical(3, shape=[1])\n" \
           "actor q = QValueActor(MLP(out_features=3), spec=action, strict_shape={})\n"
    assert [d.code for d in rldsl.check(text.format('"auto"')).errors] == ["E0606"]  # it writes [1, 1]
    assert run_once(rldsl.compile(text.format("false")))["q"]["action"].shape == (*BATCH, 1)


def test_a_distributional_module_gets_its_action_space_from_the_spec() -> None:
    text = ("key observation : f32[3]\nkey action : onehot(3)\nkey log_probs : f32[4, 3]\n"
            "actor a = DistributionalQValueModule(support=linspace(-1, 1, 4), action_value_key=log_probs, "
            "spec=action)\n")
    program = rldsl.compile(text)
    td = program.spec_random_input("a", (5,))
    assert bool((td["log_probs"] <= 0).all())  # drawn as log-probabilities over the atoms
    assert program["a"](td)["action"].sum(-1).tolist() == [1] * 5


def test_a_distributional_module_fed_by_a_raw_network_is_a_diagnostic() -> None:
    text = ("key observation : f32[3]\nkey action : onehot(3)\n"
            "module atoms = MLP(out_features=(4, 3)) : observation -> action_value\n"
            "actor a = atoms >> DistributionalQValueModule(support=linspace(-1, 1, 4), spec=action)\n")
    assert [d.code for d in rldsl.check(text).errors] == ["E0710"]
    actor = ("key observation : f32[3]\nkey action : onehot(3)\nactor a = DistributionalQValueActor("
             "MLP(out_features=(4, 3)), support=linspace(-1, 1, 4), spec=action{})\n")
    assert [d.code for d in rldsl.check(actor.format(", make_log_softmax=false")).errors] == ["E0710"]
    assert run_once(rldsl.compile(actor.format("")))["a"]["action"].shape == (*BATCH, 3)


PARAMS = (OBSERVATION + "module params = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale\n"
          "module param_net = MLP(out_features=2) : observation -> param\n")


@pytest.mark.parametrize("dist", ["TanhNormal(upscale=0.0)", "IndependentNormal(upscale=-1)", "Delta(atol=-1e-3)",
                                  "TanhDelta(rtol=-1.0)", "TanhNormal(event_dims=-1)", "TanhNormal(event_dims=2)",
                                  "IndependentNormal(event_dim=3)", "TanhNormal(low=0.0, high=inf)",
                                  "TanhDelta(low=-inf, high=1.0)"])
def test_distribution_constants_out_of_their_runtime_range_are_diagnostics(dist: str) -> None:
    wiring = "param_net, in=[param]" if "Delta" in dist else "params, in=[loc, scale]"
    report = rldsl.check(PARAMS + f"actor p = ProbabilisticActor({wiring}, out=[sample], dist={dist})\n")
    assert [d.code for d in report.errors] in (["E0606"], ["E0702"]), report.render()


def test_masked_distributions_need_a_negative_neg_inf() -> None:
    text = (OBSERVATION + "key mask : bool[4]\nmodule logit_net = MLP(out_features=4) : observation -> logits\n"
            "actor p = ProbabilisticActor(logit_net, in=[logits], out=[sample], "
            "dist=MaskedCategorical(mask=mask, neg_inf={}))\n")
    assert [d.code for d in rldsl.check(text.format("1e-6")).errors] == ["E0606"]
    assert rldsl.check(text.format("-1e9")).ok


def test_truncated_normal_takes_infinite_bounds() -> None:
    text = PARAMS + "actor p = ProbabilisticActor(params, in=[loc, scale], out=[sample], " \
                    "dist=TruncatedNormal(low=0.0, high=inf))\n"
    sample = run_once(rldsl.compile(text))["p"]["sample"]
    assert bool((sample >= 0).all()) and bool(torch.isfinite(sample).all())


@pytest.mark.parametrize(("bounds", "code"), [("high=inf", "E0606"), ("low=[-1.0, -2.0]", "E0606"),
                                              ("low=[-1.0, -2.0, -3.0]", None), ("low=-2.0", None)])
def test_tanh_module_bounds_are_finite_and_one_per_element(bounds: str, code: str | None) -> None:
    text = OBSERVATION + f"module raw = MLP(out_features=3) : observation -> pre\nmodule t = raw >> " \
                         f"TanhModule(in=[pre], out=[y], {bounds})\n"
    report = rldsl.check(text)
    assert [d.code for d in report.errors] == ([code] if code else []), report.render()
    if code is None:
        assert run_once(rldsl.compile(text))["t"]["y"].shape == (*BATCH, 3)


def test_per_element_bounds_of_a_value_with_several_dims_follow_its_shape() -> None:
    low = ", ".join(str(-float(i + 1)) for i in range(6))
    text = (f"key observation : f32[2, 3]\nkey action : f32[2, 3] in [[{low}], [{', '.join(['5.0'] * 6)}]]\n"
            "module params = MLP(out_features=6) >> NormalParamExtractor() : observation -> loc, scale\n"
            "actor p = ProbabilisticActor(params, in=[loc, scale], dist=TanhNormal(low=action.low, "
            "high=action.high))\n"
            "module raw = MLP(out_features=3) : observation -> pre\n"
            f"actor t = raw >> TanhModule(in=[pre], out=[squashed], low=[{low}], high=5.0)\n")
    program = rldsl.compile(text)
    torch.manual_seed(0)
    outputs = run_once(program)
    floor = torch.tensor([-float(i + 1) for i in range(6)]).reshape(2, 3)
    for name, key in (("p", "action"), ("t", "squashed")):
        assert outputs[name][key].shape == (*BATCH, 2, 3)
        assert bool((outputs[name][key] >= floor).all()), name


def test_multi_agent_depth_and_num_cells_must_agree() -> None:
    text = ("key team : f32[3, 4]\nmodule m = MultiAgentMLP(n_agents=3, n_agent_outputs=2, centralized=false, "
            "share_params=true, {}) : team -> out\n")
    assert [d.code for d in rldsl.check(text.format("depth=3, num_cells=[8, 8]")).errors] == ["E0606"]
    assert [d.code for d in rldsl.check(text.format("num_cells=8")).errors] == ["E0606"]
    assert run_once(rldsl.compile(text.format("depth=2, num_cells=8")))["m"]["out"].shape == (*BATCH, 3, 2)


def test_probabilistic_modules_need_a_positive_n_empirical_estimate() -> None:
    text = PARAMS + "actor p = ProbabilisticActor(params, in=[loc, scale], out=[sample], dist=IndependentNormal, " \
                    "n_empirical_estimate={})\n"
    assert [d.code for d in rldsl.check(text.format(0)).errors] == ["E0606"]
    assert rldsl.check(text.format(1)).ok


@pytest.mark.parametrize("kind", ["AdditiveGaussianModule", "OrnsteinUhlenbeckProcessModule"])
def test_exploration_in_f64_writes_f64(kind: str) -> None:
    text = OBSERVATION + ACTION + POLICY + f"explore noisy = {kind}(raw, spec=action)\n"
    program = rldsl.compile(text, dtype="f64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = run_once(program)["noisy"]
    assert out["action"].dtype == torch.float64
    if kind == "OrnsteinUhlenbeckProcessModule":
        assert out["_ou_prev_noise"].dtype == torch.float64


@pytest.mark.parametrize(("dist", "spec"), [("TanhNormal", "onehot(2)"), ("IndependentNormal", "categorical(2)"),
                                            ("OneHotCategorical", "f32[2] in [-1.0, 1.0]")])
def test_safe_does_not_project_a_distribution_of_the_wrong_sort(dist: str, spec: str) -> None:
    wiring = "logit_net, in=[logits]" if "Categorical" in dist else "params, in=[loc, scale]"
    text = (OBSERVATION + f"key action : {spec}\n"
            "module params = MLP(out_features=4) >> NormalParamExtractor() : observation -> loc, scale\n"
            "module logit_net = MLP(out_features=2) : observation -> logits\n"
            f"actor p = ProbabilisticActor({wiring}, dist={dist}, spec=action, safe=true, return_log_prob=true)\n")
    assert [d.code for d in rldsl.check(text).errors] == ["E0703"]


def test_arange_with_a_lone_end_and_a_step_compiles_as_the_checker_reads_it() -> None:
    source = ("key observation : f32[4]\nkey action : onehot(4)\n"
              "actor q = DistributionalQValueActor(MLP(out_features=(3, 4)), support=arange(3, step=1), spec=action)\n")
    program = rldsl.compile(source)
    assert program["q"].module[-1].support.tolist() == [0, 1, 2]
