"""Noisy network kinds: ``NoisyLinear`` (rldsl's, torchrl 0.14's arguments).

A noisy linear layer learns factorised Gaussian noise on its weights (Fortunato et al., 2017). It
is written as a network, ``NoisyLinear(out_features=4)`` (its input size is the input's last dim,
as the checker typed it, so torchrl's ``NoisyLazyLinear`` has no kind of its own), or as the layer
class of an MLP, ``MLP(out_features=4, num_cells=[64], layer_class=NoisyLinear)``, which
:mod:`rldsl.lang.kinds.networks` lists among ``MLP``'s ``layer_class`` choices.

The noise is a run-time matter the checker does not see: the layer computes with its mean weights
except under the ``random`` exploration type (or in training mode with
``use_exploration_type=false``), and draws new noise only when the program calls
``rldsl.modules.reset_noise`` (see ``docs/python_api.md``). Shapes are those of a linear layer.
"""

from __future__ import annotations

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Network
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, check_positive, float_inputs, last_dims
from rldsl.lang.source import Span

__all__ = ["KINDS", "NOISY_LINEAR"]

A = ArgType

#: The code of a noise scale the layer cannot start from (negative, or not finite).
NOISE_SCALE_CODE = "E0609"


def _build_noisy_linear(lo: LoweringContext, args: Args) -> Network:
    """Sizes positive (E0606); ``std_init`` a finite scale of at least 0 (E0609)."""
    check_positive(lo, args, "in_features", "out_features")
    _check_noise_scale(lo, args)
    return Network(args.kind, args, args.span)


def _check_noise_scale(lo: LoweringContext, args: Args) -> None:
    """E0609 for a ``std_init`` below 0 or not finite: it is the initial standard deviation of the
    noise (divided by ``sqrt(fan)``), which no negative number or infinity can be."""
    why = ": it is the noise's initial standard deviation, such as `std_init=0.5`"
    check_finite(lo, args, "std_init", code=NOISE_SCALE_CODE, why=why)
    scale = args["std_init"]
    if args.ok("std_init") and isinstance(scale, (int, float)) and scale < 0:
        lo.report(NOISE_SCALE_CODE, f"`std_init` is a standard deviation and must be >= 0, got {T.number_text(scale)}",
                  args.span_of("std_init"), label="a negative noise scale",
                  help="use a scale such as `std_init=0.5` (the paper's), or `std_init=0` to start without noise")


def _infer_noisy_linear(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                        at: Span) -> list[T.Spec] | None:
    """``f[*B, in_features] -> f[*B, out_features]``, as a linear layer (the noise keeps the shapes)."""
    args = net.args
    assert args is not None
    if len(inputs) != 1:
        ty.report("E0407", f"NoisyLinear reads one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs", help="read one key, or concatenate several with an MLP first")
        return None
    if T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, "NoisyLinear", at, weighted=True) \
            or last_dims(ty, inputs, labels, "NoisyLinear", at) is None:
        return None
    features = inputs[0].shape[-1]
    declared = args["in_features"]
    if args.ok("in_features") and declared is not None and not T.dims_equal(declared, features):
        ty.report("E0406", f"`NoisyLinear({declared}, ...)` reads {features} features", args.span_of("in_features"),
                  label=f"{labels[0]} has {features} features",
                  help=f"the first argument of NoisyLinear is the input size: write `NoisyLinear({features}, ...)`, "
                       "or leave it out (the checker knows it)")
        return None
    if not args.ok("out_features"):
        return None
    return [T.Unbounded((*inputs[0].shape[:-1], args["out_features"]), inputs[0].dtype)]


NOISY_LINEAR = Kind(
    name="NoisyLinear",
    family=Family.NETWORK,
    runtime="rldsl.modules.NoisyLinear",
    summary="A linear layer with learned, factorised Gaussian noise on its weights (noisy under the `random` "
            "exploration type only; new noise from `rldsl.modules.reset_noise`). Also a `layer_class` of `MLP`.",
    params=(
        Param("in_features", A.INT, None, "input size (the last dim of the input); inferred when left out",
              positional=True, meaning=Meaning.INPUT_SIZE),
        Param("out_features", A.INT, doc="output size", positional=True),
        Param("bias", A.BOOL, True, "whether the layer has a (noisy) bias"),
        Param("std_init", A.FLOAT, 0.5, "the noise's initial standard deviation, before division by sqrt(fan)"),
        Param("use_exploration_type", A.BOOL, True,
              "noise under the `random` exploration type (`true`) or in training mode (`false`)"),
    ),
    reads="one tensor",
    writes="one tensor",
    rule="`f[*B, in_features]` gives `f[*B, out_features]`; `in_features`, when given, equals the input's last dim",
    omitted=(("device", "chosen when compiling"), ("dtype", "the compile dtype")),
    build=_build_noisy_linear,
    infer=_infer_noisy_linear,
)

KINDS = (NOISY_LINEAR,)
