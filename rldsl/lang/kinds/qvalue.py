"""Q-value kinds: pick the action with the highest value.

``QValueModule`` reads action values and writes the greedy action and its value;
``QValueActor`` puts a value network in front of it. ``DistributionalQValueModule`` and
``DistributionalQValueActor`` do the same from distributions over value atoms (``[bins,
actions]`` per sample, with a ``support`` of one value per bin).

The action space comes from the spec's class (or ``action_space=``): ``one_hot``,
``categorical``, ``mult_one_hot``, ``multi_categorical`` or ``binary``, as rldsl's runtime
supports them (torchrl 0.14 refuses ``multi_categorical`` and fails on ``binary`` at run time).
"""

from __future__ import annotations


import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Form, KeyRef, ModuleNode, Network, Numbers, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import key, keys, node, require_spec_for_safe
from rldsl.lang.kinds.exploration import check_mask
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID, suggest

A = ArgType

#: Accepted spellings of ``action_space`` and the canonical name of each.
ACTION_SPACES = {
    "one_hot": "one_hot", "one-hot": "one_hot",
    "mult_one_hot": "mult_one_hot", "mult-one-hot": "mult_one_hot",
    "multi_one_hot": "mult_one_hot", "multi-one-hot": "mult_one_hot",
    "binary": "binary", "categorical": "categorical",
    "multi_categorical": "multi_categorical", "multi-categorical": "multi_categorical",
    "multi_discrete": "multi_categorical", "multi-discrete": "multi_categorical",
}  # fmt: skip
_SPACE_OF = {T.OneHot: "one_hot", T.Categorical: "categorical", T.MultiOneHot: "mult_one_hot",
             T.MultiCategorical: "multi_categorical", T.Binary: "binary"}  # fmt: skip



def action_space_of(spec: T.Spec) -> str | None:
    """The canonical action space of a spec (``onehot(4)`` -> ``"one_hot"``), None for one that is not
    discrete."""
    return _SPACE_OF.get(type(spec))


def _space_of_spec(args: Args) -> str | None:
    """`action_space` left out is the spec's: the runtime classes (DistributionalQValueModule's
    constructor, as torchrl's, requires it) get it from the compiler, or nothing without a spec."""
    spec = args["spec"] if "spec" in args.values else None
    return action_space_of(spec.spec) if isinstance(spec, SpecArg) else None


_ACTION_SPACE = Param("action_space", A.STR, None, "`one_hot`, `categorical`, `mult_one_hot`, `multi_categorical` or "
                                                  "`binary` (default: from the spec)", derive=_space_of_spec)
_SPEC = Param("spec", A.SPEC, None, "the action's spec (discrete)", meaning=Meaning.SPEC_IN_COMPOSITE)
_SAFE = Param("safe", A.BOOL, False, "project the action onto the spec (its dtype included)")
_MASK = Param("action_mask_key", A.KEY, None, "the key of a boolean mask of allowed actions", meaning=Meaning.MASK)
_VAR_NUMS = Param("var_nums", A.INTS, None, "variable sizes for multi spaces (default: the spec's nvec)")


def _check_space(lo: LoweringContext, args: Args) -> None:
    space = args["action_space"]
    if args.ok("action_space") and space is not None and space not in ACTION_SPACES:
        guess = suggest(str(space), ACTION_SPACES)
        lo.report("E0606", f"unknown action space `{space}`", args.span_of("action_space"), label="not an action space",
                  help=f'did you mean "{guess}"?' if guess else
                  'action spaces are "one_hot", "categorical", "mult_one_hot", "multi_categorical" and "binary"')
    if args.ok("action_space", "spec") and space is None and args["spec"] is None:
        lo.report("E0603", f"{args.kind.name} needs `spec=` or `action_space=` to know how actions are encoded",
                  args.name_span, label="no action space",
                  help="pass the action's spec, as in `spec=action`")
    require_spec_for_safe(lo, args)


