"""The examples in the checker's docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["rldsl.lang.types", "rldsl.lang.dims", "rldsl.lang.spec_types", "rldsl.lang.values", "rldsl.lang.envs",
           "rldsl.lang.ir", "rldsl.lang.resolve", "rldsl.lang.graphs", "rldsl.lang.codes", "rldsl.lang.kinds",
           "rldsl.lang.bind", "rldsl.lang.lower", "rldsl.lang.infer", "rldsl.lang.keyflow", "rldsl.lang.check",
           "rldsl.api", "rldsl.cli", "rldsl"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
