"""Parity between each kind description and its runtime class's constructor.

Every parameter the language passes must be a constructor argument; every constructor argument
must be described, fed from keys (distribution parameters) or listed as omitted, with the reason;
defaults must agree. This test imports torch and the runtime classes; a kind whose runtime class
does not exist yet is skipped with the reason.
"""

from __future__ import annotations

import enum
import importlib
import inspect

import pytest

from rldsl.lang.kinds import KINDS, ArgType, Kind, Pass
from rldsl.lang.kinds._base import REQUIRED
from rldsl.lang.kinds.distributions import parameter_names

EMPTY = inspect.Parameter.empty
VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)


def runtime_class(kind: Kind) -> object:
    module_name, _, name = kind.runtime.rpartition(".")
    module = importlib.import_module(module_name)
    found = getattr(module, name, None)
    if found is None:
        pytest.skip(f"{kind.runtime} is not implemented yet (the module library is in progress)")
    return found


def signature(kind: Kind) -> inspect.Signature:
    try:
        return inspect.signature(runtime_class(kind))  # type: ignore[arg-type]
    except (TypeError, ValueError):
        pytest.skip(f"{kind.runtime} is a builtin without an inspectable signature")


def same_default(language: object, runtime: object) -> bool:
    if isinstance(runtime, type):
        return language == runtime.__name__
    if isinstance(runtime, enum.Enum):
        return language in (runtime.value, runtime.name)
    if isinstance(language, (int, float)) and not isinstance(language, bool) and isinstance(runtime, (int, float)):
        return float(language) == float(runtime)
    if isinstance(language, tuple) and isinstance(runtime, (list, tuple)):
        return tuple(runtime) == language
    return language == runtime and type(language) is type(runtime)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
def test_kind_matches_its_runtime_constructor(kind: Kind) -> None:
    parameters = signature(kind).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    described = {p.target for p in kind.params if p.target} | {name for name, _ in kind.omitted}
    if kind.dist is not None:
        described |= set(parameter_names(kind))
    for param in kind.params:
        if param.passed is Pass.DIST:
            described.add("distribution_kwargs")
            assert "distribution_class" in parameters or takes_any, param.name
        elif param.passed is Pass.VARARGS:
            assert any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in parameters.values())
        elif param.passed is Pass.ARG and param.target is not None:
            assert param.target in parameters or takes_any, f"{kind.name}: no constructor argument `{param.target}`"
    for name, parameter in parameters.items():
        if parameter.kind in VARIADIC:
            continue
        assert name in described, f"{kind.name}: constructor argument `{name}` is neither described nor omitted"
    for param in kind.params:
        if param.passed is not Pass.ARG or param.target not in parameters:
            continue
        runtime_default = parameters[param.target].default
        if param.default is REQUIRED or runtime_default is EMPTY:
            continue  # a stricter language, or an argument the compiler always passes
        if runtime_default is None and param.type in (ArgType.KEY, ArgType.KEYS):
            continue  # the runtime computes the same default keys from None
        assert same_default(param.default, runtime_default), (kind.name, param.name, param.default, runtime_default)
    for name, _ in kind.omitted:
        assert name in parameters or takes_any, f"{kind.name}: omitted `{name}` is not a constructor argument"
