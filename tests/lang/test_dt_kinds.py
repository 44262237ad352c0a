"""The decision-transformer kinds: ``DTConfig`` (a configuration, given as ``dict(...)``),
``DecisionTransformer``, ``DTActor``, ``OnlineDTActor`` and ``DecisionTransformerInferenceWrapper``.

Windows are keys declared with their time dim (``f32[context, 17]``); the type rules, every
diagnostic with its span, and the compiled modules (their shapes on cpu and ``meta`` are the
checked ones; the wrapper's last action is torchrl's) are tested here."""

from __future__ import annotations

import math

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule

import rldsl
from rldsl.build import DTActor as BuiltDTActor
from rldsl.build import Model
from rldsl.lang.check import check_text
from rldsl.lang.kinds import Family, lookup
from rldsl.lang.types import spec_text
from rldsl.modules import DecisionTransformer, DecisionTransformerInferenceWrapper, DTActor, DTConfig, OnlineDTActor

HEAD = """\
dim context = 10
key observation : f32[context, 5]
key action : f32[context, 3]
key return_to_go : f32[context, 1]
key step : f32[5]
"""
SMALL = "dict(n_embd=16, n_layer=1, n_head=2, n_inner=32)"
WINDOWS = "observation, action, return_to_go"


def check(text: str):
    return check_text(HEAD + text, "a.rlm")


def types(text: str) -> dict[str, str]:
    report = check(text)
    assert report.ok, [(d.code, d.message) for d in report.errors]
    return {key.dotted: spec_text(key.spec) for key in report.keys}


def errors(text: str) -> list[tuple[str, str]]:
    """(code, the source the error points at) for each error."""
    source = HEAD + text
    return [(d.code, source[d.span.start:d.span.end]) for d in check(text).errors]


# --- types ---------------------------------------------------------------------------------------


def test_the_transformer_gives_a_hidden_state_per_step_of_n_embd() -> None:
    assert types(f"module t = DecisionTransformer(5, 3) : {WINDOWS} -> hidden\n")["hidden"] == "f32[context, 256]"
    text = f"module t = DecisionTransformer(5, 3, config=dict(n_embd=64)) : {WINDOWS} -> hidden\n"
    assert types(text)["hidden"] == "f32[context, 64]"


def test_the_actors_default_configuration_is_512_wide() -> None:
    text = f"module a = DTActor(5, 3) : {WINDOWS} -> per_step\n"
    assert types(text)["per_step"] == "f32[context, 3]"
    assert lookup("DTActor").param("transformer_config").inner_defaults == (("n_embd", 512), ("n_inner", 2048))


def test_the_online_actor_gives_a_mean_and_a_bounded_standard_deviation() -> None:
    found = types(f"module a = OnlineDTActor(5, 3, transformer_config={SMALL}) : {WINDOWS} -> mu, std\n")
    assert found["mu"] == "f32[context, 3]"
    low, high = math.exp(-5.0), math.exp(2.0)
    report = check(f"module a = OnlineDTActor(5, 3, transformer_config={SMALL}) : {WINDOWS} -> mu, std\n")
    std = next(k.spec for k in report.keys if k.dotted == "std")
    assert (std.low, std.high) == (low, high) and std.shape[-1] == 3


def test_leading_batch_dims_are_kept() -> None:
    text = """key obs : f32[4, 7, 5]
key act : f32[4, 7, 3]
key rtg : f32[4, 7, 1]
module a = DTActor(5, 3) : obs, act, rtg -> per_step
"""
    assert types(text)["per_step"] == "f32[4, 7, 3]"


def test_dt_config_is_a_configuration_of_torchrls_fields() -> None:
    kind = lookup("DTConfig")
    assert kind.family is Family.CONFIG and kind.runtime == "rldsl.modules.DTConfig"
    defaults = {p.name: p.default for p in kind.params}
    assert defaults == {"n_embd": 256, "n_layer": 4, "n_head": 4, "n_inner": 1024, "activation": "relu",
                        "n_positions": 1024, "resid_pdrop": 0.1, "attn_pdrop": 0.1}
    assert "relu" in kind.param("activation").choices and "gelu_new" in kind.param("activation").choices


