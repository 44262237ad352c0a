"""The compiler: every example builds and runs, outputs match the checked specs, seeding, sharing,
compiled graphs equal the same graphs built by hand, and ``rldsl compile`` on the command line."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from tensordict.nn import NormalParamExtractor, TensorDictModule, TensorDictSequential
from torch import nn

import rldsl
from rldsl import cli
from rldsl import modules as M
from rldsl import specs as S
from rldsl.compiler import CompileError, Program
from rldsl.compiler.specs import torch_dtype

ROOT = Path(__file__).resolve().parents[1]
# Every example model, in subfolders too (examples/multiagent); not the deliberately broken files of
# examples/errors. An include-only file (examples/multiagent/specs.rlm: keys, no modules) is kept: it
# compiles to an empty program, which must save and load as well.
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm")
                  if p.relative_to(ROOT / "examples").parts[0] != "errors")


def _outputs(program: Program, name: str, batch: tuple[int, ...] = (3,)):
    torch.manual_seed(1)
    with torch.no_grad():
        return program[name](program.spec_random_input(name, batch))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(ROOT / "examples").with_suffix("").as_posix())
def test_every_example_compiles_and_its_outputs_match_the_checked_specs(path: Path) -> None:
    program = rldsl.compile(path)
    assert set(program) == {n for n, node in rldsl.check(path).modules.items() if hasattr(node, "walk")}
    for name in program:
        out = _outputs(program, name)
        for key in program.writes(name):
            static = program.static_spec(key)
            value = out.get(key)
            assert value.dtype == torch_dtype(static.dtype), (name, key)
            spec = program.spec(key)
            assert tuple(value.shape) == (3, *spec.shape), (name, key)
            assert spec.is_in(value), (name, key, value)


def test_input_is_drawn_from_the_checked_specs() -> None:
    program = rldsl.compile(ROOT / "examples" / "cartpole_dqn.rlm")
    td = program.spec_random_input("q", (5,))
    assert list(td.keys()) == ["observation"] and td["observation"].shape == (5, 4)
    assert program.spec("action").dtype == torch.int64  # the language's onehot is i64


def test_same_seed_same_weights_and_another_seed_other_weights() -> None:
    source = ROOT / "examples" / "pendulum_sac.rlm"
    one, two, other = rldsl.compile(source, seed=3), rldsl.compile(source, seed=3), rldsl.compile(source, seed=4)
    for name in one:
        for (k, a), (_, b) in zip(one[name].state_dict().items(), two[name].state_dict().items()):
            assert torch.equal(a, b), (name, k)
    assert not torch.equal(one["critic"].module[0].weight, other["critic"].module[0].weight)


def test_compiling_leaves_the_global_generator_alone() -> None:
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    rldsl.compile(ROOT / "examples" / "pendulum_sac.rlm")
    assert torch.equal(torch.rand(3), expected)


def test_modules_shared_between_declarations_share_parameters() -> None:
    program = rldsl.compile(ROOT / "examples" / "pendulum_ddpg.rlm")
    model, policy, common, noisy = program["model"], program["policy"], program["common"], program["noisy"]
    assert model.module[0] is common and model.module[1] is policy
    assert noisy.module[0] is policy
    with torch.no_grad():
        next(common.parameters()).add_(1.0)
    assert torch.equal(next(model.parameters()), next(common.parameters()))


def test_f64_and_seeded_program() -> None:
    program = rldsl.compile(ROOT / "examples" / "pendulum_sac.rlm", dtype="f64")
    out = _outputs(program, "critic")
    assert out["state_value"].dtype == torch.float64


def test_check_errors_raise_with_the_report() -> None:
    with pytest.raises(CompileError, match="1 error") as caught:
        rldsl.compile(ROOT / "examples" / "errors" / "obsevation.rlm")
    assert caught.value.report.errors[0].code == "E0301"


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda_is_a_clear_error() -> None:
    with pytest.raises(CompileError, match="no CUDA device"):
        rldsl.compile(ROOT / "examples" / "cartpole_dqn.rlm", device="cuda")


# ---------------------------------------------------------------------------------------------
# Differential: compiled == built by hand from rldsl.modules


def _same_outputs(compiled: nn.Module, by_hand: nn.Module, program: Program, name: str) -> None:
    by_hand.load_state_dict(compiled.state_dict())
    td = program.spec_random_input(name, (7,))
    torch.manual_seed(5)
    got = compiled(td.clone())
    torch.manual_seed(5)
    want = by_hand(td.clone())
    assert set(got.keys(True, True)) == set(want.keys(True, True))
    for key in want.keys(True, True):
        assert torch.equal(got[key], want[key]), key


def test_pendulum_sac_equals_the_graph_built_by_hand() -> None:
    program = rldsl.compile(ROOT / "examples" / "pendulum_sac.rlm")
    action = S.Bounded(-2.0, 2.0, shape=(1,), dtype=torch.float32)
    params = TensorDictModule(
        nn.Sequential(M.MLP(in_features=3, out_features=2, num_cells=[64, 64], activation_class=nn.Tanh),
                      NormalParamExtractor(scale_mapping="biased_softplus_1.0")),
        in_keys=["observation"], out_keys=["loc", "scale"])
    policy = M.ProbabilisticActor(params, in_keys=["loc", "scale"], out_keys=["action"], spec=action,
                                  distribution_class=M.TanhNormal,
                                  distribution_kwargs={"low": -2.0, "high": 2.0}, return_log_prob=True)
    qvalue = M.ValueOperator(M.MLP(in_features=4, out_features=1, num_cells=[256, 256]),
                             in_keys=["observation", "action"])
    critic = M.ValueOperator(M.MLP(in_features=3, out_features=1, num_cells=[64, 64]), in_keys=["observation"])
    for name, by_hand in {"policy": policy, "qvalue": qvalue, "critic": critic}.items():
        _same_outputs(program[name], by_hand, program, name)


def test_pendulum_actor_equals_the_graph_built_by_hand() -> None:
    program = rldsl.compile(ROOT / "examples" / "pendulum_actor.rlm")
    spec = S.Bounded(-2.0, 2.0, shape=(1,), dtype=torch.float32)
    by_hand = M.Actor(nn.Linear(3, 1), in_keys=["observation"], spec=spec, safe=True)
    _same_outputs(program["policy"], by_hand, program, "policy")


def test_cartpole_equals_the_graph_built_by_hand() -> None:
    program = rldsl.compile(ROOT / "examples" / "cartpole_dqn.rlm")
    spec = S.OneHot(2, dtype=torch.int64)
    q = M.QValueActor(M.MLP(in_features=4, out_features=2, num_cells=[64, 64]), in_keys=["observation"], spec=spec)
    explore = TensorDictSequential(q, M.EGreedyModule(spec, eps_init=1.0, eps_end=0.05, annealing_num_steps=10_000))
    _same_outputs(program["q"], q, program, "q")
    _same_outputs(program["q_explore"], explore, program, "q_explore")


def test_seeded_build_matches_a_seeded_build_by_hand() -> None:
    program = rldsl.compile("key observation : f32[3]\nvalue v = ValueOperator(MLP(out_features=1, num_cells=[8]))\n",
                            seed=9)
    torch.manual_seed(9)
    by_hand = M.ValueOperator(M.MLP(in_features=3, out_features=1, num_cells=[8]))
    for a, b in zip(program["v"].parameters(), by_hand.parameters()):
        assert torch.equal(a, b)


# ---------------------------------------------------------------------------------------------
# rldsl compile on the command line


def test_cli_compile_prints_a_summary_and_the_time_split(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compile", str(ROOT / "examples" / "cartpole_dqn.rlm"), "--seed", "2"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "q: QValueActor" in out and "q_explore: TensorDictSequential" in out
    assert re.search(r"reads   observation +f32\[4\]\n", out)
    assert re.search(r"writes  action +onehot\(2\)  -> \(2, 2\) int64", out)
    assert "parameters, device cpu" in out and "forward pass: ok (2 modules" in out
    assert "time: import torch" in out and "first forward" in out


def test_cli_compile_of_a_bad_file_prints_diagnostics_and_exits_one(capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["compile", str(ROOT / "examples" / "errors" / "obsevation.rlm")])
    out, _ = capsys.readouterr()
    assert code == 1 and "error[E0301]" in out


def test_cli_compile_usage_errors_exit_two(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", str(ROOT / "examples" / "nothere.rlm")]) == 2
    assert "cannot read" in capsys.readouterr().err
    assert cli.main(["compile", str(ROOT / "examples" / "cartpole_dqn.rlm"), "--device", "tpu9"]) == 2
    assert "not a device" in capsys.readouterr().err
    assert cli.main(["compile", str(ROOT / "examples" / "cartpole_dqn.rlm"), "--dtype", "f16"]) == 2


def test_check_stays_torch_free_with_the_compiler_installed() -> None:
    code = ("import sys, rldsl\n"
            "from rldsl import cli\n"
            "assert rldsl.check('key observation : f32[3]').ok\n"
            f"cli.main(['check', {str(ROOT / 'examples' / 'pendulum_sac.rlm')!r}])\n"
            "print(any(m == 'torch' or m.startswith('torch.') for m in sys.modules))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip().endswith("False")


# ---------------------------------------------------------------------------------------------
# Runtime input checks


def _ddpg() -> Program:
    return rldsl.compile(ROOT / "examples" / "pendulum_ddpg.rlm")


@pytest.mark.parametrize(("fields", "said"), [
    ({"obs": torch.zeros(4, 3)}, "reads `observation` (f32[3] in [[-1.0, -1.0, -8.0], [1.0, 1.0, 8.0]]), but the "
                                 "tensordict has no such key; it holds ['obs']"),
    ({"observation": torch.zeros(4, 5)}, "reads `observation` as f32[3] in [[-1.0, -1.0, -8.0], [1.0, 1.0, 8.0]], "
                                         "but was given f32[5] (batch [4])"),
    ({"observation": torch.zeros(4, 3, dtype=torch.float64)}, "but was given f64[3] (batch [4])"),
])
def test_a_bad_input_names_the_key_the_expected_spec_and_the_given_one(fields: dict, said: str) -> None:
    from tensordict import TensorDict

    from rldsl.compiler import InputMismatch

    with pytest.raises(InputMismatch) as caught:
        _ddpg()["common"](TensorDict(fields, batch_size=[4]))
    assert str(caught.value).startswith("module `common` ") and str(caught.value).endswith(said)
    assert caught.value.__cause__ is not None  # the original error is kept


def test_other_failures_are_not_disguised() -> None:
    program = _ddpg()
    td = program.spec_random_input("common", (2,))
    with pytest.raises(ValueError, match="extra") as caught:
        program["common"](td, "an unexpected argument")
    assert type(caught.value) is ValueError


def test_unchecked_programs_and_checked_ones_survive_pickling() -> None:
    import pickle

    plain = rldsl.compile(ROOT / "examples" / "cartpole_dqn.rlm", check_inputs=False)
    assert "forward" not in plain["q"].__dict__
    program = _ddpg()
    copy = pickle.loads(pickle.dumps(program["model"]))
    td = program.spec_random_input("model", (2,))
    assert torch.equal(copy(td.clone())["action"], program["model"](td.clone())["action"])


def test_a_kind_without_a_runtime_class_is_a_clear_error() -> None:
    from rldsl.compiler.build import runtime_class
    from rldsl.lang.kinds import lookup

    kind = lookup("MLP")
    missing = type(kind)(name="Nowhere", family=kind.family, runtime="rldsl.modules.Nowhere", summary="")
    with pytest.raises(CompileError, match="`Nowhere` is checked but cannot be built yet"):
        runtime_class(missing)


def test_masks_written_in_specs_reach_the_runtime_specs() -> None:
    program = rldsl.compile(
        "key a : onehot(3, mask=[true, false, true])\n"
        "key b : categorical(3, mask=[false, true, true])\n"
        "key c : multionehot([3, 2], mask=[true, false, true, false, true])\n"
        "key d : multicategorical([3, 2], mask=[true, false, true, false, true])\n"
        "key observation : f32[2]\n"
        "value v = ValueOperator(MLP(out_features=1))\n"
    )
    expected = {"a": [True, False, True], "b": [False, True, True], "c": [True, False, True, False, True],
                "d": [True, False, True, False, True]}
    for key, mask in expected.items():
        spec = program.spec(key)
        assert spec.mask is not None and spec.mask.reshape(-1).tolist() == mask, key
    draws = {key: program.spec(key).rand((200,)) for key in expected}
    assert not draws["a"][:, 1].any() and (draws["b"] != 0).all()
    assert not draws["c"][:, 1].any() and not draws["c"][:, 3].any()
    assert set(draws["d"][:, 0].tolist()) <= {0, 2} and (draws["d"][:, 1] == 1).all()


@st.composite
def runtime_specs(draw: st.DrawFn, depth: int = 0) -> object:
    """A runtime spec of any class, with and without masks, per-element bounds and batch dims."""
    from rldsl import specs as S

    kind = draw(st.sampled_from(["unbounded", "bounded", "onehot", "categorical", "binary", "multionehot",
                                 "multicategorical"] + (["composite"] if depth < 2 else [])))
    lead = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    if kind == "composite":
        entries = {f"k{i}": draw(runtime_specs(depth + 1)) for i in range(draw(st.integers(0, 3)))}
        return S.Composite(entries, shape=())
    if kind in ("unbounded", "bounded"):
        dtype = draw(st.sampled_from([torch.float32, torch.float64, torch.int64]))
        shape = (*lead, draw(st.integers(1, 3)))
        if kind == "unbounded":
            return S.Unbounded(shape, dtype=dtype)
        if dtype.is_floating_point and draw(st.booleans()):
            low = torch.tensor(draw(st.lists(st.floats(-5, 0), min_size=shape[-1], max_size=shape[-1]))).expand(shape)
            return S.Bounded(low, low + 1.5, shape=shape, dtype=dtype)
        return S.Bounded(-2, 3, shape=shape, dtype=dtype)
    n = draw(st.integers(2, 4))
    masked = draw(st.booleans())
    if kind == "onehot":
        mask = torch.tensor([True] + [draw(st.booleans()) for _ in range(n - 1)]) if masked else None
        return S.OneHot(n, (*lead, n), dtype=draw(st.sampled_from([torch.int64, torch.bool])), mask=mask)
    if kind == "categorical":
        return S.Categorical(n, lead, mask=torch.tensor([True] * (n - 1) + [False]) if masked else None)
    if kind == "binary":
        return S.Binary(n, (*lead, n))
    nvec = draw(st.lists(st.integers(2, 3), min_size=1, max_size=3))
    mask = torch.tensor([i % 2 == 0 for i in range(sum(nvec))]) if masked else None
    if kind == "multionehot":
        return S.MultiOneHot(nvec, (*lead, sum(nvec)), mask=mask)
    return S.MultiCategorical(nvec, (*lead, len(nvec)), mask=mask)


@given(runtime_specs())
def test_runtime_specs_become_static_specs_and_back(spec: object) -> None:
    from rldsl.compiler.specs import from_spec, to_spec
    from rldsl.lang.types import spec_text

    static = from_spec(spec)
    assert to_spec(static) == spec.to("cpu")
    assert spec_text(static) == spec_text(from_spec(to_spec(static)))
    checked = rldsl.check(f"key x : {spec_text(static)}\n")  # the text is a spec the language reads back
    assert checked.ok, checked.render()
    assert checked.types["x"] == spec_text(static)
