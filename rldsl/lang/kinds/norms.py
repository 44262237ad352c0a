"""Normalisation kinds: torch's batch, layer, group and instance norms as networks.

Each is a network that reads one float tensor and gives a tensor of the same shape and dtype
(unbounded): ``BatchNorm1d/2d/3d`` and their ``Lazy`` variants, ``LayerNorm``, ``GroupNorm`` and
``InstanceNorm1d/2d/3d``. Their runtime classes are torch's own (``torch.nn.BatchNorm1d``, ...),
so their parameters, defaults and state_dict names are torch's. They are written on a key
(``module n = BatchNorm1d(8) : observation -> normed``), in a pipe, or as the ``norm_class`` of an
MLP or a ConvNet.

Where the channels are. torch reads ``(N, C, *)``: the channels on dim 1 after one batch dim. The
checker does not know where a model's batch dims end, so each rule counts the channel dim from the
end, as the networks that hold these layers see them (an MLP's hidden features ``[*B, C]``, a
ConvNet's images ``[*B, C, H, W]``, its batch dims flattened): ``BatchNorm1d`` dim -1,
``BatchNorm2d`` and ``InstanceNorm2d`` dim -3, the 3d norms dim -4, ``InstanceNorm1d``
(``[*B, C, L]``) dim -2, and ``GroupNorm`` dim -1 of a vector, -2 of a ``[C, L]`` spec and -3 of
a spec of three dims or more. Used alone on a key, the layer needs one batch dim at run time.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Network
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, check_positive, float_inputs
from rldsl.lang.source import Span

A = ArgType

__all__ = ["BATCH_NORMS", "GROUP_NORM", "INSTANCE_NORMS", "KINDS", "LAYER_NORM", "LAZY_BATCH_NORMS"]

#: The constructor arguments no norm kind takes in the language.
_OMITTED = (("device", "chosen when compiling"), ("dtype", "the compile dtype"))


@attrs.frozen(slots=True)
class _NumberOrNone(Param):
    """A number parameter that also takes `none` although its default is a number: a batch norm's
    ``momentum=none`` makes the running statistics a cumulative average (torch's ``None``)."""

    @property
    def nullable(self) -> bool:
        return True


@attrs.frozen(slots=True)
class _Layout:
    """What a channel norm reads: at least ``rank`` dims, the channels on ``channel_dim``;
    ``shape`` and ``example`` say so in the language's words."""

    rank: int
    channel_dim: int
    shape: str
    example: str
    what: str


_FEATURES = _Layout(1, -1, "`[*B, C]`", "f32[8]", "feature vectors")
_SEQUENCES = _Layout(2, -2, "`[*B, C, L]`", "f32[4, 16]", "sequences")
_IMAGES = _Layout(3, -3, "`[*B, C, H, W]`", "f32[3, 84, 84]", "images")
_VOLUMES = _Layout(4, -4, "`[*B, C, D, H, W]`", "f32[3, 16, 64, 64]", "volumes")

# ---------------------------------------------------------------------------------------------
# Argument checks (lowering)


def _check_range(lo: LoweringContext, args: Args, name: str, low: float, high: float | None, why: str,
                 example: str) -> None:
    """E0606 when the number ``name`` (when given as a finite number) lies outside ``[low, high]``
    (no upper bound when ``high`` is None); ``why`` is the label, ``example`` a value to suggest."""
    value = args[name]
    number = T.dim_value(value) if isinstance(value, T.Sym) else value
    if not args.ok(name) or not isinstance(number, (int, float)) or isinstance(number, bool) \
            or not math.isfinite(number):
        return
    if number >= low and (high is None or number <= high):
        return
    where = f"at least {low:g}" if high is None else f"in [{low:g}, {high:g}]"
    lo.report("E0606", f"`{name}` must be {where}, got {T.number_text(number)}", args.span_of(name), label=why,
              help=f"use a value such as `{name}={example}`")


def _check_numbers(lo: LoweringContext, args: Args) -> None:
    """``eps`` finite and at least 0; ``momentum`` (when the kind has it and it is not `none`) in [0, 1]."""
    has_momentum = args.kind.param("momentum") is not None
    check_finite(lo, args, "eps", *(("momentum",) if has_momentum else ()))
    _check_range(lo, args, "eps", 0.0, None, "negative", "1e-5")
    if has_momentum:
        _check_range(lo, args, "momentum", 0.0, 1.0, "not in [0, 1]", "0.1")


def _build_channel_norm(lo: LoweringContext, args: Args) -> Network:
    if args.kind.param("num_features") is not None:
        check_positive(lo, args, "num_features")
    _check_numbers(lo, args)
    return Network(args.kind, args, args.span)


def _build_layer_norm(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "normalized_shape")
    _check_numbers(lo, args)
    return Network(args.kind, args, args.span)


def _build_group_norm(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "num_groups", "num_channels")
    _check_numbers(lo, args)
    if not args.ok("num_groups", "num_channels"):
        return Network(args.kind, args, args.span)
    groups, channels = T.dim_value(args["num_groups"]), T.dim_value(args["num_channels"])
    if groups is not None and channels is not None and groups > 0 and channels > 0 and channels % groups:
        lo.report("E0447", f"GroupNorm splits {channels} channels into {groups} groups, but {channels} is not a "
                           f"multiple of {groups}", args.span_of("num_channels"),
                  label=f"not divisible by {groups}", labels=((args.span_of("num_groups"), "the number of groups"),),
                  help=f"make `num_groups` a divisor of {channels}" + _divisors_hint(channels))
    return Network(args.kind, args, args.span)


def _divisors_hint(channels: int) -> str:
    """`` (1, 2, 4, 8)``: the possible group counts, when there are few enough to list."""
    if channels > 10_000:
        return ""
    divisors = [d for d in range(1, channels + 1) if channels % d == 0]
    return f" ({', '.join(map(str, divisors))})" if len(divisors) <= 12 else ""

# ---------------------------------------------------------------------------------------------
# Typing


def _one_float_input(ty: TypingContext, owner: str, inputs: list[T.Spec], labels: list[str],
                     at: Span) -> T.Spec | None:
    """The one float tensor a norm reads, or None (after a diagnostic, or when it is unknown)."""
    if len(inputs) != 1:
        ty.report("E0407", f"{owner} reads one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs", help="normalise one key; concatenate several with an MLP first")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    return inputs[0]


def _has_rank(ty: TypingContext, owner: str, spec: T.Spec, label: str, layout: _Layout, at: Span) -> bool:
    """E0446 unless ``spec`` has at least the dims of ``layout``."""
    if len(spec.shape) >= layout.rank:
        return True
    dims = len(spec.shape)
    ty.report("E0446", f"{owner} reads {layout.what} {layout.shape}, but {label} is {T.spec_text(spec)}", at,
              label=f"{dims} dim{'s' if dims != 1 else ''}, {owner} needs at least {layout.rank}",
              help=f"declare the key with the dims {owner} reads, as `{layout.example}`")
    return False


def _size_fits(ty: TypingContext, args: Args, name: str, found: T.Dim, dim: int, owner: str, label: str) -> bool:
    """E0445 when the size argument ``name`` differs from the input's ``found`` channels on ``dim``."""
    declared = args[name]
    if not args.ok(name) or declared is None or T.dims_equal(declared, found):
        return True
    if (T.dim_value(declared) or 0) <= 0 and T.dim_value(declared) is not None:
        return False  # not a size at all: E0606 was reported
    ty.report("E0445", f"`{name}={declared}` but {owner} reads {found} channels (dim {dim} of {label})",
              args.span_of(name), label=f"{label} has {found} on dim {dim}",
              help=f"make `{name}` {found}, the size of dim {dim} of the input")
    return False


def _infer_channel_norm(layout: _Layout) -> Callable[..., list[T.Spec] | None]:
    """The rule of a batch or instance norm reading ``layout``: the input's spec, its channels (when the
    kind has ``num_features``) equal to ``num_features``."""

    def infer(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
              at: Span) -> list[T.Spec] | None:
        args, kind = net.args, net.kind
        assert args is not None and kind is not None
        spec = _one_float_input(ty, kind.name, inputs, labels, at)
        if spec is None or not _has_rank(ty, kind.name, spec, labels[0], layout, at):
            return None
        if kind.param("num_features") is not None and not _size_fits(
                ty, args, "num_features", spec.shape[layout.channel_dim], layout.channel_dim, kind.name, labels[0]):
            return None
        return [T.Unbounded(spec.shape, spec.dtype)]

    return infer


def _infer_layer_norm(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                      at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    spec = _one_float_input(ty, "LayerNorm", inputs, labels, at)
    if spec is None or not args.ok("normalized_shape"):
        return None
    value = args["normalized_shape"]
    normalized = value if isinstance(value, tuple) else (value,)
    if any(T.dim_value(d) is not None and T.dim_value(d) <= 0 for d in normalized):
        return None  # not a shape at all: E0606 was reported
    count = len(normalized)
    if len(spec.shape) < count:
        ty.report("E0446", f"LayerNorm normalises the last {count} dims, but {labels[0]} is {T.spec_text(spec)}",
                  at, label=f"{len(spec.shape)} dim{'s' if len(spec.shape) != 1 else ''}",
                  help=f"make `normalized_shape` the sizes of the input's trailing dims, as "
                       f"`{T.shape_text(spec.shape)}`" if spec.shape else "give the key a feature dim, as `f32[1]`")
        return None
    trailing = spec.shape[len(spec.shape) - count:]
    if not all(T.dims_equal(a, b) for a, b in zip(normalized, trailing)):
        last = f"the last {count} dims of {labels[0]} are" if count != 1 else f"the last dim of {labels[0]} is"
        ty.report("E0445", f"`normalized_shape={T.shape_text(normalized)}` but {last} {T.shape_text(trailing)}",
                  args.span_of("normalized_shape"), label=f"{labels[0]} is {T.spec_text(spec)}",
                  help=f"make `normalized_shape` the input's trailing dims, `{T.shape_text(trailing)}`")
        return None
    return [T.Unbounded(spec.shape, spec.dtype)]


def _group_channel_dim(rank: int) -> int:
    """Where GroupNorm's channels are in a spec of ``rank`` dims: -1, -2, then -3 (images)."""
    return -min(rank, 3)


def _infer_group_norm(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                      at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    spec = _one_float_input(ty, "GroupNorm", inputs, labels, at)
    if spec is None or not _has_rank(ty, "GroupNorm", spec, labels[0], _FEATURES, at):
        return None
    dim = _group_channel_dim(len(spec.shape))
    if not _size_fits(ty, args, "num_channels", spec.shape[dim], dim, "GroupNorm", labels[0]):
        return None
    return [T.Unbounded(spec.shape, spec.dtype)]

# ---------------------------------------------------------------------------------------------
# The kinds


def _eps() -> Param:
    return Param("eps", A.FLOAT, 1e-5, "added to the variance before its square root; at least 0")


def _affine(default: bool) -> Param:
    return Param("affine", A.BOOL, default, "learn a per-channel scale (`weight`) and shift (`bias`)")


def _bias() -> Param:
    return Param("bias", A.BOOL, True, "with `affine`, whether the shift (`bias`) is learned too")


def _channel_norm_params(sized: bool, momentum: Param, affine: bool, track: bool) -> tuple[Param, ...]:
    size = (Param("num_features", A.INT, doc="the number of channels C (the size of the input's channel dim)",
                  positional=True, meaning=Meaning.INPUT_SIZE),) if sized else ()
    return (
        *size,
        _eps(),
        momentum,
        _affine(affine),
        Param("track_running_stats", A.BOOL, track,
              "keep running statistics (used in evaluation) rather than each batch's own"),
        _bias(),
    )


def _batch_momentum() -> Param:
    return _NumberOrNone("momentum", A.FLOAT, 0.1, "the step of the running statistics towards each batch's, in "
                                                   "[0, 1]; `none`: their cumulative average")


def _batch_norm(dims: int, layout: _Layout, lazy: bool) -> Kind:
    name = f"{'Lazy' if lazy else ''}BatchNorm{dims}d"
    size = "its channels are sized on the first call" if lazy else f"C (dim {layout.channel_dim}) equals " \
                                                                    "`num_features`"
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"torch.nn.{name}",
        summary=f"Batch normalisation of {layout.what} (torch's `{name}`): each channel standardised over the batch "
                "(and the other dims), then scaled and shifted." + (" Its size is read from the first input."
                                                                     if lazy else ""),
        params=_channel_norm_params(not lazy, _batch_momentum(), True, True),
        reads="one tensor",
        writes="one tensor",
        rule=f"a float {layout.shape} gives the same spec (unbounded); {size}. At run time torch reads "
             f"`{_runtime_shape(dims)}`: one batch dim before the channels (an MLP's or a ConvNet's layers see that)",
        omitted=_OMITTED,
        input_dim=layout.channel_dim,
        build=_build_channel_norm,
        infer=_infer_channel_norm(layout),
    )


def _runtime_shape(dims: int) -> str:
    return {1: "(N, C)` or `(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[dims]


def _instance_norm(dims: int, layout: _Layout) -> Kind:
    name = f"InstanceNorm{dims}d"
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"torch.nn.{name}",
        summary=f"Instance normalisation of {layout.what} (torch's `{name}`): each channel of each sample "
                "standardised over its own spatial dims.",
        params=_channel_norm_params(True, Param("momentum", A.FLOAT, 0.1, "the step of the running statistics, "
                                                "in [0, 1] (with `track_running_stats`)"), False, False),
        reads="one tensor",
        writes="one tensor",
        rule=f"a float {layout.shape} gives the same spec (unbounded); C (dim {layout.channel_dim}) equals "
             "`num_features` (torch only warns about other channels without `affine`; the checker refuses them)",
        omitted=_OMITTED,
        input_dim=layout.channel_dim,
        build=_build_channel_norm,
        infer=_infer_channel_norm(layout),
    )


BATCH_NORMS = tuple(_batch_norm(d, layout, False) for d, layout in ((1, _FEATURES), (2, _IMAGES), (3, _VOLUMES)))
LAZY_BATCH_NORMS = tuple(_batch_norm(d, layout, True) for d, layout in ((1, _FEATURES), (2, _IMAGES), (3, _VOLUMES)))
INSTANCE_NORMS = tuple(_instance_norm(d, layout) for d, layout in ((1, _SEQUENCES), (2, _IMAGES), (3, _VOLUMES)))

LAYER_NORM = Kind(
    name="LayerNorm",
    family=Family.NETWORK,
    runtime="torch.nn.LayerNorm",
    summary="Layer normalisation (torch's `LayerNorm`): each sample standardised over its trailing "
            "`normalized_shape` dims, then scaled and shifted element-wise.",
    params=(
        Param("normalized_shape", A.INTS, doc="the sizes of the trailing dims normalised over (`8` or `[4, 8]`)",
              positional=True),
        _eps(),
        Param("elementwise_affine", A.BOOL, True, "learn a per-element scale (`weight`) and shift (`bias`)"),
        Param("bias", A.BOOL, True, "with `elementwise_affine`, whether the shift (`bias`) is learned too"),
    ),
    reads="one tensor",
    writes="one tensor",
    rule="a float `[*B, *normalized_shape]` gives the same spec (unbounded): the input's trailing dims equal "
         "`normalized_shape`",
    omitted=_OMITTED,
    build=_build_layer_norm,
    infer=_infer_layer_norm,
)

GROUP_NORM = Kind(
    name="GroupNorm",
    family=Family.NETWORK,
    runtime="torch.nn.GroupNorm",
    summary="Group normalisation (torch's `GroupNorm`): the channels split into `num_groups` groups, each "
            "standardised per sample over its channels and the other dims.",
    params=(
        Param("num_groups", A.INT, doc="the number of groups; divides `num_channels`", positional=True),
        Param("num_channels", A.INT, doc="the number of channels C", positional=True),
        _eps(),
        _affine(True),
        _bias(),
    ),
    reads="one tensor",
    writes="one tensor",
    rule="a float `[*B, C]`, `[*B, C, L]` or `[*B, C, H, W, ...]` gives the same spec (unbounded): the channels "
         "are the last dim of a vector, dim -2 of a spec of two dims and dim -3 of one of three dims or more (images, "
         "as a ConvNet's layers see them), and equal `num_channels`, which `num_groups` divides. At run time torch "
         "reads `(N, C, *)`: one batch dim before the channels",
    omitted=_OMITTED,
    build=_build_group_norm,
    infer=_infer_group_norm,
)

KINDS = (*BATCH_NORMS, *LAZY_BATCH_NORMS, LAYER_NORM, GROUP_NORM, *INSTANCE_NORMS)
