"""Loading a model with its includes: every file read and parsed once, cycles reported.

``include "other.rlm"`` names a file relative to the directory of the including file. Files
are loaded depth-first; a file reached again through another path is not read twice, and an
include that would re-enter a file still being loaded is an include cycle (E0151), reported with
the span of every include in the cycle. A missing file is E0150, an unreadable one E0152.

Reading is bounded (:class:`ReadLimits`): only regular files are opened (never a device, FIFO,
folder or standard input, so nothing blocks), each at most ``max_file_bytes``; an include names a
``.rlm`` file inside the root file's folder or one of the caller's ``include_roots`` (an absolute
path, or ``..`` leaving them, is E0153); a file holding a NUL byte is not text (E0152) and is never
echoed. A model stored in an artifact resolves its includes among the artifact's members only
(:func:`load_members`).

>>> import pathlib, tempfile
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> _ = (folder / "common.rlm").write_text("key observation : f32[3]\\n")
>>> _ = (folder / "main.rlm").write_text('include "common.rlm"\\nkey action : onehot(2)\\n')
>>> program = load_program(folder / "main.rlm")
>>> [d.name.value for d in program.declarations()], program.diagnostics
(['observation', 'action'], ())
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterator, Mapping

import attrs

from rldsl import files
from rldsl.files import UnsafeFile
from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Label, sort_diagnostics
from rldsl.lang.parse import parse_source
from rldsl.lang.source import SourceFile, Span
from rldsl.lang.values import suggest

__all__ = ["MAX_FILE_BYTES", "Program", "ReadLimits", "UnsafeFile", "decode_source", "load_members", "load_module",
           "load_program", "load_text", "read_bytes", "read_source"]

#: The default size limit of one `.rlm` file (1 MiB: a large model is a few hundred KiB).
MAX_FILE_BYTES = 1 << 20


@attrs.frozen(slots=True)
class ReadLimits:
    """What loading a model may read: files of at most ``max_file_bytes`` each, and includes only
    inside the root file's folder or one of ``include_roots``.

    >>> ReadLimits(max_file_bytes=4096, include_roots=("../shared",)).max_file_bytes
    4096
    """

    max_file_bytes: int = MAX_FILE_BYTES
    include_roots: tuple[str, ...] = attrs.field(default=(), converter=lambda roots: tuple(os.fspath(r) for r in roots))


_RAISE_HINT = "raise the limit with --max-file-bytes"


def read_bytes(path: str | os.PathLike[str], max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of a regular `.rlm` file of at most ``max_bytes`` (:func:`rldsl.files.read_bytes`:
    devices, FIFOs and folders are refused before opening). Raises ``OSError``."""
    return files.read_bytes(path, max_bytes, _RAISE_HINT)


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


def read_source(path: str, max_bytes: int = MAX_FILE_BYTES) -> tuple[SourceFile | None, Diagnostic | None]:
    """Read a file as UTF-8 text: the source, or E0152 if its bytes are not UTF-8 text.

    Raises ``OSError`` when the file cannot be opened or is refused by :func:`read_bytes` (the
    loader turns that into a diagnostic at the include that names the file).
    """
    return decode_source(read_bytes(path, max_bytes), path)


