"""Network kinds: plain ``nn.Module`` s that map tensors to tensors.

``MLP`` (rldsl's, torchrl's arguments), ``Linear`` (torch's), the activations (usable as
``activation_class=Tanh`` and as a stage, ``MLP(...) >> Tanh()``), tensordict's
``NormalParamExtractor`` and ``MultiAgentMLP``. A network has no keys: it becomes a module when a
declaration gives it keys (``: observation -> hidden``) or a kind such as ``Actor`` wraps it.

Network rules take the specs of the input tensors, in order, and give the specs of the outputs.
"""

from __future__ import annotations

import math
import re

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Network
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import (
    check_positive,
    feature_sum,
    float_inputs,
    last_dims,
    out_shape,
    per_layer_kwargs,
    product,
    through,
)
from rldsl.lang.source import Span

A = ArgType

# ---------------------------------------------------------------------------------------------
# MLP


def _build_mlp(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "out_features", "in_features", "num_cells")
    check_positive(lo, args, "depth", allow_zero=True)
    _depth_and_cells(lo, args)
    _noisy_single_bias(lo, args)
    dropout = args["dropout"]
    if args.ok("dropout") and dropout is not None and not 0 <= dropout < 1:
        lo.report("E0606", f"`dropout` is a probability in [0, 1), got {dropout}", args.span_of("dropout"),
                  label="not a probability", help="use a value such as `dropout=0.1`")
    return Network(args.kind, args, args.span)


#: Layer classes whose bias is noisy, so that an MLP cannot replace it by one shared bias.
_NOISY_LAYERS = frozenset({"NoisyLinear"})


def _noisy_single_bias(lo: LoweringContext, args: Args) -> None:
    """E0608 for `single_bias_last_layer=true` with a noisy `layer_class`: the MLP would replace the
    output layer's bias by one shared scalar, which a noisy layer (its bias is noisy) refuses, as
    the runtime MLP does with a ValueError."""
    if not args.ok("layer_class", "single_bias_last_layer") or args["single_bias_last_layer"] is not True:
        return
    layer = args["layer_class"]
    name = layer.name if isinstance(layer, Kind) else layer
    if name in _NOISY_LAYERS:
        lo.report("E0608", f"`single_bias_last_layer=true` cannot be used with `layer_class={name}`",
                  args.span_of("single_bias_last_layer"), label="a shared bias for a noisy output layer",
                  labels=((args.span_of("layer_class"), "its bias is noisy"),),
                  help="drop `single_bias_last_layer=true` (the noisy layer keeps its own bias), or use "
                       "`layer_class=Linear`")


def _depth_and_cells(lo: LoweringContext, args: Args) -> None:
    """E0606 when `depth` and `num_cells` disagree (MLP and MultiAgentMLP resolve them alike)."""
    depth, cells = args["depth"], args["num_cells"]
    if args.ok("depth", "num_cells"):
        if isinstance(cells, (int, T.Sym)) and cells is not None and depth is None:
            lo.report("E0606", "an integer `num_cells` needs `depth`", args.span_of("num_cells"),
                      label="how many layers of this size?",
                      help="give the depth, as in `num_cells=64, depth=2`, or list the layers: `num_cells=[64, 64]`")
        elif isinstance(cells, tuple) and depth is not None and T.dim_value(depth) not in (None, len(cells)):
            layers = f"{len(cells)} layer{'s' if len(cells) != 1 else ''}"
            if args.given("depth"):
                at, help_ = args.span_of("depth"), "drop `depth`: the list of cells gives it"
            else:  # the default of a class that holds this MLP (DdpgCnnActor's depth 2)
                at, help_ = args.span_of("num_cells"), f"`depth` is {depth} here by default: list {depth} sizes, " \
                                                       f"or give `depth={len(cells)}` with them"
            lo.report("E0606", f"`num_cells` lists {layers} but `depth` is {depth}", at,
                      label="does not match `depth`" if not args.given("depth") else "does not match `num_cells`",
                      help=help_)


