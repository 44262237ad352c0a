"""The multi-agent kinds in the language: QMixer and VDNMixer reading the agents' chosen action
values (and a state) and writing a joint value, MultiAgentConvNet on per-agent images; their
diagnostics by code and span; models checked, compiled and run, with the checker's shapes
confirmed on ``device="meta"``."""

from __future__ import annotations

import pytest
import torch

import rldsl
from rldsl.lang.check import check_text
from rldsl.lang.types import spec_text
from rldsl.modules import MultiAgentConvNet, MultiAgentMLP, QMixer, VDNMixer

SPECS = """\
dim n_agents = 3
dim n_actions = 4
key agents : { observation: f32[n_agents, 8],
               action: onehot(n_actions, dtype=i64, shape=[n_agents, n_actions]) }[n_agents]
key state : f32[16]
key global_value : f32[1]
"""

AGENTS = """\
module agent_q = MultiAgentMLP(n_agent_outputs=n_actions, n_agents=n_agents, centralized=false,
                               share_params=false, depth=1, num_cells=32)
               : agents.observation -> agents.action_value
actor policy = QValueModule(spec=agents.action, action_value_key=agents.action_value,
                            out=[agents.action, agents.action_value, agents.chosen_action_value])
"""

QMIX = SPECS + AGENTS + """\
module mixer = QMixer(state_shape=[16], mixing_embed_dim=32, n_agents=n_agents)
             : agents.chosen_action_value, state -> global_value
"""

VDN = SPECS + AGENTS + """\
module mixer = VDNMixer(n_agents) : agents.chosen_action_value -> global_value
"""

PIXELS = """\
dim n_agents = 2
key pixels : f32[n_agents, 3, 84, 84]
key features : f32[n_agents, 3136]
module encoder = MultiAgentConvNet(n_agents, false, false, num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3],
                                   strides=[4, 2, 1], activation_class=ReLU) : pixels -> features
"""

MODELS = {"qmix": QMIX, "vdn": VDN, "pixels": PIXELS}


def diagnostics(text: str):
    return [d for d in check_text(text, "t.rlm").diagnostics if d.code.startswith("E")]


