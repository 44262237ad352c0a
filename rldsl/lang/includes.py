"""Loading a model with its includes: every file read and parsed once, cycles reported.

``include "other.rlm"`` names a file relative to the directory of the including file. Files
are loaded depth-first; a file reached again through another path is not read twice, and an
include that would re-enter a file still being loaded is an include cycle (E0151), reported with
the span of every include in the cycle. A missing file is E0150, an unreadable one E0152.

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "common.rlm").write_text("key observation : f32[3]\\n")
>>> _ = (folder / "main.rlm").write_text('include "common.rlm"\\nkey action : onehot(2)\\n')
>>> program = load_program(folder / "main.rlm")
>>> [d.name.value for d in program.declarations()], program.diagnostics
(['observation', 'action'], ())
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterator, Mapping

import attrs

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Label, sort_diagnostics
from rldsl.lang.parse import parse_source
from rldsl.lang.source import SourceFile, Span

__all__ = ["Program", "decode_source", "load_module", "load_program", "load_text", "read_source"]


@attrs.frozen(slots=True)
class Program:
    """A root file and everything it includes.

    ``modules`` maps each file's display name (the path as reached from the root, e.g.
    ``policies/common.rlm``) to its parsed module, in the order files were first reached;
    ``includes`` maps an include, by ``(file, offset, path)`` of its span and text, to the file
    it loaded.
    """

    root: str
    modules: Mapping[str, ast.Module]
    sources: Mapping[str, SourceFile]
    includes: Mapping[tuple[str, int, str], str]
    diagnostics: tuple[Diagnostic, ...]

    def target(self, include: ast.Include) -> str | None:
        """The display name of the file an include loaded, or None if it loaded nothing."""
        return self.includes.get((include.span.file, include.span.start, include.path.value))

    def declarations(self) -> list[ast.Decl]:
        """All declarations as if each file were pasted in place of its first include (later
        includes of the same file add nothing); the includes themselves are left out."""
        out: list[ast.Decl] = []
        if self.root not in self.modules:
            return out
        seen = {self.root}
        stack: list[Iterator[ast.Decl]] = [iter(self.modules[self.root].body)]
        while stack:
            decl = next(stack[-1], None)
            if decl is None:
                stack.pop()
            elif isinstance(decl, ast.Include):
                target = self.target(decl)
                if target is not None and target not in seen:
                    seen.add(target)
                    stack.append(iter(self.modules[target].body))
            else:
                out.append(decl)
        return out


def read_source(path: str) -> tuple[SourceFile | None, Diagnostic | None]:
    """Read a file as UTF-8 text: the source, or E0152 if its bytes are not UTF-8.

    Raises ``OSError`` when the file cannot be opened (the loader turns that into a
    diagnostic at the include that names the file).
    """
    with open(path, "rb") as handle:
        data = handle.read()
    return decode_source(data, path)


def decode_source(data: bytes, name: str) -> tuple[SourceFile | None, Diagnostic | None]:
    """The bytes of a file as a :class:`SourceFile` (UTF-8, a leading BOM dropped), or E0152
    at the start of the file if they are not UTF-8."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, _unreadable(name, Span(name, 1, 1, 1, 1, 0, 0), f"byte {error.start} is not valid UTF-8")
    return SourceFile(name, text.removeprefix("\ufeff")), None


def _missing(path: str, include: ast.Include) -> Diagnostic:
    folder = os.path.dirname(path) or "."
    try:
        near = [f for f in os.listdir(folder) if f.endswith(".rlm")]
    except OSError:
        near = []
    guess = difflib.get_close_matches(os.path.basename(path), near, 1)
    if guess:
        help_ = f"did you mean `{guess[0]}`?"
    else:
        help_ = "include paths are relative to the directory of the file that contains the `include`"
    return Diagnostic(
        "E0150",
        f"cannot find `{include.path.value}`",
        include.path.span,
        label="no such file",
        notes=(f"looked for `{path}`",),
        help=help_,
    )


def _unreadable(path: str, at: Span, reason: str) -> Diagnostic:
    return Diagnostic(
        "E0152",
        f"cannot read `{path}`: {reason}",
        at,
        label="this file cannot be read",
        help="make sure the path names a UTF-8 text file you can read",
    )


@attrs.define
class _Frame:
    """A file being loaded: its name, identity on disk, remaining includes, and the include
    that brought it in (None for the root)."""

    name: str
    key: str
    pending: Iterator[ast.Include]
    entered_by: ast.Include | None


