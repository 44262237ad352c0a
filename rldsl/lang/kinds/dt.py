"""Decision-transformer kinds: ``DTConfig``, ``DecisionTransformer``, ``DTActor``, ``OnlineDTActor``
and ``DecisionTransformerInferenceWrapper``.

A decision transformer reads whole windows of steps. There is no new syntax for them: a key with
a time (context) dim is declared with it, before the features::

    dim context = 20
    key observation  : f32[context, 17]
    key action       : f32[context, 6]
    key return_to_go : f32[context, 1]

and the networks read ``[*B, T, features]``: the second-to-last dim is the time dim ``T``, the dims
before it (``*B``) are the same for the three inputs. A window holds at most ``n_positions // 3``
steps (each step is three tokens of GPT-2's positional embedding; E0456).

``DTConfig`` is a configuration (:attr:`Family.CONFIG`): its fields are given as
``config=dict(n_embd=128, n_head=4)`` (``transformer_config=`` for the actors), bound to its fields
as any inner class's arguments (:mod:`rldsl.lang.kwargs`), and checked by the network that holds
them: sizes positive (E0606), ``n_embd`` divisible by ``n_head`` (E0455), dropout probabilities in
``[0, 1]`` (E0606). ``DTConfig`` has no ``build`` of its own, so that naming it as a module is E0607
(lowering calls a kind's ``build`` before it looks at the family).

``DecisionTransformerInferenceWrapper`` makes a per-step policy act. torchrl's wrapper keeps the
last step *in place*: the policy's action key and the return-to-go window end up holding one
step, so each would have two specs. In the language the last step's action goes to a key of its
own, ``last_action`` (E0459 when it is not), and everything else keeps its spec: the windows (the
action window masked), the policy's per-step outputs. The wrapper reads the three windows it
masks, which its policy must read (E0458), and the policy's per-step action at ``out_action``,
which the policy must write (E0458)::

    actor act = DecisionTransformerInferenceWrapper(policy, observation=observation, action=action,
                                                    return_to_go=return_to_go, out_action=action_steps,
                                                    last_action=next_action, spec=next_action)
      reads  observation, action, return_to_go (what the policy reads)
      writes what the policy writes, then next_action: f32[6] (the last step of action_steps)
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, KeyRef, Kwargs, ModuleNode, Network, Origin, SpecArg, Step, Typed
from rldsl.lang.kinds._base import ArgType, Family, Kind, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.kinds._rules import check_finite, check_positive, float_inputs, node
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID

A = ArgType

__all__ = ["DECISION_TRANSFORMER", "DT_ACTOR", "DT_CONFIG", "DT_INFERENCE_WRAPPER", "KINDS", "ONLINE_DT_ACTOR",
           "sequence_dims"]

#: The activations GPT-2's ``activation_function`` takes (Hugging Face's names, as the runtime reads them).
ACTIVATIONS = ("gelu", "gelu_new", "gelu_pytorch_tanh", "leaky_relu", "linear", "mish", "quick_gelu", "relu",
               "relu6", "sigmoid", "silu", "swish", "tanh")

#: OnlineDTActor's log-std range: ``std = exp(log_std)`` lies in ``[e^-5, e^2]``.
LOG_STD_MIN, LOG_STD_MAX = -5.0, 2.0

_DEVICE = ("device", "chosen when compiling")

# ---------------------------------------------------------------------------------------------
# DTConfig


DT_CONFIG = Kind(
    name="DTConfig",
    family=Family.CONFIG,
    runtime="rldsl.modules.DTConfig",
    summary="The configuration of a decision transformer's GPT-2 trunk (torchrl's `DecisionTransformer.DTConfig`), "
            "given as `config=dict(...)` or `transformer_config=dict(...)`.",
    params=(
        Param("n_embd", A.INT, 256, "the width of the tokens and hidden states"),
        Param("n_layer", A.INT, 4, "the number of transformer blocks (0 or more)"),
        Param("n_head", A.INT, 4, "attention heads; they divide `n_embd`"),
        Param("n_inner", A.INT, 1024, "the width of each block's feed-forward layer"),
        Param("activation", A.CHOICE, "relu", "the feed-forward activation (Hugging Face's name)",
              choices=ACTIVATIONS),
        Param("n_positions", A.INT, 1024, "learned positions: a window holds `n_positions // 3` steps"),
        Param("resid_pdrop", A.FLOAT, 0.1, "dropout on the residual branches"),
        Param("attn_pdrop", A.FLOAT, 0.1, "dropout on the attention weights"),
    ),
    rule="sizes are positive (`n_layer` may be 0, `n_positions` is at least 3), `n_embd` is divisible by "
         "`n_head`, the dropout probabilities lie in [0, 1]",
)


def _config_fits(lo: LoweringContext, config: object) -> bool:
    """The checks of a ``dict(...)`` of DTConfig fields (E0606, E0455); True when it is usable."""
    if not isinstance(config, Kwargs) or not config.args.ok(*(p.name for p in config.args.kind.params)):
        return False
    args = config.args
    sizes = _positive(lo, args, "n_embd", "n_head", "n_inner") & _positive(lo, args, "n_layer", allow_zero=True)
    positions = _at_least_one_step(lo, args)
    probabilities = _probabilities(lo, args)
    return sizes and positions and probabilities and _heads_divide(lo, args)


def _positive(lo: LoweringContext, args: Args, *names: str, allow_zero: bool = False) -> bool:
    """:func:`check_positive` (E0606), and whether every size passed it."""
    check_positive(lo, args, *names, allow_zero=allow_zero)
    least = 0 if allow_zero else 1
    return all(T.dim_value(args[name]) is None or T.dim_value(args[name]) >= least for name in names)


def _at_least_one_step(lo: LoweringContext, args: Args) -> bool:
    """E0606 unless ``n_positions`` holds one step (three tokens)."""
    positions = T.dim_value(args["n_positions"])
    if positions is None or positions >= 3:
        return True
    lo.report("E0606", f"`n_positions` must be at least 3 (one step is three tokens), got {positions}",
              args.span_of("n_positions"), label="fewer positions than one step needs",
              help="give room for the window: `n_positions` is at least three times the number of steps")
    return False


def _probabilities(lo: LoweringContext, args: Args) -> bool:
    """E0606 unless both dropout probabilities are finite and in [0, 1]."""
    fine = True
    for name in ("resid_pdrop", "attn_pdrop"):
        value = args[name]
        if not math.isfinite(value):
            check_finite(lo, args, name)
            fine = False
        elif not 0.0 <= value <= 1.0:
            lo.report("E0606", f"`{name}` is a dropout probability in [0, 1], got {T.number_text(value)}",
                      args.span_of(name), label="not a probability", help=f"use a value such as `{name}=0.1`")
            fine = False
    return fine


def _heads_divide(lo: LoweringContext, args: Args) -> bool:
    """E0455 unless ``n_head`` divides ``n_embd``: each head attends over ``n_embd / n_head`` features."""
    width, heads = T.dim_value(args["n_embd"]), T.dim_value(args["n_head"])
    if width is None or heads is None or width % heads == 0:
        return True
    at = "n_head" if args.given("n_head") or not args.given("n_embd") else "n_embd"
    lo.report("E0455", f"`n_embd={width}` is not divisible by `n_head={heads}`", args.span_of(at),
              label=f"{width} features do not split into {heads} heads",
              help=f"give each head the same width: `n_head` must divide `n_embd` (for instance "
                   f"`n_head={_divisor_near(width, heads)}`)")
    return False


def _divisor_near(width: int, heads: int) -> int:
    """The divisor of ``width`` closest to ``heads`` (a suggestion)."""
    return min((d for d in range(1, width + 1) if width % d == 0), key=lambda d: (abs(d - heads), d))


# ---------------------------------------------------------------------------------------------
# The networks


def _build_dt(lo: LoweringContext, args: Args) -> object:
    """Positive sizes (E0606) and a usable configuration; INVALID after an error (the rule needs the sizes)."""
    sizes = args.ok("state_dim", "action_dim") and _positive(lo, args, "state_dim", "action_dim")
    config = _config_fits(lo, args[_config_param(args.kind)])
    return Network(args.kind, args, args.span) if sizes and config else INVALID


def _config_param(kind: Kind) -> str:
    return "config" if kind.name == "DecisionTransformer" else "transformer_config"


def _config_value(args: Args, name: str) -> object:
    """A field of the network's checked configuration."""
    config = args[_config_param(args.kind)]
    assert isinstance(config, Kwargs)
    return config.args[name]


