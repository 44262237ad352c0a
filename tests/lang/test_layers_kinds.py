"""The layer kinds in the language: BatchRenorm1d, ConsistentDropout, ConsistentDropoutModule and
LSTMNet — their types, their diagnostics (code and span), the compiled modules, the parity with the
runtime constructors, and the checker's shapes confirmed by a run on ``device="meta"``."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict

import rldsl
from rldsl.compiler.specs import shape_of, torch_dtype
from rldsl.lang import types as T
from rldsl.lang.check import check_text
from rldsl.lang.kinds import lookup
from rldsl.lang.kinds.layers import KINDS as LAYER_KINDS
from rldsl.modules import BatchRenorm1d, ConsistentDropoutModule, LSTMNet
from rldsl.modules.dropout import ConsistentDropoutLayer

HEAD = "key observation : f32[8]\nkey sequence : f32[5, 8]\nkey pixels : f32[4, 8]\nkey count : i64[8]\n"

#: One model using every layer kind, its outputs read by a value network.
MODEL = HEAD + """
module norm = BatchRenorm1d(warmup_steps=2) : observation -> normed
module drop = ConsistentDropoutModule(0.1, normed, out=dropped)
module pipe = MLP(out_features=8, num_cells=[16]) >> ConsistentDropout(0.2) >> Tanh() : observation -> squashed
module lstm = LSTMNet(4, hidden_size=16, mlp_num_cells=[32]) : observation -> y, h_in, c_in, h_out, c_out
module seq = LSTMNet(3, hidden_size=6, num_layers=2) : sequence -> ys, hs_in, cs_in, hs_out, cs_out
value v = ValueOperator(MLP(out_features=1), in=[dropped, dropped_dropout_mask, squashed, y])
value s = ValueOperator(MLP(out_features=1), in=[h_in, c_in, h_out, c_out], out=[state_value_of_states])
value w = ValueOperator(MLP(out_features=1), in=[ys], out=[sequence_value])
value u = ValueOperator(MLP(out_features=1), in=[hs_in, cs_in, hs_out, cs_out], out=[sequence_state_value])
"""


def diagnostics(text: str) -> tuple:
    return check_text(HEAD + text, "a.rlm").diagnostics


def only(text: str, code: str):
    """The one error of ``text`` (warnings, such as an output nobody reads, are left out)."""
    found = [d for d in diagnostics(text) if d.code.startswith("E")]
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, span) -> str:
    return (HEAD + text)[span.start:span.end]


def types(text: str) -> dict[str, str]:
    report = check_text(text, "a.rlm")
    assert report.ok, [(d.code, d.message) for d in report.errors]
    return {key.dotted: T.spec_text(key.spec) for key in report.keys}


# --- types -------------------------------------------------------------------------------------------


def test_the_model_checks_clean_and_is_typed() -> None:
    report = check_text(MODEL, "a.rlm")
    shown = [(d.code, d.message) for d in report.diagnostics]
    assert report.ok and {d.code for d in report.diagnostics} <= {"W0301"}, shown  # outputs of the value heads
    found = types(MODEL)
    assert found["normed"] == "f32[8]"
    assert found["dropped"] == "f32[8]" and found["dropped_dropout_mask"] == "f32[8] in [0.0, 1.1111111111111112]"
    assert found["squashed"] == "f32[8] in [-1.0, 1.0]"
    assert found["y"] == "f32[4]" and all(found[k] == "f32[1, 16]" for k in ("h_in", "c_in", "h_out", "c_out"))
    assert found["ys"] == "f32[5, 3]"
    assert all(found[k] == "f32[5, 2, 6]" for k in ("hs_in", "cs_in", "hs_out", "cs_out"))


def test_named_dims_flow_through_the_lstm() -> None:
    found = types("dim T = 7\ndim H = 12\nkey x : f32[T, 3]\n"
                  "module m = LSTMNet(2, hidden_size=H) : x -> y, a, b, c, d\n"
                  "value v = ValueOperator(MLP(out_features=1), in=[y])\n"
                  "value w = ValueOperator(MLP(out_features=1), in=[a, b, c, d], out=[w_value])\n")
    assert found["y"] == "f32[T, 2]" and found["c"] == "f32[T, 1, H]"


def test_the_dropout_module_defaults_its_output_and_mask_keys() -> None:
    found = types("key agents : { h : f32[3] }\nmodule d = ConsistentDropoutModule(0.5, agents.h)\n")
    assert found["agents.h"] == "f32[3]" and found["agents.h_dropout_mask"] == "f32[3] in [0.0, 2.0]"
    found = types("key h : f32[3]\nmodule d = ConsistentDropoutModule(0.5, h, out=o, mask_key=m)\n"
                  "value v = ValueOperator(MLP(out_features=1), in=[o, m])\n")
    assert set(found) >= {"o", "m"} and "o_dropout_mask" not in found


def test_a_consistent_dropout_network_may_reuse_a_mask_key() -> None:
    found = types(HEAD + "key m : f32[8]\nmodule d = ConsistentDropout(0.3) : observation, m -> out\n"
                         "value v = ValueOperator(MLP(out_features=1), in=[out])\n")
    assert found["out"] == "f32[8]"


# --- compiled --------------------------------------------------------------------------------------------


def test_the_model_compiles_to_the_runtime_classes_with_the_checker_s_sizes() -> None:
    program = rldsl.compile(MODEL, seed=0)
    norm = program["norm"].module
    assert isinstance(norm, BatchRenorm1d) and norm.num_features == 8 and norm.warmup_steps == 2
    drop = program["drop"]
    assert isinstance(drop, ConsistentDropoutModule) and drop.p == pytest.approx(0.1)
    assert drop.in_keys == ["normed", "dropped_dropout_mask"] and drop.out_keys == ["dropped", "dropped_dropout_mask"]
    assert isinstance(program["pipe"].module[1], ConsistentDropoutLayer)
    lstm = program["lstm"].module
    assert isinstance(lstm, LSTMNet) and lstm.mlp[0].in_features == 8 and lstm.lstm.hidden_size == 16
    assert program["seq"].module.lstm.num_layers == 2
    for name in program:
        for training in (True, False):  # both modes run: the dropout module writes no mask in evaluation
            program[name].train(training)
            program[name](program.spec_random_input(name, (3,)))


def test_the_compiled_dropout_module_replays_a_stored_mask() -> None:
    program = rldsl.compile(HEAD + "module d = ConsistentDropoutModule(0.5, observation, out=o)\n"
                                   "value v = ValueOperator(MLP(out_features=1), in=[o])\n", seed=0)
    x = torch.randn(4, 8)
    first = program["d"](TensorDict(observation=x, batch_size=[4]))
    again = program["d"](TensorDict(observation=x, o_dropout_mask=first["o_dropout_mask"], batch_size=[4]))
    assert torch.equal(first["o"], again["o"])


@pytest.mark.parametrize("text", [MODEL, HEAD + "dim T = 3\nkey s : f32[T, 2]\n"
                                         "module m = LSTMNet(2, hidden_size=5, mlp_out_features=7, mlp_depth=1, "
                                         "mlp_num_cells=4, mlp_activation_class=ReLU) : s -> y, a, b, c, d\n"],
                         ids=["model", "lstm-options"])
def test_a_meta_run_confirms_the_checked_shapes(text: str) -> None:
    """Compiled on ``meta`` and run on spec-random input of batch 4, every key written has the
    checker's shape behind the batch dim, and its dtype."""
    program = rldsl.compile(text, device="meta")
    for name in program:
        out = program[name](program.spec_random_input(name, (4,)))
        for key in program.writes(name):
            static = program.static_spec(key)
            value = out.get(key)
            assert value.device.type == "meta"
            assert tuple(value.shape) == (4, *shape_of(static.shape)), (name, key, value.shape, static)
            assert value.dtype == torch_dtype(static.dtype), (name, key)