def _activated(args: Args, shape: tuple, dtype: str) -> T.Spec:
    """The output of a layer, bounded when an activation with a known range comes last."""
    activation = args["activation_class"] if "activation_class" in args.values else None
    last = args["activate_last_layer"] if "activate_last_layer" in args.values else False
    if last is True and isinstance(activation, Kind) and activation.output_range is not None:
        low, high = activation.output_range
        return T.Bounded(shape, dtype, low, high)
    return T.Unbounded(shape, dtype)


def _infer_mlp(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
               at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not inputs:
        ty.report("E0407", "an MLP reads at least one tensor", at, label="no inputs",
                  help="give the module its input keys, as in `: observation -> hidden`")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "MLP", at, weighted=True):
        return None
    lead = last_dims(ty, inputs, labels, "MLP", at)
    if lead is None:
        return None
    features = feature_sum(inputs)
    declared = args["in_features"]
    if args.ok("in_features") and declared is not None and not T.dims_equal(declared, features):
        ty.report("E0406", f"`in_features={declared}` but the MLP reads {features} features",
                  args.span_of("in_features"),
                  label=f"the inputs have {features} features",
                  help="drop `in_features`: the checker knows the input size")
        return None
    if not args.ok("out_features", "activation_class") or not _norms_fit(ty, args, lead, inputs[0].dtype, at):
        return None
    return [_activated(args, (*lead, *out_shape(args["out_features"])), inputs[0].dtype)]


def _hidden_widths(args: Args) -> list | None:
    """The width of each hidden layer, resolved from ``depth`` and ``num_cells`` as torchrl does
    (both left out: no hidden layer); None when they are invalid."""
    if not args.ok("depth", "num_cells"):
        return None
    depth, cells = args["depth"], args["num_cells"]
    if isinstance(cells, tuple):
        return list(cells)
    if cells is None:
        return [32] * (T.dim_value(depth) or 0) if depth is not None else []
    count = T.dim_value(depth) if depth is not None else None
    return [cells] * count if count is not None else None


def _norms_fit(ty: TypingContext, args: Args, lead: tuple, dtype: str, at: Span) -> bool:
    """The per-layer dicts counted (``layer_kwargs``: one per linear layer; ``activation_kwargs``
    and ``norm_kwargs``: one per activation), and the norm layer after each hidden layer (and the
    last, with ``activate_last_layer``) typed by its own kind on that layer's output: a
    BatchNorm1d's ``num_features`` must be its width."""
    if "norm_kwargs" not in args.values:  # a kind sharing this rule without norms
        return True
    widths = _hidden_widths(args)
    if widths is None or not args.ok("activate_last_layer", "out_features", "norm_kwargs", "layer_kwargs",
                                     "activation_kwargs"):
        return False
    if args["activate_last_layer"] is True:
        widths.append(product(out_shape(args["out_features"])))
    counted = [per_layer_kwargs(ty, args, name, count, what) is not None or not isinstance(args[name], tuple)
               for name, count, what in (("layer_kwargs", len(widths) + 1 - (args["activate_last_layer"] is True),
                                          "linear layers"),
                                         ("activation_kwargs", len(widths), "activations"))]
    norms = per_layer_kwargs(ty, args, "norm_kwargs", len(widths), "norm layers")
    if not all(counted) or norms is None:
        return all(counted) and args["norm_kwargs"] is None
    for index, (width, norm) in enumerate(zip(widths, norms)):
        layer = [T.Unbounded((*lead, width), dtype)]
        if through(ty, norm, layer, [f"the output of layer {index + 1}"], at) is None:
            return False
    return True


#: The normalisation layers an MLP's ``norm_class`` may be (each a kind of its own).
NORM_CHOICES = ("BatchNorm1d", "LazyBatchNorm1d", "LayerNorm", "GroupNorm", "BatchRenorm1d")

_ACTIVATION = Param("activation_class", A.ACTIVATION, "Tanh", "the activation between layers (a class: `ReLU`)")

