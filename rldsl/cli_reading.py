"""What a command may read and import, as command-line options, and loading (and checking) a root
file within them.

``check``, ``compile`` and ``graph`` read the file named on the command line, and the files it
includes inside that file's folder or an ``--include-root``, each at most ``--max-file-bytes``;
``--import-envs MODULE`` imports a module of the user's that registers gymnasium envs, and
``--import-kinds MODULE`` one that registers kinds of the user's own (``rldsl.register_kind``): a
model file can never ask for an import. ``inspect`` takes these two only: an artifact's includes
are its own members.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from rldsl.lang.includes import MAX_FILE_BYTES, Program, ReadLimits, decode_source, load_program, load_text

if TYPE_CHECKING:
    from rldsl.lang.report import Report

__all__ = ["add_env_arguments", "add_reading_arguments", "add_size_argument", "check_root", "import_envs", "load_root",
           "read_limits"]


def add_env_arguments(parser: argparse.ArgumentParser) -> None:
    """``--import-envs MODULE`` and ``--import-kinds MODULE`` (repeatable)."""
    parser.add_argument("--import-envs", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, so that the gymnasium envs it registers can be named by id "
                             "(repeatable; a model file never makes rldsl import anything)")
    parser.add_argument("--import-kinds", action="append", default=[], metavar="MODULE",
                        help="import MODULE first, so that the kinds it registers with rldsl.register_kind can be "
                             "called by name (repeatable; a model file never makes rldsl import anything)")


def add_reading_arguments(parser: argparse.ArgumentParser) -> None:
    """``--include-root DIR`` (repeatable), ``--max-file-bytes N``, ``--import-envs MODULE`` and
    ``--import-kinds MODULE``."""
    parser.add_argument("--include-root", action="append", default=[], metavar="DIR",
                        help="also allow includes from DIR (by default only the root file's folder and below; "
                             "repeatable)")
    add_size_argument(parser)
    add_env_arguments(parser)


def add_size_argument(parser: argparse.ArgumentParser) -> None:
    """``--max-file-bytes N``."""
    parser.add_argument("--max-file-bytes", type=_positive, default=MAX_FILE_BYTES, metavar="N",
                        help=f"refuse .rlm files larger than N bytes (default: {MAX_FILE_BYTES:,})")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number of bytes, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of bytes, got {value}")
    return value


def read_limits(args: argparse.Namespace) -> ReadLimits:
    """The limits the options ask for."""
    return ReadLimits(max_file_bytes=args.max_file_bytes, include_roots=tuple(args.include_root))


def import_envs(args: argparse.Namespace) -> str:
    """Import the ``--import-envs`` and ``--import-kinds`` modules: ``""``, or why one could not be
    imported."""
    from rldsl.lang.envs import import_env_modules

    def import_kind_modules(names: list[str]) -> None:
        from rldsl.registry import import_kind_modules as importer  # only when asked: it costs start-up time

        importer(names)

    for what, option, names, importer in (("env", "--import-envs", args.import_envs, import_env_modules),
                                          ("kind", "--import-kinds", getattr(args, "import_kinds", ()),
                                           import_kind_modules)):
        for name in names:
            try:
                importer([name])
            except Exception as error:  # the user's own module: any failure is theirs to read, not a crash
                return f"cannot import {what} module `{name}` ({option}): {type(error).__name__}: {error}"
    return ""


def load_root(path: str, limits: ReadLimits) -> tuple[Program | None, str]:
    """Load a root file (``-`` for standard input) and its includes: ``(program, "")``, or
    ``(None, why)`` when the root itself cannot be read (missing, a device or FIFO, too large,
    not UTF-8 text)."""
    if path == "-":
        data = sys.stdin.buffer.read(limits.max_file_bytes + 1)
        if len(data) > limits.max_file_bytes:
            return None, f"standard input is larger than the limit of {limits.max_file_bytes:,} bytes " \
                         "(raise it with --max-file-bytes)"
        source, problem = decode_source(data, "<stdin>")
        if source is None:
            return None, f"standard input cannot be read: {problem.message.split(': ', 1)[-1]}"
        return load_text(source.text, "<stdin>", limits), ""
    try:
        program = load_program(path, limits)
    except OSError as error:
        return None, f"cannot read `{path}`: {error.strerror or error}"
    if not program.modules:  # the root file itself is not text (E0152)
        return None, program.diagnostics[0].message if program.diagnostics else f"cannot read `{path}`"
    return program, ""


def check_root(path: str, limits: ReadLimits, dtype: str = "f32") -> tuple[Report | None, str]:
    """Load a root file (``-`` for standard input) and its includes within ``limits``, and check
    it for compiling in ``dtype``: ``(report, "")``, or ``(None, why)`` when the root itself cannot
    be read (:func:`load_root`)."""
    from rldsl.lang.check import check_program  # the checker, imported when a command checks

    program, problem = load_root(path, limits)
    if program is None:
        return None, problem
    return check_program(program, dtype=dtype), ""