# --- diagnostics -----------------------------------------------------------------------------------


def test_heads_must_divide_the_width() -> None:
    found = errors(f"module t = DecisionTransformer(5, 3, config=dict(n_embd=90)) : {WINDOWS} -> h\n")
    assert found == [("E0455", "90")]
    found = errors(f"module t = DecisionTransformer(5, 3, config=dict(n_embd=64, n_head=3)) : {WINDOWS} -> h\n")
    assert found == [("E0455", "3")]


def test_a_window_longer_than_the_positions_is_refused() -> None:
    found = errors(f"module t = DTActor(5, 3, transformer_config=dict(n_positions=27)) : {WINDOWS} -> h\n")
    assert found == [("E0456", "DTActor(5, 3, transformer_config=dict(n_positions=27))")]
    assert errors(f"module t = DTActor(5, 3, transformer_config=dict(n_positions=30)) : {WINDOWS} -> h\n") == []


def test_a_single_step_is_not_a_window() -> None:
    assert errors("module t = DecisionTransformer(5, 3) : step, action, return_to_go -> h\n") == [
        ("E0457", "DecisionTransformer(5, 3)")]


def test_windows_share_their_steps() -> None:
    text = "key short : f32[4, 3]\nmodule t = DecisionTransformer(5, 3) : observation, short, return_to_go -> h\n"
    assert errors(text) == [("E0401", "DecisionTransformer(5, 3)")]


@pytest.mark.parametrize("call, where", [
    ("DecisionTransformer(4, 3)", "4"),
    ("DecisionTransformer(5, 2)", "2"),
])
def test_sizes_must_be_the_windows_features(call: str, where: str) -> None:
    assert errors(f"module t = {call} : {WINDOWS} -> h\n") == [("E0406", where)]


def test_one_return_to_go_per_step() -> None:
    text = "key rtg2 : f32[context, 2]\nmodule t = DecisionTransformer(5, 3) : observation, action, rtg2 -> h\n"
    assert errors(text) == [("E0406", "DecisionTransformer")]


def test_three_inputs_of_floats() -> None:
    assert errors("module t = DecisionTransformer(5, 3) : observation, action -> h\n") == [
        ("E0407", "DecisionTransformer(5, 3)")]
    text = "key steps : i64[context, 1]\nmodule t = DecisionTransformer(5, 3) : observation, action, steps -> h\n"
    assert [code for code, _ in errors(text)] == ["E0503"]


@pytest.mark.parametrize("entry, where", [
    ("n_head=0", "0"), ("n_embd=-4", "-4"), ("n_inner=0", "0"), ("n_layer=-1", "-1"), ("n_positions=2", "2"),
    ("resid_pdrop=1.5", "1.5"), ("attn_pdrop=-0.1", "-0.1"), ("activation=\"softmax\"", "\"softmax\""),
])
def test_configuration_values_are_checked(entry: str, where: str) -> None:
    assert errors(f"module t = DecisionTransformer(5, 3, config=dict({entry})) : {WINDOWS} -> h\n") == [
        ("E0606", where)]


def test_configuration_entries_are_checked_as_its_fields() -> None:
    assert errors(f"module t = DecisionTransformer(5, 3, config=dict(width=3)) : {WINDOWS} -> h\n") == [
        ("E0602", "width")]
    assert errors(f"module t = DecisionTransformer(5, 3, config=dict(n_embd=\"big\")) : {WINDOWS} -> h\n") == [
        ("E0604", "\"big\"")]
    assert errors(f"module t = DecisionTransformer(5, 3, config=16) : {WINDOWS} -> h\n") == [("E0604", "16")]
    assert errors(f"module t = DecisionTransformer(5, 3, config=dict(n_layer=0)) : {WINDOWS} -> h\n") == []


def test_dt_config_is_not_a_module() -> None:
    found = check("module c = DTConfig(n_embd=64)\n").errors
    assert [(d.code, d.message) for d in found] == [("E0607", "`DTConfig` is a configuration, not a network or module")]
    assert "`config` of DecisionTransformer" in found[0].help
    assert [d.code for d in check(f"module c = MLP(out_features=3) >> DTConfig : {WINDOWS} -> h\n").errors] == ["E0607"]


