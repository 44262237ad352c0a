"""Layer kinds: batch renormalisation, consistent dropout and the LSTM embedder.

``BatchRenorm1d`` (a network: feature vectors in, the same shape out), ``ConsistentDropout``
(a shape-preserving network: the input times a dropout mask in training, the input in
evaluation; it compiles to :class:`rldsl.modules.dropout.ConsistentDropoutLayer`, which returns
one tensor in both modes where torchrl's class also returns its mask in training),
``ConsistentDropoutModule`` (a module: it drops out one key and keeps its mask under another, so
that an update replays the masks of the rollout) and ``LSTMNet`` (a network: an MLP, an LSTM and
a linear layer, returning the output and the LSTM's hidden and cell states before and after, as
torchrl's test helper does; it compiles through :func:`rldsl.modules.lstm_net.lstm_net_from_sizes`,
since the language has no dicts for ``lstm_kwargs`` and ``mlp_kwargs``).

torchrl names a ``ConsistentDropoutModule``'s mask ``mask_<id(module)>``, a new name per object
that a model file cannot write; the language names it with ``mask_key``, by default
``<out>_dropout_mask``, and the compiler passes that name to the runtime module.
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, ModuleNode, Network, Origin, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, check_positive, float_inputs, key, node
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

A = ArgType

__all__ = ["BATCH_RENORM_1D", "CONSISTENT_DROPOUT", "CONSISTENT_DROPOUT_MODULE", "KINDS", "LSTM_NET", "mask_key_of"]

# ---------------------------------------------------------------------------------------------
# Shared checks


def _check_range(lo: LoweringContext, args: Args, name: str, low: float, high: float | None = None, *,
                 open_high: bool = False, why: str, example: str) -> None:
    """E0606 when the number ``name`` lies outside ``[low, high]`` (``[low, high)`` with ``open_high``;
    no upper bound when ``high`` is None). ``why`` is the label, ``example`` a value to suggest."""
    if name not in args.values or not args.ok(name):
        return
    value = args[name]
    number = T.dim_value(value) if isinstance(value, T.Sym) else value
    if not isinstance(number, (int, float)) or isinstance(number, bool) or not math.isfinite(number):
        return
    above = high is not None and (number >= high if open_high else number > high)
    if number >= low and not above:
        return
    if high is None:
        where = f"at least {low:g}"
    else:
        where = f"in [{low:g}, {high:g}{')' if open_high else ']'}"
    lo.report("E0606", f"`{name}` must be {where}, got {T.number_text(number)}", args.span_of(name), label=why,
              help=f"use a value such as `{name}={example}`")


def _check_probability(lo: LoweringContext, args: Args) -> None:
    """E0606 for a dropout probability outside [0, 1) (1 would drop everything)."""
    _check_range(lo, args, "p", 0.0, 1.0, open_high=True, why="not a probability in [0, 1)", example="0.1")


def _one_input(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span, help_: str) -> bool:
    if len(inputs) != 1:
        ty.report("E0407", f"{owner} reads one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs", help=help_)
        return False
    return True


def _tensor_rank(ty: TypingContext, owner: str, spec: T.Spec, label: str, ranks: tuple[int, ...], shapes: str,
                 at: Span, help_: str) -> bool:
    """E0435 unless the (non-composite) input has one of ``ranks`` dims; ``shapes`` says which in words."""
    if len(spec.shape) in ranks:
        return True
    ty.report("E0435", f"{owner} reads {shapes}, but {label} is {T.spec_text(spec)}", at,
              label=f"{len(spec.shape)} dim{'s' if len(spec.shape) != 1 else ''}", help=help_)
    return False


def _declared_size(ty: TypingContext, args: Args, name: str, found: T.Dim, owner: str, label: str) -> bool:
    """E0406 when the size argument ``name``, when given, differs from the input's ``found`` features."""
    declared = args[name]
    if not args.ok(name) or declared is None or T.dims_equal(declared, found):
        return True
    if (T.dim_value(declared) or 0) <= 0 and T.dim_value(declared) is not None:
        return False  # not a size at all: E0606 was reported
    ty.report("E0406", f"`{name}={declared}` but {owner} reads {found} features", args.span_of(name),
              label=f"{label} has {found} features",
              help=f"drop `{name}` (the checker knows the input size), or make it {found}")
    return False


