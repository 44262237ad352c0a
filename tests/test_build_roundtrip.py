"""Round trip of hypothesis-generated programs built in Python: ``to_source()`` prints text that
parses back to the built syntax tree, printing is a fixed point, and checking the built model
gives the same diagnostics and key types as checking its text (one checker for both)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rldsl
from rldsl.build import (
    MLP,
    Actor,
    EGreedyModule,
    Linear,
    Model,
    NormalParamExtractor,
    ProbabilisticActor,
    QValueModule,
    ReLU,
    SafeModule,
    Tanh,
    TanhNormal,
    ValueOperator,
    ref,
)
from rldsl.lang.kinds import KINDS, ArgType, Family, Kind, Param
from rldsl.lang.parse import parse
from rldsl.lang.printer import to_source

# Few names, so that generated programs refer to each other (and collide) often.
KEYS = ("observation", "action", "loc", "scale", "hidden", "agents.action", "state_value")
MODULES = ("net", "policy", "critic", "explore_policy")
DIMS = ("n", "m")
DTYPES = ("f32", "f64", "i64", "bool", "u8")

small = st.integers(min_value=-3, max_value=70)
positive = st.integers(min_value=1, max_value=9)


@st.composite
def sizes(draw: st.DrawFn) -> object:
    """A size: a number, a dim, a key's last dim, or arithmetic on those."""
    leaf = draw(st.sampled_from(["int", "dim", "shape"]))
    value: object = {"int": lambda: draw(small), "dim": lambda: ref(draw(st.sampled_from(DIMS))),
                     "shape": lambda: ref(draw(st.sampled_from(KEYS[:3]))).shape[draw(st.integers(-2, 1))]}[leaf]()
    for _ in range(draw(st.integers(0, 2))):
        op: Callable[[object, object], object] = draw(st.sampled_from([
            lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a // b,
            lambda a, b: a % b, lambda a, b: b - a, lambda a, b: -a if hasattr(a, "node") else a,
        ]))
        dims = st.builds(ref, st.sampled_from(DIMS))
        value = op(value, draw(dims if isinstance(value, int) else st.one_of(small, dims)))  # no int // 0
    return value


@st.composite
def spec_texts(draw: st.DrawFn) -> str:
    """A spec as `.rlm` text."""
    shape = ", ".join(draw(st.lists(st.sampled_from(["1", "3", "n", "2 * m"]), max_size=3)))
    kind = draw(st.sampled_from(["tensor", "bounded", "onehot", "categorical", "composite", "ref"]))
    dtype = draw(st.sampled_from(DTYPES))
    if kind == "tensor":
        return f"{dtype}[{shape}]"
    if kind == "bounded":
        low = draw(st.floats(-5, 0, allow_nan=False))
        return f"{dtype}[{shape}] in [{low!r}, {draw(st.sampled_from(['1.0', '2', 'inf']))}]"
    if kind in ("onehot", "categorical"):
        return f"{kind}({draw(positive)}, dtype={dtype})"
    if kind == "composite":
        return f"{{ x: f32[{shape}], y: onehot(4) }}[{draw(st.sampled_from(['', '2']))}]"
    return draw(st.sampled_from(["pendulum.action", "pendulum.observation", "observation"]))


@st.composite
def networks(draw: st.DrawFn, depth: int = 0) -> object:
    """A network: MLP, Linear, an activation, NormalParamExtractor, or a pipe of them."""
    choice = draw(st.sampled_from(["mlp", "linear", "act", "npe"] + (["pipe"] if depth < 2 else [])))
    if choice == "mlp":
        kwargs = {"out_features": draw(sizes())}
        if draw(st.booleans()):
            kwargs["num_cells"] = draw(st.lists(positive.map(lambda x: x * 8), max_size=3))
        if draw(st.booleans()):
            kwargs["activation_class"] = draw(st.sampled_from([Tanh, ReLU, "Tanh"]))
        return MLP(**kwargs)
    if choice == "linear":
        return Linear(draw(positive), draw(sizes()))
    if choice == "act":
        return draw(st.sampled_from([Tanh, ReLU]))()
    if choice == "npe":
        return NormalParamExtractor(scale_mapping=draw(st.sampled_from(["biased_softplus_1.0", "exp"])))
    first = draw(networks(depth + 1))
    return first >> draw(networks(depth + 1)) >> draw(networks(depth + 1)) if draw(st.booleans()) \
        else first >> draw(networks(depth + 1))