POLICY = f"""module dt = DTActor(5, 3, transformer_config={SMALL}) : {WINDOWS} -> param
actor policy = ProbabilisticActor(dt, in=[param], out=[action_steps], dist=TanhDelta)
key act : f32[3] in [-1.0, 1.0]
"""


def test_the_wrapper_writes_the_last_step_to_a_key_of_its_own() -> None:
    text = POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps, last_action=act)\n"
    found = types(text)
    assert found["action_steps"] == "f32[context, 3] in [-1.0, 1.0]" and found["act"] == "f32[3] in [-1.0, 1.0]"
    report = check(text)
    wrapper = report.modules["a"]
    assert [r.dotted for r in wrapper.reads] == ["observation", "action", "return_to_go"]
    assert [r.dotted for r in wrapper.writes] == ["param", "action_steps", "act"]


def test_the_wrapper_checks_its_keys_against_the_policy() -> None:
    text = POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, return_to_go=step, out_action=param_x, " \
                    "last_action=act)\n"
    assert errors(text) == [("E0458", "step"), ("E0458", "param_x")]
    text = POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps, last_action=act)\n"
    assert errors(text) == []


def test_the_last_step_needs_a_key_of_its_own() -> None:
    base = POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps, last_action="
    assert errors(base + "action)\n") == [("E0459", "action")]
    assert errors(base + "action_steps)\n") == [("E0459", "action_steps")]
    assert errors(POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps)\n") == [
        ("E0603", "DecisionTransformerInferenceWrapper")]


def test_the_wrapper_needs_a_per_step_action_over_the_windows() -> None:
    text = """module flat = MLP(out_features=3) : step -> flat_action
module both = DTActor(5, 3, transformer_config=dict(n_embd=16, n_layer=1, n_head=2, n_inner=32))
            : observation, action, return_to_go -> param
actor p = both >> flat
actor a = DecisionTransformerInferenceWrapper(p, out_action=flat_action, last_action=act)
key act : f32[3]
"""
    assert errors(text) == [("E0457", "flat_action")]


def test_the_wrapper_arguments() -> None:
    base = POLICY + "actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps, last_action=act, "
    assert errors(base + "inference_context=0)\n") == [("E0606", "0")]
    assert errors(base + "context_length=12)\n") == [("E0606", "12")]
    assert errors(base + "context_length=10, inference_context=3, spec=act)\n") == []
    assert errors(base + "spec=action)\n") == [("E0509", "action")]  # another key's spec


# --- compiled ------------------------------------------------------------------------------------

NETWORKS = f"""module t = DecisionTransformer(5, 3, config=dict(n_embd=16, n_layer=2, n_head=4, n_inner=24,
                                              activation="gelu")) : {WINDOWS} -> hidden
module a = DTActor(5, 3, transformer_config={SMALL}) : {WINDOWS} -> per_step
module o = OnlineDTActor(5, 3, transformer_config={SMALL}) : {WINDOWS} -> mu, std
"""


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_compiled_networks_have_the_checked_shapes(device: str) -> None:
    program = rldsl.compile(HEAD + NETWORKS, device=device)
    for name in program:
        out = program[name](program.spec_random_input(name, (2,)))
        for key in program.writes(name):
            static = program.spec(key)
            assert tuple(out.get(key).shape) == (2, *static.shape), (name, key)
            assert out.get(key).device.type == device
            if device == "cpu":
                assert static.is_in(out.get(key)), (name, key)


def test_the_configuration_reaches_the_runtime_class() -> None:
    program = rldsl.compile(HEAD + NETWORKS)
    trunk = program["t"].module
    assert isinstance(trunk, DecisionTransformer)
    assert trunk.config == DTConfig(n_embd=16, n_layer=2, n_head=4, n_inner=24, activation="gelu")
    actor = program["a"].module
    assert isinstance(actor, DTActor) and actor.transformer.config.n_embd == 16
    assert isinstance(program["o"].module, OnlineDTActor)
    default = rldsl.compile(HEAD + f"module a = DTActor(5, 3) : {WINDOWS} -> per_step\n", device="meta")["a"].module
    assert default.transformer.config == DTActor.default_config()


