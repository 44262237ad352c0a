"""rldsl: a typed modeling language for reinforcement-learning models.

Importing ``rldsl`` is cheap and never imports torch: the checker and the CLI start in a
fraction of a second. The runtime parts (``rldsl.specs``, ``rldsl.modules``) import torch
when they are imported themselves. ``rldsl.check``, ``rldsl.compile``, ``rldsl.load`` and
``rldsl.save`` (from :mod:`rldsl.api`), ``rldsl.to_source`` and ``rldsl.Model`` (the Python builder,
:mod:`rldsl.build`) are loaded on first use; ``rldsl.compile``, ``rldsl.load`` and ``rldsl.save``
import torch when called.
``rldsl.Report`` (:mod:`rldsl.lang.report`) is what every check returns.
``rldsl.RldslError`` (:mod:`rldsl.errors`) is the base of every exception class rldsl defines.
``rldsl.register_kind`` and ``rldsl.unregister_kind`` (:mod:`rldsl.registry`) make a class of
your own a kind that models can call by name.

>>> import rldsl
>>> rldsl.__version__
'0.1.0'
>>> rldsl.check("key observation : f32[3]").ok
True
"""

from __future__ import annotations

from typing import Any

from rldsl.errors import RldslError

__version__ = "0.1.0"

__all__ = ["Model", "Program", "Report", "RldslError", "__version__", "check", "compile", "load", "register_kind",
           "save", "to_source", "unregister_kind"]

_LAZY = {"check": "rldsl.api", "Report": "rldsl.lang.report", "compile": "rldsl.api", "load": "rldsl.api",
         "save": "rldsl.api",
         "to_source": "rldsl.api", "Program": "rldsl.compiler", "Model": "rldsl.build",
         "register_kind": "rldsl.registry", "unregister_kind": "rldsl.registry"}


def __getattr__(name: str) -> Any:
    """The names of :data:`_LAZY`, imported when first used (``Program`` imports torch)."""
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rldsl' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
