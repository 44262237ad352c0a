"""Recurrent module kinds: ``LSTMModule`` and ``GRUModule``.

A recurrent module reads its input, its hidden state and ``is_init``, and writes its output and
the next hidden state under ``next``::

    LSTMModule(hidden_size=64, in_key=observation, out_key=embed)
      reads  observation, recurrent_state_h, recurrent_state_c, is_init
      writes embed, next.recurrent_state_h, next.recurrent_state_c

The state keys are the module's own: it brings them with it (its primer gives the env zeros of
their specs, ``f32[num_layers, hidden_size]``), so every module may read them and they appear in
``--print-types`` and the graph as kept by the primer of the declaration that holds the module.
``is_init`` comes from the env (torchrl's ``InitTracker``) and must be declared: without it the
state is never reset (torchrl raises a KeyError at the first call).
"""

from __future__ import annotations

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, ModuleNode, Network, Origin, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import (check_finite, check_positive, float_inputs, implicit, key, keys, node,
                                      sized_features)
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

A = ArgType

#: The default state keys of each kind, as torchrl names them.
_STATE_KEYS = {"LSTMModule": ("recurrent_state_h", "recurrent_state_c"), "GRUModule": ("recurrent_state",)}
_IS_INIT = "is_init"


# ---------------------------------------------------------------------------------------------
# Lowering: the keys


def _build_recurrent(lo: LoweringContext, args: Args) -> object:
    """The keys (E0606 for `in_key` with `in`, or neither; lists of the wrong length), the
    argument checks, and the state keys the module brings with it."""
    if not _wrapped_layer_fits(lo, args):
        return INVALID
    _check_sizes(lo, args)
    keyed = _keys(lo, args)
    if keyed is None:
        return INVALID
    inputs, outputs = keyed
    lo.unique(outputs, args.kind.name)
    for ref, spec in zip(inputs[1:-1], _state_specs(_sized(args), args.kind)):
        lo.provide(ref, T.UNKNOWN if spec is None else spec)  # unknown after an error: no E0301 besides it
    return node(lo, args, [Step(inputs, outputs)])


#: The arguments that size a recurrent module's layer, which a wrapped layer (``lstm=``) brings.
_SIZES = ("input_size", "hidden_size", "num_layers", "bias", "dropout", "proj_size", "bidirectional")


def _layer_param(kind: Kind) -> str:
    return "lstm" if kind.name == "LSTMModule" else "gru"


def _wrapped_layer_fits(lo: LoweringContext, args: Args) -> bool:
    """A layer given as ``lstm=`` / ``gru=`` is of the module's own sort (E0607) and sizes the module:
    its sizes are not given again (E0606); without one, ``hidden_size`` is needed (E0603)."""
    name = _layer_param(args.kind)
    layer = args[name] if args.ok(name) else INVALID
    wanted = "LSTM" if name == "lstm" else "GRU"
    if layer is None:
        if args.ok("hidden_size") and args["hidden_size"] is None:
            lo.report("E0603", f"{args.kind.name} needs `hidden_size`, or a layer: `{name}={wanted}(...)`",
                      args.name_span, label="no hidden size",
                      help=f"pass `hidden_size=64`, or `{name}={wanted}(input_size, 64)`")
            return False
        return True
    if layer is INVALID:
        return False
    if not isinstance(layer, Network) or layer.kind is None or layer.kind.name != wanted:
        lo.report("E0607", f"`{name}` of {args.kind.name} is a `{wanted}` layer", args.span_of(name),
                  label=f"not a {wanted}", help=f"write `{name}={wanted}(input_size, hidden_size, ...)`")
        return False
    given = [size for size in _SIZES if size in args.values and args.given(size)]
    if given:
        lo.report("E0606", f"{args.kind.name} takes its sizes from `{name}`, so `{given[0]}` cannot be given too",
                  args.span_of(given[0]), label="given twice",
                  help=f"give `{given[0]}` to the `{wanted}` layer instead")
        return False
    return True


def _sized(args: Args) -> Args:
    """The arguments that size the module: the wrapped layer's when one is given."""
    layer = args[_layer_param(args.kind)] if args.ok(_layer_param(args.kind)) else None
    return layer.args if isinstance(layer, Network) and layer.args is not None else args


