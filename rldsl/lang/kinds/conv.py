"""Convolutional network kinds: ``ConvNet``, ``Conv3dNet`` and the layers they end with
(``SquashDims``, ``SqueezeLayer``, ``Squeeze2dLayer``).

A ``ConvNet`` reads one float image ``[*B, C, H, W]`` (``Conv3dNet``: ``[*B, C, D, H, W]``). Each
layer maps every spatial size ``s`` to ``(s + 2*padding - kernel) // stride + 1`` and the channels
to its ``num_cells`` entry; the default aggregator (``SquashDims``) flattens channels and space into
one feature dim, so the Atari stack on ``f32[4, 84, 84]`` gives ``f32[3136]`` (64 * 7 * 7). A layer
whose output would be empty is refused at the argument that sizes it (E0420), with the sizes layer
by layer; so are per-layer lists of different lengths (E0421), inputs that are not images (E0422)
and squeezes of dims that are not 1 (E0423).
"""

from __future__ import annotations


import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Network
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_positive, float_inputs, per_layer_kwargs, product, through
from rldsl.lang.source import Span

A = ArgType

#: The per-layer arguments, in the order of a layer's geometry.
_LAYER_ARGS = ("num_cells", "kernel_sizes", "strides", "paddings")
#: ``num_cells`` when neither it nor ``depth`` is given (torchrl's default).
_DEFAULT_CELLS = (32, 32, 32)
#: Names of the spatial dims, by number of spatial dims.
_SPATIAL_NAMES = {2: ("height", "width"), 3: ("depth", "height", "width")}



@attrs.frozen(slots=True)
class _LayerOrNone(Param):
    """A layer-class parameter that also takes `none` although its default is a class:
    ``aggregator_class=none`` leaves the image as the last conv layer gives it (torchrl's
    ``aggregator_class=None``). The compiler passes None for it."""

    @property
    def nullable(self) -> bool:
        return True


# ---------------------------------------------------------------------------------------------
# Lowering: the per-layer lists


def build_conv(lo: LoweringContext, args: Args) -> Network:
    """A conv network's node: sizes positive, per-layer lists of one length (shared with MultiAgentConvNet)."""
    check_positive(lo, args, "in_features", "num_cells", "kernel_sizes", "strides", "depth")
    check_positive(lo, args, "paddings", allow_zero=True)
    _check_layer_lists(lo, args)
    return Network(args.kind, args, args.span)


def _list_lengths(args: Args) -> dict[str, int]:
    """The lengths of the per-layer arguments given as lists (``num_cells`` left out counts as
    torchrl's three layers unless ``depth`` is given)."""
    lengths = {name: len(args[name]) for name in _LAYER_ARGS if isinstance(args[name], tuple)}
    if args["num_cells"] is None and args["depth"] is None:
        lengths = {"num_cells": len(_DEFAULT_CELLS), **lengths}
    return lengths


def _check_layer_lists(lo: LoweringContext, args: Args) -> None:
    """E0421 when the per-layer lists (and ``depth``) disagree on the number of layers, or when
    nothing says how many layers there are."""
    if not args.ok("depth", *_LAYER_ARGS):
        return
    kind = args.kind.name
    lengths = _list_lengths(args)
    depth = T.dim_value(args["depth"]) if args["depth"] is not None else None
    if depth is not None and depth < 1:
        return  # E0606 from check_positive
    if depth is not None:
        for name, length in lengths.items():
            if length != depth:
                lo.report("E0421", f"`{name}` lists {_layers(length)} but `depth` is {depth}", args.span_of(name),
                          label=f"{_layers(length)}", labels=((args.span_of("depth"), f"{_layers(depth)}"),),
                          help=f"give `{name}` one entry per layer, or one value for every layer "
                               f"(`{name}={args[name][0]}`), or drop `depth`: the lists give it")
                return
        return
    if not lengths:
        lo.report("E0421", f"{kind} cannot tell how many layers it has: `num_cells`, `kernel_sizes`, `strides` and "
                           "`paddings` are single values and `depth` is not given", args.span_of("num_cells"),
                  label="one value for how many layers?",
                  help="give `depth`, as in `num_cells=32, depth=3`, or list the layers: `num_cells=[32, 64, 64]`")
        return
    first = next(iter(lengths))
    for name, length in lengths.items():
        if length != lengths[first]:
            default = first == "num_cells" and args["num_cells"] is None
            what = (f"{kind} has {_layers(lengths[first])} when `num_cells` is left out ([32, 32, 32])" if default
                    else f"`{first}` lists {_layers(lengths[first])}")
            lo.report("E0421", f"`{name}` lists {_layers(length)}, but {what}", args.span_of(name),
                      label=_layers(length),
                      labels=() if default else ((args.span_of(first), _layers(lengths[first])),),
                      help="give every per-layer list one entry per layer"
                           + (", and `num_cells` too" if default else "")
                           + f"; a single value is used for every layer (`{name}={args[name][0]}`)")
            return


