"""Multi-agent kinds: the value mixers ``QMixer`` and ``VDNMixer``, and ``MultiAgentConvNet``
(``MultiAgentMLP`` is with the other MLPs in :mod:`rldsl.lang.kinds.networks`).

A mixer reads the value each agent gives its chosen action, ``[*B, n_agents, 1]`` (what a
Q-value module writes as ``chosen_action_value`` per agent), and for ``QMixer`` the global state
``[*B, *state_shape]``; it writes the joint value ``[*B, 1]``::

    module mix = QMixer(state_shape=[16], mixing_embed_dim=32, n_agents=n_agents)
               : agents.chosen_action_value, state -> global_value

A wrong agent count (E0430), values without their trailing 1 (E0431), a state of another shape
(E0432) or with other batch dims (E0433) are reported at the argument or the call that disagrees.
``MultiAgentConvNet`` reads one image per agent, ``[*B, n_agents, C, H, W]`` (E0434 otherwise),
and gives ``[*B, n_agents, features]`` with the output-size rule of ``ConvNet``
(:mod:`rldsl.lang.kinds.conv`: a layer that would leave an empty image is E0420 at its argument).
"""

from __future__ import annotations

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Network
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_positive, float_inputs
from rldsl.lang.kinds._rules import product
from rldsl.lang.kinds.conv import build_conv, layer_sizes, per_layer
from rldsl.lang.source import Span

A = ArgType

# ---------------------------------------------------------------------------------------------
# Mixers


def _build_mixer(lo: LoweringContext, args: Args) -> Network:
    names = [name for name in ("state_shape", "mixing_embed_dim", "n_agents") if name in args.values]
    check_positive(lo, args, *names)
    return Network(args.kind, args, args.span)


def _positive(args: Args, *names: str) -> bool:
    """Whether ``names`` hold sizes above 0 (or unknown ones); E0606 was reported for the others,
    so the type rule stops quietly."""
    for name in names:
        if not args.ok(name):
            return False
        value = args[name]
        for item in value if isinstance(value, tuple) else (value,):
            size = T.dim_value(item)
            if size is not None and size < 1:
                return False
    return True


def _dim_text(dim: object) -> str:
    """A dim as messages show it: ``4``, or ``n_agents (3)`` for a named one."""
    value = T.dim_value(dim)
    return str(dim) if value is None or str(dim) == str(value) else f"{dim} ({value})"


def _size(dim: object) -> object:
    """A dim's value when known (what to write as an argument), else the dim."""
    value = T.dim_value(dim)
    return dim if value is None else value


def _lead_text(lead: tuple) -> str:
    return f"batch dims {T.shape_text(lead)}" if lead else "no batch dims"


def _input_count(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span, *, state: bool) -> bool:
    """E0407 unless a mixer is given its agents' values (and, with ``state``, the state)."""
    wanted = 2 if state else 1
    if len(inputs) == wanted:
        return True
    given = f"{len(inputs)} tensor{'s' if len(inputs) != 1 else ''}"
    if state:
        ty.report("E0407", f"{owner} reads two tensors, the agents' chosen action values and the global state, but "
                           f"is given {given}", at, label=given,
                  help="give it both keys, as in `: agents.chosen_action_value, state -> global_value`")
    else:
        ty.report("E0407", f"{owner} sums the agents' chosen action values and reads nothing else, but is given "
                           f"{given}", at, label=given,
                  help="give it the values only, as in `: agents.chosen_action_value -> global_value`; "
                       "QMixer mixes them conditioned on a state")
    return False


def _agent_values(ty: TypingContext, args: Args, owner: str, spec: T.Spec, label: str, at: Span) -> tuple | None:
    """The batch dims of the agents' values ``[*B, n_agents, 1]``, or None after E0431 / E0430."""
    shape = spec.shape
    n_agents = args["n_agents"]
    if len(shape) < 2 or T.dim_value(shape[-1]) != 1:
        per_agent = bool(shape) and args.ok("n_agents") and T.dims_equal(shape[-1], n_agents)
        fix = T.spec_text(T.Unbounded((*shape, 1), spec.dtype)) if per_agent else f"{spec.dtype}[{n_agents}, 1]"
        ty.report("E0431", f"{owner} reads one value per agent, `[*B, n_agents, 1]`, but {label} is "
                           f"{T.spec_text(spec)}", at, label=f"{label} has no trailing dim of 1",
                  help=f"read the agents' chosen action values (a Q-value module writes them per agent as "
                       f"`[n_agents, 1]`), or declare the key as `{fix}`")
        return None
    if not _positive(args, "n_agents"):
        return None
    if not T.dims_equal(shape[-2], n_agents):
        ty.report("E0430", f"{owner} mixes {_dim_text(n_agents)} agents, but {label} has {_dim_text(shape[-2])} on "
                           f"its agent dim (shape {T.shape_text(shape)})", args.span_of("n_agents"),
                  label=f"{_dim_text(n_agents)} agents here",
                  labels=((at, f"{label} has {_dim_text(shape[-2])} agents"),),
                  help=f"make `n_agents` the size of the second-to-last dim of {label} (`n_agents={_size(shape[-2])}`)")
        return None
    return tuple(shape[:-2])