def _value_step(lo: LoweringContext, args: Args, count: int) -> tuple[Step, tuple[KeyRef, ...]] | None:
    """The Q-value step: reads the values (and mask), writes ``count`` keys [action, values, chosen]."""
    values = args["action_value_key"]
    if not isinstance(values, KeyRef):
        return None
    mask = key(args, "action_mask_key")
    if "out" in args.values and args["out"] is not None:
        outputs = keys(args, "out")
        if not args.ok("out"):
            return None
        if len(outputs) != count:
            names = "[action, action_value, chosen_action_value]" if count == 3 else "[action, action_value]"
            listed = f"{len(outputs)} key{'s' if len(outputs) != 1 else ''}"
            lo.report("E0606", f"`out` lists {listed}; {args.kind.name} writes {count}: {names}",
                      args.span_of("out"), label=f"{count} keys expected",
                      help=f"list the keys in that order, as in `out=[action, {values.dotted}"
                           f"{', chosen_action_value' if count == 3 else ''}]`")
            return None
        if outputs[1].path != values.path:
            lo.report("E0308", f"the second key of `out` must be the action values `{values.dotted}`, found "
                               f"`{outputs[1].dotted}`", outputs[1].span, label="not the action-value key",
                      help=f"write `{values.dotted}` second: the module writes the values it read back there")
            return None
    else:
        outputs = output_keys(args, count)
    return Step((values, *mask), outputs), outputs


def output_keys(args: Args, count: int) -> tuple[KeyRef, ...]:
    """The keys the Q-value step writes: `out`, else [action_key, action_value_key,
    chosen_action_value_key] with their defaults; the first ``count`` of them."""
    if "out" in args.values and isinstance(args["out"], tuple):
        return args["out"][:count]
    action = args["action_key"] if "action_key" in args.values else None
    chosen = args["chosen_action_value_key"] if "chosen_action_value_key" in args.values else None
    values = args["action_value_key"]
    outputs = (action if isinstance(action, KeyRef) else KeyRef(("action",), args.name_span, True), values,
               chosen if isinstance(chosen, KeyRef) else KeyRef(("chosen_action_value",), args.name_span, True))
    return outputs[:count]


def _build_module(lo: LoweringContext, args: Args) -> ModuleNode | object:
    _check_space(lo, args)
    step = _value_step(lo, args, 2 if "support" in args.values else 3)
    if step is None:
        return INVALID
    return node(lo, args, [step[0]])


def _build_actor(lo: LoweringContext, args: Args) -> ModuleNode | object:
    _check_space(lo, args)
    distributional = "support" in args.values
    step = _value_step(lo, args, 2 if distributional else 3)
    module = args["module"]
    values = args["action_value_key"]
    if step is None or not isinstance(values, KeyRef) or module is INVALID:
        return INVALID
    if isinstance(module, Network):
        inputs = keys(args, "in")
        wrapped = ModuleNode(Form.KEYED, None, None, module.span, inputs, (values,), network=module,
                             own_writes=(values,))
    else:
        assert isinstance(module, ModuleNode)
        if not any(ref.path == values.path for ref in module.writes):
            written = ", ".join(f"`{ref.dotted}`" for ref in module.writes) or "nothing"
            lo.report("E0308", f"{args.kind.name} reads the action values at `{values.dotted}`, but its module writes "
                               f"{written}", args.span_of("module"), label=f"does not write `{values.dotted}`",
                      help=f"make the module write `{values.dotted}`, or pass `action_value_key=` with its key")
            return INVALID
        wrapped = module
    return node(lo, args, [Step.of(wrapped), step[0]], children=(wrapped,))


def _space(ty: TypingContext, args: Args) -> tuple[str, SpecArg | None] | None:
    """The canonical action space, from the spec's class or `action_space` (E0706 when they clash)."""
    target: SpecArg | None = args["spec"] if args.ok("spec") else None
    named = ACTION_SPACES.get(args["action_space"]) if args.ok("action_space") and args["action_space"] else None
    if target is not None and not T.is_unknown(target.spec):
        space = _SPACE_OF.get(type(target.spec))
        if space is None:
            ty.report("E0706", f"{args.kind.name} needs a discrete action spec, but the spec is "
                               f"{T.spec_text(target.spec)}", target.span, label="not a discrete spec",
                      help="Q-value modules choose among discrete actions: use a `onehot(n)` or `categorical(n)` "
                           "action; for continuous actions use an Actor or a ProbabilisticActor")
            return None
        if named is not None and named != space:
            ty.report("E0706", f"`action_space` is \"{named}\" but the spec is {T.spec_text(target.spec)} "
                               f"(\"{space}\")", args.span_of("action_space"), label="does not match the spec",
                      help="drop `action_space`: the spec says it")
            return None
        return space, target
    if target is not None:
        return None
    return (named, None) if named is not None else None


