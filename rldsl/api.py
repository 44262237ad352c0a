"""The Python API of the checker: ``rldsl.check(path_or_text) -> Report``.

Pure Python, like the command line: checking never imports torch.

>>> import rldsl
>>> report = rldsl.check("key observation : f32[3]\\nactor policy = Actor(MLP(out_features=2))\\n")
>>> report.ok, report.types["action"]
(True, 'f32[2]')
>>> bad = rldsl.check("key observation : f32[3]\\nvalue v = ValueOperator(MLP(out_features=1), in=[obs])\\n")
>>> [(d.code, d.span.line) for d in bad.diagnostics]
[('E0301', 2)]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from rldsl.lang.check import check_dtype, check_program
from rldsl.lang.envs import import_env_modules
from rldsl.lang.includes import MAX_FILE_BYTES, ReadLimits, load_program, load_text, read_source
from rldsl.lang.render import render_text
from rldsl.lang.report import Report
from rldsl.lang.source import SourceFile
from rldsl.registry import import_kind_modules

__all__ = ["Report", "check", "compile", "load", "report_of", "save", "to_source"]

#: The older name of :func:`rldsl.lang.check.check_program` (a loaded program to its
#: :class:`Report`, sources attached); kept so that code naming it keeps working.
report_of = check_program


def _looks_like_path(source: str) -> bool:
    return "\n" not in source and (source.endswith(".rlm") or os.path.isfile(source))


def check(source: str | os.PathLike[str] | object, *, name: str | None = None,
          include_roots: Sequence[str | os.PathLike[str]] = (), max_file_bytes: int = MAX_FILE_BYTES,
          env_modules: Sequence[str] = (), kind_modules: Sequence[str] = (), dtype: str = "f32") -> Report:
    """Check a model given as a path (``os.PathLike``, or a one-line string ending in ``.rlm``
    or naming an existing file), as text, or as a :class:`rldsl.build.Model`. Includes are
    followed (relative to the file, or to the current directory for text and models; ``name``
    names the text in diagnostics) inside the root's folder and ``include_roots`` only, each file
    at most ``max_file_bytes``.

    Checking never imports code named by the model: ``gym("...")`` ids are looked up in
    gymnasium's registry. Envs of your own are registered by importing the modules that register
    them, named here by you: ``env_modules=["mypkg.envs"]``. Kinds of your own
    (``rldsl.register_kind``) likewise: ``kind_modules=["mypkg.kinds"]`` imports the modules that
    register them; a kind name in the model is only ever looked up.

    ``dtype`` is the float dtype the model is meant to be compiled in (``"f32"`` or ``"f64"``, as
    ``rldsl.compile(dtype=...)``): networks' weights have it, so a float input of another dtype is
    an error (E0515).

    Raises ``OSError`` when a path cannot be opened (or is a device, a FIFO, or over the size
    limit), ``ImportError`` when an ``env_modules`` or ``kind_modules`` entry cannot be imported and
    ``ValueError`` for another ``dtype``; every problem inside a model is a diagnostic.
    """
    from rldsl.build import Model

    check_dtype(dtype)
    import_env_modules(env_modules)
    import_kind_modules(kind_modules)
    if isinstance(source, Model):
        return source.check(dtype=dtype)
    limits = ReadLimits(max_file_bytes=max_file_bytes, include_roots=tuple(include_roots))
    if isinstance(source, os.PathLike) or (isinstance(source, str) and name is None and _looks_like_path(source)):
        program = load_program(source, limits)
    elif isinstance(source, str):
        program = load_text(source, name or "<input>", limits)
    else:
        raise TypeError(f"check() takes a path, the text of a model or a rldsl.Model, got {type(source).__name__}")
    return check_program(program, dtype=dtype)


def compile(source: str | os.PathLike[str] | object, *, name: str | None = None, device: str = "cpu", seed: int = 0,
            dtype: str = "f32", check_inputs: bool = True, max_params: int | None = 2**31, validate: bool = True,
            **reading: Any) -> object:
    """Check a model (a path, text or :class:`rldsl.build.Model`, as for :func:`check`) and build
    it: a :class:`rldsl.compiler.Program` mapping each declared module
    name to an ``nn.Module`` on ``device`` (``"cpu"``, ``"cuda"``, ``"cuda:1"``), its weights drawn
    under ``seed`` (two compilations give the same weights), floats in ``dtype`` (``"f32"``,
    ``"f64"``). With ``check_inputs`` (the default) a module called with a tensordict whose keys,
    shapes or dtypes differ from the checked specs raises ``rldsl.compiler.InputMismatch`` naming
    the key, the expected spec and the value given. torch is imported here, not before.
    ``include_roots``, ``max_file_bytes``, ``env_modules`` and ``kind_modules`` are passed to :func:`check`.
    A model of more than ``max_params`` parameters (default 2**31, 8 GiB as f32; None: no limit)
    is refused before anything is allocated (:mod:`rldsl.compiler.limits`). With ``validate`` (the
    default) every module is called once on spec-random input before the program is returned, as
    ``rldsl compile`` does, leaving the random generators and the modules' buffers as they were
    (:mod:`rldsl.compiler.first_call`).

    Raises :class:`rldsl.compiler.CompileError` (its ``report`` holds the diagnostics) when the model
    has check errors or the device is not available, and its subclass
    :class:`rldsl.compiler.limits.ModelTooLarge` when it has too many parameters.

    >>> import rldsl
    >>> program = rldsl.compile("key observation : f32[3]\\nactor a = Actor(MLP(out_features=2))\\n")
    >>> list(program), program["a"].out_keys
    (['a'], ['action'])
    """
    from rldsl.compiler import CompileError, compile_report

    if dtype not in ("f32", "f64"):
        raise CompileError(f"`{dtype}` is not a compile dtype: use `f32` or `f64`")
    report = check(source, name=name, dtype=dtype, **reading)
    program = compile_report(report, device=device, seed=seed, dtype=dtype, check_inputs=check_inputs,
                             max_params=max_params, source=_model_source(source, name, report))
    if validate:
        from rldsl.compiler.first_call import try_first_call

        try_first_call(program, program.device)
    return program


def _model_source(source: str | os.PathLike[str] | object, name: str | None, report: Report) -> object:
    """The text a compiled program came from (:class:`rldsl.compiler.program.ModelSource`), as
    :meth:`Program.save <rldsl.compiler.Program.save>` stores it: a file and its includes, a text
    under its name, or a :class:`rldsl.build.Model` as its canonical text (``<name>.rlm``, as
    ``Model.save`` stores it)."""
    from rldsl.build import Model
    from rldsl.compiler.program import ModelSource

    if isinstance(source, Model):
        return ModelSource.of_text(report, os.path.abspath(f"{source.name}.rlm"), source.to_source())
    if isinstance(source, os.PathLike) or (name is None and _looks_like_path(source)):
        return ModelSource.of_report(report, source)
    return ModelSource.of_report(report, name or "<input>")


def save(program: object, path: str | os.PathLike[str]) -> int:
    """Write a compiled program with its *current* weights (after training, say) as a model
    artifact at ``path``: the same format as ``rldsl compile FILE -o OUT.rlmz`` (the source the
    program was compiled from, its compile options, its weights, a SHA-256 of each), which
    :func:`load` reads back with exactly these weights. The same as ``program.save(path)``;
    returns the artifact's size in bytes.

    The weights keep the module library's state-dict names, which are torchrl's: a checkpoint of
    the same model built with ``torchrl.modules`` loads with ``program[name].load_state_dict(...)``
    and saves like any trained weights.

    Raises :class:`rldsl.compiler.artifact.ArtifactError` (a ``ValueError``) when the program does
    not know its source (it was built from a report alone) or its weights no longer fit it (a module
    cast to another dtype), ``TypeError`` for something that is not a compiled program and
    ``OSError`` when ``path`` cannot be written.

    >>> import os, tempfile, torch, rldsl
    >>> program = rldsl.compile("key observation : f32[3]\\nactor a = Actor(MLP(out_features=2))\\n")
    >>> with torch.no_grad():
    ...     _ = program["a"].module[0].weight.add_(1.0)   # a training step, say
    >>> path = os.path.join(tempfile.mkdtemp(), "a.rlmz")
    >>> size = rldsl.save(program, path)
    >>> loaded = rldsl.load(path)
    >>> torch.equal(loaded["a"].state_dict()["module.0.weight"], program["a"].state_dict()["module.0.weight"])
    True
    """
    from rldsl.compiler.artifact import save_program

    return save_program(program, path)


def load(path: str | os.PathLike[str], *, device: str | None = None, env_modules: Sequence[str] = (),
         kind_modules: Sequence[str] = (), max_params: int = 2**31, max_bytes: int | None = None) -> object:
    """Load a model artifact written by :func:`save` (``Program.save``), ``rldsl compile FILE -o
    OUT.rlmz`` or ``Model.save``: a :class:`rldsl.compiler.Program` rebuilt from the stored source
    and compile options, on ``device`` (default: the device it was saved from), holding exactly the
    saved weights (trained ones included); it can be trained further and saved again. The weights
    are read with ``torch.load(weights_only=True)``: loading never runs code from the file.

    Raises :class:`rldsl.compiler.artifact.ArtifactError` (a ``ValueError``) for a corrupt,
    truncated or tampered artifact, or one whose weights do not fit its source, and for one over
    the limits it is read within: ``max_params`` parameters (default 2**31, checked before the
    model is built), ``max_bytes`` of file (default: enough for ``max_params`` f64 weights). Its ``gym("...")``
    ids are looked up in gymnasium's registry, never imported: register envs of your own with
    ``env_modules`` (modules you name, imported first), and kinds of your own with
    ``kind_modules`` (the modules that call ``rldsl.register_kind``).
    """
    from rldsl.compiler.artifact import load_artifact

    import_env_modules(env_modules)
    import_kind_modules(kind_modules)
    return load_artifact(path, device=device, max_params=max_params, max_bytes=max_bytes)


def to_source(model: object, *, name: str | None = None) -> str:
    """Any program as canonical `.rlm` text that parses back to the same program: a model built
    with :class:`rldsl.build.Model`, a parsed :class:`~rldsl.lang.ast.Module`, or a model given as
    a path or text (formatted as ``rldsl fmt`` formats it, comments kept).

    Raises ``ValueError`` (with the rendered diagnostics) when the text has syntax errors or is not
    text, and ``OSError`` when a path cannot be read (or is a device, a FIFO, or over 1 MiB).

    >>> import rldsl
    >>> print(rldsl.to_source("key   obs:f32[ 3 ]  # observations\\n"), end="")
    key obs : f32[3]  # observations
    """
    from rldsl.lang import ast
    from rldsl.lang.printer import format_source
    from rldsl.lang.printer import to_source as print_module

    if hasattr(model, "to_source") and not isinstance(model, (str, os.PathLike)):
        return model.to_source()
    if isinstance(model, ast.Module):
        return print_module(model)
    if isinstance(model, os.PathLike) or (isinstance(model, str) and name is None and _looks_like_path(model)):
        source, problem = read_source(os.fspath(model))
        if source is None:
            raise ValueError(problem.message)
    elif isinstance(model, str):
        source = SourceFile(name or "<input>", model)
    else:
        raise TypeError(f"to_source() takes a Model, a syntax tree, a path or text, got {type(model).__name__}")
    text, errors = format_source(source)
    if text is None:
        raise ValueError("the model has syntax errors:\n" + render_text(errors, {source.name: source}))
    return text
