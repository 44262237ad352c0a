"""Wrapper kinds in the language: `VmapModule` around a module, the Q-value forward hooks
(`QValueHook`, `DistributionalQValueHook`) on the network before them, and `LogSoftmax`.

Their type rules and diagnostics (E0440, E0403, E0404, E0407, E0503, E0603, E0606, E0607, E0710),
the compiled modules against the runtime classes used by hand as torchrl users write them, and
state_dict names equal to torchrl's (a hook adds no parameters and no prefix)."""

from __future__ import annotations

import pytest
import torch
from tensordict import TensorDict
from tensordict.nn import TensorDictModule

import rldsl
from rldsl.lang.check import check_text
from rldsl.modules import (MLP, DistributionalQValueHook, DistributionalQValueModule, QValueHook, QValueModule,
                           VmapModule)

HEAD = "key observation : f32[3]\nkey action : onehot(4)\n"
Q = "module q = QValueActor(MLP(out_features=4, num_cells=[8]), spec=action)\n"
HOOKED = ("actor q = Actor(MLP(out_features=4) >> QValueHook(\"one_hot\"), "
          "out=[action, action_value, chosen_action_value])\n")
LOG_P = "MLP(out_features=(51, 4), num_cells=[16]) >> LogSoftmax(dim=-2)"
SUPPORT = "support=linspace(-10, 10, 51)"


def check(text: str):
    return check_text(HEAD + text, "a.rlm")


def only(text: str, code: str):
    found = check(text).errors
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, diagnostic) -> str:
    return (HEAD + text)[diagnostic.span.start:diagnostic.span.end]


def batch(*shape: int, **entries: torch.Tensor) -> TensorDict:
    return TensorDict({"observation": torch.randn(*shape, 3), **entries}, batch_size=list(shape))


# --- VmapModule ------------------------------------------------------------------------------------------------


def test_a_vmapped_module_has_the_specs_of_the_module_it_maps() -> None:
    report = check(Q + "actor v = VmapModule(q)\n")
    assert report.ok, report.render()
    plain = check(Q)
    assert report.types == plain.types
    assert report.types["action"] == "onehot(4)" and report.types["chosen_action_value"] == "f32[1]"


def test_a_vmapped_module_compiles_to_vmap_module_and_maps_over_a_batch_dim() -> None:
    program = rldsl.compile(HEAD + Q + "actor v = VmapModule(q, 0, randomness=\"same\")\n", seed=1)
    vmapped = program["v"]
    assert isinstance(vmapped, VmapModule) and vmapped.module is program["q"]
    assert (vmapped.vmap_dim, vmapped.mock, vmapped.randomness) == (0, False, "same")
    assert list(vmapped.state_dict()) == ["module." + name for name in program["q"].state_dict()]
    data = batch(2, 5)
    mapped = vmapped(data.clone())
    direct = program["q"](data.clone())
    torch.testing.assert_close(mapped["action_value"], direct["action_value"])
    assert torch.equal(mapped["action"], direct["action"]) and mapped["action"].shape == (2, 5, 4)


def test_mock_loops_over_the_slices_like_vmap() -> None:
    program = rldsl.compile(HEAD + Q + "actor v = VmapModule(q, mock=true)\n")
    assert program["v"].mock is True
    data = batch(3, 2)
    torch.testing.assert_close(program["v"](data.clone())["action_value"], program["q"](data.clone())["action_value"])


def test_a_vmapped_network_must_have_keys() -> None:
    found = only("actor v = VmapModule(MLP(out_features=4))\n", "E0607")
    assert "must be a module (with keys)" in found.message


RANDOM = {
    "exploration": Q + "explore e = VmapModule(EGreedyModule(q, spec=action){extra})\n",
    "sampled": "module p = MLP(out_features=2) >> NormalParamExtractor() : observation -> loc, scale\n"
               "key act : f32[1] in [-1.0, 1.0]\n"
               "actor a = VmapModule(ProbabilisticActor(p, in=[loc, scale], out=[act], dist=TanhNormal(), "
               "default_interaction_type=\"random\"){extra})\n",
    "dropout": "module d = MLP(out_features=2, num_cells=[8], dropout=0.5) : observation -> h\n"
               "module v = VmapModule(d{extra})\n",
    "dropout_layer": "module d = MLP(out_features=2) >> ConsistentDropout(0.5) : observation -> h\n"
                     "module v = VmapModule(d{extra})\n",
}