def _expected_values(space: str, spec: T.Spec) -> tuple | None:
    """The shape action values must have for ``spec``."""
    if space in ("one_hot", "mult_one_hot"):
        return spec.shape
    if space == "categorical":
        return (*spec.shape, spec.n)
    if space == "multi_categorical":
        return (*spec.shape[:-1], sum(spec.nvec))
    if space == "binary":
        n = T.dim_value(spec.n)
        return (*spec.shape[:-1], 2 * n if n is not None else T.Sym(f"2 * {spec.n}"))
    return None


def _action_from_values(space: str, values: T.Spec, var_nums: object) -> T.Spec | None:
    """The greedy action's spec when no spec says it: from the values' shape."""
    shape = values.shape
    if space == "one_hot":
        return T.OneHot(shape[-1], shape, "i64")
    if space == "categorical":
        return T.Categorical(shape[-1], shape[:-1], "i64")
    if space == "mult_one_hot" and isinstance(var_nums, tuple):
        return T.MultiOneHot(tuple(T.dim_value(v) for v in var_nums), shape, "i64")
    return None


def _greedy(ty: TypingContext, module: ModuleNode, args: Args, values_ref: KeyRef, values: T.Spec, at: Span) -> None:
    """Check the action values against the action space and write the action (and chosen value)."""
    found = _space(ty, args)
    if found is None or T.is_unknown(values):
        return
    space, target = found
    if isinstance(values, T.Composite) or not T.is_float_dtype(values.dtype) or not values.shape:
        ty.report("E0503", f"action values are a float vector per sample, but `{values_ref.dotted}` is "
                           f"{T.spec_text(values)}", at, label="not float action values",
                  help="feed the Q-value module the output of a value network")
        return
    if space == "binary" and isinstance(args["action_mask_key"], KeyRef):
        ty.report("E0706", "binary action spaces take no mask", args.span_of("action_mask_key"),
                  label="no mask possible",
                  help="use a multicategorical spec with two values per variable to mask bits")
        return
    if target is not None:
        expected = _expected_values(space, target.spec)
        if expected is None or not T.shapes_equal(values.shape, expected):
            _values_mismatch(ty, args, space, values_ref, values, target, expected, at)
            return
        action = target.spec
        if space == "one_hot" or space == "mult_one_hot":
            action = _with_dtype(action, "i64")
        elif space in ("categorical", "multi_categorical", "binary"):
            action = _with_dtype(action, "i64")
    else:
        action = _action_from_values(space, values, args["var_nums"] if "var_nums" in args.values else None)
        if action is None:
            ty.report("E0603", f"a \"{space}\" action space without a spec needs `var_nums`", args.name_span,
                      label="variable sizes unknown", help="pass the action's spec, as in `spec=action`")
            return
    _check_var_nums(ty, args, space, target)
    if target is not None and not _strict_shape_fits(ty, args, space, target):
        return
    mask = args["action_mask_key"]
    if isinstance(mask, KeyRef):
        check_mask(ty, mask, values.shape, target.spec if target is not None else action)
    elif target is not None and getattr(target.spec, "mask", None) is not None:
        ty.report("W0502", f"the action spec has a mask, but {args.kind.name} reads none", args.name_span,
                  label="may choose a forbidden action",
                  help="pass `action_mask_key=` with the key of the mask")
    outputs = output_keys(args, 2 if "support" in args.values else 3)
    if args["safe"] is True and target is not None:
        typed = Typed(target.spec, Origin.PROJECTED, ty.by(module))
    else:
        typed = Typed(action, Origin.CHOSEN, ty.by(module))
    ty.write(module, outputs[0], typed, target=target, remedy="pass `safe=true` to cast the action into its spec")
    if len(outputs) == 3:
        chosen = T.Unbounded((*values.shape[:-1], 1), values.dtype)
        ty.write(module, outputs[2], Typed(chosen, Origin.COPY, ty.by(module)))


