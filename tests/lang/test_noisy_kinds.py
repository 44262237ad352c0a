"""Noisy layers in the language: the `NoisyLinear` kind, `layer_class=NoisyLinear` in an MLP, their
diagnostics (E0406, E0407, E0608, E0609), the compiled modules and the parity with the runtime class."""

from __future__ import annotations

import importlib.util
import inspect
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.diagnostics import CODES
from rldsl.lang.kinds import RENAMED, lookup
from rldsl.lang.kinds.noisy import NOISY_LINEAR
from rldsl.modules import ExplorationType, NoisyLinear, reset_noise, set_exploration_type

HEAD = "key observation : f32[8]\nkey action : onehot(4)\n"
Q = "actor q = QValueActor(MLP(out_features=4, num_cells=[32], layer_class=NoisyLinear), in=[observation], spec=action)\n"


def diagnostics(text: str) -> tuple:
    return check_text(HEAD + text, "a.rlm").diagnostics


def errors(text: str) -> list:
    """The errors only (an output nobody reads is a warning, W0301, in these one-line models)."""
    return list(check_text(HEAD + text, "a.rlm").errors)


def only(text: str, code: str):
    found = diagnostics(text)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, span) -> str:
    """The source text a span covers (spans count from the start of the checked text)."""
    return (HEAD + text)[span.start:span.end]


# --- the Q network with noisy layers --------------------------------------------------------------------


def test_a_noisy_q_network_checks_clean_and_is_typed() -> None:
    report = check_text(HEAD + Q, "a.rlm")
    assert report.ok and report.diagnostics == ()
    keys = {key.dotted: rldsl.lang.types.spec_text(key.spec) for key in report.keys}
    assert keys["action_value"] == "f32[4]"


def test_a_noisy_q_network_compiles_to_noisy_layers_sized_by_the_checker() -> None:
    program = rldsl.compile(HEAD + Q, seed=0)
    mlp = program["q"].module[0].module
    assert [type(m).__name__ for m in mlp] == ["NoisyLinear", "Tanh", "NoisyLinear"]
    assert (mlp[0].in_features, mlp[0].out_features, mlp[2].in_features, mlp[2].out_features) == (8, 32, 32, 4)
    assert list(mlp.state_dict())[:2] == ["0.weight_mu", "0.weight_sigma"]


def test_the_compiled_noisy_q_network_explores_only_under_random() -> None:
    program = rldsl.compile(HEAD + Q, seed=0)
    q = program["q"]
    mlp = q.module[0].module
    td = program.spec_random_input("q", (16,))
    obs = td["observation"]
    mean = F.linear(torch.tanh(F.linear(obs, mlp[0].weight_mu, mlp[0].bias_mu)), mlp[2].weight_mu, mlp[2].bias_mu)
    torch.testing.assert_close(q(td.clone())["action_value"], mean)
    with set_exploration_type(ExplorationType.DETERMINISTIC):
        torch.testing.assert_close(q(td.clone())["action_value"], mean)
    with set_exploration_type(ExplorationType.RANDOM):
        first = q(td.clone())["action_value"]
        assert not torch.allclose(first, mean)
        assert torch.equal(q(td.clone())["action_value"], first)  # no new noise per call
        q.apply(reset_noise)  # what docs/python_api.md tells users to do
        assert not torch.allclose(q(td.clone())["action_value"], first)


@pytest.mark.parametrize("exploration", [None, ExplorationType.RANDOM, ExplorationType.DETERMINISTIC])
def test_the_meta_run_confirms_the_checked_shapes(exploration) -> None:
    program = rldsl.compile(HEAD + Q + "module n = NoisyLinear(out_features=3) : observation -> h\n", device="meta")
    for name, key, shape in (("q", "action_value", (5, 4)), ("n", "h", (5, 3))):
        td = program.spec_random_input(name, (5,))
        if exploration is None:
            out = program[name](td)
        else:
            with set_exploration_type(exploration):
                out = program[name](td)
        assert out[key].shape == shape and out[key].device.type == "meta"
        assert tuple(program.static_spec(key).shape) == shape[1:]


# --- the NoisyLinear kind -------------------------------------------------------------------------------


def test_noisy_linear_is_typed_as_a_linear_layer() -> None:
    report = check_text("key observation : f32[2, 8]\nmodule n = NoisyLinear(out_features=5) : observation -> h\n",
                        "a.rlm")
    assert report.ok
    assert {key.dotted: rldsl.lang.types.spec_text(key.spec) for key in report.keys}["h"] == "f32[2, 5]"


def test_noisy_linear_arguments_reach_the_runtime_class() -> None:
    text = HEAD + ("module n = NoisyLinear(8, 3, bias=false, std_init=0.1, use_exploration_type=false)"
                   " : observation -> h\nmodule m = NoisyLinear(out_features=2) : observation -> g\n")
    program = rldsl.compile(text, seed=0, dtype="f64")
    layer, lazy_free = program["n"].module, program["m"].module
    assert type(layer) is NoisyLinear and type(lazy_free) is NoisyLinear
    assert (layer.in_features, layer.out_features, layer.bias_mu, layer.std_init, layer.use_exploration_type) == (
        8, 3, None, 0.1, False)
    assert lazy_free.in_features == 8 and lazy_free.weight_mu.dtype == torch.float64