def decode_source(data: bytes, name: str) -> tuple[SourceFile | None, Diagnostic | None]:
    """The bytes of a file as a :class:`SourceFile` (UTF-8, a leading BOM dropped), or E0152
    at the start of the file if they are not UTF-8 or hold a NUL byte (no text file does)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        return None, _unreadable(name, Span(name, 1, 1, 1, 1, 0, 0), f"byte {error.start} is not valid UTF-8")
    return _text_source(text, name)


def _text_source(text: str, name: str) -> tuple[SourceFile | None, Diagnostic | None]:
    """``text`` as a source, or E0152 if it holds a NUL byte (said by position, never echoed)."""
    nul = text.find("\x00")
    if nul >= 0:
        line = text.count("\n", 0, nul) + 1
        column = nul - (text.rfind("\n", 0, nul) + 1) + 1
        return None, _unreadable(name, Span(name, 1, 1, 1, 1, 0, 0),
                                 f"it holds a NUL byte (line {line}, column {column}), so it is not a text file")
    return SourceFile(name, text.removeprefix("\ufeff")), None


def _missing(path: str, include: ast.Include, near: list[str]) -> Diagnostic:
    guess = suggest(os.path.basename(path), near)
    if guess is not None:
        help_ = f"did you mean `{guess}`?"
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


def _refused(include: ast.Include, reason: str, help_: str) -> Diagnostic:
    return Diagnostic("E0153", f"`{include.path.value}` cannot be included: {reason}", include.path.span,
                      label="refused before reading", help=help_)


def _unreadable(path: str, at: Span, reason: str) -> Diagnostic:
    return Diagnostic(
        "E0152",
        f"cannot read `{path}`: {reason}",
        at,
        label="this file cannot be read",
        help="make sure the path names a UTF-8 text file you can read",
    )


class _DiskFiles:
    """Files on disk, as the loader sees them: includes resolve relative to the including file and
    must stay inside the root file's folder or an include root (symbolic links followed first)."""

    def __init__(self, root_folder: str, limits: ReadLimits) -> None:
        self.limits = limits
        folders = (root_folder or ".", *limits.include_roots)
        self.allowed = tuple(os.path.realpath(folder) for folder in folders)

    def locate(self, including: str, written: str) -> str:
        return os.path.normpath(os.path.join(os.path.dirname(including), written))

    def identity(self, path: str) -> str:
        return os.path.realpath(path)

    def refusal(self, include: ast.Include, path: str) -> Diagnostic | None:
        """E0153 for an include that names no `.rlm` file or leaves the folders it may read."""
        written = include.path.value
        if not written.endswith(".rlm"):
            return _refused(include, "only `.rlm` files can be included", "rename the file to end in `.rlm`")
        real = os.path.realpath(path)
        if any(real == folder or real.startswith(folder.rstrip(os.sep) + os.sep) for folder in self.allowed):
            return None
        where = "an absolute path" if os.path.isabs(written) else "outside the model's folder"
        return _refused(include, f"it is {where}",
                        "keep included files in the folder of the root model (or below it), or name the folder that "
                        "holds them as an include root: `--include-root DIR`, `rldsl.check(..., include_roots=[DIR])`")

    def read(self, path: str) -> tuple[SourceFile | None, Diagnostic | None]:
        return read_source(path, self.limits.max_file_bytes)

    def near(self, path: str) -> list[str]:
        """The `.rlm` files beside ``path``, for "did you mean"."""
        try:
            return [f for f in os.listdir(os.path.dirname(path) or ".") if f.endswith(".rlm")]
        except OSError:
            return []


class _MemberFiles:
    """The files stored in an artifact, by their ``/``-separated names: an include resolves only to
    another member, never to the disk."""

    def __init__(self, members: Mapping[str, bytes]) -> None:
        self.members = members

    def locate(self, including: str, written: str) -> str:
        return posixpath.normpath(posixpath.join(posixpath.dirname(including), written))

    def identity(self, path: str) -> str:
        return path

    def refusal(self, include: ast.Include, path: str) -> Diagnostic | None:
        if not include.path.value.endswith(".rlm"):
            return _refused(include, "only `.rlm` files can be included", "rename the file to end in `.rlm`")
        if posixpath.isabs(include.path.value) or path == ".." or path.startswith("../"):
            return _refused(include, "it is not a file of this artifact",
                            "an artifact's model includes only the files stored with it")
        return None

    def read(self, path: str) -> tuple[SourceFile | None, Diagnostic | None]:
        if path not in self.members:
            raise FileNotFoundError(path)
        return decode_source(self.members[path], path)

    def near(self, path: str) -> list[str]:
        folder = posixpath.dirname(path)
        return [posixpath.basename(name) for name in self.members if posixpath.dirname(name) == folder]


@attrs.define
class _Frame:
    """A file being loaded: its name, identity, remaining includes, and the include that brought
    it in (None for the root)."""

    name: str
    key: str
    pending: Iterator[ast.Include]
    entered_by: ast.Include | None


