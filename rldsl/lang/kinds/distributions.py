"""Distribution kinds: the values of ``dist=`` in probabilistic actors and modules.

A probabilistic module passes each key it reads to the distribution under the key's last name
(``in=[loc, scale]`` gives ``loc`` and ``scale``, as torchrl does); a distribution argument that
names a key (``MaskedCategorical(mask=action_mask)``) is read from the tensordict too. The
other arguments are constants (``TanhNormal(low=action.low, high=action.high)``).

The rule of a distribution gives the spec of its sample (bounded for ``TanhNormal``, one-hot for
``OneHotCategorical``, indices for ``Categorical``, ...) and of its log-probability.
"""

from __future__ import annotations

import math

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Dist, KeyRef, Network
from rldsl.lang.kinds._base import ArgType, DistInfo, Family, Kind, Meaning, Param
from rldsl.lang.kinds._contexts import LoweringContext, TypingContext
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID, suggest

A = ArgType

_LOW = Param("low", A.BOUND, -1.0, "the lower bound of the samples: a number or one per element")
_HIGH = Param("high", A.BOUND, 1.0, "the upper bound of the samples")
_UPSCALE = Param("upscale", A.FLOAT, 5.0, "scaling of `loc` when `tanh_loc` is set")
_TANH_LOC = Param("tanh_loc", A.BOOL, False, "squash `loc` with `upscale * tanh(loc / upscale)`")
#: A constant standard deviation instead of a key (torchrl's ``distribution_kwargs={"scale": 1.0}``).
_SCALE = Param("scale", A.FLOAT, None, "a constant scale, instead of one read from a key")


def _build(lo: LoweringContext, args: Args) -> Dist | object:
    """Distributions check their constant arguments here: bounds in order (INVALID otherwise)."""
    if "low" in args.values and args.ok("low", "high"):
        low, high = args["low"], args["high"]
        pairs = T.bound_pairs(low, high)
        if pairs is None:
            lo.report("E0702", f"`low` has {len(low)} values and `high` {len(high)}", args.span_of("high"),
                      label="one bound per element, the same number for both",
                      help="give both bounds per element, or one number each")
            return INVALID
        if any(lo_ >= hi for lo_, hi in pairs):
            lo.report("E0702", f"{args.kind.name} needs `low < high`, got low {T.bound_text(low)} and high "
                               f"{T.bound_text(high)}", args.span_of("high"), label="not above `low`",
                      help="swap the bounds, or pass the action's: `low=action.low, high=action.high`")
            return INVALID
        if args.kind.name in _SQUASHED and not all(math.isfinite(v) for pair in pairs for v in pair):
            name = "low" if not all(math.isfinite(low_) for low_, _ in pairs) else "high"
            lo.report("E0702", f"{args.kind.name} squashes with tanh into `[low, high]`, which must be finite; got "
                               f"{name} {T.bound_text(args[name])}", args.span_of(name), label="not a finite bound",
                      help="give finite bounds (an infinite one makes every sample NaN), or use TruncatedNormal")
            return INVALID
    if not _constants_valid(lo, args):
        return INVALID
    return Dist(args.kind, args, args.span)


#: Distributions that squash with tanh into `[low, high]` (finite bounds only).
_SQUASHED = ("TanhNormal", "TanhDelta")

#: Constant arguments the runtime classes hold to a range: (name, test, what it must be).
_RANGES = (
    ("upscale", lambda v: 0 < v < math.inf, "a positive finite number (it divides `loc`)"),
    ("scale", lambda v: v is None or 0 < v < math.inf, "a positive finite number (a standard deviation)"),
    ("atol", lambda v: 0 <= v, "at least 0"),
    ("rtol", lambda v: 0 <= v, "at least 0"),
    ("neg_inf", lambda v: v < 0, "negative, such as `-inf` or `-1e9` (the logit of forbidden actions)"),
    ("event_dims", lambda v: v is None or 0 <= v, "at least 0"),
    ("event_dim", lambda v: v is None or 0 <= v, "at least 0"),
)