def _state_lead(ty: TypingContext, args: Args, spec: T.Spec, label: str, lead: tuple, at: Span) -> bool:
    """E0432 unless the state ends with ``state_shape``, E0433 unless its batch dims are ``lead``."""
    if not _positive(args, "state_shape", "mixing_embed_dim"):
        return False
    wanted = args["state_shape"]
    wanted = wanted if isinstance(wanted, tuple) else (wanted,)
    shape = spec.shape
    size = len(wanted)
    if len(shape) < size or not T.shapes_equal(tuple(shape[len(shape) - size:]), wanted):
        guess = T.shape_text(shape[len(lead):]) if T.shapes_equal(tuple(shape[:len(lead)]), lead) else \
            T.shape_text(shape)
        ty.report("E0432", f"QMixer's `state_shape` is {T.shape_text(wanted)}, but the state {label} is "
                           f"{T.spec_text(spec)}", args.span_of("state_shape"),
                  label=f"the state is {T.spec_text(spec)}", labels=((at, f"reads {label} as the state"),),
                  help=f"make `state_shape` the shape of the state key without batch dims (`state_shape={guess}`)")
        return False
    state_lead = tuple(shape[:len(shape) - size])
    if not T.shapes_equal(state_lead, lead):
        ty.report("E0433", f"QMixer needs the agents' values and the state for the same samples, but the values "
                           f"have {_lead_text(lead)} and the state {_lead_text(state_lead)}", at,
                  label="different batch dims",
                  help="read a global state with one entry per sample (`[*B, *state_shape]`), not one per agent; "
                       "give `state_shape` every dim of the state")
        return False
    return True


def _infer_qmixer(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                  at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _input_count(ty, "QMixer", inputs, at, state=True) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, "QMixer", at, weighted=True):
        return None
    lead = _agent_values(ty, args, "QMixer", inputs[0], labels[0], at)
    if lead is None or not _state_lead(ty, args, inputs[1], labels[1], lead, at):
        return None
    return [T.Unbounded((*lead, 1), inputs[0].dtype)]


def _infer_vdn(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
               at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _input_count(ty, "VDNMixer", inputs, at, state=False) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, "VDNMixer", at):
        return None
    lead = _agent_values(ty, args, "VDNMixer", inputs[0], labels[0], at)
    if lead is None:
        return None
    return [T.Unbounded((*lead, 1), inputs[0].dtype)]


_N_AGENTS = Param("n_agents", A.INT, doc="number of agents (the second-to-last dim of the agents' values)",
                  positional=True)
_MIXER_RULE = ("`f[*B, n_agents, 1]` (the agents' chosen action values){state} gives the joint value `f[*B, 1]`; "
               "the agent dim must be `n_agents`")

QMIXER = Kind(
    name="QMixer",
    family=Family.NETWORK,
    runtime="rldsl.modules.QMixer",
    summary="QMIX: mixes the agents' chosen action values into one joint value with a network whose non-negative "
            "weights a hypernetwork computes from the global state (monotone in every agent's value).",
    params=(
        Param("state_shape", A.INTS, doc="the global state's shape without batch dims", positional=True),
        Param("mixing_embed_dim", A.INT, doc="hidden size of the mixing network", positional=True,
              aka=("embed_dim", "hidden")),
        _N_AGENTS,
    ),
    reads="the agents' chosen action values `[*B, n_agents, 1]`, then the global state `[*B, *state_shape]`",
    writes="the joint value `[*B, 1]`",
    rule=_MIXER_RULE.format(state=" and the state `f[*B, *state_shape]` (same `*B`)"),
    omitted=(("device", "chosen when compiling"),),
    build=_build_mixer,
    infer=_infer_qmixer,
)

VDN_MIXER = Kind(
    name="VDNMixer",
    family=Family.NETWORK,
    runtime="rldsl.modules.VDNMixer",
    summary="VDN: the joint value is the sum of the agents' chosen action values (no parameters, no state).",
    params=(_N_AGENTS,),
    reads="the agents' chosen action values `[*B, n_agents, 1]`",
    writes="the joint value `[*B, 1]`",
    rule=_MIXER_RULE.format(state=""),
    omitted=(("device", "chosen when compiling"),),
    build=_build_mixer,
    infer=_infer_vdn,
)

# ---------------------------------------------------------------------------------------------
# MultiAgentConvNet


def _build_multiagent_conv(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "n_agents")
    return build_conv(lo, args)


