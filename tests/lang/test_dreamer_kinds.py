"""Dreamer's kinds in the language: ObsEncoder, ObsDecoder, RSSMPrior, RSSMPosterior, DreamerActor
(networks), RSSMRollout and WorldModelWrapper (modules). Each is typed in small models, every
diagnostic of their rules is pinned by code and span, and the compiled modules' outputs have the
checked shapes on cpu and on ``device="meta"``, the rollout over a time dim included."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from tensordict import TensorDict
from torch import nn

import rldsl
from rldsl.compiler.specs import shape_of, torch_dtype
from rldsl.lang.check import check_text
from rldsl.lang.kinds import KINDS, lookup
from rldsl.lang.types import spec_text
from rldsl.modules import ObsDecoder, ObsEncoder, RSSMPosterior, RSSMPrior, RSSMRollout, WorldModelWrapper

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "dreamer" / "world_model.rlm"
NAMES = ("ObsEncoder", "ObsDecoder", "RSSMPrior", "RSSMPosterior", "DreamerActor", "RSSMRollout",
         "WorldModelWrapper")

HEAD = """\
key pixels : f32[3, 64, 64] in [0.0, 1.0]
key gray : f32[1, 64, 64]
key small : f32[3, 45, 64]
key bytes : u8[3, 64, 64]
key state : f32[30]
key belief : f32[200]
key action : f32[6] in [-1.0, 1.0]
key torque : f32[2] in [-1.0, 1.0]
key embed : f32[1024]
key wide : f32[64]
key next : { pixels: f32[3, 64, 64] in [0.0, 1.0] }
"""

#: The RSSM wired as torchrl's Dreamer recipe wires it (the prior's sample kept in `_prior_state`).
RSSM = """\
module prior = RSSMPrior(action) : state, belief, action -> next.prior_mean, next.prior_std, _prior_state, next.belief
module posterior = RSSMPosterior()
                 : next.belief, next.encoded_latents -> next.posterior_mean, next.posterior_std, next.state
module encode = ObsEncoder() : next.pixels -> next.encoded_latents
module rssm = RSSMRollout(prior, posterior)
"""

#: Small models that use every kind (each checks clean and compiles).
MODELS = {
    "encoder": "module e = ObsEncoder() : pixels -> z\nmodule g = ObsEncoder(channels=16, num_layers=3) : gray -> zg\n",
    "decoder": "module d = ObsDecoder() : state, belief -> image\n"
               "module d3 = ObsDecoder(num_layers=3, out_channels=1) : state, belief -> image3\n"
               "module d2 = ObsDecoder(num_layers=2, kernel_sizes=[4, 4], latent_dim=230) : state, belief -> image2\n",
    "prior": "module p = RSSMPrior(action) : state, belief, action -> mean, std, sample, next_belief\n",
    "posterior": "module q = RSSMPosterior(rnn_hidden_dim=200, obs_embed_dim=1024) : belief, embed -> mean, std, post\n"
                 "module lazy = RSSMPosterior(hidden_dim=64, state_dim=8) : belief, embed -> m8, s8, post8\n",
    "actor": "module a = DreamerActor(action.shape[-1], depth=2, num_cells=64) : state, belief -> loc, scale\n",
    "rollout": RSSM,
    "world_model": RSSM + """\
