"""Planning kinds: a model environment (``ModelEnv``) and the planners that plan in it
(``CEMPlanner``, ``MPPIPlanner``).

A model environment is two declared modules stepped as an environment. The world model maps the
observation and the action to the next observation, the reward model scores the step::

    module world  = MLP(out_features=4) : observation, action -> next.observation
    module reward = MLP(out_features=1) : next.observation, action -> next.reward
    module model  = ModelEnv(world, reward, spec=action)
      reads  observation, action
      writes next.observation, next.reward, next.done, next.terminated

The observation keys are what the world model reads, but the action; the checker proves that a
step gives each of them its next value (``next.X``, of ``X``'s shape and dtype), reads the
action and ends with a float reward ``[1]`` at ``next.reward``, the key the planners read (torchrl's
default; the language does not rename it). The reward model runs after the world model, which
has moved the step on: it reads the next observations (and the action), not the ones the step
started from. The runtime class steps its models in place (a torchrl model environment's world
model writes the next observation at ``observation``): the compiler makes each ``next.X`` a model
writes also written at ``X`` (:attr:`~rldsl.lang.kinds.Meaning.STEP_MODEL`), and builds the
environment's ``observation_spec`` from the observation keys' checked specs
(:attr:`~rldsl.lang.kinds.Meaning.KEY_SPECS`).

A planner is a policy: it reads the environment's observation keys and writes the action, a
member of the environment's action spec (projected), after rolling candidate action sequences
out in the environment. ``env`` is a ``ModelEnv``, declared or written inline. ``MPPIPlanner``
scores candidates with an ``advantage_module`` run on the rollout: it reads what a rollout holds
and writes ``advantage``.
"""

from __future__ import annotations

import math

import attrs

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Form, KeyRef, ModuleNode, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, check_positive, key, node
from rldsl.lang.values import INVALID

A = ArgType

#: The step's reward, where ModelEnv puts it and the planners read it (torchrl's default keys).
REWARD = ("next", "reward")
#: The done flags a step writes under ``next`` (those a model writes, else false).
DONE_FLAGS = ("done", "terminated")
#: The key an MPPI advantage module writes.
ADVANTAGE = ("advantage",)
_BOOL_FLAG = T.Unbounded((1,), "bool")


def _next(path: tuple[str, ...]) -> tuple[str, ...]:
    return ("next", *path)


def _dotted(path: tuple[str, ...]) -> str:
    return ".".join(path)


def _unique(refs: list[KeyRef]) -> tuple[KeyRef, ...]:
    seen: dict[tuple[str, ...], KeyRef] = {}
    for ref in refs:
        seen.setdefault(ref.path, ref)
    return tuple(seen.values())


# ---------------------------------------------------------------------------------------------
# ModelEnv: the keys of a step


def observation_keys(args: Args) -> tuple[KeyRef, ...]:
    """A model environment's observation keys: ``observation_spec`` when given, else what the world
    model reads but the action (empty when the arguments are invalid). Also the compiler's
    ``derive`` of ``observation_spec``."""
    given = args["observation_spec"] if "observation_spec" in args.values else None
    if isinstance(given, tuple):
        return given
    world, action = args["world_model"], args["action_key"]
    if not isinstance(world, ModuleNode) or not isinstance(action, KeyRef):
        return ()
    return _unique([ref for ref in world.reads if ref.path != action.path])


def _models(args: Args) -> tuple[ModuleNode, ModuleNode | None] | None:
    world, reward = args["world_model"], args["reward_model"]
    if not isinstance(world, ModuleNode) or not (reward is None or isinstance(reward, ModuleNode)):
        return None
    return world, reward


def _step_writes(args: Args, observations: tuple[KeyRef, ...]) -> tuple[KeyRef, ...]:
    """What one step writes: every next observation, the reward, the done flags (at the call)."""
    at = args.name_span
    paths = [_next(ref.path) for ref in observations] + [REWARD] + [_next((flag,)) for flag in DONE_FLAGS]
    return _unique([KeyRef(path, at, implicit=True) for path in paths])