def _constants_valid(lo: LoweringContext, args: Args) -> bool:
    """E0606 for a constant argument outside the range its runtime class accepts."""
    valid = True
    for name, test, what in _RANGES:
        if name not in args.values or not args.ok(name) or args[name] is None:
            continue
        value = args[name]
        number = T.dim_value(value) if isinstance(value, T.Sym) else value
        if number is not None and not test(number):
            lo.report("E0606", f"{args.kind.name}'s `{name}` must be {what.split(' (')[0]}, got "
                               f"{T.number_text(number)}", args.span_of(name), label="out of range",
                      help=f"give `{name}` a value that is {what}")
            valid = False
    return valid


def parameter_names(kind: Kind) -> list[str]:
    """Every parameter a distribution reads from keys."""
    info = kind.dist
    assert info is not None
    names = list(info.params) + [name for group in info.one_of for name in group]
    return names + (["mask"] if info.masked else [])


def infer(ty: TypingContext, dist: Dist, params: dict[str, tuple[T.Spec, KeyRef]], at: Span) -> tuple[T.Spec,
          T.Spec] | None:
    """The specs of a sample and of its log-probability, given the specs of the parameters read.

    Reports unknown or missing parameters (E0701), parameters of different shapes (E0401),
    non-float parameters or a non-bool mask (E0503) and bounds of the wrong size (E0702).
    """
    kind = dist.kind
    info = kind.dist
    assert info is not None
    names = parameter_names(kind)
    for name, (_, ref) in params.items():
        if name not in names:
            guess = suggest(name, names)
            ty.report("E0701", f"{kind.name} has no parameter `{name}`", ref.span,
                      label=f"passed to {kind.name} as `{name}`",
                      help=(f"the key's last name is the parameter's name: did you mean a key named `{guess}`?"
                            if guess else f"{kind.name} reads {kind.reads}"))
            return None
    constants = _constant_parameters(ty, dist, params)
    if constants is None:
        return None
    main = _main_parameters(ty, kind, params, at, constants)
    if main is None:
        return None
    specs = [params[name][0] for name in main]
    if T.is_unknown(*specs) or not _same_shapes(ty, kind, main, params):
        return None
    for name in main:
        spec, ref = params[name]
        if isinstance(spec, T.Composite) or not T.is_float_dtype(spec.dtype):
            ty.report("E0503", f"{kind.name}'s `{name}` must be a float tensor, but `{ref.dotted}` is "
                               f"{T.spec_text(spec)}", ref.span, label="not a float tensor",
                      help="feed the distribution the output of a network")
            return None
    if not all(_in_domain(ty, kind, name, *params[name]) for name in main):
        return None
    base = specs[0]
    if info.masked and not _mask_fits(ty, kind, params, base, at):
        return None
    return _sample(ty, dist, base, at)


#: Parameters whose values must lie in a domain, in every distribution that reads them: (low, high,
#: the domain in words, how to make a network's output land there). A value outside makes torch's
#: distributions raise, or give NaN log-probabilities.
_DOMAINS = {
    "scale": (0.0, math.inf, "positive",
              "end the network with `NormalParamExtractor()`, which maps the second half of its input to a "
              "positive scale, or with a positive activation: `>> Softplus()`"),
    "probs": (0.0, 1.0, "in [0, 1]",
              "read unconstrained `logits` instead (name the key `logits`), or end the network with `>> Sigmoid()`"),
}


