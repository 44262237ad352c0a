"""Module kinds: tensordict modules that read and write keys.

Safe modules and actors (``SafeModule``, ``Actor``, ``TanhModule``, ``SafeSequential``),
probabilistic ones (``SafeProbabilisticModule``, ``ProbabilisticActor``), value operators
(``ValueOperator``) and joined actor-value models (``ActorValueOperator``,
``ActorCriticOperator``, ``ActorCriticWrapper``).

Each kind's ``build`` names its keys (defaults included, as in torchrl 0.14) and ``infer`` gives
each key it writes a spec; writing a declared key checks that the value lands in the key's spec.
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Dist, KeyRef, ModuleNode, Network, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds import distributions
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param, Pass
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_positive, implicit, keys, log_prob_ref, node, require_spec_for_safe
from rldsl.lang.values import INVALID

A = ArgType

_SPEC = Param("spec", A.SPEC, None, "the spec of the key written (its first output): `spec=action`")
_SAFE = Param("safe", A.BOOL, False, "project the output onto `spec`, so that it always lies in it")


def _spec_for_one_output(lo: LoweringContext, args: Args, outputs: tuple[KeyRef, ...]) -> None:
    if args.ok("spec") and args["spec"] is not None and len(outputs) > 1:
        lo.report("E0606", f"`spec=` is the spec of one key, but {args.kind.name} writes {len(outputs)} keys",
                  args.span_of("spec"), label="which output is this the spec of?",
                  help="a spec argument describes the first output; write one output key, or drop `spec=`")


# ---------------------------------------------------------------------------------------------
# SafeModule and Actor


def _build_safe_module(lo: LoweringContext, args: Args) -> ModuleNode | object:
    network = args["module"]
    inputs, outputs = keys(args, "in"), keys(args, "out")
    lo.unique(outputs, args.kind.name)
    _spec_for_one_output(lo, args, outputs)
    require_spec_for_safe(lo, args)
    return node(lo, args, [Step(inputs, outputs)], network=network if isinstance(network, Network) else None)


def _infer_safe_module(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    inputs, outputs = keys(args, "in"), keys(args, "out")
    if module.network is None or not args.ok("in", "out"):
        return
    results = ty.run_network(module, module.network, inputs, outputs)
    if results is None:
        return
    spec: SpecArg | None = args["spec"] if args.ok("spec") and len(outputs) == 1 else None  # else E0606
    unprojectable = args["safe"] is True and spec is None  # E0603 or E0606 was reported
    safe = args["safe"] is True and spec is not None
    for index, (ref, produced) in enumerate(zip(outputs, results)):
        target = spec if index == 0 else None
        if safe and target is not None:
            if ty.projectable(ref, produced, target):
                ty.write(module, ref, Typed(target.spec, Origin.PROJECTED, ty.by(module)), target=target)
            else:
                ty.write(module, ref, Typed(produced, Origin.NETWORK, ty.by(module)), checked=True)
        else:
            ty.write(module, ref, Typed(produced, Origin.NETWORK, ty.by(module)), target=target,
                     remedy=_NETWORK_REMEDY, checked=unprojectable)


_NETWORK_REMEDY = ("pass `safe=true` to project it onto the spec, end the network with a bounded activation or "
                   "a TanhModule, or use a ProbabilisticActor with TanhNormal(low=..., high=...)")

_MODULE = Param("module", A.NETWORK, doc="the network: reads the `in` keys, returns one tensor per `out` key",
                positional=True)

SAFE_MODULE = Kind(
    name="SafeModule",
    family=Family.MODULE,
    runtime="rldsl.modules.SafeModule",
    summary="A network with keys and an optional spec: `safe=true` projects its output onto the spec.",
    params=(
        _MODULE,
        Param("in", A.KEYS, doc="the keys the network reads", target="in_keys", positional=True,
              meaning=Meaning.INPUTS),
        Param("out", A.KEYS, doc="one key per network output", target="out_keys", positional=True),
        _SPEC,
        _SAFE,
    ),
    reads="the `in` keys",
    writes="the `out` keys",
    rule="the network's rule, from the specs of the `in` keys to those of the `out` keys; with `safe=true` the "
         "first output has exactly the spec `spec`",
    omitted=(("inplace", "modules write into the input tensordict"),),
    build=_build_safe_module,
    infer=_infer_safe_module,
)

ACTOR = Kind(
    name="Actor",
    family=Family.MODULE,
    runtime="rldsl.modules.Actor",
    summary="A deterministic policy: a network from the observation to the action.",
    params=(
        _MODULE,
        Param("in", A.KEYS, ("observation",), "the keys the network reads", target="in_keys", positional=True,
              aka=("in_keys",), meaning=Meaning.INPUTS),
        Param("out", A.KEYS, ("action",), "the keys it writes", target="out_keys", positional=True,
              aka=("out_keys",)),
        _SPEC,
        _SAFE,
    ),
    reads="`observation`",
    writes="`action`",
    rule="as SafeModule; the action must lie in `spec` (or the declared spec of `action`) or be made to: "
         "`safe=true`, a bounded last activation, or a TanhModule after it",
    role="actor",
    omitted=(("inplace", "modules write into the input tensordict"),),
    build=_build_safe_module,
    infer=_infer_safe_module,
)

# ---------------------------------------------------------------------------------------------
# TanhModule


def _build_tanh(lo: LoweringContext, args: Args) -> ModuleNode | object:
    inputs = keys(args, "in")
    outputs = keys(args, "out") if args["out"] is not None else inputs
    if args.ok("in", "out") and len(outputs) != len(inputs):
        lo.report("E0305", f"TanhModule writes one key per key it reads: {len(inputs)} in, {len(outputs)} out",
                  args.span_of("out"), label=f"{len(outputs)} keys",
                  help="list as many `out` keys as `in` keys, or leave `out` out to squash in place")
        return INVALID
    lo.unique(outputs, "TanhModule")
    return node(lo, args, [Step(inputs, outputs)])


def _tanh_bound(ty: TypingContext, args: Args, name: str, spec: T.Spec | None, default: float) -> object:
    """`low`/`high`: the argument, else the spec's, else +-1; an argument must agree with the spec."""
    given = args[name]
    own = getattr(spec, name) if isinstance(spec, T.Bounded) else None
    if given is None:
        return own if own is not None else default
    if own is not None and given != own and not (isinstance(own, tuple) and all(v == given for v in own)):
        ty.report("E0606", f"`{name}={T.bound_text(given)}` differs from the spec's {name} {T.bound_text(own)}",
                  args.span_of(name), label="the spec says otherwise",
                  help=f"drop `{name}`: it is taken from the spec")
        return INVALID
    return given


