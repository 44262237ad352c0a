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

import attrs

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Severity, has_errors, sort_diagnostics
from rldsl.lang.infer import Typing
from rldsl.lang.ir import ModuleNode
from rldsl.lang.keyflow import key_flow, unread_outputs
from rldsl.lang.lower import Lowering
from rldsl.lang.resolve import Scope
from rldsl.lang.types import Spec, spec_text
from rldsl.lang.values import INVALID, Reporter

__all__ = ["CheckResult", "KeyInfo", "check_declarations", "check_program", "check_text", "spec_text"]


@attrs.frozen(slots=True)
class KeyInfo:
    """A key of the model and its spec: declared, provided by an env, or inferred from its writer."""

    path: tuple[str, ...]
    spec: Spec
    source: str  # "declared", "env `pendulum`", "written by `policy`", or both

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@attrs.frozen(slots=True)
class CheckResult:
    """What checking a model found: diagnostics, the keys with their specs, and the IR of each
    module declaration (by name; values that had errors are left out). ``checked`` is False when
    syntax errors stopped the check before the semantic passes."""

    diagnostics: tuple[Diagnostic, ...]
    keys: tuple[KeyInfo, ...] = ()
    modules: Mapping[str, object] = attrs.field(factory=dict)
    checked: bool = True

    @property
    def errors(self) -> int:
        return sum(1 for d in self.diagnostics if d.severity is Severity.ERROR)

    @property
    def warnings(self) -> int:
        return len(self.diagnostics) - self.errors

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return self.errors == 0


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


def check_declarations(declarations: Sequence[ast.Decl], *, dtype: str = "f32") -> CheckResult:
    """Check the declarations of a model (includes already followed) for compiling in ``dtype``
    (``"f32"`` or ``"f64"``: the dtype of the networks' weights, which their inputs must have)."""
    with _gc_paused():
        return _check(declarations, dtype)


def _check(declarations: Sequence[ast.Decl], dtype: str = "f32") -> CheckResult:
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
        unread_outputs(scope, modules, reporter)
    keys = _keys(scope, typing)
    valid = {name: node for name, node in lowered.items() if node is not INVALID}
    return CheckResult(tuple(sort_diagnostics(reporter.diagnostics)), keys, valid)


def _keys(scope: Scope, typing: Typing) -> tuple[KeyInfo, ...]:
    out = []
    for path, declared in scope.declared.items():
        source = "declared" if declared.source == "key" else f"env `{declared.source}`"
        writers = typing.writers.get(path)
        if writers:
            source += "; written by " + ", ".join(dict.fromkeys(writers))
        out.append(KeyInfo(path, declared.spec, source))
    for path, (typed, _) in typing.types.items():
        writers = ", ".join(dict.fromkeys(typing.writers.get(path, [typed.by])))
        out.append(KeyInfo(path, typed.spec, f"written by {writers}"))
    return tuple(out)


def check_program(program: object, *, dtype: str = "f32") -> CheckResult:
    """Check a loaded :class:`~rldsl.lang.includes.Program` (its parse diagnostics included) for
    compiling in ``dtype``."""
    loaded = tuple(program.diagnostics)
    if has_errors(loaded):
        return CheckResult(tuple(sort_diagnostics(loaded)), checked=False)
    result = check_declarations(program.declarations(), dtype=dtype)
    return attrs.evolve(result, diagnostics=tuple(sort_diagnostics(loaded + result.diagnostics)))


def check_text(text: str, name: str = "<input>", *, dtype: str = "f32") -> CheckResult:
    """Parse and check a piece of text (its includes read relative to ``name``'s directory)."""
    from rldsl.lang.includes import load_text

    return check_program(load_text(text, name), dtype=dtype)
