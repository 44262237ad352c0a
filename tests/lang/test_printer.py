"""The canonical printer: every example and every generated program prints as text that parses
back to the same AST, formatting is idempotent, comments survive, and the layout is canonical."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rldsl.lang import ast as A
from rldsl.lang.parse import parse
from rldsl.lang.printer import WIDTH, format_source, to_source
from rldsl.lang.source import SourceFile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)
# Hypothesis warns about the size of the program strategy's repr; it is large by design.
LARGE_REPR = pytest.mark.filterwarnings("ignore:Generating overly large repr")


def clean_parse(text: str) -> A.Module:
    """Parse text that must have no errors."""
    module, diagnostics = parse(text, "t.rlm")
    assert not [d for d in diagnostics if d.is_error], (text, diagnostics)
    return module


def fmt(text: str) -> str:
    """The formatter's output for ``text``."""
    out, errors = format_source(SourceFile("t.rlm", text))
    assert out is not None, errors
    return out


def test_examples_are_found() -> None:
    assert len(EXAMPLES) >= 10 and any("multiagent" in p.parts for p in EXAMPLES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_round_trips(path: Path) -> None:
    text = path.read_text()
    module = clean_parse(text)
    assert clean_parse(to_source(module)) == module
    assert clean_parse(to_source(module, text)) == module
    assert to_source(clean_parse(to_source(module))) == to_source(module)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT / "examples")))
def test_example_formatting_is_idempotent_and_keeps_comments(path: Path) -> None:
    text = path.read_text()
    once = fmt(text)
    assert fmt(once) == once
    comments = [line[line.index("#"):].rstrip() for line in text.splitlines() if "#" in line]
    assert [line[line.index("#"):] for line in once.splitlines() if "#" in line] == comments


def test_canonical_layout() -> None:
    text = (
        "dim   n=3\nkey obs:f32[n,8]\nkey action_mask : bool[ n ]\n"
        "module m=MLP( out_features = 2,num_cells=[64,64] )>>Tanh() : obs->x,y\n"
    )
    assert to_source(clean_parse(text)) == (
        "dim n = 3\n"
        "\n"
        "key obs         : f32[n, 8]\n"
        "key action_mask : bool[n]\n"
        "\n"
        "module m = MLP(out_features=2, num_cells=[64, 64]) >> Tanh() : obs -> x, y\n"
    )


def test_every_spec_form_prints() -> None:
    text = (
        "key a : { x: onehot(4, dtype=i64, shape=[2, 4], mask=m), y: categorical(3) }[2]\n"
        "key b : binary(3, dtype=bool)\nkey c : multionehot([3, 2])\n"
        "key d : multicategorical([3, 2], shape=[2])\nkey e : pendulum.action\nkey f : {}\n"
        "key g : f64[] in [-inf, inf]\n"
    )
    module = clean_parse(text)
    printed = to_source(module)
    assert clean_parse(printed) == module
    assert "key a : { x: onehot(4, dtype=i64, shape=[2, 4], mask=m), y: categorical(3) }[2]" in printed
    assert "key g : f64[] in [-inf, inf]" in printed


def test_strings_numbers_and_parentheses() -> None:
    text = (
        "env e = gym('a\"b\\\\c\\n', seed=1_000, lr=1e-4, x=.5e3 , y=2.50)\n"
        "dim d = (1 + 2) * -(3 - x) - (4 - 5) // +a.b[-1]\n"
        "module m = F((a >> b), t=(1,), u=(), v=(a, b))\n"
    )
    module, _ = parse(text.replace(".5e3", "0.5e3"))
    written = to_source(module, text.replace(".5e3", "0.5e3"))
    assert 'gym("a\\"b\\\\c\\n", seed=1_000, lr=1e-4, x=0.5e3, y=2.50)' in written
    assert "dim d = (1 + 2) * -(3 - x) - (4 - 5) // +a.b[-1]" in written
    assert "F(a >> b, t=(1,), u=(), v=(a, b))" in written
    assert clean_parse(written) == module
    assert "seed=1000, lr=0.0001" in to_source(module)  # without the source: shortest exact form


def test_long_calls_wrap_under_the_opening_parenthesis() -> None:
    args = ", ".join(f"argument_{i}={i}" for i in range(20))
    module = clean_parse(f"module m = Outer(Inner({args}), other=[1, 2, 3]) >> Next() : a -> b")
    printed = to_source(module)
    lines = printed.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert lines[1].startswith(" " * len("module m = Outer(Inner(") + "argument_")
    assert lines[-2].lstrip().startswith(">> Next()") and lines[-1] == " " * len("module m ") + ": a -> b"
    assert clean_parse(printed) == module and to_source(clean_parse(printed)) == printed