def test_a_wrong_in_features_is_e0406_at_the_argument() -> None:
    text = "module n = NoisyLinear(5, 4) : observation -> h\n"
    found = only(text, "E0406")
    assert spanned(text, found.span) == "5" and "NoisyLinear(8, ...)" in found.help


def test_noisy_linear_reads_one_tensor() -> None:
    only("module n = NoisyLinear(out_features=4) : observation, observation -> h\n", "E0407")


def test_noisy_linear_needs_float_inputs() -> None:
    only("key steps : i64[3]\nmodule n = NoisyLinear(out_features=4) : steps -> h\n", "E0503")


@pytest.mark.parametrize("size, argument", [("out_features=0", "0"), ("in_features=-1, out_features=2", "-1")])
def test_sizes_must_be_positive(size: str, argument: str) -> None:
    text = f"module n = NoisyLinear({size}) : observation -> h\n"
    found = [d for d in diagnostics(text) if d.code == "E0606"]
    assert found and spanned(text, found[0].span) == argument


@pytest.mark.parametrize("value, message", [("-0.5", "must be >= 0, got -0.5"), ("inf", "finite number")])
def test_a_bad_noise_scale_is_e0609_at_the_argument(value: str, message: str) -> None:
    text = f"module n = NoisyLinear(out_features=4, std_init={value}) : observation -> h\n"
    found = only(text, "E0609")
    assert spanned(text, found.span) == value and message in found.message and found.help


def test_a_zero_noise_scale_is_allowed() -> None:
    assert errors("module n = NoisyLinear(out_features=4, std_init=0) : observation -> h\n") == []


def test_noisy_lazy_linear_points_to_noisy_linear() -> None:
    found = only("module n = NoisyLazyLinear(4) : observation -> h\n", "E0204")
    assert "NoisyLinear(out_features=...)" in found.help
    assert "NoisyLazyLinear" in RENAMED


# --- layer_class=NoisyLinear and E0608 ----------------------------------------------------------------


def test_single_bias_with_a_noisy_layer_class_is_e0608_at_the_argument() -> None:
    text = ("actor q = QValueActor(MLP(out_features=4, layer_class=NoisyLinear, single_bias_last_layer=true), "
            "in=[observation], spec=action)\n")
    found = only(text, "E0608")
    assert spanned(text, found.span) == "true"
    assert found.span.line == 3 and found.span.column == text.index("true") + 1
    (label,) = found.labels
    assert spanned(text, label.span) == "NoisyLinear" and "noisy" in label.message
    assert "layer_class=Linear" in found.help and CODES["E0608"].severity.value == "error"


def test_single_bias_stays_fine_with_linear_layers_and_noisy_layers_without_it() -> None:
    assert errors("module m = MLP(out_features=4, layer_class=Linear, single_bias_last_layer=true) "
                  ": observation -> h\n") == []
    assert errors("module m = MLP(out_features=4, layer_class=NoisyLinear, single_bias_last_layer=false) "
                  ": observation -> h\n") == []


def test_the_layer_choices_name_noisy_linear() -> None:
    found = only("module m = MLP(out_features=4, layer_class=NoisyLiner) : observation -> h\n", "E0606")
    assert "`NoisyLinear`" in found.message and found.suggestion.replacement == "NoisyLinear"


def test_the_builder_writes_and_checks_noisy_layers() -> None:
    from rldsl.build import MLP, Model, NoisyLinear as NoisyLinearKind, QValueActor

    model = Model()
    model.key("observation", "f32[8]")
    model.key("action", "onehot(4)")
    model.actor("q", QValueActor(MLP(out_features=4, num_cells=[32], layer_class="NoisyLinear"),
                                 in_=["observation"], spec="action"))
    model.module("n", NoisyLinearKind(out_features=2, std_init=0.2), reads=["observation"], writes=["h"])
    source = model.to_source()
    assert "layer_class=NoisyLinear)" in source and "NoisyLinear(out_features=2, std_init=0.2)" in source
    assert model.check().ok


# --- the description against the runtime class ---------------------------------------------------------


def _parity_test():
    """``test_kind_matches_its_runtime_constructor`` of tests/lang/test_kinds_parity.py, loaded by path."""
    path = Path(__file__).with_name("test_kinds_parity.py")
    spec = importlib.util.spec_from_file_location("_kinds_parity", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.test_kind_matches_its_runtime_constructor


def test_the_kind_is_registered_and_matches_its_runtime_constructor() -> None:
    assert lookup("NoisyLinear") is NOISY_LINEAR
    assert "NoisyLinear" in lookup("MLP").param("layer_class").choices
    parity = _parity_test()
    parity(NOISY_LINEAR)
    parity(lookup("MLP"))
    runtime = inspect.signature(NoisyLinear).parameters
    assert {p.target for p in NOISY_LINEAR.params} | {name for name, _ in NOISY_LINEAR.omitted} == set(runtime)
