"""Exploration kinds: they read the action a policy wrote and write a noisier one.

``EGreedyModule`` (random actions of a discrete spec), ``AdditiveGaussianModule`` and
``OrnsteinUhlenbeckProcessModule`` (noise on continuous actions). In the language the policy to
explore may be given first, ``EGreedyModule(q, spec=action)``: the policy then runs first, in a
sequence with the exploration module (torchrl's constructors take no policy; the compiler builds
the sequence).
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, ModuleNode, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param, Pass
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, implicit, key, node
from rldsl.lang.source import Span

A = ArgType

_POLICY = Param("policy", A.MODULE, None, "the policy whose action is explored; it runs first", target=None,
                passed=Pass.BEFORE, positional=True)
_ACTION_KEY = Param("action_key", A.KEY, "action", "the key of the action")
_STEPS = Param("annealing_num_steps", A.INT, 1000, "steps of `step()` from the initial to the final value")


def _finite(value: object) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _schedule(lo: LoweringContext, args: Args, init: str, end: str, probability: bool) -> None:
    """E0705 for a schedule that grows, leaves [0, 1] (epsilons) or has no steps (a value that is not
    finite is E0709's, reported by the kind's build)."""
    if args.ok(init, end) and _finite(args[init]) and _finite(args[end]) and args[end] > args[init]:
        lo.report("E0705", f"`{end}={args[end]}` is larger than `{init}={args[init]}`", args.span_of(end),
                  label="the factor would grow",
                  help=f"`{end}` is the value annealing ends at: make it at most `{init}`")
    if probability:
        for name in (init, end):
            if args.ok(name) and not 0 <= args[name] <= 1:
                lo.report("E0705", f"`{name}` is a probability, got {args[name]}", args.span_of(name),
                          label="not in [0, 1]", help="epsilons lie between 0 and 1")
    steps = T.dim_value(args["annealing_num_steps"]) if args.ok("annealing_num_steps") else None
    if steps is not None and steps <= 0:
        lo.report("E0705", f"`annealing_num_steps` must be positive, got {steps}", args.span_of("annealing_num_steps"),
                  label="no steps", help="give the number of steps, as in `annealing_num_steps=10_000`")


def _explorer(lo: LoweringContext, args: Args, reads: tuple[KeyRef, ...], writes: tuple[KeyRef, ...],
              optional: tuple[KeyRef, ...] = ()) -> ModuleNode:
    """The exploration step, after the policy when one is given."""
    policy = args["policy"]
    steps = [Step(reads, writes, optional)]
    children: tuple[ModuleNode, ...] = ()
    if isinstance(policy, ModuleNode):
        steps.insert(0, Step.of(policy))
        children = (policy,)
    return node(lo, args, steps, children=children)


def _action(ty: TypingContext, args: Args) -> tuple[KeyRef, T.Spec] | None:
    ref = args["action_key"]
    if not isinstance(ref, KeyRef):
        return None
    return ref, ty.read(ref)


def _spec_domain(ty: TypingContext, args: Args, wanted: str, owner: str, why: str) -> SpecArg | None:
    """The spec argument, reported (E0704) when it is not of the ``wanted`` domain."""
    target = args["spec"] if args.ok("spec") else None
    if target is None or T.is_unknown(target.spec):
        return target
    if T.domain(target.spec) != wanted:
        ty.report("E0704", f"{owner} needs a {wanted} spec, but the spec is {T.spec_text(target.spec)}",
                  target.span, label=f"a {T.domain(target.spec)} spec", help=why)
        return None
    return target


def _fits(ty: TypingContext, ref: KeyRef, action: T.Spec, spec: T.Spec, owner: str, at: Span) -> bool:
    """The action's shape ends with the spec's (leading dims are batch dims of the exploration)."""
    if T.is_unknown(action, spec) or isinstance(action, T.Composite) or isinstance(spec, T.Composite):
        return True
    tail = action.shape[len(action.shape) - len(spec.shape):] if len(spec.shape) <= len(action.shape) else None
    if tail is None or not T.shapes_equal(tail, spec.shape):
        ty.report("E0402", f"{owner}'s spec has shape {T.shape_text(spec.shape)} but `{ref.dotted}` has shape "
                           f"{T.shape_text(action.shape)}", at, label="spec and action differ",
                  help=f"pass the action's own spec, `spec={ref.dotted}`")
        return False
    return True


# ---------------------------------------------------------------------------------------------
# EGreedyModule


def _build_egreedy(lo: LoweringContext, args: Args) -> ModuleNode:
    _schedule(lo, args, "eps_init", "eps_end", probability=True)
    action = key(args, "action_key")
    return _explorer(lo, args, (*action, *key(args, "action_mask_key")), action)


def _infer_egreedy(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    target = _spec_domain(ty, args, "discrete", "EGreedyModule",
                          "epsilon-greedy draws random discrete actions; for continuous actions use "
                          "AdditiveGaussianModule or OrnsteinUhlenbeckProcessModule")
    found = _action(ty, args)
    if target is None or found is None:
        return
    ref, action = found
    if not _fits(ty, ref, action, target.spec, "EGreedyModule", target.span):
        return
    mask_ref = args["action_mask_key"]
    if isinstance(mask_ref, KeyRef):
        check_mask(ty, mask_ref, T.mask_shape(target.spec), target.spec)
    ty.write(module, ref, Typed(target.spec, Origin.CHOSEN, ty.by(module)), target=target)


def check_mask(ty: TypingContext, ref: KeyRef, shape: tuple | None, spec: T.Spec) -> None:
    """A mask key: ``bool`` of the mask shape of ``spec`` (E0507)."""
    mask = ty.read(ref)
    if T.is_unknown(mask):
        return
    if shape is None:
        ty.report("E0507", f"{T.with_article(T.class_name(spec))} spec takes no mask", ref.span,
                  label="no mask possible",
                  help="drop the mask key, or use a one-hot or categorical spec")
        return
    if isinstance(mask, T.Composite) or mask.dtype != "bool" or not T.shapes_equal(mask.shape, shape):
        ty.report("E0507", f"the mask `{ref.dotted}` must be bool{T.shape_text(shape)}, but it is {T.spec_text(mask)}",
                  ref.span, label="not a fitting mask",
                  help=f"declare `key {ref.dotted} : bool{T.shape_text(shape)}` (true = allowed)")


EGREEDY = Kind(
    name="EGreedyModule",
    family=Family.MODULE,
    runtime="rldsl.modules.EGreedyModule",
    summary="Epsilon-greedy exploration: with probability eps, a random action of the spec.",
    params=(
        _POLICY,
        Param("spec", A.SPEC, doc="the action's spec (discrete)"),
        Param("eps_init", A.FLOAT, 1.0, "the initial epsilon"),
        Param("eps_end", A.FLOAT, 0.1, "the final epsilon"),
        _STEPS,
        _ACTION_KEY,
        Param("action_mask_key", A.KEY, None, "the key of a boolean mask of allowed actions", meaning=Meaning.MASK),
    ),
    reads="`action` (and the mask key)",
    writes="`action`",
    rule="the spec is discrete (one-hot, categorical, ...); the action's shape ends with the spec's; a mask is "
         "bool with the spec's mask shape; the action written lies in the spec",
    role="explore",
    omitted=(("device", "chosen when compiling"),),
    build=_build_egreedy,
    infer=_infer_egreedy,
)

# ---------------------------------------------------------------------------------------------
# Additive Gaussian and Ornstein-Uhlenbeck noise


def _continuous_action(ty: TypingContext, ref: KeyRef, action: T.Spec, owner: str) -> bool:
    if T.is_unknown(action) or T.domain(action) == "continuous":
        return True
    ty.report("E0704", f"{owner} adds noise to continuous actions, but `{ref.dotted}` is {T.spec_text(action)}",
              ref.span, label="not a continuous action",
              help="use EGreedyModule to explore discrete actions")
    return False


_NOISE_WHY = "Gaussian noise perturbs continuous actions; explore discrete actions with EGreedyModule"


#: Why exploration parameters must be finite (the end of E0709's help line).
_FINITE_WHY = ": the runtime module refuses infinite and NaN parameters"


def _build_gaussian(lo: LoweringContext, args: Args) -> ModuleNode:
    check_finite(lo, args, "sigma_init", "sigma_end", "mean", "std", code="E0709", why=_FINITE_WHY)
    _schedule(lo, args, "sigma_init", "sigma_end", probability=False)
    if args.ok("std") and _finite(args["std"]) and args["std"] < 0:
        lo.report("E0606", f"`std` must be >= 0, got {args['std']}", args.span_of("std"), label="negative",
                  help="`std` is the standard deviation of the noise")
    action = key(args, "action_key")
    return _explorer(lo, args, action, action)


def _infer_noise(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    kind = args.kind.name
    target = _spec_domain(ty, args, "continuous", kind, _NOISE_WHY)
    found = _action(ty, args)
    if found is None or (args["spec"] is not None and target is None):
        return
    ref, action = found
    if not _continuous_action(ty, ref, action, kind) or T.is_unknown(action):
        return
    if target is not None and not _fits(ty, ref, action, target.spec, kind, target.span):
        return
    projects = target is not None and (kind == "AdditiveGaussianModule" or args["safe"] is True)
    if projects:
        ty.write(module, ref, Typed(target.spec, Origin.PROJECTED, ty.by(module)), target=target)
    else:
        noisy = T.Unbounded(action.shape, action.dtype)
        remedy = ("pass `spec=` so the noisy action is projected onto it" if target is None
                  else "keep `safe=true` so the noisy action is projected onto the spec")
        ty.write(module, ref, Typed(noisy, Origin.NETWORK, ty.by(module)), target=target, remedy=remedy)
    if kind == "OrnsteinUhlenbeckProcessModule":
        _x0_fits(ty, args, action)
        at = args.name_span
        ty.write(module, KeyRef(("_ou_prev_noise",), at, True), Typed(T.Unbounded(action.shape, action.dtype),
                                                                      Origin.COPY, ty.by(module)))
        ty.write(module, KeyRef(("_ou_steps",), at, True), Typed(T.Unbounded((), "i64"), Origin.COPY, ty.by(module)))
        init = args["is_init_key"]
        if isinstance(init, KeyRef) and ty.available(init):
            spec = ty.read(init)
            if not T.is_unknown(spec) and (isinstance(spec, T.Composite) or spec.dtype != "bool"):
                ty.report("E0503", f"`{init.dotted}` marks the first step of trajectories and must be bool, but it is "
                                   f"{T.spec_text(spec)}", init.span, label="not bool",
                          help=f"declare `key {init.dotted} : bool[1]`")


def _x0_fits(ty: TypingContext, args: Args, action: T.Spec) -> None:
    """A list ``x0`` is added to the noise along the action's last dim: one value, or one per entry."""
    x0 = args["x0"] if args.ok("x0") else None
    if not isinstance(x0, tuple) or len(x0) == 1:
        return
    size = T.dim_value(action.shape[-1]) if action.shape else 1
    if size is not None and len(x0) != size:
        ty.report("E0606", f"`x0` has {len(x0)} values, but the action {T.spec_text(action)} has {size} per row",
                  args.span_of("x0"), label=f"{len(x0)} values",
                  help=f"give one number, or {size} (one per entry of the action's last dim)")