def _layers(count: int) -> str:
    return f"{count} layer{'s' if count != 1 else ''}"


def per_layer(args: Args) -> list[tuple] | None:
    """``(channels, kernel, stride, padding)`` per layer, or None when the arguments are invalid."""
    if not args.ok("depth", *_LAYER_ARGS):
        return None
    lengths = _list_lengths(args)
    depth = T.dim_value(args["depth"]) if args["depth"] is not None else None
    if depth is not None and depth < 1:
        return None
    if depth is None:
        if not lengths or len(set(lengths.values())) != 1:
            return None
        depth = next(iter(lengths.values()))
    columns = []
    for name in _LAYER_ARGS:
        value = args[name]
        if name == "num_cells" and value is None:
            value = _DEFAULT_CELLS if args["depth"] is None else _DEFAULT_CELLS[:1] * depth
        if isinstance(value, tuple):
            if len(value) != depth:
                return None
            columns.append(value)
        else:
            columns.append((value,) * depth)
    return list(zip(*columns))


# ---------------------------------------------------------------------------------------------
# Typing: image in, features (or an image) out


def _spatial(kind: Kind) -> int:
    """The number of spatial dims a conv kind convolves (2 for ConvNet, 3 for Conv3dNet)."""
    return -kind.input_dim - 1


def _infer_conv(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                at: Span) -> list[T.Spec] | None:
    args, kind = net.args, net.kind
    assert args is not None and kind is not None
    spatial = _spatial(kind)
    image = image_input(ty, kind.name, inputs, labels, at, spatial + 1, "a ConvNet" if spatial == 2 else
                         "a Conv3dNet")
    if image is None:
        return None
    lead, channels, sizes = image.shape[:-spatial - 1], image.shape[-spatial - 1], image.shape[-spatial:]
    declared = args["in_features"]
    if args.ok("in_features") and declared is not None and not T.dims_equal(declared, channels):
        ty.report("E0406", f"`in_features={declared}` but {labels[0]} has {channels} channels",
                  args.span_of("in_features"), label=f"the input has {channels} channels (dim {kind.input_dim})",
                  help="drop `in_features`: the checker knows the input channels")
        return None
    layers = per_layer(args)
    if layers is None or not args.ok("aggregator_class", "squeeze_output"):
        return None
    norms = _per_layer_dicts(ty, args, len(layers))
    if norms is None:
        return None
    history = [sizes]  # the spatial sizes before each layer
    for index, (cells, _, _, _) in enumerate(layers):
        sizes = layer_sizes(ty, args, kind, layers[index], index, history, labels[0])
        if sizes is None or not _norm_fits(ty, norms[index], T.Unbounded((*lead, cells, *sizes), image.dtype),
                                           index, at):
            return None
        history.append(sizes)
        channels = cells
    shape: tuple = (*lead, channels, *sizes)
    if args["aggregator_class"] is not None:
        aggregated = through(ty, args["aggregator_kwargs"], [T.Unbounded(shape, image.dtype)], ["the last image"], at)
        if aggregated is None:
            return None
        shape = aggregated[0].shape
    if args["squeeze_output"]:
        shape = _squeezed(ty, args, kind.name, shape, tuple(range(-spatial, 0)))
        if shape is None:
            return None
    return [T.Unbounded(shape, image.dtype)]


