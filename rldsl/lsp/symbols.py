"""The names a model declares, across its files: what hover, completion and go-to-definition look up.

:func:`symbols_of` reads a loaded :class:`~rldsl.lang.includes.Program` (the document and every
file it includes) and, when checking got that far, the :class:`~rldsl.lang.report.Report`: dims,
envs, keys and modules by name, with their declarations (whose spans say in which file they are),
and for each key written by a module the place that writes it first. A name declared twice keeps
its first declaration (the checker reports the second). Pure Python: nothing of the model runs.

>>> from rldsl.lang.includes import load_text
>>> from rldsl.lang.check import check_program
>>> text = "dim n = 3\\nkey observation : f32[n]\\nmodule body = MLP(out_features=2) : observation -> h\\n"
>>> program = load_text(text, "a.rlm")
>>> symbols = symbols_of(program, check_program(program))
>>> sorted(symbols.dims), sorted(symbols.keys), sorted(symbols.modules), str(symbols.writer(("h",)))
(['n'], ['observation'], ['body'], 'a.rlm:3:52')
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from rldsl.lang import ast
from rldsl.lang.includes import Program
from rldsl.lang.ir import ModuleNode
from rldsl.lang.report import Report
from rldsl.lang.source import Span

__all__ = ["Symbols", "symbols_of"]

Path = tuple[str, ...]


@attrs.frozen(slots=True)
class Symbols:
    """Declarations by name, and the span that first writes each key a module writes (the key as
    the module declaration names it, or the declaration's name for a kind's default key)."""

    dims: Mapping[str, ast.DimDecl] = attrs.field(factory=dict)
    envs: Mapping[str, ast.EnvDecl] = attrs.field(factory=dict)
    keys: Mapping[str, ast.KeyDecl] = attrs.field(factory=dict)
    modules: Mapping[str, ast.ModuleDecl] = attrs.field(factory=dict)
    writers: Mapping[Path, Span] = attrs.field(factory=dict)

    def writer(self, path: Path) -> Span | None:
        """Where key ``path`` is first written by a module, or None."""
        return self.writers.get(path)

    def names(self) -> set[str]:
        """Every declared name: dims, envs, keys and modules."""
        return {*self.dims, *self.envs, *self.keys, *self.modules}


def symbols_of(program: Program, report: Report | None = None) -> Symbols:
    """The declarations of ``program`` (every file it includes too) and the keys its modules
    write: from the checked ``report`` when it has modules (default keys included), else from the
    key flows written in the text (``: observation -> hidden``)."""
    found: dict[type, dict[str, ast.Decl]] = {ast.DimDecl: {}, ast.EnvDecl: {}, ast.KeyDecl: {}, ast.ModuleDecl: {}}
    for decl in program.declarations():
        table = found.get(type(decl))
        if table is not None:
            table.setdefault(decl.name.value, decl)
    modules = found[ast.ModuleDecl]
    checked = report.modules if report is not None and report.modules else {}
    writers = _checked_writers(modules, checked) if checked else _written_writers(modules)
    return Symbols(found[ast.DimDecl], found[ast.EnvDecl], found[ast.KeyDecl], modules, writers)


def _checked_writers(decls: Mapping[str, ast.ModuleDecl], lowered: Mapping[str, object]) -> dict[Path, Span]:
    """The first writer of each key, from the lowered modules in declaration order."""
    writers: dict[Path, Span] = {}
    for name, decl in decls.items():
        node = lowered.get(name)
        if not isinstance(node, ModuleNode):
            continue
        for ref in node.own_writes:
            writers.setdefault(ref.path, decl.name.span if ref.implicit else ref.span)
    return writers


def _written_writers(decls: Mapping[str, ast.ModuleDecl]) -> dict[Path, Span]:
    """The first writer of each key named after ``->`` in a declaration's key flow."""
    writers: dict[Path, Span] = {}
    for decl in decls.values():
        for ref in decl.io.outputs if decl.io is not None else ():
            writers.setdefault(ref.path, ref.span)
    return writers