# ---------------------------------------------------------------------------------------------
# BatchRenorm1d


def _build_batch_renorm(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "num_features")
    check_positive(lo, args, "warmup_steps", allow_zero=True)
    check_finite(lo, args, "momentum", "eps", "max_r", "max_d")
    _check_range(lo, args, "momentum", 0.0, 1.0, why="not in [0, 1]", example="0.01")
    _check_range(lo, args, "eps", 0.0, why="negative", example="1e-5")
    _check_range(lo, args, "max_r", 1.0, why="`r` is clamped into [1 / max_r, max_r]", example="3.0")
    _check_range(lo, args, "max_d", 0.0, why="`d` is clamped into [-max_d, max_d]", example="5.0")
    return Network(args.kind, args, args.span)


def _infer_batch_renorm(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                        at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _one_input(ty, "BatchRenorm1d", inputs, at, "normalise one key; concatenate several with an MLP first") \
            or T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "BatchRenorm1d", at, weighted=True):
        return None
    spec = inputs[0]
    if not _tensor_rank(ty, "BatchRenorm1d", spec, labels[0], (1,), "feature vectors `[num_features]`", at,
                        "it normalises dim 1 of a `[batch, num_features]` input (as torchrl does): give it a key "
                        "declared as a vector, such as `f32[8]`"):
        return None
    if not _declared_size(ty, args, "num_features", spec.shape[0], "BatchRenorm1d", labels[0]):
        return None
    return [T.Unbounded(spec.shape, spec.dtype)]


BATCH_RENORM_1D = Kind(
    name="BatchRenorm1d",
    family=Family.NETWORK,
    runtime="rldsl.modules.BatchRenorm1d",
    summary="Batch renormalisation: batch norm that, after a warm-up, corrects each batch's statistics towards "
            "the running ones (r/d clipping).",
    params=(
        Param("num_features", A.INT, None, "the feature size (the input's last dim); inferred when left out",
              positional=True, meaning=Meaning.INPUT_SIZE),
        Param("momentum", A.FLOAT, 0.01, "the step of the running statistics towards each batch's, in [0, 1]"),
        Param("eps", A.FLOAT, 1e-5, "added to the variances before their square roots"),
        Param("max_r", A.FLOAT, 3.0, "`r` is clamped into [1 / max_r, max_r]; at least 1"),
        Param("max_d", A.FLOAT, 5.0, "`d` is clamped into [-max_d, max_d]; at least 0"),
        Param("warmup_steps", A.INT, 10000, "training batches before the correction is on (0: from the start)"),
        Param("smooth", A.BOOL, False, "blend the correction in linearly over the warm-up"),
    ),
    reads="one tensor",
    writes="one tensor",
    rule="`f[num_features]` gives `f[num_features]` (at run time `[batch, num_features]`: one batch dim, the "
         "features on dim 1 as in torchrl); `num_features`, when given, equals the input's size",
    build=_build_batch_renorm,
    infer=_infer_batch_renorm,
)

# ---------------------------------------------------------------------------------------------
# ConsistentDropout


def _build_consistent_dropout(lo: LoweringContext, args: Args) -> Network:
    _check_probability(lo, args)
    return Network(args.kind, args, args.span)


def _mask_spec(spec: T.Spec, p: object) -> T.Spec:
    """The spec of a mask drawn for ``spec`` with probability ``p``: 0 or ``1 / (1 - p)``, as a float."""
    if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0 <= p < 1:
        return T.Unbounded(spec.shape, spec.dtype)
    return T.Bounded(spec.shape, spec.dtype, 0.0, 1.0 / (1.0 - float(p)))


