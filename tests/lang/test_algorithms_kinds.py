"""Algorithm-specific kinds in the language: dueling DQN heads (vectors and pixels), DDPG actors and
critics (vectors and pixels), the distributional log-softmax. Each is checked and compiled in a small
model, its diagnostics are pinned by code and span, and a run on ``device="meta"`` confirms the
checker's shapes."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from torch import nn

import rldsl
from rldsl.compiler.artifact import save
from rldsl.compiler.specs import shape_of, torch_dtype
from rldsl.lang.check import check_text
from rldsl.lang.kinds import KINDS, lookup
from rldsl.lang.types import spec_text
from rldsl.modules import (
    DdpgCnnActor,
    DdpgCnnQNet,
    DdpgMlpActor,
    DdpgMlpQNet,
    DistributionalDQNnet,
    DuelingCnnDQNet,
    DuelingMlpDQNet,
)

NAMES = ("DuelingMlpDQNet", "DuelingCnnDQNet", "DdpgMlpActor", "DdpgMlpQNet", "DdpgCnnActor", "DdpgCnnQNet",
         "DistributionalDQNnet")

HEAD = """\
key observation : f32[8]
key pixels : f32[4, 84, 84]
key small : f32[3, 30, 30]
key bytes : u8[3, 84, 84]
key action : onehot(6)
key torque : f32[2] in [-1.0, 1.0]
"""

#: Small models that use every kind (each checks clean and compiles).
MODELS = {
    "dueling_vector": "actor q = QValueActor(DuelingMlpDQNet(6), in=[observation], spec=action)\n",
    "dueling_pixels": "actor q = QValueActor(DuelingCnnDQNet(6), in=[pixels], spec=action)\n",
    "ddpg_vector": """\
module raw = DdpgMlpActor(torque.shape[-1]) : observation -> raw_torque
actor policy = raw >> TanhModule(in=[raw_torque], out=[torque], spec=torque)
value critic = ValueOperator(DdpgMlpQNet(), in=[observation, torque], out=[state_action_value])
""",
    "ddpg_pixels": """\
module raw = DdpgCnnActor(2) : pixels -> raw_torque, hidden
actor policy = raw >> TanhModule(in=[raw_torque], out=[torque], spec=torque)
value critic = ValueOperator(DdpgCnnQNet(), in=[pixels, torque], out=[state_action_value])
value flat_critic = ValueOperator(DdpgCnnQNet(use_avg_pooling=false), in=[pixels, torque], out=[flat_value])
""",
    "distributional": """\
module head = MLP(out_features=(5, 6), num_cells=[16]) : observation -> logits
module norm = DistributionalDQNnet(in=[logits], out=[action_value])
actor q = DistributionalQValueModule(support=linspace(-1, 1, 5), spec=action)
""",
    "distributional_in_place": """\
module head = MLP(out_features=(5, 6), num_cells=[16]) : observation -> action_value
actor q = head >> DistributionalDQNnet() >> DistributionalQValueModule(support=linspace(-1, 1, 5), spec=action)
""",
}


def report(text: str):
    return check_text(HEAD + text, "a.rlm")


def types(text: str) -> dict[str, str]:
    return {key.dotted: spec_text(key.spec) for key in report(text).keys}


def only_error(text: str, code: str):
    found = list(report(text).errors)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, span) -> str:
    """The source text a span covers (spans count from the start of the checked text)."""
    return (HEAD + text)[span.start:span.end]


# --- the descriptions --------------------------------------------------------------------------------
def test_every_kind_is_registered_with_its_runtime_class() -> None:
    registered = {kind.name for kind in KINDS}
    assert set(NAMES) <= registered
    assert lookup("DuelingMlpDQNet").runtime == "rldsl.modules.DuelingMlpDQNet"
    assert lookup("DistributionalDQNnet").family.value == "module"
    inner = lookup("DdpgMlpActor").param("mlp_net_kwargs")  # torchrl's dict, checked as MLP arguments
    assert (inner.type.name, inner.of, inner.fixed) == ("KWARGS", "MLP", ("out_features",))


@pytest.mark.parametrize("name", NAMES)
def test_parity_with_the_runtime_constructor(name: str) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name("test_kinds_parity.py")
    spec = importlib.util.spec_from_file_location("kinds_parity", path)
    parity = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(parity)
    parity.test_kind_matches_its_runtime_constructor(lookup(name))


# --- types -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_check_clean(name: str) -> None:
    found = report(MODELS[name])
    assert found.ok, [(d.code, d.message) for d in found.errors]


def test_the_checker_types_each_network() -> None:
    assert types(MODELS["dueling_vector"])["action_value"] == "f32[6]"
    assert types(MODELS["dueling_pixels"])["action_value"] == "f32[6]"
    vector = types(MODELS["ddpg_vector"])
    assert vector["raw_torque"] == "f32[2]" and vector["state_action_value"] == "f32[1]"
    pixels = types(MODELS["ddpg_pixels"])
    # 84 -> 20 -> 9 -> 9 (the last conv is padded): 64 * 9 * 9 features
    assert pixels["hidden"] == "f32[5184]" and pixels["state_action_value"] == "f32[1]"
    assert pixels["flat_value"] == "f32[1]"
    assert types("module p = DdpgCnnActor(3, use_avg_pooling=true) : pixels -> a, h\n")["h"] == "f32[64]"
    assert types(MODELS["distributional"])["action_value"] == "f32[5, 6] in [-inf, 0.0]"


def test_tuple_out_features_and_batch_dims() -> None:
    text = """\