def _per_layer_dicts(ty: TypingContext, args: Args, layers: int) -> list | None:
    """The norm layer's dict for each conv layer (None entries without a norm), after counting the
    per-layer lists of ``activation_kwargs`` and ``norm_kwargs``; None after an error."""
    names = [name for name in ("activation_kwargs", "norm_kwargs") if name in args.values]
    if not args.ok(*names):
        return None
    counted = {name: per_layer_kwargs(ty, args, name, layers, "conv layers") for name in names}
    if any(counted[name] is None and isinstance(args[name], tuple) for name in names):
        return None
    return counted.get("norm_kwargs") or [None] * layers


def _norm_fits(ty: TypingContext, norm: object, image: T.Spec, index: int, at: Span) -> bool:
    """The norm layer after conv layer ``index`` typed by its own kind on that layer's image
    (a BatchNorm2d's ``num_features`` must be the layer's channels)."""
    return norm is None or through(ty, norm, [image], [f"the output of layer {index + 1}"], at) is not None


def image_input(ty: TypingContext, owner: str, inputs: list[T.Spec], labels: list[str], at: Span,
                 rank: int, article: str) -> T.Spec | None:
    """The one float image a conv network reads, or None after a diagnostic."""
    if len(inputs) != 1:
        ty.report("E0407", f"{owner} reads one image, but is given {len(inputs)} tensors", at,
                  label=f"{len(inputs)} inputs",
                  help="read one image key; stack channels in the spec, as `f32[4, 84, 84]`")
        return None
    spec = inputs[0]
    if T.is_unknown(spec):
        return None
    layout = "[*B, C, H, W]" if rank == 3 else "[*B, C, D, H, W]"
    example = "f32[3, 84, 84]" if rank == 3 else "f32[3, 16, 64, 64]"
    if not isinstance(spec, T.Composite) and not T.is_float_dtype(spec.dtype):
        ty.report("E0503", f"{owner} reads float images, but {labels[0]} is {spec.dtype}", at,
                  label=f"{labels[0]} is {T.spec_text(spec)}",
                  help=f"pixels must be converted to floats before {article}: declare the key the model reads as "
                       f"floats (`{T.spec_text(T.Unbounded(spec.shape, 'f32'))}`) and convert the {spec.dtype} pixels "
                       "with a transform before the model (torchrl's `ToTensorImage` scales u8 to [0, 1])")
        return None
    if not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    if len(spec.shape) < rank:
        dims = f"{len(spec.shape)} dim{'s' if len(spec.shape) != 1 else ''}"
        ty.report("E0422", f"{owner} reads images `{layout}`, but {labels[0]} has {dims}", at,
                  label=f"{labels[0]} is {T.spec_text(spec)}",
                  help=f"declare the image with its channels first, as `{example}`; flat features go to an MLP")
        return None
    return spec


def layer_sizes(ty: TypingContext, args: Args, kind: Kind, layer: tuple, index: int, history: list[tuple],
                 label: str) -> tuple | None:
    """The spatial sizes after layer ``index`` (``history``: the sizes before each layer so far), or
    None after E0420 (a size would be <= 0)."""
    _, kernel, stride, padding = layer
    out = []
    for axis, size in enumerate(history[-1]):
        values = [T.dim_value(v) for v in (size, kernel, stride, padding)]
        if any(v is None for v in values):
            out.append(T.Sym(f"({size} + 2 * {padding} - {kernel}) // {stride} + 1", None))
            continue
        s, k, st, p = values
        if k < 1 or st < 1 or p < 0:
            return None  # refused when lowering (E0606)
        result = conv_output_size(s, k, st, p)
        if result <= 0:
            chain = [T.dim_value(sizes[axis]) for sizes in history]
            _report_empty_layer(ty, args, kind, layer, index, axis, chain, label)
            return None
        out.append(result)
    return tuple(out)


