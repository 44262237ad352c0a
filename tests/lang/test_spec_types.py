"""The spec type table: every entry agrees with the grammar, the parser, the resolver, the
printer, the compiler and the gymnasium converters that read it."""

from __future__ import annotations

import inspect

import attrs
import pytest

from rldsl.compiler.specs import from_spec, runtime_class, to_spec
from rldsl.lang import ast as A
from rldsl.lang import types as T
from rldsl.lang.check import check_declarations
from rldsl.lang.envs import _convert as static_from_space
from rldsl.lang.parse import build_lark, parse
from rldsl.lang.printer import to_source
from rldsl.lang.resolve import ATTRIBUTES
from rldsl.lang.spec_types import (
    CALL_TYPES,
    SPEC_TYPES,
    SPEC_TYPES_BY_NAME,
    SpecArg,
    SpecForm,
    SpecType,
    normalized_name,
    spec_type_of,
)
from rldsl.specs.gym import space_to_spec, spec_to_space

IDS = [spec_type.name for spec_type in SPEC_TYPES]
CALL_IDS = [spec_type.name for spec_type in CALL_TYPES]
OPTIONS = {"dtype": "dtype=i32", "shape": "shape=[2]", "mask": "mask=[true, true]"}


def declared_spec(text: str) -> T.Spec:
    """The static spec of ``key x : TEXT``, checked without diagnostics."""
    module, diagnostics = parse(f"key x : {text}\n", "t.rlm")
    assert diagnostics == [], [d.message for d in diagnostics]
    result = check_declarations(module.body)
    assert result.diagnostics == (), [d.message for d in result.diagnostics]
    (key,) = [k for k in result.keys if k.path == ("x",)]
    return key.spec


def small_spec(spec_type: SpecType) -> T.Spec:
    """A plain spec of the type: a call form without options, or a small tensor or composite."""
    if spec_type.form is SpecForm.CALL:
        size = 3 if spec_type.size.type is SpecArg.SIZE else (2, 3)
        return spec_type.make(size, spec_type.default_shape(size), spec_type.dtype)
    return declared_spec({"unbounded": "f32[3]", "bounded": "f32[3] in [-1.0, 1.0]",
                          "composite": "{ a: f32[1], b: onehot(2) }"}[spec_type.name])  # fmt: skip


def test_names_are_unique_and_lookups_agree() -> None:
    names = [t.name for t in SPEC_TYPES]
    words = [normalized_name(w) for t in SPEC_TYPES for w in (t.name, *t.aliases)]
    assert len(set(words)) == len(words) and SPEC_TYPES_BY_NAME == {t.name: t for t in SPEC_TYPES}
    assert [t.name for t in CALL_TYPES] == [n for n in names if SPEC_TYPES_BY_NAME[n].form is SpecForm.CALL]
    assert len({t.static for t in SPEC_TYPES}) == len(SPEC_TYPES)


@pytest.mark.parametrize("spec_type", SPEC_TYPES, ids=IDS)
def test_parameters_are_the_static_fields_and_the_runtime_arguments(spec_type: SpecType) -> None:
    fields = {field.name for field in attrs.fields(spec_type.static)}
    assert {p.name for p in spec_type.params} == fields
    if spec_type.form is not SpecForm.COMPOSITE:  # a composite's entries are its constructor's keywords
        accepted = inspect.signature(runtime_class(spec_type).__init__).parameters
        assert all(p.target in accepted for p in spec_type.params), spec_type.name
    assert (spec_type.param("mask") is not None) == (spec_type.mask_shape is not None)
    if spec_type.form is SpecForm.CALL:
        assert spec_type.size.required and spec_type.size.type in (SpecArg.SIZE, SpecArg.SIZES)
        assert spec_type.make is not None and spec_type.default_shape is not None
        assert spec_type.dtype == attrs.fields_dict(spec_type.static)["dtype"].default


@pytest.mark.parametrize("spec_type", CALL_TYPES, ids=CALL_IDS)
def test_each_call_form_has_its_grammar_rule_and_takes_exactly_its_options(spec_type: SpecType) -> None:
    rules = {rule.origin.name for rule in build_lark(cache=False).rules}
    assert f"{spec_type.name}_spec" in rules
    size = "2" if spec_type.size.type is SpecArg.SIZE else "[1, 1]"
    module, diagnostics = parse(f"key x : {spec_type.name}({size})", "t.rlm")
    spec = module.body[0].spec
    assert diagnostics == [] and isinstance(spec, A.CallSpec) and spec.kind == spec_type.name
    for option, text in OPTIONS.items():
        _, diagnostics = parse(f"key x : {spec_type.name}({size}, {text})", "t.rlm")
        syntax = [d for d in diagnostics if d.code.startswith("E01")]
        assert (syntax == []) == (spec_type.param(option) is not None), (option, diagnostics)


