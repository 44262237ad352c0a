"""Recurrent kinds in the language (``LSTMModule``, ``GRUModule``): the keys they read and write,
the state keys their primer keeps (typed, shown as the primer's, carried under ``next``), the
diagnostics for bad keys and sizes, and compiled modules whose outputs have the checked specs."""

from __future__ import annotations

import pytest
import torch

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.types import spec_text

HEAD = """\
key observation : f32[8]
key action : f32[2] in [-1.0, 1.0]
key is_init : bool[1]
"""


def report(text: str):
    return check_text(HEAD + text, "a.rlm")


def types(text: str) -> dict[str, tuple[str, str]]:
    found = report(text)
    assert found.ok, [(d.code, d.message) for d in found.errors]
    carried = [d.message for d in found.warnings if "next." in d.message]
    assert not carried, carried  # the env carries `next.` + state key: not an unread output
    return {key.dotted: (spec_text(key.spec), key.source) for key in found.keys}


def errors(text: str) -> list[tuple[str, str]]:
    source = HEAD + text
    return [(d.code, source[d.span.start:d.span.end]) for d in report(text).errors]


LSTM = "module lstm = LSTMModule(hidden_size=64, in_key=observation, out_key=embed)\n"
GRU = "module gru = GRUModule(hidden_size=32, num_layers=2, in_key=observation, out_key=embed)\n"
POLICY = "actor policy = lstm >> Actor(MLP(out_features=2), in=[embed], spec=action, safe=true)\n"


def test_an_lstm_keeps_its_state_and_writes_the_next_one() -> None:
    found = types(LSTM + POLICY)
    assert found["recurrent_state_h"] == ("f32[1, 64]", "primer of `lstm`")
    assert found["recurrent_state_c"] == ("f32[1, 64]", "primer of `lstm`")
    assert found["embed"] == ("f32[64]", "written by `lstm`")
    assert found["next.recurrent_state_h"][0] == "f32[1, 64]"
    node = report(LSTM).modules["lstm"]
    assert [r.dotted for r in node.reads] == ["observation", "recurrent_state_h", "recurrent_state_c", "is_init"]
    assert [w.dotted for w in node.writes] == ["embed", "next.recurrent_state_h", "next.recurrent_state_c"]


def test_a_gru_has_one_state_key_with_its_layers() -> None:
    found = types(GRU)
    assert found["recurrent_state"] == ("f32[2, 32]", "primer of `gru`")
    assert found["next.recurrent_state"][0] == "f32[2, 32]" and found["embed"][0] == "f32[32]"


def test_projection_sizes_the_output_and_h() -> None:
    found = types("module lstm = LSTMModule(hidden_size=64, proj_size=16, num_layers=3, in_key=observation, "
                  "out_key=embed)\n")
    assert found["recurrent_state_h"][0] == "f32[3, 16]" and found["recurrent_state_c"][0] == "f32[3, 64]"
    assert found["embed"][0] == "f32[16]"


def test_a_recurrent_module_inside_a_policy_makes_the_policy_recurrent() -> None:
    found = types("actor policy = LSTMModule(hidden_size=8, in_key=observation, out_key=embed) "
                  ">> Actor(MLP(out_features=2), in=[embed], spec=action, safe=true)\n")
    assert found["recurrent_state_h"][1] == "primer of `policy`"


def test_explicit_keys_and_batch_dims() -> None:
    text = ("dim n = 3\nkey agents : f32[n, 8]\n"
            "module lstm = LSTMModule(hidden_size=16, in=[agents, h, c], out=[out, next.h, next.c])\n")
    found = types(text)
    assert found["h"] == ("f32[1, 16]", "primer of `lstm`") and found["out"][0] == "f32[n, 16]"
    assert found["next.c"][0] == "f32[1, 16]"


def test_a_declared_state_key_must_have_the_modules_shape() -> None:
    assert types("key recurrent_state_h : f32[1, 64]\n" + LSTM)["recurrent_state_h"][1] == "declared"
    found = errors("key recurrent_state_h : f32[2, 64]\n" + LSTM)
    assert found == [("E0402", "LSTMModule")]