GAUSSIAN = Kind(
    name="AdditiveGaussianModule",
    family=Family.MODULE,
    runtime="rldsl.modules.AdditiveGaussianModule",
    summary="Adds annealed Gaussian noise to a continuous action, then projects it onto the spec.",
    params=(
        _POLICY,
        Param("spec", A.SPEC, None, "the action's spec (continuous); the noisy action is projected onto it"),
        Param("sigma_init", A.FLOAT, 1.0, "the initial noise scale"),
        Param("sigma_end", A.FLOAT, 0.1, "the final noise scale"),
        _STEPS,
        Param("mean", A.FLOAT, 0.0, "the mean of the noise"),
        Param("std", A.FLOAT, 1.0, "the standard deviation of the noise"),
        _ACTION_KEY,
        Param("safe", A.BOOL, False, "project again after the module (it always projects onto `spec`)"),
    ),
    reads="`action`",
    writes="`action`",
    rule="the action and the spec are continuous; with a spec the noisy action lies in it, without one it is "
         "unbounded",
    role="explore",
    omitted=(("device", "chosen when compiling"),),
    build=_build_gaussian,
    infer=_infer_noise,
)


def _build_ou(lo: LoweringContext, args: Args) -> ModuleNode:
    check_finite(lo, args, "eps_init", "eps_end", "theta", "mu", "sigma", "dt", "x0", "sigma_min", code="E0709",
                 why=_FINITE_WHY)
    _schedule(lo, args, "eps_init", "eps_end", probability=False)
    for name in ("n_steps_annealing",):
        value = T.dim_value(args[name]) if args.ok(name) else None
        if value is not None and value <= 0:
            lo.report("E0705", f"`{name}` must be positive, got {value}", args.span_of(name), label="no steps",
                      help="give the number of steps over which sigma anneals")
    for name in ("dt", "sigma", "theta"):
        if not args.ok(name) or not _finite(args[name]):
            continue
        if args[name] < 0 or (name == "dt" and args[name] == 0):
            lo.report("E0606", f"`{name}` must be positive, got {args[name]}", args.span_of(name), label="not positive",
                      help=f"`{name}` is a parameter of the Ornstein-Uhlenbeck process")
    action = key(args, "action_key")
    at = args.name_span
    writes = (*action, implicit("_ou_prev_noise", args), implicit("_ou_steps", args))
    return _explorer(lo, args, action, writes, key(args, "is_init_key") or (KeyRef(("is_init",), at, True),))


