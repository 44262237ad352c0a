"""Helpers shared by the rules of several kinds.

A kind's ``build`` receives a :class:`~rldsl.lang.kinds._contexts.LoweringContext` (``lo``: the
lowering pass, :mod:`rldsl.lang.lower`) and its ``infer`` a
:class:`~rldsl.lang.kinds._contexts.TypingContext` (``ty``: the typing pass, :mod:`rldsl.lang.infer`,
run by :mod:`rldsl.lang.check`); both have ``report``. These helpers keep the rules short and their
messages uniform.
"""

from __future__ import annotations

import math

import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Form, KeyRef, Kwargs, ModuleNode, Network
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.source import Span
from rldsl.lang.types import number_text
from rldsl.lang.values import INVALID, is_dim

__all__ = [
    "COMPILE_DTYPES",
    "compile_dtype_fits",
    "key",
    "keys",
    "node",
    "require_spec_for_safe",
    "check_finite",
    "check_positive",
    "float_inputs",
    "last_dims",
    "implicit",
    "log_prob_ref",
    "out_shape",
    "per_layer_kwargs",
    "product",
    "through",
]


#: The float dtypes a model can be compiled in (``rldsl compile --dtype``).
COMPILE_DTYPES = ("f32", "f64")


def implicit(path: tuple[str, ...] | str, args: Args) -> KeyRef:
    """A key the kind uses by default (not written in the text): it points at the kind's name."""
    return KeyRef((path,) if isinstance(path, str) else path, args.name_span, implicit=True)


def log_prob_ref(sample: KeyRef) -> KeyRef:
    """Where a sample's log-probability goes: ``action`` -> ``action_log_prob`` (nested keys get
    the suffix on their last name), as tensordict 0.14 names it."""
    return KeyRef((*sample.path[:-1], sample.path[-1] + "_log_prob"), sample.span, implicit=True)


def check_positive(lo: LoweringContext, args: Args, *names: str, allow_zero: bool = False) -> None:
    """Report E0606 for each of ``names`` whose value (an int, a dim or a list of them) is not positive."""
    for name in names:
        value = args[name]
        items = value if isinstance(value, tuple) else (value,)
        for item in items:
            size = T.dim_value(item) if is_dim(item) else None
            if size is not None and (size < 0 or (size == 0 and not allow_zero)):
                lo.report("E0606", f"`{name}` must be positive, got {size}", args.span_of(name),
                          label="not a valid size", help=f"give `{name}` a size of at least 1")
                break


def check_finite(lo: LoweringContext, args: Args, *names: str, code: str = "E0606", why: str = "") -> None:
    """Report ``code`` for each of ``names`` whose value (a number or a list of them) is infinite or NaN:
    the runtime classes refuse such values, or compute NaN with them. ``why`` ends the help line."""
    for name in names:
        if name not in args.values or not args.ok(name):
            continue
        value = args[name]
        items = value if isinstance(value, tuple) else (value,)
        bad = next((v for v in items if isinstance(v, float) and not math.isfinite(v)), None)
        if bad is not None:
            lo.report(code, f"`{name}` must be a finite number, got {number_text(bad)}", args.span_of(name),
                      label="not a finite number", help=f"give `{name}` a finite value{why}")


def float_inputs(ty: TypingContext, inputs: list[T.Spec], labels: list[str], owner: str, at: Span, *,
                 weighted: bool = False) -> bool:
    """Report the first input that is not a floating-point tensor of the first input's dtype
    (networks compute in one floating dtype), and for a network with weights (``weighted``) inputs
    whose dtype is not the compile dtype (:func:`compile_dtype_fits`). Dtypes are compared as they
    run: f32 stands for the compile dtype, so f32 and f64 inputs mix when compiling in f64. True when
    all are fine."""
    compiled = ty.float_dtype
    dtype = None
    for spec, label in zip(inputs, labels):
        if T.is_unknown(spec):
            continue
        if isinstance(spec, T.Composite):
            ty.report("E0504", f"{owner} reads tensors, but {label} is a composite", at,
                      label="a composite spec is not a tensor",
                      help="read one of its entries instead, as in `agents.observation`")
            return False
        if not T.is_float_dtype(spec.dtype):
            ty.report("E0503", f"{owner} reads floating-point tensors, but {label} is {spec.dtype}", at,
                      label=f"{label} is {T.spec_text(spec)}",
                      help="networks compute with floats: feed a float key, or convert the data with a transform "
                           "before the model")
            return False
        if dtype is None:
            dtype = spec.dtype
        elif (compiled if spec.dtype == "f32" else spec.dtype) != (compiled if dtype == "f32" else dtype):
            ty.report("E0503", f"{owner} reads tensors of one dtype, but {labels[0]} is {dtype} and {label} is "
                               f"{spec.dtype}", at, label="mixed dtypes",
                      help="declare the inputs with the same floating dtype (usually f32)")
            return False
    if weighted and dtype is not None:
        first = next(i for i, spec in enumerate(inputs) if not T.is_unknown(spec))
        return compile_dtype_fits(ty, inputs[first], labels[first], owner, at)
    return True