def only(text: str, code: str):
    found = diagnostics(text)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def at(text: str, fragment: str, occurrence: int = 0) -> tuple[int, int]:
    """(line, column) of ``fragment`` in ``text``, 1-based, as spans give them."""
    index = -1
    for _ in range(occurrence + 1):
        index = text.index(fragment, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def start(diagnostic) -> tuple[int, int]:
    return diagnostic.span.line, diagnostic.span.column


def types(text: str) -> dict[str, str]:
    report = check_text(text, "t.rlm")
    assert not [d for d in report.diagnostics if d.code.startswith("E")], report.diagnostics
    return {key.dotted: spec_text(key.spec) for key in report.keys}


# ---------------------------------------------------------------------------------------------
# Models checked, compiled and run


def test_qmix_model_types_the_joint_value() -> None:
    found = types(QMIX)
    assert found["agents.chosen_action_value"] == "f32[n_agents, 1]"
    assert found["global_value"] == "f32[1]"


def test_vdn_model_types_the_joint_value() -> None:
    assert types(VDN)["global_value"] == "f32[1]"


def test_pixel_model_types_the_features_per_agent() -> None:
    assert types(PIXELS)["features"] == "f32[n_agents, 3136]"
    text = "key p : f32[2, 4, 3, 32, 32]\nmodule e = MultiAgentConvNet(n_agents=4, centralized=true, " \
           "share_params=true, num_cells=[8, 8]) : p -> f\n"
    assert types(text)["f"] == "f32[2, 4, 200]"  # 32 -> 14 -> 5 with kernels 5, strides 2


@pytest.mark.parametrize("name", ["qmix", "vdn"])
def test_mixer_model_compiles_and_mixes_the_chosen_values(name: str) -> None:
    program = rldsl.compile(MODELS[name])
    mixer = program["mixer"].module
    assert isinstance(mixer, QMixer if name == "qmix" else VDNMixer) and mixer.n_agents == 3
    assert isinstance(program["agent_q"].module, MultiAgentMLP)
    torch.manual_seed(0)
    td = program.spec_random_input("agent_q", (64,))
    td.set("state", torch.randn(64, 16))
    with torch.no_grad():
        td = program["mixer"](program["policy"](program["agent_q"](td)))
    joint = td.get("global_value")
    assert joint.shape == (64, 1)
    chosen = td.get(("agents", "chosen_action_value"))
    assert chosen.shape == (64, 3, 1)
    if name == "vdn":
        torch.testing.assert_close(joint, chosen.sum(-2))
    else:
        torch.testing.assert_close(joint, mixer(chosen, td.get("state")))
    if name == "qmix":
        assert list(mixer.state_dict())[:2] == ["hyper_w_1.weight", "hyper_w_1.bias"]
        assert mixer.state_shape == torch.Size([16]) and mixer.embed_dim == 32


def test_pixel_model_compiles_with_the_channels_the_checker_found() -> None:
    program = rldsl.compile(PIXELS)
    net = program["encoder"].module
    assert isinstance(net, MultiAgentConvNet) and net.in_features == 3 and not net.share_params
    assert net.params["0", "weight"].shape == (2, 32, 3, 8, 8)
    td = program.spec_random_input("encoder", (2,))
    with torch.no_grad():
        assert program["encoder"](td).get("features").shape == (2, 2, 3136)


def test_centralised_pixels_compile_with_every_agents_channels() -> None:
    text = PIXELS.replace("(n_agents, false, false,", "(n_agents, true, false,")
    net = rldsl.compile(text)["encoder"].module
    assert net.centralized and net.in_features == 3 and net.params["0", "weight"].shape == (2, 32, 6, 8, 8)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_meta_run_matches_the_checked_specs(name: str) -> None:
    """Every declared module run on ``meta``: what it writes has the checker's shape and dtype."""
    program = rldsl.compile(MODELS[name], device="meta")
    for module in dict.fromkeys(program[n] for n in program):
        assert all(p.is_meta for p in module.parameters())
    for module_name in program:
        td = program.spec_random_input(module_name, (4,))
        out = program[module_name](td)
        for key in program.writes(module_name):
            value = out.get(key)
            static = program.spec(key)
            if isinstance(value, torch.Tensor):
                assert value.is_meta and tuple(value.shape) == (4, *static.shape), (module_name, key)
                assert value.dtype == static.dtype, (module_name, key)


def test_the_builder_writes_the_mixer() -> None:
    from rldsl.build import Model, QMixer as QMixerExpr

    model = Model()
    model.key("q", "f32[3, 1]")
    model.key("s", "f32[5]")
    model.key("v", "f32[1]")
    model.module("mix", QMixerExpr(state_shape=[5], mixing_embed_dim=4, n_agents=3), reads=["q", "s"],
                 writes=["v"])
    assert "QMixer(state_shape=[5], mixing_embed_dim=4, n_agents=3)" in model.to_source()
    assert model.check().ok


# ---------------------------------------------------------------------------------------------
# Mixer diagnostics

Q3 = "key q : f32[3, 1]\nkey s : f32[16]\n"


def mixer_text(call: str, reads: str = "q, s") -> str:
    return Q3 + f"module m = {call} : {reads} -> v\n"


def test_wrong_agent_count_is_reported_at_n_agents() -> None:
    text = "key q : f32[4, 1]\nkey s : f32[16]\nmodule m = QMixer(state_shape=[16], mixing_embed_dim=8, " \
           "n_agents=3) : q, s -> v\n"
    d = only(text, "E0430")
    assert start(d) == at(text, "3)") and "mixes 3 agents" in d.message and "has 4" in d.message
    assert d.labels and d.labels[0].message == "`q` has 4 agents"
    assert "n_agents=4" in d.help
    vdn = "key q : f32[2, 5, 1]\nmodule m = VDNMixer(n_agents=2) : q -> v\n"
    assert start(only(vdn, "E0430")) == at(vdn, "2)")


@pytest.mark.parametrize(("spec", "fix"), [("f32[3]", "f32[3, 1]"), ("f32[3, 4]", "f32[3, 1]"), ("f32[]", "f32[3, 1]")])
def test_values_without_their_trailing_one_are_reported(spec: str, fix: str) -> None:
    text = f"key q : {spec}\nkey s : f32[16]\nmodule m = QMixer(state_shape=[16], mixing_embed_dim=8, n_agents=3) " \
           ": q, s -> v\n"
    d = only(text, "E0431")
    assert start(d) == at(text, "QMixer(") and f"`{fix}`" in d.help


def test_a_state_of_another_shape_is_reported_at_state_shape() -> None:
    text = mixer_text("QMixer(state_shape=[12], mixing_embed_dim=8, n_agents=3)")
    d = only(text, "E0432")
    assert start(d) == at(text, "[12]") and "state_shape=[16]" in d.help
    assert d.labels[0].message == "reads `s` as the state"
    two = "key q : f32[3, 1]\nkey s : f32[4, 4]\nmodule m = QMixer(state_shape=[16], mixing_embed_dim=8, " \
          "n_agents=3) : q, s -> v\n"
    assert "state_shape=[4, 4]" in only(two, "E0432").help


def test_a_state_per_agent_is_reported_at_the_call() -> None:
    text = "key q : f32[3, 1]\nkey s : f32[3, 16]\nmodule m = QMixer(state_shape=[16], mixing_embed_dim=8, " \
           "n_agents=3) : q, s -> v\n"
    d = only(text, "E0433")
    assert start(d) == at(text, "QMixer(") and "no batch dims" in d.message and "batch dims [3]" in d.message


def test_batched_values_and_state_agree() -> None:
    text = "key q : f32[2, 3, 1]\nkey s : f32[2, 4, 4]\nmodule m = QMixer(state_shape=[4, 4], mixing_embed_dim=8, " \
           "n_agents=3) : q, s -> v\n"
    assert types(text)["v"] == "f32[2, 1]"


def test_the_number_of_inputs_is_checked() -> None:
    one = mixer_text("QMixer(state_shape=[16], mixing_embed_dim=8, n_agents=3)", reads="q")
    d = only(one, "E0407")
    assert "reads two tensors" in d.message and start(d) == at(one, "QMixer(")
    two = mixer_text("VDNMixer(3)")
    d = only(two, "E0407")
    assert "reads nothing else" in d.message and "QMixer" in d.help


def test_mixers_read_float_tensors() -> None:
    assert only("key q : i64[3, 1]\nmodule m = VDNMixer(3) : q -> v\n", "E0503")
    assert only("key q : f32[3, 1]\nkey s : i64[16]\nmodule m = QMixer(state_shape=[16], mixing_embed_dim=8, "
                "n_agents=3) : q, s -> v\n", "E0503")
    assert only("key q : { a: f32[3, 1] }\nmodule m = VDNMixer(3) : q -> v\n", "E0504")


@pytest.mark.parametrize(("call", "fragment"), [
    ("QMixer(state_shape=[16], mixing_embed_dim=0, n_agents=3)", "0,"),
    ("QMixer(state_shape=[0], mixing_embed_dim=8, n_agents=3)", "[0]"),
    ("QMixer(state_shape=[16], mixing_embed_dim=8, n_agents=0)", "0)"),
])
def test_sizes_must_be_positive(call: str, fragment: str) -> None:
    text = mixer_text(call)
    d = only(text, "E0606")
    assert start(d) == at(text, fragment)


def test_missing_and_misspelt_arguments() -> None:
    found = diagnostics(mixer_text("QMixer(state_shape=[16], n_agents=3)"))
    assert [d.code for d in found] == ["E0603"] and "mixing_embed_dim" in found[0].message
    misspelt = {d.code: d for d in diagnostics(mixer_text("QMixer(state_shape=[16], embed_dim=8, n_agents=3)"))}
    assert misspelt["E0602"].suggestion.replacement == "mixing_embed_dim"


def test_positional_arguments_follow_torchrls_order() -> None:
    assert types(mixer_text("QMixer([16], 8, 3)"))["v"] == "f32[1]"


# ---------------------------------------------------------------------------------------------
# MultiAgentConvNet diagnostics


def conv_text(spec: str, call: str = "MultiAgentConvNet(3, false, false)") -> str:
    return f"key p : {spec}\nmodule e = {call} : p -> f\n"


def test_images_without_an_agent_dim_are_reported() -> None:
    text = conv_text("f32[3, 84, 84]")
    d = only(text, "E0434")
    assert start(d) == at(text, "MultiAgentConvNet(") and "[*B, n_agents, C, H, W]" in d.message


def test_a_wrong_agent_count_of_images_is_reported_at_n_agents() -> None:
    text = conv_text("f32[4, 3, 84, 84]")
    d = only(text, "E0430")
    assert start(d) == at(text, "3, false") and "n_agents=4" in d.help


def test_declared_channels_must_match() -> None:
    text = conv_text("f32[3, 3, 84, 84]", "MultiAgentConvNet(3, false, false, in_features=4)")
    d = only(text, "E0406")
    assert start(d) == at(text, "4)")


def test_a_layer_that_empties_the_image_is_reported_at_its_argument() -> None:
    text = conv_text("f32[3, 3, 32, 32]", "MultiAgentConvNet(3, false, false, kernel_sizes=[8, 4, 3], strides=4)")
    d = only(text, "E0420")
    assert start(d) == at(text, "[8, 4, 3]") and "32 -> 7 -> 1" in d.help


def test_layer_lists_must_agree() -> None:
    text = conv_text("f32[3, 3, 84, 84]", "MultiAgentConvNet(3, false, false, num_cells=[8, 8], strides=[2, 2, 2])")
    assert start(only(text, "E0421")) == at(text, "[2, 2, 2]")


def test_conv_reads_float_images() -> None:
    assert only(conv_text("u8[3, 3, 84, 84]"), "E0503")
    assert only("key p : f32[3, 3, 8, 8]\nkey r : f32[3, 3, 8, 8]\nmodule e = MultiAgentConvNet(3, false, false, "
                "num_cells=[4], kernel_sizes=3) : p, r -> f\n", "E0407")
