"""The examples in the front end's docstrings run as written."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["ast", "diagnostics", "includes", "parse", "grammar", "recovery", "syntax_errors", "render", "source", "envs",
           "__init__", "rldsl.files"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    path = name if name.startswith("rldsl.") else "rldsl.lang" if name == "__init__" else f"rldsl.lang.{name}"
    module = importlib.import_module(path)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
