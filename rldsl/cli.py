"""The ``rldsl`` command line.

``rldsl check FILE...`` checks models and prints every problem found; ``rldsl compile FILE``
builds one (torch is imported then, and only then); ``rldsl fmt FILE...`` rewrites files in the
canonical style; ``rldsl graph FILE`` draws the key-flow graph (DOT, or SVG/PNG with Graphviz);
``rldsl inspect FILE.rlmz`` verifies a model artifact and shows what it holds; ``rldsl lsp`` runs
the language server editors start (pygls, ``rldsl[lsp]``);
``rldsl explain CODE`` prints the explanation of a diagnostic code, ``rldsl explain KIND`` describes
a kind. Exit status: 0 when clean (warnings allowed unless ``--strict``), 1 when problems were
found, 2 on a usage error, a file that cannot be read, or an internal error. The check path never
imports torch, and a bad file never produces a traceback.

>>> main(["explain", "E0301"])  # doctest: +ELLIPSIS
E0301 (error): key read but never written
...
0
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

import attrs

from rldsl import __version__
from rldsl.cli_reading import (add_env_arguments, add_reading_arguments, add_size_argument, check_root, import_envs,
                               read_limits)
from rldsl.cli_graph import add_graph_parser
from rldsl.cli_new import add_new_parser
from rldsl.cli_run import add_run_parser

if TYPE_CHECKING:
    from rldsl.lang.includes import ReadLimits
    from rldsl.lang.report import Report

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rldsl`` command."""
    parser = argparse.ArgumentParser(
        prog="rldsl",
        description="A typed modeling language for reinforcement-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"rldsl {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    check = commands.add_parser(
        "check",
        help="check models: keys flow, shapes fit, outputs land in their specs",
        description="Check .rlm models without building them (torch is not imported). Exit status: 0 clean "
                    "(warnings allowed unless --strict), 1 problems found, 2 usage or I/O error.",
    )
    check.add_argument("files", nargs="+", metavar="FILE", help="the .rlm files to check (`-` reads standard input)")
    check.add_argument("--strict", action="store_true", help="fail (exit 1) on warnings too")
    check.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    check.add_argument("--print-types", action="store_true", help="also print the inferred spec of every key")
    check.add_argument("--explain-types", action="store_true",
                       help="also print why each key has its spec: the rules of its writer and the keys it read")
    check.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                       help="colour the text output (default: auto, on a terminal only)")
    check.add_argument("--dtype", choices=("f32", "f64"), default="f32",
                       help="the float dtype the model will be compiled in (default: f32)")
    add_reading_arguments(check)
    check.set_defaults(handler=_check)
    compile_ = commands.add_parser(
        "compile",
        help="build a model's modules and run each once on spec-random input",
        description="Check a .rlm model, build one module per declared name from rldsl.modules, print a summary "
                    "(keys read and written with their specs, submodules, parameters, device), run one forward pass "
                    "per module on spec-random input, and print where the time went. Exit status: 0 built, "
                    "1 check errors or a model over --max-params, 2 usage or I/O error (a device that is not there "
                    "included).",
    )
    compile_.add_argument("file", metavar="FILE", help="the .rlm file to compile")
    compile_.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    compile_.add_argument("--seed", type=int, default=0, help="the seed the weights are drawn with (default: 0)")
    compile_.add_argument("--dtype", choices=("f32", "f64"), default="f32", help="the float dtype (default: f32)")
    compile_.add_argument("-o", "--output", metavar="OUT.rlmz",
                          help="also write a model artifact (source, compile options, weights) to OUT.rlmz; "
                               "`rldsl.load(OUT.rlmz)` reads it back")
    compile_.add_argument("--max-params", type=_max_params, metavar="N",
                          help="refuse (exit 1) a model of more than N parameters, counted before anything is "
                               "allocated (default: 2**31, 8 GiB as f32)")
    add_reading_arguments(compile_)
    compile_.set_defaults(handler=_compile)
    explain = commands.add_parser("explain", help="explain a diagnostic code or a kind",
                                  description="Print the explanation of a diagnostic code, such as E0301, or "
                                              "describe a kind, such as MLP: its parameters (type, default, "
                                              "meaning), its type rule and the keys it reads and writes by "
                                              "default (torch is not imported). Exit status: 0 explained, 2 "
                                              "neither a code nor a kind.")
    explain.add_argument("code", metavar="CODE|KIND", help="a diagnostic code, such as E0301, or a kind, such as MLP")
    explain.set_defaults(handler=_explain)
    fmt = commands.add_parser(
        "fmt",
        help="rewrite models in the canonical layout",
        description="Rewrite .rlm files in place in the canonical layout, keeping comments (torch is not "
                    "imported); `-` formats standard input to standard output. A file with syntax errors is left "
                    "alone. Exit status: 0 done (or, with --check or --diff, nothing to change), 1 a file would "
                    "change (--check, --diff) or has syntax errors, 2 I/O error.",
    )
    fmt.add_argument("files", nargs="+", metavar="FILE",
                     help="the .rlm files to format (`-` reads standard input and writes the result to standard "
                          "output)")
    fmt.add_argument("--check", action="store_true",
                     help="write nothing: list the files that would change, and exit 1 if any would")
    fmt.add_argument("--diff", action="store_true",
                     help="write nothing: show each change as a unified diff, and exit 1 if a file would change")
    add_size_argument(fmt)
    fmt.set_defaults(handler=_fmt)
    inspect = commands.add_parser(
        "inspect",
        help="verify a model artifact and show what it holds",
        description="Verify a model artifact written by `rldsl compile FILE -o OUT.rlmz` (checksums, format, "
                    "weights that fit the stored source), rebuild it, run one forward pass per module and print "
                    "the stored compile options, source files and module summary. Nothing in the file is run as "
                    "code. Exit status: 0 intact, 2 unreadable, corrupt, tampered or not an artifact.",
    )
    inspect.add_argument("file", metavar="FILE.rlmz", help="the artifact to inspect")
    inspect.add_argument("--device", help="rebuild on this device instead of the one it was saved from")
    inspect.add_argument("--source", action="store_true", help="also print the stored root source file")
    inspect.add_argument("--max-params", type=_max_params, metavar="N",
                         help="refuse an artifact whose model has more than N parameters, before building it "
                              "(default: 2**31)")
    add_env_arguments(inspect)
    inspect.set_defaults(handler=_inspect)
    add_graph_parser(commands)
    add_run_parser(commands)
    add_new_parser(commands)
    _add_lsp_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (0 ok, 1 problems found, 2 usage or I/O error)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as stop:  # argparse has printed the usage error (or --help, --version)
        return stop.code if isinstance(stop.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_OK
    except Exception as error:  # never a traceback: say what happened and how to report it
        _say(f"internal error: {type(error).__name__}: {error}")
        _say("this is a bug in rldsl; please report it with the file that caused it")
        return EXIT_USAGE


def _say(message: str) -> None:
    """``rldsl: MESSAGE`` on standard error, control characters escaped (a message may quote a
    file name, an artifact's member name or an env id: none of them may drive the terminal)."""
    from rldsl.lang.render import escape_controls

    print(f"rldsl: {escape_controls(message)}", file=sys.stderr)


def _silence_stdout() -> None:
    """After a closed pipe, point stdout at devnull so that Python's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------------------------
# rldsl check


@attrs.frozen(slots=True)
class _Checked:
    """One file named on the command line: its report, or (``report`` None) why it could not be read."""

    path: str
    report: Report | None = None
    problem: str = ""


def _check(args: argparse.Namespace) -> int:
    problem = import_envs(args)
    if problem:
        _say(problem)
        return EXIT_USAGE
    checked = [_check_one(path, read_limits(args), args.dtype) for path in args.files]
    types = "explain" if args.explain_types else args.print_types
    if args.format == "json":
        _print_json(checked, types, sys.stdout)
    else:
        _print_text(checked, types, _use_color(args.color, sys.stdout), sys.stdout)
    if any(item.problem for item in checked):
        return EXIT_USAGE
    reports = [item.report for item in checked]
    if any(r.errors for r in reports) or (args.strict and any(r.warnings for r in reports)):
        return EXIT_PROBLEMS
    return EXIT_OK


def _check_one(path: str, limits: ReadLimits, dtype: str) -> _Checked:
    """Read, include and check one file named on the command line."""
    report, problem = check_root(path, limits, dtype)
    return _Checked(path, report, problem)


def _use_color(choice: str, stream: TextIO) -> bool:
    if choice == "always":
        return True
    if choice == "never" or "NO_COLOR" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _print_text(checked: list[_Checked], types: bool | str, color: bool, out: TextIO) -> None:
    """Diagnostics (or "ok"), then with ``types`` every key's spec (``"explain"``: and why)."""
    from rldsl.lang.render import render_text

    for item in checked:
        if item.problem:
            _say(item.problem)
    readable = [item for item in checked if not item.problem]
    diagnostics = [d for item in readable for d in item.report.diagnostics]
    sources = {name: source for item in readable for name, source in item.report.sources.items()}
    if diagnostics:
        print(render_text(diagnostics, sources, color=color), file=out)
    elif readable:
        count = len(readable)
        print(f"ok: {count} file{'s' if count != 1 else ''} checked, no problems found", file=out)
    if types == "explain":
        for item in readable:
            _explain_types(item, out)
    elif types:
        for item in readable:
            _print_types(item, out)


def _print_types(item: _Checked, out: TextIO) -> None:
    from rldsl.lang.types import spec_text

    print(f"\ntypes in {item.path}:", file=out)
    if not item.report.checked:
        print("  (not checked: fix the syntax errors first)", file=out)
        return
    rows = [(key.dotted, spec_text(key.spec), key.source) for key in item.report.keys]
    if not rows:
        print("  (no keys)", file=out)
        return
    width = max(len(name) for name, _, _ in rows)
    spec_width = min(max(len(spec) for _, spec, _ in rows), 48)
    for name, spec, source in rows:
        print(f"  {name:<{width}}  {spec:<{spec_width}}  {source}".rstrip(), file=out)


def _explain_types(item: _Checked, out: TextIO) -> None:
    print(f"\ntypes in {item.path}, and why:", file=out)
    if not item.report.checked:
        print("  (not checked: fix the syntax errors first)", file=out)
        return
    text = item.report.explain_types()
    print("\n".join(f"  {line}" for line in text.splitlines()) if text else "  (no keys)", file=out)


def _print_json(checked: list[_Checked], types: bool | str, out: TextIO) -> None:
    from rldsl.lang.render import escape_json

    files = []
    diagnostics = []
    for item in checked:
        entry: dict[str, Any] = {"path": item.path}
        if item.problem:
            entry["error"] = item.problem
        else:
            report = item.report
            entry.update(errors=len(report.errors), warnings=len(report.warnings), checked=report.checked)
            diagnostics += [d.to_dict() for d in report.diagnostics]
            if types:
                entry["types"] = report.types_json(explain=types == "explain")
        files.append(entry)
    errors = sum(1 for d in diagnostics if d["severity"] == "error")
    document = {"files": files, "diagnostics": diagnostics, "errors": errors, "warnings": len(diagnostics) - errors}
    print(escape_json(json.dumps(document, indent=2, ensure_ascii=False)), file=out)


# ---------------------------------------------------------------------------------------------
# rldsl compile


def _compile(args: argparse.Namespace) -> int:
    import time

    import rldsl.lang.check  # noqa: F401  (before the clock: "check ... ms" times checking, not importing)
    from rldsl.cli_torch import announce_torch_import

    announce_torch_import()  # on stderr: seconds of silence otherwise, on a cold machine
    started = time.perf_counter()
    import torch  # noqa: F401  (timed on its own: it dominates a fresh process)

    import rldsl.modules  # noqa: F401  (tensordict and the runtime library, also imports)

    imported = time.perf_counter()
    problem = import_envs(args)
    if problem:
        _say(problem)
        return EXIT_USAGE
    item = _check_one(args.file, read_limits(args), args.dtype)
    if item.problem:
        _say(item.problem)
        return EXIT_USAGE
    checked = time.perf_counter()
    if item.report.errors:
        _print_text([item], False, _use_color("auto", sys.stdout), sys.stdout)
        return EXIT_PROBLEMS
    from rldsl.compiler import CompileError, compile_report
    from rldsl.compiler.limits import DEFAULT_MAX_PARAMS, ModelTooLarge
    from rldsl.compiler.summary import run_once, summary

    limit = args.max_params or DEFAULT_MAX_PARAMS
    try:
        program = compile_report(item.report, device=args.device, seed=args.seed, dtype=args.dtype,
                                 max_params=limit)
    except ModelTooLarge as error:  # the model's size: refused before anything was allocated
        _say(str(error))
        return EXIT_PROBLEMS
    except CompileError as error:  # with a report: the model's fault (an unsized dim), else the machine's
        _say(str(error))
        return EXIT_PROBLEMS if error.report is not None else EXIT_USAGE
    built = time.perf_counter()
    outputs = run_once(program)
    ran = time.perf_counter()
    print(summary(program, outputs), file=sys.stdout)
    _print_parameters(program, limit)
    print(f"time: import torch and rldsl.modules {1000 * (imported - started):.0f} ms, check {1000 * (checked - imported):.0f} ms, "
          f"build {1000 * (built - checked):.0f} ms, first forward {1000 * (ran - built):.0f} ms", file=sys.stdout)
    if args.output:
        return _write_artifact(args, program, item)
    return EXIT_OK


def _max_params(text: str) -> int:
    """``--max-params N``: a positive number of parameters (``4_000_000_000`` and ``2**32`` too)."""
    from rldsl.compiler.limits import parse_max_params

    try:
        return parse_max_params(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from error


def _print_parameters(program: Any, limit: int) -> None:
    """The model's parameter count (shared ones once), its size, and the limit it was built under."""
    from rldsl.compiler.limits import parameter_total, size_text

    total = parameter_total(dict.fromkeys(program.values()))
    print(f"parameters: {total:,} in total ({size_text(total, program.dtype)}); limit {limit:,} (--max-params)",
          file=sys.stdout)


def _write_artifact(args: argparse.Namespace, program: Any, item: _Checked) -> int:
    """Write ``program`` as an artifact to ``args.output`` and say where, and how big."""
    from rldsl.compiler.artifact import ArtifactError, write_artifact

    try:
        size = write_artifact(args.output, program, args.file, item.report.sources, seed=args.seed, dtype=args.dtype)
    except (ArtifactError, OSError) as error:
        _say(f"cannot write `{args.output}`: {error}")
        return EXIT_USAGE
    print(f"wrote {args.output} ({size:,} bytes)", file=sys.stdout)
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# rldsl inspect


def _inspect(args: argparse.Namespace) -> int:
    from rldsl.cli_torch import announce_torch_import

    announce_torch_import()
    from rldsl.compiler import CompileError
    from rldsl.compiler.artifact import ArtifactError, inspect_artifact
    from rldsl.compiler.limits import DEFAULT_MAX_PARAMS
    from rldsl.compiler.summary import run_once, summary

    problem = import_envs(args)
    if problem:
        _say(problem)
        return EXIT_USAGE
    try:
        contents, program = inspect_artifact(args.file, device=args.device,
                                             max_params=args.max_params or DEFAULT_MAX_PARAMS)
    except (ArtifactError, CompileError) as error:
        _say(str(error))
        return EXIT_USAGE
    except OSError as error:
        _say(f"cannot read `{args.file}`: {error.strerror or error}")
        return EXIT_USAGE
    from rldsl.lang.render import escape_controls as shown  # what the artifact says is shown, never obeyed

    manifest, options = contents.manifest, contents.manifest["options"]
    print(shown(f"{args.file}: rldsl artifact version {manifest['version']}, written by rldsl "
                f"{manifest.get('rldsl', '?')}"))
    print(shown(f"compile options: device {options['device']}, seed {options['seed']}, dtype {options['dtype']}"))
    print(shown("sources: " + ", ".join(f"{name} ({len(text.encode()):,} bytes)"
                                        + (" [root]" if name == manifest["root"] else "")
                                        for name, text in contents.sources.items())))
    tensors = sum(len(module.state_dict()) for module in program.values())
    print(f"weights: {contents.weights_bytes:,} bytes, {tensors} tensors; checksums verified, loaded with "
          "weights_only=True")
    print()
    try:
        outputs = run_once(program)
    except Exception as error:  # noqa: BLE001 (a model rebuilt from a file someone else wrote: refuse, never crash)
        _say(f"`{args.file}`: the rebuilt model fails its forward pass ({type(error).__name__}: {error})")
        return EXIT_USAGE
    print(summary(program, outputs))
    if args.source:
        print()
        print(shown(f"--- {manifest['root']}"))
        print(shown(contents.sources[manifest["root"]], keep="\n\t"), end="")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# rldsl lsp


def _add_lsp_parser(commands: Any) -> None:
    """``rldsl lsp``: the language server, for editors (pygls, the optional extra ``rldsl[lsp]``)."""
    lsp = commands.add_parser(
        "lsp",
        help="run the language server for editors (on standard input and output)",
        description="Run the rldsl language server over standard input and output, for an editor to start: "
                    "diagnostics as you type, hover, completion, go to definition and formatting of .rlm files "
                    "(torch is not imported; nothing a model names is imported or run). Needs pygls: "
                    "pip install 'rldsl[lsp]'. Exit status: 0 after the editor's exit, 2 pygls missing or a "
                    "usage error.",
    )
    add_reading_arguments(lsp)
    lsp.set_defaults(handler=_lsp)


def _lsp(args: argparse.Namespace) -> int:
    from rldsl.lsp import INSTALL_HINT

    try:
        from rldsl.lsp.server import serve
    except ModuleNotFoundError as error:
        if (error.name or "").split(".")[0] not in ("pygls", "lsprotocol", "cattrs"):
            raise
        _say(f"the language server needs pygls, which is not installed: {INSTALL_HINT}")
        return EXIT_USAGE
    problem = import_envs(args)
    if problem:
        _say(problem)
        return EXIT_USAGE
    serve(read_limits(args))
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# rldsl explain


def _explain(args: argparse.Namespace) -> int:
    from rldsl.cli_explain import explain_topic

    text, problem = explain_topic(args.code)
    if problem:
        _say(problem)
        return EXIT_USAGE
    print(text, end="")
    return EXIT_OK


# ---------------------------------------------------------------------------------------------
# rldsl fmt


def _fmt(args: argparse.Namespace) -> int:
    """Format each file; the exit status is the worst outcome (2 unreadable, 1 changed or broken)."""
    if args.files.count("-") > 1:
        _say("`-` (standard input) can be named only once")
        return EXIT_USAGE
    mode = "diff" if args.diff else "check" if args.check else "write"
    return max(_fmt_one(path, mode, args.max_file_bytes) for path in args.files)


def _fmt_one(path: str, mode: str, max_bytes: int) -> int:
    """Format one file in place (``-``: standard input, printed to standard output), or only say
    whether it would change (``mode`` "check") or show the change as a diff ("diff"). Syntax
    errors are printed as ``rldsl check`` prints them (on standard error for ``-``, whose
    standard output is the formatted text)."""
    from rldsl.lang.includes import decode_source
    from rldsl.lang.printer import format_source, unified_diff
    from rldsl.lang.render import escape_controls, render_text

    name = "<stdin>" if path == "-" else path
    data, unreadable = _read_fmt_input(path, max_bytes)
    if data is None:
        _say(unreadable)
        return EXIT_USAGE
    source, problem = decode_source(data, name)
    if source is None:
        _say(problem.message)
        return EXIT_USAGE
    try:
        text, errors = format_source(source)
    except ValueError as error:
        _say(f"internal error: {error}; `{name}` was left as it was")
        return EXIT_USAGE
    if text is None:
        stream = sys.stderr if path == "-" else sys.stdout
        print(render_text(errors, {name: source}, color=_use_color("auto", stream)), file=stream)
        return EXIT_PROBLEMS
    before = data.decode("utf-8")
    if mode == "diff":  # escaped: a control character in a file must not drive the terminal
        sys.stdout.write(escape_controls(unified_diff(before, text, name), keep="\n\t"))
        return EXIT_PROBLEMS if text != before else EXIT_OK
    if path == "-" and mode == "write":
        sys.stdout.write(text)
        return EXIT_OK
    if text == before:
        return EXIT_OK
    if mode == "check":
        print(f"would reformat {name}", file=sys.stdout)
        return EXIT_PROBLEMS
    return _write_formatted(path, text)


def _read_fmt_input(path: str, max_bytes: int) -> tuple[bytes | None, str]:
    """The bytes of a file to format (``-``: standard input), at most ``max_bytes``: ``(data, "")``
    or ``(None, why)``."""
    from rldsl.lang.includes import read_bytes

    if path == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
        if len(data) > max_bytes:
            return None, f"standard input is larger than the limit of {max_bytes:,} bytes (raise it with " \
                         "--max-file-bytes)"
        return data, ""
    try:
        return read_bytes(path, max_bytes), ""
    except OSError as error:
        return None, f"cannot read `{path}`: {error.strerror or error}"


def _write_formatted(path: str, text: str) -> int:
    """Write the formatted text over ``path``."""
    try:
        with open(path, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
    except OSError as error:
        _say(f"cannot write `{path}`: {error.strerror or error}")
        return EXIT_USAGE
    print(f"reformatted {path}", file=sys.stdout)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
