"""The conv kinds' type rules (``ConvNet``, ``Conv3dNet``, ``SquashDims``, ``SqueezeLayer``,
``Squeeze2dLayer``): image specs through kernels, strides and paddings to the output width, every
diagnostic by code and span, and the checker's shapes confirmed by running the compiled modules on
spec-random input, on the CPU and on ``device="meta"``."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rldsl
from rldsl.compiler.specs import shape_of
from rldsl.lang.check import check_text
from rldsl.lang.kinds import lookup

PIXELS = "key pixels : f32[4, 84, 84]\n"
ATARI = "ConvNet(num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[4, 2, 1])"


def check(text: str):
    return check_text(text, "a.rlm")


def errors(text: str) -> list:
    return [d for d in check(text).diagnostics if d.is_error]


def only_error(text: str, code: str):
    found = errors(text)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def covered(text: str, span) -> str:
    return text[span.start:span.end]


def hidden_type(text: str) -> str:
    report = check(text)
    assert report.ok, [(d.code, d.message) for d in report.errors]
    return report.types["hidden"]


# --- the type rule -------------------------------------------------------------------------------
def test_atari_stack_gives_64_by_7_by_7_features() -> None:
    assert hidden_type(PIXELS + f"module f = {ATARI} : pixels -> hidden\n") == "f32[3136]"


@pytest.mark.parametrize("call, expected", [
    ("ConvNet()", "f32[18432]"),  # 3 layers of 32, kernel 3: 30 -> 28 -> 26 -> 24, 32 * 24 * 24
    ("ConvNet(num_cells=[8], paddings=1)", "f32[7200]"),  # same size: 8 * 30 * 30
    ("ConvNet(num_cells=8, depth=2, kernel_sizes=[5, 3], strides=2)", "f32[288]"),  # 30 -> 13 -> 6
    ("ConvNet(depth=2)", "f32[21632]"),  # 32 * 26 * 26
    ("ConvNet(num_cells=[8], activation_class=ReLU, aggregator_class=SquashDims)", "f32[6272]"),
])
def test_output_width(call: str, expected: str) -> None:
    assert hidden_type("key pixels : f32[3, 30, 30]\n" + f"module f = {call} : pixels -> hidden\n") == expected


def test_leading_dims_of_the_spec_stay_in_front() -> None:
    text = "dim n_agents = 2\nkey pixels : f32[n_agents, 3, 30, 30]\n" \
           "module f = ConvNet(num_cells=[8], kernel_sizes=30) : pixels -> hidden\n"
    assert hidden_type(text) == "f32[n_agents, 8]"


def test_named_dims_with_values_are_computed() -> None:
    text = "dim side = 84\ndim frames = 4\nkey pixels : f32[frames, side, side]\n" \
           f"module f = {ATARI} : pixels -> hidden\n"
    assert hidden_type(text) == "f32[3136]"


def test_conv3dnet_reads_volumes() -> None:
    text = "key clip : f32[2, 8, 16, 16]\nmodule f = Conv3dNet(num_cells=[4, 6], kernel_sizes=3, strides=[1, 2]) " \
           ": clip -> hidden\n"
    assert hidden_type(text) == f"f32[{6 * 2 * 6 * 6}]"  # 8 -> 6 -> 2, 16 -> 14 -> 6


def test_in_features_when_given_must_be_the_channels() -> None:
    assert hidden_type(PIXELS + "module f = ConvNet(in_features=4, num_cells=[8]) : pixels -> hidden\n")
    text = PIXELS + "module f = ConvNet(in_features=3, num_cells=[8]) : pixels -> hidden\n"
    d = only_error(text, "E0406")
    assert covered(text, d.span) == "3" and "4 channels" in d.message


def test_squash_and_squeeze_layers() -> None:
    text = "key x : f32[2, 3, 4]\nmodule f = SquashDims(2) : x -> hidden\n"
    assert hidden_type(text) == "f32[2, 12]"
    text = "key x : f32[5, 1, 1]\nmodule f = Squeeze2dLayer() : x -> hidden\n"
    assert hidden_type(text) == "f32[5]"
    text = "key x : f32[1, 5, 1]\nmodule f = SqueezeLayer([-1, -2]) : x -> hidden\n"
    assert hidden_type(text) == "f32[5]"  # in order: [1, 5, 1] -> [1, 5] -> [5]
    text = "key x : f32[5, 1]\nmodule f = SqueezeLayer() : x -> hidden\n"
    assert hidden_type(text) == "f32[5]"


def test_a_convnet_feeds_an_mlp() -> None:
    text = PIXELS + "key action_value : f32[6]\n" \
           f"module q = {ATARI} >> MLP(out_features=6, num_cells=[512]) : pixels -> action_value\n"
    assert check(text).ok


# --- diagnostics ---------------------------------------------------------------------------------
def test_e0420_a_kernel_too_large_for_the_image_is_refused_at_kernel_sizes() -> None:
    text = PIXELS + "module f = ConvNet(num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[8, 8, 8]) " \
                    ": pixels -> hidden\n"
    d = only_error(text, "E0420")
    assert covered(text, d.span) == "[8, 4, 3]"
    assert "layer 3" in d.message and "height 0" in d.message and "1-wide" in d.message
    assert "84 -> 10 -> 1" in d.help and "paddings" in d.help
    assert [covered(text, label.span) for label in d.labels] == ["[8, 8, 8]"]


def test_e0420_at_strides_when_they_are_what_was_written() -> None:
    text = PIXELS + "module f = ConvNet(num_cells=[8, 8, 8], strides=[8, 8, 8]) : pixels -> hidden\n"
    d = only_error(text, "E0420")
    assert covered(text, d.span) == "[8, 8, 8]" and "84 -> 11 -> 2" in d.help


def test_e0420_at_paddings_or_at_the_kind() -> None:
    text = "key x : f32[1, 2, 2]\nmodule f = ConvNet(num_cells=[8], paddings=0) : x -> hidden\n"
    assert covered(text, only_error(text, "E0420").span) == "0"
    text = "key x : f32[1, 2, 9]\nmodule f = ConvNet(num_cells=[8]) : x -> hidden\n"
    d = only_error(text, "E0420")
    assert covered(text, d.span) == "ConvNet" and "height" in d.message


def test_e0420_names_the_dim() -> None:
    text = "key x : f32[1, 9, 2]\nmodule f = ConvNet(num_cells=[8]) : x -> hidden\n"
    assert "width" in only_error(text, "E0420").message
    text = "key x : f32[1, 2, 9, 9]\nmodule f = Conv3dNet(num_cells=[8]) : x -> hidden\n"
    assert "depth" in only_error(text, "E0420").message


def test_e0421_lists_of_different_lengths() -> None:
    text = PIXELS + "module f = ConvNet(num_cells=[32, 64], kernel_sizes=[8, 4, 3]) : pixels -> hidden\n"
    d = only_error(text, "E0421")
    assert covered(text, d.span) == "[8, 4, 3]" and [covered(text, lb.span) for lb in d.labels] == ["[32, 64]"]


def test_e0421_a_list_against_the_default_num_cells() -> None:
    text = PIXELS + "module f = ConvNet(kernel_sizes=[8, 4]) : pixels -> hidden\n"
    d = only_error(text, "E0421")
    assert covered(text, d.span) == "[8, 4]" and "[32, 32, 32]" in d.message


def test_e0421_a_list_against_depth() -> None:
    text = PIXELS + "module f = ConvNet(depth=2, strides=[2, 2, 2]) : pixels -> hidden\n"
    d = only_error(text, "E0421")
    assert covered(text, d.span) == "[2, 2, 2]" and [covered(text, lb.span) for lb in d.labels] == ["2"]


def test_e0421_no_way_to_tell_the_depth() -> None:
    text = PIXELS + "module f = ConvNet(num_cells=32) : pixels -> hidden\n"
    d = only_error(text, "E0421")
    assert covered(text, d.span) == "32" and "depth" in d.help


def test_e0422_an_input_that_is_not_an_image() -> None:
    text = "key x : f32[84, 84]\nmodule f = ConvNet() : x -> hidden\n"
    d = only_error(text, "E0422")
    assert covered(text, d.span).startswith("ConvNet()") and "f32[3, 84, 84]" in d.help
    text = PIXELS + "module f = Conv3dNet() : pixels -> hidden\n"
    assert "[*B, C, D, H, W]" in only_error(text, "E0422").message
    text = "key x : f32[3, 4]\nmodule f = SquashDims() : x -> hidden\n"
    d = only_error(text, "E0422")
    assert covered(text, d.span) == "SquashDims" and "ndims_in=2" in d.help


def test_e0503_pixels_must_be_converted_to_float_first() -> None:
    text = "key pixels : u8[3, 84, 84]\nmodule f = ConvNet() : pixels -> hidden\n"
    d = only_error(text, "E0503")
    assert "converted to floats" in d.help and "f32[3, 84, 84]" in d.help


def test_e0407_one_image_only() -> None:
    text = PIXELS + "key other : f32[4, 84, 84]\nmodule f = ConvNet() : pixels, other -> hidden\n"
    assert "one image" in only_error(text, "E0407").message


@pytest.mark.parametrize("call, code, span", [
    ("ConvNet(depth=0)", "E0606", "0"),
    ("ConvNet(depth=0, num_cells=[8])", "E0606", "0"),
    ("ConvNet(num_cells=[8], kernel_sizes=0)", "E0606", "0"),
    ("ConvNet(num_cells=[8], strides=[0])", "E0606", "[0]"),
    ("ConvNet(num_cells=[8], paddings=-1)", "E0606", "-1"),
    ("ConvNet(num_cells=[0])", "E0606", "[0]"),
    ("ConvNet(aggregator_class=Tanh)", "E0606", "Tanh"),
    ("ConvNet(activation_class=SquashDims)", "E0604", "SquashDims"),
    ("ConvNet(kernel_sizes=[[3, 3], [3, 3], [3, 3]])", "E0604", "[[3, 3], [3, 3], [3, 3]]"),
])
def test_bad_argument_values(call: str, code: str, span: str) -> None:
    text = PIXELS + f"module f = {call} : pixels -> hidden\n"
    assert covered(text, only_error(text, code).span) == span


def test_e0423_squeezing_dims_that_are_not_one() -> None:
    text = PIXELS + "module f = ConvNet(squeeze_output=true) : pixels -> hidden\n"
    d = only_error(text, "E0423")
    assert covered(text, d.span) == "true" and "drop `squeeze_output`" in d.help
    text = "key x : f32[5, 2]\nmodule f = SqueezeLayer([-1]) : x -> hidden\n"
    d = only_error(text, "E0423")
    assert covered(text, d.span) == "[-1]" and "it is 2" in d.message
    text = "key x : f32[1]\nmodule f = Squeeze2dLayer() : x -> hidden\n"
    assert "no such dim" in only_error(text, "E0423").message
    text = "key x : f32[5, 1]\nmodule f = SqueezeLayer([0]) : x -> hidden\n"
    assert covered(text, only_error(text, "E0606").span) == "[0]"


def test_no_aggregator_keeps_the_image_and_squeeze_output_removes_1x1() -> None:
    assert lookup("ConvNet").param("aggregator_class").nullable
    text = "key x : f32[3, 9, 9]\nmodule f = ConvNet(num_cells=[8], aggregator_class=none) : x -> hidden\n"
    assert hidden_type(text) == "f32[8, 7, 7]"
    text = "key x : f32[3, 3, 3]\nmodule f = ConvNet(num_cells=[8], aggregator_class=none, squeeze_output=true) " \
           ": x -> hidden\n"
    assert hidden_type(text) == "f32[8]"
    assert rldsl.compile(text)["f"].module.aggregator_class is None
    text = "key x : f32[3, 9, 9]\nmodule f = ConvNet(num_cells=[8], aggregator_class=none, squeeze_output=true) " \
           ": x -> hidden\n"
    d = only_error(text, "E0423")
    assert covered(text, d.span) == "true" and "it is 7" in d.message and "shrink the image" in d.help


# --- compiled end to end: the checker's shapes hold at run time ---------------------------------
MODELS = {
    "atari": PIXELS + f"module f = {ATARI} : pixels -> hidden\n",
    "padded": "key x : f32[3, 17, 11]\nmodule f = ConvNet(num_cells=[4, 6], kernel_sizes=[5, 3], strides=[2, 1], "
              "paddings=[2, 0], activation_class=ReLU) : x -> hidden\n",
    "agents": "dim n = 2\nkey x : f32[n, 3, 12, 12]\nmodule f = ConvNet(num_cells=[4], strides=2) : x -> hidden\n",
    "volume": "key x : f32[2, 6, 10, 10]\nmodule f = Conv3dNet(num_cells=[4, 4], strides=[1, 2]) : x -> hidden\n",
    "image_out": "key x : f32[3, 9, 9]\nmodule f = ConvNet(num_cells=[8], aggregator_class=none) : x -> hidden\n",
    "squeezed": "key x : f32[3, 5, 5]\nmodule f = ConvNet(num_cells=[8, 4], kernel_sizes=[3, 3], "
                "aggregator_class=none, squeeze_output=true) : x -> hidden\n",
    "squash": "key x : f32[1, 3, 4]\nmodule f = SquashDims(2) >> SqueezeLayer([-2]) : x -> hidden\n",
    "q_head": PIXELS + "key action_value : f32[6]\n"
              f"module f = {ATARI} >> MLP(out_features=6, num_cells=[512]) : pixels -> action_value\n",
}


def _run_matches_checker(text: str, device: str, batch: tuple) -> None:
    program = rldsl.compile(text, device=device)
    out = program["f"](program.spec_random_input("f", batch))
    for key in program.writes("f"):
        expected = (*batch, *shape_of(program.static_spec(key).shape))
        value = out.get(key)
        assert tuple(value.shape) == expected, (key, tuple(value.shape), expected)
        assert value.device.type == device


@pytest.mark.parametrize("batch", [(4,), (2, 3)])
@pytest.mark.parametrize("device", ["cpu", "meta"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_compiled_module_has_the_checked_shape(name: str, device: str, batch: tuple) -> None:
    _run_matches_checker(MODELS[name], device, batch)


def test_in_features_comes_from_the_checked_channels() -> None:
    program = rldsl.compile(MODELS["atari"])
    net = program["f"].module
    assert type(net).__name__ == "ConvNet" and net.in_features == 4 and type(net[0]) is torch.nn.Conv2d
    assert list(net.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]
    volume = rldsl.compile(MODELS["volume"])["f"].module
    assert volume.in_features == 2 and type(volume[0]) is torch.nn.Conv3d


@settings(max_examples=25, deadline=None)
@given(size=st.integers(1, 24), kernel=st.integers(1, 6), stride=st.integers(1, 3), padding=st.integers(0, 2),
       depth=st.integers(1, 3))
def test_the_checker_agrees_with_the_runtime(size: int, kernel: int, stride: int, padding: int, depth: int) -> None:
    text = f"key x : f32[2, {size}, {size + 1}]\nmodule f = ConvNet(num_cells=[3] * {depth}, kernel_sizes={kernel}, " \
           f"strides={stride}, paddings={padding}) : x -> hidden\n"
    text = text.replace(f"[3] * {depth}", "[" + ", ".join(["3"] * depth) + "]")
    codes = [d.code for d in errors(text)]
    try:
        from rldsl.modules import ConvNet

        net = ConvNet(in_features=2, num_cells=[3] * depth, kernel_sizes=kernel, strides=stride, paddings=padding,
                      device="meta")
        runtime = tuple(net(torch.empty(5, 2, size, size + 1, device="meta")).shape)
    except RuntimeError:
        runtime = None
    if runtime is None:
        assert codes == ["E0420"]
    else:
        assert codes == []
        _run_matches_checker(text, "meta", (5,))


def test_the_python_builder_writes_a_convnet() -> None:
    from rldsl.build import ConvNet, Model

    model = Model()
    model.key("pixels", "f32[4, 84, 84]")
    model.module("f", ConvNet(num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[4, 2, 1]),
                 reads=["pixels"], writes=["hidden"])
    source = model.to_source()
    assert "ConvNet(num_cells=[32, 64, 64], kernel_sizes=[8, 4, 3], strides=[4, 2, 1])" in source
    assert model.check().types["hidden"] == "f32[3136]"
    model.module("g", ConvNet(num_cells=[8], aggregator_class=None), reads=["pixels"], writes=["image"])
    assert "aggregator_class=none" in model.to_source() and model.check().types["image"] == "f32[8, 82, 82]"