MLP = Kind(
    name="MLP",
    family=Family.NETWORK,
    runtime="rldsl.modules.MLP",
    summary="A multi-layer perceptron: linear layers with an activation between them.",
    params=(
        Param("in_features", A.INT, None, "input size; inferred from the inputs when left out", aka=("in",),
              meaning=Meaning.INPUT_SIZE),
        Param("out_features", A.SIZE, doc="output size, or a tuple for a multi-dim output", aka=("out", "out_size")),
        Param("depth", A.INT, None, "number of hidden layers"),
        Param("num_cells", A.INTS, None, "hidden sizes: a list, or one size with `depth`", aka=("cells", "hidden")),
        _ACTIVATION,
        Param("dropout", A.FLOAT, None, "dropout probability after each hidden layer"),
        Param("bias_last_layer", A.BOOL, True, "whether the last layer has a bias"),
        Param("single_bias_last_layer", A.BOOL, False, "one shared bias for the last layer"),
        Param("activate_last_layer", A.BOOL, False, "apply the activation after the last layer too"),
        Param("layer_class", A.LAYER, "Linear", "the class of every linear layer",
              choices=("Linear", "NoisyLinear")),
        Param("activation_kwargs", A.KWARGS, None, "the activation's arguments, as `dict(negative_slope=0.2)`; "
                                                   "or a list, one per activation",
              of="@activation_class", per_layer=True),
        Param("norm_class", A.LAYER, None, "a normalisation layer after each hidden layer (before the activation)",
              choices=NORM_CHOICES),
        Param("norm_kwargs", A.KWARGS, None, "the norm layer's arguments, as `dict(num_features=64)`; or a list, "
                                             "one per norm layer",
              of="@norm_class", per_layer=True),
        Param("layer_kwargs", A.KWARGS, None, "the layer class's further arguments, as `dict(std_init=0.1)` for "
                                              "NoisyLinear (the MLP sets the sizes); or a list, one per layer",
              of="@layer_class", fixed=("in_features", "out_features"), per_layer=True),
    ),
    reads="any number of tensors, concatenated on the last dim",
    writes="one tensor",
    rule="inputs `f[*B, d1]`, `f[*B, d2]`, ... (one float dtype, equal leading dims) give "
         "`f[*B, *out_features]`; `in_features`, when given, equals `d1 + d2 + ...`; with "
         "`activate_last_layer=true` and a bounded activation (Tanh, Sigmoid, ...) the output is bounded; the "
         "norm layer is typed on each hidden layer's output (and the last's with `activate_last_layer`)",
    omitted=(("device", "chosen when compiling"),),
    build=_build_mlp,
    infer=_infer_mlp,
)

# ---------------------------------------------------------------------------------------------
# Linear


def _build_linear(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "in_features", "out_features")
    return Network(args.kind, args, args.span)


def _one_input(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span) -> bool:
    if len(inputs) != 1:
        ty.report("E0407", f"{owner} reads one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs",
                  help="read one key, or concatenate several with an MLP first")
        return False
    return True


def _infer_linear(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                  at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _one_input(ty, "Linear", inputs, at) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, "Linear", at, weighted=True) \
            or last_dims(ty, inputs, labels, "Linear", at) is None:
        return None
    features = inputs[0].shape[-1]
    if args.ok("in_features") and not T.dims_equal(args["in_features"], features):
        ty.report("E0406", f"`Linear({args['in_features']}, ...)` reads {features} features",
                  args.span_of("in_features"),
                  label=f"{labels[0]} has {features} features",
                  help=f"the first argument of Linear is the input size: write `Linear({features}, ...)`")
        return None
    if not args.ok("out_features"):
        return None
    return [T.Unbounded((*inputs[0].shape[:-1], args["out_features"]), inputs[0].dtype)]


LINEAR = Kind(
    name="Linear",
    family=Family.NETWORK,
    runtime="torch.nn.Linear",
    summary="A linear layer, `y = x W^T + b`.",
    params=(
        Param("in_features", A.INT, doc="input size (the last dim of the input)", positional=True,
              meaning=Meaning.INPUT_SIZE),
        Param("out_features", A.INT, doc="output size", positional=True),
        Param("bias", A.BOOL, True, "whether the layer has a bias"),
    ),
    reads="one tensor",
    writes="one tensor",
    rule="`f[*B, in_features]` gives `f[*B, out_features]`",
    omitted=(("device", "chosen when compiling"), ("dtype", "the input's dtype")),
    build=_build_linear,
    infer=_infer_linear,
)

