"""The diffusion policy kind: ``DiffusionActor`` (torchrl 0.14's, used by its diffusion
behaviour-cloning script).

A diffusion actor reads the observation and writes the action by denoising a latent action over
``num_steps`` steps of a DDPM chain; its score network predicts the noise from the noisy action,
the observation and the step, concatenated on the last dim::

    actor policy = DiffusionActor(action_dim=6, num_steps=100, in=[observation], spec=action)
      reads  observation  f32[*B, obs_dim]
      writes action       f32[*B, 6]        (unbounded unless `safe=true` projects it into `spec`)
      score network reads f32[*B, 6 + obs_dim + 1], returns f32[*B, 6]

``obs_dim`` is the observation's width (left out, the checker's; given, it must agree). The
schedule is checked here (E0465: at least one step, ``0 < beta_start < beta_end < 1``) and so is a
score network given in the text (E0466: it must return ``[*B, action_dim]``; what it reads is
typed by its own rule, so an ``in_features`` that does not match the concatenation is E0406).
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, ModuleNode, Network, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import (
    check_positive,
    feature_sum,
    keys,
    node,
    require_spec_for_safe,
    sized_features,
)
from rldsl.lang.types import number_text
from rldsl.lang.values import INVALID

A = ArgType

#: The most denoising steps the language accepts: each call of the actor runs its score network
#: once per step (and compiling runs it once), so a chain of millions of steps is a mistake that
#: would look like a hang. torchrl's class sets no limit; the Python class here sets none either.
MAX_STEPS = 10_000

#: How messages name what the score network reads.
_SCORE_INPUT = "the score network's input (noisy action, observation, timestep)"


# ---------------------------------------------------------------------------------------------
# Lowering: the arguments and the keys


def _build_diffusion(lo: LoweringContext, args: Args) -> object:
    """The argument checks (sizes E0606, schedule E0465, one key in and out E0606, `safe` needs a
    spec E0603) and the node reading the observation, writing the action."""
    check_positive(lo, args, "action_dim", "obs_dim")
    _schedule_fits(lo, args)
    require_spec_for_safe(lo, args)
    if not args.ok("in", "out"):
        return INVALID
    inputs, outputs = keys(args, "in"), keys(args, "out")
    for name, listed, what in (("in", inputs, "the observation"), ("out", outputs, "the action")):
        if len(listed) != 1:
            lo.report("E0606", f"DiffusionActor reads one key and writes one, but `{name}` lists {len(listed)}",
                      args.span_of(name), label=f"{len(listed)} keys",
                      help=f"list one key, {what}: `{name}=[{'observation' if name == 'in' else 'action'}]`; "
                           "concatenate several observations into one key first")
            return INVALID
    return node(lo, args, [Step(inputs, outputs)])


def _schedule_fits(lo: LoweringContext, args: Args) -> None:
    """E0465: the chain has 1 to :data:`MAX_STEPS` steps, and its noise variances rise linearly
    inside (0, 1): ``0 < beta_start < beta_end < 1``."""
    if args.ok("num_steps"):
        steps = T.dim_value(args["num_steps"])
        if steps is not None and not 1 <= steps <= MAX_STEPS:
            lo.report("E0465", f"DiffusionActor runs 1 to {MAX_STEPS:,} denoising steps, got `num_steps={steps}`",
                      args.span_of("num_steps"), label="no denoising step" if steps < 1 else "too many steps",
                      help="use `num_steps=100` (torchrl's default; the DDPM paper uses 1000)")
    if not args.ok("beta_start", "beta_end"):
        return
    start, end = args["beta_start"], args["beta_end"]
    problem = _beta_problem(start, end)
    if problem is None:
        return
    name, why = problem
    if name == "beta_end" and not args.given("beta_end") and args.given("beta_start"):
        name, why = "beta_start", f"not below `beta_end` ({number_text(end)}, the default)"
    lo.report("E0465", f"DiffusionActor's noise schedule needs 0 < beta_start < beta_end < 1, got "
                       f"`beta_start={number_text(start)}` and `beta_end={number_text(end)}`",
              args.span_of(name), label=why,
              help="use the DDPM schedule, `beta_start=1e-4, beta_end=0.02` (the defaults)")


def _beta_problem(start: float, end: float) -> tuple[str, str] | None:
    """The argument to point at and why, when ``0 < start < end < 1`` does not hold."""
    if not math.isfinite(start):
        return "beta_start", "not a finite number"
    if not math.isfinite(end):
        return "beta_end", "not a finite number"
    if start <= 0:
        return "beta_start", "a variance above 0 is needed"
    if end >= 1:
        return "beta_end", "a variance below 1 is needed"
    if start >= end:
        return "beta_end", f"not above `beta_start` ({number_text(start)})"
    return None


# ---------------------------------------------------------------------------------------------
# Typing


def _infer_diffusion(ty: TypingContext, module: ModuleNode) -> None:
    """The action ``f[*B, action_dim]`` from the observation ``f[*B, obs_dim]``, the score network
    typed on ``f[*B, action_dim + obs_dim + 1]``, and the spec and `safe` as an Actor's."""
    args = module.args
    assert args is not None
    (source,), (target,) = module.reads, module.writes
    spec = ty.read(source)
    if T.is_unknown(spec) or not _observation_fits(ty, args, source, spec):
        return
    if not args.ok("action_dim", "score_network", "spec", "safe"):
        return
    action_dim = args["action_dim"]
    lead = spec.shape[:-1]
    network = args["score_network"]
    if isinstance(network, Network) and not _score_network_fits(ty, args, network, spec, action_dim):
        return
    produced = T.Unbounded((*lead, action_dim), spec.dtype)
    _write_action(ty, module, target, produced)