def _counted(ty: TypingContext, owner: str, inputs: list[T.Spec], at: Span) -> bool:
    if len(inputs) == 3:
        return True
    ty.report("E0407", f"{owner} reads three tensors (observation, action, return-to-go), but is given "
                       f"{len(inputs)}", at, label=f"{len(inputs)} input{'s' if len(inputs) != 1 else ''}",
              help="give it the three windows, in that order: `: observation, action, return_to_go -> ...`")
    return False


def sequence_dims(ty: TypingContext, owner: str, spec: T.Spec, label: str, at: Span) -> tuple | None:
    """The leading dims ``[*B, T]`` of a sequence ``[*B, T, features]`` (E0457 without a time dim)."""
    if len(spec.shape) >= 2:
        return spec.shape[:-1]
    ty.report("E0457", f"{owner} reads sequences `[*B, T, features]`, but {label} is {T.spec_text(spec)}, without "
                       "a time dim", at, label=f"{label} has no time dim",
              help="declare the key with its time (context) dim before the features, as `dim context = 20` and "
                   "`key observation : f32[context, 17]`")
    return None


def _same_steps(ty: TypingContext, owner: str, leads: list[tuple], inputs: list[T.Spec], labels: list[str],
                at: Span) -> bool:
    """E0401 unless every sequence has the first one's ``[*B, T]``."""
    for lead, spec, label in zip(leads[1:], inputs[1:], labels[1:]):
        if not T.shapes_equal(lead, leads[0]):
            ty.report("E0401", f"{owner} reads one window of steps: {labels[0]} has shape "
                               f"{T.shape_text(inputs[0].shape)} and {label} {T.shape_text(spec.shape)}", at,
                      label="the dims before the features differ",
                      help="give the three windows the same dims before their features, `[*B, T]`")
            return False
    return True


