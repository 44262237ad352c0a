"""Compile refuses before it allocates (issue 9): parameters are counted on the meta device, and a
model above the limit is refused with its count, its declaration and how to raise the limit."""

from __future__ import annotations

import inspect
import resource
import time
from pathlib import Path

import pytest
import torch

import rldsl
from rldsl import cli
from rldsl.compiler import CompileError
from rldsl.compiler.limits import (DEFAULT_MAX_PARAMS, ModelTooLarge, count_parameters, parameter_total,
                                   parse_max_params, size_text)
from rldsl.compiler.program import _key_specs
from rldsl.lang.ir import ModuleNode

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm")
                  if p.relative_to(ROOT / "examples").parts[0] != "errors")
CARTPOLE = ROOT / "examples" / "cartpole_dqn.rlm"

#: 2**20 cells per layer: about 1.1e12 parameters, 4 TiB as f32.
HUGE = "key observation : f32[3]\nactor policy = Actor(MLP(out_features=2, num_cells=[1048576, 1048576]))\n"
#: Two modules of about 2**30 parameters each: each under the limit, together over it.
TWO_HALVES = ("key observation : f32[3]\n"
              "actor a = Actor(MLP(out_features=2, num_cells=[32768, 32768]))\n"
              "value b = ValueOperator(MLP(out_features=1, num_cells=[32768, 32768]), in=[observation])\n")
#: One tensor of (2**31 - 1)**2 elements: more bytes than a 64-bit size holds.
UNADDRESSABLE = ("key observation : f32[3]\n"
                 "actor policy = Actor(MLP(out_features=2, num_cells=[2147483647, 2147483647]))\n")


def _measure(source: object):
    report = rldsl.check(source)
    assert report.ok, report.render()
    nodes = {name: node for name, node in report.modules.items() if isinstance(node, ModuleNode)}
    return count_parameters(nodes, _key_specs(report, nodes), report.network_inputs)


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.relative_to(ROOT / "examples").with_suffix("").as_posix())
def test_the_meta_count_equals_the_built_models_parameters(path: Path) -> None:
    count = _measure(path)
    program = rldsl.compile(path)
    assert count.total == parameter_total(program.values())
    assert count.modules == {name: sum(p.numel() for p in module.parameters()) for name, module in program.items()}
    states = [t for module in program.values() for t in module.state_dict().values()]
    assert (count.state_elements, count.state_tensors) == (sum(t.numel() for t in states), len(states))


def test_a_shared_network_is_counted_once_in_the_total() -> None:
    count = _measure(CARTPOLE)  # q_explore wraps q
    assert count.modules == {"q": 4610, "q_explore": 4610} and count.total == 4610


def test_a_huge_model_is_refused_before_anything_is_allocated() -> None:
    before, started = _max_rss_mib(), time.perf_counter()
    with pytest.raises(ModelTooLarge) as caught:
        rldsl.compile(HUGE)
    assert time.perf_counter() - started < 10
    assert _max_rss_mib() - before < 512  # 4 TiB were asked for; nothing near it was taken
    assert str(caught.value) == (
        "<input>:2:16: `policy` has 1,099,518,967,810 parameters (4.0 TiB as f32), above the limit of "
        "2,147,483,648 (8.0 GiB as f32); raise it with --max-params (max_params= from Python)")
    assert caught.value.count.total == 1_099_518_967_810 and caught.value.limit == DEFAULT_MAX_PARAMS
    assert isinstance(caught.value, CompileError)


def test_modules_over_the_limit_together_are_refused_with_each_share() -> None:
    with pytest.raises(ModelTooLarge, match=r"^the model has 2,147,909,635 parameters \(8\.0 GiB as f32\) across its "
                                            r"modules \(`a` 1,073,971,202, `b` 1,073,938,433\), above the limit of "
                                            r"2,147,483,648"):
        rldsl.compile(TWO_HALVES)


def test_a_tensor_too_large_to_address_is_refused_not_crashed() -> None:
    with pytest.raises(ModelTooLarge, match=r"<input>:2:16: `policy` asks for a tensor too large to address "
                                            r"\(.*overflow.*\): no machine can hold it$"):
        rldsl.compile(UNADDRESSABLE)


def test_max_params_raises_and_lowers_the_limit() -> None:
    with pytest.raises(ModelTooLarge, match=r"`q` has 4,610 parameters \(36 KiB as f64\), above the limit of 4,609 "
                                            r"\(36 KiB as f64\)"):
        rldsl.compile(CARTPOLE, max_params=4609, dtype="f64")
    assert len(rldsl.compile(CARTPOLE, max_params=4610)) == 2