@pytest.mark.parametrize("case", sorted(RANDOM))
def test_a_random_draw_under_vmap_error_mode_is_a_diagnostic(case: str) -> None:
    text = RANDOM[case].format(extra="")
    found = only(text, "E0440")
    assert "randomness=\"error\"" in found.message and 'randomness="different"' in found.help
    assert spanned(text, found).split("(")[0] in ("EGreedyModule", "ProbabilisticActor", "d")


@pytest.mark.parametrize("extra", [', randomness="different"', ', randomness="same"', ", mock=true"])
@pytest.mark.parametrize("case", sorted(RANDOM))
def test_randomness_or_mock_allows_random_draws(case: str, extra: str) -> None:
    report = check(RANDOM[case].format(extra=extra))
    assert report.ok, report.render()


@pytest.mark.filterwarnings("ignore:There is a performance drop:UserWarning")  # torch's vmap fallback for scatter_
def test_an_exploration_module_vmapped_with_different_randomness_runs() -> None:
    program = rldsl.compile(HEAD + RANDOM["exploration"].format(extra=', randomness="different"'))
    out = program["e"](batch(4, 2))
    assert out["action"].shape == (4, 2, 4) and bool((out["action"].sum(-1) == 1).all())


def test_vmap_arguments_are_checked() -> None:
    found = only(Q + 'actor v = VmapModule(q, randomness="random")\n', "E0606")
    assert "randomness" in found.message
    only(Q + "actor v = VmapModule(q, 1.5)\n", "E0604")


# --- QValueHook ------------------------------------------------------------------------------------------------


def test_a_hooked_network_writes_the_action_the_values_and_the_chosen_value() -> None:
    report = check(HOOKED)
    assert report.ok, report.render()
    assert report.types["action_value"] == "f32[4]" and report.types["chosen_action_value"] == "f32[1]"


@pytest.mark.parametrize("space,extra,action", [
    ("one_hot", "", "onehot(4)"),
    ("categorical", "", "categorical(4)"),
    ("mult_one_hot", ", var_nums=[3, 1]", "multionehot([3, 1])"),
    ("multi_categorical", ", var_nums=2", "multicategorical([2, 2])"),
    ("binary", "", "binary(2, dtype=i64)"),
])
def test_the_hook_encodes_the_action_of_each_space(space: str, extra: str, action: str) -> None:
    text = f'module q = MLP(out_features=4) >> QValueHook("{space}"{extra}) : observation -> a, values, chosen\n'
    report = check(text)
    assert report.ok, report.render()
    assert report.types["a"] == action and report.types["chosen"] == "f32[1]"
    program = rldsl.compile(HEAD + text)
    out = program["q"](batch(5))
    assert out["a"].dtype == torch.int64 and out["values"].shape == (5, 4)
    values = program["q"].module.forward(out["observation"])  # forward() itself runs no hook
    sizes = [3, 1] if space == "mult_one_hot" else 2 if space == "multi_categorical" else None
    expected = QValueModule(space, var_nums=sizes)(values)
    assert torch.equal(out["a"], expected[0]) and torch.equal(out["chosen"], expected[2])


def test_the_hook_is_registered_on_the_network_and_keeps_torchrl_parameter_names() -> None:
    program = rldsl.compile(HEAD + HOOKED, seed=3)
    net = program["q"].module
    assert isinstance(net, MLP) and [type(h) for h in net._forward_hooks.values()] == [QValueHook]
    assert list(program["q"].state_dict()) == ["module.0.weight", "module.0.bias"]
    # the torchrl way: a network with the hook registered, in an Actor with three out keys
    by_hand = MLP(in_features=3, out_features=4)
    by_hand.load_state_dict(net.state_dict())
    by_hand.register_forward_hook(QValueHook("one_hot"))
    actor = TensorDictModule(by_hand, ["observation"], ["action", "action_value", "chosen_action_value"])
    data = batch(6)
    ours, theirs = program["q"](data.clone()), actor(data.clone())
    for key in ("action", "action_value", "chosen_action_value"):
        torch.testing.assert_close(ours[key], theirs[key])