def _widths_fit(ty: TypingContext, args: Args, inputs: list[T.Spec], labels: list[str]) -> bool:
    """E0406 unless the features are ``state_dim``, ``action_dim`` and 1."""
    wanted = (("state_dim", args["state_dim"]), ("action_dim", args["action_dim"]), (None, 1))
    for (name, size), spec, label in zip(wanted, inputs, labels):
        if size is INVALID or T.dims_equal(size, spec.shape[-1]):
            continue
        features = spec.shape[-1]
        if name is None:
            ty.report("E0406", f"{args.kind.name} reads one return-to-go per step, but {label} has {features} "
                               "features", args.name_span, label=f"{label} is {T.spec_text(spec)}",
                      help="declare the return-to-go window with one feature, as `f32[context, 1]`")
        else:
            ty.report("E0406", f"`{name}={size}` but {label} has {features} features", args.span_of(name),
                      label=f"{label} has {features} features", help=f"write `{name}={features}`")
        return False
    return True


def _window_fits(ty: TypingContext, args: Args, steps: T.Dim, at: Span) -> bool:
    """E0456 when a window of ``steps`` steps needs more positions than the transformer has."""
    positions = T.dim_value(_config_value(args, "n_positions"))
    count = T.dim_value(steps)
    if positions is None or count is None or 3 * count <= positions:
        return True
    ty.report("E0456", f"{args.kind.name} sees at most {positions // 3} steps (`n_positions={positions}`, three "
                       f"tokens a step), but its window holds {count}", at,
              label=f"{count} steps, {3 * count} tokens",
              help=f"shorten the window to at most {positions // 3} steps, or give the transformer more positions: "
                   f"`n_positions={3 * count}` in its configuration")
    return False


