"""The compiler: a checked model to ``nn.Module`` s built from :mod:`rldsl.modules`.

Importing this package imports torch; :func:`rldsl.compile` imports it on first use, so that
``import rldsl`` and ``rldsl check`` stay torch-free.
"""

from rldsl.compiler.guard import InputMismatch
from rldsl.compiler.program import CompileError, Program, compile_report, resolve_device

__all__ = ["CompileError", "InputMismatch", "Program", "compile_report", "resolve_device"]