def _strict_shape_fits(ty: TypingContext, args: Args, space: str, target: SpecArg) -> bool:
    """torchrl's shape check (`strict_shape`, on by default) expects an action of shape
    ``values.shape[:-1] + per_sample``, ``per_sample`` being the spec's shape without the batch dims
    of the composite holding its key (`agents.action` in `agents : {...}[n_agents]` has none left):
    a categorical spec with a per-sample shape never meets it (its action is one more dim short), so
    the first call fails, and `"auto"` reshapes the action out of its spec (or fails). E0606 unless
    `strict_shape=false`."""
    if space != "categorical" or "strict_shape" not in args.values or not args.ok("strict_shape"):
        return True
    shape, strict = target.spec.shape, args["strict_shape"]
    parent = ty.declared(target.key[:-1]) if target.key is not None and len(target.key) > 1 else None
    if isinstance(parent, T.Composite) and T.shapes_equal(shape[:len(parent.shape)], parent.shape):
        shape = shape[len(parent.shape):]  # the composite's batch dims are the values' batch dims
    if not shape or strict is False:
        return True
    expected = T.shape_text((*shape, shape[-1]))
    ty.report("E0606", f"`strict_shape` holds the action to shape {expected}, but for the spec "
                       f"{T.spec_text(target.spec)} it has shape {T.shape_text(shape)}: every call would fail, or "
                       "(with \"auto\") write an action outside its spec", args.span_of("strict_shape"),
              label="this shape check cannot pass",
              help="pass `strict_shape=false`: the action has the spec's shape, and torchrl's check expects one "
                   "more dim for a categorical spec with a shape")
    return False


def _with_dtype(spec: T.Spec, dtype: str) -> T.Spec:
    import attrs

    return attrs.evolve(spec, dtype=dtype)


def _values_mismatch(ty: TypingContext, args: Args, space: str, ref: KeyRef, values: T.Spec, target: SpecArg,
                     expected: tuple | None, at: Span) -> None:
    shape = T.shape_text(expected) if expected is not None else "?"
    hint = ""
    if space == "categorical" and expected is not None and len(values.shape) + 1 == len(expected):
        hint = ("; a categorical spec with a trailing dim of 1 needs values with that dim too "
                "(or `strict_shape=\"auto\"`)")
    ty.report("E0403", f"action values of shape {T.shape_text(values.shape)} do not fit the action spec "
                       f"{T.spec_text(target.spec)}, which needs values of shape {shape}", at,
              label=f"`{ref.dotted}` is {T.spec_text(values)}",
              labels=((target.span, "the action spec"),),
              help="make the value network output one value per action "
                   f"(`out_features={expected[-1] if expected else '?'}`)"
                   + hint)


def _check_var_nums(ty: TypingContext, args: Args, space: str, target: SpecArg | None) -> None:
    var_nums = args["var_nums"] if "var_nums" in args.values else None
    if var_nums is None or var_nums is INVALID or target is None:
        return
    nvec = getattr(target.spec, "nvec", None)
    if nvec is None:
        return
    sizes = tuple(T.dim_value(v) for v in (var_nums if isinstance(var_nums, tuple) else (var_nums,) * len(nvec)))
    if sizes != tuple(nvec):
        ty.report("E0606", f"`var_nums` gives variable sizes {list(sizes)}, the spec {list(nvec)}",
                  args.span_of("var_nums"), label="does not match the spec", help="drop `var_nums`: the spec gives it")