class _Loader:
    """Depth-first loading of a root file and its includes, without recursion."""

    def __init__(self, files: _DiskFiles | _MemberFiles) -> None:
        self.files = files
        self.modules: dict[str, ast.Module] = {}
        self.sources: dict[str, SourceFile] = {}
        self.names: dict[str, str] = {}  # identity (a real path, or a member name) -> display name
        self.includes: dict[tuple[str, int, str], str] = {}
        self.diagnostics: list[Diagnostic] = []

    def load(self, root: str) -> Program:
        source, problem = self.files.read(root)  # an OSError here is the caller's to report
        if source is None:
            assert problem is not None
            return Program(root, {}, {}, {}, (problem,))
        return self.load_source(source)

    def load_source(self, source: SourceFile) -> Program:
        self.follow_all(self._open(source, None))
        return self.program(source.name)

    def _open(self, source: SourceFile, entered_by: ast.Include | None) -> _Frame:
        module, diagnostics = parse_source(source)
        self.sources[source.name] = source
        self.diagnostics += diagnostics
        return self._enter(source.name, module, entered_by)

    def _enter(self, name: str, module: ast.Module, entered_by: ast.Include | None) -> _Frame:
        """Record a parsed file and start on its includes."""
        key = self.files.identity(name)
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
            key = self.files.identity(self.files.locate(name, include.path.value))
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
        """Load the file an include names, unless it is refused, loaded already, missing, or a cycle."""
        path = self.files.locate(stack[-1].name, include.path.value)
        refusal = self.files.refusal(include, path)
        if refusal is not None:
            self.diagnostics.append(refusal)
            return None
        key = self.files.identity(path)
        on_path = [frame.key for frame in stack]
        if key in on_path:
            self.diagnostics.append(_cycle(include, stack[on_path.index(key) :]))
            return None
        if key in self.names:
            self.includes[(include.span.file, include.span.start, include.path.value)] = self.names[key]
            return None
        try:
            source, problem = self.files.read(path)
        except FileNotFoundError:
            self.diagnostics.append(_missing(path, include, self.files.near(path)))
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


def load_text(text: str, name: str = "<input>", limits: ReadLimits = ReadLimits()) -> Program:
    """A :class:`Program` from text that is not (yet) a file: its includes are read relative to
    the directory of ``name`` (the current directory for ``<input>``). Text longer than the limit,
    or holding a NUL byte, is E0152."""
    loader = _Loader(_DiskFiles(os.path.dirname(name), limits))
    if len(text) > limits.max_file_bytes:
        problem = _unreadable(name, Span(name, 1, 1, 1, 1, 0, 0), files.too_large(len(text), limits.max_file_bytes, _RAISE_HINT))
        return Program(name, {}, {}, {}, (problem,))
    source, problem = _text_source(text, name)
    if source is None:
        return Program(name, {}, {}, {}, (problem,))
    return loader.load_source(source)


def load_module(module: ast.Module, name: str, limits: ReadLimits = ReadLimits()) -> Program:
    """A :class:`Program` from a syntax tree made without text (by :mod:`rldsl.build`), named
    ``name``: its includes are read relative to the current directory."""
    loader = _Loader(_DiskFiles(".", limits))
    loader.follow_all(loader._enter(name, module, None))
    return loader.program(name)


def load_program(path: str | os.PathLike[str], limits: ReadLimits = ReadLimits()) -> Program:
    """Read, parse and resolve a root `.rlm` file and everything it includes, within ``limits``.

    Never raises for problems inside the files (they are diagnostics); raises ``OSError`` when
    the root file itself cannot be opened or is refused (a device, a FIFO, over the size limit).
    """
    path = os.fspath(path)
    return _Loader(_DiskFiles(os.path.dirname(path), limits)).load(path)


def load_members(members: Mapping[str, bytes], root: str) -> Program:
    """A :class:`Program` from files held in memory (an artifact's stored sources, by
    ``/``-separated name): includes resolve only to other members, never to the disk.

    >>> program = load_members({"m/main.rlm": b'include "../k.rlm"\\n', "k.rlm": b"key a : f32[1]\\n"}, "m/main.rlm")
    >>> [d.name.value for d in program.declarations()], program.diagnostics
    (['a'], ())
    """
    return _Loader(_MemberFiles(members)).load(root)