@settings(max_examples=15, deadline=None)
@given(features=st.integers(1, 6), steps=st.one_of(st.none(), st.integers(1, 4)), out=st.integers(1, 5),
       hidden=st.integers(1, 5), layers=st.integers(1, 3), p=st.floats(0.0, 0.9))
def test_random_sizes_run_with_the_checked_shapes(features: int, steps: int | None, out: int, hidden: int,
                                                    layers: int, p: float) -> None:
    sequence = f"[{steps}, {features}]" if steps is not None else f"[{features}]"
    text = (f"key x : f32[{features}]\nkey s : f32{sequence}\n"
            f"module n = BatchRenorm1d(warmup_steps=1) >> ConsistentDropout({p!r}) : x -> y\n"
            f"module l = LSTMNet({out}, hidden_size={hidden}, num_layers={layers}) : s -> a, b, c, d, e\n"
            f"module m = ConsistentDropoutModule({p!r}, y)\n")
    program = rldsl.compile(text, seed=0)
    for name in program:
        out_td = program[name](program.spec_random_input(name, (3,)))
        for key in program.writes(name):
            assert tuple(out_td.get(key).shape) == (3, *shape_of(program.static_spec(key).shape)), (name, key)


def test_compiling_in_f64_gives_f64_layers() -> None:
    program = rldsl.compile(MODEL, dtype="f64")
    assert program["norm"].module.running_var.dtype == torch.float64
    out = program["lstm"](program.spec_random_input("lstm", (2,)))
    assert out["y"].dtype == torch.float64