def _infer_module(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    values_ref = args["action_value_key"]
    if not isinstance(values_ref, KeyRef):
        return
    if "support" in args.values:
        _distributional(ty, module, args, values_ref, ty.read(values_ref), values_ref.span)
    else:
        _greedy(ty, module, args, values_ref, ty.read(values_ref), values_ref.span)


def _infer_actor(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    for child in module.children:
        ty.module(child)
    values_ref = args["action_value_key"]
    if not isinstance(values_ref, KeyRef):
        return
    at = module.children[0].span if module.children else args.span
    if "support" in args.values:
        _distributional(ty, module, args, values_ref, ty.read(values_ref), at)
    else:
        _greedy(ty, module, args, values_ref, ty.read(values_ref), at)


def _distributional(ty: TypingContext, module: ModuleNode, args: Args, ref: KeyRef, values: T.Spec, at: Span) -> None:
    """[bins, actions] values and a support of length bins; then the greedy rule on [actions]."""
    if T.is_unknown(values) or isinstance(values, T.Composite):
        return
    if len(values.shape) < 2:
        ty.report("E0404", f"a distributional Q-value head outputs [bins, actions] per sample, but `{ref.dotted}` is "
                           f"{T.spec_text(values)}", at, label="needs two dims: bins and actions",
                  help="make the network output both, as in `MLP(out_features=(bins, actions))`")
        return
    support = args["support"]
    bins = values.shape[-2]
    if isinstance(support, Numbers) and not T.dims_equal(support.length, bins):
        shown = T.dim_value(bins) if T.dim_value(bins) is not None else bins
        ty.report("E0404", f"the support has {support.length} atoms but the head outputs {shown} bins",
                  args.span_of("support"),
                  label=f"{support.length} values", labels=((at, f"`{ref.dotted}` is {T.spec_text(values)}"),),
                  help="give the support one value per bin (the second-to-last dim of the values)")
        return
    if not _log_probabilities(ty, args, ref, at):
        return
    expected = T.Unbounded((*values.shape[:-2], values.shape[-1]), values.dtype)
    _greedy(ty, module, args, ref, expected, at)


def _log_probabilities(ty: TypingContext, args: Args, ref: KeyRef, at: Span) -> bool:
    """A distributional head reads log-probabilities over the atoms, which are never positive (the
    runtime refuses positive inputs): values a network writes must be normalised first (the actor's
    `make_log_softmax=true`) or bounded above by 0. E0710 otherwise. Declared keys are data and
    are trusted."""
    if "make_log_softmax" in args.values and args["make_log_softmax"] is not False:
        return True
    found = ty.written(ref.path) if ty.declared(ref.path) is None else None
    if found is None or found.origin is not Origin.NETWORK:
        return True
    if _never_positive(found.spec) or _never_positive(ty.read(ref)):  # the latest write (a log-softmax) counts
        return True
    spec = found.spec
    actor = "make_log_softmax" in args.values
    ty.report("E0710", f"{args.kind.name} reads log-probabilities over the atoms (never positive), but "
                       f"`{ref.dotted}` is written by {found.by} as {T.spec_text(spec)}, which may be positive",
              at, label="not log-probabilities",
              help="keep `make_log_softmax=true`, which normalises the network's output" if actor else
              "use DistributionalQValueActor(network, support=...): it applies a log-softmax over the atoms first")
    return False


def _never_positive(spec: T.Spec) -> bool:
    """Whether every value of ``spec`` is at most 0 (a bounded spec with non-positive upper bounds)."""
    return isinstance(spec, T.Bounded) and all(h <= 0 for h in (spec.high if isinstance(spec.high, tuple)
                                                                  else (spec.high,)))


_IN = Param("in", A.KEYS, ("observation",), "the keys the value network reads", target="in_keys", aka=("in_keys",),
            meaning=Meaning.INPUTS)
_VALUES = Param("action_value_key", A.KEY, "action_value", "the key of the action values")
_ATOM_LOG_PROBABILITIES = attrs.evolve(_VALUES, meaning=Meaning.LOG_PROBABILITIES)  # [*B, atoms, n]

QVALUE_MODULE = Kind(
    name="QValueModule",
    family=Family.MODULE,
    runtime="rldsl.modules.QValueModule",
    summary="The greedy action and its value, from action values.",
    params=(
        Param("action_space", A.STR, None, _ACTION_SPACE.doc, positional=True, derive=_space_of_spec),
        _VALUES,
        _MASK,
        Param("out", A.KEYS, None, "`[action, action_value, chosen_action_value]` keys", target="out_keys",
              aka=("out_keys",)),
        _VAR_NUMS,
        _SPEC,
        _SAFE,
        Param("strict_shape", A.CHOICE, True, "hold the action to the spec's shape: true, false or \"auto\"",
              choices=(True, False, None, "auto")),
    ),
    reads="`action_value` (and the mask key)",
    writes="`action`, `action_value`, `chosen_action_value`",
    rule="values `f[*B, n]` for `onehot(n)` (`f[*S, n]` for `categorical(n, shape=S)`) give the action of the spec's "
         "class (i64) and `chosen_action_value: f[*B, 1]`; masks are bool and shaped like the values",
    role="actor",
    build=_build_module,
    infer=_infer_module,
)

QVALUE_ACTOR = Kind(
    name="QValueActor",
    family=Family.MODULE,
    runtime="rldsl.modules.QValueActor",
    summary="A value network followed by a QValueModule: a greedy policy.",
    params=(
        Param("module", A.NET_OR_MODULE, doc="the value network (or a module writing `action_value`)", positional=True),
        _IN,
        _SPEC,
        _SAFE,
        _ACTION_SPACE,
        _VALUES,
        Param("action_key", A.KEY, None, "the key of the action (default `action`)", aka=("out", "out_keys")),
        Param("chosen_action_value_key", A.KEY, None, "the key of the chosen value (default `chosen_action_value`)"),
        _MASK,
        Param("strict_shape", A.CHOICE, True, "hold the action to the spec's shape",
              choices=(True, False, None, "auto")),
    ),
    reads="`observation`",
    writes="`action_value`, then `action` and `chosen_action_value`",
    rule="the network's rule from `in` to `action_value`, then QValueModule's",
    role="actor",
    build=_build_actor,
    infer=_infer_actor,
)

DISTRIBUTIONAL_QVALUE_MODULE = Kind(
    name="DistributionalQValueModule",
    family=Family.MODULE,
    runtime="rldsl.modules.DistributionalQValueModule",
    summary="The greedy action from distributions over value atoms.",
    params=(
        Param("action_space", A.STR, None, _ACTION_SPACE.doc, positional=True, derive=_space_of_spec),
        Param("support", A.NUMBERS, doc="the value of each atom: `linspace(-10, 10, 51)`", positional=True),
        _ATOM_LOG_PROBABILITIES,
        _MASK,
        Param("out", A.KEYS, None, "`[action, action_value]` keys", target="out_keys", aka=("out_keys",)),
        _VAR_NUMS,
        _SPEC,
        _SAFE,
    ),
    reads="`action_value` (log-probabilities `[*B, bins, actions]`)",
    writes="`action`",
    rule="values `f[*B, bins, n]` with a support of `bins` values; the expected values `f[*B, n]` follow "
         "QValueModule's rule",
    role="actor",
    build=_build_module,
    infer=_infer_module,
)

DISTRIBUTIONAL_QVALUE_ACTOR = Kind(
    name="DistributionalQValueActor",
    family=Family.MODULE,
    runtime="rldsl.modules.DistributionalQValueActor",
    summary="A network giving value distributions over atoms, then the greedy action.",
    params=(
        Param("module", A.NET_OR_MODULE, doc="outputs `[bins, actions]` per sample: `MLP(out_features=(bins, n))`",
              positional=True),
        Param("support", A.NUMBERS, doc="the value of each atom, one per bin", positional=True),
        Param("in", A.KEYS, ("observation",), "the keys the network reads", target="in_keys", positional=True,
              aka=("in_keys",), meaning=Meaning.INPUTS),
        _SPEC,
        _SAFE,
        _VAR_NUMS,
        _ACTION_SPACE,
        _ATOM_LOG_PROBABILITIES,
        _MASK,
        Param("make_log_softmax", A.BOOL, True, "apply log-softmax over the bins first"),
    ),
    reads="`observation`",
    writes="`action_value` (`[*B, bins, n]`), `action`",
    rule="the network outputs `f[*B, bins, n]`; the support has `bins` values; the action follows QValueModule's rule "
         "on `f[*B, n]`",
    role="actor",
    build=_build_actor,
    infer=_infer_actor,
)

KINDS = (QVALUE_MODULE, QVALUE_ACTOR, DISTRIBUTIONAL_QVALUE_MODULE, DISTRIBUTIONAL_QVALUE_ACTOR)