# ---------------------------------------------------------------------------------------------
# Activations


def _infer_activation(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                      at: Span) -> list[T.Spec] | None:
    kind = net.kind
    assert kind is not None
    if not _one_input(ty, kind.name, inputs, at) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, kind.name, at):
        return None
    spec = inputs[0]
    if kind.output_range is not None:
        low, high = kind.output_range
        return [T.Bounded(spec.shape, spec.dtype, low, high)]
    return [T.Unbounded(spec.shape, spec.dtype)]


def _activation(name: str, summary: str, output_range: tuple[float, float] | None = None,
                params: tuple[Param, ...] = (), omitted: tuple = (("inplace", "modules never work in place"),)) -> Kind:
    where = "" if output_range is None else f", in [{T.number_text(output_range[0])}, {T.number_text(output_range[1])}]"
    return Kind(
        name=name,
        family=Family.ACTIVATION,
        runtime=f"torch.nn.{name}",
        summary=summary,
        params=params,
        reads="one tensor",
        writes="one tensor",
        rule=f"element-wise: the output has the input's shape and dtype{where}",
        omitted=omitted,
        output_range=output_range,
        infer=_infer_activation,
    )


INF = math.inf
ACTIVATIONS = (
    _activation("Tanh", "Hyperbolic tangent.", (-1.0, 1.0), omitted=()),
    _activation("ReLU", "Rectified linear unit, `max(x, 0)`.", (0.0, INF)),
    _activation("ELU", "Exponential linear unit.", params=(Param("alpha", A.FLOAT, 1.0, "the negative saturation"),)),
    _activation("LeakyReLU", "ReLU with a small slope for negative inputs.",
                params=(Param("negative_slope", A.FLOAT, 0.01, "the slope for x < 0"),)),
    _activation("Sigmoid", "Logistic sigmoid.", (0.0, 1.0), omitted=()),
    _activation("GELU", "Gaussian error linear unit.", omitted=(),
                params=(Param("approximate", A.CHOICE, "none", "`none` or `tanh`", choices=("none", "tanh")),)),
    _activation("SiLU", "Sigmoid linear unit (swish), `x * sigmoid(x)`."),
    _activation("SELU", "Scaled exponential linear unit."),
    _activation("Mish", "Mish, `x * tanh(softplus(x))`."),
    _activation("Softplus", "Smooth ReLU, `log(1 + exp(x))`.", (0.0, INF), omitted=(),
                params=(Param("beta", A.FLOAT, 1.0, "sharpness"),
                        Param("threshold", A.FLOAT, 20.0, "linear above this"))),
    _activation("Softsign", "`x / (1 + |x|)`.", (-1.0, 1.0), omitted=()),
    _activation("Identity", "The identity: passes its input through.", omitted=(("args", "takes no arguments"),)),
)

# ---------------------------------------------------------------------------------------------
# NormalParamExtractor

_MAPPING = re.compile(r"^(softplus|exp|relu|none|expln|biased_softplus(_[0-9.eE+-]+(_[0-9.eE+-]+)?)?)$")


def _build_scale_maker(lo: LoweringContext, args: Args) -> Network:
    """NormalParamExtractor and AddStateIndependentNormalScale: a known scale mapping, a bound >= 0."""
    mapping = args["scale_mapping"]
    if args.ok("scale_mapping") and not _MAPPING.match(str(mapping)):
        lo.report("E0606", f"unknown scale mapping `{mapping}`", args.span_of("scale_mapping"),
                  label="not a scale mapping",
                  help='scale mappings are "softplus", "exp", "relu", "none", "expln", "biased_softplus_<bias>" and '
                       '"biased_softplus_<bias>_<min>"')
    if args.ok("scale_lb") and args["scale_lb"] < 0:
        lo.report("E0606", f"`scale_lb` is a lower bound of the scale and must be >= 0, got {args['scale_lb']}",
                  args.span_of("scale_lb"), label="negative", help="use a small positive value such as `1e-4`")
    return Network(args.kind, args, args.span)


