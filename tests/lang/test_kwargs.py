"""Inner classes' arguments, ``dict(name=value, ...)`` (``ArgType.KWARGS``): each entry is checked
as the inner kind's argument, the inner kind's type rule types the inner class, what the owner
sets itself is refused, and the compiled module gets the dict torchrl would (the checked shapes
hold on real and ``meta`` tensors)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import rldsl
from rldsl.build import MLP as BuiltMLP
from rldsl.build import ConvNet as BuiltConvNet
from rldsl.build import DuelingCnnDQNet as BuiltDueling
from rldsl.build import LeakyReLU, Model
from rldsl.lang.check import check_text
from rldsl.lang.ir import Kwargs
from rldsl.lang.types import spec_text
from rldsl.modules import MLP, BatchRenorm1d, ConvNet, DdpgCnnActor, DuelingCnnDQNet, NoisyLinear

HEAD = """\
key obs : f32[8]
key act : f32[2]
key pixels : f32[4, 84, 84]
"""


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


def compiled(text: str, name: str, device: str = "cpu") -> nn.Module:
    return rldsl.compile(HEAD + text, device=device)[name]


# --- typing through the inner class's own rule -----------------------------------------------------


def test_the_dueling_cnns_features_follow_its_convnet_arguments() -> None:
    text = ("module q = DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32], kernel_sizes=[8, 4], "
            "strides=[4, 2])) : pixels -> q_values\n")
    assert types(text)["q_values"] == "f32[6]"
    net = compiled(text, "q").module
    assert isinstance(net, DuelingCnnDQNet)
    convs = [m for m in net.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [16, 32] and [c.stride for c in convs] == [(4, 4), (2, 2)]
    assert net.advantage[0].in_features == 32 * 9 * 9  # 84 -> 20 -> 9, as the checker typed it


def test_ddpg_embedding_width_follows_the_convnet_dict() -> None:
    text = "module a = DdpgCnnActor(2, conv_net_kwargs=dict(num_cells=[8, 8, 16])) : pixels -> raw, hidden\n"
    assert types(text)["hidden"] == f"f32[{16 * 9 * 9}]"
    out = compiled(text, "a")(rldsl.compile(HEAD + text).spec_random_input("a", (3,)))
    assert out["hidden"].shape == (3, 16 * 9 * 9) and isinstance(compiled(text, "a").module, DdpgCnnActor)


def test_owner_defaults_merge_with_the_dict_as_torchrl_merges_them() -> None:
    # DdpgCnnActor's MLP has depth 2 by default: one listed size conflicts with it (torchrl: RuntimeError)
    found = errors("module a = DdpgCnnActor(2, mlp_net_kwargs=dict(num_cells=[32])) : pixels -> raw, hidden\n")
    assert found == [("E0606", "[32]")]
    text = "module a = DdpgCnnActor(2, mlp_net_kwargs=dict(num_cells=[32], depth=1)) : pixels -> raw, hidden\n"
    layers = [m for m in compiled(text, "a").module.mlp.modules() if isinstance(m, nn.Linear)]
    assert [layer.out_features for layer in layers] == [32, 2]


def test_a_stride_too_large_inside_the_dict_is_reported_at_the_stride() -> None:
    found = errors("module q = DuelingCnnDQNet(6, cnn_kwargs=dict(strides=[8, 8, 1])) : pixels -> q_values\n")
    assert found == [("E0420", "[8, 8, 1]")]


def test_mlp_norm_is_typed_on_each_hidden_layer() -> None:
    good = ("module m = MLP(out_features=4, num_cells=[64, 64], norm_class=BatchNorm1d, "
            "norm_kwargs=dict(num_features=64)) : obs -> out\n")
    assert types(good)["out"] == "f32[4]"
    norms = [m for m in compiled(good, "m").module.modules() if isinstance(m, nn.BatchNorm1d)]
    assert [n.num_features for n in norms] == [64, 64]
    wrong = ("module m = MLP(out_features=4, num_cells=[64, 32], norm_class=BatchNorm1d, "
             "norm_kwargs=dict(num_features=64)) : obs -> out\n")
    assert errors(wrong) == [("E0445", "64")]
    last = ("module m = MLP(out_features=4, num_cells=[64], norm_class=LayerNorm, activate_last_layer=true, "
            "norm_kwargs=dict(normalized_shape=64)) : obs -> out\n")
    assert errors(last) == [("E0445", "64")]  # the last layer is normalised too, and has 4 units


def test_batch_renorm_in_an_mlp_as_crossq_builds_it() -> None:
    text = ("module critic = MLP(out_features=1, num_cells=[256, 256], activation_class=ReLU, "
            "norm_class=BatchRenorm1d, norm_kwargs=dict(num_features=256, momentum=0.01, warmup_steps=100000)) "
            ": obs, act -> q\n")
    assert types(text)["q"] == "f32[1]"
    norms = [m for m in compiled(text, "critic").module.modules() if isinstance(m, BatchRenorm1d)]
    assert len(norms) == 2 and all(n.warmup_steps == 100000 and n.momentum == 0.01 for n in norms)


def test_convnet_norm_is_typed_on_each_layers_channels() -> None:
    good = ("module c = ConvNet(num_cells=[16, 16], norm_class=BatchNorm2d, norm_kwargs=dict(num_features=16)) "
            ": pixels -> features\n")
    assert types(good)["features"] == f"f32[{16 * 80 * 80}]"
    convnet = compiled(good, "c").module
    assert isinstance(convnet, ConvNet)
    kinds = [type(m).__name__ for m in convnet.children()]
    assert kinds[:3] == ["Conv2d", "ELU", "BatchNorm2d"]  # the norm after the activation, as torchrl
    wrong = good.replace("num_cells=[16, 16]", "num_cells=[16, 32]")
    assert errors(wrong) == [("E0445", "16")]


def test_aggregator_kwargs_change_what_the_convnet_flattens() -> None:
    text = "module c = ConvNet(num_cells=[16], aggregator_kwargs=dict(ndims_in=2)) : pixels -> features\n"
    assert types(text)["features"] == f"f32[16, {82 * 82}]"
    three = "key clip : f32[3, 4, 16, 16]\nmodule c = Conv3dNet(num_cells=[8], aggregator_kwargs=dict()) : clip -> f\n"
    assert types(three)["f"] == f"f32[{8 * 2 * 14 * 14}]"  # Conv3dNet's own default, ndims_in=4, is passed
    out = rldsl.compile(HEAD + three)
    assert out["c"](out.spec_random_input("c", (2,)))["f"].shape == (2, 8 * 2 * 14 * 14)


def test_activation_and_layer_arguments_reach_each_layer() -> None:
    text = ("module m = MLP(out_features=3, num_cells=[16], activation_class=LeakyReLU, "
            "activation_kwargs=dict(negative_slope=0.2), layer_class=NoisyLinear, layer_kwargs=dict(std_init=0.1)) "
            ": obs -> out\n")
    assert types(text)["out"] == "f32[3]"
    mlp = compiled(text, "m").module
    assert isinstance(mlp, MLP)
    assert [m.negative_slope for m in mlp.modules() if isinstance(m, nn.LeakyReLU)] == [0.2]
    assert [m.std_init for m in mlp.modules() if isinstance(m, NoisyLinear)] == [0.1, 0.1]


def test_per_layer_lists_give_each_layer_its_own_dict() -> None:
    text = ("module m = MLP(out_features=4, num_cells=[64, 32], norm_class=BatchNorm1d, layer_class=NoisyLinear, "
            "norm_kwargs=[dict(num_features=64), dict(num_features=32)], "
            "layer_kwargs=[dict(std_init=0.1), dict(std_init=0.2), dict(std_init=0.3)]) : obs -> out\n")
    assert types(text)["out"] == "f32[4]"
    mlp = compiled(text, "m").module
    assert [m.num_features for m in mlp.modules() if isinstance(m, nn.BatchNorm1d)] == [64, 32]
    assert [m.std_init for m in mlp.modules() if isinstance(m, NoisyLinear)] == [0.1, 0.2, 0.3]
    conv = ("module c = ConvNet(num_cells=[16, 32], activation_kwargs=[dict(alpha=0.5), dict(alpha=1.0)]) "
            ": pixels -> f\n")
    assert [m.alpha for m in compiled(conv, "c").module.modules() if isinstance(m, nn.ELU)] == [0.5, 1.0]
    swapped = text.replace("dict(num_features=64), dict(num_features=32)", "dict(num_features=32), "
                                                                           "dict(num_features=64)")
    assert [code for code, _ in errors(swapped)] == ["E0445"]


@pytest.mark.parametrize(("text", "at"), [
    ("module m = MLP(out_features=4, num_cells=[64, 32], norm_class=LayerNorm, "
     "norm_kwargs=[dict(normalized_shape=64)]) : obs -> out\n", "[dict(normalized_shape=64)]"),
    ("module c = ConvNet(num_cells=[16, 32], activation_kwargs=[dict(alpha=0.5)]) : pixels -> f\n",
     "[dict(alpha=0.5)]"),
    ("module m = MLP(out_features=4, num_cells=[8], layer_kwargs=[dict(bias=true)]) : obs -> out\n",
     "[dict(bias=true)]"),
])
def test_a_list_of_the_wrong_length_is_refused(text: str, at: str) -> None:
    assert errors(text) == [("E0606", at)]


def test_a_list_where_one_dict_is_expected() -> None:
    found = errors("module q = DuelingCnnDQNet(4, cnn_kwargs=[dict(num_cells=[8])]) : pixels -> q_values\n")
    assert found == [("E0604", "[dict(num_cells=[8])]")]


# --- what is refused -----------------------------------------------------------------------------


@pytest.mark.parametrize(("call", "code", "at"), [
    ("DuelingCnnDQNet(6, cnn_kwargs=dict(num_cels=[8]))", "E0602", "num_cels"),
    ("DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=true))", "E0604", "true"),
    ("DuelingCnnDQNet(6, cnn_kwargs=dict([8]))", "E0604", "[8]"),
    ("DuelingCnnDQNet(6, cnn_kwargs=[8])", "E0604", "[8]"),
    ("DuelingCnnDQNet(6, cnn_kwargs=ConvNet(num_cells=[8]))", "E0604", "ConvNet(num_cells=[8])"),
    ("DuelingCnnDQNet(6, mlp_kwargs=dict(out_features=3))", "E0606", "out_features"),
    ("DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[8], num_cells=[9]))", "E0601", "num_cells"),
])
def test_bad_dicts_are_reported_at_the_entry(call: str, code: str, at: str) -> None:
    found = errors(f"module q = {call} : pixels -> q_values\n")
    assert found[0] == (code, at), found


def test_a_dict_without_a_class_and_a_class_without_its_required_arguments() -> None:
    assert errors("module m = MLP(out_features=4, norm_kwargs=dict(num_features=4)) : obs -> out\n") == [
        ("E0606", "dict(num_features=4)")]
    found = check("module m = MLP(out_features=4, num_cells=[8], norm_class=BatchNorm1d) : obs -> out\n").errors
    assert [(d.code, d.help) for d in found] == [("E0603", "pass `norm_kwargs=dict(num_features=...)`")]
    assert errors("module m = MLP(out_features=4, num_cells=[8], norm_class=BatchNorm2d, "
                  "norm_kwargs=dict(num_features=8)) : obs -> out\n")[0][0] == "E0606"  # not an MLP's norm


def test_the_bound_dict_keeps_the_owners_defaults_and_what_was_written() -> None:
    report = check("module q = DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32, 32])) : pixels -> q_values\n")
    network = report.modules["q"].network
    inner = network.args["cnn_kwargs"]
    assert isinstance(inner, Kwargs) and inner.kind.name == "ConvNet"
    assert inner.args["num_cells"] == (16, 32, 32) and inner.args.given("num_cells")
    assert inner.args["strides"] == (4, 2, 1) and not inner.args.given("strides")  # the owner's default


# --- the compiled module and the Python builder ------------------------------------------------------


def test_compiled_dicts_run_on_meta_with_the_checked_shapes() -> None:
    text = ("module q = DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32], kernel_sizes=[8, 4], "
            "strides=[4, 2]), mlp_kwargs=dict(num_cells=64)) : pixels -> q_values\n")
    program = rldsl.compile(HEAD + text, device="meta")
    out = program["q"](program.spec_random_input("q", (5,)))
    assert out["q_values"].device.type == "meta" and out["q_values"].shape == (5, 6)


def test_the_builder_writes_python_dicts_as_dict_calls() -> None:
    net = BuiltDueling(6, cnn_kwargs={"num_cells": [16, 32], "kernel_sizes": [8, 4], "strides": [4, 2],
                                      "activation_class": "ReLU"})
    assert repr(net) == ("Expr(DuelingCnnDQNet(6, cnn_kwargs=dict(num_cells=[16, 32], kernel_sizes=[8, 4], "
                         "strides=[4, 2], activation_class=ReLU)))")
    mlp = BuiltMLP(out_features=2, activation_class=LeakyReLU, activation_kwargs={"negative_slope": 0.1})
    assert "activation_kwargs=dict(negative_slope=0.1)" in repr(mlp)
    layers = BuiltMLP(out_features=2, num_cells=[4], norm_class="LayerNorm",
                      norm_kwargs=[{"normalized_shape": 4}])
    assert "norm_class=LayerNorm, norm_kwargs=[dict(normalized_shape=4)]" in repr(layers)
    model = Model()
    model.key("pixels", "f32[4, 84, 84]")
    model.module("trunk", BuiltConvNet(num_cells=[8], norm_class="BatchNorm2d", norm_kwargs={"num_features": 8}),
                 reads=["pixels"], writes=["features"])
    model.module("q", net, reads=["pixels"], writes=["q_values"])
    assert model.check().ok
    program = rldsl.compile(model)
    assert isinstance(program["trunk"].module, ConvNet)
    with torch.no_grad():
        assert program["q"](program.spec_random_input("q", (2,)))["q_values"].shape == (2, 6)