module decode = ObsDecoder() : next.state, next.belief -> next.reco_pixels
module transition = encode >> rssm >> decode
module reward = MLP(out_features=1, num_cells=[64]) : next.state, next.belief -> next.reward
module world = WorldModelWrapper(transition, reward)
""",
}


def report(text: str):
    return check_text(HEAD + text, "a.rlm")


def types(text: str) -> dict[str, str]:
    found = report(text)
    assert found.ok, [(d.code, d.message) for d in found.errors]
    return {key.dotted: spec_text(key.spec) for key in found.keys}


def only_error(text: str, code: str):
    found = list(report(text).errors)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, span) -> str:
    """The source text a span covers (spans count from the start of the checked text)."""
    return (HEAD + text)[span.start:span.end]


# --- the descriptions --------------------------------------------------------------------------------
def test_every_kind_is_registered_with_its_runtime_class() -> None:
    registered = {kind.name: kind for kind in KINDS}
    for name in NAMES:
        assert registered[name].runtime == f"rldsl.modules.{name}"
    assert {lookup(n).family.value for n in NAMES[:5]} == {"network"}
    assert {lookup(n).family.value for n in NAMES[5:]} == {"module"}
    assert lookup("ObsEncoder").input_dim == -3  # in_channels: the image's channels
    assert lookup("RSSMPrior").param("action_spec").type.name == "SPEC"


@pytest.mark.parametrize("name", NAMES)
def test_parity_with_the_runtime_constructor(name: str) -> None:
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
    if name in ("rollout", "world_model"):  # the others leave outputs unread (W0301)
        assert not found.warnings, [(d.code, d.message) for d in found.warnings]


def test_the_encoder_follows_the_conv_rule() -> None:
    found = types(MODELS["encoder"])
    assert found["z"] == "f32[1024]"  # 64 -> 31 -> 14 -> 6 -> 2: 256 * 2 * 2
    assert found["zg"] == "f32[2304]"  # 3 layers of 16, 32, 64 channels: 64 -> 31 -> 14 -> 6, 64 * 6 * 6
    assert types("key just : f32[3, 46, 46]\nmodule e = ObsEncoder() : just -> z\n")["z"] == "f32[256]"
    batched = "dim n = 2\nkey frames : f32[n, 5, 3, 64, 64]\nmodule e = ObsEncoder() : frames -> z\n"
    assert types(batched)["z"] == "f32[n, 5, 1024]"
    symbolic = "dim side\nkey frames : f32[3, side, side]\nmodule e = ObsEncoder() : frames -> z\n"
    assert "side" in types(symbolic)["z"]


def test_the_decoder_gives_images() -> None:
    found = types(MODELS["decoder"])
    assert found["image"] == "f32[3, 64, 64]"  # 1 -> 5 -> 13 -> 30 -> 64
    assert found["image3"] == "f32[1, 29, 29]"  # kernels 5, 5, 5: 1 -> 5 -> 13 -> 29
    assert found["image2"] == "f32[3, 10, 10]"  # kernels 4, 4: 1 -> 4 -> 10


def test_the_rssm_networks() -> None:
    prior = types(MODELS["prior"])
    assert (prior["mean"], prior["std"], prior["sample"], prior["next_belief"]) == (
        "f32[30]", "f32[30] in [0.1, inf]", "f32[30]", "f32[200]")
    posterior = types(MODELS["posterior"])
    assert (posterior["mean"], posterior["std"], posterior["post"]) == ("f32[30]", "f32[30] in [0.1, inf]", "f32[30]")
    assert posterior["post8"] == "f32[8]"
    sized = "key s8 : f32[8]\nkey h16 : f32[16]\n" \
            "module p = RSSMPrior(torque, state_dim=8, rnn_hidden_dim=16, scale_lb=0.5)\n" \
            "         : s8, h16, torque -> m, s, x, b\n"
    found = types(sized)
    assert (found["s"], found["b"]) == ("f32[8] in [0.5, inf]", "f32[16]")


def test_the_actor_gives_a_positive_scale() -> None:
    found = types(MODELS["actor"])
    assert (found["loc"], found["scale"]) == ("f32[6]", "f32[6] in [0.0001, inf]")


def test_the_rollout_writes_what_its_modules_write() -> None:
    found = types(MODELS["rollout"])
    assert found["next.state"] == "f32[30]" and found["next.belief"] == "f32[200]"
    assert found["next.encoded_latents"] == "f32[1024]"
    rollout = dict(report(MODELS["rollout"]).modules)["rssm"]
    assert [ref.dotted for ref in rollout.reads] == ["state", "belief", "action", "next.encoded_latents"]
    assert [ref.dotted for ref in rollout.writes] == [
        "next.prior_mean", "next.prior_std", "_prior_state", "next.belief", "next.posterior_mean",
        "next.posterior_std", "next.state"]
    world = dict(report(MODELS["world_model"]).modules)["world"]
    assert {ref.dotted for ref in world.reads} == {"next.pixels", "state", "belief", "action"}
    assert types(MODELS["world_model"])["next.reward"] == "f32[1]"


# --- diagnostics -------------------------------------------------------------------------------------
def test_e0450_image_too_small_for_the_encoder() -> None:
    text = "module e = ObsEncoder() : small -> z\n"
    diagnostic = only_error(text, "E0450")
    assert spanned(text, diagnostic.span) == "ObsEncoder"  # `num_layers` left out: the call's name
    assert "45 -> 21 -> 9 -> 3 -> 0" in diagnostic.help and "46" in diagnostic.help
    given = "module e = ObsEncoder(num_layers=5) : pixels -> z\n"  # 64 -> 31 -> 14 -> 6 -> 2 -> 0
    diagnostic = only_error(given, "E0450")
    assert spanned(given, diagnostic.span) == "5" and "94x94" in diagnostic.label
    assert report("module e = ObsEncoder(num_layers=3) : small -> z\n").ok


def test_e0451_state_and_belief_widths() -> None:
    text = "module p = RSSMPrior(action, state_dim=30) : wide, belief, action -> a, b, c, d\n"
    diagnostic = only_error(text, "E0451")
    assert spanned(text, diagnostic.span) == "30" and "`wide` is f32[64]" in diagnostic.label
    default = "module p = RSSMPrior(action) : state, wide, action -> a, b, c, d\n"
    assert spanned(default, only_error(default, "E0451").span) == "RSSMPrior"  # rnn_hidden_dim=200 left out
    posterior = "module q = RSSMPosterior(rnn_hidden_dim=64) : belief, embed -> a, b, c\n"
    assert spanned(posterior, only_error(posterior, "E0451").span) == "64"


def test_e0452_action_and_action_spec() -> None:
    text = "module p = RSSMPrior(action) : state, belief, torque -> a, b, c, d\n"
    diagnostic = only_error(text, "E0452")
    assert spanned(text, diagnostic.span) == "action" and "RSSMPrior(torque)" in diagnostic.help
    dim = "module p = RSSMPrior(action, action_dim=4) : state, belief, action -> a, b, c, d\n"
    assert spanned(dim, only_error(dim, "E0452").span) == "4"
    composite = "module p = RSSMPrior(next) : state, belief, action -> a, b, c, d\n"
    assert "composite" in only_error(composite, "E0452").message
    scalar = "key s : f32[]\nmodule p = RSSMPrior(s) : state, belief, action -> a, b, c, d\n"
    assert "scalar" in only_error(scalar, "E0452").message


def test_e0453_a_carried_key_keeps_its_spec() -> None:
    text = """\
