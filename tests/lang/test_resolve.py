"""Name resolution: duplicates, undefined names, cycles, dims, key specs, attributes, envs."""

from __future__ import annotations

from rldsl.lang.check import check_text
from rldsl.lang.parse import parse
from rldsl.lang.resolve import Scope, strongly_connected
from rldsl.lang.types import Sym, spec_text
from rldsl.lang.values import Reporter


def resolved(text: str) -> tuple[Scope, list]:
    module, diagnostics = parse(text, "r.rlm")
    assert diagnostics == []
    reporter = Reporter()
    scope = Scope(list(module.body), reporter)
    scope.resolve()
    return scope, reporter.diagnostics


def spec(text: str, name: str = "k") -> str:
    scope, diagnostics = resolved(text)
    assert diagnostics == [], [d.message for d in diagnostics]
    return spec_text(scope.declared[tuple(name.split("."))].spec)


def test_tarjan_orders_dependencies_first_without_recursion() -> None:
    chain = {f"n{i}": [f"n{i - 1}"] for i in range(1, 5000)}
    order = strongly_connected([f"n{i}" for i in range(5000)][::-1], chain)
    assert [c[0] for c in order[:3]] == ["n0", "n1", "n2"]
    assert strongly_connected(["a"], {"a": ["a"]}) == [["a"]]


def test_dims_and_arithmetic() -> None:
    scope, _ = resolved("dim n = 3\ndim m = 2 * n + 1\ndim free")
    assert scope.dims["m"] == Sym("m", 7) and scope.dims["free"] == Sym("free", None)
    assert spec("dim n = 3\nkey k : f32[n, n // 2, n % 2 + 1]") == "f32[n, n // 2, (n % 2) + 1]"
    scope, _ = resolved("dim n = 3\nkey k : f32[n, n // 2, n % 2 + 1]")
    assert [d.value for d in scope.declared[("k",)].spec.shape] == [3, 1, 2]


def test_spec_attributes_and_references() -> None:
    text = "key action : f32[2] in [[-1.0, 0.0], [1.0, 2.0]]\n"
    assert spec(text + "key k : f32[action.shape[-1]] in [action.low, action.high]") == \
        "f32[2] in [[-1.0, 0.0], [1.0, 2.0]]"
    assert spec("key c : onehot(5)\nkey k : f32[c.n, c.ndim]") == "f32[5, 1]"
    assert spec("key agents : { obs: f32[3, 4] }[3]\nkey k : agents.obs") == "f32[3, 4]"
    assert spec("key agents : { obs: f32[3, 4] }[3]\nkey k : f32[agents.obs.shape[1]]") == "f32[4]"


def test_nested_declared_keys() -> None:
    scope, _ = resolved("key agents : { a: { b: f32[1] }, c: onehot(2) }")
    assert set(scope.declared) == {("agents",), ("agents", "a"), ("agents", "a", "b"), ("agents", "c")}


def test_undefined_names_suggest_the_closest() -> None:
    _, diagnostics = resolved("key observation : f32[3]\nkey k : f32[observaton.shape[0]]")
    (d,) = diagnostics
    assert (d.code, d.help) == ("E0201", "did you mean `observation`?")
    assert (d.span.column, d.span.end_column) == (13, 23)


def test_duplicates_point_at_the_first_declaration() -> None:
    _, diagnostics = resolved("key x : f32[1]\nmodule x = MLP(out_features=1)")
    (d,) = diagnostics
    assert d.code == "E0202" and d.labels[0].message == "first declared here as a key"


def test_cycles_are_reported_once_with_their_path() -> None:
    _, diagnostics = resolved("key a : b\nkey b : c\nkey c : a\nkey d : f32[e]\ndim e = e")
    assert [(d.code, d.span.line) for d in diagnostics] == [("E0203", 1), ("E0203", 5)]
    assert diagnostics[0].message == "`a` depends on itself: `a` -> `b` -> `c` -> `a`"


def test_attributes_that_do_not_exist() -> None:
    _, diagnostics = resolved("key a : f32[2]\nkey k : f32[a.n]\nkey j : f32[a.lenght]")
    assert [d.code for d in diagnostics] == ["E0206", "E0206"]
    assert diagnostics[0].message == "an unbounded f32 spec has no `n`"
    assert diagnostics[1].message == "`a` has no attribute `lenght`"


def test_invalid_specs() -> None:
    for text in ("key k : f32[2] in [[0.0, 1.0, 2.0], 3.0]", "key k : onehot(3, shape=[2])",
                 "key k : multicategorical([2, 3], shape=[3])", "key k : binary(2, dtype=f32)",
                 "key k : bool[2] in [0, 1]", "key k : { a: f32[2] }[3]"):
        _, diagnostics = resolved(text)
        assert [d.code for d in diagnostics] == ["E0506"], text
    _, diagnostics = resolved("key k : onehot(2, mask=[false, false])")
    assert [d.code for d in diagnostics] == ["E0507"]
    _, diagnostics = resolved("key k : categorical(2, mask=[1, 0])")
    assert [d.code for d in diagnostics] == ["E0507"]


def test_wrong_sorts_of_names() -> None:
    _, diagnostics = resolved("dim n = 2\nmodule m = MLP(out_features=1)\nkey k : n\nkey j : f32[m]")
    assert [d.code for d in diagnostics] == ["E0205", "E0205"]


def test_bad_dimensions() -> None:
    for value in ("0", "-1", "2.5", "true", '"3"', "[1]"):
        _, diagnostics = resolved(f"key k : f32[{value}]")
        assert [d.code for d in diagnostics] == ["E0408"], value
    _, diagnostics = resolved("dim n = 4 // 0")
    assert [d.code for d in diagnostics] == ["E0606"]


def test_env_keys_and_their_declarations() -> None:
    scope, diagnostics = resolved('env cart = gym("CartPole-v1")\nkey action : cart.action')
    assert diagnostics == []
    assert spec_text(scope.declared[("action",)].spec) == "onehot(2)"
    assert scope.declared[("reward",)].source == "cart"
    assert spec('env cart = gym("CartPole-v1", categorical_action_encoding=true)\nkey k : cart.action') == \
        "categorical(2)"


def test_env_options_and_errors() -> None:
    for text, code in (('env e = gym("CartPole-v1", render_mode="human")', "E0602"),
                       ('env e = gym("CartPole-v1", categorical_action_encoding=1)', "E0604"),
                       ('env e = gym("CartPole-v1", max_episode_steps=n)', "E0604"),
                       ('env e = gym("CartPole-v1", wind=3)', "E0508"),
                       ('env e = gym("CartPol-v1")', "E0508")):
        _, diagnostics = resolved(text)
        assert [d.code for d in diagnostics] == [code], text
    _, diagnostics = resolved('env e = gym("CartPol-v1")')
    assert "CartPole-v1" in diagnostics[0].help


def test_env_entries() -> None:
    _, diagnostics = resolved('env cart = gym("CartPole-v1")\nkey k : cart.obsrvation')
    assert [(d.code, d.help) for d in diagnostics] == [("E0206", "did you mean `observation`?")]


def test_declarations_restating_env_keys() -> None:
    result = check_text('env cart = gym("CartPole-v1")\nkey action : categorical(2)\nkey observation : f32[4]')
    assert [d.code for d in result.diagnostics] == ["E0505"]
    result = check_text('env pend = gym("Pendulum-v1")\nkey action : f32[1] in [-1.0, 1.0]')
    assert [d.code for d in result.diagnostics] == ["W0503"]