# --- diagnostics, by code and span --------------------------------------------------------------------------


@pytest.mark.parametrize("call, argument", [
    ("BatchRenorm1d(0)", "0"),
    ("BatchRenorm1d(momentum=1.5)", "1.5"),
    ("BatchRenorm1d(eps=-1.0)", "-1.0"),
    ("BatchRenorm1d(max_r=0.5)", "0.5"),
    ("BatchRenorm1d(max_d=-2.0)", "-2.0"),
    ("BatchRenorm1d(warmup_steps=-1)", "-1"),
    ("BatchRenorm1d(momentum=inf)", "inf"),
])
def test_batch_renorm_bad_arguments(call: str, argument: str) -> None:
    text = f"module m = {call} : observation -> y\n"
    found = [d for d in diagnostics(text) if d.code.startswith("E")]
    assert found and {d.code for d in found} == {"E0606"}, [(d.code, d.message) for d in found]
    assert spanned(text, found[0].span) == argument


def test_batch_renorm_shape_rules() -> None:
    text = "module m = BatchRenorm1d(7) : observation -> y\n"
    d = only(text, "E0406")
    assert spanned(text, d.span) == "7" and "8" in d.message
    d = only("module m = BatchRenorm1d() : pixels -> y\n", "E0435")
    assert "f32[4, 8]" in d.message and "[num_features]" in d.message
    d = only("module m = BatchRenorm1d() : observation, observation -> y\n", "E0407")
    assert spanned("module m = BatchRenorm1d() : observation, observation -> y\n", d.span) == "BatchRenorm1d()"
    only("module m = BatchRenorm1d() : count -> y\n", "E0503")


@pytest.mark.parametrize("call", ["ConsistentDropout(1.0)", "ConsistentDropout(p=-0.1)"])
def test_consistent_dropout_probability(call: str) -> None:
    text = f"module m = {call} : observation -> y\n"
    d = only(text, "E0606")
    assert spanned(text, d.span) in ("1.0", "-0.1") and "[0, 1)" in d.message


def test_consistent_dropout_inputs() -> None:
    only("key m : f32[4]\nmodule d = ConsistentDropout() : observation, m -> y\n", "E0401")
    only("module d = ConsistentDropout() : observation, observation, observation -> y\n", "E0407")
    only("module d = ConsistentDropout() : count -> y\n", "E0503")
    only("module d = ConsistentDropout() : observation -> y, mask\n", "E0305")  # one output: it is shape-preserving


