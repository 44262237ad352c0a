"""Every construct of the language parses into the expected AST, with exact spans."""

from __future__ import annotations

import math

import pytest

from rldsl.lang import ast as A
from rldsl.lang.parse import parse
from rldsl.lang.source import Span

# Spans take no part in ==, so expected trees are written with this placeholder.
S = Span("<expected>", 1, 1, 1, 1, 0, 0)


def one(text: str) -> A.Decl:
    """The single declaration of ``text``, which must parse without diagnostics."""
    module, diagnostics = parse(text, "t.rlm")
    assert diagnostics == [], [d.message for d in diagnostics]
    assert len(module.body) == 1
    return module.body[0]


def expr(text: str) -> A.Expr:
    """An expression, parsed as the value of a dim."""
    decl = one(f"dim d = {text}")
    assert isinstance(decl, A.DimDecl)
    return decl.value


def spec(text: str) -> A.Spec:
    decl = one(f"key k : {text}")
    assert isinstance(decl, A.KeyDecl)
    return decl.spec


def ref(*path: str) -> A.Ref:
    return A.Ref(path, span=S)


def num(value: float) -> A.Number:
    return A.Number(value, span=S)


def name(value: str) -> A.Name:
    return A.Name(value, span=S)


def shape(*dims: A.Expr) -> A.Shape:
    return A.Shape(dims, span=S)


def dtype(value: str) -> A.Dtype:
    return A.Dtype(value, span=S)


def text_of(source: str, span: Span) -> str:
    return source[span.start : span.end]


# -- declarations ---------------------------------------------------------------------------


def test_empty_file_and_comments_only() -> None:
    for text in ("", "\n\n", "# only a comment\n   # and another"):
        module, diagnostics = parse(text, "t.rlm")
        assert module.body == () and diagnostics == []


def test_include() -> None:
    assert one('include "common.rlm"') == A.Include(A.String("common.rlm", span=S), span=S)


def test_dim_with_and_without_value() -> None:
    assert one("dim n_agents = 3") == A.DimDecl(name("n_agents"), num(3), span=S)
    assert one("dim batch") == A.DimDecl(name("batch"), None, span=S)


def test_env() -> None:
    assert one('env pendulum = gym("Pendulum-v1")') == A.EnvDecl(
        name("pendulum"), A.String("Pendulum-v1", span=S), (), span=S
    )
    decl = one("env cartpole = gym('CartPole-v1', categorical_action_encoding=true,)")
    assert decl.kwargs == (A.Keyword(name("categorical_action_encoding"), A.Bool(True, span=S), span=S),)


def test_key() -> None:
    assert one("key observation : f32[3]") == A.KeyDecl(
        name("observation"), A.UnboundedSpec(dtype("f32"), shape(num(3)), span=S), span=S
    )


@pytest.mark.parametrize("role", list(A.Role))
def test_module_roles(role: A.Role) -> None:
    decl = one(f"{role.value} m = Net()")
    assert decl == A.ModuleDecl(role, name("m"), A.Call(ref("Net"), (), (), span=S), None, span=S)


def test_module_with_key_flow() -> None:
    decl = one("module qnet = MLP(out_features=1) : observation, agents.action -> state_action_value")
    assert decl.io == A.KeyFlow(
        (ref("observation"), ref("agents", "action")), (ref("state_action_value"),), span=S
    )


def test_declarations_span_lines_freely() -> None:
    text = "module params = MLP(out_features=2)\n   >> NormalParamExtractor()\n : observation\n -> loc,\n scale"
    decl = one(text)
    assert isinstance(decl.body, A.Pipe) and len(decl.body.stages) == 2
    assert decl.io.outputs == (ref("loc"), ref("scale"))


def test_several_declarations_on_one_line() -> None:
    module, diagnostics = parse("key a : f32[1] key b : f32[2] dim n = 3", "t.rlm")
    assert diagnostics == []
    assert [type(d) for d in module.body] == [A.KeyDecl, A.KeyDecl, A.DimDecl]


def test_declaration_keywords_name_keyword_arguments() -> None:
    call = one("actor q = QValueActor(module=net, value=1, key=2, dim=-1)").body
    assert [k.name.value for k in call.kwargs] == ["module", "value", "key", "dim"]


def test_contextual_keywords_are_names_elsewhere() -> None:
    call = one("actor p = ProbabilisticActor(net, in=[loc], shape=s, dtype=d, mask=m, gym=g, onehot=o)").body
    assert [k.name.value for k in call.kwargs] == ["in", "shape", "dtype", "mask", "gym", "onehot"]
    assert one("key in : f32[1]").name.value == "in"
    assert expr("shape.low") == ref("shape", "low")