OU = Kind(
    name="OrnsteinUhlenbeckProcessModule",
    family=Family.MODULE,
    runtime="rldsl.modules.OrnsteinUhlenbeckProcessModule",
    summary="Adds temporally correlated (Ornstein-Uhlenbeck) noise to a continuous action.",
    params=(
        _POLICY,
        Param("spec", A.SPEC, doc="the action's spec (continuous)"),
        Param("eps_init", A.FLOAT, 1.0, "the initial noise factor"),
        Param("eps_end", A.FLOAT, 0.1, "the final noise factor"),
        _STEPS,
        Param("theta", A.FLOAT, 0.15, "the mean-reversion rate"),
        Param("mu", A.FLOAT, 0.0, "the mean of the process"),
        Param("sigma", A.FLOAT, 0.2, "the noise scale"),
        Param("dt", A.FLOAT, 0.01, "the time step"),
        Param("x0", A.BOUND, None, "the initial state of the process"),
        Param("sigma_min", A.FLOAT, None, "the smallest sigma reached by annealing"),
        Param("n_steps_annealing", A.INT, 1000, "steps over which sigma anneals"),
        _ACTION_KEY,
        Param("is_init_key", A.KEY, "is_init", "the key marking the first step of each trajectory",
              fallback_spec=T.Unbounded((1,), "bool")),
        Param("safe", A.BOOL, True, "project the noisy action onto the spec"),
    ),
    reads="`action`, and `is_init` when present",
    writes="`action`, `_ou_prev_noise`, `_ou_steps`",
    rule="the action and the spec are continuous; with `safe=true` (the default) the noisy action lies in the spec",
    role="explore",
    omitted=(("device", "chosen when compiling"),),
    build=_build_ou,
    infer=_infer_noise,
)

KINDS = (EGREEDY, GAUSSIAN, OU)