def _infer_extractor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                     at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _one_input(ty, "NormalParamExtractor", inputs, at) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, "NormalParamExtractor", at):
        return None
    if last_dims(ty, inputs, labels, "NormalParamExtractor", at) is None:
        return None
    spec = inputs[0]
    size = T.dim_value(spec.shape[-1])
    if size is not None and size % 2:
        ty.report("E0405", f"NormalParamExtractor splits the last dim in two, but {labels[0]} has {size} features", at,
                  label=f"{labels[0]} is {T.spec_text(spec)}",
                  help="make the network before it output an even size, such as `out_features=2 * action.shape[-1]`")
        return None
    half = size // 2 if size is not None else T.Sym(f"{spec.shape[-1]} // 2", None)
    shape = (*spec.shape[:-1], half)
    low = max(args["scale_lb"], 0.0) if args.ok("scale_lb") else 0.0  # a negative bound is E0606 already
    return [T.Unbounded(shape, spec.dtype), T.Bounded(shape, spec.dtype, float(low), INF)]


NORMAL_PARAM_EXTRACTOR = Kind(
    name="NormalParamExtractor",
    family=Family.NETWORK,
    runtime="tensordict.nn.NormalParamExtractor",
    summary="Splits its input in two halves: a location and a positive scale.",
    params=(
        Param("scale_mapping", A.STR, "biased_softplus_1.0", "how the second half is made positive"),
        Param("scale_lb", A.FLOAT, 1e-4, "the smallest scale"),
    ),
    reads="one tensor",
    writes="two tensors: `loc` and `scale`",
    rule="`f[*B, 2d]` gives `loc: f[*B, d]` and `scale: f[*B, d] in [scale_lb, inf]`; the last dim must be even",
    build=_build_scale_maker,
    infer=_infer_extractor,
)

# ---------------------------------------------------------------------------------------------
# AddStateIndependentNormalScale


def _infer_state_independent_scale(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                                   at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    name = "AddStateIndependentNormalScale"
    if not _one_input(ty, name, inputs, at) or T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, name, at):
        return None
    spec = inputs[0]
    scale_shape = args["scale_shape"] if args.ok("scale_shape") else None
    if scale_shape is not None:
        trailing = scale_shape if isinstance(scale_shape, tuple) else (scale_shape,)
        if len(trailing) > len(spec.shape) or not T.shapes_equal(spec.shape[len(spec.shape) - len(trailing):],
                                                                  trailing):
            ty.report("E0401", f"the scale of shape {T.shape_text(trailing)} must match the trailing dims of the "
                               f"location, but {labels[0]} is {T.spec_text(spec)}", args.span_of("scale_shape"),
                      label="does not match the location", labels=((at, f"{labels[0]} is {T.spec_text(spec)}"),),
                      help=f"give the location's last dims, `scale_shape={T.shape_text(spec.shape[-1:])}`")
            return None
    low = max(args["scale_lb"], 0.0) if args.ok("scale_lb") else 0.0  # a negative bound is E0606 already
    return [spec, T.Bounded(spec.shape, spec.dtype, float(low), INF)]


ADD_STATE_INDEPENDENT_NORMAL_SCALE = Kind(
    name="AddStateIndependentNormalScale",
    family=Family.NETWORK,
    runtime="tensordict.nn.AddStateIndependentNormalScale",
    summary="Its input as a location, with a learned scale that does not depend on the input.",
    params=(
        Param("scale_shape", A.SIZE, None, "the shape of the scale: the location's trailing dims (none: one scale)",
              positional=True),
        Param("scale_mapping", A.STR, "exp", "how the learned scale is made positive"),
        Param("scale_lb", A.FLOAT, 1e-4, "the smallest scale"),
        Param("init_value", A.FLOAT, 0.0, "the initial value of the learned scale, before the mapping"),
        Param("make_param", A.BOOL, True, "learn the scale (false: a fixed buffer)"),
    ),
    reads="one tensor",
    writes="two tensors: `loc` and `scale`",
    rule="`f[*B, d]` gives `loc: f[*B, d]` (the input) and `scale: f[*B, d] in [scale_lb, inf]`; `scale_shape` "
         "must be the location's trailing dims",
    omitted=(("device", "the compiler places the module"),),
    build=_build_scale_maker,
    infer=_infer_state_independent_scale,
)