dim n_agents = 3
key agents : f32[n_agents, 8]
module d = DuelingMlpDQNet((5, 6)) : agents -> values
key frames : f32[n_agents, 4, 84, 84]
key acts : f32[n_agents, 2]
module c = DdpgCnnQNet() : frames, acts -> q
"""
    found = types(text)
    assert found["values"] == "f32[n_agents, 5, 6]"
    assert found["q"] == "f32[n_agents, 1]"


def test_unknown_image_sizes_stay_symbolic() -> None:
    text = "dim side\nkey frames : f32[4, side, side]\nmodule p = DdpgCnnActor(2) : frames -> a, h\n"
    found = report(text)
    assert found.ok
    hidden = next(key.spec for key in found.keys if key.dotted == "h")
    assert "side" in str(hidden.shape[-1])


# --- diagnostics -------------------------------------------------------------------------------------
def test_e0425_value_width_at_the_argument() -> None:
    text = "actor q = QValueActor(DuelingMlpDQNet(6, out_features_value=4), in=[observation], spec=action)\n"
    diagnostic = only_error(text, "E0425")
    assert spanned(text, diagnostic.span) == "4"
    assert "neither 1 nor 6" in diagnostic.label
    assert report(text.replace("=4", "=6")).ok
    pixels = "actor q = QValueActor(DuelingCnnDQNet(6, out_features_value=2), in=[pixels], spec=action)\n"
    assert spanned(pixels, only_error(pixels, "E0425").span) == "2"


def test_e0420_image_too_small_at_the_network() -> None:
    text = "actor q = QValueActor(DuelingCnnDQNet(6), in=[small], spec=action)\n"
    diagnostic = only_error(text, "E0420")  # the inner ConvNet's rule, at the network (no `cnn_kwargs` given)
    assert spanned(text, diagnostic.span) == "DuelingCnnDQNet"
    assert "(2 + 2*0 - 3) // 1 + 1 = 0" in diagnostic.label
    assert "30 -> 6 -> 2" in diagnostic.help and "at least 36" in diagnostic.help
    ddpg = "module p = DdpgCnnActor(2) : small -> a, h\n"  # DDPG's padded kernels reach 20 pixels
    assert report(ddpg).ok
    tiny = "key tiny : f32[3, 16, 16]\nmodule p = DdpgCnnActor(2) : tiny -> a, h\n"
    assert "at least 20" in only_error(tiny, "E0420").help


def test_e0422_and_e0503_on_pixel_inputs() -> None:
    flat = "actor q = QValueActor(DuelingCnnDQNet(6), in=[observation], spec=action)\n"
    diagnostic = only_error(flat, "E0422")
    assert spanned(flat, diagnostic.span) == "DuelingCnnDQNet(6)"
    raw = "module p = DdpgCnnActor(2) : bytes -> a, h\n"
    diagnostic = only_error(raw, "E0503")
    assert "ToTensorImage" in diagnostic.help and spanned(raw, diagnostic.span) == "DdpgCnnActor(2)"


def test_e0407_wrong_number_of_inputs() -> None:
    text = "value c = ValueOperator(DdpgMlpQNet(), in=[observation])\n"
    diagnostic = only_error(text, "E0407")
    assert spanned(text, diagnostic.span) == "DdpgMlpQNet()"
    assert "an observation and an action" in diagnostic.message
    two = "module a = DdpgMlpActor(2) : observation, torque -> raw\n"
    assert "one observation vector" in only_error(two, "E0407").message


def test_e0401_observation_and_action_batch_dims() -> None:
    text = "dim n = 3\nkey many : f32[n, 2]\nvalue c = ValueOperator(DdpgMlpQNet(), in=[observation, many])\n"
    diagnostic = only_error(text, "E0401")
    assert "the batch dims differ" in diagnostic.label


def test_e0305_the_pixel_actor_writes_two_keys() -> None:
    text = "module p = DdpgCnnActor(2) : pixels -> a\n"
    assert only_error(text, "E0305")


def test_e0606_positive_sizes() -> None:
    text = "module a = DdpgMlpActor(0) : observation -> raw\n"
    diagnostic = only_error(text, "E0606")
    assert spanned(text, diagnostic.span) == "0"


def test_distributional_dqnnet_diagnostics() -> None:
    vector = "module n = DistributionalDQNnet(in=[observation], out=[lp])\n"
    diagnostic = only_error(vector, "E0404")
    assert spanned(vector, diagnostic.span) == "observation"
    pairs = "module n = DistributionalDQNnet(in=[observation, pixels], out=[lp])\n"
    diagnostic = only_error(pairs, "E0305")
    assert spanned(pairs, diagnostic.span) == "[lp]"
    empty = "module n = DistributionalDQNnet(in=[], out=[])\n"
    assert spanned(empty, only_error(empty, "E0606").span) == "[]"
    ints = "key counts : i64[5, 6]\nmodule n = DistributionalDQNnet(in=[counts], out=[lp])\n"
    assert only_error(ints, "E0503")


def test_a_raw_head_still_needs_the_log_softmax() -> None:
    text = """\