def _infer_consistent_dropout(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                              at: Span) -> list[T.Spec] | None:
    if len(inputs) not in (1, 2):
        ty.report("E0407", f"ConsistentDropout reads a tensor and optionally a mask to reuse, but is given "
                           f"{len(inputs)} tensors", at, label=f"{len(inputs)} inputs",
                  help="read the tensor to drop out (`: hidden -> dropped`), or it and a mask to reuse "
                       "(`: hidden, mask -> dropped`)")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "ConsistentDropout", at):
        return None
    spec = inputs[0]
    if len(inputs) == 2 and not T.shapes_equal(inputs[1].shape, spec.shape):
        ty.report("E0401", f"ConsistentDropout multiplies {labels[0]} by the mask {labels[1]}, but they have shapes "
                           f"{T.shape_text(spec.shape)} and {T.shape_text(inputs[1].shape)}", at,
                  label="the mask has another shape",
                  help="reuse a mask written for the same input (a ConsistentDropoutModule's `mask_key`)")
        return None
    return [T.Unbounded(spec.shape, spec.dtype)]


CONSISTENT_DROPOUT = Kind(
    name="ConsistentDropout",
    family=Family.NETWORK,
    runtime="rldsl.modules.dropout.ConsistentDropoutLayer",
    summary="Consistent dropout as a layer: the input times a dropout mask (a new one per call, or the mask "
            "given) in training, the input itself in evaluation.",
    params=(
        Param("p", A.FLOAT, 0.5, "the probability of zeroing an element, in [0, 1)", positional=True),
    ),
    reads="one tensor, and optionally a mask to reuse",
    writes="one tensor",
    rule="`f[*S]` (and a mask `f[*S]` to reuse) gives `f[*S]`: shape-preserving, so it fits in `>>` pipes; "
         "torchrl's class also returns its mask in training, which no fixed set of keys fits in both modes: "
         "to keep masks and reuse them, use ConsistentDropoutModule",
    build=_build_consistent_dropout,
    infer=_infer_consistent_dropout,
)

# ---------------------------------------------------------------------------------------------
# ConsistentDropoutModule

#: What the default mask key adds to the name of the key written.
MASK_SUFFIX = "_dropout_mask"


def mask_key_of(args: Args) -> KeyRef | None:
    """The key a ConsistentDropoutModule keeps its mask under: ``mask_key``, else the output key
    (``out``, else ``in``) with ``_dropout_mask`` added to its last name (``hidden`` ->
    ``hidden_dropout_mask``, ``agents.h`` -> ``agents.h_dropout_mask``)."""
    given = args["mask_key"]
    if isinstance(given, KeyRef):
        return given
    out = args["out"] if isinstance(args["out"], KeyRef) else args["in"]
    if not isinstance(out, KeyRef):
        return None
    return KeyRef((*out.path[:-1], out.path[-1] + MASK_SUFFIX), out.span, implicit=True)


def _runtime_mask_key(args: Args) -> object:
    """``mask_key`` as the runtime module takes it (a string, or a tuple for a nested key)."""
    ref = mask_key_of(args)
    if ref is None:
        return None
    return ref.path[0] if len(ref.path) == 1 else ref.path


def _dropout_keys(args: Args) -> tuple[KeyRef, KeyRef, KeyRef] | None:
    """``(in, out, mask)`` keys, or None when one is missing (reported already)."""
    source = args["in"]
    out = args["out"] if isinstance(args["out"], KeyRef) else source
    mask = mask_key_of(args)
    if not isinstance(source, KeyRef) or not isinstance(out, KeyRef) or mask is None:
        return None
    return source, out, mask