@pytest.mark.parametrize(("call", "code", "at"), [
    ("LSTMModule(hidden_size=8, in_key=observation, in=[observation, h, c], out_key=y)", "E0606",
     "[observation, h, c]"),
    ("LSTMModule(hidden_size=8, out_key=y)", "E0606", "LSTMModule"),
    ("LSTMModule(hidden_size=8, in=[observation, h], out_key=y)", "E0606", "[observation, h]"),
    ("GRUModule(hidden_size=8, in_key=observation, out=[y, next.a, next.b])", "E0606", "[y, next.a, next.b]"),
    ("LSTMModule(hidden_size=8, in_key=observation, out_key=y, batch_first=false)", "E0606", "false"),
    ("LSTMModule(hidden_size=8, proj_size=8, in_key=observation, out_key=y)", "E0606", "8"),
    ("LSTMModule(hidden_size=0, in_key=observation, out_key=y)", "E0606", "0"),
    ("LSTMModule(hidden_size=8, input_size=5, in_key=observation, out_key=y)", "E0406", "5"),
    ("LSTMModule(in_key=observation, out_key=y)", "E0603", "LSTMModule"),
    ("GRUModule(hidden_size=8, proj_size=2, in_key=observation, out_key=y)", "E0602", "proj_size"),
    ("LSTMModule(hidden_size=8, in_key=observation, out_key=y, recurrent_backend=\"triton\")", "E0606",
     "\"triton\""),
])
def test_bad_arguments_are_reported_where_written(call: str, code: str, at: str) -> None:
    assert errors(f"module m = {call}\n")[0] == (code, at)


def test_without_is_init_the_help_names_the_init_tracker() -> None:
    text = "key observation : f32[8]\n" + LSTM
    (error,) = check_text(text, "a.rlm").errors
    assert error.code == "E0301" and "InitTracker" in error.help and "bool[1]" in error.help


def test_is_init_must_be_bool() -> None:
    text = "key observation : f32[8]\nkey is_init : f32[1]\n" + LSTM
    assert [d.code for d in check_text(text, "a.rlm").errors] == ["E0503"]


# --- compiled ----------------------------------------------------------------------------------------


def test_the_compiled_lstm_is_sized_from_the_checked_input_and_writes_the_checked_specs() -> None:
    rldsl_modules = pytest.importorskip("rldsl.modules")
    if not hasattr(rldsl_modules, "LSTMModule"):
        pytest.skip("the runtime recurrent modules are not there yet")
    program = rldsl.compile(HEAD + LSTM + POLICY)
    lstm = program["lstm"]
    assert lstm.lstm.input_size == 8 and lstm.lstm.hidden_size == 64
    td = program.spec_random_input("policy", (5,))
    assert td["recurrent_state_h"].shape == (5, 1, 64)
    out = program["policy"](td)
    assert out["embed"].shape == (5, 64) and out["action"].abs().le(1).all()
    assert out["next", "recurrent_state_c"].shape == (5, 1, 64)


def test_the_compiled_gru_runs_on_meta_with_the_checked_shapes() -> None:
    rldsl_modules = pytest.importorskip("rldsl.modules")
    if not hasattr(rldsl_modules, "GRUModule"):
        pytest.skip("the runtime recurrent modules are not there yet")
    program = rldsl.compile(HEAD + GRU, device="meta")
    out = program["gru"](program.spec_random_input("gru", (4,)))
    assert out["embed"].device == torch.device("meta") and out["embed"].shape == (4, 32)
    assert out["next", "recurrent_state"].shape == (4, 2, 32)


# --- cells -------------------------------------------------------------------------------------------


CELLS = """\
key h : f32[32]
key c : f32[32]
module step = LSTMCell(8, 32) : observation, h, c -> next.h, next.c
module gru = GRUCell(8, 32) : observation -> h2
"""


def test_cells_type_their_next_states() -> None:
    found = report(CELLS)
    assert found.ok
    typed = {key.dotted: spec_text(key.spec) for key in found.keys}
    assert typed["next.h"] == typed["next.c"] == typed["h2"] == "f32[32]"