def _in_domain(ty: TypingContext, kind: Kind, name: str, spec: T.Spec, ref: KeyRef) -> bool:
    """E0711 when the value given as parameter ``name`` is not known to lie in its domain (a scale
    from a linear layer, an unbounded key declared as probabilities), reported where the value is
    produced, with the mapping that would guarantee it. A spec the checker cannot tell about passes."""
    domain = _DOMAINS.get(name)
    source = ty.source(ref.path)
    if domain is None or source is None:
        return True
    produced, where, writer = source
    low, high, words, remedy = domain
    if T.is_unknown(produced) or isinstance(produced, T.Composite):
        return True
    bounds = T.bounds_of(produced) if isinstance(produced, T.Bounded) else ([-math.inf], [math.inf])
    if bounds is None:
        return True
    reaches_zero = name == "scale" and min(bounds[0]) == 0 and _ends_with_relu(ty.producer(ref.path))
    if min(bounds[0]) >= low and max(bounds[1]) <= high and not reaches_zero:
        return True
    if reaches_zero:
        words, remedy = "positive", ("ReLU gives exactly 0 for every negative input, and a zero scale is refused: use "
                                     "`>> Softplus()`, or `NormalParamExtractor()` (its scale is at least `scale_lb`)")
    if writer == "declared":
        what = "declared as"
        box = T.Bounded(produced.shape, produced.dtype, 1e-4 if name == "scale" else low, high)
        remedy = f"declare it as {T.spec_text(box)}, or compute it: {remedy}"
    else:
        what = f"written by {writer} as"
    ty.report("E0711", f"{kind.name}'s `{name}` must be {words}, but `{ref.dotted}` is {what} "
                       f"{T.spec_text(produced)}, which can be {'0' if reaches_zero else 'outside'}", where,
              label=f"not known to be {words}", labels=((ref.span, f"read as `{name}` by {kind.name}"),),
              help=remedy)
    return False


def _ends_with_relu(network: Network | None) -> bool:
    """Whether a network's output comes last out of a ReLU (a stage, or an MLP's activated last layer),
    whose range [0, inf] includes 0 itself, unlike Softplus or a sigmoid."""
    while network is not None and network.stages:
        network = network.stages[-1]
    if network is None or network.kind is None or network.args is None:
        return False
    if network.kind.name == "ReLU":
        return True
    values = network.args.values
    if "activate_last_layer" in values and values["activate_last_layer"].value is True:
        activation = values["activation_class"].value if "activation_class" in values else None
        return isinstance(activation, Kind) and activation.name == "ReLU"
    return False


def _names(names: list[str]) -> str:
    return ", ".join(f"`{n}`" for n in names)


def _constant_parameters(ty: TypingContext, dist: Dist, params: dict[str, tuple[T.Spec, KeyRef]]) -> set[str] | None:
    """The parameters given as constants (``IndependentNormal(scale=1.0)``, torchrl's
    ``distribution_kwargs``) rather than read from keys; E0701 for one given both ways."""
    info = dist.kind.dist
    assert info is not None
    constants = {name for name in info.params if name in dist.args.values and dist.args.given(name)}
    for name in sorted(constants & set(params)):
        ty.report("E0701", f"{dist.kind.name}'s `{name}` is given twice: as a constant and by the key "
                           f"`{params[name][1].dotted}`", dist.args.span_of(name), label="second one",
                  labels=((params[name][1].span, "read from this key"),),
                  help=f"keep one: the constant, or the key (drop `{name}=` from {dist.kind.name})")
        return None
    return constants


def _main_parameters(ty: TypingContext, kind: Kind, params: dict[str, tuple[T.Spec, KeyRef]],
                     at: Span, constants: set[str] = frozenset()) -> list[str] | None:
    """The float parameters read from keys (``loc`` and ``scale``, or one of ``logits``/``probs``);
    those given as constants are not read."""
    info = kind.dist
    assert info is not None
    chosen = [name for name in info.params if name in params]
    missing = [name for name in info.params if name not in params and name not in constants]
    for group in info.one_of:
        given = [name for name in group if name in params]
        if len(given) == 1:
            chosen.append(given[0])
        elif given:
            ty.report("E0701", f"{kind.name} takes one of {_names(list(group))}, not both", params[given[1]][1].span,
                      label="second one", help=f"read only `{given[0]}`")
            return None
        else:
            missing.append(" or ".join(f"`{n}`" for n in group))
    if missing:
        what = ", ".join(m if m.startswith("`") else f"`{m}`" for m in missing)
        ty.report("E0701", f"{kind.name} needs {what}, which the module does not read", at,
                  label=f"{kind.name} reads {kind.reads}",
                  help="read keys named after the parameters, as in `in=[loc, scale]`")
        return None
    return chosen