def _observation_fits(ty: TypingContext, args: Args, ref: KeyRef, spec: T.Spec) -> bool:
    """A float observation ``[*B, obs_dim]`` (its width is ``obs_dim`` when that is given)."""
    return sized_features(ty, args, ref, spec, "DiffusionActor", "obs_dim", "f32[17]")


def _score_network_fits(ty: TypingContext, args: Args, network: Network, observation: T.Spec,
                        action_dim: object) -> bool:
    """The score network, typed on ``[*B, action_dim + obs_dim + 1]`` (its own rule reports what it
    cannot read), returns one float tensor ``[*B, action_dim]`` (E0466)."""
    lead = observation.shape[:-1]
    parts = [T.Unbounded((*lead, action_dim), observation.dtype), observation,
             T.Unbounded((*lead, 1), observation.dtype)]
    width = feature_sum(parts)
    fed = T.Unbounded((*lead, width), observation.dtype)
    # `network` is on the typing pass, beside `run_network`: the input is a concatenation no key holds.
    results = ty.network(network, [fed], [_SCORE_INPUT], network.span,
                         args.span_of("score_network"))
    if results is None:
        return False
    wanted = (*lead, action_dim)
    if len(results) == 1 and not isinstance(results[0], T.Composite) and not T.is_unknown(results[0]) \
            and T.is_float_dtype(results[0].dtype) and T.shapes_equal(results[0].shape, wanted):
        return True
    found = ", ".join(T.spec_text(r) for r in results) if results else "nothing"
    ty.report("E0466", f"DiffusionActor's score network predicts the noise of the action, "
                       f"{T.spec_text(T.Unbounded(wanted, observation.dtype))}, but it returns {found}",
              args.span_of("score_network"), label=f"returns {found}",
              help=f"end the score network with `{action_dim}` outputs, as in `MLP(out_features={action_dim}, "
                   "num_cells=[256, 256])`")
    return False


def _write_action(ty: TypingContext, module: ModuleNode, target: KeyRef, produced: T.Spec) -> None:
    """Write the action as an Actor writes its network's output: projected into ``spec`` with
    ``safe=true``, else checked against ``spec`` (or the key's declared spec)."""
    args = module.args
    assert args is not None
    spec: SpecArg | None = args["spec"]
    if args["safe"] is True and spec is not None:
        if ty.projectable(target, produced, spec):
            ty.write(module, target, Typed(spec.spec, Origin.PROJECTED, ty.by(module)), target=spec)
        return
    ty.write(module, target, Typed(produced, Origin.NETWORK, ty.by(module)), target=spec,
             remedy="pass `safe=true` to project the denoised action into the spec",
             checked=args["safe"] is True)


# ---------------------------------------------------------------------------------------------
# The description

DIFFUSION_ACTOR = Kind(
    name="DiffusionActor",
    family=Family.MODULE,
    runtime="rldsl.modules.DiffusionActor",
    summary="A diffusion policy (torchrl's, from its diffusion behaviour-cloning script): the action is "
            "denoised from a latent over `num_steps` steps of a DDPM chain whose score network reads the noisy "
            "action, the observation and the step; under `deterministic` interaction the chain starts from zeros "
            "and adds no noise.",
    params=(
        Param("action_dim", A.INT, doc="the action's features", positional=True),
        Param("obs_dim", A.INT, None, "the observation's features; inferred from the `in` key when left out "
                                      "(sizes the default score network)", meaning=Meaning.INPUT_SIZE),
        Param("score_network", A.NETWORK, None,
              "predicts the noise: reads `[*B, action_dim + obs_dim + 1]` (noisy action, observation, timestep), "
              "returns `[*B, action_dim]`; default two hidden layers of 256"),
        Param("num_steps", A.INT, 100, f"denoising steps (1 to {MAX_STEPS:,})"),
        Param("beta_start", A.FLOAT, 1e-4, "the first noise variance of the linear schedule"),
        Param("beta_end", A.FLOAT, 0.02, "the last noise variance of the linear schedule"),
        Param("in", A.KEYS, ("observation",), "the observation key (one key)", target="in_keys",
              aka=("in_keys",), meaning=Meaning.INPUTS),
        Param("out", A.KEYS, ("action",), "the action key (one key)", target="out_keys", aka=("out_keys",)),
        Param("spec", A.SPEC, None, "the action's spec: `spec=action`"),
        Param("safe", A.BOOL, False, "project the denoised action into `spec`"),
    ),
    reads="`observation`",
    writes="`action`",
    rule="`f[*B, obs_dim]` gives `f[*B, action_dim]` (unbounded; the action's spec with `safe=true`); the score "
         "network reads `f[*B, action_dim + obs_dim + 1]` and returns `f[*B, action_dim]`",
    role="actor",
    build=_build_diffusion,
    infer=_infer_diffusion,
)

KINDS = (DIFFUSION_ACTOR,)