def _build_model_env(lo: LoweringContext, args: Args) -> ModuleNode | object:
    models = _models(args)
    if models is None or not args.ok("action_key", "observation_spec", "spec"):
        return INVALID
    world, reward = models
    if not _plain_models(lo, args, world, reward):
        return INVALID
    action = args["action_key"]
    assert isinstance(action, KeyRef)
    observations = observation_keys(args)
    if not _world_models_a_step(lo, args, world, action, observations) \
            or not _reward_scores_the_step(lo, args, world, reward, action, observations):
        return INVALID  # the reward is checked against a world model that models a step
    writes = _step_writes(args, observations)
    children = (world,) if reward is None else (world, reward)
    by_children = {ref.path for child in children for ref in child.writes}
    named = {ref.path for child in children if child.name is not None for ref in child.writes}
    inner = tuple(ref for ref in (reward.reads if reward is not None else ()) if ref.path in by_children)
    return ModuleNode(Form.KIND, args.kind, args, args.span, _unique([*observations, action]), writes, children,
                      own_writes=tuple(ref for ref in writes if ref.path not in named), inner_reads=inner)


def _plain_models(lo: LoweringContext, args: Args, world: ModuleNode, reward: ModuleNode | None) -> bool:
    """E0460 / E0462: a model of a step is a module run on a tensordict, not a model environment."""
    for name, model, code in (("world_model", world, "E0460"), ("reward_model", reward, "E0462")):
        if model is not None and model.kind is args.kind:
            word = name.replace("_", " ")
            lo.report(code, f"the {word} of ModelEnv is a ModelEnv itself", args.span_of(name),
                      label="a model environment",
                      help=f"give the {word} itself (a network given keys, as in `module world = MLP(...) : "
                           "observation, action -> next.observation`), not an environment built from it")
            return False
    return True


def _world_models_a_step(lo: LoweringContext, args: Args, world: ModuleNode, action: KeyRef,
                         observations: tuple[KeyRef, ...]) -> bool:
    """E0460: the world model reads the action and an observation, reads nothing else (when the
    observation keys are given), and writes ``next.X`` for every observation ``X``."""
    at = args.span_of("world_model")
    read = {ref.path for ref in world.reads}
    if action.path not in read:
        lo.report("E0460", f"the world model of ModelEnv does not read the action `{action.dotted}`", at,
                  label="reads " + (", ".join(f"`{ref.dotted}`" for ref in world.reads) or "nothing"),
                  help=f"a model step maps the observation and the action to the next observation: read "
                       f"`{action.dotted}`, as in `: observation, {action.dotted} -> next.observation` (or pass "
                       "`action_key=` naming the action it reads)")
        return False
    if args.given("observation_spec"):
        listed = {ref.path for ref in observations} | {action.path}
        other = next((ref for ref in world.reads if ref.path not in listed), None)
        if other is not None:
            lo.report("E0460", f"the world model reads `{other.dotted}`, which is neither an observation nor the "
                               "action", args.span_of("observation_spec"), label="the observation keys",
                      labels=((at, f"reads `{other.dotted}`"),),
                      help=f"list `{other.dotted}` in `observation_spec`, or leave `observation_spec` out: the "
                           "observations are what the world model reads, but the action")
            return False
    if not observations:
        lo.report("E0460", "the world model of ModelEnv reads no observation, only the action", at,
                  label="no observation read", help="read the observations the step starts from, as in "
                                                    "`: observation, action -> next.observation`")
        return False
    written = {ref.path for ref in world.writes}
    for ref in observations:
        if _next(ref.path) not in written:
            lo.report("E0460", f"the world model of ModelEnv writes no `next.{ref.dotted}` for the observation "
                               f"`{ref.dotted}`", at, label=f"no `next.{ref.dotted}` written",
                      help=f"a model step gives every observation its next value: write `next.{ref.dotted}`, as in "
                           f"`: {ref.dotted}, {action.dotted} -> next.{ref.dotted}`")
            return False
    return True