def _check_sizes(lo: LoweringContext, args: Args) -> None:
    check_positive(lo, args, "input_size", "hidden_size", "num_layers")
    check_finite(lo, args, "dropout")
    if args.ok("dropout") and isinstance(args["dropout"], float) and not 0 <= args["dropout"] <= 1:
        lo.report("E0606", f"`dropout` is a probability in [0, 1], got {args['dropout']}", args.span_of("dropout"),
                  label="not a probability", help="use a value such as `dropout=0.1` (between layers only)")
    if args.ok("batch_first") and args["batch_first"] is False:
        lo.report("E0606", f"{args.kind.name} keeps the time dim after the batch dims: `batch_first` must be true",
                  args.span_of("batch_first"), label="not supported", help="remove `batch_first=false`")
    if "proj_size" in args.values and args.ok("proj_size", "hidden_size") and args["hidden_size"] is not None:
        proj, hidden = T.dim_value(args["proj_size"]), T.dim_value(args["hidden_size"])
        if proj is not None and (proj < 0 or (hidden is not None and 0 < hidden <= proj)):
            lo.report("E0606", f"`proj_size` must be at least 0 and below `hidden_size` ({hidden}), got {proj}",
                      args.span_of("proj_size"), label="out of range",
                      help="use `proj_size=0` (no projection) or a size below the hidden size")


def _keys(lo: LoweringContext, args: Args) -> tuple[tuple[KeyRef, ...], tuple[KeyRef, ...]] | None:
    """``(reads, writes)``: the input, the state keys and ``is_init``; the output and the next
    state keys. None after an error."""
    if not args.ok("in_key", "in", "out_key", "out"):
        return None
    states = len(_STATE_KEYS[args.kind.name])
    reads = _one_of(lo, args, "in_key", "in", 1 + states, "the input, then the state keys (and `is_init`)")
    writes = _one_of(lo, args, "out_key", "out", 1 + states, "the output, then the next state keys")
    if reads is None or writes is None:
        return None
    if len(reads) == 1:
        reads = (*reads, *(implicit(name, args) for name in _STATE_KEYS[args.kind.name]))
    if reads[-1].path != (_IS_INIT,):
        reads = (*reads, implicit(_IS_INIT, args))
    if len(writes) == 1:
        writes = (*writes, *(KeyRef(("next", *ref.path), ref.span, implicit=True) for ref in reads[1:1 + states]))
    return reads, writes


def _one_of(lo: LoweringContext, args: Args, single: str, listed: str, count: int,
            what: str) -> tuple[KeyRef, ...] | None:
    """The keys of ``single`` (one key) or ``listed`` (``count`` keys, or one more for a read list
    ending in ``is_init``); E0606 for both, neither, or a list of another length."""
    one, many = key(args, single), keys(args, listed)
    if bool(one) == bool(many):
        both = "both" if one else "neither"
        lo.report("E0606", f"{args.kind.name} takes `{single}` or `{listed}`, but {'both are' if one else 'neither is'} "
                           "given", args.span_of(listed if many else single), label=f"{both} given",
                  help=f"give `{single}=KEY` (torchrl's default state keys), or `{listed}=[...]` with {what}")
        return None
    if one:
        return one
    reads = single == "in_key"
    allowed = (count, count + 1) if reads else (count,)
    if len(many) not in allowed or (len(many) == count + 1 and many[-1].path != (_IS_INIT,)):
        lo.report("E0606", f"`{listed}` of {args.kind.name} lists {len(many)} keys, but it takes {count}: {what}",
                  args.span_of(listed), label=f"{len(many)} keys", help=f"list {what}")
        return None
    return many


def _state_specs(args: Args, module: Kind) -> list[T.Spec | None]:
    """The spec of each state key of ``module``, ``f32[num_layers, size]`` (an LSTM's ``h`` has
    ``proj_size`` entries when it projects), from the arguments that size it (``args``: the
    module's, or its wrapped layer's); None where they are invalid."""
    count = len(_STATE_KEYS[module.name])
    if not args.ok("num_layers", "hidden_size") or not all(_is_size(args[n]) for n in ("num_layers", "hidden_size")):
        return [None] * count
    layers, hidden = args["num_layers"], args["hidden_size"]
    if args.ok("bidirectional") and args["bidirectional"] is True:
        layers = _doubled(layers)
    if count == 1:
        return [T.Unbounded((layers, hidden), "f32")]
    proj = args["proj_size"] if args.ok("proj_size") else 0
    h = proj if T.dim_value(proj) not in (0, None) else hidden
    return [T.Unbounded((layers, h), "f32"), T.Unbounded((layers, hidden), "f32")]