def _trunk(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str], at: Span) -> tuple | None:
    """The shared rule: three float windows of one ``[*B, T]`` with the configured widths; their
    ``[*B, T]``, or None after an error."""
    args = net.args
    assert args is not None
    owner = args.kind.name
    if not _counted(ty, owner, inputs, at) or T.is_unknown(*inputs):
        return None
    if not float_inputs(ty, inputs, labels, owner, at, weighted=True):
        return None
    leads = [sequence_dims(ty, owner, spec, label, at) for spec, label in zip(inputs, labels)]
    if any(lead is None for lead in leads) or not _same_steps(ty, owner, leads, inputs, labels, at):
        return None
    if not _widths_fit(ty, args, inputs, labels) or not _window_fits(ty, args, leads[0][-1], at):
        return None
    return leads[0]


def _infer_decision_transformer(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                                at: Span) -> list[T.Spec] | None:
    lead = _trunk(ty, net, inputs, labels, at)
    if lead is None:
        return None
    assert net.args is not None
    return [T.Unbounded((*lead, _config_value(net.args, "n_embd")), inputs[0].dtype)]


def _infer_dt_actor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                    at: Span) -> list[T.Spec] | None:
    lead = _trunk(ty, net, inputs, labels, at)
    if lead is None:
        return None
    assert net.args is not None
    return [T.Unbounded((*lead, net.args["action_dim"]), inputs[0].dtype)]


def _infer_online_dt_actor(ty: TypingContext, net: Network, inputs: list[T.Spec], labels: list[str],
                           at: Span) -> list[T.Spec] | None:
    lead = _trunk(ty, net, inputs, labels, at)
    if lead is None:
        return None
    assert net.args is not None
    shape = (*lead, net.args["action_dim"])
    std = T.Bounded(shape, inputs[0].dtype, math.exp(LOG_STD_MIN), math.exp(LOG_STD_MAX))
    return [T.Unbounded(shape, inputs[0].dtype), std]


def _sizes(doc_state: str = "the observation's features (the last dim of the observation window)") -> tuple:
    return (Param("state_dim", A.INT, doc=doc_state, positional=True),
            Param("action_dim", A.INT, doc="the action's features (the last dim of the action window)",
                  positional=True))


def _config(name: str, doc: str, **defaults: object) -> Param:
    shown = ", ".join(f"{k}={v}" for k, v in defaults.items())
    return Param(name, A.KWARGS, None, f"{doc}, as DTConfig fields" + (f" (default {shown})" if shown else ""),
                 of="DTConfig", inner_defaults=tuple(defaults.items()))


_READS = "three tensors: the observation, action and return-to-go windows `[*B, T, features]`, in that order"
_WINDOWS = ("`f[*B, T, state_dim]`, `f[*B, T, action_dim]` and `f[*B, T, 1]` (the second-to-last dim is the time dim, "
            "the same in the three; `T` at most `n_positions // 3`) give ")

DECISION_TRANSFORMER = Kind(
    name="DecisionTransformer",
    family=Family.NETWORK,
    runtime="rldsl.modules.DecisionTransformer",
    summary="A GPT-2 decision transformer (torchrl's): each step's return-to-go, state and action embedded as three "
            "tokens, run through a causal transformer; returns the hidden state at each state token.",
    params=(*_sizes(), _config("config", "the transformer's configuration")),
    reads=_READS,
    writes="one tensor: the hidden states `[*B, T, n_embd]`",
    rule=_WINDOWS + "`f[*B, T, n_embd]`",
    omitted=(_DEVICE,),
    build=_build_dt,
    infer=_infer_decision_transformer,
)

_ACTOR_CONFIG = {"n_embd": 512, "n_inner": 2048}

def _actor_kind(name: str, summary: str, writes: str, rule: str, infer: object) -> Kind:
    """A decision-transformer actor: the transformer with the actors' wider default configuration,
    and its heads."""
    return Kind(
        name=name,
        family=Family.NETWORK,
        runtime=f"rldsl.modules.{name}",
        summary=summary,
        params=(*_sizes(), _config("transformer_config", "the transformer's configuration", **_ACTOR_CONFIG)),
        reads=_READS,
        writes=writes,
        rule=_WINDOWS + rule,
        omitted=(_DEVICE,),
        build=_build_dt,
        infer=infer,
    )


