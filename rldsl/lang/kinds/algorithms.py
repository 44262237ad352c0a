"""Algorithm-specific kinds: dueling DQN heads, DDPG actors and critics, the distributional
log-softmax.

``DuelingMlpDQNet`` and ``DuelingCnnDQNet`` map an observation (a vector, or an image ``[*B, C, H,
W]``) to Q-values ``value + advantage - mean(advantage)``. ``DdpgMlpActor`` maps an observation to
an action, ``DdpgMlpQNet`` an observation and an action to one value; ``DdpgCnnActor`` maps an
image to an action and the image's embedding (two outputs, as ``NormalParamExtractor`` has two),
``DdpgCnnQNet`` an image and an action to one value. Their inner networks have torchrl's sizes,
changed as in torchrl through dicts of the inner class's arguments (``cnn_kwargs=dict(num_cells=[16,
32])``, see :mod:`rldsl.lang.kwargs`); each inner network is typed by its own kind's rule
(:func:`through`), so a ConvNet's strides decide the features. The runtime classes size their
first layers on the first call (they are lazy: no input-size argument).

``DistributionalDQNnet`` is a module: it reads raw values ``[*B, atoms, n]`` and writes their
log-softmax over the atoms, which a ``DistributionalQValueModule`` reads.

Pixel sizes follow the ConvNet's rule ``out = (size + 2 * padding - kernel) // stride + 1``: an
image too small for the kernels is E0420, an input that is not an image E0422 (the ``ConvNet``
codes).
"""

from __future__ import annotations


import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, ModuleNode, Network, Origin, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_positive, float_inputs, keys, last_dims, node, out_shape, product, through
from rldsl.lang.kinds.conv import image_input
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

A = ArgType

_DEVICE = ("device", "chosen when compiling")

# ---------------------------------------------------------------------------------------------
# Shared checks


def _counted(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span, count: int, names: str) -> bool:
    """E0407 unless the network is given ``count`` tensors (``names`` says which, for the help).
    True when there are as many and their specs are known."""
    if len(inputs) != count:
        ty.report("E0407", f"{owner} reads {names}, but is given {len(inputs)} tensor{'s' if len(inputs) != 1 else ''}",
                  at, label=f"{len(inputs)} input{'s' if len(inputs) != 1 else ''}",
                  help=f"give it {count} key{'s' if count != 1 else ''}: {names}")
        return False
    return not T.is_unknown(*inputs)


def _inputs(ty: TypingContext, owner: str, inputs: list[T.Spec], labels: list[str], at: Span, count: int,
            names: str) -> bool:
    """:func:`_counted`, then the float checks (E0503, E0504, E0515). True when the inputs can be typed."""
    return _counted(ty, owner, inputs, at, count, names) and float_inputs(ty, inputs, labels, owner, at,
                                                                         weighted=True)


def _vector(ty: TypingContext, owner: str, spec: T.Spec, label: str, at: Span) -> tuple | None:
    """The batch dims of a vector input ``[*B, d]`` (E0401 for a scalar)."""
    return last_dims(ty, [spec], [label], owner, at)


def _same_batch(ty: TypingContext, owner: str, first: tuple, second: tuple, labels: list[str],
                shapes: tuple[tuple, tuple], at: Span) -> bool:
    """E0401 unless the batch dims of two inputs (an observation and an action) are the same:
    the network concatenates their features."""
    if T.shapes_equal(first, second):
        return True
    ty.report("E0401", f"{owner} joins {labels[0]} and {labels[1]} on their last dim, but {labels[0]} has shape "
                       f"{T.shape_text(shapes[0])} and {labels[1]} {T.shape_text(shapes[1])}", at,
              label="the batch dims differ",
              help="give both keys the same dims before their features, such as `f32[n_agents, 8]` and "
                   "`f32[n_agents, 2]`")
    return False


# ---------------------------------------------------------------------------------------------
# Dueling DQN


def _value_width_fits(lo: LoweringContext, args: Args) -> None:
    """E0425 unless the value head's width is 1 or the advantages' last dim: the value is added to
    every advantage (torchrl fails at the first call otherwise)."""
    if not args.ok("out_features", "out_features_value"):
        return
    width = args["out_features_value"]
    last = out_shape(args["out_features"])[-1]
    if T.dim_value(width) == 1 or T.dims_equal(width, last):
        return
    lo.report("E0425", f"the value head's width `out_features_value={width}` does not fit the {last} advantages",
              args.span_of("out_features_value"), label=f"neither 1 nor {last}",
              help=f"use `out_features_value=1` (one state value, the usual dueling head) or `{last}`")