def _reward_scores_the_step(lo: LoweringContext, args: Args, world: ModuleNode, reward: ModuleNode | None,
                            action: KeyRef, observations: tuple[KeyRef, ...]) -> bool:
    """E0462: a model writes ``next.reward``; the reward model reads only the world model's
    outputs and the action (it runs on the step's result)."""
    writers = [world] if reward is None else [world, reward]
    if not any(ref.path == REWARD for model in writers for ref in model.writes):
        where = "reward_model" if reward is not None else "world_model"
        lo.report("E0462", "no model of ModelEnv writes the reward `next.reward`", args.span_of(where),
                  label="writes no `next.reward`",
                  help="give a reward model writing it, as in `module reward = MLP(out_features=1) : "
                       "next.observation, action -> next.reward` passed as ModelEnv's second argument")
        return False
    if reward is None:
        return True
    starts = {ref.path for ref in observations}
    held = {ref.path for ref in world.writes} | {action.path}
    for ref in reward.reads:
        if ref.path in starts:
            lo.report("E0462", f"the reward model reads `{ref.dotted}`, the observation the step started from, but "
                               "ModelEnv runs it after the world model has moved the step on",
                      args.span_of("reward_model"), label=f"reads `{ref.dotted}`",
                      help=f"score the step's result: read `next.{ref.dotted}` (the next observation), and the "
                           "action if the reward depends on it")
            return False
        if ref.path not in held:
            lo.report("E0462", f"the reward model reads `{ref.dotted}`, which a model step does not hold",
                      args.span_of("reward_model"), label=f"reads `{ref.dotted}`",
                      help=f"a reward model reads what the world model writes ("
                           f"{', '.join(f'`{_dotted(r.path)}`' for r in world.writes)}) and the action "
                           f"`{action.dotted}`")
            return False
    return True


# ---------------------------------------------------------------------------------------------
# ModelEnv: typing