def _agent_images(ty: TypingContext, args: Args, inputs: list[T.Spec], labels: list[str], at: Span) -> T.Spec | None:
    """The one float input ``[*B, n_agents, C, H, W]`` of a MultiAgentConvNet, or None after a diagnostic."""
    if len(inputs) != 1:
        ty.report("E0407", f"MultiAgentConvNet reads one tensor of images, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs", help="read one key holding every agent's image, `[n_agents, C, H, W]`")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "MultiAgentConvNet", at, weighted=True):
        return None
    spec = inputs[0]
    if len(spec.shape) < 4:
        ty.report("E0434", f"MultiAgentConvNet reads one image per agent, `[*B, n_agents, C, H, W]`, but {labels[0]} "
                           f"is {T.spec_text(spec)}", at, label=f"{labels[0]} has {len(spec.shape)} dims",
                  help="declare the key with the agents before channels, height and width, as "
                       "`f32[n_agents, 3, 84, 84]`")
        return None
    if not _positive(args, "n_agents"):
        return None
    n_agents = args["n_agents"]
    if not T.dims_equal(spec.shape[-4], n_agents):
        ty.report("E0430", f"MultiAgentConvNet has {_dim_text(n_agents)} agents, but {labels[0]} has "
                           f"{_dim_text(spec.shape[-4])} on its agent dim (shape {T.shape_text(spec.shape)})",
                  args.span_of("n_agents"), label=f"{_dim_text(n_agents)} agents here",
                  labels=((at, f"{labels[0]} has {_dim_text(spec.shape[-4])} agents"),),
                  help=f"make `n_agents` the size of dim -4 of {labels[0]} (`n_agents={_size(spec.shape[-4])}`)")
        return None
    return spec


def _infer_multiagent_conv(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                           at: Span) -> list[T.Spec] | None:
    args, kind = net.args, net.kind
    assert args is not None and kind is not None
    spec = _agent_images(ty, args, inputs, labels, at)
    if spec is None:
        return None
    lead, channels, sizes = spec.shape[:-3], spec.shape[-3], tuple(spec.shape[-2:])
    declared = args["in_features"]
    if args.ok("in_features") and declared is not None and not T.dims_equal(declared, channels):
        ty.report("E0406", f"`in_features={declared}` but each agent's image in {labels[0]} has {channels} channels",
                  args.span_of("in_features"), label=f"the input has {channels} channels per agent (dim -3)",
                  help="drop `in_features`: the checker knows the channels per agent")
        return None
    layers = per_layer(args)
    if layers is None:
        return None
    history = [sizes]
    for index, layer in enumerate(layers):
        step = layer_sizes(ty, args, kind, layer, index, history, labels[0])
        if step is None:
            return None
        history.append(step)
        channels = layer[0]
    return [T.Unbounded((*lead, product((channels, *history[-1]))), spec.dtype)]


MULTI_AGENT_CONV_NET = Kind(
    name="MultiAgentConvNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.MultiAgentConvNet",
    summary="One ConvNet per agent (or one shared), applied along the agent dim of per-agent images.",
    params=(
        Param("n_agents", A.INT, doc="number of agents (dim -4 of the input)", positional=True),
        Param("centralized", A.BOOL, doc="each agent sees every agent's image (stacked on the channels)",
              positional=True, aka=("centralised",)),
        Param("share_params", A.BOOL, doc="all agents use the same weights", positional=True),
        Param("in_features", A.INT, None, "input channels per agent; inferred from the input when left out",
              aka=("in_channels",), meaning=Meaning.INPUT_SIZE),
        Param("depth", A.INT, None, "number of conv layers; given by the lists when left out"),
        Param("num_cells", A.INTS, None, "output channels of each layer (default `[32, 32, 32]`)",
              aka=("channels", "cells")),
        Param("kernel_sizes", A.INTS, 5, "kernel size of each layer, or one for all", aka=("kernel_size", "kernels")),
        Param("strides", A.INTS, 2, "stride of each layer, or one for all", aka=("stride",)),
        Param("paddings", A.INTS, 0, "zero padding of each layer, or one for all", aka=("padding",)),
        Param("activation_class", A.ACTIVATION, "ELU", "the activation after each conv (a class: `ReLU`)"),
    ),
    reads="one float tensor of images `[*B, n_agents, C, H, W]`",
    writes="one tensor `[*B, n_agents, features]`",
    rule="`f[*B, n_agents, C, H, W]` gives `f[*B, n_agents, C' * H' * W']`: each layer maps a spatial size `s` to "
         "`(s + 2 * padding - kernel) // stride + 1` (at least 1) and the channels to its `num_cells` entry, as "
         "ConvNet's; dim -4 must be `n_agents`; `in_features`, when given, equals `C`",
    omitted=(("device", "chosen when compiling"), ("use_td_params", "where the parameters are kept at runtime"),
             ("kwargs", "the ConvNet arguments listed here; its output stays flat (SquashDims) so that every agent "
                        "gives a feature vector")),
    input_dim=-3,
    build=_build_multiagent_conv,
    infer=_infer_multiagent_conv,
)

KINDS = (QMIXER, VDN_MIXER, MULTI_AGENT_CONV_NET)
