"""The seam between kinds and passes: what lowering and typing offer a kind is typed by the
protocols of :mod:`rldsl.lang.kinds._contexts`, the passes provide every member with the same
parameters, and every kind's ``build``/``infer`` takes those protocols (not ``Any``)."""

from __future__ import annotations

import inspect
import typing

import pytest

from rldsl.lang.kinds import KINDS
from rldsl.lang.kinds import _contexts as contexts
from rldsl.lang.infer import Typing
from rldsl.lang.lower import Lowering

PAIRS = [(contexts.LoweringContext, Lowering), (contexts.TypingContext, Typing)]


def _members(protocol: type) -> dict[str, object]:
    names: dict[str, object] = {}
    for klass in reversed(protocol.__mro__):
        if klass is object or klass is typing.Protocol or klass is typing.Generic:
            continue
        names.update({name: value for name, value in vars(klass).items()
                      if not name.startswith("_") and callable(value)})
    return names


@pytest.mark.parametrize("protocol, implementation", PAIRS, ids=lambda v: v.__name__)
def test_the_pass_offers_every_method_with_the_same_parameters(protocol, implementation):
    for name, method in _members(protocol).items():
        if name == "report":  # bound from the Reporter in __init__
            continue
        offered = getattr(implementation, name, None)
        assert offered is not None, f"{implementation.__name__} lacks `{name}` of {protocol.__name__}"
        wanted = list(inspect.signature(method).parameters)
        assert list(inspect.signature(offered).parameters) == wanted, name


def test_report_has_the_reporters_parameters():
    from rldsl.lang.values import Reporter

    wanted = list(inspect.signature(contexts.Reports.report).parameters)
    assert list(inspect.signature(Reporter.report).parameters) == wanted


def test_typing_declares_the_compile_dtype():
    assert "float_dtype" in typing.get_type_hints(contexts.TypingContext)


def _first_parameter_type(function: object) -> str:
    first = next(iter(inspect.signature(function).parameters.values()))
    return str(first.annotation)


@pytest.mark.parametrize("kind", [k for k in KINDS if k.build or k.infer], ids=lambda k: k.name)
def test_every_rule_takes_a_typed_context(kind):
    if kind.build is not None:
        assert _first_parameter_type(kind.build) == "LoweringContext", kind.build
    if kind.infer is not None:
        assert _first_parameter_type(kind.infer) == "TypingContext", kind.infer