keys = st.sampled_from(KEYS)
key_lists = st.lists(keys, min_size=1, max_size=3)
floats = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
ACTIVATIONS = tuple(k.name for k in KINDS if k.family is Family.ACTIVATION)
DISTRIBUTIONS = tuple(k for k in KINDS if k.family is Family.DISTRIBUTION)
#: Values of the wrong type, so that generated calls reach the argument diagnostics too.
WRONG = st.sampled_from([1, -2, 0.5, "text", True, None, [1, 2], (), ref("action")])


def value_for(param: Param, depth: int) -> st.SearchStrategy[object]:
    """A value for a parameter, drawn by its type as the kind registry describes it."""
    if param.choices:
        return st.sampled_from(param.choices)
    by_type: dict[ArgType, Callable[[], st.SearchStrategy[object]]] = {
        ArgType.INT: lambda: small,
        ArgType.FLOAT: lambda: st.one_of(floats, small),
        ArgType.BOOL: st.booleans,
        ArgType.STR: lambda: st.sampled_from(["exp", "biased_softplus_1.0", "softplus", "x"]),
        ArgType.SIZE: lambda: st.one_of(positive, st.tuples(positive, positive), sizes()),
        ArgType.INTS: lambda: st.one_of(positive, st.lists(positive, max_size=3)),
        ArgType.NUMBERS: lambda: st.lists(floats, min_size=1, max_size=4),
        ArgType.BOUND: lambda: st.one_of(floats, st.lists(floats, min_size=1, max_size=3),
                                         st.sampled_from([ref("action").low, ref("action").high])),
        ArgType.KEY: lambda: keys,
        ArgType.KEYS: lambda: key_lists,
        ArgType.SPEC: lambda: keys,
        ArgType.NETWORK: lambda: networks(depth + 1),
        ArgType.MODULE: lambda: st.sampled_from(MODULES),
        ArgType.NET_OR_MODULE: lambda: st.one_of(st.sampled_from(MODULES), networks(depth + 1)),
        ArgType.DIST: lambda: st.one_of(st.sampled_from([k.name for k in DISTRIBUTIONS]),
                                        st.sampled_from(DISTRIBUTIONS).flatmap(lambda k: kind_calls(k, depth + 1))),
        ArgType.ACTIVATION: lambda: st.sampled_from(ACTIVATIONS),
        ArgType.KWARGS: lambda: inner_kwargs(param, depth),
    }
    return by_type[param.type]()


@st.composite
def inner_kwargs(draw: st.DrawFn, param: Param, depth: int) -> object:
    """A dict of an inner class's arguments: a few of its kind's parameters (any kind's for a
    dict whose class a sibling argument chooses), now and then one the owner sets itself."""
    from rldsl.lang.kinds import lookup

    inner = lookup(param.of) if param.of and not param.of.startswith("@") else draw(st.sampled_from(
        [k for k in KINDS if k.family is Family.NETWORK and k.name in ("MLP", "ConvNet", "Linear")]))
    def one() -> dict[str, object]:
        names = draw(st.lists(st.sampled_from([p.name for p in inner.params]), max_size=2, unique=True))
        return {name: draw(value_for(inner.param(name), depth + 1)) for name in names}

    if param.per_layer and draw(st.booleans()):  # one dict per layer
        return [one() for _ in range(draw(st.integers(1, 3)))]
    return one()


@st.composite
def kind_calls(draw: st.DrawFn, kind: Kind, depth: int = 0) -> object:
    """A call of ``kind`` with arguments drawn from its parameters' types: some positional, some
    by keyword, some left out, now and then one of the wrong type or one the kind does not have."""
    import rldsl.build

    positional, keywords = [], {}
    for param in kind.params:
        if not draw(st.booleans()) and not (param.required and draw(st.booleans())):
            continue
        value = draw(WRONG if draw(st.integers(0, 9)) == 0 else value_for(param, depth))
        if param.positional and len(positional) == kind.positional.index(param) and draw(st.booleans()):
            positional.append(value)
        else:
            keywords[param.name + "_" if param.name == "in" else param.name] = value
    if draw(st.integers(0, 19)) == 0:
        keywords["no_such_argument"] = 1
    return getattr(rldsl.build, kind.name)(*positional, **keywords)