def test_consistent_dropout_module_diagnostics() -> None:
    text = "module d = ConsistentDropoutModule(1.0, observation)\n"
    assert spanned(text, only(text, "E0606").span) == "1.0"
    text = "module d = ConsistentDropoutModule(0.1, count)\n"
    assert spanned(text, only(text, "E0503").span) == "count"
    text = "module d = ConsistentDropoutModule(0.1, observation, out=y, mask_key=observation)\n"
    d = only(text, "E0606")
    assert spanned(text, d.span) == "observation" and d.span.start > text.index("mask_key") + len(HEAD)
    only("module d = ConsistentDropoutModule(0.1, observation, out=y, mask_key=y)\n", "E0302")
    only("module d = ConsistentDropoutModule(0.1)\n", "E0603")
    text = "key m : f32[3]\nmodule d = ConsistentDropoutModule(0.1, observation, mask_key=m)\n"
    assert only(text, "E0402").code == "E0402"  # the mask has the input's shape, not the declared one


def test_two_dropout_modules_cannot_share_a_mask_key() -> None:
    text = "module d = ConsistentDropoutModule(0.2, observation) >> ConsistentDropoutModule(0.3, observation)\n"
    d = only(text, "E0436")
    assert spanned(text, d.span) == "ConsistentDropoutModule" and d.span.start > text.index(">>") + len(HEAD)
    assert "observation_dropout_mask" in d.message
    text = ("module a = ConsistentDropoutModule(0.2, observation)\n"
            "module b = ConsistentDropoutModule(0.3, observation, out=o, mask_key=observation_dropout_mask)\n")
    d = only(text, "E0436")
    assert spanned(text, d.span) == "observation_dropout_mask" and "`a`" in d.message
    fine = ("module a = ConsistentDropoutModule(0.2, observation)\n"
            "module b = ConsistentDropoutModule(0.3, observation, mask_key=second_mask)\n")
    assert not [d for d in diagnostics(fine) if d.code.startswith("E")]


@pytest.mark.parametrize("text, code, where", [
    ("module m = LSTMNet(4, hidden_size=0) : observation -> a, b, c, d, e\n", "E0606", "0"),
    ("module m = LSTMNet(4, hidden_size=4, num_layers=0) : observation -> a, b, c, d, e\n", "E0606", "0"),
    ("module m = LSTMNet(4, hidden_size=4, in_features=3) : observation -> a, b, c, d, e\n", "E0406", "3"),
    ("module m = LSTMNet(4, hidden_size=4, mlp_num_cells=8) : observation -> a, b, c, d, e\n", "E0606", "8"),
    ("module m = LSTMNet(4, hidden_size=4, mlp_num_cells=[8], mlp_depth=2) : observation -> a, b, c, d, e\n",
     "E0606", "2"),
    ("module m = LSTMNet(4, hidden_size=4) : observation -> a, b, c, d\n", "E0305", "a, b, c, d"),
    ("module m = LSTMNet(4) : observation -> a, b, c, d, e\n", "E0603", "LSTMNet"),
])
def test_lstm_net_diagnostics(text: str, code: str, where: str) -> None:
    d = only(text, code)
    assert spanned(text, d.span) == where, (d.message, spanned(text, d.span))


def test_lstm_net_reads_one_step_or_one_sequence() -> None:
    d = only("key big : f32[2, 3, 8]\nmodule m = LSTMNet(4, hidden_size=4) : big -> a, b, c, d, e\n", "E0435")
    assert "[time, features]" in d.message
    d = only("module m = LSTMNet(4, hidden_size=4) : observation, observation -> a, b, c, d, e\n", "E0407")
    assert "zero hidden states" in d.help


# --- the descriptions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", LAYER_KINDS, ids=lambda k: k.name)
def test_layer_kinds_match_their_runtime_constructors(kind) -> None:
    from tests.lang.test_kinds_parity import test_kind_matches_its_runtime_constructor

    test_kind_matches_its_runtime_constructor(kind)


def test_the_kinds_are_registered() -> None:
    assert [lookup(k.name) for k in LAYER_KINDS] == list(LAYER_KINDS)
    assert lookup("ConsistentDropoutModule").param("mask_key").derive is not None
