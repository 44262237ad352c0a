"""Dreamer's kinds: the pixel encoder and decoder, the RSSM prior and posterior, the actor
(networks), and the RSSM rollout and the world model (modules).

The networks, with torchrl's default sizes (``state_dim=30``, ``rnn_hidden_dim=200``) on 64x64
pixels::

    ObsEncoder     pixels f32[*B, 3, 64, 64]                 -> f32[*B, 1024]
    RSSMPrior      state [*B, 30], belief [*B, 200], action [*B, A]
                   -> prior_mean, prior_std, state [*B, 30], belief [*B, 200]
    RSSMPosterior  belief [*B, 200], embedding [*B, 1024]    -> posterior_mean, posterior_std, state [*B, 30]
    ObsDecoder     state [*B, 30], belief [*B, 200]          -> f32[*B, 3, 64, 64]
    DreamerActor   state [*B, 30], belief [*B, 200]          -> loc, scale [*B, A]

The encoder's ``num_layers`` convs (kernel 4, stride 2) map a side ``s`` to ``(s - 4) // 2 + 1``:
an image too small for them is E0450, at ``num_layers``. The decoder's transposed convs (stride
2) map ``s`` to ``2 * (s - 1) + kernel`` from a 1x1 image. The RSSM networks read the state and
the belief at their sizes (E0451) and the prior the action of its ``action_spec`` (E0452).

``RSSMRollout(prior, posterior)`` runs the two modules step by step over the time dim, the last
batch dim: each step's ``next.k`` written by them becomes the next step's ``k`` read by the
prior (``state`` and ``belief`` in Dreamer's wiring). Specs describe one step (batch dims are
never in a spec), so the rollout reads and writes what its modules do; the keys it carries must
keep their spec from step to step (E0453), and a rollout must carry one (E0454).
``WorldModelWrapper(transition_model, reward_model)`` runs its two modules in order.
"""

from __future__ import annotations

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, ModuleNode, Network, SpecArg, Step
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import (
    check_finite,
    check_positive,
    feature_sum,
    float_inputs,
    last_dims,
    node,
    product,
)
from rldsl.lang.kinds.conv import conv_output_size, image_input, smallest_input
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

A = ArgType

_DEVICE = ("device", "chosen when compiling")
_DEPTH = ("depth", "torchrl's deprecated name of `channels` (it warns): write `channels`")

#: Every conv of the encoder: a 4x4 kernel with stride 2, no padding (torchrl's).
_ENCODER_LAYER = (4, 2, 0)
#: The stride of the decoder's transposed convs.
_DECODER_STRIDE = 2
#: The decoder's kernels with 4 layers (1 -> 5 -> 13 -> 30 -> 64 pixels), else 5 per layer.
_DEFAULT_DECODER_KERNELS = (5, 5, 6, 6)
_DEFAULT_DECODER_KERNEL = 5
_INF = float("inf")


# ---------------------------------------------------------------------------------------------
# Shared checks


def _known_count(lo: LoweringContext, args: Args, name: str) -> None:
    """E0606 when a layer count is a dim of unknown size: the number of layers must be fixed."""
    value = args[name]
    if args.ok(name) and isinstance(value, T.Sym) and value.value is None:
        lo.report("E0606", f"`{name}` of {args.kind.name} is a number of layers and must be a fixed integer, got "
                           f"`{value}`", args.span_of(name), label="a size that is not fixed",
                  help=f"give `{name}` a number, as in `{name}=4`")


def _vectors(ty: TypingContext, owner: str, inputs: list[T.Spec], labels: list[str], at: Span, count: int,
             names: str) -> tuple | None:
    """The shared batch dims of ``count`` float vectors concatenated on their last dim, or None
    after E0407 (another count), E0503/E0504/E0515 (not floats in the compile dtype) or E0401
    (a scalar, or other batch dims)."""
    if len(inputs) != count:
        plural = "s" if len(inputs) != 1 else ""
        ty.report("E0407", f"{owner} reads {names}, but is given {len(inputs)} tensor{plural}", at,
                  label=f"{len(inputs)} input{plural}", help=f"give it {count} keys: {names}")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    return last_dims(ty, inputs, labels, owner, at)