def test_comments_reattach_to_declarations() -> None:
    text = (
        "# header\n\n\n\n"
        "key a : f32[1]   # trailing a\n"
        "# about b\n"
        "key bb : f32[2]\n"
        "module m = F(x=1,  # inside\n"
        "             y=2)  # after m\n"
        "\n\n# the end\n"
    )
    assert fmt(text) == (
        "# header\n"
        "\n"
        "key a  : f32[1]  # trailing a\n"
        "# about b\n"
        "key bb : f32[2]\n"
        "# inside\n"
        "module m = F(x=1, y=2)  # after m\n"
        "\n"
        "# the end\n"
    )
    assert fmt(fmt(text)) == fmt(text)


def test_hash_inside_strings_is_not_a_comment() -> None:
    text = 'env e = gym("a#b", name=\'#c\')  # real\n'
    assert fmt(text) == 'env e = gym("a#b", name="#c")  # real\n'


def test_empty_and_comment_only_files() -> None:
    assert fmt("") == "" and fmt("\n\n") == ""
    assert fmt("# only\n\n\n# comments") == "# only\n\n# comments\n"


def test_syntax_errors_prevent_formatting() -> None:
    out, errors = format_source(SourceFile("t.rlm", "key x : f32[\n"))
    assert out is None and errors and all(d.is_error for d in errors)
    module, _ = parse("key x : f32[\nkey y : f32[1]")
    with pytest.raises(ValueError):
        to_source(module)


# ---------------------------------------------------------------------------------------------
# Generated programs

NAMES = st.sampled_from(["a", "b", "obs", "action", "n_agents", "loc", "scale", "x1", "_h"])
REF = st.lists(NAMES, min_size=1, max_size=3).map(".".join)
NUMBER = st.one_of(
    st.integers(0, 10**6).map(str),
    st.sampled_from(["1_000", "0.5", "1e-4", "2.50", "3E+2", "inf"]),
    st.floats(0, 1e9, allow_nan=False, allow_infinity=False).map(repr),
)
STRING = st.text(st.sampled_from('ab #"\\\'\t-'), max_size=6).map(
    lambda s: '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t") + '"'
)
ATOM = st.one_of(NUMBER, STRING, REF, st.sampled_from(["true", "false", "none"]))
KWARG_NAME = st.sampled_from(["in", "out", "module", "key", "num_cells", "spec", "lr"])


def _compound(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    items = st.lists(inner, max_size=4)
    kwargs = st.lists(st.tuples(KWARG_NAME, inner), max_size=3, unique_by=lambda kv: kv[0])
    call = st.tuples(REF, items, kwargs).map(
        lambda t: t[0] + "(" + ", ".join(t[1] + [f"{k}={v}" for k, v in t[2]]) + ")"
    )
    return st.one_of(
        call,
        items.map(lambda xs: "[" + ", ".join(xs) + "]"),
        items.map(lambda xs: "(" + xs[0] + ",)" if len(xs) == 1 else "(" + ", ".join(xs) + ")"),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: " >> ".join(f"({x})" for x in xs)),
        st.tuples(inner, st.sampled_from(["+", "-", "*", "/", "//", "%"]), inner).map(
            lambda t: f"({t[0]}) {t[1]} ({t[2]})"
        ),
        st.tuples(st.sampled_from(["-", "+"]), inner).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(REF, inner).map(lambda t: f"{t[0]}[{t[1]}]"),
    )


EXPR = st.recursive(ATOM, _compound, max_leaves=12)
SHAPE = st.lists(st.one_of(NUMBER, REF, st.tuples(REF, NUMBER).map(lambda t: f"{t[0]} * {t[1]}")), max_size=3).map(
    lambda dims: "[" + ", ".join(dims) + "]"
)
DTYPE = st.sampled_from(["f32", "f64", "i64", "bool", "u8"])


def _options(mask: bool) -> st.SearchStrategy[str]:
    choices = [DTYPE.map(lambda d: f"dtype={d}"), SHAPE.map(lambda s: f"shape={s}")]
    if mask:
        choices.append(EXPR.map(lambda e: f"mask={e}"))
    return st.lists(st.one_of(choices), max_size=2, unique_by=lambda o: o.split("=")[0]).map(
        lambda opts: "".join(", " + o for o in opts)
    )