def _is_size(value: object) -> bool:
    """Whether ``value`` is a size: a dim of unknown value, or a known one of at least 1."""
    known = T.dim_value(value)
    return value is not None and (known is None or known >= 1)


def _doubled(dim: object) -> object:
    """``2 * dim``: an int when known, else a symbolic dim."""
    value = T.dim_value(dim)
    return 2 * value if value is not None else T.Sym(f"2 * {dim}", None)


# ---------------------------------------------------------------------------------------------
# Typing


def _infer_recurrent(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    owner = args.kind.name
    source, *states, init = module.reads
    spec = ty.read(source)
    sized = _sized(args)
    if not T.is_unknown(spec) and _input_fits(ty, sized, source, spec, owner):
        width = _output_width(sized)
        if width is not None:
            out = T.Unbounded((*spec.shape[:-1], width), spec.dtype)
            ty.write(module, module.writes[0], Typed(out, Origin.NETWORK, ty.by(module)))
    for state, written, expected in zip(states, module.writes[1:], _state_specs(sized, args.kind)):
        if expected is None:
            continue
        declared = ty.declared(state.path) is not None  # compared with the module's own when lowering
        found = ty.read(state)
        if declared or (not T.is_unknown(found) and _state_fits(ty, owner, state, found, expected)):
            ty.write(module, written, Typed(expected, Origin.COPY, ty.by(module)))
    _is_init_bool(ty, init)


def _input_fits(ty: TypingContext, args: Args, ref: KeyRef, spec: T.Spec, owner: str) -> bool:
    """A float input ``[*B, input_size]``; ``args`` size the module (a wrapped layer's)."""
    return sized_features(ty, args, ref, spec, owner, "input_size", "f32[8]")


def _output_width(args: Args) -> object:
    """The output's features: the projection size when an LSTM projects, else the hidden size;
    twice that for a bidirectional module."""
    if not args.ok("hidden_size", "bidirectional"):
        return None
    width = args["hidden_size"]
    if "proj_size" in args.values and args.ok("proj_size") and T.dim_value(args["proj_size"]) not in (0, None):
        width = args["proj_size"]
    return _doubled(width) if args["bidirectional"] is True else width


def _state_fits(ty: TypingContext, owner: str, ref: KeyRef, found: T.Spec, expected: T.Spec) -> bool:
    """A state key given in ``in=[...]`` and declared elsewhere keeps the module's state shape."""
    if not isinstance(found, T.Composite) and T.shapes_equal(found.shape, expected.shape) \
            and T.is_float_dtype(found.dtype):
        return True
    ty.report("E0402", f"{owner} keeps its state `{ref.dotted}` as {T.spec_text(expected)}, but the key is "
                       f"{T.spec_text(found)}", ref.span, label=f"{T.spec_text(found)}",
              help=f"declare `key {ref.dotted} : {T.spec_text(expected)}`, or let the module keep it (leave the "
                   "key undeclared)")
    return False


def _is_init_bool(ty: TypingContext, ref: KeyRef) -> None:
    if not ty.available(ref):
        return
    spec = ty.read(ref)
    if not T.is_unknown(spec) and (isinstance(spec, T.Composite) or spec.dtype != "bool"):
        ty.report("E0503", f"`{ref.dotted}` marks the first step of trajectories and must be bool, but it is "
                           f"{T.spec_text(spec)}", ref.span, label="not bool",
                  help=f"declare `key {ref.dotted} : bool[1]`")


# ---------------------------------------------------------------------------------------------
# The descriptions


def _params(lstm: bool) -> tuple[Param, ...]:
    state = "the input key, then the state keys" + (" (h, c)" if lstm else "")
    return (
        Param("input_size", A.INT, None, "the input's features; inferred from the input key when left out",
              meaning=Meaning.INPUT_SIZE),
        Param("hidden_size", A.INT, None, "the size of the hidden state (required unless a layer is given)"),
        Param("num_layers", A.INT, 1, "the number of stacked recurrent layers"),
        Param("bias", A.BOOL, True, "whether the layers have biases"),
        Param("batch_first", A.BOOL, True, "always true: the time dim comes after the batch dims"),
        Param("dropout", A.FLOAT, 0.0, "dropout between layers (not after the last)"),
        *((Param("proj_size", A.INT, 0, "an LSTM with projections: `h` has this size (0: none)"),) if lstm else ()),
        Param("bidirectional", A.BOOL, False, "run each layer both ways: twice the state rows and output features"),
        Param("python_based", A.BOOL, False, "run torchrl's Python implementation (vmap and compile friendly)"),
        Param("recurrent_backend", A.CHOICE, "pad", "how recurrent mode runs trajectories that reset mid-sequence",
              choices=("pad", "auto")),
        Param("in_key", A.KEY, None, "the input key: the state keys are torchrl's defaults"),
        Param("in", A.KEYS, None, f"{state}, and optionally `is_init` last", target="in_keys",
              meaning=Meaning.INPUTS, aka=("in_keys",)),
        Param("out_key", A.KEY, None, "the output key: the next state goes under `next`"),
        Param("out", A.KEYS, None, "the output key, then the next state keys", target="out_keys", aka=("out_keys",)),
        Param("default_recurrent_mode", A.BOOL, None, "run over a time dim (true) or step by step (false) when no "
                                                      "`set_recurrent_mode` context says"),
        Param("lstm" if lstm else "gru", A.NETWORK, None,
              f"a layer to wrap, `{'lstm=LSTM' if lstm else 'gru=GRU'}(input_size, hidden_size, ...)`: it gives the "
              "sizes, which are then not given to the module"),
    )


def _kind(name: str, lstm: bool) -> Kind:
    states = "`recurrent_state_h` and `recurrent_state_c`" if lstm else "`recurrent_state`"
    sizes = "`f32[num_layers, hidden_size]` (`h`: `proj_size` when it projects)" if lstm else \
        "`f32[num_layers, hidden_size]`"
    return Kind(
        name=name,
        family=Family.MODULE,
        runtime=f"rldsl.modules.{name}",
        summary=f"A{'n LSTM' if lstm else ' GRU'} whose hidden state lives in the tensordict: read from the state "
                "keys, written under `next`, reset where `is_init` is true; step by step by default, over the "
                "last batch dim as time in recurrent mode.",
        params=_params(lstm),
        reads=f"the input, {states} (kept by the module's primer), `is_init`",
        writes="the output, then `next.` + each state key",
        rule=f"`f[*B, input_size]` gives `f[*B, hidden_size]` ({'`proj_size` when it projects; ' if lstm else ''}"
             f"twice that when bidirectional); the state keys are {sizes} (`2 * num_layers` rows when "
             "bidirectional); `is_init` is bool",
        omitted=(("device", "chosen when compiling"),),
        build=_build_recurrent,
        infer=_infer_recurrent,
    )


LSTM_MODULE = _kind("LSTMModule", lstm=True)
GRU_MODULE = _kind("GRUModule", lstm=False)

# ---------------------------------------------------------------------------------------------
# Cells: one step, the states as plain inputs and outputs (torchrl's Python cells)


def _build_cell(lo: LoweringContext, args: Args) -> object:
    check_positive(lo, args, "input_size", "hidden_size")
    return Network(args.kind, args, args.span)


def _infer_cell(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    owner = args.kind.name
    states = 2 if owner == "LSTMCell" else 1
    if len(inputs) not in (1, 1 + states):
        names = "the input, then h and c" if states == 2 else "the input, then h"
        ty.report("E0407", f"{owner} reads {names} (the states are zeros when left out), but is given "
                           f"{len(inputs)} tensors", at, label=f"{len(inputs)} inputs",
                  help=f"read 1 or {1 + states} keys: {names}")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    for spec, label in zip(inputs, labels):
        if len(spec.shape) != 1:
            ty.report("E0401", f"{owner} reads vectors with one batch dim (`[batch, features]`, as torch's cells), "
                               f"but {label} is {T.spec_text(spec)}", at, label=f"{label} is {T.spec_text(spec)}",
                      help="declare the keys as vectors, such as `f32[8]`; a recurrent policy over other batch "
                           "shapes is an LSTMModule or GRUModule")
            return None
    if not args.ok("input_size", "hidden_size"):
        return None
    sizes = [("input_size", args["input_size"])] + [("hidden_size", args["hidden_size"])] * states
    for (name, size), spec, label in zip(sizes, inputs, labels):
        if not T.dims_equal(size, spec.shape[-1]):
            ty.report("E0406", f"`{name}={size}` but {label} has {spec.shape[-1]} features", args.span_of(name),
                      label=f"{label} has {spec.shape[-1]} features",
                      help=f"make `{name}` {spec.shape[-1]}, or read a key of {size} features")
            return None
    return [T.Unbounded((args["hidden_size"],), inputs[0].dtype)] * states


def _cell_kind(name: str, lstm: bool) -> Kind:
    states = "`h` and `c`" if lstm else "`h`"
    outputs = "`h'` and `c'`" if lstm else "`h'`"
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"rldsl.modules.{name}",
        summary=f"One {'LSTM' if lstm else 'GRU'} step computed in plain tensor operations (torchrl's Python cell, "
                f"torch's parameters and numbers): the input and the states {states} in, the next states out.",
        params=(
            Param("input_size", A.INT, doc="the input's features", positional=True),
            Param("hidden_size", A.INT, doc="the size of the hidden state", positional=True),
            Param("bias", A.BOOL, True, "whether the cell has biases"),
        ),
        reads=f"the input, then {states} (zeros when left out)",
        writes=outputs,
        rule=f"`f[input_size]`{', `f[hidden_size]`' * (2 if lstm else 1)} give "
             f"{'two tensors ' if lstm else ''}`f[hidden_size]` (one batch dim at run time, as torch's cells)",
        omitted=(("device", "chosen when compiling"), ("dtype", "the compile dtype")),
        build=_build_cell,
        infer=_infer_cell,
    )


LSTM_CELL = _cell_kind("LSTMCell", lstm=True)
GRU_CELL = _cell_kind("GRUCell", lstm=False)

# ---------------------------------------------------------------------------------------------
# Multi-step layers: the layer a recurrent module wraps (`lstm=LSTM(8, 64, num_layers=2)`)


def _build_layer(lo: LoweringContext, args: Args) -> object:
    check_positive(lo, args, "input_size", "hidden_size", "num_layers")
    if args.ok("batch_first") and args["batch_first"] is False:
        lo.report("E0606", f"a recurrent module wraps a {args.kind.name} with the time dim after the batch dims: "
                           "`batch_first` must be true", args.span_of("batch_first"), label="not supported",
                  help="remove `batch_first=false`")
    return Network(args.kind, args, args.span)


def _infer_layer(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                 at: Span) -> list[T.Spec] | None:
    """A layer returns its output and its states together, which keys cannot hold: it is wrapped."""
    name = net.kind.name if net.kind is not None else "LSTM"
    module, param = ("LSTMModule", "lstm") if name == "LSTM" else ("GRUModule", "gru")
    ty.report("E0607", f"`{name}` returns its output and its states together: it runs inside a {module}",
              at, label="a layer, not a network with keys",
              help=f"write `{module}({param}={name}(...), in_key=..., out_key=...)`: the module keeps the states in "
                   "the tensordict")
    return None


def _layer_kind(name: str, lstm: bool) -> Kind:
    flags = (Param("bias", A.BOOL, True, "whether the layers have biases"),
             Param("batch_first", A.BOOL, True, "true: `[batch, time, features]` (torchrl's default)"))
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"rldsl.modules.{name}",
        summary=f"torchrl's Python {name} (torch's parameters and numbers; vmap and compile friendly), the layer a "
                f"{name}Module wraps: `{name}Module({name.lower()}={name}(8, 64), in_key=..., out_key=...)`.",
        params=(
            Param("input_size", A.INT, doc="the input's features", positional=True),
            Param("hidden_size", A.INT, doc="the size of the hidden state", positional=True),
            Param("num_layers", A.INT, 1, "the number of stacked layers"),
            *(tuple(reversed(flags)) if lstm else flags),
            Param("dropout", A.FLOAT, 0.0, "dropout between layers"),
            Param("bidirectional", A.BOOL, False, "run each layer both ways"),
            *((Param("proj_size", A.INT, 0, "`h` has this size (0: no projection)"),) if lstm else ()),
        ),
        reads="nothing by itself: it is the `" + name.lower() + "=` of a " + name + "Module",
        writes="its output and states, to the module that wraps it",
        rule=f"only inside `{name}Module({name.lower()}=...)`, which it sizes",
        omitted=(("device", "chosen when compiling"), ("dtype", "the compile dtype")),
        build=_build_layer,
        infer=_infer_layer,
    )


LSTM_LAYER = _layer_kind("LSTM", lstm=True)
GRU_LAYER = _layer_kind("GRU", lstm=False)

KINDS = (LSTM_MODULE, GRU_MODULE, LSTM_CELL, GRU_CELL, LSTM_LAYER, GRU_LAYER)