@st.composite
def bodies(draw: st.DrawFn) -> object:
    """The body of a module declaration."""
    choice = draw(st.sampled_from(["net", "actor", "value", "prob", "qvalue", "egreedy", "safe", "any"]))
    if choice == "any":
        kind = draw(st.sampled_from([k for k in KINDS if k.family in (Family.MODULE, Family.NETWORK)]))
        return draw(kind_calls(kind))
    if choice == "net":
        return draw(networks())
    if choice == "actor":
        return Actor(draw(networks()), **({"spec": draw(keys)} if draw(st.booleans()) else {}))
    if choice == "value":
        return ValueOperator(draw(networks()), in_=draw(key_lists))
    if choice == "prob":
        action = ref("action")
        dist = TanhNormal(low=action.low, high=action.high) if draw(st.booleans()) else "TanhNormal"
        return ProbabilisticActor(draw(st.sampled_from(MODULES)), in_=["loc", "scale"], out=[draw(keys)],
                                  dist=dist, return_log_prob=draw(st.booleans()))
    if choice == "qvalue":
        return QValueModule(spec=draw(keys), action_value_key=draw(keys))
    if choice == "egreedy":
        return EGreedyModule(draw(st.sampled_from(MODULES)), spec=draw(keys),
                             eps_init=draw(st.floats(0, 1, allow_nan=False)), annealing_num_steps=draw(positive))
    return SafeModule(draw(networks()), in_=draw(key_lists), out=draw(key_lists), spec=draw(keys))


@st.composite
def models(draw: st.DrawFn) -> Model:
    """A model of a few declarations of every sort, made through the builder."""
    m = Model()
    if draw(st.booleans()):
        m.env("pendulum", "Pendulum-v1", **({"seed": draw(positive)} if draw(st.booleans()) else {}))
    for name in draw(st.lists(st.sampled_from(DIMS), max_size=2)):
        m.dim(name, draw(st.one_of(positive, st.none(), sizes())))
    for name in draw(st.lists(st.sampled_from([k for k in KEYS if "." not in k] + ["agents"]), max_size=4)):
        m.key(name, draw(spec_texts()))
    for name in draw(st.lists(st.sampled_from(MODULES), max_size=4)):
        role = draw(st.sampled_from([m.module, m.actor, m.value, m.explore]))
        body = draw(bodies())
        if draw(st.booleans()):
            role(name, body, reads=draw(key_lists), writes=draw(key_lists))
        else:
            role(name, body)
    return m


def outcome(report: object) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """What a check says, without the positions (they differ between Python and text)."""
    return sorted((d.code, d.message) for d in report.diagnostics), report.types


@given(models())
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
def test_built_programs_round_trip(model: Model) -> None:
    text = model.to_source()
    parsed, diagnostics = parse(text, "printed.rlm")
    assert not diagnostics, (text, diagnostics)
    assert parsed == model.ast, text
    assert to_source(parsed) == text
    assert outcome(model.check()) == outcome(rldsl.check(text, name="printed.rlm"))


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@settings(max_examples=8)
@given(data=st.data())
def test_every_kind_round_trips_with_arguments_from_its_description(kind: Kind, data: st.DataObject) -> None:
    model = Model()
    model.key("observation", "f32[3]")
    model.key("action", "f32[2] in [-1.0, 1.0]")
    call = data.draw(kind_calls(kind))
    body = call if kind.family in (Family.MODULE, Family.NETWORK) else MLP(out_features=2) >> call
    model.module("net", body) if data.draw(st.booleans()) else model.actor("net", body)
    text = model.to_source()
    parsed, diagnostics = parse(text, "printed.rlm")
    assert not diagnostics and parsed == model.ast, text
    assert outcome(model.check()) == outcome(rldsl.check(text, name="printed.rlm"))


def test_generated_programs_are_varied() -> None:
    """The strategy reaches both clean and erroneous programs (else the comparison above says little)."""
    seen: set[bool] = set()

    @given(models())
    def collect(model: Model) -> None:
        seen.add(model.check().ok)

    collect()
    assert seen == {True, False}