def sized_features(ty: TypingContext, args: Args, ref: KeyRef, spec: T.Spec, owner: str, size: str,
                   example: str) -> bool:
    """A float input ``[*B, <size>]`` read by a module sizing itself from it (a recurrent module's
    ``input_size``, a diffusion actor's ``obs_dim``): E0503/E0515 for its dtype, E0401 for a
    scalar, E0406 when the argument ``size`` is given and differs from the input's width."""
    label = f"`{ref.dotted}`"
    if not float_inputs(ty, [spec], [label], owner, ref.span, weighted=True):
        return False
    if not spec.shape:
        ty.report("E0401", f"{owner} reads features `[*B, {size}]`, but {label} is a scalar ({T.spec_text(spec)})",
                  ref.span, label="no feature dim", help=f"declare the input with its features last, as `{example}`")
        return False
    declared = args[size] if args.ok(size) else None
    if declared is not None and not T.dims_equal(declared, spec.shape[-1]):
        ty.report("E0406", f"`{size}={declared}` but {label} has {spec.shape[-1]} features", args.span_of(size),
                  label=f"the input has {spec.shape[-1]} features",
                  help=f"drop `{size}`: the checker knows the input's width")
        return False
    return True


def compile_dtype_fits(ty: TypingContext, spec: T.Spec, label: str, owner: str, at: Span) -> bool:
    """E0515 when a network's float input is not in the dtype its weights will have: the compile
    dtype (``ty.float_dtype``, default f32), which stands in for f32 (``--dtype f64`` makes every f32
    key and weight f64). True when it fits."""
    wanted = ty.float_dtype
    if spec.dtype == "f32" or spec.dtype == wanted:
        return True
    fixed = T.spec_text(attrs.evolve(spec, dtype=wanted))
    other = (f", or compile with the matching dtype (`rldsl compile --dtype {spec.dtype}`, "
             f"`rldsl.compile(..., dtype=\"{spec.dtype}\")`)" if spec.dtype in COMPILE_DTYPES else "")
    cast = ("torchrl's `DoubleToFloat` transform on the env" if (spec.dtype, wanted) == ("f64", "f32")
            else f"`.to(torch.{_TORCH_DTYPES.get(wanted, wanted)})`")
    ty.report("E0515", f"{owner}'s weights are {wanted} (the compile dtype), but it reads {label} as {spec.dtype}", at,
              label=f"{label} is {T.spec_text(spec)}",
              help=f"cast the data to {wanted} before the model ({cast}) and declare it as `{fixed}`{other}")
    return False


#: The language's float dtypes by torch's names, for the casts hints name.
_TORCH_DTYPES = {"f16": "float16", "bf16": "bfloat16", "f32": "float32", "f64": "float64"}


def last_dims(ty: TypingContext, inputs: list[T.Spec], labels: list[str], owner: str, at: Span) -> tuple | None:
    """The shared leading dims of tensors concatenated on their last dim (None after an error)."""
    lead = None
    for spec, label in zip(inputs, labels):
        if not spec.shape:
            ty.report("E0401", f"{owner} reads vectors, but {label} is a scalar", at,
                      label=f"{label} is {T.spec_text(spec)}",
                      help="give the key a feature dim, as in `f32[1]` rather than `f32[]`")
            return None
        if lead is None:
            lead = spec.shape[:-1]
        elif not T.shapes_equal(lead, spec.shape[:-1]):
            ty.report("E0401", f"{owner} concatenates its inputs on the last dim, but {labels[0]} has shape "
                               f"{T.shape_text(inputs[0].shape)} and {label} {T.shape_text(spec.shape)}", at,
                      label="the dims before the last one differ",
                      help="inputs may differ in their last dim only")
            return None
    return lead