def _spec(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    field = st.tuples(NAMES, inner).map(lambda t: f"{t[0]}: {t[1]}")
    fields = st.lists(field, max_size=3, unique_by=lambda f: f.split(":")[0])
    return st.tuples(fields, st.one_of(st.just(""), SHAPE)).map(lambda t: "{" + ", ".join(t[0]) + "}" + t[1])


LEAF_SPEC = st.one_of(
    st.tuples(DTYPE, SHAPE).map("".join),
    st.tuples(DTYPE, SHAPE, EXPR, EXPR).map(lambda t: f"{t[0]}{t[1]} in [{t[2]}, {t[3]}]"),
    st.tuples(st.sampled_from(["onehot", "categorical", "multionehot", "multicategorical"]), EXPR, _options(True)).map(
        lambda t: f"{t[0]}({t[1]}{t[2]})"
    ),
    st.tuples(EXPR, _options(False)).map(lambda t: f"binary({t[0]}{t[1]})"),
    st.tuples(st.sampled_from(["pendulum", "other"]), st.sampled_from(["", ".action", ".observation"])).map("".join),
)
SPEC = st.recursive(LEAF_SPEC, _spec, max_leaves=5)
KEYS = st.lists(REF, min_size=1, max_size=3).map(", ".join)
DECL = st.one_of(
    st.tuples(NAMES, SPEC).map(lambda t: f"key {t[0]} : {t[1]}"),
    st.tuples(NAMES, st.one_of(st.just(""), EXPR.map(lambda e: " = " + e))).map(lambda t: f"dim {t[0]}{t[1]}"),
    st.tuples(NAMES, STRING, st.lists(st.tuples(KWARG_NAME, EXPR), max_size=3, unique_by=lambda kv: kv[0])).map(
        lambda t: f"env {t[0]} = gym({t[1]}" + "".join(f", {k}={v}" for k, v in t[2]) + ")"
    ),
    st.tuples(
        st.sampled_from(["module", "actor", "value", "explore"]),
        NAMES,
        EXPR,
        st.one_of(st.just(""), st.tuples(KEYS, KEYS).map(lambda t: f" : {t[0]} -> {t[1]}")),
    ).map(lambda t: f"{t[0]} {t[1]} = {t[2]}{t[3]}"),
    STRING.map(lambda s: f"include {s}"),
)
COMMENT = st.sampled_from(["", "  # note", "\n# above", "\n\n", "\n\n\n# spaced\n"])
PROGRAM = st.lists(st.tuples(DECL, COMMENT), max_size=6).map(
    lambda decls: "".join(f"{d}{c}\n" for d, c in decls)
)


@LARGE_REPR
@settings(max_examples=150)
@given(PROGRAM)
def test_generated_programs_round_trip(text: str) -> None:
    module = clean_parse(text)
    assert clean_parse(to_source(module)) == module
    once = fmt(text)
    assert clean_parse(once) == module
    assert fmt(once) == once
    assert once.count("#") == text.count("#")  # strings print the same `#`s, so comments all survive


@LARGE_REPR
@settings(max_examples=60)
@given(PROGRAM)
def test_generated_programs_round_trip_when_everything_wraps(text: str) -> None:
    from rldsl.lang import printer

    saved, printer.WIDTH = printer.WIDTH, 10  # every call, list and pipe wraps
    try:
        module = clean_parse(text)
        once = fmt(text)
        assert clean_parse(once) == module and fmt(once) == once
    finally:
        printer.WIDTH = saved


def test_doctests() -> None:
    import doctest

    from rldsl.lang import printer

    assert doctest.testmod(printer).failed == 0


def test_a_comment_after_two_declarations_on_one_line_stays_with_the_second() -> None:
    assert fmt("key a : f32[1] key bb : f32[2]  # about bb\n") == (
        "key a  : f32[1]\nkey bb : f32[2]  # about bb\n"
    )


def test_trailing_comments_of_consecutive_lines_are_aligned() -> None:
    text = (
        "key observation : f32[3]   # first\n"
        "key action : f32[1] in [-2.0, 2.0] # second\n"
        "key done : bool[1]\n"
        "key reward : f32[1]     # alone after a line without a comment\n"
        "\n"
        "module net = MLP(out_features=1) : observation -> v  # a module\n"
        "# a comment line ends the run\n"
        "dim n = 3  # after it\n"
    )
    assert fmt(text) == (
        "key observation : f32[3]                 # first\n"
        "key action      : f32[1] in [-2.0, 2.0]  # second\n"
        "key done        : bool[1]\n"
        "key reward      : f32[1]  # alone after a line without a comment\n"
        "\n"
        "module net = MLP(out_features=1) : observation -> v  # a module\n"
        "# a comment line ends the run\n"
        "dim n = 3  # after it\n"
    )