def _same_shapes(ty: TypingContext, kind: Kind, names: list[str], params: dict[str, tuple[T.Spec, KeyRef]]) -> bool:
    first, first_ref = params[names[0]]
    for name in names[1:]:
        spec, ref = params[name]
        if not T.shapes_equal(first.shape, spec.shape):
            ty.report("E0401", f"{kind.name}'s `{names[0]}` and `{name}` differ in shape: "
                               f"{T.shape_text(first.shape)} and {T.shape_text(spec.shape)}", ref.span,
                      label=f"`{ref.dotted}` is {T.spec_text(spec)}",
                      help="produce both parameters with one network, as in `MLP(...) >> NormalParamExtractor()`")
            return False
    return True


def _mask_fits(ty: TypingContext, kind: Kind, params: dict[str, tuple[T.Spec, KeyRef]], logits: T.Spec,
               at: Span) -> bool:
    if "mask" not in params:
        ty.report("E0701", f"{kind.name} needs a mask of the allowed actions", at, label="no mask",
                  help=f"name the mask key: `{kind.name}(mask=action_mask)`")
        return False
    spec, ref = params["mask"]
    if T.is_unknown(spec):
        return False
    if isinstance(spec, T.Composite) or spec.dtype != "bool" or not T.shapes_equal(spec.shape, logits.shape):
        # the cause is the mask's spec: shown at its declaration (or its writer), the use as a label
        source = ty.source(ref.path)
        at, labels = (source[1], ((ref.span, f"read as the mask of {kind.name}"),)) if source else (ref.span, ())
        ty.report("E0507", f"the mask `{ref.dotted}` must be bool{T.shape_text(logits.shape)} (one entry per logit), "
                           f"but it is {T.spec_text(spec)}", at, label="not a fitting mask", labels=labels,
                  help=f"declare `key {ref.dotted} : bool{T.shape_text(logits.shape)}`")
        return False
    return True


def _sample(ty: TypingContext, dist: Dist, base: T.Spec, at: Span) -> tuple[T.Spec, T.Spec] | None:
    """The sample and log-probability specs for parameters of spec ``base``."""
    kind, args = dist.kind, dist.args
    info = kind.dist
    assert info is not None
    shape, dtype = base.shape, base.dtype
    if info.sample in ("onehot", "index"):
        if not shape:
            ty.report("E0401", f"{kind.name} reads logits with a last dim of one entry per action, but they are "
                               "scalars", at, label="no action dim", help="give the logits a last dim, as in `f32[4]`")
            return None
        n = shape[-1]
        log_prob = T.Unbounded(shape[:-1], dtype)
        if info.sample == "onehot":
            return T.OneHot(n, shape, "i64"), log_prob
        return T.Categorical(n, shape[:-1], "i64"), log_prob
    if not _event_dims_fit(ty, args, shape):
        return None
    events = _event_dims(args, info, shape)
    log_prob = T.Unbounded(shape[: len(shape) - events], dtype)
    if info.sample == "bounded":
        if not args.ok("low", "high"):
            return None
        low, high = args["low"], args["high"]
        size = T.shape_size(shape)
        for name, bound in (("low", low), ("high", high)):
            if isinstance(bound, tuple) and size is not None and len(bound) != size:
                ty.report("E0702", f"`{name}` has {len(bound)} values but each sample has {size}", args.span_of(name),
                          label=f"samples are {T.shape_text(shape)}",
                          help="give one bound per element, or a single number")
                return None
        return T.Bounded(shape, dtype, low, high), log_prob
    return T.Unbounded(shape, dtype), log_prob