def _sizes_valid(args: Args, *names: str) -> bool:
    """Whether the size arguments ``names`` can be typed with: valid, and not a known size below 1
    (already E0606 when lowering; no other diagnostic follows from it)."""
    if not args.ok(*names):
        return False
    for name in names:
        values = args[name] if isinstance(args[name], tuple) else (args[name],)
        if any(v is not None and T.dim_value(v) is not None and T.dim_value(v) < 1 for v in values):
            return False
    return True


def _width_fits(ty: TypingContext, args: Args, name: str, spec: T.Spec, label: str, what: str,
                code: str = "E0451") -> bool:
    """``code`` at the argument ``name`` when the last dim of ``spec`` is not its value (a width
    the network is built for). True when it fits or the argument is not given (None)."""
    size = args[name]
    if not args.ok(name) or size is None or T.dims_equal(size, spec.shape[-1]):
        return True
    ty.report(code, f"{args.kind.name} reads {what} of `{name}={size}` features, but {label} has "
                    f"{spec.shape[-1]}", args.span_of(name), label=f"{label} is {T.spec_text(spec)}",
              help=f"make `{name}` the width of {label} ({spec.shape[-1]}), or read a key of width {size}")
    return False


def _scale_bound(lo: LoweringContext, args: Args, name: str) -> None:
    """E0606 for a scale bound that is negative or not finite (the runtime refuses both)."""
    check_finite(lo, args, name)
    value = args[name]
    if args.ok(name) and isinstance(value, float) and value < 0:
        lo.report("E0606", f"`{name}` is the smallest scale and must be >= 0, got {T.number_text(value)}",
                  args.span_of(name), label="negative", help=f"use a small positive value, as `{name}=0.1`")


def _positive_scale(shape: tuple, dtype: str, low: object) -> T.Spec:
    """A scale at least ``low`` (0 after an error), unbounded above."""
    valid = isinstance(low, (int, float)) and not isinstance(low, bool) and 0 <= low < _INF
    return T.Bounded(shape, dtype, float(low) if valid else 0.0, _INF)


# ---------------------------------------------------------------------------------------------
# ObsEncoder


def _build_encoder(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "channels", "num_layers", "in_channels")
    _known_count(lo, args, "num_layers")
    return Network(args.kind, args, args.span)