module head = MLP(out_features=(5, 6)) : observation -> logits
actor q = DistributionalQValueModule(support=linspace(-1, 1, 5), spec=action, action_value_key=logits)
"""
    assert only_error(text, "E0710")


# --- compiled ----------------------------------------------------------------------------------------
def _compiled_network(program: rldsl.Program, name: str, cls: type) -> nn.Module:
    found = [m for m in program[name].modules() if isinstance(m, cls)]
    assert len(found) == 1, (name, cls)
    return found[0]


def test_the_compiled_dueling_q_actors() -> None:
    program = rldsl.compile(HEAD + MODELS["dueling_vector"], seed=0)
    net = _compiled_network(program, "q", DuelingMlpDQNet)
    assert net.features[0].in_features == 8  # sized when compiling: nothing left lazy
    assert list(net.state_dict())[:2] == ["features.0.weight", "features.0.bias"]
    td = program.spec_random_input("q", (5,))
    out = program["q"](td)
    assert out["action_value"].shape == (5, 6) and out["action"].shape == (5, 6)
    values = out["action_value"]
    hidden = net.features(td["observation"])
    torch.testing.assert_close(values.mean(-1, keepdim=True), net.value(hidden))

    pixels = rldsl.compile(HEAD + MODELS["dueling_pixels"], seed=0)
    cnn = _compiled_network(pixels, "q", DuelingCnnDQNet)
    assert cnn.features[0].in_channels == 4 and cnn.advantage[0].in_features == 3136
    assert pixels["q"](pixels.spec_random_input("q", (2,)))["action_value"].shape == (2, 6)


def test_the_compiled_ddpg_networks() -> None:
    program = rldsl.compile(HEAD + MODELS["ddpg_vector"], seed=0)
    actor = _compiled_network(program, "policy", DdpgMlpActor)
    assert actor.mlp[0].in_features == 8
    assert actor.mlp[4].weight.abs().max() <= 3e-3
    critic = _compiled_network(program, "critic", DdpgMlpQNet)
    assert critic.mlp2[0].in_features == 402
    td = program.spec_random_input("critic", (3,))
    assert program["critic"](td)["state_action_value"].shape == (3, 1)
    assert sum(p.numel() for p in critic.parameters()) == (8 * 400 + 400) + (402 * 300 + 300) + (300 + 1)

    pixels = rldsl.compile(HEAD + MODELS["ddpg_pixels"], seed=0)
    cnn_actor = _compiled_network(pixels, "policy", DdpgCnnActor)
    assert cnn_actor.mlp[0].in_features == 5184
    out = pixels["policy"](pixels.spec_random_input("policy", (2,)))
    assert out["hidden"].shape == (2, 5184) and out["torque"].shape == (2, 2)
    assert (out["torque"].abs() <= 1).all()
    cnn_critic = _compiled_network(pixels, "critic", DdpgCnnQNet)
    assert cnn_critic.mlp[0].in_features == 130


def test_the_compiled_distributional_heads_give_log_probabilities() -> None:
    for name in ("distributional", "distributional_in_place"):
        program = rldsl.compile(HEAD + MODELS[name], seed=0)
        assert any(isinstance(m, DistributionalDQNnet) for module in program.values() for m in module.modules())
        if name == "distributional":
            td = program.spec_random_input("head", (4,))
            for module in ("head", "norm", "q"):
                td = program[module](td)
        else:
            td = program["q"](program.spec_random_input("q", (4,)))
        torch.testing.assert_close(td["action_value"].exp().sum(-2), torch.ones(4, 6))
        assert td["action"].shape == (4, 6)


def test_compiling_is_seeded() -> None:
    first = rldsl.compile(HEAD + MODELS["ddpg_vector"], seed=3)["critic"].state_dict()
    second = rldsl.compile(HEAD + MODELS["ddpg_vector"], seed=3)["critic"].state_dict()
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_an_artifact_round_trip(tmp_path) -> None:
    source = tmp_path / "ddpg.rlm"
    source.write_text(HEAD + MODELS["ddpg_vector"] + MODELS["dueling_vector"])
    path = tmp_path / "ddpg.rlmz"
    save(path, source, seed=1)
    loaded = rldsl.load(path)
    original = rldsl.compile(source, seed=1)
    for name in ("policy", "critic", "q"):
        saved = loaded[name].state_dict()
        assert all(torch.equal(saved[k], v) for k, v in original[name].state_dict().items())


# --- the checker's shapes, confirmed on the meta device ----------------------------------------------
BATCH = (4,)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_meta_run_matches_the_checked_specs(name: str) -> None:
    program = rldsl.compile(HEAD + MODELS[name], device="meta")
    for module in program.values():
        assert all(p.is_meta for p in module.parameters())
    for declared in program:
        td = program.spec_random_input(declared, BATCH)
        out = program[declared](td)
        for key in program.writes(declared):
            static = program.static_spec(key)
            value = out.get(key)
            assert isinstance(value, torch.Tensor) and value.is_meta
            assert tuple(value.shape) == (*BATCH, *shape_of(static.shape)), (name, key, value.shape, static)
            assert value.dtype == torch_dtype(static.dtype), (name, key)


def test_meta_parameter_count_equals_the_real_one() -> None:
    from rldsl.compiler.limits import count_parameters

    for name in sorted(MODELS):
        checked = report(MODELS[name])
        program = rldsl.compile(HEAD + MODELS[name])
        nodes = dict(checked.modules)
        key_specs = {info.path: info.spec for info in checked.keys}
        counted = count_parameters(nodes, key_specs, checked.network_inputs)
        assert counted.modules == {n: sum(p.numel() for p in program[n].parameters()) for n in program}, name


def test_runtime_forward_contracts_used_by_the_compiler() -> None:
    """What the compiled modules call: forward(observation, action) and a pair from the pixel actor."""
    critic = DdpgCnnQNet()
    assert critic(torch.rand(2, 4, 84, 84), torch.rand(2, 2)).shape == (2, 1)
    action, hidden = DdpgCnnActor(2)(torch.rand(2, 4, 84, 84))
    assert action.shape == (2, 2) and hidden.shape == (2, 5184)
    td = TensorDict({"x": torch.randn(3, 5, 6)}, [3])
    assert DistributionalDQNnet(in_keys=["x"], out_keys=["y"])(td)["y"].shape == (3, 5, 6)