def feature_sum(inputs: list[T.Spec]) -> T.Dim:
    """The size of the inputs concatenated on their last dim."""
    sizes = [spec.shape[-1] for spec in inputs]
    values = [T.dim_value(size) for size in sizes]
    if all(v is not None for v in values):
        return sum(values)
    if len(sizes) == 1:
        return sizes[0]
    return T.Sym(" + ".join(str(s) for s in sizes), None)


def out_shape(value: object) -> tuple:
    """The trailing output shape of ``out_features``: ``4`` -> ``(4,)``, ``(3, 4)`` -> ``(3, 4)``."""
    return value if isinstance(value, tuple) else (value,)


def node(lo: LoweringContext, args: Args, steps: list, children: tuple = (),
         network: Network | None = None) -> ModuleNode:
    """A module node of ``args.kind`` whose keys are those of ``steps`` run in order."""
    flow = lo.flow(steps, args.span)
    return ModuleNode(Form.KIND, args.kind, args, args.span, flow.reads, flow.writes, children, network,
                      flow.optional_reads, flow.own_writes, inner_reads=flow.inner_reads)


def keys(args: Args, name: str) -> tuple[KeyRef, ...]:
    """The keys of a key-list argument (empty when it is none or INVALID)."""
    value = args[name]
    return value if isinstance(value, tuple) else ()


def key(args: Args, name: str) -> tuple[KeyRef, ...]:
    """A single-key argument as a tuple of zero or one key."""
    value = args[name]
    return (value,) if isinstance(value, KeyRef) else ()


def require_spec_for_safe(lo: LoweringContext, args: Args) -> None:
    """``safe=true`` projects onto the spec, so it needs one (E0603)."""
    if args.ok("safe", "spec") and args["safe"] is True and args["spec"] is None:
        lo.report("E0603", f"`safe=true` needs a spec to project into, and {args.kind.name} has none",
                  args.span_of("safe"), label="no `spec=` to project into",
                  help="pass the spec of the key written, as in `spec=action`")


def product(dims: tuple) -> T.Dim:
    """The product of dims: an int when all are known, else a symbolic dim."""
    values = [T.dim_value(d) for d in dims]
    if all(v is not None for v in values):
        return math.prod(values)  # type: ignore[arg-type]
    return T.Sym(" * ".join(f"({d})" if " " in str(d) else str(d) for d in dims), None)


def through(ty: TypingContext, kwargs: object, inputs: list[T.Spec], labels: list[str], at: Span,
            **owner_values: object) -> list[T.Spec] | None:
    """The outputs of an inner class (a :class:`Kwargs`) on ``inputs``, by its own kind's type
    rule, with the arguments the owner sets (``owner_values``) filled in; None after an error."""
    if not isinstance(kwargs, Kwargs) or kwargs.kind.infer is None:
        return None
    args = kwargs.args.replaced(**owner_values) if owner_values else kwargs.args
    return kwargs.kind.infer(ty, Network(kwargs.kind, args, kwargs.span), inputs, labels, at)


def per_layer_kwargs(ty: TypingContext, args: Args, name: str, layers: int, what: str) -> list | None:
    """The dict of each of ``layers`` layers from the KWARGS argument ``name``: one dict repeated,
    or the list of one per layer (E0606 when its length is not ``layers``, as torchrl refuses
    it); None when the argument is invalid or absent, after any report."""
    value = args[name]
    if value is None or value is INVALID:
        return None
    if not isinstance(value, tuple):
        return [value] * layers
    if len(value) != layers:
        ty.report("E0606", f"`{name}` lists {len(value)} dict{'s' if len(value) != 1 else ''}, but {args.kind.name} "
                           f"has {layers} {what}", args.span_of(name),
                  label=f"{len(value)} dict{'s' if len(value) != 1 else ''}",
                  help=f"give one dict per {what.rstrip('s')} ({layers}), or one dict for all")
        return None
    return list(value)