DT_ACTOR = _actor_kind(
    "DTActor",
    "A decision-transformer actor (torchrl's): a DecisionTransformer (512 wide, feed-forward 2048) and a linear "
    "head giving an unbounded action per step.",
    "one tensor: the action at every step",
    "`f[*B, T, action_dim]`, unbounded (squash it with a TanhModule, or a TanhDelta in a ProbabilisticActor)",
    _infer_dt_actor,
)

ONLINE_DT_ACTOR = _actor_kind(
    "OnlineDTActor",
    "An online decision-transformer actor (torchrl's): the transformer and two heads giving a Gaussian's mean and "
    "standard deviation per step.",
    "two tensors: the mean and the standard deviation at every step",
    "`mu: f[*B, T, action_dim]` and `std: f[*B, T, action_dim] in [e^-5, e^2]` (feed them to a TanhNormal)",
    _infer_online_dt_actor,
)

# ---------------------------------------------------------------------------------------------
# DecisionTransformerInferenceWrapper

_WINDOW_PARAMS = ("observation", "action", "return_to_go")
_KEY_PARAMS = (*_WINDOW_PARAMS, "out_action", "last_action")


def _build_wrapper(lo: LoweringContext, args: Args) -> object:
    """Sizes (E0606); the policy reads the windows and writes ``out_action`` (E0458); the last step
    goes to a key of its own (E0459). The policy runs first, then the wrapper keeps its last step."""
    check_positive(lo, args, "inference_context", "context_length")
    policy = args["policy"]
    if not isinstance(policy, ModuleNode) or not args.ok(*_KEY_PARAMS):
        return INVALID
    windows = [(name, args[name]) for name in _WINDOW_PARAMS]
    per_step, last = args["out_action"], args["last_action"]
    fits = _policy_reads_windows(lo, args, policy, windows) & _policy_writes(lo, args, policy, per_step)
    if not (_own_key(lo, args, policy, windows, last) and fits):
        return INVALID
    return node(lo, args, [Step.of(policy), Step((per_step,), (last,))], children=(policy,))


def _policy_words(policy: ModuleNode) -> str:
    return f"the policy `{policy.name}`" if policy.name is not None else "the policy"


def _policy_reads_windows(lo: LoweringContext, args: Args, policy: ModuleNode,
                          windows: list[tuple[str, KeyRef]]) -> bool:
    """E0458 for a window the policy does not read: the wrapper masks it for the policy, which
    would read the unmasked data elsewhere (the action being predicted included)."""
    read = {ref.path for ref in (*policy.reads, *policy.optional_reads)}
    fine = True
    for name, ref in windows:
        if ref.path in read:
            continue
        shown = ", ".join(f"`{r.dotted}`" for r in policy.reads) or "nothing"
        lo.report("E0458", f"the wrapper masks the {name.replace('_', '-')} window `{ref.dotted}`, but "
                           f"{_policy_words(policy)} does not read it (it reads {shown})", args.span_of(name),
                  label=f"`{ref.dotted}` is not read by the policy",
                  help=f"name the key the policy reads as its {name.replace('_', '-')} window: `{name}=...`")
        fine = False
    return fine


def _policy_writes(lo: LoweringContext, args: Args, policy: ModuleNode, per_step: KeyRef) -> bool:
    """E0458 unless the policy writes ``out_action`` (torchrl raises ValueError at the first call)."""
    if any(ref.path == per_step.path for ref in policy.writes):
        return True
    shown = ", ".join(f"`{r.dotted}`" for r in policy.writes) or "nothing"
    lo.report("E0458", f"`out_action` is `{per_step.dotted}`, but {_policy_words(policy)} does not write it "
                       f"(it writes {shown})", args.span_of("out_action"),
              label="not an output of the policy",
              help="name the key the policy writes its per-step actions to: `out_action=...`")
    return False


