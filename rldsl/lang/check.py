"""The checker: from parsed declarations to diagnostics and the spec of every key.

The passes, each reporting what it finds and going on:

1. :mod:`~rldsl.lang.resolve` — names (undefined, duplicate, cycles), envs, dims, key specs;
2. :mod:`~rldsl.lang.lower` — module declarations to IR nodes, arguments checked by kind;
3. :mod:`~rldsl.lang.keyflow` — every key read exists, the order to type modules in;
4. :mod:`~rldsl.lang.infer` — shapes, dtypes and specs through every module.

A file with syntax errors (or an include that cannot be read) is not checked further: its
declarations are incomplete, and what the checker would say about them would be guesses. Every
other problem is reported, sorted by position; a value that could not be worked out is left out
of later checks, so one mistake gives one diagnostic.

>>> result = check_text("key observation : f32[3]\\nvalue v = ValueOperator(MLP(out_features=1))\\n", "a.rlm")
>>> result.ok, [(k.dotted, spec_text(k.spec)) for k in result.keys]
(True, [('observation', 'f32[3]'), ('state_value', 'f32[1]')])
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import attrs

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, has_errors, sort_diagnostics
from rldsl.lang.infer import Typing
from rldsl.lang.ir import ModuleNode
from rldsl.lang.keyflow import key_flow, overwritten_inputs, unread_outputs
from rldsl.lang.lower import Lowering
from rldsl.lang.pysite import python_source
from rldsl.lang.report import KeyInfo, Reason, Report
from rldsl.lang.resolve import Scope
from rldsl.lang.source import SourceFile
from rldsl.lang.types import spec_text
from rldsl.lang.values import INVALID, Reporter

if TYPE_CHECKING:
    from rldsl.lang.includes import Program

__all__ = ["COMPILE_DTYPES", "CheckResult", "KeyInfo", "Report", "check_declarations", "check_dtype", "check_program",
           "check_text", "spec_text"]

#: The float dtypes a model can be checked (and compiled) for: its networks' weights have it.
COMPILE_DTYPES = ("f32", "f64")

#: The older name of :class:`~rldsl.lang.report.Report` (what checking returned before there was one
#: report type); kept so that code naming it keeps working.
CheckResult = Report


def check_dtype(dtype: object) -> str:
    """``dtype`` when it is a compile dtype (``"f32"``, ``"f64"``); raises ``ValueError`` otherwise."""
    if dtype not in COMPILE_DTYPES:
        raise ValueError(f"`{dtype}` is not a compile dtype: use `f32` or `f64`")
    return dtype


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Checking allocates many small objects and no reference cycles worth collecting; pausing the
    cyclic garbage collector meanwhile keeps the cost of a large model linear in its size."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def check_declarations(declarations: Sequence[ast.Decl], *, dtype: str = "f32") -> Report:
    """Check the declarations of a model (includes already followed) for compiling in ``dtype``
    (``"f32"`` or ``"f64"``: the dtype of the networks' weights, which their inputs must have).
    The report has no sources: :func:`check_program` adds those of the files it read."""
    with _gc_paused():
        return _check(declarations, dtype)


def _check(declarations: Sequence[ast.Decl], dtype: str = "f32") -> Report:
    reporter = Reporter()
    scope = Scope(list(declarations), reporter)
    scope.resolve()
    lowering = Lowering(scope, reporter)
    lowered = lowering.run()
    # In declaration order (not lowering order): messages name the first declared module first.
    modules = {name: lowered[name] for name in scope.decls if isinstance(lowered.get(name), ModuleNode)}
    flow = key_flow(scope, modules, lowering.uses, reporter)
    typing = Typing(scope, reporter, set(flow.available), float_dtype=dtype)
    for name in flow.order:
        typing.declaration(name, modules[name])
    typing.conflicts()
    typing.nested_in_tensors()
    if not any(d.is_error for d in reporter.diagnostics):
        overwritten_inputs(modules, reporter)
        unread_outputs(scope, modules, reporter)
    keys = _keys(scope, typing)
    valid = {name: node for name, node in lowered.items() if node is not INVALID}
    return Report(tuple(sort_diagnostics(reporter.diagnostics)), keys=keys, modules=valid,
                  network_inputs=typing.network_inputs)


def _keys(scope: Scope, typing: Typing) -> tuple[KeyInfo, ...]:
    out = []
    for path, declared in scope.declared.items():
        source = "declared" if declared.source == "key" else declared.source if declared.source.startswith("primer") \
            else f"env `{declared.source}`"
        writers = typing.writers.get(path)
        if writers:
            source += "; written by " + ", ".join(dict.fromkeys(writers))
        written = typing.reasons.get(path)
        why = attrs.evolve(written, line=declared.span.line) if written is not None else Reason(line=declared.span.line)
        out.append(KeyInfo(path, declared.spec, source, why))
    for path, (typed, _) in typing.types.items():
        writers = ", ".join(dict.fromkeys(typing.writers.get(path, [typed.by])))
        out.append(KeyInfo(path, typed.spec, f"written by {writers}", typing.reasons.get(path, Reason())))
    return tuple(out)


def check_program(program: Program, *, dtype: str = "f32") -> Report:
    """Check a loaded :class:`~rldsl.lang.includes.Program` (its parse diagnostics included) for
    compiling in ``dtype``: the last step of every way of checking a model, whatever its root was
    (a path, text, standard input, an artifact's members, a model built in Python).

    The report holds the source text of every file the program read and of every other file a
    diagnostic points into (the Python files of a model built with :mod:`rldsl.build`), so that
    each diagnostic renders with its source lines."""
    loaded = tuple(program.diagnostics)
    if has_errors(loaded):
        diagnostics = tuple(sort_diagnostics(loaded))
        return Report(diagnostics, _sources(program.sources, diagnostics), checked=False)
    result = check_declarations(program.declarations(), dtype=dtype)
    diagnostics = tuple(sort_diagnostics(loaded + result.diagnostics))
    return attrs.evolve(result, diagnostics=diagnostics, sources=_sources(program.sources, diagnostics))


def _sources(read: Mapping[str, SourceFile], diagnostics: Sequence[Diagnostic]) -> dict[str, SourceFile]:
    """The files read, and the Python file of every span of ``diagnostics`` in none of them."""
    sources = dict(read)
    for diagnostic in diagnostics:
        for span in (diagnostic.span, *(label.span for label in diagnostic.labels)):
            if span.file not in sources:
                sources[span.file] = python_source(span.file)
    return sources


def check_text(text: str, name: str = "<input>", *, dtype: str = "f32") -> Report:
    """Parse and check a piece of text (its includes read relative to ``name``'s directory)."""
    from rldsl.lang.includes import load_text

    return check_program(load_text(text, name), dtype=dtype)