def test_the_hook_after_several_stages_is_registered_on_their_sequence() -> None:
    text = "module q = MLP(out_features=4) >> Tanh() >> QValueHook(\"categorical\") : observation -> a, v, c\n"
    program = rldsl.compile(HEAD + text)
    net = program["q"].module
    assert isinstance(net, torch.nn.Sequential) and len(net) == 2 and len(net._forward_hooks) == 1
    assert list(net.state_dict()) == ["0.0.weight", "0.0.bias"]
    assert bool((program["q"](batch(3))["v"].abs() <= 1).all())


def test_a_hook_alone_is_registered_on_an_identity() -> None:
    text = "key values : f32[4]\nmodule g = QValueHook(\"categorical\") : values -> a, values, c\n"
    report = check(text)
    assert report.ok, report.render()
    program = rldsl.compile(HEAD + text)
    assert isinstance(program["g"].module, torch.nn.Identity)
    out = program["g"](TensorDict(values=torch.tensor([[0.0, 2.0, 1.0, -1.0]]), batch_size=[1]))
    assert out["a"].tolist() == [1] and out["c"].tolist() == [[2.0]]


def test_hook_outputs_land_in_declared_action_specs() -> None:
    report = check("actor q = Actor(MLP(out_features=3) >> QValueHook(\"one_hot\"), "
                   "out=[action, action_value, chosen_action_value])\n")
    assert [d.code for d in report.errors] == ["E0402"]  # three values for a onehot(4) action


def test_hook_argument_errors() -> None:
    text = 'module q = MLP(out_features=4) >> QValueHook("onehot") : observation -> a, v, c\n'
    found = only(text, "E0606")
    assert found.help == 'did you mean "one_hot"?' and spanned(text, found) == '"onehot"'
    found = only(text.replace('"onehot"', '"mult_one_hot"'), "E0603")
    assert "var_nums" in found.message
    found = only(text.replace('"onehot"', '"binary", var_nums=3'), "E0606")
    assert "pairs" in found.message
    only(text.replace('"onehot"', '"one_hot", var_nums=0'), "E0606")
    only(text.replace("QValueHook(\"onehot\")", "QValueHook()"), "E0603")


def test_hook_shape_errors() -> None:
    text = 'module q = MLP(out_features=5) >> QValueHook("mult_one_hot", var_nums=[3, 1]) : observation -> a, v, c\n'
    found = only(text, "E0403")
    assert "add up to 4" in found.message
    found = only(text.replace('"mult_one_hot", var_nums=[3, 1]', '"binary"'), "E0403")
    assert "odd" in found.message
    found = only(text.replace("[3, 1]", "2"), "E0403")
    assert "not a whole number of variables" in found.message
    found = only("key b : i64[4]\nmodule q = QValueHook(\"one_hot\") : b -> a, v, c\n", "E0503")
    found = only("key s : f32[]\nmodule q = QValueHook(\"one_hot\") : s -> a, v, c\n", "E0503")
    assert "scalar" in found.message
    found = only("key x : f32[4]\nmodule q = QValueHook(\"one_hot\") : observation, x -> a, v, c\n", "E0407")
    assert "given 2" in found.message
    only("module q = MLP(out_features=4) >> NormalParamExtractor() >> QValueHook(\"one_hot\") "
         ": observation -> a, v, c\n", "E0407")
    found = only("module q = MLP(out_features=4) >> QValueHook(\"one_hot\") : observation -> a, v\n", "E0305")


def test_the_hook_takes_no_mask_or_keys() -> None:
    found = only('module q = MLP(out_features=4) >> QValueHook("one_hot", action_mask_key=m) '
                 ": observation -> a, v, c\n", "E0602")
    assert "action_mask_key" in found.message


# --- DistributionalQValueHook and LogSoftmax ---------------------------------------------------------------