def _own_key(lo: LoweringContext, args: Args, policy: ModuleNode, windows: list[tuple[str, KeyRef]],
             last: KeyRef) -> bool:
    """E0459 when the last step's action would share a key with a window or an output of the policy:
    one key would hold ``[*B, A]`` and ``[*B, T, A]``."""
    taken = [(f"the {name.replace('_', '-')} window", ref) for name, ref in windows]
    taken += [(f"written by {_policy_words(policy)}", ref) for ref in policy.writes]
    clash = next(((what, ref) for what, ref in taken if ref.path == last.path), None)
    if clash is None:
        return True
    what, ref = clash
    lo.report("E0459", f"`last_action` is `{last.dotted}`, which is also {what}: the last step `[*B, A]` cannot "
                       "share a key with every step `[*B, T, ...]`", args.span_of("last_action"),
              label="a key with another spec", help="give the last step's action a key of its own, as "
                                                     "`last_action=action` with the windows at `action_cat` and "
                                                     "the per-step actions at `action_steps`")
    return False


def _infer_wrapper(ty: TypingContext, module: ModuleNode) -> None:
    for child in module.children:
        ty.module(child)
    args = module.args
    assert args is not None
    owner = args.kind.name
    refs = [args[name] for name in _WINDOW_PARAMS]
    specs = [ty.read(ref) for ref in refs]
    if T.is_unknown(*specs):
        return
    labels = [f"`{ref.dotted}`" for ref in refs]
    leads = [_window(ty, owner, spec, ref) for spec, ref in zip(specs, refs)]
    if any(lead is None for lead in leads) or not _same_steps(ty, owner, leads, specs, labels, args.name_span):
        return
    if not _context_length_fits(ty, args, leads[0][-1]):
        return
    per_step_ref = args["out_action"]
    per_step = ty.read(per_step_ref)
    if T.is_unknown(per_step):
        return
    last = _last_step(ty, args, per_step_ref, per_step, leads[0])
    if last is not None:
        target: SpecArg | None = args["spec"] if args.ok("spec") else None
        ty.write(module, args["last_action"], Typed(last, Origin.COPY, ty.by(module)), target=target,
                 remedy="bound the policy's per-step action: a TanhModule, or a ProbabilisticActor with a TanhDelta")


def _window(ty: TypingContext, owner: str, spec: T.Spec, ref: KeyRef) -> tuple | None:
    """A window ``[*B, T, features]`` (a tensor with a time dim): its ``[*B, T]``."""
    if isinstance(spec, T.Composite):
        ty.report("E0504", f"{owner} masks tensors, but `{ref.dotted}` is a composite", ref.span,
                  label="not a tensor", help="name a tensor key `[*B, T, features]`")
        return None
    return sequence_dims(ty, owner, spec, f"`{ref.dotted}`", ref.span)


def _context_length_fits(ty: TypingContext, args: Args, steps: T.Dim) -> bool:
    """E0606 when ``context_length`` would cut or pad windows declared with another length: the
    policy is typed for the declared one."""
    length = args["context_length"] if args.ok("context_length") else None
    if length is None or T.dim_value(length) is None or T.dim_value(steps) is None \
            or T.dims_equal(length, steps):
        return True
    ty.report("E0606", f"`context_length={length}` would cut or pad the windows to {length} steps, but they hold "
                       f"{steps}", args.span_of("context_length"), label=f"the windows hold {steps} steps",
              help=f"drop `context_length`, or make it the windows' time dim: `context_length={steps}`")
    return False