# -- specs ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name_", ["f16", "f32", "f64", "bf16", "i8", "i16", "i32", "i64", "u8", "bool"])
def test_every_dtype(name_: str) -> None:
    assert spec(f"{name_}[2]") == A.UnboundedSpec(dtype(name_), shape(num(2)), span=S)


def test_scalar_and_symbolic_shapes() -> None:
    assert spec("f32[]") == A.UnboundedSpec(dtype("f32"), shape(), span=S)
    assert spec("f32[n_agents, 2 * n, 8,]").shape == shape(
        ref("n_agents"), A.BinOp("*", num(2), ref("n"), span=S), num(8)
    )


def test_bounded_scalar_and_per_element() -> None:
    assert spec("f32[1] in [-2.0, 2.0]") == A.BoundedSpec(dtype("f32"), shape(num(1)), num(-2.0), num(2.0), span=S)
    per_element = spec("f32[2] in [[-1, 0], [1, 2]]")
    assert per_element.low == A.ListExpr((num(-1), num(0)), span=S)
    assert per_element.high == A.ListExpr((num(1), num(2)), span=S)
    bounds_from_spec = spec("f32[1] in [action.low, action.high]")
    assert (bounds_from_spec.low, bounds_from_spec.high) == (ref("action", "low"), ref("action", "high"))
    infinite = spec("f32[2] in [0.0, inf]")
    assert math.isinf(infinite.high.value)


def test_discrete_specs_with_options() -> None:
    assert spec("onehot(4)") == A.OneHotSpec(num(4), span=S)
    assert spec("onehot(4, dtype=i64, shape=[n_agents, 4], mask=[true, false, true, true],)") == A.OneHotSpec(
        num(4),
        dtype=dtype("i64"),
        shape=shape(ref("n_agents"), num(4)),
        mask=A.ListExpr(tuple(A.Bool(b, span=S) for b in (True, False, True, True)), span=S),
        span=S,
    )
    assert spec("categorical(6, shape=[2])") == A.CategoricalSpec(num(6), shape=shape(num(2)), span=S)
    assert spec("binary(8, dtype=i8)") == A.BinarySpec(num(8), dtype=dtype("i8"), span=S)
    nvec = A.ListExpr((num(3), num(2)), span=S)
    assert spec("multionehot([3, 2])") == A.MultiOneHotSpec(nvec, span=S)
    assert spec("multicategorical([3, 2], dtype=i32)") == A.MultiCategoricalSpec(nvec, dtype=dtype("i32"), span=S)


def test_composite_nested_with_batch_shape() -> None:
    got = spec("{ obs: f32[n_agents, 8], inner: { action: onehot(4) }, }[n_agents]")
    assert got == A.CompositeSpec(
        (
            A.Field(name("obs"), A.UnboundedSpec(dtype("f32"), shape(ref("n_agents"), num(8)), span=S), span=S),
            A.Field(
                name("inner"),
                A.CompositeSpec((A.Field(name("action"), A.OneHotSpec(num(4), span=S), span=S),), None, span=S),
                span=S,
            ),
        ),
        shape(ref("n_agents")),
        span=S,
    )
    assert spec("{}") == A.CompositeSpec((), None, span=S)


def test_spec_of_an_env_or_another_key() -> None:
    assert spec("pendulum.action") == A.SpecRef(ref("pendulum", "action"), span=S)
    assert spec("observation") == A.SpecRef(ref("observation"), span=S)


# -- expressions ------------------------------------------------------------------------------


def test_literals() -> None:
    assert expr("10_000") == num(10000) and isinstance(expr("10_000").value, int)
    assert expr("1e-4") == num(1e-4) and expr("2.5") == num(2.5)
    assert expr('"a\\"b\\n"') == A.String('a"b\n', span=S)
    assert expr("'single'") == A.String("single", span=S)
    assert expr("true") == A.Bool(True, span=S) and expr("false") == A.Bool(False, span=S)
    assert expr("none") == A.NoneLit(span=S)
    assert expr("-inf") == num(-math.inf)


def test_arithmetic_precedence_and_associativity() -> None:
    assert expr("1 + 2 * 3") == A.BinOp("+", num(1), A.BinOp("*", num(2), num(3), span=S), span=S)
    assert expr("8 - 4 - 2") == A.BinOp("-", A.BinOp("-", num(8), num(4), span=S), num(2), span=S)
    assert expr("(1 + 2) * 3") == A.BinOp("*", A.BinOp("+", num(1), num(2), span=S), num(3), span=S)
    assert expr("n // 2 % 3 / 4") == A.BinOp(
        "/", A.BinOp("%", A.BinOp("//", ref("n"), num(2), span=S), num(3), span=S), num(4), span=S
    )
    assert expr("-n") == A.UnaryOp("-", ref("n"), span=S)
    assert expr("+2") == A.UnaryOp("+", num(2), span=S)
    assert expr("-2") == num(-2)


