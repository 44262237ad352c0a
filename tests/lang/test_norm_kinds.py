"""The normalisation kinds (torch's BatchNorm1d/2d/3d, their Lazy variants, LayerNorm, GroupNorm and
InstanceNorm1d/2d/3d): their types, their diagnostics (code and span), and the compiled modules —
torch's own classes, run on random input with the checker's shapes and torch's state_dict names."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from tensordict import TensorDict
from torch import nn

import rldsl
from rldsl.compiler.specs import shape_of, torch_dtype
from rldsl.lang import types as T
from rldsl.lang.check import check_text
from rldsl.lang.kinds import KINDS, lookup
from rldsl.lang.kinds.norms import KINDS as NORM_KINDS

HEAD = ("key x : f32[8]\nkey seq : f32[4, 9]\nkey img : f32[4, 10, 10]\nkey vol : f32[4, 5, 6, 7]\n"
        "key count : i64[8]\nkey scalar : f32[]\n")

#: (declaration name, call, input key): one model using every norm kind.
USES = [
    ("bn1", "BatchNorm1d(8)", "x"),
    ("bn2", "BatchNorm2d(4, momentum=none)", "img"),
    ("bn3", "BatchNorm3d(4, affine=false)", "vol"),
    ("lbn1", "LazyBatchNorm1d()", "x"),
    ("lbn2", "LazyBatchNorm2d(eps=0.001)", "img"),
    ("lbn3", "LazyBatchNorm3d(bias=false)", "vol"),
    ("ln", "LayerNorm([10, 10])", "img"),
    ("ln1", "LayerNorm(8, elementwise_affine=false)", "x"),
    ("gn", "GroupNorm(2, 4)", "img"),
    ("gn1", "GroupNorm(4, 8, affine=false)", "x"),
    ("in1", "InstanceNorm1d(4)", "seq"),
    ("in2", "InstanceNorm2d(4, affine=true, track_running_stats=true)", "img"),
    ("in3", "InstanceNorm3d(4)", "vol"),
]
MODEL = HEAD + "".join(f"module {name} = {call} : {source} -> {name}_out\n" for name, call, source in USES)

#: What torch names in each compiled module's state_dict.
STATE = {
    "bn1": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "bn2": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "bn3": ["running_mean", "running_var", "num_batches_tracked"],
    "lbn1": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "lbn2": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "lbn3": ["weight", "running_mean", "running_var", "num_batches_tracked"],
    "ln": ["weight", "bias"],
    "ln1": [],
    "gn": ["weight", "bias"],
    "gn1": [],
    "in1": [],
    "in2": ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"],
    "in3": [],
}

#: The same layers built by torch directly (the lazy ones sized as the compiler sizes them).
TORCH = {
    "bn1": lambda: nn.BatchNorm1d(8),
    "bn2": lambda: nn.BatchNorm2d(4, momentum=None),
    "bn3": lambda: nn.BatchNorm3d(4, affine=False),
    "lbn1": lambda: nn.BatchNorm1d(8),
    "lbn2": lambda: nn.BatchNorm2d(4, eps=0.001),
    "lbn3": lambda: nn.BatchNorm3d(4, bias=False),
    "ln": lambda: nn.LayerNorm([10, 10]),
    "ln1": lambda: nn.LayerNorm(8, elementwise_affine=False),
    "gn": lambda: nn.GroupNorm(2, 4),
    "gn1": lambda: nn.GroupNorm(4, 8, affine=False),
    "in1": lambda: nn.InstanceNorm1d(4),
    "in2": lambda: nn.InstanceNorm2d(4, affine=True, track_running_stats=True),
    "in3": lambda: nn.InstanceNorm3d(4),
}


def errors(text: str) -> list:
    return [d for d in check_text(HEAD + text, "a.rlm").diagnostics if d.code.startswith("E")]


def only(text: str, code: str):
    """The one error of ``text`` (warnings, such as an output nobody reads, are left out)."""
    found = errors(text)
    assert [d.code for d in found] == [code], [(d.code, d.message) for d in found]
    return found[0]


def spanned(text: str, span) -> str:
    return (HEAD + text)[span.start:span.end]


def types(text: str, dtype: str = "f32") -> dict[str, str]:
    report = check_text(text, "a.rlm", dtype=dtype)
    assert report.ok, [(d.code, d.message) for d in report.errors]
    return {key.dotted: T.spec_text(key.spec) for key in report.keys}


# --- the kinds ---------------------------------------------------------------------------------------------


def test_the_kinds_are_registered_with_torch_runtimes() -> None:
    names = {kind.name for kind in NORM_KINDS}
    assert names == {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "LazyBatchNorm1d", "LazyBatchNorm2d",
                     "LazyBatchNorm3d", "LayerNorm", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"}
    for kind in NORM_KINDS:
        assert lookup(kind.name) is kind and kind in KINDS
        assert kind.runtime == f"torch.nn.{kind.name}"
        assert {name for name, _ in kind.omitted} == {"device", "dtype"}
        assert kind.rule and kind.param("eps").default == 1e-5


def test_momentum_takes_none_where_torch_does() -> None:
    assert lookup("BatchNorm1d").param("momentum").nullable
    assert lookup("LazyBatchNorm2d").param("momentum").nullable
    assert not lookup("InstanceNorm1d").param("momentum").nullable  # torch's annotation: a float
    assert only("module m = InstanceNorm2d(4, momentum=none) : img -> y\n", "E0604")


# --- types -------------------------------------------------------------------------------------------------


def test_the_model_checks_clean_and_every_output_has_its_input_spec() -> None:
    report = check_text(MODEL, "a.rlm")
    assert report.ok and {d.code for d in report.diagnostics} <= {"W0301"}, [(d.code, d.message)
                                                                             for d in report.diagnostics]
    found = types(MODEL)
    for name, _, source in USES:
        assert found[f"{name}_out"] == found[source], name


def test_a_bounded_input_gives_an_unbounded_output_of_its_dtype() -> None:
    found = types("key b : f64[3] in [0, 1]\nmodule m = LayerNorm(3) : b -> y\n"
                  "module n = BatchNorm1d(3) : b -> z\n", dtype="f64")
    assert found["y"] == found["z"] == "f64[3]"


def test_named_dims_and_extra_leading_dims() -> None:
    found = types("dim C = 6\nkey v : f32[2, C, 5, 5]\nkey w : f32[7, C]\n"
                  "module a = BatchNorm2d(C) : v -> a_out\nmodule b = GroupNorm(3, C) : v -> b_out\n"
                  "module c = BatchNorm1d(C) : w -> c_out\nmodule d = LayerNorm([7, C]) : w -> d_out\n"
                  "module e = GroupNorm(7, 7) : w -> e_out\nmodule f = InstanceNorm1d(7) : w -> f_out\n")
    assert found["a_out"] == "f32[2, C, 5, 5]" and found["b_out"] == "f32[2, C, 5, 5]"
    assert found["c_out"] == found["d_out"] == found["e_out"] == found["f_out"] == "f32[7, C]"


@pytest.mark.parametrize("shape, channels", [("[6]", 6), ("[6, 5]", 6), ("[6, 5, 4]", 6), ("[2, 6, 5, 4]", 6)])
def test_group_norm_reads_its_channels_on_the_documented_dim(shape: str, channels: int) -> None:
    """dim -1 of a vector, -2 of two dims, -3 of three dims or more."""
    assert types(f"key v : f32{shape}\nmodule m = GroupNorm(3, {channels}) : v -> y\n")["y"] == f"f32{shape}"


def test_norms_fit_in_pipes() -> None:
    found = types("key x : f32[8]\nmodule m = Linear(8, 16) >> LayerNorm(16) >> BatchNorm1d(16) >> Tanh() : x -> y\n")
    assert found["y"] == "f32[16] in [-1.0, 1.0]"


# --- diagnostics, by code and span ------------------------------------------------------------------------


@pytest.mark.parametrize("call, source, code, where", [
    ("BatchNorm1d(7)", "x", "E0445", "7"),
    ("BatchNorm2d(3)", "img", "E0445", "3"),
    ("BatchNorm3d(num_features=5)", "vol", "E0445", "5"),
    ("InstanceNorm1d(9)", "seq", "E0445", "9"),  # the channels of a sequence are dim -2
    ("InstanceNorm2d(10)", "img", "E0445", "10"),
    ("InstanceNorm3d(5)", "vol", "E0445", "5"),
    ("GroupNorm(2, 6)", "img", "E0445", "6"),
    ("GroupNorm(1, 4)", "x", "E0445", "4"),
    ("LayerNorm(9)", "x", "E0445", "9"),
    ("LayerNorm([4, 9])", "img", "E0445", "[4, 9]"),
    ("LayerNorm(normalized_shape=[10, 9])", "img", "E0445", "[10, 9]"),
    ("BatchNorm2d(8)", "x", "E0446", "BatchNorm2d(8)"),
    ("BatchNorm3d(4)", "img", "E0446", "BatchNorm3d(4)"),
    ("LazyBatchNorm2d()", "seq", "E0446", "LazyBatchNorm2d()"),
    ("LazyBatchNorm3d()", "img", "E0446", "LazyBatchNorm3d()"),
    ("LazyBatchNorm1d()", "scalar", "E0446", "LazyBatchNorm1d()"),
    ("BatchNorm1d(1)", "scalar", "E0446", "BatchNorm1d(1)"),
    ("InstanceNorm1d(8)", "x", "E0446", "InstanceNorm1d(8)"),
    ("InstanceNorm2d(4)", "seq", "E0446", "InstanceNorm2d(4)"),
    ("InstanceNorm3d(4)", "img", "E0446", "InstanceNorm3d(4)"),
    ("GroupNorm(1, 1)", "scalar", "E0446", "GroupNorm(1, 1)"),
    ("LayerNorm([4, 8])", "x", "E0446", "LayerNorm([4, 8])"),
    ("GroupNorm(3, 4)", "img", "E0447", "4"),
    ("GroupNorm(num_groups=3, num_channels=8)", "x", "E0447", "8"),
    ("BatchNorm1d(8)", "count", "E0503", "BatchNorm1d(8)"),
    ("LayerNorm(8)", "x, x", "E0407", "LayerNorm(8)"),
])
def test_diagnostics_and_their_spans(call: str, source: str, code: str, where: str) -> None:
    text = f"module m = {call} : {source} -> y\n"
    d = only(text, code)
    assert spanned(text, d.span) == where
    assert d.help


def test_size_mismatch_messages_name_the_dim_and_the_size() -> None:
    d = only("module m = BatchNorm2d(3) : img -> y\n", "E0445")
    assert d.message == "`num_features=3` but BatchNorm2d reads 4 channels (dim -3 of `img`)"
    assert "make `num_features` 4" in d.help
    d = only("module m = LayerNorm([4, 9]) : img -> y\n", "E0445")
    assert d.message == "`normalized_shape=[4, 9]` but the last 2 dims of `img` are [10, 10]" and "[10, 10]" in d.help
    d = only("module m = LayerNorm(9) : x -> y\n", "E0445")
    assert d.message == "`normalized_shape=[9]` but the last dim of `x` is [8]"


def test_wrong_rank_messages_show_the_layout() -> None:
    d = only("module m = BatchNorm2d(8) : x -> y\n", "E0446")
    assert "`[*B, C, H, W]`" in d.message and "f32[8]" in d.message and "f32[3, 84, 84]" in d.help


def test_group_norm_divisibility_points_at_both_arguments() -> None:
    text = "module m = GroupNorm(3, 4) : img -> y\n"
    d = only(text, "E0447")
    assert d.message == "GroupNorm splits 4 channels into 3 groups, but 4 is not a multiple of 3"
    assert [spanned(text, label.span) for label in d.labels] == ["3"]
    assert "(1, 2, 4)" in d.help


@pytest.mark.parametrize("call, argument", [
    ("BatchNorm1d(0)", "0"),
    ("BatchNorm1d(8, eps=-1.0)", "-1.0"),
    ("BatchNorm1d(8, eps=inf)", "inf"),
    ("BatchNorm1d(8, momentum=1.5)", "1.5"),
    ("BatchNorm1d(8, momentum=-0.1)", "-0.1"),
    ("LazyBatchNorm1d(momentum=-inf)", "-inf"),
    ("InstanceNorm1d(4, momentum=2.0)", "2.0"),
    ("LayerNorm(0)", "0"),
    ("LayerNorm([8, 0])", "[8, 0]"),
    ("LayerNorm(8, eps=-0.5)", "-0.5"),
    ("GroupNorm(0, 8)", "0"),
    ("GroupNorm(2, 8, eps=-1e-3)", "-1e-3"),
])
def test_bad_arguments_are_refused_at_their_span(call: str, argument: str) -> None:
    source = "seq" if call.startswith("InstanceNorm") else "x"
    text = f"module m = {call} : {source} -> y\n"
    found = errors(text)
    assert found and {d.code for d in found} == {"E0606"}, [(d.code, d.message) for d in found]
    assert spanned(text, found[0].span) == argument


def test_boundary_arguments_are_accepted() -> None:
    types("key x : f32[8]\nmodule a = BatchNorm1d(8, momentum=0.0, eps=0.0) : x -> a1\n"
          "module b = BatchNorm1d(8, momentum=1.0) : x -> b1\nmodule c = GroupNorm(8, 8) : x -> c1\n"
          "module d = GroupNorm(1, 8) : x -> d1\n")


# --- compiled ---------------------------------------------------------------------------------------------


def test_the_model_compiles_to_torch_s_classes_with_torch_s_state_dict_names() -> None:
    program = rldsl.compile(MODEL, seed=0)
    for name, _, _ in USES:
        layer = program[name].module
        expected = TORCH[name]()
        assert type(layer) is type(expected), name  # a lazy layer becomes its sized class
        assert list(layer.state_dict()) == STATE[name] == list(expected.state_dict()), name
        for attribute in ("num_features", "eps", "momentum", "affine", "track_running_stats", "normalized_shape",
                          "elementwise_affine", "num_groups", "num_channels"):
            assert getattr(layer, attribute, None) == getattr(expected, attribute, None), (name, attribute)
        layer.load_state_dict(expected.state_dict())  # torch checkpoints load


@pytest.mark.parametrize("training", [True, False])
def test_the_compiled_layers_run_with_the_checked_shapes(training: bool) -> None:
    program = rldsl.compile(MODEL, seed=0)
    for name in program:
        program[name].train(training)
        out = program[name](program.spec_random_input(name, (3,)))
        for key in program.writes(name):
            static = program.static_spec(key)
            assert tuple(out.get(key).shape) == (3, *shape_of(static.shape)), (name, key)
            assert out.get(key).dtype == torch_dtype(static.dtype)


def test_the_compiled_layer_computes_what_torch_computes() -> None:
    program = rldsl.compile(MODEL, seed=0)
    x = program.spec_random_input("gn", (5,))
    expected = nn.GroupNorm(2, 4)(x["img"])  # fresh affine parameters are ones and zeros, as compiled
    assert torch.allclose(program["gn"](x)["gn_out"], expected, atol=1e-6)
    layer = program["bn1"].module
    batch = torch.randn(6, 8)
    program["bn1"].train(True)
    program["bn1"](TensorDict(x=batch, batch_size=[6]))
    assert torch.allclose(layer.running_mean, 0.1 * batch.mean(0), atol=1e-6)
    assert int(layer.num_batches_tracked) == 1


def test_momentum_none_is_passed_to_torch() -> None:
    program = rldsl.compile(MODEL, seed=0)
    assert program["bn2"].module.momentum is None
    assert program["bn1"].module.momentum == pytest.approx(0.1)


def test_compiling_in_f64_gives_f64_statistics() -> None:
    program = rldsl.compile(MODEL, dtype="f64")
    assert program["bn1"].module.running_var.dtype == torch.float64
    assert program["lbn2"].module.weight.dtype == torch.float64
    out = program["ln"](program.spec_random_input("ln", (2,)))
    assert out["ln_out"].dtype == torch.float64


def test_a_meta_run_confirms_the_checked_shapes() -> None:
    """On ``meta`` (a momentum of `none` divides by a count, which meta tensors cannot read: left out)."""
    program = rldsl.compile(MODEL.replace(", momentum=none", ""), device="meta")
    for name in program:
        out = program[name](program.spec_random_input(name, (4,)))
        for key in program.writes(name):
            assert out.get(key).device.type == "meta"
            assert tuple(out.get(key).shape) == (4, *shape_of(program.static_spec(key).shape)), (name, key)


def test_a_lazy_batch_norm_without_running_statistics_compiles() -> None:
    # the compiler sizes lazy layers on a batch of two: one value per channel would be refused
    program = rldsl.compile("key x : f32[8]\nmodule m = LazyBatchNorm1d(track_running_stats=false) : x -> y\n")
    assert program["m"].module.num_features == 8


@settings(max_examples=10, deadline=None)
@given(channels=st.integers(1, 6), per_group=st.integers(1, 3), height=st.integers(1, 4), width=st.integers(2, 4),
       batch=st.integers(2, 3))
def test_random_sizes_run_with_the_checked_shapes(channels: int, per_group: int, height: int, width: int,
                                                    batch: int) -> None:
    groups, total = channels, channels * per_group
    text = (f"key v : f32[{total}]\nkey p : f32[{total}, {height}, {width}]\n"
            f"module a = BatchNorm1d({total}) >> LayerNorm({total}) >> GroupNorm({groups}, {total}) : v -> a_out\n"
            f"module b = BatchNorm2d({total}) >> GroupNorm({groups}, {total}) >> InstanceNorm2d({total}) "
            f">> LayerNorm([{total}, {height}, {width}]) : p -> b_out\n")
    program = rldsl.compile(text, seed=0)
    for name in program:
        out = program[name](program.spec_random_input(name, (batch,)))
        for key in program.writes(name):
            assert tuple(out.get(key).shape) == (batch, *shape_of(program.static_spec(key).shape)), (name, key)