def _build_dueling(lo: LoweringContext, args: Args) -> Network:
    """Positive sizes (E0606) and a value head that fits the advantages (E0425)."""
    check_positive(lo, args, "out_features", "out_features_value")
    _value_width_fits(lo, args)
    return Network(args.kind, args, args.span)


def _dueling_heads(ty: TypingContext, args: Args, heads: str, features: list[T.Spec], at: Span) -> list[T.Spec] | None:
    """The advantage and value MLPs on the features (both typed); the Q-values have the advantages' spec."""
    if not args.ok("out_features", "out_features_value"):
        return None
    label = ["the features"]
    advantage = through(ty, args[heads], features, label, at, out_features=args["out_features"])
    value = through(ty, args[heads], features, label, at, out_features=args["out_features_value"])
    return None if advantage is None or value is None else advantage


def _infer_dueling_mlp(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                       at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _inputs(ty, "DuelingMlpDQNet", inputs, labels, at, 1, "one observation vector"):
        return None
    if _vector(ty, "DuelingMlpDQNet", inputs[0], labels[0], at) is None:
        return None
    features = through(ty, args["mlp_kwargs_feature"], inputs, labels, at)
    return None if features is None else _dueling_heads(ty, args, "mlp_kwargs_output", features, at)


_OUT_FEATURES = Param("out_features", A.SIZE, doc="advantages per sample (the number of actions); a tuple reshapes "
                                                  "them", positional=True, aka=("out", "n_actions"))
_OUT_FEATURES_VALUE = Param("out_features_value", A.INT, 1, "the value head's width: 1, or the advantages' last dim")


def _kwargs(name: str, of: str, doc: str, fixed: tuple[str, ...] = (), **defaults: object) -> Param:
    """A dict of an inner class's arguments (``of``), with the owner's defaults for it."""
    shown = ", ".join(f"{k}={_default_words(v)}" for k, v in defaults.items())
    return Param(name, A.KWARGS, None, f"{doc}, as {of} arguments" + (f" (default {shown})" if shown else ""),
                 of=of, fixed=fixed, inner_defaults=tuple(defaults.items()))


def _default_words(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return "[" + ", ".join(map(str, value)) + "]"
    return "none" if value is None else str(value)


def _mlp_kwargs(name: str, doc: str, fixed: tuple[str, ...] = (), **defaults: object) -> Param:
    return _kwargs(name, "MLP", doc, fixed, **defaults)


#: The dueling heads' MLP: one hidden layer of 512 (ELU); the owner sets each head's width.
_HEAD_KWARGS = _mlp_kwargs("mlp_kwargs_output", "the advantage and value heads' arguments", ("out_features",),
                           depth=1, num_cells=512, activation_class="ELU", bias_last_layer=True)

DUELING_MLP_DQNET = Kind(
    name="DuelingMlpDQNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.DuelingMlpDQNet",
    summary="A dueling Q-network on vectors: a feature MLP ([256, 256] -> 256, ELU), then advantage and value "
            "heads (512 cells, ELU) combined as `value + advantage - mean(advantage)`.",
    params=(_OUT_FEATURES, _OUT_FEATURES_VALUE,
            _mlp_kwargs("mlp_kwargs_feature", "the feature MLP's arguments", num_cells=(256, 256), out_features=256,
                        activation_class="ELU", activate_last_layer=True),
            _HEAD_KWARGS),
    reads="one tensor",
    writes="one tensor",
    rule="`f[*B, d]` gives `f[*B, *out_features]` (the feature MLP, then the heads, each typed as an MLP); "
         "`out_features_value` is 1 or the last dim of `out_features`",
    omitted=(_DEVICE,),
    build=_build_dueling,
    infer=_infer_dueling_mlp,
)

# ---------------------------------------------------------------------------------------------
# DDPG on vectors


def _build_network(lo: LoweringContext, args: Args) -> Network:
    """A network without arguments to check."""
    return Network(args.kind, args, args.span)


def _build_actor(lo: LoweringContext, args: Args) -> Network:
    """A positive action size (E0606)."""
    check_positive(lo, args, "action_dim")
    return Network(args.kind, args, args.span)


def _infer_mlp_actor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                     at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _inputs(ty, "DdpgMlpActor", inputs, labels, at, 1, "one observation vector"):
        return None
    if _vector(ty, "DdpgMlpActor", inputs[0], labels[0], at) is None or not args.ok("action_dim"):
        return None
    return through(ty, args["mlp_net_kwargs"], inputs, labels, at, out_features=args["action_dim"])


def _infer_mlp_qnet(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                    at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    owner = "DdpgMlpQNet"
    if not _inputs(ty, owner, inputs, labels, at, 2, "an observation and an action, in that order"):
        return None
    observation = _vector(ty, owner, inputs[0], labels[0], at)
    action = _vector(ty, owner, inputs[1], labels[1], at)
    if observation is None or action is None:
        return None
    if not _same_batch(ty, owner, observation, action, labels, (inputs[0].shape, inputs[1].shape), at):
        return None
    features = through(ty, args["mlp_net_kwargs_net1"], inputs[:1], labels[:1], at)
    if features is None:
        return None
    return through(ty, args["mlp_net_kwargs_net2"], [features[0], inputs[1]], ["the features", labels[1]], at)


_ACTION_DIM = Param("action_dim", A.INT, doc="the action's size", positional=True)

DDPG_MLP_ACTOR = Kind(
    name="DdpgMlpActor",
    family=Family.NETWORK,
    runtime="rldsl.modules.DdpgMlpActor",
    summary="DDPG's actor on vectors: an MLP ([400, 300], ELU) to the action, its last layer drawn from "
            "U(-3e-3, 3e-3).",
    params=(_ACTION_DIM,
            _mlp_kwargs("mlp_net_kwargs", "the MLP's arguments", ("out_features",), depth=2, num_cells=(400, 300),
                        activation_class="ELU", bias_last_layer=True)),
    reads="one tensor (the observation)",
    writes="one tensor (the action)",
    rule="`f[*B, d]` gives `f[*B, action_dim]` (typed as an MLP; unbounded: squash it with a TanhModule for a "
         "bounded action)",
    omitted=(_DEVICE,),
    build=_build_actor,
    infer=_infer_mlp_actor,
)

DDPG_MLP_QNET = Kind(
    name="DdpgMlpQNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.DdpgMlpQNet",
    summary="DDPG's critic on vectors: the observation through a 400-cell layer, joined by the action, then 300 "
            "cells to one value (ELU; last layer drawn from U(-3e-3, 3e-3)).",
    params=(_mlp_kwargs("mlp_net_kwargs_net1", "the observation MLP's arguments", out_features=400, depth=0,
                        num_cells=(), activation_class="ELU", bias_last_layer=True, activate_last_layer=True),
            _mlp_kwargs("mlp_net_kwargs_net2", "the arguments of the MLP on the features and the action",
                        out_features=1, num_cells=(300,), activation_class="ELU", bias_last_layer=True)),
    reads="two tensors: the observation, then the action",
    writes="one tensor (the state-action value)",
    rule="`f[*B, d]` and `f[*B, a]` give `f[*B, 1]`: the observation through the first MLP, joined by the action, "
         "through the second (each typed as an MLP)",
    omitted=(_DEVICE,),
    build=_build_network,
    infer=_infer_mlp_qnet,
)

# ---------------------------------------------------------------------------------------------
# Pixel networks: the ConvNet trunk


def _ddpg_embedding(ty: TypingContext, args: Args, image: T.Spec, label: str, at: Span) -> T.Spec | None:
    """The DDPG trunk's features: its ConvNet's last image, averaged per channel (``[*B, C']``)
    with ``use_avg_pooling``, else flattened (``[*B, C' * H' * W']``)."""
    if not args.ok("use_avg_pooling"):
        return None
    maps = through(ty, args["conv_net_kwargs"], [image], [label], at)
    if maps is None:
        return None
    lead, last = maps[0].shape[:-3], maps[0].shape[-3:]
    width = last[0] if args["use_avg_pooling"] is True else product(last)
    return T.Unbounded((*lead, width), image.dtype)


def _infer_dueling_cnn(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                       at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    owner = "DuelingCnnDQNet"
    if not _counted(ty, owner, inputs, at, 1, "one image"):
        return None
    image = image_input(ty, owner, inputs[:1], labels[:1], at, 3, owner)
    features = None if image is None else through(ty, args["cnn_kwargs"], [image], labels[:1], at)
    return None if features is None else _dueling_heads(ty, args, "mlp_kwargs", features, at)


def _infer_cnn_actor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                     at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    owner = "DdpgCnnActor"
    if not _counted(ty, owner, inputs, at, 1, "one image"):
        return None
    image = image_input(ty, owner, inputs[:1], labels[:1], at, 3, owner)
    hidden = None if image is None else _ddpg_embedding(ty, args, image, labels[0], at)
    if hidden is None or not args.ok("action_dim"):
        return None
    action = through(ty, args["mlp_net_kwargs"], [hidden], ["the embedding"], at, out_features=args["action_dim"])
    return None if action is None else [action[0], hidden]


def _infer_cnn_qnet(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                    at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    owner = "DdpgCnnQNet"
    if not _counted(ty, owner, inputs, at, 2, "an image and an action, in that order"):
        return None
    image = image_input(ty, owner, inputs[:1], labels[:1], at, 3, owner)
    if image is None or not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    action = _vector(ty, owner, inputs[1], labels[1], at)
    if action is None:
        return None
    lead = image.shape[:-3]
    if not _same_batch(ty, owner, lead, action, labels, (image.shape, inputs[1].shape), at):
        return None
    hidden = _ddpg_embedding(ty, args, image, labels[0], at)
    if hidden is None:
        return None
    return through(ty, args["mlp_net_kwargs"], [hidden, inputs[1]], ["the embedding", labels[1]], at)


def _conv_kwargs(channels: tuple[int, ...]) -> Param:
    """The DDPG pixel nets' ConvNet: three layers (kernels 8, 4, 3; strides 4, 2, 1; paddings 0,
    0, 1; ELU); ``use_avg_pooling`` chooses how the image is reduced to features."""
    return _kwargs("conv_net_kwargs", "ConvNet", "the ConvNet's arguments", ("aggregator_class", "squeeze_output"),
                   num_cells=channels, kernel_sizes=(8, 4, 3), strides=(4, 2, 1), paddings=(0, 0, 1),
                   activation_class="ELU", aggregator_class=None, squeeze_output=False)


def _ddpg_mlp_kwargs(fixed: tuple[str, ...], **defaults: object) -> Param:
    return _mlp_kwargs("mlp_net_kwargs", "the MLP's arguments", fixed, depth=2, num_cells=200, activation_class="ELU",
                       bias_last_layer=True, **defaults)


DUELING_CNN_DQNET = Kind(
    name="DuelingCnnDQNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.DuelingCnnDQNet",
    summary="A dueling Q-network on pixels: a ConvNet (32, 64, 64 channels; kernels 8, 4, 3; strides 4, 2, 1; ELU), "
            "then advantage and value heads (512 cells, ELU) combined as `value + advantage - mean(advantage)`.",
    params=(attrs.evolve(_OUT_FEATURES, type=A.INT, doc="advantages per sample (the number of actions)"),
            _OUT_FEATURES_VALUE,
            _kwargs("cnn_kwargs", "ConvNet", "the ConvNet's arguments", num_cells=(32, 64, 64), strides=(4, 2, 1),
                    kernel_sizes=(8, 4, 3)),
            attrs.evolve(_HEAD_KWARGS, name="mlp_kwargs", target="mlp_kwargs")),
    reads="one float image `[*B, C, H, W]`",
    writes="one tensor",
    rule="`f[*B, C, H, W]` gives `f[*B, out_features]`: the ConvNet (typed as a ConvNet: with the default "
         "kernels H and W are at least 36), then the heads (typed as MLPs); `out_features_value` is 1 or "
         "`out_features`",
    omitted=(_DEVICE,),
    build=_build_dueling,
    infer=_infer_dueling_cnn,
)

_AVG_POOLING = "average each feature map to one value (else flatten them)"

DDPG_CNN_ACTOR = Kind(
    name="DdpgCnnActor",
    family=Family.NETWORK,
    runtime="rldsl.modules.DdpgCnnActor",
    summary="DDPG's actor on pixels: a ConvNet embedding (32, 64, 64 channels; kernels 8, 4, 3; strides 4, 2, 1; "
            "paddings 0, 0, 1; ELU), then an MLP (2 x 200, ELU) to the action; returns the action and the embedding.",
    params=(_ACTION_DIM, Param("use_avg_pooling", A.BOOL, False, _AVG_POOLING), _conv_kwargs((32, 64, 64)),
            _ddpg_mlp_kwargs(("out_features",))),
    reads="one float image `[*B, C, H, W]`",
    writes="two tensors: the action and the image's embedding (`hidden`)",
    rule="`f[*B, C, H, W]` gives `action: f[*B, action_dim]` and `hidden: f[*B, 64 * H' * W']` (`f[*B, 64]` with "
         "`use_avg_pooling=true`), H' and W' after the convolutions (typed as a ConvNet: with the default kernels "
         "H and W are at least 20); the action typed as an MLP on the embedding",
    omitted=(_DEVICE,),
    build=_build_actor,
    infer=_infer_cnn_actor,
)

DDPG_CNN_QNET = Kind(
    name="DdpgCnnQNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.DdpgCnnQNet",
    summary="DDPG's critic on pixels: a ConvNet (32, 64, 128 channels; kernels 8, 4, 3; strides 4, 2, 1; paddings "
            "0, 0, 1; ELU; averaged per channel), joined by the action, then an MLP (2 x 200, ELU) to one value.",
    params=(Param("use_avg_pooling", A.BOOL, True, _AVG_POOLING), _conv_kwargs((32, 64, 128)),
            _ddpg_mlp_kwargs((), out_features=1)),
    reads="two tensors: the image `[*B, C, H, W]`, then the action `[*B, a]`",
    writes="one tensor (the state-action value)",
    rule="`f[*B, C, H, W]` and `f[*B, a]` give `f[*B, 1]`: the image's embedding (typed as a ConvNet: with the "
         "default kernels H and W are at least 20) joined by the action, through the MLP",
    omitted=(_DEVICE,),
    build=_build_network,
    infer=_infer_cnn_qnet,
)

# ---------------------------------------------------------------------------------------------
# DistributionalDQNnet (a module)


def _build_log_softmax(lo: LoweringContext, args: Args) -> ModuleNode | object:
    inputs, outputs = keys(args, "in"), keys(args, "out")
    if not args.ok("in", "out"):
        return INVALID
    if not inputs:
        lo.report("E0606", "DistributionalDQNnet needs at least one key to read", args.span_of("in"),
                  label="no keys", help="leave `in` out to normalise `action_value`, or list the keys of raw values")
        return INVALID
    if len(outputs) != len(inputs):
        lo.report("E0305", f"DistributionalDQNnet writes one key per key it reads: {len(inputs)} in, "
                           f"{len(outputs)} out", args.span_of("out"), label=f"{len(outputs)} key"
                                                                              f"{'s' if len(outputs) != 1 else ''}",
                  help="list as many `out` keys as `in` keys (the same keys normalise in place)")
        return INVALID
    lo.unique(outputs, "DistributionalDQNnet")
    return node(lo, args, [Step(inputs, outputs)])


def _infer_log_softmax(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    for source, target in zip(keys(args, "in"), keys(args, "out")):
        value = ty.read(source)
        if T.is_unknown(value):
            continue
        if isinstance(value, T.Composite) or not T.is_float_dtype(value.dtype):
            ty.report("E0503", f"DistributionalDQNnet normalises float values, but `{source.dotted}` is "
                               f"{T.spec_text(value)}", source.span, label="not float values",
                      help="feed it the output of a value network, `[bins, actions]` per sample")
            continue
        if len(value.shape) < 2:
            ty.report("E0404", f"DistributionalDQNnet reads `[bins, actions]` values per sample, but `{source.dotted}` "
                               f"is {T.spec_text(value)}", source.span, label="needs two dims: bins and actions",
                      help="make the network output both, as in `MLP(out_features=(bins, actions))`")
            continue
        log_probabilities = T.Bounded(value.shape, value.dtype, float("-inf"), 0.0)
        ty.write(module, target, Typed(log_probabilities, Origin.NETWORK, ty.by(module)))


DISTRIBUTIONAL_DQNNET = Kind(
    name="DistributionalDQNnet",
    family=Family.MODULE,
    runtime="rldsl.modules.DistributionalDQNnet",
    summary="The log-softmax over the atoms (dim -2) of distributional action values, in place by default: what a "
            "DistributionalQValueModule reads.",
    params=(
        Param("in", A.KEYS, ("action_value",), "the keys of raw values `[*B, bins, n]`", target="in_keys",
              aka=("in_keys",), meaning=Meaning.INPUTS),
        Param("out", A.KEYS, ("action_value",), "where the log-probabilities go, one key per `in` key",
              target="out_keys", aka=("out_keys",)),
    ),
    reads="`action_value` (the `in` keys)",
    writes="`action_value` (the `out` keys)",
    rule="each `f[*B, bins, n]` input gives `f[*B, bins, n] in [-inf, 0]`: log-probabilities over the bins",
    build=_build_log_softmax,
    infer=_infer_log_softmax,
)

KINDS = (DUELING_MLP_DQNET, DUELING_CNN_DQNET, DDPG_MLP_ACTOR, DDPG_MLP_QNET, DDPG_CNN_ACTOR, DDPG_CNN_QNET,
         DISTRIBUTIONAL_DQNNET)