# ---------------------------------------------------------------------------------------------
# MultiAgentMLP


def _build_multiagent(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "n_agent_inputs", "n_agent_outputs", "n_agents", "num_cells")
    check_positive(lo, args, "depth", allow_zero=True)
    _depth_and_cells(lo, args)
    return Network(args.kind, args, args.span)


def _infer_multiagent(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                      at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not inputs or T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "MultiAgentMLP", at,
                                                                 weighted=True):
        return None
    lead = last_dims(ty, inputs, labels, "MultiAgentMLP", at)
    if lead is None:
        return None
    n_agents = args["n_agents"]
    if not args.ok("n_agents", "n_agent_inputs", "n_agent_outputs"):
        return None
    found = T.shape_text(inputs[0].shape)
    if not lead:
        ty.report("E0401", f"MultiAgentMLP reads `[..., n_agents, features]` with n_agents = {n_agents}, but "
                           f"{labels[0]} has shape {found}", at, label="no agent dim before the features",
                  help="declare the input with the agents before the features, as in `f32[n_agents, 8]`")
        return None
    if not T.dims_equal(lead[-1], n_agents):
        ty.report("E0430", f"MultiAgentMLP has {n_agents} agents, but {labels[0]} has {lead[-1]} on its agent dim "
                           f"(shape {found})", args.span_of("n_agents"), label=f"{n_agents} agents here",
                  labels=((at, f"{labels[0]} has {lead[-1]} agents"),),
                  help=f"make `n_agents` the size of the second-to-last dim of {labels[0]} (`n_agents={lead[-1]}`), "
                       "or declare the input with the agents before the features")
        return None
    features = feature_sum(inputs)
    declared = args["n_agent_inputs"]
    if args.ok("n_agent_inputs") and declared is not None and not T.dims_equal(declared, features):
        ty.report("E0406", f"`n_agent_inputs={declared}` but each agent reads {features} features",
                  args.span_of("n_agent_inputs"), label=f"the inputs have {features} features per agent",
                  help="drop `n_agent_inputs`, or make it the size of the last dim of the input")
        return None
    if not args.ok("n_agent_outputs"):
        return None
    return [T.Unbounded((*lead, args["n_agent_outputs"]), inputs[0].dtype)]


MULTI_AGENT_MLP = Kind(
    name="MultiAgentMLP",
    family=Family.NETWORK,
    runtime="rldsl.modules.MultiAgentMLP",
    summary="One MLP per agent (or one shared), applied along an agent dim.",
    params=(
        Param("n_agent_inputs", A.INT, None, "input features per agent; inferred when left out",
              meaning=Meaning.INPUT_SIZE),
        Param("n_agent_outputs", A.INT, doc="output features per agent"),
        Param("n_agents", A.INT, doc="number of agents (the second-to-last dim of the input)"),
        Param("centralized", A.BOOL, doc="each agent sees every agent's input"),
        Param("share_params", A.BOOL, doc="all agents use the same weights"),
        Param("depth", A.INT, None, "number of hidden layers"),
        Param("num_cells", A.INTS, None, "hidden sizes"),
        _ACTIVATION,
    ),
    reads="tensors `[*B, n_agents, features]`, concatenated on the last dim",
    writes="one tensor `[*B, n_agents, n_agent_outputs]`",
    rule="`f[*B, n_agents, d]` gives `f[*B, n_agents, n_agent_outputs]`; `n_agent_inputs`, when given, equals `d`",
    omitted=(("device", "chosen when compiling"), ("use_td_params", "an implementation detail"),
             ("mlp_kwargs", "the MLP arguments listed here")),
    build=_build_multiagent,
    infer=_infer_multiagent,
)

KINDS = (MLP, LINEAR, NORMAL_PARAM_EXTRACTOR, ADD_STATE_INDEPENDENT_NORMAL_SCALE, MULTI_AGENT_MLP, *ACTIVATIONS)