def _report_empty_layer(ty: TypingContext, args: Args, kind: Kind, layer: tuple, index: int, axis: int,
                        chain: list, label: str) -> None:
    """E0420 at the argument that sizes the failing layer: the first of ``kernel_sizes``,
    ``strides``, ``paddings`` written in the call (the others get secondary labels). ``chain`` is
    the size of the failing dim before each layer, the input's first."""
    _, kernel, stride, padding = layer
    kernel, stride, padding = (T.dim_value(v) for v in (kernel, stride, padding))
    dim_name = _SPATIAL_NAMES[_spatial(kind)][axis]
    size = chain[-1]
    result = (size + 2 * padding - kernel) // stride + 1
    blame = next((name for name in ("kernel_sizes", "strides", "paddings") if args.given(name)), "kernel_sizes")
    others = tuple((args.span_of(name), f"`{name}`") for name in ("kernel_sizes", "strides", "paddings")
                   if name != blame and args.given(name))
    path = " -> ".join(str(s) for s in chain)
    ty.report("E0420", f"layer {index + 1} of {kind.name} makes the {dim_name} {result}: its kernel {kernel} does not "
                       f"fit the {size}-wide input (padding {padding})",
              args.span_of(blame),
              label=f"layer {index + 1} gets a {dim_name} of {size}: ({size} + 2*{padding} - {kernel}) // {stride} + 1 "
                    f"= {result}",
              labels=others,
              help=f"the {dim_name} of {label} goes {path} through the layers; use a smaller kernel or smaller "
                   f"strides before layer {index + 1}, or pad (`paddings=...`){_smallest_text(args)}")


def _smallest_text(args: Args) -> str:
    """``; or feed images of at least N pixels ...`` for the layers of ``args``, when known."""
    layers = per_layer(args)
    known = layers and [tuple(T.dim_value(v) for v in layer[1:]) for layer in layers]
    if not known or any(v is None for layer in known for v in layer):
        return ""
    return f"; or feed images at least {smallest_input(known)} pixels on each side (resized by a transform)"


def smallest_input(layers: list[tuple]) -> int:
    """The smallest spatial size every layer of ``(kernel, stride, padding)`` leaves at least 1
    wide, worked back from the last layer: an output of ``r`` needs ``(r - 1) * stride + kernel -
    2 * padding`` inputs.

    >>> smallest_input([(8, 4, 0), (4, 2, 0), (3, 1, 0)])  # the Atari DQN's kernels
    36
    """
    size = 1
    for kernel, stride, padding in reversed(layers):
        size = max(1, (size - 1) * stride + kernel - 2 * padding)
    return size


def conv_output_size(size: int, kernel: int, stride: int, padding: int) -> int:
    """A spatial size after one convolution, as torch computes it: ``(size + 2 * padding - kernel) // stride + 1``."""
    return (size + 2 * padding - kernel) // stride + 1


def _squeezed(ty: TypingContext, args: Args, owner: str, shape: tuple, dims: tuple[int, ...],
              at: Span | None = None) -> tuple | None:
    """``shape`` without ``dims`` (negative, in order), each of which must be 1 (E0423 otherwise)."""
    where = at if at is not None else args.span_of("squeeze_output")
    current = list(shape)
    for dim in dims:
        if len(current) < -dim or T.dim_value(current[dim]) != 1:
            found = T.shape_text(tuple(current))
            why = "there is no such dim" if len(current) < -dim else f"it is {current[dim]}"
            hint = ("`squeeze_output` is for an aggregator that leaves 1x1 images; with SquashDims the output is "
                    "already flat: drop `squeeze_output`" if "aggregator_class" in args.values
                    and args["aggregator_class"] is not None else
                    "squeeze only dims of size 1: make the layers shrink the image to 1 along them, or drop the "
                    "squeeze")
            ty.report("E0423", f"{owner} squeezes dim {dim} of {found}, but {why}", where,
                      label="not a dim of size 1", help=hint)
            return None
        del current[dim]
    return tuple(current)


# ---------------------------------------------------------------------------------------------
# The last layers: SquashDims, SqueezeLayer, Squeeze2dLayer