def _last_step(ty: TypingContext, args: Args, ref: KeyRef, spec: T.Spec, lead: tuple) -> T.Spec | None:
    """The spec of the last step of the per-step action ``[*B, T, A]``: ``[*B, A]``, bounds kept."""
    owner = args.kind.name
    if isinstance(spec, T.Composite) or len(spec.shape) < 2:
        dims = "a composite" if isinstance(spec, T.Composite) else T.spec_text(spec)
        ty.report("E0457", f"{owner} keeps the last step of the policy's actions `[*B, T, A]`, but `{ref.dotted}` is "
                           f"{dims}", args.span_of("out_action"), label="no time dim",
                  help="write the policy's action at every step of the window, as a DTActor does")
        return None
    if not T.shapes_equal(spec.shape[:-1], lead):
        ty.report("E0401", f"{owner} keeps the last step of `{ref.dotted}`, whose shape {T.shape_text(spec.shape)} "
                           f"does not start with the windows' steps {T.shape_text(lead)}", args.span_of("out_action"),
                  label=f"shape {T.shape_text(spec.shape)}",
                  help="the policy writes one action per step of the windows, `[*B, T, A]`")
        return None
    shape = (*spec.shape[:-2], spec.shape[-1])
    if isinstance(spec, T.Bounded):
        return T.Bounded(shape, spec.dtype, _last_bound(spec.low, spec.shape), _last_bound(spec.high, spec.shape))
    if isinstance(spec, T.Unbounded):
        return T.Unbounded(shape, spec.dtype)
    ty.report("E0504", f"{owner} keeps the last step of continuous actions, but `{ref.dotted}` is "
                       f"{T.spec_text(spec)}", args.span_of("out_action"), label="not a continuous action",
              help="a decision transformer predicts continuous actions `f32[T, A]`")
    return None


def _last_bound(bound: T.Bound, shape: tuple) -> T.Bound:
    """A bound of ``[..., T, A]`` (a number, or one per element, row-major) for its last step ``[..., A]``."""
    sizes = [T.dim_value(d) for d in shape]
    if not isinstance(bound, tuple) or len(bound) == 1 or None in sizes:
        return bound
    steps, width = sizes[-2], sizes[-1]
    block = steps * width
    return tuple(value for start in range(0, len(bound), block) for value in bound[start + block - width:start + block])


DT_INFERENCE_WRAPPER = Kind(
    name="DecisionTransformerInferenceWrapper",
    family=Family.MODULE,
    runtime="rldsl.modules.DecisionTransformerInferenceWrapper",
    summary="Makes a decision-transformer policy act: masks its windows to the last `inference_context` steps "
            "(the action window shifted, so the action being predicted is never seen), runs it, and writes the last "
            "step of its per-step action to `last_action`.",
    params=(
        Param("policy", A.MODULE, doc="reads the three windows, writes an action per step at `out_action`",
              positional=True),
        Param("observation", A.KEY, "observation", "the observation window `[*B, T, features]` (masked for the policy)",
              target="observation_key"),
        Param("action", A.KEY, "action", "the action window `[*B, T, A]` (masked and shifted for the policy)",
              target="action_key"),
        Param("return_to_go", A.KEY, "return_to_go", "the return-to-go window `[*B, T, 1]` (masked for the policy)",
              target="return_to_go_key"),
        Param("out_action", A.KEY, "action", "where the policy writes its action at every step, `[*B, T, A]`",
              target="out_action_key"),
        Param("last_action", A.KEY, doc="where the last step's action goes, `[*B, A]`: a key of its own",
              target="last_action_key"),
        Param("inference_context", A.INT, 5, "how many of the last steps the policy sees (older ones are zeros)"),
        Param("spec", A.SPEC, None, "the spec of `last_action`: `spec=action`"),
        Param("context_length", A.INT, None, "cut or left-pad the windows to this many steps (their time dim)"),
    ),
    reads="what the policy reads: the three windows",
    writes="what the policy writes, then `last_action`",
    rule="the windows are `f[*B, T, features]` with the same `[*B, T]`; the policy's `out_action` is `f[*B, T, A]` "
         "and `last_action` gets its last step, `f[*B, A]` (its bounds kept). The last step has a key of its own: "
         "torchrl's wrapper overwrites `out_action` and the return-to-go window with their last step, which would "
         "give those keys two specs",
    role="actor",
    omitted=(_DEVICE,),
    build=_build_wrapper,
    infer=_infer_wrapper,
)

KINDS = (DT_CONFIG, DECISION_TRANSFORMER, DT_ACTOR, ONLINE_DT_ACTOR, DT_INFERENCE_WRAPPER)
