"""Wrapper kinds: ``VmapModule`` around a module, and the Q-value forward hooks on a network.

``VmapModule(module)`` runs a tensordict module over one batch dim of its input with
``torch.vmap`` (torchrl's ``VmapModule``). Key specs are per sample, after the batch dims, and
``vmap_dim`` is a batch dim, so the module reads and writes exactly what the wrapped module does,
with the same specs. What the checker adds is torch's rule for random numbers: under
``randomness="error"`` (the default) a random draw inside the vmapped module fails at run time,
so wrapping an exploration module, a distribution sampled by default or a network with dropout
is reported (E0440) unless ``randomness`` or ``mock=true`` allows it.

``QValueHook`` and ``DistributionalQValueHook`` are forward hooks in torchrl: registered with
``net.register_forward_hook(QValueHook("one_hot"))``, they replace the network's output (the
action values) with ``(action, action_values, chosen_action_value)``, or ``(action,
action_values)`` for value distributions. In the language a hook is a network stage written after
the network it is registered on, ``MLP(out_features=4) >> QValueHook("one_hot")``: the compiler
registers it on the stages before it (so the network's parameters keep torchrl's names), or on an
identity when nothing precedes it. ``LogSoftmax(dim)`` (torch's) gives the log-probabilities
the distributional hook reads: ``MLP(out_features=(51, 4)) >> LogSoftmax(dim=-2) >>
DistributionalQValueHook("one_hot", support=linspace(-10, 10, 51))``.
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, ModuleNode, Network, Numbers, Step
from rldsl.lang.kinds._base import ArgType, Family, Kind, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_positive, float_inputs, node
from rldsl.lang.kinds.qvalue import ACTION_SPACES
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID, suggest

A = ArgType

__all__ = ["DISTRIBUTIONAL_QVALUE_HOOK", "KINDS", "LOG_SOFTMAX", "QVALUE_HOOK", "VMAP_MODULE", "random_part"]

# ---------------------------------------------------------------------------------------------
# VmapModule


def random_part(item: object) -> str | None:
    """What draws random numbers inside a module when it is called outside any exploration
    context, in words, or None: an exploration module (its noise), a probabilistic module whose
    ``default_interaction_type`` is ``"random"`` (its sample), dropout (an MLP's ``dropout``, a
    dropout layer's ``p``; in training mode, the default). Inner modules and the stages of networks
    are searched too."""
    stack, seen = [item], set()
    while stack:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        found = _dropout(current)
        if found is not None:
            return found
        if isinstance(current, ModuleNode):
            found = _random_module(current)
            if found is not None:
                return found
            stack.extend(current.children)
            stack.extend(value for value in _argument_values(current.args)
                         if isinstance(value, (ModuleNode, Network)))
            if current.network is not None:
                stack.append(current.network)
        elif isinstance(current, Network):
            stack.extend(current.stages)
    return None


def _argument_values(args: Args | None) -> list[object]:
    return [] if args is None else [arg.value for arg in args.values.values()]


def _dropout(item: ModuleNode | Network) -> str | None:
    """Dropout a network or module applies, in words: an MLP's ``dropout``, or the ``p`` of a
    dropout kind (``ConsistentDropout``)."""
    kind, args = item.kind, item.args
    if kind is None or args is None:
        return None
    name = "dropout" if "dropout" in args.values else "p" if "Dropout" in kind.name and "p" in args.values else None
    value = args[name] if name is not None else None
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return f"{kind.name} applies dropout (`{name}={T.number_text(value)}`)"
    return None


def _random_module(module: ModuleNode) -> str | None:
    kind, args = module.kind, module.args
    if kind is None or args is None:
        return None
    if kind.role == "explore":
        return f"{kind.name} draws its exploration noise"
    if "default_interaction_type" in args.values and args["default_interaction_type"] == "random":
        return f'{kind.name} samples its distribution (`default_interaction_type="random"`)'
    return None


def _build_vmap(lo: LoweringContext, args: Args) -> ModuleNode | object:
    module = args["module"]
    if not isinstance(module, ModuleNode):
        return INVALID
    if args.ok("mock", "randomness") and args["mock"] is not True and args["randomness"] == "error":
        found = random_part(module)
        if found is not None:
            lo.report("E0440", "VmapModule maps with `randomness=\"error\"`, but the module it maps draws random "
                               f"numbers: {found}", args.span_of("module"), label="draws random numbers",
                      help='pass `randomness="different"` (each slice draws its own numbers) or `"same"`, or '
                           "`mock=true` (a loop over the slices instead of vmap)")
    return node(lo, args, [Step.of(module)], children=(module,))


def _infer_vmap(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)


VMAP_MODULE = Kind(
    name="VmapModule",
    family=Family.MODULE,
    runtime="rldsl.modules.VmapModule",
    summary="Runs a module over one batch dim of its input with `torch.vmap`.",
    params=(
        Param("module", A.MODULE, doc="the module to map (a module with keys)", positional=True),
        Param("vmap_dim", A.INT, None, "the batch dim mapped over, negative from the end (default: the last batch "
                                       "dim)", positional=True),
        Param("mock", A.BOOL, False, "loop over the slices and stack the results instead of vmapping",
              positional=True),
        Param("randomness", A.CHOICE, "error", "torch.vmap's randomness: \"error\" (a random draw fails), "
                                               "\"different\" or \"same\"", choices=("error", "different", "same")),
    ),
    reads="what `module` reads",
    writes="what `module` writes",
    rule="the module's rule: key specs exclude batch dims, and `vmap_dim` is a batch dim, so every spec is the "
         "module's; with `randomness=\"error\"` the module must not draw random numbers (exploration noise, a "
         "`\"random\"` default interaction, dropout) unless `mock=true`",
    build=_build_vmap,
    infer=_infer_vmap,
)

# ---------------------------------------------------------------------------------------------
# Q-value hooks


def _space(args: Args) -> str | None:
    """The canonical action space, None when it is not one (reported when built)."""
    value = args["action_space"]
    return ACTION_SPACES.get(value) if args.ok("action_space") and isinstance(value, str) else None


def _build_hook(lo: LoweringContext, args: Args) -> Network:
    space = args["action_space"]
    if args.ok("action_space") and isinstance(space, str) and space not in ACTION_SPACES:
        guess = suggest(space, ACTION_SPACES)
        lo.report("E0606", f"unknown action space `{space}`", args.span_of("action_space"), label="not an action space",
                  help=f'did you mean "{guess}"?' if guess else
                  'action spaces are "one_hot", "categorical", "mult_one_hot", "multi_categorical" and "binary"')
    check_positive(lo, args, "var_nums")
    canonical = _space(args)
    var_nums = args["var_nums"]
    if canonical == "binary" and args.ok("var_nums") and var_nums is not None \
            and any(T.dim_value(v) != 2 for v in (var_nums if isinstance(var_nums, tuple) else (var_nums,))):
        lo.report("E0606", "binary action values come in pairs, one per bit: `var_nums` is 2 or left out",
                  args.span_of("var_nums"), label="not 2", help="drop `var_nums`")
    elif canonical in ("mult_one_hot", "multi_categorical") and args.ok("var_nums") and var_nums is None:
        lo.report("E0603", f"{args.kind.name} needs `var_nums` for the \"{canonical}\" action space: the size of each "
                           "variable", args.name_span, label="variable sizes unknown",
                  help="pass them, as in `var_nums=[3, 2]` (or one size shared by every variable)")
    return Network(args.kind, args, args.span)


def _variables(ty: TypingContext, args: Args, width: T.Dim, at: Span) -> tuple | object | None:
    """The size of each variable of a multi space along the values' last dim (``width``), from
    `var_nums` (a list, or one size shared by every variable): None when a size is not known,
    INVALID after E0403 (they do not add up to ``width``)."""
    var_nums = args["var_nums"]
    size = T.dim_value(width)
    if isinstance(var_nums, tuple):
        sizes = tuple(T.dim_value(v) for v in var_nums)
        if None in sizes or size is None or sum(sizes) == size:
            return tuple(var_nums)
        problem = f"the variable sizes {list(sizes)} add up to {sum(sizes)}"
    else:
        each = T.dim_value(var_nums)
        if each is None or size is None:
            return None
        if size % each == 0 and size > 0:
            return (each,) * (size // each)
        problem = f"{size} is not a whole number of variables of size {each}"
    ty.report("E0403", f"{args.kind.name} splits the last dim of the action values ({size}) into variables, but "
                       f"{problem}", at, label="values do not fit `var_nums`",
              labels=((args.span_of("var_nums"), "the variable sizes"),),
              help="make the network output the sum of the variable sizes, or correct `var_nums`")
    return INVALID


def _action(ty: TypingContext, args: Args, space: str, values: T.Spec, at: Span) -> T.Spec | None:
    """The greedy action's spec for action values ``[*B, n]`` in ``space`` (int64, as the runtime
    writes it); None after an error."""
    lead, width = values.shape[:-1], values.shape[-1]
    if space == "one_hot":
        return T.OneHot(width, values.shape, "i64")
    if space == "categorical":
        return T.Categorical(width, lead, "i64")
    if space == "binary":
        size = T.dim_value(width)
        if size is not None and size % 2:
            ty.report("E0403", f"binary action values hold a pair per bit, but the last dim is {size} (odd)", at,
                      label="an odd number of values", help="make the network output two values per bit")
            return None
        bits = size // 2 if size is not None else T.Sym(f"{width} // 2", None)
        return T.Binary(bits, (*lead, bits), "i64")
    if args["var_nums"] is None:
        return None  # E0603 when built
    sizes = _variables(ty, args, width, at)
    if sizes is INVALID:
        return None
    if sizes is None:
        return T.UNKNOWN  # a dim of unknown size: compiling asks for its size first
    if space == "mult_one_hot":
        return T.MultiOneHot(sizes, values.shape, "i64")
    return T.MultiCategorical(sizes, (*lead, len(sizes)), "i64")


def _infer_hook(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None and net.kind is not None
    name = net.kind.name
    if len(inputs) != 1:
        ty.report("E0407", f"{name} reads the action values, one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs",
                  help=f"register it on a network that outputs the action values: `MLP(...) >> {name}(...)`")
        return None
    space = _space(args)
    if T.is_unknown(*inputs) or space is None or not args.ok("var_nums") \
            or not float_inputs(ty, inputs, labels, name, at):
        return None
    values = inputs[0]
    distributional = "support" in args.values
    if distributional:
        per_action = _expected_values(ty, args, values, labels[0], at)
        if per_action is None:
            return None
    elif not values.shape:
        ty.report("E0503", f"{name} reads a vector of action values per sample, but {labels[0]} is a scalar", at,
                  label=f"{labels[0]} is {T.spec_text(values)}",
                  help="make the network output one value per action (`out_features=n`)")
        return None
    else:
        per_action = values
    action = _action(ty, args, space, per_action, at)
    if action is None:
        return None
    if distributional:
        return [action, values]
    return [action, values, T.Unbounded((*values.shape[:-1], 1), values.dtype)]


def _expected_values(ty: TypingContext, args: Args, values: T.Spec, label: str, at: Span) -> T.Spec | None:
    """Distributional values ``[*B, bins, n]`` of log-probabilities over a support of ``bins``
    atoms give the expected values ``[*B, n]``; E0404 for the shape, E0710 for values that may be
    positive."""
    name = args.kind.name
    if len(values.shape) < 2:
        ty.report("E0404", f"{name} reads `[bins, actions]` log-probabilities per sample, but {label} is "
                           f"{T.spec_text(values)}", at, label="needs two dims: bins and actions",
                  help="make the network output both, as in `MLP(out_features=(bins, actions)) >> LogSoftmax(dim=-2)`")
        return None
    support = args["support"]
    bins = values.shape[-2]
    if isinstance(support, Numbers) and not T.dims_equal(support.length, bins):
        shown = T.dim_value(bins) if T.dim_value(bins) is not None else bins
        ty.report("E0404", f"the support has {support.length} atoms but the values have {shown} bins",
                  args.span_of("support"), label=f"{support.length} values",
                  labels=((at, f"{label} is {T.spec_text(values)}"),),
                  help="give the support one value per bin (the second-to-last dim of the values)")
        return None
    if not _never_positive(values):
        ty.report("E0710", f"{name} reads log-probabilities over the atoms (never positive), but {label} is "
                           f"{T.spec_text(values)}, which may be positive", at, label="not log-probabilities",
                  help="normalise over the atoms first: `... >> LogSoftmax(dim=-2) >> "
                       f"{name}(...)` (or declare the key read with bounds `in [-inf, 0.0]`)")
        return None
    return T.Unbounded((*values.shape[:-2], values.shape[-1]), values.dtype)


def _never_positive(spec: T.Spec) -> bool:
    high = spec.high if isinstance(spec, T.Bounded) else None
    return high is not None and all(h <= 0 for h in (high if isinstance(high, tuple) else (high,)))


_HOOK_SPACE = Param("action_space", A.STR, doc="`one_hot`, `categorical`, `mult_one_hot`, `multi_categorical` or "
                                                "`binary`: how the action is encoded", positional=True)
_HOOK_VAR_NUMS = Param("var_nums", A.INTS, None, "the size of each variable of a multi space (one size, or a list)")
_HOOK_OMITTED = (
    ("action_value_key", "the hook receives the network's output itself; the keys are the declaration's"),
    ("action_mask_key", "a hook sees only the network's output, never a mask: use QValueModule(action_mask_key=...)"),
    ("out_keys", "the hook returns a tuple; name its keys after `->` or in `out=`"),
)

QVALUE_HOOK = Kind(
    name="QValueHook",
    family=Family.NETWORK,
    runtime="rldsl.modules.QValueHook",
    summary="A forward hook on the network before it: action values become the greedy action, the values and the "
            "chosen value.",
    params=(_HOOK_SPACE, _HOOK_VAR_NUMS),
    reads="one tensor: the action values of the network it follows",
    writes="three tensors: `action`, `action_value`, `chosen_action_value`",
    rule="`f[*B, n]` gives the action (i64: `onehot(n)` `[*B, n]`, `categorical(n)` `[*B]`, multi spaces by "
         "`var_nums`, `binary(n / 2)`), the values `f[*B, n]` unchanged, and `f[*B, 1]`; written after a network, "
         "`net >> QValueHook(...)`, it is registered on it (`net.register_forward_hook`)",
    omitted=_HOOK_OMITTED,
    build=_build_hook,
    infer=_infer_hook,
)

DISTRIBUTIONAL_QVALUE_HOOK = Kind(
    name="DistributionalQValueHook",
    family=Family.NETWORK,
    runtime="rldsl.modules.DistributionalQValueHook",
    summary="A forward hook on the network before it: value distributions become the greedy action and the values.",
    params=(
        _HOOK_SPACE,
        Param("support", A.NUMBERS, doc="the value of each atom, one per bin: `linspace(-10, 10, 51)`",
              positional=True),
        _HOOK_VAR_NUMS,
    ),
    reads="one tensor: log-probabilities `[*B, bins, n]` (after `LogSoftmax(dim=-2)`)",
    writes="two tensors: `action` and the values",
    rule="`f[*B, bins, n]` log-probabilities (never positive) with a support of `bins` values give the action of "
         "QValueHook's rule on the expected values `f[*B, n]`, and the values unchanged",
    omitted=_HOOK_OMITTED,
    build=_build_hook,
    infer=_infer_hook,
)

# ---------------------------------------------------------------------------------------------
# LogSoftmax


def _infer_log_softmax(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                       at: Span) -> list[T.Spec] | None:
    args = net.args
    assert args is not None
    if len(inputs) != 1:
        ty.report("E0407", f"LogSoftmax reads one tensor, but is given {len(inputs)}", at,
                  label=f"{len(inputs)} inputs", help="read one key, or concatenate several with an MLP first")
        return None
    if T.is_unknown(*inputs) or not float_inputs(ty, inputs, labels, "LogSoftmax", at) or not args.ok("dim"):
        return None
    spec, dim = inputs[0], T.dim_value(args["dim"])
    ndim = len(spec.shape)
    if dim is not None and not -ndim <= dim < ndim:
        ty.report("E0606", f"`dim={dim}` is out of range for {labels[0]}, {T.spec_text(spec)} ({ndim} dim"
                           f"{'s' if ndim != 1 else ''})", args.span_of("dim"), label="no such dim",
                  help=f"pick a dim in [{-ndim}, {ndim - 1}], such as `dim=-2` for `[bins, actions]` values"
                  if ndim else "a scalar has no dim to normalise over")
        return None
    return [T.Bounded(spec.shape, spec.dtype, -math.inf, 0.0)]


LOG_SOFTMAX = Kind(
    name="LogSoftmax",
    family=Family.NETWORK,
    runtime="torch.nn.LogSoftmax",
    summary="Log-probabilities: `x - logsumexp(x)` over one dim.",
    params=(Param("dim", A.INT, doc="the dim normalised over (negative from the end)", positional=True),),
    reads="one tensor",
    writes="one tensor",
    rule="`f[*S]` gives `f[*S] in [-inf, 0]`; `dim` is a dim of the input",
    infer=_infer_log_softmax,
)


KINDS = (VMAP_MODULE, QVALUE_HOOK, DISTRIBUTIONAL_QVALUE_HOOK, LOG_SOFTMAX)