def _infer_model_env(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    world = module.children[0]
    _action_spec_fits(ty, args)
    writes = {ref.path: ref for ref in module.writes}
    for ref in observation_keys(args):
        start, after = ty.read(ref), ty.read(KeyRef(_next(ref.path), ref.span))
        if T.is_unknown(start, after):
            continue
        if not _same_tensor(start, after):
            made = next((w for w in world.writes if w.path == _next(ref.path)), None)
            labels = ((made.span, f"written as {T.spec_text(after)}"),) if made is not None and not made.implicit \
                else ()
            ty.report("E0460", f"the world model writes `next.{ref.dotted}` as {T.spec_text(after)}, but the "
                               f"observation `{ref.dotted}` is {T.spec_text(start)}", args.span_of("world_model"),
                      label="another shape or dtype", labels=labels,
                      help=f"the next observation is the observation of the next step: make the world model output "
                           f"{T.spec_text(start)} (an MLP's `out_features` is its last dim)")
            continue
        ty.write(module, writes[_next(ref.path)], Typed(after, Origin.COPY, ty.by(module)))
    _reward_is_one_float(ty, module, writes[REWARD])
    for flag in DONE_FLAGS:
        path = _next((flag,))
        made = ty.written(path)
        spec = made.spec if made is not None else ty.declared(path) or _BOOL_FLAG
        ty.write(module, writes[path], Typed(spec, Origin.COPY, ty.by(module)))


def _same_tensor(a: T.Spec, b: T.Spec) -> bool:
    if isinstance(a, T.Composite) or isinstance(b, T.Composite):
        return False
    return a.dtype == b.dtype and T.shapes_equal(a.shape, b.shape)


def _spec_conflict(ty: TypingContext, args: Args) -> T.Spec | None:
    """The declared spec of a model environment's action key when it is not the spec the
    environment is given (None when they agree, or either is unknown)."""
    target, action = args["spec"], args["action_key"]
    if not isinstance(target, SpecArg) or not isinstance(action, KeyRef) or target.key == action.path:
        return None
    declared = ty.declared(action.path)
    if declared is None or T.is_unknown(declared, target.spec) or _same_spec(declared, target.spec):
        return None
    return declared


def _action_spec_fits(ty: TypingContext, args: Args) -> None:
    """E0509: the action key, when declared, has the spec the environment is given."""
    declared = _spec_conflict(ty, args)
    if declared is None:
        return
    target, action = args["spec"], args["action_key"]
    ty.report("E0509", f"`spec=` gives {T.spec_text(target.spec)}, but the action `{action.dotted}` is declared as "
                       f"{T.spec_text(declared)}", target.span, label="another spec",
              help=f"pass the action's own spec, `spec={action.dotted}`")


def _same_spec(a: T.Spec, b: T.Spec) -> bool:
    return type(a) is type(b) and _same_tensor(a, b) and T.spec_text(a) == T.spec_text(b)


def _reward_is_one_float(ty: TypingContext, module: ModuleNode, ref: KeyRef) -> None:
    """E0462: the reward is a float ``[1]``, as an environment's."""
    spec = ty.read(ref)
    if T.is_unknown(spec):
        return
    one = not isinstance(spec, T.Composite) and len(spec.shape) == 1 and T.dim_value(spec.shape[0]) == 1
    if not one or not T.is_float_dtype(spec.dtype):
        assert module.args is not None
        where = "reward_model" if module.args["reward_model"] is not None else "world_model"
        ty.report("E0462", f"the reward of a model step is a float `[1]`, but `next.reward` is {T.spec_text(spec)}",
                  module.args.span_of(where), label=f"writes {T.spec_text(spec)}",
                  help="make the reward model output one float, as `MLP(out_features=1)` does")
        return
    ty.write(module, ref, Typed(spec, Origin.COPY, ty.by(module)))


MODEL_ENV = Kind(
    name="ModelEnv",
    family=Family.MODULE,
    runtime="rldsl.modules.ModelEnv",
    summary="A model environment: a world model and a reward model stepped as an environment, which the "
            "planners roll candidate actions out in. Called, it takes one step.",
    params=(
        Param("world_model", A.MODULE, doc="reads the observations and the action, writes `next.` + each "
                                           "observation (`: observation, action -> next.observation`)",
              positional=True, meaning=Meaning.STEP_MODEL),
        Param("reward_model", A.MODULE, None, "reads the next observations (and the action), writes `next.reward`; "
                                              "`none`: the world model writes it", positional=True,
              meaning=Meaning.STEP_MODEL),
        Param("spec", A.SPEC, doc="the action's spec: candidate actions are projected into it (`spec=action`)",
              target="action_spec", aka=("action_spec",)),
        Param("observation_spec", A.KEYS, None, "the observation keys, whose checked specs make the environment's "
                                                "observation spec (default: what the world model reads, but the "
                                                "action)", meaning=Meaning.KEY_SPECS, derive=observation_keys),
        Param("action_key", A.KEY, "action", "the action the world model reads"),
    ),
    reads="the observations and the action",
    writes="`next.` + each observation, `next.reward`, `next.done`, `next.terminated`",
    rule="the world model reads the action and writes `next.X` of `X`'s shape and dtype for every observation `X`; "
         "the reward model reads the world model's outputs and the action; `next.reward` is a float `[1]`; the "
         "done flags are `bool[1]` (false unless a model writes them)",
    omitted=(("reward_key", "always `reward`: a step's reward is `next.reward`, where the planners read it"),
             ("batch_size", "planners step a tensordict of any batch size"),
             ("device", "chosen when compiling")),
    build=_build_model_env,
    infer=_infer_model_env,
)


# ---------------------------------------------------------------------------------------------
# Planners


def _model_env(lo: LoweringContext, args: Args) -> ModuleNode | None:
    """The planner's environment: a ModelEnv node (E0461 for another module)."""
    env = args["env"]
    if not isinstance(env, ModuleNode):
        return None
    if env.kind is not MODEL_ENV:
        what = f"a {env.kind.name}" if env.kind is not None else "a module with keys"
        name = f"`{env.name}` is " if env.name is not None else "this is "
        lo.report("E0461", f"{args.kind.name} plans in a model environment, but {name}{what}", args.span_of("env"),
                  label="not a ModelEnv",
                  help="give it a ModelEnv built from a world model and a reward model, as in "
                       "`module model = ModelEnv(world, reward, spec=action)`, then "
                       f"`{args.kind.name}(model, ...)`")
        return None
    return env


def _continuous_actions(lo: LoweringContext, args: Args, env: ModuleNode) -> bool:
    """E0464: the Gaussian planners draw continuous action sequences."""
    assert env.args is not None
    target = env.args["spec"]
    if not isinstance(target, SpecArg) or T.is_unknown(target.spec) or T.domain(target.spec) == "continuous":
        return True
    lo.report("E0464", f"{args.kind.name} draws continuous action sequences from a Gaussian, but the environment's "
                       f"action spec is {T.spec_text(target.spec)}", args.span_of("env"),
              label=f"actions {T.spec_text(target.spec)}", labels=((target.span, "the action spec"),),
              help="plan continuous actions (`f32[n]`, bounded as `in [-1.0, 1.0]`), which a network world model "
                   "reads; choose discrete actions with a QValueActor or a categorical ProbabilisticActor")
    return False


def _sizes(lo: LoweringContext, args: Args, min_top_k: int) -> None:
    """E0606: positive sizes, ``top_k`` in ``[min_top_k, num_candidates]``, a positive finite
    temperature (MPPI)."""
    check_positive(lo, args, "planning_horizon", "optim_steps", "num_candidates")
    top_k = T.dim_value(args["top_k"]) if args.ok("top_k") else None
    candidates = T.dim_value(args["num_candidates"]) if args.ok("num_candidates") else None
    if top_k is not None and top_k < min_top_k:
        why = " (CEM refits the standard deviation of the best candidates: one has none)" if min_top_k > 1 else ""
        lo.report("E0606", f"`top_k` must be at least {min_top_k}, got {top_k}{why}", args.span_of("top_k"),
                  label="too few candidates kept", help=f"keep at least {min_top_k} candidates, as in `top_k=10`")
    elif top_k is not None and candidates is not None and candidates > 0 and top_k > candidates:
        lo.report("E0606", f"`top_k={top_k}` keeps more candidates than `num_candidates={candidates}` draws",
                  args.span_of("top_k"), label="more than are drawn",
                  help=f"keep at most {candidates}, as in `top_k={max(min_top_k, candidates // 10)}`")
    if "temperature" in args.values:
        check_finite(lo, args, "temperature")
        value = args["temperature"] if args.ok("temperature") else None
        if isinstance(value, (int, float)) and math.isfinite(value) and value <= 0:
            lo.report("E0606", f"`temperature` must be positive, got {T.number_text(value)}",
                      args.span_of("temperature"), label="not positive",
                      help="MPPI weighs the best candidates by exp(temperature * advantage): a positive temperature "
                           "favours the best, as in `temperature=1.0`")


def _rollout_keys(env: ModuleNode) -> set[tuple[str, ...]]:
    """The keys a rollout of candidates holds: the observations, the action and the done flags of
    each step, and what the step writes under ``next``."""
    assert env.args is not None
    action = env.args["action_key"]
    keys = {ref.path for ref in observation_keys(env.args)} | {(flag,) for flag in DONE_FLAGS}
    keys |= {ref.path for ref in env.writes}
    if isinstance(action, KeyRef):
        keys.add(action.path)
    return keys


def _advantage_module(lo: LoweringContext, args: Args, env: ModuleNode) -> ModuleNode | None:
    """E0463: MPPI's advantage module writes ``advantage`` and reads only what a rollout holds."""
    module = args["advantage_module"]
    if not isinstance(module, ModuleNode):
        return None
    at = args.span_of("advantage_module")
    if not any(ref.path == ADVANTAGE for ref in module.writes):
        lo.report("E0463", "the advantage module of MPPIPlanner writes no `advantage`", at,
                  label="writes " + (", ".join(f"`{ref.dotted}`" for ref in module.writes) or "nothing"),
                  help="MPPI scores each candidate by the `advantage` its first step gets: write it, as in "
                       "`module adv = MLP(out_features=1) : observation, action -> advantage`")
        return None
    held = _rollout_keys(env)
    other = next((ref for ref in module.reads if ref.path not in held), None)
    if other is not None:
        shown = ", ".join(f"`{_dotted(path)}`" for path in sorted(held))
        lo.report("E0463", f"the advantage module reads `{other.dotted}`, which a rollout of candidates does not hold",
                  at, label=f"reads `{other.dotted}`", help=f"it runs on the rollout, which holds {shown}")
        return None
    return module


def _build_planner(lo: LoweringContext, args: Args) -> ModuleNode | object:
    mppi = "advantage_module" in args.values
    _sizes(lo, args, min_top_k=1 if mppi else 2)
    env = _model_env(lo, args)
    if env is None or env.args is None or not args.ok("action_key"):
        return INVALID
    if not _continuous_actions(lo, args, env):
        return INVALID
    children: tuple[ModuleNode, ...] = (env,)
    inner = [KeyRef(REWARD, args.name_span, implicit=True)]
    if mppi:
        advantage = _advantage_module(lo, args, env)
        if advantage is None:
            return INVALID
        children = (env, advantage)
        inner.append(KeyRef(ADVANTAGE, args.name_span, implicit=True))
    planned = node(lo, args, [Step(observation_keys(env.args), key(args, "action_key"))], children=children)
    return attrs.evolve(planned, inner_reads=(*planned.inner_reads, *inner))


def _infer_planner(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    env = module.children[0]
    assert env.args is not None
    if len(module.children) > 1:
        _advantage_is_float(ty, args, module.children[1])
    target = env.args["spec"]
    action = args["action_key"]
    if isinstance(target, SpecArg) and isinstance(action, KeyRef) and not T.is_unknown(target.spec):
        reported = env.args["action_key"] == action and _spec_conflict(ty, env.args) is not None  # by the env
        ty.write(module, action, Typed(target.spec, Origin.PROJECTED, ty.by(module)), target=target,
                 checked=reported)


def _advantage_is_float(ty: TypingContext, args: Args, module: ModuleNode) -> None:
    spec = ty.read(KeyRef(ADVANTAGE, args.span_of("advantage_module")))
    if T.is_unknown(spec) or (not isinstance(spec, T.Composite) and T.is_float_dtype(spec.dtype)):
        return
    ty.report("E0463", f"MPPI weighs candidates by their advantage, a float, but `advantage` is {T.spec_text(spec)}",
              args.span_of("advantage_module"), label=f"writes {T.spec_text(spec)}",
              help="write the advantage as floats, as a network does")


_ENV = Param("env", A.MODULE, doc="the ModelEnv to plan in", positional=True)
_SIZES = (
    Param("planning_horizon", A.INT, doc="steps each candidate action sequence is rolled out for", positional=True),
    Param("optim_steps", A.INT, doc="rounds of drawing, scoring and refitting per action", positional=True),
    Param("num_candidates", A.INT, doc="action sequences drawn per round (rolled out in one batch)", positional=True),
)
_ACTION_KEY = Param("action_key", A.KEY, "action", "where the planned action is written")
_OMITTED = (("reward_key", "always `next.reward`, where ModelEnv's step writes the reward"),)
_READS = "the environment's observations"
_WRITES = "`action`: the first step of the planned sequence, projected into the environment's action spec"

CEM_PLANNER = Kind(
    name="CEMPlanner",
    family=Family.MODULE,
    runtime="rldsl.modules.CEMPlanner",
    summary="Model-predictive control by the cross-entropy method: Gaussian action sequences are rolled out in a "
            "ModelEnv and refitted to the `top_k` with the largest return; the action is the first step of the mean.",
    params=(
        _ENV,
        *_SIZES,
        Param("top_k", A.INT, doc="the best candidates the Gaussian is refitted to, in [2, num_candidates]",
              positional=True),
        _ACTION_KEY,
    ),
    reads=_READS,
    writes=_WRITES,
    rule="`env` is a ModelEnv with a continuous action spec; the sizes are positive and `top_k` lies in "
         "[2, num_candidates]; the action written lies in the environment's action spec",
    role="actor",
    omitted=_OMITTED,
    build=_build_planner,
    infer=_infer_planner,
)

MPPI_PLANNER = Kind(
    name="MPPIPlanner",
    family=Family.MODULE,
    runtime="rldsl.modules.MPPIPlanner",
    summary="Model-predictive path-integral control: as CEMPlanner, but the `top_k` candidates with the largest "
            "first-step advantage are averaged with weights exp(temperature * advantage).",
    params=(
        _ENV,
        Param("advantage_module", A.MODULE, doc="reads a rollout (observations, action, `next.` keys), writes "
                                                "`advantage`", positional=True),
        Param("temperature", A.FLOAT, doc="the inverse temperature of the weights, positive", positional=True),
        *_SIZES,
        Param("top_k", A.INT, doc="the best candidates averaged, in [1, num_candidates]", positional=True),
        _ACTION_KEY,
    ),
    reads=_READS,
    writes=_WRITES,
    rule="as CEMPlanner; the advantage module reads only what a rollout holds and writes a float `advantage`; "
         "`temperature` is positive",
    role="actor",
    omitted=_OMITTED,
    build=_build_planner,
    infer=_infer_planner,
)

KINDS = (MODEL_ENV, CEM_PLANNER, MPPI_PLANNER)