def _infer_tanh(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    if not args.ok("in", "out", "spec", "low", "high"):
        return
    inputs = keys(args, "in")
    outputs = keys(args, "out") if args["out"] is not None else inputs
    target: SpecArg | None = args["spec"]
    spec = target.spec if target is not None else None
    if spec is not None and not T.is_unknown(spec) and not isinstance(spec, T.Bounded):
        ty.report("E0504", f"TanhModule squashes into a bounded spec, but the spec is {T.spec_text(spec)}",
                  args.span_of("spec"), label="not a bounded spec",
                  help="TanhModule is for bounded continuous actions, such as `f32[1] in [-2.0, 2.0]`")
        return
    low, high = _tanh_bound(ty, args, "low", spec, -1.0), _tanh_bound(ty, args, "high", spec, 1.0)
    if low is INVALID or high is INVALID:
        return
    for source, ref in zip(inputs, outputs):
        value = ty.read(source)
        if T.is_unknown(value):
            continue
        if isinstance(value, T.Composite) or not T.is_float_dtype(value.dtype):
            ty.report("E0503", f"TanhModule squashes float tensors, but `{source.dotted}` is {T.spec_text(value)}",
                      source.span, label="not a float tensor", help="squash the output of a network")
            continue
        if not _bounds_fit(ty, args, value, {"low": low, "high": high}):
            return
        box = T.Bounded(value.shape, value.dtype, low, high)
        pairs = T.bound_pairs(low, high)
        if pairs is not None and any(lo_ >= hi for lo_, hi in pairs):
            ty.report("E0606", f"TanhModule needs `low < high`, got {T.bound_text(low)} and {T.bound_text(high)}",
                      args.span_of("high"), label="not above `low`", help="swap the bounds")
            return
        ty.write(module, ref, Typed(box, Origin.SQUASHED, ty.by(module)), target=target)


def _bounds_fit(ty: TypingContext, args: Args, value: T.Spec, bounds: dict[str, object]) -> bool:
    """The bounds are finite (tanh cannot reach an infinite one) and, per element, hold one number per
    element of the squashed value (E0606 otherwise)."""
    size = T.shape_size(value.shape)
    for name, bound in bounds.items():
        if not all(math.isfinite(v) for v in (bound if isinstance(bound, tuple) else (bound,))):
            ty.report("E0606", f"TanhModule squashes into finite bounds, but `{name}` is {T.bound_text(bound)}",
                      args.span_of(name) if args.given(name) else args.span_of("spec"),
                      label="not a finite bound", help="tanh cannot reach an infinite bound: give finite `low` and "
                                                       "`high` (or a spec with finite bounds)")
            return False
        if isinstance(bound, tuple) and len(bound) != 1 and size is not None and len(bound) != size:
            ty.report("E0606", f"`{name}` has {len(bound)} values, but {T.spec_text(value)} has {size} element"
                               f"{'s' if size != 1 else ''}", args.span_of(name), label=f"{len(bound)} values",
                      help="give one number, or one per element (row-major)")
            return False
    return True


TANH_MODULE = Kind(
    name="TanhModule",
    family=Family.MODULE,
    runtime="rldsl.modules.TanhModule",
    summary="Squashes keys into `[low, high]` with tanh: a deterministic policy's bounded action.",
    params=(
        Param("in", A.KEYS, doc="the keys to squash", target="in_keys", positional=True, meaning=Meaning.INPUTS),
        Param("out", A.KEYS, None, "where to write them (default: in place)", target="out_keys", positional=True),
        Param("spec", A.SPEC, None, "a bounded spec giving `low` and `high`"),
        Param("low", A.BOUND, None, "the lower bound (default: the spec's, else -1)"),
        Param("high", A.BOUND, None, "the upper bound (default: the spec's, else 1)"),
        Param("clamp", A.BOOL, False, "keep the output strictly inside the bounds"),
    ),
    reads="the `in` keys",
    writes="the `out` keys (the `in` keys by default)",
    rule="each `f[*S]` input gives `f[*S] in [low, high]`; explicit bounds must equal the spec's",
    build=_build_tanh,
    infer=_infer_tanh,
)

# ---------------------------------------------------------------------------------------------
# SafeSequential


def _build_sequential(lo: LoweringContext, args: Args) -> ModuleNode | object:
    modules = args["modules"]
    if not isinstance(modules, tuple):
        return INVALID
    if not modules:
        lo.report("E0603", "SafeSequential needs at least one module", args.span, label="nothing to run",
                  help="list the modules to run in order, as in `SafeSequential(body, policy)`")
        return INVALID
    return node(lo, args, [Step.of(m) for m in modules], children=modules)


def _infer_children(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)


SAFE_SEQUENTIAL = Kind(
    name="SafeSequential",
    family=Family.MODULE,
    runtime="rldsl.modules.SafeSequential",
    summary="Modules run one after the other (like `a >> b`).",
    params=(Param("modules", A.MODULE, (), "the modules, in order", target=None, passed=Pass.VARARGS),),
    reads="what the modules read that no earlier one writes",
    writes="everything the modules write",
    rule="each module's rule in turn; a module may read what an earlier one wrote",
    omitted=(("partial_tolerant", "every key is checked to be present"),),
    build=_build_sequential,
    infer=_infer_children,
)

# ---------------------------------------------------------------------------------------------
# Probabilistic modules


def _dist_keys(dist: object) -> tuple[tuple[str, KeyRef], ...]:
    """Distribution arguments that name keys (a mask), with their parameter names: they are read
    from the tensordict."""
    if not isinstance(dist, Dist):
        return ()
    return tuple((name, arg.value) for name, arg in dist.args.values.items() if isinstance(arg.value, KeyRef))


def _probabilistic_step(lo: LoweringContext, args: Args) -> tuple[Step, tuple[KeyRef, ...]] | None:
    """The keys of the distribution step: reads `in` and key arguments of `dist`, writes the sample
    (and its log-probability)."""
    outputs = keys(args, "out")
    if args.ok("out") and len(outputs) != 1:
        lo.report("E0606", f"{args.kind.name} writes one sample key, but `out` lists {len(outputs)}",
                  args.span_of("out"), label="one key expected",
                  help="write the sample to one key, as in `out=[action]`")
        return None
    if not outputs:
        return None
    writes = outputs
    if args["return_log_prob"] is True:
        log_prob = args["log_prob_key"]
        writes = (*outputs, log_prob if isinstance(log_prob, KeyRef) else log_prob_ref(outputs[0]))
    lo.unique(writes, args.kind.name)
    require_spec_for_safe(lo, args)
    check_positive(lo, args, "n_empirical_estimate")
    _interaction_available(lo, args)
    _log_prob_has_density(lo, args)
    return Step((*keys(args, "in"), *(ref for _, ref in _dist_keys(args["dist"]))), writes), writes


def _interaction_available(lo: LoweringContext, args: Args) -> None:
    """E0708 when ``default_interaction_type`` asks the distribution for a statistic it does not
    have (a median, TanhNormal's mode, a categorical mean): the first call would fail, or write NaN."""
    dist, wanted = args["dist"], args["default_interaction_type"]
    if not isinstance(dist, Dist) or not args.ok("default_interaction_type") or wanted is None:
        return
    offered = dist.kind.dist.interactions
    if wanted in offered:
        return
    choices = ", ".join(f'"{name}"' for name in offered)
    lo.report("E0708", f'{dist.kind.name} has no {wanted}, so `default_interaction_type="{wanted}"` cannot be '
                       "computed", args.span_of("default_interaction_type"), label=f"{dist.kind.name} has no {wanted}",
              help=f"use one of {choices} (\"deterministic\" is the default)")


#: Distributions without a density: all their mass on one value.
_POINT_MASSES = ("Delta", "TanhDelta")


def _log_prob_has_density(lo: LoweringContext, args: Args) -> None:
    """E0712 for ``return_log_prob=true`` with a point mass (given, or the default Delta): its
    log-probability is 0 at its own sample and -inf elsewhere, which no loss can learn from."""
    dist = args["dist"]
    if args["return_log_prob"] is not True or not isinstance(dist, Dist) or dist.kind.name not in _POINT_MASSES:
        return
    named = "" if args.given("dist") else " (the default when `dist=` is not given)"
    lo.report("E0712", f"{dist.kind.name}{named} is a point mass: its log-probability is 0 at its own sample and "
                       "-inf elsewhere", args.span_of("return_log_prob"), label="no density to take the log of",
              help="drop `return_log_prob`, or give a distribution with a density for a stochastic policy, such as "
                   "`dist=TanhNormal(low=action.low, high=action.high)`")


def _build_probabilistic(lo: LoweringContext, args: Args) -> ModuleNode | object:
    step = _probabilistic_step(lo, args)
    if step is None or not isinstance(args["dist"], Dist):
        return INVALID
    return node(lo, args, [step[0]])


def _build_probabilistic_actor(lo: LoweringContext, args: Args) -> ModuleNode | object:
    module = args["module"]
    step = _probabilistic_step(lo, args)
    if step is None or not isinstance(module, ModuleNode) or not isinstance(args["dist"], Dist):
        return INVALID
    return node(lo, args, [Step.of(module), step[0]], children=(module,))


def _infer_probabilistic(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    dist = args["dist"]
    if not isinstance(dist, Dist) or not args.ok("in", "out", "spec", "safe", "return_log_prob"):
        return
    if not args.given("dist") and any(ref.leaf != "param" for ref in keys(args, "in")):
        names = ", ".join(f"`{ref.leaf}`" for ref in keys(args, "in"))
        ty.report("E0701", f"{args.kind.name} has no `dist=`, so its distribution is Delta, which reads `param`, not "
                           f"{names}", args.name_span, label="no distribution given",
                  help="pass the distribution, as in `dist=TanhNormal(low=action.low, high=action.high)`")
        return
    params: dict[str, tuple[T.Spec, KeyRef]] = {}
    named = [(ref.leaf, ref) for ref in keys(args, "in")] + list(_dist_keys(dist))
    for name, ref in named:
        if name in params:
            ty.report("E0701", f"two keys give {dist.kind.name} its `{name}`: `{params[name][1].dotted}` and "
                               f"`{ref.dotted}`", ref.span, label="second one",
                      help="each distribution parameter is read from one key")
            return
        params[name] = (ty.read(ref), ref)
    result = distributions.infer(ty, dist, params, args.span_of("in"))
    if result is None:
        return
    sample, log_prob = result
    out = keys(args, "out")[0]
    target: SpecArg | None = args["spec"]
    if args["safe"] is True and target is not None and _same_domain(sample, target.spec):
        if ty.projectable(out, sample, target):
            ty.write(module, out, Typed(target.spec, Origin.PROJECTED, ty.by(module)), target=target)
        else:
            ty.write(module, out, Typed(sample, Origin.DISTRIBUTION, ty.by(module), dist.kind.name), checked=True)
    else:
        widest = next((params[name][1].path for name in _WIDTH_PARAMS if name in params), ())
        typed = Typed(sample, Origin.DISTRIBUTION, ty.by(module), dist.kind.name, via=widest)
        ty.write(module, out, typed, target=target, remedy=_DIST_REMEDY, at=dist.span)
    if args["return_log_prob"] is True:
        log_prob_key = args["log_prob_key"] if isinstance(args["log_prob_key"], KeyRef) else log_prob_ref(out)
        ty.write(module, log_prob_key, Typed(log_prob, Origin.COPY, ty.by(module)))


#: The distribution parameter whose width a sample's width follows (the first one present).
_WIDTH_PARAMS = ("loc", "param", "logits", "probs")


def _same_domain(sample: T.Spec, spec: T.Spec) -> bool:
    """Whether `safe=true` may project a sample onto ``spec``: a continuous distribution's samples
    are not actions of a discrete spec, even projected (their log-probability is not that of the
    action written), so a sort mismatch stays E0703."""
    if T.is_unknown(sample, spec) or isinstance(spec, T.Composite):
        return True
    return T.domain(sample) == T.domain(spec)


_DIST_REMEDY = ("use a bounded distribution such as `TanhNormal(low=action.low, high=action.high)`, or pass "
                "`safe=true` to project the sample onto the spec")

_PROBABILISTIC_PARAMS = (
    _SPEC,
    _SAFE,
    Param("dist", A.DIST, "Delta", "the distribution, with its constant arguments: `TanhNormal(low=..., high=...)` "
                                "(default Delta)", target="distribution_class", passed=Pass.DIST,
          aka=("distribution_class", "distribution_kwargs")),
    Param("return_log_prob", A.BOOL, False, "also write the sample's log-probability"),
    Param("log_prob_key", A.KEY, None, "where the log-probability goes (default `<out>_log_prob`)"),
    Param("default_interaction_type", A.CHOICE, "deterministic", "what is written outside an exploration context",
          choices=("deterministic", "mode", "median", "mean", "random")),
    Param("cache_dist", A.BOOL, False, "keep the last distribution for reuse"),
    Param("n_empirical_estimate", A.INT, 1000, "samples for an empirical mean"),
)
_PROBABILISTIC_OMITTED = (
    ("log_prob_keys", "one sample key: `log_prob_key` names its log-probability"),
    ("num_samples", "it changes the batch size, which the checker does not model"),
    ("generator", "seeding is chosen when compiling"),
)

SAFE_PROBABILISTIC_MODULE = Kind(
    name="SafeProbabilisticModule",
    family=Family.MODULE,
    runtime="rldsl.modules.SafeProbabilisticModule",
    summary="Builds a distribution from keys and writes a sample (and its log-probability).",
    params=(
        Param("in", A.KEYS, doc="the parameter keys, named after the distribution's parameters (`loc`, `scale`)",
              target="in_keys", positional=True, meaning=Meaning.INPUTS),
        Param("out", A.KEYS, doc="the key of the sample", target="out_keys", positional=True),
        *_PROBABILISTIC_PARAMS,
    ),
    reads="the `in` keys (and keys named by `dist` arguments, such as a mask)",
    writes="the `out` key, and `<out>_log_prob` with `return_log_prob=true`",
    rule="the distribution's rule, from the specs of its parameters to the sample's; the sample must lie in "
         "`spec` (bounded distributions: their bounds must fit it) or be projected with `safe=true`",
    omitted=_PROBABILISTIC_OMITTED,
    build=_build_probabilistic,
    infer=_infer_probabilistic,
)

PROBABILISTIC_ACTOR = Kind(
    name="ProbabilisticActor",
    family=Family.MODULE,
    runtime="rldsl.modules.ProbabilisticActor",
    summary="A stochastic policy: a module writing distribution parameters, then a sample of the distribution.",
    params=(
        Param("module", A.MODULE, doc="writes the distribution's parameters (`: observation -> loc, scale`)",
              positional=True),
        Param("in", A.KEYS, doc="the parameter keys, named after the distribution's parameters", target="in_keys",
              positional=True, aka=("in_keys",), meaning=Meaning.INPUTS),
        Param("out", A.KEYS, ("action",), "the key of the sample", target="out_keys", positional=True,
              aka=("out_keys",)),
        *_PROBABILISTIC_PARAMS,
    ),
    reads="what `module` reads (usually `observation`)",
    writes="what `module` writes, then `action` (and `action_log_prob` with `return_log_prob=true`)",
    rule="as SafeProbabilisticModule, after `module`",
    role="actor",
    omitted=_PROBABILISTIC_OMITTED,
    build=_build_probabilistic_actor,
    infer=_infer_probabilistic,
)

# ---------------------------------------------------------------------------------------------
# ValueOperator


def _build_value(lo: LoweringContext, args: Args) -> ModuleNode | object:
    inputs = keys(args, "in")
    if args["out"] is None:
        default = "state_action_value" if any(ref.path == ("action",) for ref in inputs) else "state_value"
        outputs: tuple[KeyRef, ...] = (implicit(default, args),)
    else:
        outputs = keys(args, "out")
    lo.unique(outputs, "ValueOperator")
    network = args["module"]
    return node(lo, args, [Step(inputs, outputs)], network=network if isinstance(network, Network) else None)


def _infer_value(ty: TypingContext, module: ModuleNode) -> None:
    args = module.args
    assert args is not None
    outputs = module.writes
    if module.network is None or not args.ok("in", "out"):
        return
    results = ty.run_network(module, module.network, keys(args, "in"), outputs)
    for ref, produced in zip(outputs, results or ()):
        _one_value_per_sample(ty, module.network, ref, produced)
        ty.write(module, ref, Typed(produced, Origin.NETWORK, ty.by(module)), remedy=_NETWORK_REMEDY)


#: The keys torchrl's losses read as one value per sample.
_VALUE_KEYS = ("state_value", "state_action_value")


def _one_value_per_sample(ty: TypingContext, network: Network, ref: KeyRef, produced: T.Spec) -> None:
    """W0202 for a value key written wider than one number without a declaration saying so; shown at
    the network's `out_features` (the last stage's, for a pipe) when it is written."""
    if ref.leaf not in _VALUE_KEYS or ty.declared(ref.path) is not None or T.is_unknown(produced) \
            or isinstance(produced, T.Composite) or not produced.shape:
        return
    width = T.dim_value(produced.shape[-1])
    if width is None or width == 1:
        return
    last = network.stages[-1] if network.stages else network
    at = last.args.span_of("out_features") if last.args is not None and "out_features" in last.args.values \
        else network.span
    ty.report("W0202", f"`{ref.dotted}` gets {width} numbers per sample, but a value is one", at,
              label=f"gives {T.spec_text(produced)}", labels=((ref.span, "the value key"),),
              help=f"give the network `out_features=1`; if {width} values are meant (an ensemble, quantiles), declare "
                   f"`key {ref.dotted} : {T.spec_text(produced)}`")


VALUE_OPERATOR = Kind(
    name="ValueOperator",
    family=Family.MODULE,
    runtime="rldsl.modules.ValueOperator",
    summary="A value network with keys: V(s), or Q(s, a) when it reads the action.",
    params=(
        _MODULE,
        Param("in", A.KEYS, ("observation",), "the keys the network reads", target="in_keys", positional=True,
              aka=("in_keys",), meaning=Meaning.INPUTS),
        Param("out", A.KEYS, None, "the value key (default `state_value`, or `state_action_value` when `action` is "
                                   "read)", target="out_keys", positional=True, aka=("out_keys",)),
    ),
    reads="`observation`",
    writes="`state_value`, or `state_action_value` when `in` holds `action`",
    rule="the network's rule, from the `in` keys to the `out` keys",
    role="value",
    build=_build_value,
    infer=_infer_value,
)

# ---------------------------------------------------------------------------------------------
# Joined actor-value models


def _build_joined(lo: LoweringContext, args: Args) -> ModuleNode | object:
    names = [p.name for p in args.kind.params]
    modules = [args[name] for name in names]
    if not all(isinstance(m, ModuleNode) for m in modules):
        return INVALID
    _heads_read_the_trunk(lo, args, modules)
    if args.kind.name == "ActorCriticOperator":
        value = modules[-1]
        head = value.writes[0] if value.writes else None
        if head is not None and head.path == ("state_value",):
            lo.report("E0307", "ActorCriticOperator needs a Q-value head, but its value head writes `state_value`",
                      args.span_of("value_operator"), label="writes `state_value`",
                      help="make the head read the action, as in `ValueOperator(MLP(out_features=1), "
                           "in=[hidden, action])` (it then writes `state_action_value`), or use ActorValueOperator")
    return node(lo, args, [Step.of(m) for m in modules], children=tuple(modules))


def _heads_read_the_trunk(lo: LoweringContext, args: Args, modules: list[ModuleNode]) -> None:
    """W0203 for a head of a shared-trunk operator that reads none of the keys the trunk writes."""
    if args.kind.name not in ("ActorValueOperator", "ActorCriticOperator"):
        return
    trunk, heads = modules[0], modules[1:]
    made = {ref.path for ref in trunk.writes}
    if not made:
        return
    shown = ", ".join(f"`{ref.dotted}`" for ref in trunk.writes[:3])
    for param, head in zip(("policy_operator", "value_operator"), heads):
        if any(ref.path in made for ref in head.reads):
            continue
        which = "policy" if param == "policy_operator" else "value"
        lo.report("W0203", f"the {which} head reads none of what the shared trunk writes ({shown})",
                  args.span_of(param), label="bypasses the trunk",
                  labels=((args.span_of("common_operator"), f"the trunk writes {shown}"),),
                  help=f"make the {which} head read the trunk's output ({shown}), or use ActorCriticWrapper for "
                       f"two networks without a shared trunk")


def _joined(name: str, summary: str, params: tuple[Param, ...], rule: str) -> Kind:
    return Kind(name=name, family=Family.MODULE, runtime=f"rldsl.modules.{name}", summary=summary, params=params,
                reads="what the modules read that no earlier one writes",
                writes="everything the modules write", rule=rule, build=_build_joined, infer=_infer_children)


_COMMON = Param("common_operator", A.MODULE, doc="the shared trunk (`: observation -> hidden`)", positional=True)
_POLICY = Param("policy_operator", A.MODULE, doc="the policy head", positional=True)
_VALUE = Param("value_operator", A.MODULE, doc="the value head", positional=True)

JOINED = (
    _joined("ActorValueOperator", "A policy and a value head on a shared trunk, run in that order.",
            (_COMMON, _POLICY, _VALUE), "the trunk, the policy and the value head run in order"),
    _joined("ActorCriticOperator", "A policy and a Q-value head on a shared trunk; the head reads the action.",
            (_COMMON, _POLICY, _VALUE), "as ActorValueOperator; the value head must write `state_action_value`"),
    _joined("ActorCriticWrapper", "A policy and a value network without a shared trunk.",
            (_POLICY, _VALUE), "the policy, then the value network"),
)

KINDS = (SAFE_MODULE, ACTOR, TANH_MODULE, SAFE_SEQUENTIAL, SAFE_PROBABILISTIC_MODULE, PROBABILISTIC_ACTOR,
         VALUE_OPERATOR, *JOINED)