def _one_tensor(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span) -> T.Spec | None:
    """The one tensor a reshaping layer reads (any dtype), or None."""
    if len(inputs) != 1:
        ty.report("E0407", f"{owner} reads one tensor, but is given {len(inputs)}", at, label=f"{len(inputs)} inputs",
                  help="read one key")
        return None
    if T.is_unknown(inputs[0]):
        return None
    if isinstance(inputs[0], T.Composite):
        ty.report("E0504", f"{owner} reads a tensor, but is given a composite", at,
                  label="a composite spec is not a tensor", help="read one of its entries instead")
        return None
    return inputs[0]


def _build_squash(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "ndims_in")
    return Network(args.kind, args, args.span)


def _infer_squash(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                  at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    spec = _one_tensor(ty, "SquashDims", inputs, at)
    if spec is None or not args.ok("ndims_in"):
        return None
    count = T.dim_value(args["ndims_in"])
    if count is None:
        return None
    if len(spec.shape) < count:
        ty.report("E0422", f"SquashDims flattens the last {count} dims, but {labels[0]} has {len(spec.shape)}",
                  args.span_of("ndims_in"), label=f"{labels[0]} is {T.spec_text(spec)}",
                  help=f"flatten at most {len(spec.shape)} dims (`ndims_in={max(len(spec.shape), 1)}`): batch dims "
                       "are not the model's to flatten")
        return None
    lead, flat = spec.shape[:len(spec.shape) - count], spec.shape[len(spec.shape) - count:]
    return [T.Unbounded((*lead, product(flat)), spec.dtype)]


def _build_squeeze(lo: LoweringContext, args: Args) -> Network:
    dims = args["dims"]
    if args.ok("dims"):
        for dim in dims if isinstance(dims, tuple) else (dims,):
            value = T.dim_value(dim)
            if value is not None and value >= 0:
                lo.report("E0606", f"`dims` of SqueezeLayer count from the end and must be negative, got {value}",
                          args.span_of("dims"), label="not a negative dim",
                          help="write dims from the end, as in `dims=[-2, -1]`: the batch dims in front vary")
                break
    return Network(args.kind, args, args.span)


def _infer_squeeze(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                   at: Span) -> list[T.Spec] | None:
    kind, args = net.kind, net.args
    assert kind is not None and args is not None
    spec = _one_tensor(ty, kind.name, inputs, at)
    if spec is None:
        return None
    if kind.name == "Squeeze2dLayer":
        dims, where = (-2, -1), at
    else:
        if not args.ok("dims"):
            return None
        value = args["dims"]
        dims, where = tuple(T.dim_value(d) for d in (value if isinstance(value, tuple) else (value,))), \
            args.span_of("dims")
        if any(d is None or d >= 0 for d in dims):
            return None
    shape = _squeezed(ty, args, kind.name, spec.shape, dims, at=where)
    return None if shape is None else [T.Unbounded(shape, spec.dtype)]


# ---------------------------------------------------------------------------------------------
# The kinds


def _conv_kind(name: str, spatial: int) -> Kind:
    conv = f"Conv{spatial}d"
    image = "[*B, C, H, W]" if spatial == 2 else "[*B, C, D, H, W]"
    squeeze = "`Squeeze2dLayer`" if spatial == 2 else "`SqueezeLayer([-3, -2, -1])`"
    depth_factor = "D' * " if spatial == 3 else ""
    depth_dim = "D', " if spatial == 3 else ""
    norms = (f"BatchNorm{spatial}d", f"LazyBatchNorm{spatial}d", "GroupNorm")
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"rldsl.modules.{name}",
        summary=f"A {spatial}-D convolutional network: `{conv} -> activation` per layer, then an aggregator "
                f"that flattens the image (`SquashDims`).",
        params=(
            Param("in_features", A.INT, None, "input channels; inferred from the input when left out",
                  aka=("in_channels",), meaning=Meaning.INPUT_SIZE),
            Param("depth", A.INT, None, "number of conv layers; given by the lists when left out"),
            Param("num_cells", A.INTS, None, "output channels of each layer (default `[32, 32, 32]`, or 32 per "
                                             "layer with `depth`)", aka=("channels", "cells")),
            Param("kernel_sizes", A.INTS, 3, "kernel size of each layer, or one for all", aka=("kernel_size",
                                                                                             "kernels")),
            Param("strides", A.INTS, 1, "stride of each layer, or one for all", aka=("stride",)),
            Param("paddings", A.INTS, 0, "zero padding of each layer, or one for all", aka=("padding",)),
            Param("activation_class", A.ACTIVATION, "ELU", "the activation after each conv (a class: `ReLU`)"),
            _LayerOrNone("aggregator_class", A.LAYER, "SquashDims",
                         "the last layer: `SquashDims` flattens the image, `none` keeps it", choices=("SquashDims",)),
            Param("squeeze_output", A.BOOL, False, f"end with {squeeze} (trailing dims of size 1 removed)"),
            Param("activation_kwargs", A.KWARGS, None, "the activation's arguments, as `dict(alpha=0.5)`; or a "
                                                       "list, one per layer", of="@activation_class", per_layer=True),
            Param("norm_class", A.LAYER, None, "a normalisation layer after each conv layer's activation",
                  choices=norms),
            Param("norm_kwargs", A.KWARGS, None, "the norm layer's arguments, as `dict(num_features=32)`; or a "
                                                 "list, one per layer", of="@norm_class", per_layer=True),
            Param("aggregator_kwargs", A.KWARGS, None, "the aggregator's arguments (SquashDims flattens the last "
                                                       f"{spatial + 1} dims)", of="@aggregator_class",
                  inner_defaults=(("ndims_in", spatial + 1),)),
        ),
        reads=f"one float image `{image}`",
        writes="one tensor",
        rule=f"`f{image}` gives `f[*B, C' * {depth_factor}H' * W']`: each layer maps a spatial "
             "size `s` to `(s + 2 * padding - kernel) // stride + 1` (at least 1) and the channels to its "
             "`num_cells` entry; `in_features`, when given, equals `C`; with `aggregator_class=none` the "
             f"output is the last image `f[*B, C', {depth_dim}H', W']`, and `squeeze_output=true` removes its "
             "spatial dims, which must then be 1; the norm layer is typed on each layer's image",
        omitted=(("bias_last_layer", "ignored by torchrl 0.14: every conv layer keeps its bias"),
                 ("device", "chosen when compiling")),
        input_dim=-(spatial + 1),
        build=build_conv,
        infer=_infer_conv,
    )