def test_compiled_cells_step_as_torchs_cells() -> None:
    from rldsl.modules import GRUCell, LSTMCell

    program = rldsl.compile(HEAD + CELLS)
    cell, gru = program["step"].module, program["gru"].module
    assert isinstance(cell, LSTMCell) and isinstance(gru, GRUCell)
    reference = torch.nn.LSTMCell(8, 32)
    reference.load_state_dict(cell.state_dict())
    td = program.spec_random_input("step", (4,))
    with torch.no_grad():
        out = program["step"](td.clone())
        h, c = reference(td["observation"], (td["h"], td["c"]))
    torch.testing.assert_close(out["next", "h"], h)
    torch.testing.assert_close(out["next", "c"], c)
    assert program["gru"](program.spec_random_input("gru", (4,)))["h2"].shape == (4, 32)


@pytest.mark.parametrize(("text", "code", "at"), [
    ("module s = GRUCell(5, 32) : observation -> y\n", "E0406", "5"),
    ("key h : f32[16]\nmodule s = GRUCell(8, 32) : observation, h -> y\n", "E0406", "32"),
    ("key h : f32[32]\nmodule s = LSTMCell(8, 32) : observation, h -> y, z\n", "E0407", "LSTMCell(8, 32)"),
    ("key seq : f32[4, 8]\nmodule s = GRUCell(8, 32) : seq -> y\n", "E0401", "GRUCell(8, 32)"),
    ("module s = GRUCell(8, 0) : observation -> y\n", "E0606", "0"),
])
def test_cell_errors(text: str, code: str, at: str) -> None:
    assert errors(text)[0] == (code, at)


# --- a wrapped layer: `LSTMModule(lstm=LSTM(...))` ------------------------------------------------------


def test_a_wrapped_layer_sizes_the_module() -> None:
    found = types("module memory = LSTMModule(lstm=LSTM(8, 64, num_layers=2, proj_size=16), in_key=observation, "
                  "out_key=embed)\n"
                  "module g = GRUModule(gru=GRU(8, 16, bidirectional=true), in_key=observation, out_key=embed2)\n")
    assert found["recurrent_state_h"][0] == "f32[2, 16]" and found["recurrent_state_c"][0] == "f32[2, 64]"
    assert found["embed"][0] == "f32[16]"
    assert found["recurrent_state"][0] == "f32[2, 16]" and found["embed2"][0] == "f32[32]"


def test_the_compiled_module_wraps_rldsls_python_layer() -> None:
    from rldsl.modules import LSTM

    program = rldsl.compile(HEAD + "module memory = LSTMModule(lstm=LSTM(8, 32, num_layers=2), in_key=observation, "
                                   "out_key=embed)\n")
    memory = program["memory"]
    assert isinstance(memory.lstm, LSTM) and memory.lstm.num_layers == 2 and memory.lstm.input_size == 8
    out = memory(program.spec_random_input("memory", (3,)))
    assert out["embed"].shape == (3, 32) and out["next", "recurrent_state_h"].shape == (3, 2, 32)


@pytest.mark.parametrize(("call", "code", "at"), [
    ("LSTMModule(lstm=LSTM(8, 32), hidden_size=32, in_key=observation, out_key=y)", "E0606", "32"),
    ("LSTMModule(lstm=GRU(8, 32), in_key=observation, out_key=y)", "E0607", "GRU(8, 32)"),
    ("LSTMModule(lstm=LSTM(5, 32), in_key=observation, out_key=y)", "E0406", "5"),
    ("LSTMModule(lstm=LSTM(8, 32, batch_first=false), in_key=observation, out_key=y)", "E0606", "false"),
    ("GRUModule(in_key=observation, out_key=y)", "E0603", "GRUModule"),
])
def test_bad_wrapped_layers(call: str, code: str, at: str) -> None:
    assert errors(f"module m = {call}\n")[0] == (code, at)


def test_a_layer_with_keys_of_its_own_is_refused_with_the_module_to_use() -> None:
    (error,) = report("module m = LSTM(8, 32) : observation -> y\n").errors
    assert error.code == "E0607" and "LSTMModule(lstm=LSTM(...)" in error.help