def test_compiled_actor_has_torchrls_state_dict_names() -> None:
    compiled = rldsl.compile(HEAD + NETWORKS, device="meta")["a"].module
    by_hand = DTActor(5, 3, transformer_config=dict(n_embd=16, n_layer=1, n_head=2, n_inner=32), device="meta")
    assert list(compiled.state_dict()) == list(by_hand.state_dict())
    assert "transformer.transformer.h.0.attn.c_attn.weight" in compiled.state_dict()


def test_the_builder_writes_configurations_as_dicts() -> None:
    model = Model()
    model.dim("context", 10)
    model.key("observation", "f32[context, 5]")
    model.key("action", "f32[context, 3]")
    model.key("return_to_go", "f32[context, 1]")
    model.module("a", BuiltDTActor(5, 3, transformer_config={"n_embd": 16, "n_head": 2}),
                 reads=["observation", "action", "return_to_go"], writes=["per_step"])
    assert "transformer_config=dict(n_embd=16, n_head=2)" in model.to_source()
    assert model.check().ok


WRAPPED = POLICY + """actor a = DecisionTransformerInferenceWrapper(policy, out_action=action_steps, last_action=act,
                                              inference_context=3, spec=act)
"""


@pytest.mark.parametrize("device", ["cpu", "meta"])
def test_the_compiled_wrapper_writes_the_checked_shapes(device: str) -> None:
    program = rldsl.compile(HEAD + WRAPPED, device=device)
    td = program.spec_random_input("a", (2,))
    out = program["a"](td)
    assert tuple(out["act"].shape) == (2, 3) and tuple(out["action_steps"].shape) == (2, 10, 3)
    assert tuple(out["return_to_go"].shape) == (2, 10, 1)  # the window keeps every step
    assert "act" not in td.keys()  # the input is not modified


def test_the_wrapper_acts_as_torchrls() -> None:
    """The last action equals torchrl's wrapper's (which overwrites the policy's action in place)."""
    torch.manual_seed(0)
    program = rldsl.compile(HEAD + WRAPPED)
    wrapper = program["a"]
    assert isinstance(wrapper, DecisionTransformerInferenceWrapper)
    policy = program["policy"].eval()
    torchrl_style = DecisionTransformerInferenceWrapper(policy, inference_context=3)
    torchrl_style.set_tensor_keys(out_action="action_steps")
    td = TensorDict(observation=torch.randn(2, 10, 5), action=torch.randn(2, 10, 3),
                    return_to_go=torch.randn(2, 10, 1), batch_size=[2])
    ours, theirs = wrapper.eval()(td), torchrl_style(td)
    torch.testing.assert_close(ours["act"], theirs["action_steps"])
    assert theirs["action_steps"].shape == (2, 3) and ours["action_steps"].shape == (2, 10, 3)


def test_the_wrapper_masks_what_its_policy_sees() -> None:
    """Only the last `inference_context` steps reach the policy: older ones do not change the action."""
    program = rldsl.compile(HEAD + WRAPPED)
    wrapper = program["a"].eval()
    td = TensorDict(observation=torch.randn(1, 10, 5), action=torch.randn(1, 10, 3),
                    return_to_go=torch.randn(1, 10, 1), batch_size=[1])
    changed = td.clone()
    changed["observation"][:, :7] = torch.randn(1, 7, 5)
    changed["action"][:, :8] = torch.randn(1, 8, 3)
    torch.testing.assert_close(wrapper(td)["act"], wrapper(changed)["act"])


def test_an_actor_module_can_be_wrapped_by_hand() -> None:
    actor = TensorDictModule(DTActor(5, 3, transformer_config=dict(n_embd=16, n_layer=1, n_head=2, n_inner=32)),
                             in_keys=["observation", "action", "return_to_go"], out_keys=["action_steps"])
    wrapper = DecisionTransformerInferenceWrapper(actor, out_action_key="action_steps", last_action_key="act")
    assert "act" in wrapper.out_keys
    out = wrapper(TensorDict(observation=torch.randn(10, 5), action=torch.randn(10, 3),
                             return_to_go=torch.randn(10, 1), batch_size=[]))
    assert out["act"].shape == (3,) and out["action_steps"].shape == (10, 3)