def test_spec_attributes_and_indexing() -> None:
    assert expr("2 * action.shape[-1]") == A.BinOp(
        "*", num(2), A.Index(ref("action", "shape"), num(-1), span=S), span=S
    )
    assert expr("a.b[0][1]") == A.Index(A.Index(ref("a", "b"), num(0), span=S), num(1), span=S)
    assert expr("f(1)[0]") == A.Index(A.Call(ref("f"), (num(1),), (), span=S), num(0), span=S)


def test_calls_lists_tuples() -> None:
    call = expr("MLP(3, out_features=2, num_cells=[64, 64], act=nn.Tanh,)")
    assert call == A.Call(
        ref("MLP"),
        (num(3),),
        (
            A.Keyword(name("out_features"), num(2), span=S),
            A.Keyword(name("num_cells"), A.ListExpr((num(64), num(64)), span=S), span=S),
            A.Keyword(name("act"), ref("nn", "Tanh"), span=S),
        ),
        span=S,
    )
    assert call.kwarg("out_features") == num(2) and call.kwarg("missing") is None
    assert expr("[]") == A.ListExpr((), span=S)
    assert expr("()") == A.TupleExpr((), span=S)
    assert expr("(3,)") == A.TupleExpr((num(3),), span=S)
    assert expr("(3, 4)") == A.TupleExpr((num(3), num(4)), span=S)
    assert expr("(3)") == num(3)


def test_sequencing_is_flat_and_loosest() -> None:
    got = expr("A() >> B(x=1) >> n + 1")
    assert got == A.Pipe(
        (A.Call(ref("A"), (), (), span=S), A.Call(ref("B"), (), (A.Keyword(name("x"), num(1), span=S),), span=S),
         A.BinOp("+", ref("n"), num(1), span=S)),
        span=S,
    )  # fmt: skip


def test_structural_equality_ignores_layout() -> None:
    a, _ = parse("key a : f32[3]\nmodule m = MLP(out_features=2) : a -> b", "a.rlm")
    b, _ = parse("# layout differs\nkey   a:f32[ 3 ]\n\nmodule m=MLP(\n  out_features = 2,\n):a->b", "b.rlm")
    assert a == b
    assert a.body[0].span != b.body[0].span


def test_nodes_are_immutable() -> None:
    decl = one("dim n = 3")
    with pytest.raises(AttributeError):
        decl.name = name("m")  # type: ignore[misc]


# -- spans ------------------------------------------------------------------------------------

PENDULUM = """\
# Pendulum
env pendulum = gym("Pendulum-v1")
key action : f32[1] in [-2.0, 2.0]
module params = MLP(out_features=2 * action.shape[-1])
                >> NormalParamExtractor()
              : observation -> loc, scale
"""


def test_spans_cover_exactly_their_text() -> None:
    module, diagnostics = parse(PENDULUM, "p.rlm")
    assert diagnostics == []
    env, key, mod = module.body
    assert text_of(PENDULUM, env.span) == 'env pendulum = gym("Pendulum-v1")'
    assert text_of(PENDULUM, env.env_id.span) == '"Pendulum-v1"'
    assert text_of(PENDULUM, key.name.span) == "action"
    assert text_of(PENDULUM, key.spec.span) == "f32[1] in [-2.0, 2.0]"
    assert text_of(PENDULUM, key.spec.shape.span) == "[1]"
    assert text_of(PENDULUM, key.spec.low.span) == "-2.0"
    call = mod.body.stages[0]
    assert text_of(PENDULUM, call.span) == "MLP(out_features=2 * action.shape[-1])"
    keyword = call.kwargs[0]
    assert text_of(PENDULUM, keyword.span) == "out_features=2 * action.shape[-1]"
    assert text_of(PENDULUM, keyword.value.right.span) == "action.shape[-1]"
    assert text_of(PENDULUM, mod.io.span) == ": observation -> loc, scale"
    assert text_of(PENDULUM, mod.io.outputs[1].span) == "scale"


def test_span_lines_and_columns() -> None:
    module, _ = parse(PENDULUM, "p.rlm")
    mod = module.body[2]
    assert mod.span == Span("p.rlm", 4, 1, 6, 42, mod.span.start, mod.span.end)
    scale = mod.io.outputs[1]
    assert (scale.span.line, scale.span.column, scale.span.end_line, scale.span.end_column) == (6, 37, 6, 42)
    assert str(module.body[1].spec.span) == "p.rlm:3:14"
    assert module.span == Span("p.rlm", 1, 1, 7, 1, 0, len(PENDULUM))


def test_every_node_span_lies_within_its_parent() -> None:
    module, _ = parse(PENDULUM, "p.rlm")
    for node in A.walk(module):
        for child in A.children(node):
            assert node.span.contains(child.span), (node, child)
            assert child.span.file == "p.rlm"