def test_max_params_none_counts_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import rldsl.compiler.limits as limits

    monkeypatch.setattr(limits, "count_parameters", lambda *a, **k: pytest.fail("counted"))
    assert len(rldsl.compile(CARTPOLE, max_params=None)) == 2


@pytest.mark.parametrize("bad", [0, -5, True, 1.5, "100"])
def test_a_limit_that_is_not_a_positive_int_is_refused(bad: object) -> None:
    with pytest.raises((ValueError, TypeError), match="max_params"):
        rldsl.compile(CARTPOLE, max_params=bad)


def test_counting_changes_neither_the_weights_nor_the_global_generator() -> None:
    torch.manual_seed(123)
    state = torch.random.get_rng_state()
    limited = rldsl.compile(CARTPOLE, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    unlimited = rldsl.compile(CARTPOLE, seed=4, max_params=None)
    for key, value in unlimited["q"].state_dict().items():
        assert torch.equal(limited["q"].state_dict()[key], value), key


def test_the_python_defaults_are_the_named_constant() -> None:
    assert inspect.signature(rldsl.compile).parameters["max_params"].default == DEFAULT_MAX_PARAMS
    assert inspect.signature(rldsl.load).parameters["max_params"].default == DEFAULT_MAX_PARAMS
    assert DEFAULT_MAX_PARAMS == 2**31


@pytest.mark.parametrize(("text", "value"), [("100", 100), ("4_000_000_000", 4_000_000_000), ("1,000", 1000),
                                             ("2**32", 2**32)])
def test_max_params_text(text: str, value: int) -> None:
    assert parse_max_params(text) == value


@pytest.mark.parametrize("text", ["0", "-3", "1e9", "lots", "2**", "2**99999", ""])
def test_bad_max_params_text(text: str) -> None:
    with pytest.raises(ValueError):
        parse_max_params(text)


def test_size_text() -> None:
    assert size_text(12_345_678_901) == "46 GiB as f32"
    assert size_text(2**31, torch.float64) == "16 GiB as f64"
    assert size_text(5) == "20 bytes as f32"


# ---------------------------------------------------------------------------------------------
# rldsl compile


def test_cli_states_the_parameter_count(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", str(CARTPOLE)]) == 0
    assert "parameters: 4,610 in total (18 KiB as f32); limit 2,147,483,648 (--max-params)" in capsys.readouterr().out


def test_cli_refuses_a_huge_model_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "huge.rlm"
    path.write_text(HUGE)
    assert cli.main(["compile", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"rldsl: {path}:2:16: `policy` has 1,099,518,967,810 parameters (4.0 TiB as f32), above "
                            "the limit of 2,147,483,648 (8.0 GiB as f32); raise it with --max-params (max_params= "
                            "from Python)\n")


def test_cli_max_params(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", str(CARTPOLE), "--max-params", "4609"]) == 1
    assert "above the limit of 4,609" in capsys.readouterr().err
    assert cli.main(["compile", str(CARTPOLE), "--max-params", "4_610"]) == 0
    assert "limit 4,610 (--max-params)" in capsys.readouterr().out


@pytest.mark.parametrize("text", ["0", "many"])
def test_cli_bad_max_params_is_a_usage_error(text: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["compile", str(CARTPOLE), "--max-params", text]) == 2
    assert "argument --max-params" in capsys.readouterr().err


def test_cli_refuses_an_artifact_over_the_limit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cartpole.rlmz"
    assert cli.main(["compile", str(CARTPOLE), "-o", str(out)]) == 0
    capsys.readouterr()
    assert cli.main(["inspect", str(out), "--max-params", "100"]) == 2
    err = capsys.readouterr().err
    assert "`q` has 4,610 parameters" in err and "rldsl inspect --max-params" in err
    assert cli.main(["inspect", str(out), "--max-params", "5000"]) == 0


BIG_SAMPLE = ("key big : f32[65536, 32768] in [0.0, 1.0]\nkey observation : f32[3]\n"
              "value v = ValueOperator(MLP(out_features=1), in=[big])\n")


def test_keys_too_large_to_draw_a_sample_of_are_refused_before_anything_is_allocated() -> None:
    before = _max_rss_mib()
    with pytest.raises(ModelTooLarge, match=r"^one sample of the model's keys takes 6,442,516,483 elements \(24 GiB as "
                                            r"f32\), the most for `big` \(6,442,450,944\), above the limit of "
                                            r"2,147,483,648 .*draws one sample.*--max-params"):
        rldsl.compile(BIG_SAMPLE)  # 2**31 bounded elements (bounds and a sample: 24 GiB), state_value [65536, 1]
    assert _max_rss_mib() - before < 512
    small = BIG_SAMPLE.replace("65536, 32768", "4, 32768")
    assert rldsl.compile(small)["v"].in_keys == ["big"]