key z : f32[32]
module p = RSSMPrior(action, state_dim=32) : z, belief, action -> next.m, next.s, _x, next.belief
module q = RSSMPosterior() : next.belief, embed -> next.pm, next.ps, next.z
module r = RSSMRollout(p, q)
"""
    diagnostic = only_error(text, "E0453")
    assert spanned(text, diagnostic.span) == "z"  # where the prior reads it
    assert [spanned(text, label.span) for label in diagnostic.labels] == ["next.z"]
    assert "f32[30]" in diagnostic.message and "f32[32]" in diagnostic.message
    assert report(text.replace("RSSMPosterior()", "RSSMPosterior(state_dim=32)")).ok


def test_e0454_a_rollout_carries_something() -> None:
    text = """\
module p = RSSMPrior(action) : state, belief, action -> a, b, c, belief_out
module q = RSSMPosterior() : belief_out, embed -> qm, qs, state_out
module r = RSSMRollout(p, q)
"""
    diagnostic = only_error(text, "E0454")
    assert spanned(text, diagnostic.span) == "p"
    assert [spanned(text, label.span) for label in diagnostic.labels] == ["q"]


def test_e0406_size_arguments_against_the_inputs() -> None:
    channels = "module e = ObsEncoder(in_channels=1) : pixels -> z\n"
    assert spanned(channels, only_error(channels, "E0406").span) == "1"
    latent = "module d = ObsDecoder(latent_dim=200) : state, belief -> image\n"
    assert spanned(latent, only_error(latent, "E0406").span) == "200"
    embedding = "module q = RSSMPosterior(obs_embed_dim=512) : belief, embed -> a, b, c\n"
    assert spanned(embedding, only_error(embedding, "E0406").span) == "512"


def test_inputs_count_dtype_and_rank() -> None:
    assert "a state and a belief" in only_error("module a = DreamerActor(6) : state -> l, s\n", "E0407").message
    assert only_error("module p = RSSMPrior(action) : state, belief -> a, b, c, d\n", "E0407")
    assert "ToTensorImage" in only_error("module e = ObsEncoder() : bytes -> z\n", "E0503").help
    assert only_error("module e = ObsEncoder() : state -> z\n", "E0422")
    scalar = "key s : f32[]\nmodule d = ObsDecoder() : s, belief -> image\n"
    assert "scalar" in only_error(scalar, "E0401").message
    batch = "dim n = 3\nkey many : f32[n, 200]\nmodule a = DreamerActor(6) : state, many -> l, s\n"
    assert only_error(batch, "E0401")


def test_e0606_e0421_argument_values() -> None:
    cases = {
        "module d = ObsDecoder(num_layers=1) : state, belief -> image\n": "1",
        "module e = ObsEncoder(channels=0) : pixels -> z\n": "0",
        "dim n\nmodule e = ObsEncoder(num_layers=n) : pixels -> z\n": "n",
        "module a = DreamerActor(6, std_bias=0.0) : state, belief -> l, s\n": "0.0",
        "module a = DreamerActor(6, std_min_val=-1.0) : state, belief -> l, s\n": "-1.0",
        "module q = RSSMPosterior(scale_lb=-0.5) : belief, embed -> a, b, c\n": "-0.5",
        "module p = RSSMPrior(action, state_dim=0) : state, belief, action -> a, b, c, d\n": "0",
    }
    for text, at in cases.items():
        assert spanned(text, only_error(text, "E0606").span) == at, text
    kernels = "module d = ObsDecoder(num_layers=3, kernel_sizes=[5, 5]) : state, belief -> image\n"
    diagnostic = only_error(kernels, "E0421")
    assert spanned(kernels, diagnostic.span) == "[5, 5]" and "3 layers" in diagnostic.message


def test_e0607_the_rollout_takes_modules() -> None:
    text = "module pn = RSSMPrior(action)\nmodule qn = RSSMPosterior()\nmodule r = RSSMRollout(pn, qn)\n"
    found = list(report(text).errors)
    assert [d.code for d in found] == ["E0607", "E0607"]
    assert [spanned(text, d.span) for d in found] == ["pn", "qn"]


# --- compiled ----------------------------------------------------------------------------------------
def _only(program: rldsl.Program, name: str, cls: type) -> nn.Module:
    found = [m for m in program[name].modules() if isinstance(m, cls)]
    assert len(found) == 1, (name, cls)
    return found[0]


def test_compiled_networks_are_sized_by_the_checker() -> None:
    encoder = _only(rldsl.compile(HEAD + MODELS["encoder"], seed=0), "g", ObsEncoder)
    assert encoder.encoder[0].in_channels == 1  # not lazy: the checker knows the channels
    decoder = _only(rldsl.compile(HEAD + MODELS["decoder"], seed=0), "d", ObsDecoder)
    assert decoder.state_to_latent[0].in_features == 230
    prior = _only(rldsl.compile(HEAD + MODELS["prior"], seed=0), "p", RSSMPrior)
    assert prior.action_state_projector[0].in_features == 36  # action_dim from the action spec
    assert prior.action_shape == (6,)
    assert list(prior.state_dict()) == list(RSSMPrior(ACTION_SPEC, action_dim=6).state_dict())


ACTION_SPEC = rldsl.specs.Bounded(-1.0, 1.0, shape=(6,))


def _run_checks(program: rldsl.Program, batch: tuple[int, ...], label: str) -> None:
    """Every declared module, on random input of ``batch``, writes what the checker says."""
    for name in program:
        out = program[name](program.spec_random_input(name, batch))
        for key in program.writes(name):
            static = program.static_spec(key)
            value = out.get(key)
            assert isinstance(value, torch.Tensor), (label, name, key)
            assert tuple(value.shape) == (*batch, *shape_of(static.shape)), (label, name, key, value.shape)
            assert value.dtype == torch_dtype(static.dtype), (label, name, key)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiled_outputs_have_the_checked_shapes(name: str) -> None:
    _run_checks(rldsl.compile(HEAD + MODELS[name], seed=0), (3,), name)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_meta_run_matches_the_checked_specs(name: str) -> None:
    program = rldsl.compile(HEAD + MODELS[name], device="meta")
    for module in program.values():
        assert all(p.is_meta for p in module.parameters())
    _run_checks(program, (4,), name)


def test_the_compiled_rollout_runs_over_the_time_dim() -> None:
    program = rldsl.compile(HEAD + MODELS["world_model"], seed=0)
    rollout = program["rssm"]
    assert isinstance(_only(program, "rssm", RSSMRollout), RSSMRollout)
    assert isinstance(_only(program, "world", WorldModelWrapper), WorldModelWrapper)
    assert list(_only(program, "rssm", RSSMRollout).state_dict())[0] == "rssm_prior.module.rnn.weight_ih"
    batch, steps = 2, 5
    torch.manual_seed(0)
    td = program.spec_random_input("world", (batch, steps))
    out = program["world"](td)
    assert out.batch_size == (batch, steps)
    for key in program.writes("world"):
        static = program.static_spec(key)
        assert tuple(out.get(key).shape) == (batch, steps, *shape_of(static.shape)), key
    # each step starts from the previous step's posterior state and belief
    torch.testing.assert_close(out["state"][:, 1:], out["next", "state"][:, :-1])
    torch.testing.assert_close(out["belief"][:, 1:], out["next", "belief"][:, :-1])
    torch.testing.assert_close(out["state"][:, 0], td["state"][:, 0])
    assert rollout is not None


def test_the_rollout_needs_a_time_dim() -> None:
    program = rldsl.compile(HEAD + MODELS["rollout"], seed=0)
    module = _only(program, "rssm", RSSMRollout)
    td = program.spec_random_input("rssm", (3,))
    with pytest.raises(ValueError, match="time dim"):
        module(TensorDict({k: v[0] for k, v in td.items(include_nested=True, leaves_only=True)}, []))


# --- the example -------------------------------------------------------------------------------------
def test_the_example_types_dreamer_with_torchrls_sizes() -> None:
    found = rldsl.check(EXAMPLE)
    assert found.ok and not found.warnings
    specs = {key.dotted: spec_text(key.spec) for key in found.keys}
    assert specs["next.encoded_latents"] == "f32[1024]" and specs["encoded_latents"] == "f32[1024]"
    assert specs["next.state"] == "f32[30]" and specs["next.belief"] == "f32[200]"
    assert specs["next.reco_pixels"] == "f32[3, 64, 64]" and specs["next.reward"] == "f32[1]"
    assert specs["scale"] == "f32[6] in [0.0001, inf]"


def test_the_example_world_model_over_a_time_dim_on_meta() -> None:
    program = rldsl.compile(EXAMPLE, device="meta")
    td = program.spec_random_input("world_model", (2, 5))
    out = program["world_model"](td)
    for key in program.writes("world_model"):
        static = program.static_spec(key)
        assert tuple(out.get(key).shape) == (2, 5, *shape_of(static.shape)), key
        assert out.get(key).is_meta


def test_the_example_policy_acts_in_bounds_and_shares_the_world_models_networks() -> None:
    program = rldsl.compile(EXAMPLE, seed=0)
    out = program["policy"](program.spec_random_input("policy", (3,)))
    assert out["action"].shape == (3, 6) and bool((out["action"].abs() <= 1).all())
    assert out["next", "belief"].shape == (3, 200) and out["state"].shape == (3, 30)
    # one set of weights: the posterior the policy infers its state with is the world model's
    shared = {id(m) for m in program["policy"].modules()} & {id(m) for m in program["world_model"].modules()}
    assert {type(m).__name__ for m in program["world_model"].modules() if id(m) in shared} >= {
        "ObsEncoder", "RSSMPrior", "RSSMPosterior"}
