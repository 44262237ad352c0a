"""The examples in the docstrings of every module under rldsl/specs/ run and give what they show."""

import doctest
import importlib
import pkgutil

import pytest

import rldsl.specs

MODULES = ["rldsl.specs"] + sorted(
    f"rldsl.specs.{info.name}" for info in pkgutil.iter_modules(rldsl.specs.__path__)
)


def test_every_spec_module_is_found():
    assert {"rldsl.specs._base", "rldsl.specs.continuous", "rldsl.specs.discrete",
            "rldsl.specs.composite"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_module_doctests_pass(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, verbose=False)
    assert result.attempted > 0, f"{name} has no doctest examples"
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples in {name} failed (see output)"
