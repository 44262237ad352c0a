"""The one result of checking a model: :class:`Report` (and :class:`KeyInfo`, a key and its spec).

Every way of checking a model returns a :class:`Report`: ``rldsl.check``, ``rldsl check``,
``rldsl graph``, the artifact reader, ``rldsl.Model.check`` and the checker's own
:func:`~rldsl.lang.check.check_program`. The compiler takes one
(:func:`rldsl.compiler.compile_report`). ``errors`` and ``warnings`` are always lists of
diagnostics; ``len(report.errors)`` counts them. Pure Python, like the rest of :mod:`rldsl.lang`.

>>> from rldsl.lang.check import check_text
>>> report = check_text("key observation : f32[3]\\nvalue v = ValueOperator(MLP(out_features=1), in=[obs])\\n",
...                     "a.rlm")
>>> report.ok, [d.code for d in report.errors], report.warnings, report.checked
(False, ['E0301'], [], True)
>>> print(report.render().splitlines()[0])
error[E0301]: key `obs` is read but never written
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from rldsl.lang.diagnostics import Diagnostic, Severity
from rldsl.lang.ir import Network
from rldsl.lang.render import escape_json, render_json, render_text
from rldsl.lang.source import SourceFile
from rldsl.lang.types import Spec, spec_text

__all__ = ["KeyInfo", "Reason", "Report"]


@attrs.frozen(slots=True)
class Reason:
    """Why a key has its spec: the type rules of the module that wrote it (its kind, the stages of its
    network, its distribution), the keys that module read, and where the key was declared or written
    (``rldsl check --explain-types``). A declared key has no rules: its declaration is the reason."""

    rules: tuple[str, ...] = ()
    inputs: tuple[tuple[str, ...], ...] = ()
    line: int | None = None
    steps: tuple[str, ...] = ()  # each step with its arguments and specs: `MLP(out_features=2): f32[3] -> f32[2]`


@attrs.frozen(slots=True)
class KeyInfo:
    """A key of the model and its spec: declared, provided by an env, or inferred from its writer."""

    path: tuple[str, ...]
    spec: Spec
    source: str  # "declared", "env `pendulum`", "written by `policy`", or both
    why: Reason = Reason()

    @property
    def dotted(self) -> str:
        return ".".join(self.path)


@attrs.frozen(slots=True)
class Report:
    """The outcome of checking a model: its diagnostics (sorted by position), the source text of
    every file read (for rendering; a Python file too, for a model built with :mod:`rldsl.build`),
    every key with its spec, the IR of each declaration by name (values that had errors are
    left out) and the input specs the checker typed each network with (by IR node: the compiler
    sizes the networks with them, ``in_features`` included). ``checked`` is False when syntax errors (or an include that cannot be read) stopped
    the check before the semantic passes: ``keys``, ``modules`` and ``network_inputs`` are then empty."""

    diagnostics: tuple[Diagnostic, ...]
    sources: Mapping[str, SourceFile] = attrs.field(factory=dict)
    keys: tuple[KeyInfo, ...] = ()
    modules: Mapping[str, object] = attrs.field(factory=dict)
    checked: bool = True
    network_inputs: Mapping[Network, tuple[Spec, ...]] = attrs.field(factory=dict, repr=False)

    @property
    def errors(self) -> list[Diagnostic]:
        """The error diagnostics, in reporting order."""
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        """The warning diagnostics, in reporting order."""
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings are allowed)."""
        return not self.errors

    @property
    def types(self) -> dict[str, str]:
        """The spec of every key, as written in a `.rlm` file: ``{"action": "f32[1] in [-2.0, 2.0]"}``."""
        return {key.dotted: spec_text(key.spec) for key in self.keys}

    def render(self, *, color: bool = False) -> str:
        """The diagnostics as text, with source lines and carets (empty when there are none)."""
        return render_text(self.diagnostics, self.sources, color=color)

    def types_json(self, *, explain: bool = False) -> list[dict[str, object]]:
        """Every key as JSON data: ``{"key": ..., "spec": ..., "source": ...}``, in the order of :attr:`keys`;
        with ``explain``, also ``"why"``: the rules that give the spec, the keys read and the line."""
        rows: list[dict[str, object]] = []
        for k in self.keys:
            row: dict[str, object] = {"key": k.dotted, "spec": spec_text(k.spec), "source": k.source}
            if explain:
                row["why"] = {"steps": list(k.why.steps), "rules": list(k.why.rules),
                              "inputs": [".".join(p) for p in k.why.inputs], "line": k.why.line}
            rows.append(row)
        return rows

    def explain_types(self) -> str:
        """Each key with its spec and why it has it, as ``rldsl check --explain-types`` prints them: the
        rules of its writer and the specs of the keys it read, so the chain can be followed key by key."""
        specs = {k.path: spec_text(k.spec) for k in self.keys}
        lines = []
        for k in self.keys:
            where = f" (line {k.why.line})" if k.why.line is not None else ""
            lines.append(f"{k.dotted} : {specs[k.path]}  <- {k.source}{where}")
            lines += [f"    by {step}" for step in k.why.steps]
            if k.why.inputs:
                read = ", ".join(f"{'.'.join(p)} : {specs.get(p, '?')}" for p in k.why.inputs)
                lines.append(f"    from {read}")
        return "\n".join(lines)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The diagnostics and key types as a JSON document."""
        document = json.loads(render_json(self.diagnostics, indent=None))
        document["types"] = self.types_json()
        return escape_json(json.dumps(document, indent=indent, ensure_ascii=False))