@pytest.mark.parametrize("spec_type", CALL_TYPES, ids=CALL_IDS)
def test_the_default_dtype_is_the_entry_s(spec_type: SpecType) -> None:
    size = "3" if spec_type.size.type is SpecArg.SIZE else "[2, 3]"
    spec = declared_spec(f"{spec_type.name}({size})")
    assert type(spec) is spec_type.static and spec.dtype == spec_type.dtype
    assert T.spec_text(spec) == f"{spec_type.name}({size})"  # the defaults are left out


@pytest.mark.parametrize("spec_type", SPEC_TYPES, ids=IDS)
def test_the_example_checks_prints_and_compiles(spec_type: SpecType) -> None:
    spec = declared_spec(spec_type.example)
    assert spec_type_of(spec) is spec_type
    # The formatter prints it back to the same declaration, and its static text means the same spec.
    module, _ = parse(f"key x : {spec_type.example}\n", "t.rlm")
    assert parse(to_source(module), "t.rlm")[0] == module
    assert declared_spec(T.spec_text(spec)) == spec
    # The compiler builds its runtime class, and reads it back.
    runtime = to_spec(spec)
    assert isinstance(runtime, runtime_class(spec_type))
    assert from_spec(runtime) == spec
    assert T.class_name(spec).split()[0] == spec_type.name


@pytest.mark.parametrize("spec_type", SPEC_TYPES, ids=IDS)
def test_other_names_answer_with_the_spec_type(spec_type: SpecType) -> None:
    words = [*spec_type.aliases] + ([] if spec_type.form is SpecForm.CALL else [spec_type.name])
    for word in words:
        _, diagnostics = parse(f"key x : {word}(3)", "t.rlm")
        (d,) = diagnostics
        assert d.code == "E0502"
        if spec_type.form is SpecForm.CALL:
            assert d.help == f"did you mean `{spec_type.name}`?" and d.suggestion.replacement == spec_type.name
        else:
            assert d.help.endswith(f" is written {spec_type.written}") and d.suggestion is None


def test_an_unknown_spec_type_lists_the_call_forms() -> None:
    _, (d,) = parse("key x : zzz(3)", "t.rlm")
    assert d.help == "spec types are " + ", ".join(f"`{t.name}(...)`" for t in CALL_TYPES)
    _, (d,) = parse("key a :", "t.rlm")
    assert d.message == "unexpected end of file: expected a spec"


@pytest.mark.parametrize("spec_type", SPEC_TYPES, ids=IDS)
def test_sizes_and_bounds_are_attributes_of_their_spec_types(spec_type: SpecType) -> None:
    for param in spec_type.params:
        if param.type in (SpecArg.SIZE, SpecArg.SIZES, SpecArg.BOUND):
            assert spec_type.static in ATTRIBUTES[param.name]
    if spec_type.form is SpecForm.CALL and spec_type.size.type is SpecArg.SIZE:
        module, _ = parse(f"key x : {spec_type.example}\nkey y : f32[x.{spec_type.size.name}]\n", "t.rlm")
        result = check_declarations(module.body)
        assert result.diagnostics == () and dict((k.path, k.spec) for k in result.keys)[("y",)].shape[0] > 0


@pytest.mark.parametrize("spec_type", [t for t in SPEC_TYPES if t.gym], ids=[t.name for t in SPEC_TYPES if t.gym])
def test_gymnasium_spaces_map_to_and_from_the_spec_type(spec_type: SpecType) -> None:
    spec = small_spec(spec_type)
    space = spec_to_space(to_spec(spec))
    assert type(space).__name__ == spec_type.gym
    # One of the two encodings of gymnasium's spaces gives the spec type back, at run time and
    # statically (rldsl.specs.gym and rldsl.lang.envs agree).
    found = []
    for categorical in (False, True):
        runtime = space_to_spec(space, categorical_action_encoding=categorical)
        static = static_from_space(space, categorical)
        assert from_spec(runtime) == static
        found.append(spec_type_of(static))
    assert spec_type in found


def test_a_composite_has_no_dtype_of_its_own() -> None:
    module, _ = parse("key x : { a: f32[1] }\ndim d = x.dtype\n", "t.rlm")
    (d,) = check_declarations(module.body).diagnostics
    assert d.code == "E0206" and d.message == "a composite spec has no `dtype`" and "entry" in d.help


def test_a_mask_on_a_spec_type_without_one_is_refused() -> None:
    # The grammar gives `binary` no `mask=`; a tree built without the parser is checked all the same.
    module, _ = parse("key x : binary(2)\n", "t.rlm")
    decl = module.body[0]
    mask = A.ListExpr((A.Bool(True, span=decl.span), A.Bool(True, span=decl.span)), span=decl.span)
    masked = attrs.evolve(decl, spec=attrs.evolve(decl.spec, mask=mask))
    (d,) = check_declarations([masked]).diagnostics
    assert d.code == "E0507" and d.message == "a binary spec takes no mask"