def test_log_softmax_bounds_its_output_above_by_zero() -> None:
    report = check("module l = MLP(out_features=(51, 4)) >> LogSoftmax(-2) : observation -> lp\n")
    assert report.ok and report.types["lp"] == "f32[51, 4] in [-inf, 0.0]"
    found = only("module l = MLP(out_features=(51, 4)) >> LogSoftmax(dim=2) : observation -> lp\n", "E0606")
    assert "out of range" in found.message
    only("module l = MLP(out_features=4) >> LogSoftmax() : observation -> lp\n", "E0603")


def test_a_distributional_hook_after_a_log_softmax_writes_the_action_and_the_values() -> None:
    text = f'module q = {LOG_P} >> DistributionalQValueHook("one_hot", {SUPPORT}) : observation -> action, lp\n'
    report = check(text)
    assert report.ok, report.render()
    assert report.types["action"] == "onehot(4)" and report.types["lp"] == "f32[51, 4] in [-inf, 0.0]"
    program = rldsl.compile(HEAD + text, seed=2)
    net = program["q"].module
    assert isinstance(net, torch.nn.Sequential) and [type(h) for h in net._forward_hooks.values()] == \
        [DistributionalQValueHook]
    assert list(net.state_dict()) == ["0.0.weight", "0.0.bias", "0.2.weight", "0.2.bias"]
    out = program["q"](batch(7))
    log_p = net[1](net[0](out["observation"]))
    expected, _ = DistributionalQValueModule("one_hot", support=torch.linspace(-10, 10, 51))(log_p)
    assert torch.equal(out["action"], expected)
    torch.testing.assert_close(out["lp"], log_p)


def test_a_distributional_hook_needs_log_probabilities() -> None:
    text = f'module q = MLP(out_features=(51, 4)) >> DistributionalQValueHook("one_hot", {SUPPORT}) ' \
           ": observation -> action, lp\n"
    found = only(text, "E0710")
    assert "LogSoftmax(dim=-2)" in found.help
    declared = f'key lp : f32[51, 4] in [-inf, 0.0]\nmodule q = DistributionalQValueHook("one_hot", {SUPPORT}) ' \
               ": lp -> action, lp2\n"
    assert check(declared).ok


def test_distributional_hook_shape_errors() -> None:
    text = f'module q = {LOG_P} >> DistributionalQValueHook("categorical", {SUPPORT}) : observation -> action, lp\n'
    found = only(text.replace("(51, 4)", "(50, 4)"), "E0404")
    assert "51 atoms" in found.message and "50 bins" in found.message
    found = only(text.replace("(51, 4)", "51").replace("dim=-2", "dim=-1"), "E0404")
    assert "[bins, actions]" in found.message
    found = only(text.replace(f"{SUPPORT})", f"{SUPPORT}, var_nums=3)").replace('"categorical"', '"mult_one_hot"'),
                 "E0403")
    assert "not a whole number" in found.message


def test_every_action_space_of_the_distributional_hook_compiles_on_meta() -> None:
    for space, extra in (("categorical", ""), ("multi_categorical", ", var_nums=2"), ("binary", "")):
        text = f'module q = {LOG_P} >> DistributionalQValueHook("{space}", {SUPPORT}{extra}) ' \
               ": observation -> a, lp\n"
        program = rldsl.compile(HEAD + text, device="meta")
        out = program["q"](TensorDict(observation=torch.empty(2, 3, device="meta"), batch_size=[2], device="meta"))
        assert out["lp"].shape == (2, 51, 4)


def test_the_wrapper_examples_compile_on_meta_with_the_checked_shapes() -> None:
    text = Q + "actor v = VmapModule(q)\n" + HOOKED.replace("actor q", "actor h") \
        + f'module d = {LOG_P} >> DistributionalQValueHook("categorical", {SUPPORT}) : observation -> da, dlp\n'
    report = check(text)
    assert report.ok, report.render()
    program = rldsl.compile(HEAD + text, device="meta")
    data = TensorDict(observation=torch.empty(2, 3, device="meta"), batch_size=[2], device="meta")
    for name in ("v", "h", "d"):
        out = program[name](data.clone())
        for key in out.keys():
            if key in report.types and key != "observation":
                assert tuple(out[key].shape[1:]) == program.spec(key).shape, (name, key)