class _Loader:
    """Depth-first loading of a root file and its includes, without recursion."""

    def __init__(self) -> None:
        self.modules: dict[str, ast.Module] = {}
        self.sources: dict[str, SourceFile] = {}
        self.names: dict[str, str] = {}  # real path -> display name
        self.includes: dict[tuple[str, int], str] = {}
        self.diagnostics: list[Diagnostic] = []

    def load(self, root: str) -> Program:
        source, problem = read_source(root)  # an OSError here is the caller's to report
        if source is None:
            assert problem is not None
            return Program(root, {}, {}, {}, (problem,))
        self.follow_all(self._open(source, None))
        return self.program(root)

    def _open(self, source: SourceFile, entered_by: ast.Include | None) -> _Frame:
        module, diagnostics = parse_source(source)
        self.sources[source.name] = source
        self.diagnostics += diagnostics
        return self._enter(source.name, module, entered_by)

    def _enter(self, name: str, module: ast.Module, entered_by: ast.Include | None) -> _Frame:
        """Record a parsed file and start on its includes."""
        key = os.path.realpath(name)
        self.modules[name] = module
        self.names[key] = name
        includes = [d for d in module.body if isinstance(d, ast.Include)]
        self._check_repeats(name, includes)
        return _Frame(name, key, iter(includes), entered_by)

    def follow_all(self, first: _Frame) -> None:
        """Load every file reached from ``first``, depth first."""
        stack = [first]
        while stack:
            include = next(stack[-1].pending, None)
            if include is None:
                stack.pop()
            else:
                frame = self._follow(include, stack)
                if frame is not None:
                    stack.append(frame)

    def program(self, root: str) -> Program:
        return Program(root, self.modules, self.sources, self.includes, tuple(sort_diagnostics(self.diagnostics)))

    def _check_repeats(self, name: str, includes: list[ast.Include]) -> None:
        first: dict[str, ast.Include] = {}
        for include in includes:
            key = os.path.realpath(_resolve(name, include))
            if key in first:
                self.diagnostics.append(
                    Diagnostic(
                        "W0150",
                        f"`{include.path.value}` is already included by this file",
                        include.span,
                        label="included again",
                        labels=(Label(first[key].span, "first included here"),),
                        help="remove this include; a file is read only once",
                    )
                )
            else:
                first[key] = include

    def _follow(self, include: ast.Include, stack: list[_Frame]) -> _Frame | None:
        """Load the file an include names, unless it is loaded already, missing, or a cycle."""
        path = _resolve(stack[-1].name, include)
        key = os.path.realpath(path)
        on_path = [frame.key for frame in stack]
        if key in on_path:
            self.diagnostics.append(_cycle(include, stack[on_path.index(key) :]))
            return None
        if key in self.names:
            self.includes[(include.span.file, include.span.start, include.path.value)] = self.names[key]
            return None
        try:
            source, problem = read_source(path)
        except FileNotFoundError:
            self.diagnostics.append(_missing(path, include))
            return None
        except OSError as error:
            self.diagnostics.append(_unreadable(path, include.path.span, error.strerror or str(error)))
            return None
        if source is None:
            assert problem is not None
            self.diagnostics.append(attrs.evolve(problem, span=include.path.span))
            return None
        self.includes[(include.span.file, include.span.start, include.path.value)] = source.name
        return self._open(source, include)


def _resolve(including: str, include: ast.Include) -> str:
    """The path of an included file, relative to the including file's directory."""
    return os.path.normpath(os.path.join(os.path.dirname(including), include.path.value))


def _cycle(closing: ast.Include, frames: list[_Frame]) -> Diagnostic:
    """E0151 for ``closing``, which re-enters ``frames[0]``; labels on every include between."""
    names = [frame.name for frame in frames] + [frames[0].name]
    labels = tuple(
        Label(frame.entered_by.span, f"`{previous.name}` includes `{frame.name}` here")
        for previous, frame in zip(frames, frames[1:])
        if frame.entered_by is not None
    )
    return Diagnostic(
        "E0151",
        f"include cycle: `{closing.path.value}` is already being included",
        closing.span,
        label="this include closes the cycle",
        labels=labels,
        notes=("cycle: " + " -> ".join(names),),
        help="remove one of the includes in the cycle; shared declarations can go in a file that both include",
    )


def load_text(text: str, name: str = "<input>") -> Program:
    """A :class:`Program` from text that is not (yet) a file: its includes are read relative to
    the directory of ``name`` (the current directory for ``<input>``)."""
    loader = _Loader()
    loader.follow_all(loader._open(SourceFile(name, text), None))
    return loader.program(name)


def load_module(module: ast.Module, name: str) -> Program:
    """A :class:`Program` from a syntax tree made without text (by :mod:`rldsl.build`), named
    ``name``: its includes are read relative to the current directory."""
    loader = _Loader()
    loader.follow_all(loader._enter(name, module, None))
    return loader.program(name)


def load_program(path: str | os.PathLike[str]) -> Program:
    """Read, parse and resolve a root `.rlm` file and everything it includes.

    Never raises for problems inside the files (they are diagnostics); raises ``OSError`` when
    the root file itself cannot be opened.
    """
    return _Loader().load(os.fspath(path))