def _infer_encoder(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                   at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    image = image_input(ty, "ObsEncoder", inputs, labels, at, 3, "the ObsEncoder")
    if image is None or not _sizes_valid(args, "channels", "num_layers", "in_channels"):
        return None
    lead, channels, sizes = image.shape[:-3], image.shape[-3], image.shape[-2:]
    declared = args["in_channels"]
    if declared is not None and not T.dims_equal(declared, channels):
        ty.report("E0406", f"`in_channels={declared}` but {labels[0]} has {channels} channels",
                  args.span_of("in_channels"), label=f"the image has {channels} channels (dim -3)",
                  help="drop `in_channels`: the checker knows the image's channels")
        return None
    layers = T.dim_value(args["num_layers"])
    if layers is None or layers < 1:
        return None  # E0606 when lowering
    out = _encoded_sizes(ty, args, sizes, layers, labels[0])
    if out is None:
        return None
    width = product((args["channels"], 2 ** (layers - 1)))
    return [T.Unbounded((*lead, product((width, *out))), image.dtype)]


def _encoded_sizes(ty: TypingContext, args: Args, sizes: tuple, layers: int, label: str) -> tuple | None:
    """The height and width after the encoder's ``layers`` convs, or None after E0450."""
    kernel, stride, padding = _ENCODER_LAYER
    out = []
    for axis, size in enumerate(sizes):
        value = T.dim_value(size)
        if value is None:
            out.append(T.Sym(f"({size} - {kernel}) // {stride} + 1 (x{layers})", None))
            continue
        chain = [value]
        for _ in range(layers):
            chain.append(conv_output_size(chain[-1], kernel, stride, padding))
            if chain[-1] <= 0:
                _report_small_image(ty, args, ("height", "width")[axis], chain, layers, label)
                return None
        out.append(chain[-1])
    return tuple(out)


def _report_small_image(ty: TypingContext, args: Args, dim_name: str, chain: list[int], layers: int,
                        label: str) -> None:
    """E0450 at ``num_layers``: the side ``chain[0]`` shrinks to nothing at layer ``len(chain) - 1``."""
    index, before = len(chain) - 1, chain[-2]
    kernel, stride, _ = _ENCODER_LAYER
    smallest = smallest_input([_ENCODER_LAYER] * layers)
    fewer = ""
    if layers > 1:
        needs = smallest_input([_ENCODER_LAYER] * (layers - 1))
        fewer = f", or use fewer layers (`num_layers={layers - 1}` needs {needs})"
    ty.report("E0450", f"layer {index} of ObsEncoder makes the {dim_name} {chain[-1]}: its {kernel}x{kernel} kernel "
                       f"(stride {stride}) does not fit the {before}-wide input",
              args.span_of("num_layers"),
              label=f"{layers} layer{'s' if layers != 1 else ''} need images of at least {smallest}x{smallest}",
              help=f"the {dim_name} of {label} goes {' -> '.join(map(str, chain))} through the layers; feed images at "
                   f"least {smallest} pixels on each side (Dreamer resizes frames to 64x64){fewer}")


OBS_ENCODER = Kind(
    name="ObsEncoder",
    family=Family.NETWORK,
    runtime="rldsl.modules.ObsEncoder",
    summary="Dreamer's observation encoder: `num_layers` blocks of `Conv2d(kernel 4, stride 2) -> ReLU` with "
            "`channels`, `2 * channels`, `4 * channels`, ... channels, the last feature map flattened "
            "(1024 features for 64x64 pixels by default).",
    params=(
        Param("channels", A.INT, 32, "output channels of the first conv (each next layer doubles them)"),
        Param("num_layers", A.INT, 4, "the number of conv blocks"),
        Param("in_channels", A.INT, None, "input channels; inferred from the image when left out",
              meaning=Meaning.INPUT_SIZE),
    ),
    reads="one float image `[*B, C, H, W]`",
    writes="one tensor (the embedding)",
    rule="`f[*B, C, H, W]` gives `f[*B, channels * 2^(num_layers - 1) * H' * W']`: each layer maps a side `s` to "
         "`(s - 4) // 2 + 1`, which must stay at least 1 (64 -> 31 -> 14 -> 6 -> 2: 1024 features with the "
         "defaults; 4 layers need at least 46 pixels); `in_channels`, when given, equals `C`",
    omitted=(_DEPTH, _DEVICE),
    input_dim=-3,
    build=_build_encoder,
    infer=_infer_encoder,
)

# ---------------------------------------------------------------------------------------------
# ObsDecoder


def _decoder_kernels(args: Args) -> tuple | None:
    """One kernel per transposed conv (torchrl's defaults, one value for all, or the list), or
    None when the arguments are invalid."""
    if not args.ok("num_layers", "kernel_sizes"):
        return None
    layers = T.dim_value(args["num_layers"])
    if layers is None or layers < 2:
        return None
    kernels = args["kernel_sizes"]
    if kernels is None:
        return _DEFAULT_DECODER_KERNELS if layers == len(_DEFAULT_DECODER_KERNELS) else \
            (_DEFAULT_DECODER_KERNEL,) * layers
    if isinstance(kernels, tuple):
        return kernels if len(kernels) == layers else None
    return (kernels,) * layers


def _build_decoder(lo: LoweringContext, args: Args) -> Network:
    """Positive sizes (E0606), at least two layers (E0606) and one kernel per layer (E0421)."""
    check_positive(lo, args, "channels", "num_layers", "kernel_sizes", "latent_dim", "out_channels")
    _known_count(lo, args, "num_layers")
    layers = T.dim_value(args["num_layers"]) if args.ok("num_layers") else None
    if layers is not None and 0 < layers < 2:
        lo.report("E0606", f"ObsDecoder needs at least 2 layers, got `num_layers={layers}`", args.span_of("num_layers"),
                  label="one transposed conv",
                  help="use `num_layers=2` or more (torchrl's one-layer decoder fails at its first call)")
    kernels = args["kernel_sizes"]
    if layers is not None and layers >= 2 and args.ok("kernel_sizes") and isinstance(kernels, tuple) \
            and len(kernels) != layers:
        lo.report("E0421", f"`kernel_sizes` lists {len(kernels)} kernels, but ObsDecoder has {layers} layers",
                  args.span_of("kernel_sizes"), label=f"{len(kernels)} kernel{'s' if len(kernels) != 1 else ''}",
                  labels=((args.span_of("num_layers"), f"{layers} layers"),) if args.given("num_layers") else (),
                  help=f"give one kernel per layer ({layers}), or one for all (`kernel_sizes={kernels[0]}`)")
    return Network(args.kind, args, args.span)


def _infer_decoder(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                   at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    lead = _vectors(ty, "ObsDecoder", inputs, labels, at, 2, "a state and a belief, in that order")
    if lead is None or not _sizes_valid(args, "latent_dim", "out_channels", "kernel_sizes", "num_layers"):
        return None
    latent = feature_sum(inputs)
    declared = args["latent_dim"]
    if declared is not None and not T.dims_equal(declared, latent):
        ty.report("E0406", f"`latent_dim={declared}` but ObsDecoder reads {latent} features (the state and the belief "
                           "joined)", args.span_of("latent_dim"), label=f"the inputs have {latent} features",
                  help="drop `latent_dim`: the checker knows the state and belief sizes")
        return None
    kernels = _decoder_kernels(args)
    if kernels is None:
        return None
    side = _decoded_side(kernels)
    return [T.Unbounded((*lead, args["out_channels"], side, side), inputs[0].dtype)]


def _decoded_side(kernels: tuple) -> T.Dim:
    """The image side after the transposed convs, from a 1x1 image: ``s -> 2 * (s - 1) + kernel``."""
    side: int = 1
    for kernel in kernels:
        value = T.dim_value(kernel)
        if value is None:
            return T.Sym(f"the side after kernels {', '.join(map(str, kernels))}", None)
        side = _DECODER_STRIDE * (side - 1) + value
    return side


OBS_DECODER = Kind(
    name="ObsDecoder",
    family=Family.NETWORK,
    runtime="rldsl.modules.ObsDecoder",
    summary="Dreamer's observation decoder: the state and the belief joined, `Linear(32 * channels) -> ReLU`, seen "
            "as a 1x1 image, then `num_layers` transposed convs (stride 2, ReLU between): pixels, 64x64 by default.",
    params=(
        Param("channels", A.INT, 32, "channels of the last hidden feature map"),
        Param("num_layers", A.INT, 4, "the number of transposed convs (at least 2)"),
        Param("kernel_sizes", A.INTS, None, "the kernel of each transposed conv, or one for all (default `[5, 5, 6, "
                                            "6]` with 4 layers, else 5)", aka=("kernel_size",)),
        Param("latent_dim", A.INT, None, "`state_dim + rnn_hidden_dim`; inferred from the inputs when left out",
              meaning=Meaning.INPUT_SIZE),
        Param("out_channels", A.INT, 3, "the image's channels (3 for RGB, 1 for grayscale)"),
    ),
    reads="two float vectors: the state `[*B, state_dim]`, then the belief `[*B, rnn_hidden_dim]`",
    writes="one tensor (the image)",
    rule="`f[*B, s]` and `f[*B, b]` give `f[*B, out_channels, H, H]`, `H` from 1 by `2 * (H - 1) + kernel` per "
         "layer (1 -> 5 -> 13 -> 30 -> 64 with the defaults); `latent_dim`, when given, equals `s + b`; "
         "`kernel_sizes` lists one kernel per layer",
    omitted=(_DEPTH, _DEVICE),
    build=_build_decoder,
    infer=_infer_decoder,
)

# ---------------------------------------------------------------------------------------------
# RSSMPrior


def _action_spec(lo: LoweringContext, args: Args) -> T.Spec | None:
    """The action spec a prior is built for: a tensor spec with a feature dim (E0452 otherwise),
    or None."""
    value = args["action_spec"]
    if not args.ok("action_spec") or not isinstance(value, SpecArg) or T.is_unknown(value.spec):
        return None
    spec = value.spec
    if isinstance(spec, T.Composite):
        lo.report("E0452", "RSSMPrior's `action_spec` is the spec of the action tensor, but this one is a composite",
                  args.span_of("action_spec"), label="a composite spec",
                  help="pass the action's own key, as in `RSSMPrior(action)`")
        return None
    if not spec.shape:
        lo.report("E0452", f"RSSMPrior joins the action to the state on their last dim, but `action_spec` is "
                           f"{T.spec_text(spec)}, a scalar", args.span_of("action_spec"), label="no feature dim",
                  help="declare the action with its features last, as `f32[1] in [-1.0, 1.0]`")
        return None
    return spec


def _build_prior(lo: LoweringContext, args: Args) -> Network:
    """Positive sizes and a finite, non-negative ``scale_lb`` (E0606); an ``action_dim`` that is
    the action spec's last dim (E0452). ``action_dim`` left out is the action spec's last dim:
    the first Linear is then built at its size instead of lazily (the same layer once sized)."""
    check_positive(lo, args, "hidden_dim", "rnn_hidden_dim", "state_dim", "action_dim")
    _scale_bound(lo, args, "scale_lb")
    spec = _action_spec(lo, args)
    if spec is None or not args.ok("action_dim"):
        return Network(args.kind, args, args.span)
    width, declared = spec.shape[-1], args["action_dim"]
    if declared is not None:
        if not T.dims_equal(declared, width):
            lo.report("E0452", f"`action_dim={declared}` but the action spec is {T.spec_text(spec)}",
                      args.span_of("action_dim"), label=f"the action has {width} features",
                      help="drop `action_dim`: the action spec gives it")
        return Network(args.kind, args, args.span)
    if T.dim_value(width) is None:
        return Network(args.kind, args, args.span)
    return Network(args.kind, args.replaced(action_dim=width), args.span)


def _infer_prior(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                 at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    lead = _vectors(ty, "RSSMPrior", inputs, labels, at, 3, "a state, a belief and an action, in that order")
    if lead is None or not args.ok("action_spec", "scale_lb") \
            or not _sizes_valid(args, "state_dim", "rnn_hidden_dim", "action_dim"):
        return None
    state, belief, action = inputs
    fits = _width_fits(ty, args, "state_dim", state, labels[0], "a state") \
        and _width_fits(ty, args, "rnn_hidden_dim", belief, labels[1], "a belief") \
        and _action_fits(ty, args, action, labels[2])
    if not fits:
        return None
    dtype = state.dtype
    states = (*lead, args["state_dim"])
    return [T.Unbounded(states, dtype), _positive_scale(states, dtype, args["scale_lb"]), T.Unbounded(states, dtype),
            T.Unbounded((*lead, args["rnn_hidden_dim"]), dtype)]


def _action_fits(ty: TypingContext, args: Args, action: T.Spec, label: str) -> bool:
    """E0452 unless the action read ends with the shape of ``action_spec``: the first Linear is
    built for the spec's features."""
    value = args["action_spec"]
    if not isinstance(value, SpecArg) or isinstance(value.spec, T.Composite) or T.is_unknown(value.spec) \
            or not value.spec.shape:
        return True  # E0452 when lowering
    shape = value.spec.shape
    if len(action.shape) >= len(shape) and T.shapes_equal(action.shape[len(action.shape) - len(shape):], shape):
        return True
    named = label.startswith("`") and label.endswith("`")
    other = f" (`RSSMPrior({label.strip('`')})`)" if named else ""
    ty.report("E0452", f"RSSMPrior is built for actions {T.spec_text(value.spec)} (its `action_spec`), but {label} is "
                       f"{T.spec_text(action)}", args.span_of("action_spec"), label=f"{label} is {T.spec_text(action)}",
              help=f"read the action the spec describes, or pass the spec of the action it reads{other}")
    return False


RSSM_PRIOR = Kind(
    name="RSSMPrior",
    family=Family.NETWORK,
    runtime="rldsl.modules.RSSMPrior",
    summary="The RSSM's prior (transition): the state and the action through `Linear -> ELU`, a GRU cell on the "
            "belief, then the prior's mean and std over the next state, a sample of it, and the next belief.",
    params=(
        Param("action_spec", A.SPEC, doc="the action's spec (its key): the action read has its shape",
              positional=True),
        Param("hidden_dim", A.INT, 200, "width of the Linear layers (the GRU cell's input size)"),
        Param("rnn_hidden_dim", A.INT, 200, "size of the belief (the GRU cell's hidden state)"),
        Param("state_dim", A.INT, 30, "size of the stochastic state"),
        Param("scale_lb", A.FLOAT, 0.1, "the smallest std"),
        Param("action_dim", A.INT, None, "size of the action; the action spec's last dim when left out"),
    ),
    reads="three float vectors: the state `[*B, state_dim]`, the belief `[*B, rnn_hidden_dim]`, the action "
          "`[*B, *action_spec.shape]`",
    writes="four tensors: the prior's mean and std, a sample of the state, the next belief",
    rule="`f[*B, state_dim]`, `f[*B, rnn_hidden_dim]` and `f[*B, A]` (`A`: the shape of `action_spec`) give "
         "`prior_mean: f[*B, state_dim]`, `prior_std: f[*B, state_dim] in [scale_lb, inf]`, `state: f[*B, "
         "state_dim]` and `belief: f[*B, rnn_hidden_dim]`; `action_dim`, when given, is the spec's last dim",
    omitted=(_DEVICE,),
    build=_build_prior,
    infer=_infer_prior,
)

# ---------------------------------------------------------------------------------------------
# RSSMPosterior


def _build_posterior(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "hidden_dim", "state_dim", "rnn_hidden_dim", "obs_embed_dim")
    _scale_bound(lo, args, "scale_lb")
    return Network(args.kind, args, args.span)


def _infer_posterior(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                     at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    lead = _vectors(ty, "RSSMPosterior", inputs, labels, at, 2,
                    "a belief and an observation embedding, in that order")
    if lead is None or not args.ok("scale_lb") \
            or not _sizes_valid(args, "state_dim", "rnn_hidden_dim", "obs_embed_dim"):
        return None
    belief, embedding = inputs
    if not _width_fits(ty, args, "rnn_hidden_dim", belief, labels[0], "a belief") \
            or not _width_fits(ty, args, "obs_embed_dim", embedding, labels[1], "an embedding", code="E0406"):
        return None
    dtype = belief.dtype
    states = (*lead, args["state_dim"])
    return [T.Unbounded(states, dtype), _positive_scale(states, dtype, args["scale_lb"]), T.Unbounded(states, dtype)]


RSSM_POSTERIOR = Kind(
    name="RSSMPosterior",
    family=Family.NETWORK,
    runtime="rldsl.modules.RSSMPosterior",
    summary="The RSSM's posterior (representation): the belief and the observation's embedding through `Linear -> "
            "ELU -> Linear` to the posterior's mean and std over the state, and a sample of it.",
    params=(
        Param("hidden_dim", A.INT, 200, "width of the hidden Linear layer"),
        Param("state_dim", A.INT, 30, "size of the stochastic state"),
        Param("scale_lb", A.FLOAT, 0.1, "the smallest std"),
        Param("rnn_hidden_dim", A.INT, None, "size of the belief; with `obs_embed_dim`, sizes the first Linear"),
        Param("obs_embed_dim", A.INT, None, "size of the observation's embedding (1024 from the default ObsEncoder "
                                            "on 64x64 pixels)"),
    ),
    reads="two float vectors: the belief `[*B, rnn_hidden_dim]`, then the observation's embedding",
    writes="three tensors: the posterior's mean and std, and a sample of the state",
    rule="`f[*B, b]` and `f[*B, e]` give `posterior_mean: f[*B, state_dim]`, `posterior_std: f[*B, state_dim] in "
         "[scale_lb, inf]` and `state: f[*B, state_dim]`; `rnn_hidden_dim` and `obs_embed_dim`, when given, equal "
         "`b` and `e`",
    omitted=(_DEVICE,),
    build=_build_posterior,
    infer=_infer_posterior,
)

# ---------------------------------------------------------------------------------------------
# DreamerActor


def _build_actor(lo: LoweringContext, args: Args) -> Network:
    """Positive sizes, and ``std_bias > std_min_val >= 0``, both finite (E0606)."""
    check_positive(lo, args, "out_features", "num_cells")
    check_positive(lo, args, "depth", allow_zero=True)
    _scale_bound(lo, args, "std_min_val")
    check_finite(lo, args, "std_bias")
    bias, low = args["std_bias"], args["std_min_val"]
    if args.ok("std_bias", "std_min_val") and isinstance(bias, float) and isinstance(low, float) and bias <= low:
        lo.report("E0606", f"`std_bias={T.number_text(bias)}` must be greater than `std_min_val="
                           f"{T.number_text(low)}`", args.span_of("std_bias"), label="not above the smallest scale",
                  help="`std_bias` is the scale at a zero pre-activation, and the scale never goes below "
                       "`std_min_val`: keep the defaults (5.0 and 1e-4) or raise `std_bias`")
    return Network(args.kind, args, args.span)


def _infer_actor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                 at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    lead = _vectors(ty, "DreamerActor", inputs, labels, at, 2, "a state and a belief, in that order")
    if lead is None or not args.ok("std_min_val") or not _sizes_valid(args, "out_features"):
        return None
    shape, dtype = (*lead, args["out_features"]), inputs[0].dtype
    return [T.Unbounded(shape, dtype), _positive_scale(shape, dtype, args["std_min_val"])]


DREAMER_ACTOR = Kind(
    name="DreamerActor",
    family=Family.NETWORK,
    runtime="rldsl.modules.DreamerActor",
    summary="Dreamer's actor: an MLP on the state and the belief joined (4 x 200, ELU) to the location and the "
            "positive scale of the action's distribution (a TanhNormal).",
    params=(
        Param("out_features", A.INT, doc="the action's size", positional=True, aka=("action_dim",)),
        Param("depth", A.INT, 4, "the number of hidden layers"),
        Param("num_cells", A.INT, 200, "units per hidden layer"),
        Param("activation_class", A.ACTIVATION, "ELU", "the activation between layers (a class: `ReLU`)"),
        Param("std_bias", A.FLOAT, 5.0, "the scale at a zero pre-activation"),
        Param("std_min_val", A.FLOAT, 1e-4, "the smallest scale"),
    ),
    reads="two float vectors: the state, then the belief",
    writes="two tensors: `loc` and `scale`",
    rule="`f[*B, s]` and `f[*B, b]` give `loc: f[*B, out_features]` and `scale: f[*B, out_features] in "
         "[std_min_val, inf]`; `std_bias > std_min_val >= 0`",
    omitted=(_DEVICE,),
    build=_build_actor,
    infer=_infer_actor,
)

# ---------------------------------------------------------------------------------------------
# RSSMRollout (a module)


def _next_of(ref: KeyRef) -> tuple[str, ...]:
    return ("next", *ref.path)


def _carried(prior: ModuleNode, posterior: ModuleNode) -> list[tuple[KeyRef, KeyRef]]:
    """``(k, next.k)`` for each key ``k`` the prior reads whose ``next.k`` the two modules write:
    what a step hands to the next one (the runtime's rule)."""
    written = {ref.path: ref for ref in (*prior.writes, *posterior.writes)}
    return [(ref, written[_next_of(ref)]) for ref in prior.reads if _next_of(ref) in written]


def _build_rollout(lo: LoweringContext, args: Args) -> ModuleNode | object:
    prior, posterior = args["rssm_prior"], args["rssm_posterior"]
    if not isinstance(prior, ModuleNode) or not isinstance(posterior, ModuleNode):
        return INVALID
    if not _carried(prior, posterior):
        reads = ", ".join(f"`{ref.dotted}`" for ref in prior.reads) or "no key"
        lo.report("E0454", "RSSMRollout carries nothing from one step to the next: the prior reads "
                           f"{reads}, and neither module writes `next.` + one of them",
                  args.span_of("rssm_prior"), label="no `next.` key of what it reads",
                  labels=((args.span_of("rssm_posterior"), "writes none either"),),
                  help="write the next state and belief under `next`, as Dreamer does: the prior `-> "
                       "next.prior_mean, next.prior_std, _prior_state, next.belief` and the posterior `-> "
                       "next.posterior_mean, next.posterior_std, next.state`")
        return INVALID
    return node(lo, args, [Step.of(prior), Step.of(posterior)], children=(prior, posterior))


def _infer_rollout(ty: TypingContext, module: ModuleNode) -> None:
    prior, posterior = module.children
    ty.module(prior)
    ty.module(posterior)
    for ref, next_ref in _carried(prior, posterior):
        current, following = ty.read(ref), ty.read(next_ref)
        if T.is_unknown(current, following) or _same_tensor(current, following):
            continue
        ty.report("E0453", f"RSSMRollout hands each step's `{next_ref.dotted}` to the next step as `{ref.dotted}`, "
                           f"but `{next_ref.dotted}` is {T.spec_text(following)} and `{ref.dotted}` "
                           f"{T.spec_text(current)}", ref.span, label=f"`{ref.dotted}` is {T.spec_text(current)}",
                  labels=((next_ref.span, f"`{next_ref.dotted}` is {T.spec_text(following)}"),),
                  help=f"declare `{ref.dotted}` with the shape and dtype of `{next_ref.dotted}`, or size the networks "
                       "for it (`state_dim`, `rnn_hidden_dim`)")


def _same_tensor(a: T.Spec, b: T.Spec) -> bool:
    """Whether a carried value keeps its shape and dtype (bounds may differ)."""
    if isinstance(a, T.Composite) or isinstance(b, T.Composite):
        return isinstance(a, T.Composite) and isinstance(b, T.Composite)
    return T.shapes_equal(a.shape, b.shape) and a.dtype == b.dtype


RSSM_ROLLOUT = Kind(
    name="RSSMRollout",
    family=Family.MODULE,
    runtime="rldsl.modules.RSSMRollout",
    summary="Rolls the RSSM over the time dim (the last batch dim): the prior, then the posterior, at each step, "
            "each step's posterior state and belief starting the next step.",
    params=(
        Param("rssm_prior", A.MODULE, doc="the prior with its keys (`: state, belief, action -> next.prior_mean, "
                                          "next.prior_std, _prior_state, next.belief`)", positional=True,
              aka=("prior",)),
        Param("rssm_posterior", A.MODULE, doc="the posterior with its keys (`: next.belief, next.encoded_latents -> "
                                              "next.posterior_mean, next.posterior_std, next.state`)",
              positional=True, aka=("posterior",)),
        Param("use_scan", A.BOOL, False, "torchrl's switch to `torch._higher_order_ops.scan`; the same steps run "
                                         "either way"),
    ),
    reads="what the prior and the posterior read that the prior does not write: `state`, `belief`, `action`, "
          "`next.encoded_latents`",
    writes="what they write: `next.prior_mean`, `next.prior_std`, the prior's sample, `next.belief`, "
           "`next.posterior_mean`, `next.posterior_std`, `next.state`",
    rule="each module's rule in turn, on one step (the time dim is the last batch dim, so specs are a step's); "
         "each key `k` the prior reads whose `next.k` they write (`state`, `belief`) is carried to the next step "
         "and keeps its shape and dtype; at least one is",
    omitted=(("compile_step", "a runtime choice: set `compile_step` on the compiled module"),
             ("compile_backend", "a runtime choice, with `compile_step`"),
             ("compile_mode", "a runtime choice, with `compile_step`")),
    build=_build_rollout,
    infer=_infer_rollout,
)

# ---------------------------------------------------------------------------------------------
# WorldModelWrapper (a module)


def _build_world_model(lo: LoweringContext, args: Args) -> ModuleNode | object:
    transition, reward = args["transition_model"], args["reward_model"]
    if not isinstance(transition, ModuleNode) or not isinstance(reward, ModuleNode):
        return INVALID
    return node(lo, args, [Step.of(transition), Step.of(reward)], children=(transition, reward))


def _infer_world_model(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)


WORLD_MODEL_WRAPPER = Kind(
    name="WorldModelWrapper",
    family=Family.MODULE,
    runtime="rldsl.modules.WorldModelWrapper",
    summary="A world model: a transition model writing the (next) world state, then a reward model reading it.",
    params=(
        Param("transition_model", A.MODULE, doc="writes the world state (Dreamer: encoder, RSSMRollout, decoder)",
              positional=True),
        Param("reward_model", A.MODULE, doc="reads the world state, writes the reward", positional=True),
    ),
    reads="what the two modules read that the transition model does not write",
    writes="everything the two modules write",
    rule="the transition model's rule, then the reward model's; the reward model may read what the transition "
         "model wrote",
    build=_build_world_model,
    infer=_infer_world_model,
)

KINDS = (OBS_ENCODER, OBS_DECODER, RSSM_PRIOR, RSSM_POSTERIOR, DREAMER_ACTOR, RSSM_ROLLOUT, WORLD_MODEL_WRAPPER)