def _build_dropout_module(lo: LoweringContext, args: Args) -> ModuleNode | object:
    _check_probability(lo, args)
    found = _dropout_keys(args)
    if found is None:
        return INVALID
    source, out, mask = found
    if mask.path == source.path and out.path != source.path:
        lo.report("E0606", f"`mask_key` is `{mask.dotted}`, the key that is dropped out", args.span_of("mask_key"),
                  label="the input key", help="keep the mask under a key of its own, or leave `mask_key` out")
        return INVALID
    lo.unique((out, mask), "ConsistentDropoutModule")
    return node(lo, args, [Step(key(args, "in"), (out, mask), (mask,))])


def _infer_dropout_module(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    found = _dropout_keys(args)
    if found is None or not args.ok("p"):
        return
    source, out, mask = found
    spec = ty.read(source)
    if T.is_unknown(spec) or not _own_mask(ty, args, mask):
        return
    if isinstance(spec, T.Composite) or not T.is_float_dtype(spec.dtype):
        ty.report("E0503", f"ConsistentDropoutModule drops out float tensors, but `{source.dotted}` is "
                           f"{T.spec_text(spec)}", source.span, label="not a float tensor",
                  help="drop out the output of a network (a float key)")
        return
    ty.write(module, out, Typed(T.Unbounded(spec.shape, spec.dtype), Origin.NETWORK, ty.by(module)),
             remedy="drop out a key of its own (`out=...`): the output is scaled by 1 / (1 - p), so it can leave "
                    "the bounds of its input")
    ty.write(module, mask, Typed(_mask_spec(spec, args["p"]), Origin.COPY, ty.by(module)))


def _own_mask(ty: TypingContext, args: Args, mask: KeyRef) -> bool:
    """E0436 when another module already writes the mask key: this module would read that value back
    as its mask (a mask drawn with another `p`, or not a mask at all)."""
    earlier = ty.written(mask.path)
    if earlier is None:
        return True
    where = args.span_of("mask_key") if args.given("mask_key") else args.name_span
    ty.report("E0436", f"the dropout mask `{mask.dotted}` is already written by {earlier.by}", where,
              label="the mask key of this module",
              help="a ConsistentDropoutModule reads its mask back when present: give it a key of its own with "
                   "`mask_key=...` (or another `out`)")
    return False


CONSISTENT_DROPOUT_MODULE = Kind(
    name="ConsistentDropoutModule",
    family=Family.MODULE,
    runtime="rldsl.modules.ConsistentDropoutModule",
    summary="Consistent dropout on a key: the mask is written under `mask_key` and reused when present, so an "
            "update replays the masks of its rollout.",
    params=(
        Param("p", A.FLOAT, doc="the dropout probability, in [0, 1)", positional=True),
        Param("in", A.KEY, doc="the key to drop out", target="in_keys", positional=True, aka=("in_keys",)),
        Param("out", A.KEY, None, "where the dropped-out value goes (default: `in`, in place)", target="out_keys",
              aka=("out_keys",)),
        Param("mask_key", A.KEY, None, "the key of the mask (default `<out>_dropout_mask`; torchrl's is "
                                       "`mask_<id(module)>`)", derive=_runtime_mask_key),
    ),
    reads="the `in` key, and the mask when present",
    writes="the `out` key (`in` by default) and the mask",
    rule="a float `f[*S]` gives `f[*S]` and the mask `f[*S] in [0, 1 / (1 - p)]`; in evaluation mode the output "
         "is the input and no mask is written",
    omitted=(("input_shape", "only for `make_tensordict_primer`, a torchrl environment transform"),
             ("input_dtype", "only for `make_tensordict_primer`")),
    build=_build_dropout_module,
    infer=_infer_dropout_module,
)

# ---------------------------------------------------------------------------------------------
# LSTMNet


def _build_lstm_net(lo: LoweringContext, args: Args) -> Network:
    check_positive(lo, args, "out_features", "hidden_size", "in_features", "num_layers", "mlp_out_features",
                   "mlp_num_cells")
    check_positive(lo, args, "mlp_depth", allow_zero=True)
    depth, cells = args["mlp_depth"], args["mlp_num_cells"]
    if not args.ok("mlp_depth", "mlp_num_cells"):
        return Network(args.kind, args, args.span)
    if cells is not None and not isinstance(cells, tuple) and depth is None:
        lo.report("E0606", "an integer `mlp_num_cells` needs `mlp_depth`", args.span_of("mlp_num_cells"),
                  label="how many layers of this size?",
                  help="give the depth, as in `mlp_num_cells=64, mlp_depth=2`, or list the layers: "
                       "`mlp_num_cells=[64, 64]`")
    elif isinstance(cells, tuple) and depth is not None and T.dim_value(depth) not in (None, len(cells)):
        lo.report("E0606", f"`mlp_num_cells` lists {len(cells)} layer{'s' if len(cells) != 1 else ''} but "
                           f"`mlp_depth` is {depth}", args.span_of("mlp_depth"), label="does not match `mlp_num_cells`",
                  help="drop `mlp_depth`: the list of cells gives it")
    return Network(args.kind, args, args.span)


def _infer_lstm_net(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                    at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if not _one_input(ty, "LSTMNet", inputs, at,
                      "in a model LSTMNet reads its input alone and starts from zero hidden states; read one key, "
                      "as in `: observation -> y, h_in, c_in, h_out, c_out`") \
            or T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "LSTMNet", at, weighted=True):
        return None
    spec = inputs[0]
    if not _tensor_rank(ty, "LSTMNet", spec, labels[0], (1, 2), "`[features]` (one step) or `[time, features]` "
                        "(a sequence)", at, "declare the input as one step, `f32[8]`, or a sequence, `f32[T, 8]`"):
        return None
    if not _declared_size(ty, args, "in_features", spec.shape[-1], "LSTMNet", labels[0]):
        return None
    if not args.ok("out_features", "hidden_size", "num_layers"):
        return None
    lead = spec.shape[:-1]
    state = T.Unbounded((*lead, args["num_layers"], args["hidden_size"]), spec.dtype)
    return [T.Unbounded((*lead, args["out_features"]), spec.dtype), state, state, state, state]


LSTM_NET = Kind(
    name="LSTMNet",
    family=Family.NETWORK,
    runtime="rldsl.modules.lstm_net.lstm_net_from_sizes",
    summary="An MLP, an LSTM (batch first) and a linear layer, returning the output and the LSTM's states before "
            "and after (torchrl's `torchrl.testing.LSTMNet`).",
    params=(
        Param("out_features", A.INT, doc="the output size of the last linear layer", positional=True),
        Param("hidden_size", A.INT, doc="the LSTM's hidden size"),
        Param("in_features", A.INT, None, "the input size; inferred from the input when left out",
              meaning=Meaning.INPUT_SIZE),
        Param("num_layers", A.INT, 1, "the LSTM's number of layers"),
        Param("mlp_out_features", A.INT, None, "the MLP's output size, the LSTM's input size (default: `hidden_size`)"),
        Param("mlp_depth", A.INT, None, "the MLP's number of hidden layers"),
        Param("mlp_num_cells", A.INTS, None, "the MLP's hidden sizes: a list, or one size with `mlp_depth`"),
        Param("mlp_activation_class", A.ACTIVATION, "Tanh", "the MLP's activation (a class: `ReLU`)"),
    ),
    reads="one tensor (hidden states start at zero)",
    writes="five tensors: `y`, the hidden and cell states it started from, and those it ended with",
    rule="`f[*T, in]` (`*T`: nothing for one step, `[time]` for a sequence) gives `y: f[*T, out_features]` and "
         "four states `f[*T, num_layers, hidden_size]`; over a sequence the output states are zero but at the "
         "last step. At run time a sequence needs one batch dim",
    omitted=(("device", "chosen when compiling"),),
    build=_build_lstm_net,
    infer=_infer_lstm_net,
)

KINDS = (BATCH_RENORM_1D, CONSISTENT_DROPOUT, CONSISTENT_DROPOUT_MODULE, LSTM_NET)