CONV_NET = _conv_kind("ConvNet", 2)
CONV3D_NET = _conv_kind("Conv3dNet", 3)

SQUASH_DIMS = Kind(
    name="SquashDims",
    family=Family.NETWORK,
    runtime="rldsl.modules.SquashDims",
    summary="Flattens the last `ndims_in` dims into one (a ConvNet's default aggregator).",
    params=(Param("ndims_in", A.INT, 3, "how many trailing dims to flatten", positional=True),),
    reads="one tensor",
    writes="one tensor",
    rule="`[*B, d1, ..., dn]` gives `[*B, d1 * ... * dn]` for the last `n = ndims_in` dims, in the input's dtype",
    build=_build_squash,
    infer=_infer_squash,
)

SQUEEZE_LAYER = Kind(
    name="SqueezeLayer",
    family=Family.NETWORK,
    runtime="rldsl.modules.SqueezeLayer",
    summary="Removes trailing dims of size 1.",
    params=(Param("dims", A.INTS, (-1,), "the dims to remove, counted from the end (negative)", positional=True),),
    reads="one tensor",
    writes="one tensor",
    rule="removes each of `dims` (negative, in order), each of which must be 1: `[*B, C, 1] -> [*B, C]`",
    build=_build_squeeze,
    infer=_infer_squeeze,
)

SQUEEZE_2D_LAYER = Kind(
    name="Squeeze2dLayer",
    family=Family.NETWORK,
    runtime="rldsl.modules.Squeeze2dLayer",
    summary="Removes the two trailing dims of a 1x1 image: `[*B, C, 1, 1] -> [*B, C]`.",
    reads="one tensor",
    writes="one tensor",
    rule="`[*B, C, 1, 1]` gives `[*B, C]`; the last two dims must be 1",
    infer=_infer_squeeze,
)

KINDS = (CONV_NET, CONV3D_NET, SQUASH_DIMS, SQUEEZE_LAYER, SQUEEZE_2D_LAYER)