def _event_dims(args: Args, info: DistInfo, shape: tuple) -> int:
    """How many trailing dims the log-probability sums over."""
    for name in ("event_dims", "event_dim"):
        if name in args.values and args.ok(name) and args[name] is not None:
            return max(0, min(int(T.dim_value(args[name]) or 0), len(shape)))
    return min(info.event_dims, len(shape))


def _event_dims_fit(ty: TypingContext, args: Args, shape: tuple) -> bool:
    """E0606 when ``event_dims`` (``event_dim``) counts more dims than the parameters have (the
    batch dims are never part of an event)."""
    for name in ("event_dims", "event_dim"):
        value = args[name] if name in args.values and args.ok(name) else None
        count = T.dim_value(value) if value is not None else None
        if count is not None and count > len(shape):
            ty.report("E0606", f"`{name}={count}` but the parameters of {args.kind.name} have {len(shape)} dim"
                               f"{'s' if len(shape) != 1 else ''} ({T.shape_text(shape)})", args.span_of(name),
                      label="more event dims than the parameters have",
                      help=f"give `{name}` a value between 0 and {len(shape)}")
            return False
    return True


def _distribution(name: str, runtime: str, summary: str, info: DistInfo, params: tuple[Param, ...], rule: str,
                  omitted: tuple = ()) -> Kind:
    parts = [" and ".join(f"`{p}`" for p in info.params)] if info.params else []
    parts += [" or ".join(f"`{p}`" for p in group) for group in info.one_of]
    if info.masked:
        parts.append("`mask` (a key)")
    reads = " and ".join(parts)
    return Kind(name=name, family=Family.DISTRIBUTION, runtime=runtime, summary=summary, params=params,
                reads=reads, writes="a sample (and its log-probability)", rule=rule, omitted=omitted, dist=info,
                build=_build)


#: What ``default_interaction_type`` may ask of distributions without some statistic. None of them has a
#: median; TanhNormal has no closed-form mode (its mean is estimated from samples); the mean of a
#: categorical distribution is not an action (torch gives NaN).
_NO_MODE = ("deterministic", "mean", "random")
_NO_MEAN = ("deterministic", "mode", "random")

_MASK = Param("mask", A.KEY, None, "the key of the boolean mask of allowed actions (or read an in key named `mask`)",
              meaning=Meaning.MASK)
_SPARSE = (("indices", "sparse masks are not supported; use a dense `mask`"),
           ("padding_value", "used with sparse masks only"))

KINDS = (
    _distribution("TanhNormal", "rldsl.modules.TanhNormal",
                  "A normal distribution squashed into `[low, high]` by tanh.",
                  DistInfo(("loc", "scale"), sample="bounded", interactions=_NO_MODE),
                  (_UPSCALE, _LOW, _HIGH, Param("event_dims", A.INT, None, "trailing dims of one event (default 1)"),
                   _TANH_LOC, Param("safe_tanh", A.BOOL, True, "clamp tanh away from +-1 for finite log-probs"),
                   _SCALE),
                  "`loc`, `scale` of `f[*S]` give samples `f[*S] in [low, high]`; `low < high`; each bound a number "
                  "or one per element", omitted=()),
    _distribution("IndependentNormal", "rldsl.modules.IndependentNormal",
                  "A normal distribution whose last dim is one event.", DistInfo(("loc", "scale")),
                  (_UPSCALE, _TANH_LOC, Param("event_dim", A.INT, 1, "trailing dims of one event"), _SCALE),
                  "`loc`, `scale` of `f[*S]` give unbounded samples `f[*S]`",
                  omitted=(("kwargs", "passed to torch's Normal; none needed"),)),
    _distribution("TruncatedNormal", "rldsl.modules.TruncatedNormal",
                  "A normal distribution truncated to `[low, high]`.",
                  DistInfo(("loc", "scale"), sample="bounded"), (_UPSCALE, _LOW, _HIGH, _TANH_LOC, _SCALE),
                  "`loc`, `scale` of `f[*S]` give samples `f[*S] in [low, high]`"),
    _distribution("Delta", "rldsl.modules.Delta", "A point mass at `param`: a deterministic policy as a distribution.",
                  DistInfo(("param",)),
                  (Param("atol", A.FLOAT, 1e-6, "absolute tolerance of `log_prob`"),
                   Param("rtol", A.FLOAT, 1e-6, "relative tolerance of `log_prob`")),
                  "`param` of `f[*S]` gives unbounded samples `f[*S]`",
                  omitted=(("batch_shape", "from `param`"), ("event_shape", "from `param`"))),
    _distribution("TanhDelta", "rldsl.modules.TanhDelta",
                  "A point mass at `param` squashed into `[low, high]` by tanh.",
                  DistInfo(("param",), sample="bounded"),
                  (_LOW, _HIGH, Param("event_dims", A.INT, 1, "trailing dims of one event"),
                   Param("atol", A.FLOAT, 1e-6, "absolute tolerance"),
                   Param("rtol", A.FLOAT, 1e-6, "relative tolerance"),
                   Param("safe", A.BOOL, True, "clamp tanh away from +-1")),
                  "`param` of `f[*S]` gives samples `f[*S] in [low, high]`"),
    _distribution("Normal", "torch.distributions.Normal", "torch's normal distribution (each element its own event).",
                  DistInfo(("loc", "scale"), event_dims=0), (_SCALE,),
                  "`loc`, `scale` of `f[*S]` give unbounded samples `f[*S]`; the log-probability is per element",
                  omitted=(("validate_args", "argument checks are the checker's job"),)),
    _distribution("OneHotCategorical", "rldsl.modules.OneHotCategorical",
                  "A categorical distribution over one-hot rows.",
                  DistInfo(one_of=(("logits", "probs"),), sample="onehot", interactions=_NO_MEAN), (),
                  "`logits` (or `probs`) of `f[*B, n]` give `onehot(n, dtype=i64)` samples of shape `[*B, n]`",
                  omitted=(("grad_method", "the default pass-through gradient"), ("kwargs", "none needed"))),
    _distribution("Categorical", "torch.distributions.Categorical", "torch's categorical distribution over indices.",
                  DistInfo(one_of=(("logits", "probs"),), sample="index", event_dims=0, interactions=_NO_MEAN), (),
                  "`logits` (or `probs`) of `f[*B, n]` give `categorical(n)` samples of shape `[*B]`",
                  omitted=(("validate_args", "argument checks are the checker's job"),)),
    _distribution("MaskedCategorical", "rldsl.modules.MaskedCategorical",
                  "A categorical distribution over the allowed indices only.",
                  DistInfo(one_of=(("logits", "probs"),), sample="index", event_dims=0, masked=True,
                           interactions=_NO_MEAN),
                  (_MASK, Param("neg_inf", A.FLOAT, -math.inf, "the logit of forbidden actions"),
                   Param("use_cross_entropy", A.BOOL, True, "compute log-probabilities with cross-entropy")),
                  "`logits` of `f[*B, n]` and a mask `bool[*B, n]` give `categorical(n)` samples of shape `[*B]`",
                  omitted=(*_SPARSE, ("padding_side", "used with sparse masks only"))),
    _distribution("MaskedOneHotCategorical", "rldsl.modules.MaskedOneHotCategorical",
                  "A one-hot categorical distribution over the allowed actions only.",
                  DistInfo(one_of=(("logits", "probs"),), sample="onehot", masked=True, interactions=_NO_MEAN),
                  (_MASK, Param("neg_inf", A.FLOAT, -math.inf, "the logit of forbidden actions")),
                  "`logits` of `f[*B, n]` and a mask `bool[*B, n]` give `onehot(n, dtype=i64)` samples `[*B, n]`",
                  omitted=(*_SPARSE, ("grad_method", "the default pass-through gradient"))),
)

BY_NAME = {kind.name: kind for kind in KINDS}
DEFAULT = "Delta"  # SafeProbabilisticModule's default distribution_class
