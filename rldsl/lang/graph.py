"""The key-flow graph of a checked model, as Graphviz DOT (``rldsl graph FILE``).

Every declared module is a box (its name and kind); every key that no module writes but some
module reads (a declared key, or one an env provides) is an ellipse; each key a module writes is
an edge from the writer to every module that reads it, labelled with the key and its inferred
spec. A written key that no module reads ends at a dashed sink node of its own. The output is
sorted, so the same model always gives the same text. Pure Python: torch is never imported.

>>> import rldsl
>>> report = rldsl.check("key observation : f32[3]\\nactor policy = Actor(MLP(out_features=2))\\n")
>>> print(key_flow_dot(report))  # doctest: +NORMALIZE_WHITESPACE
digraph key_flow {
  rankdir=LR;
  node [fontname="Helvetica"];
  edge [fontname="Helvetica", fontsize=10];
  "module:policy" [shape=box, label="policy\\nActor"];
  "key:observation" [shape=ellipse, label="observation\\ndeclared"];
  "out:action" [shape=plaintext, style=dashed, label="action"];
  "key:observation" -> "module:policy" [label="observation : f32[3]"];
  "module:policy" -> "out:action" [style=dashed, label="action : f32[2]"];
}

The command line itself: :func:`rldsl.cli_graph.add_graph_parser` registers ``rldsl graph`` on the
subparsers of ``rldsl``'s parser, and :func:`run_graph` runs it (exit status 0 written, 1 check errors, 2 usage
or I/O error, or Graphviz missing for ``--format svg|png``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rldsl.cli_reading import check_root, import_envs, read_limits
from rldsl.lang.ir import DISCARD, KeyRef, ModuleNode, Network
from rldsl.lang.types import spec_text

if TYPE_CHECKING:
    from rldsl.lang.report import Report

__all__ = ["dot_quote", "key_flow_dot", "run_graph"]

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

Path = tuple[str, ...]


# ---------------------------------------------------------------------------------------------
# DOT text


def dot_quote(text: str) -> str:
    """``text`` as a quoted DOT string: backslashes and quotes escaped, line breaks as ``\\n``.

    >>> print(dot_quote('say "hi" \\\\ bye'))
    "say \\"hi\\" \\\\ bye"
    """
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\r\n", "\\n").replace("\n", "\\n") + '"'


def _label(*lines: str) -> str:
    """A DOT label of one or more lines (each escaped, joined by DOT's ``\\n``)."""
    return dot_quote("\n".join(line for line in lines if line))


def _dotted(path: Path) -> str:
    return ".".join(path)


def _module_nodes(report: Report) -> dict[str, ModuleNode]:
    """The declared modules of a report (networks and distributions left out), by name."""
    return {name: node for name, node in report.modules.items() if isinstance(node, ModuleNode)}


def _network_text(network: Network | None) -> str:
    """A network in words: its kind's name, or the stages of a pipe joined by ``>>``."""
    if network is None:
        return ""
    if network.kind is not None:
        return network.kind.name
    return " >> ".join(filter(None, (_network_text(stage) for stage in network.stages)))


def _kind_text(node: ModuleNode) -> str:
    """What a module is made of: its kind (``Actor``), or the network of a keyed module."""
    if node.kind is not None:
        return node.kind.name
    return _network_text(node.network) or node.form.value


def _specs(report: Report) -> dict[str, str]:
    """The spec text of every key of the report, by dotted name."""
    return {key.dotted: spec_text(key.spec) for key in report.keys}


def _sources(report: Report) -> dict[str, str]:
    """Where each key comes from (``declared``, ``env `pendulum```), for input nodes."""
    return {key.dotted: key.source.split(";", 1)[0] for key in report.keys}


def _writers(modules: Mapping[str, ModuleNode]) -> dict[Path, set[str]]:
    """The modules that write each key themselves (not through a named child)."""
    writers: dict[Path, set[str]] = {}
    for name, node in modules.items():
        for ref in node.own_writes:
            if ref.path != DISCARD:  # thrown away by tensordict: no key to draw
                writers.setdefault(ref.path, set()).add(name)
    return writers


def _reads(node: ModuleNode) -> Iterable[KeyRef]:
    """Every key a module reads: from outside, from its own parts, and those read when present."""
    return (*node.reads, *node.inner_reads, *node.optional_reads)


def _readers(modules: Mapping[str, ModuleNode]) -> dict[Path, set[str]]:
    """The modules that read each key (directly, or through one of their parts)."""
    readers: dict[Path, set[str]] = {}
    for name, node in modules.items():
        for ref in _reads(node):
            readers.setdefault(ref.path, set()).add(name)
    return readers


def _covers(read: Path, written: Path) -> bool:
    """Reading ``read`` reads ``written``: the same key, or a key nested under it."""
    return written[: len(read)] == read


def _sinks(writers: Mapping[Path, set[str]], readers: Mapping[Path, set[str]]) -> list[tuple[Path, str]]:
    """``(key, writer)`` for each output that no module other than its writer reads, sorted."""
    out = []
    for path, names in writers.items():
        for writer in names:
            others = (reader for read, by in readers.items() if _covers(read, path) for reader in by)
            if all(reader == writer for reader in others):
                out.append((path, writer))
    return sorted(out)


def _edge(source: str, target: str, label: str, dashed: bool = False) -> str:
    style = "style=dashed, " if dashed else ""
    return f"  {dot_quote(source)} -> {dot_quote(target)} [{style}label={_label(label)}];"


def _key_label(dotted: str, specs: Mapping[str, str]) -> str:
    """An edge label: the key and its spec (the key alone when it has no known spec)."""
    spec = specs.get(dotted)
    return f"{dotted} : {spec}" if spec else dotted


def key_flow_dot(report: Report) -> str:
    """The key-flow graph of a checked model (a :class:`~rldsl.lang.report.Report`) as
    Graphviz DOT text: module boxes, input keys as ellipses, keys as labelled edges from writers
    to readers, and unread outputs as dashed sinks. Sorted, so deterministic."""
    modules = _module_nodes(report)
    specs, sources = _specs(report), _sources(report)
    writers, readers = _writers(modules), _readers(modules)
    lines = ["digraph key_flow {", "  rankdir=LR;", '  node [fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];']
    lines += [f"  {dot_quote('module:' + name)} [shape=box, label={_label(name, _kind_text(modules[name]))}];"
              for name in sorted(modules)]
    inputs = sorted(path for path in readers if not any(_covers(path, w) for w in writers))
    lines += [f"  {dot_quote('key:' + _dotted(path))} [shape=ellipse, "
              f"label={_label(_dotted(path), sources.get(_dotted(path), ''))}];" for path in inputs]
    sinks = _sinks(writers, readers)
    lines += [f"  {dot_quote('out:' + _dotted(path))} [shape=plaintext, style=dashed, label={_label(_dotted(path))}];"
              for path in sorted({path for path, _ in sinks})]
    lines += _input_edges(inputs, readers, specs)
    lines += _flow_edges(writers, readers, specs)
    lines += [_edge("module:" + writer, "out:" + _dotted(path), _key_label(_dotted(path), specs), dashed=True)
              for path, writer in sinks]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _input_edges(inputs: list[Path], readers: Mapping[Path, set[str]], specs: Mapping[str, str]) -> list[str]:
    """An edge from each input key to every module that reads it."""
    return [_edge("key:" + _dotted(path), "module:" + reader, _key_label(_dotted(path), specs))
            for path in inputs for reader in sorted(readers[path])]


def _flow_edges(writers: Mapping[Path, set[str]], readers: Mapping[Path, set[str]],
                specs: Mapping[str, str]) -> list[str]:
    """An edge from the writer of each key to every other module that reads it (or a key it is under)."""
    edges = set()
    for read, names in readers.items():
        for written, by in writers.items():
            if not _covers(read, written):
                continue
            label = _key_label(_dotted(written), specs)
            edges |= {(writer, reader, label) for writer in by for reader in names if writer != reader}
    return [_edge("module:" + writer, "module:" + reader, label) for writer, reader, label in sorted(edges)]


# ---------------------------------------------------------------------------------------------
# rldsl graph


def run_graph(args: argparse.Namespace) -> int:
    """Run ``rldsl graph``: check ``args.file``, then write its graph in ``args.format`` to
    ``args.output`` or standard output. Returns the exit status."""
    problem = import_envs(args)
    report, problem = (None, problem) if problem else check_root(args.file, read_limits(args))
    if report is None:
        return _fail(problem)
    if report.errors:
        _print_diagnostics(report)
        return EXIT_PROBLEMS
    if report.diagnostics:  # warnings: shown, but the graph is still drawn
        _print_diagnostics(report)
    text = key_flow_dot(report)
    if args.format == "dot":
        return _write(args.output, text.encode("utf-8"))
    return _draw(text, args.format, args.output)


def _fail(message: str) -> int:
    from rldsl.lang.render import escape_controls

    print(f"rldsl: {escape_controls(message)}", file=sys.stderr)
    return EXIT_USAGE


def _print_diagnostics(report: Report) -> None:
    """Render diagnostics as ``rldsl check`` does, on standard error (standard output is the graph)."""
    isatty = getattr(sys.stderr, "isatty", None)
    color = bool(isatty and isatty()) and "NO_COLOR" not in os.environ
    print(report.render(color=color), file=sys.stderr)


def _write(output: str | None, data: bytes) -> int:
    """Write ``data`` to the file ``output``, or to standard output when there is none."""
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        with open(output, "wb") as file:
            file.write(data)
    except OSError as error:
        return _fail(f"cannot write `{output}`: {error.strerror or error}")
    return EXIT_OK


def _draw(text: str, fmt: str, output: str | None) -> int:
    """Draw DOT ``text`` as ``fmt`` (svg, png) with Graphviz's ``dot`` and write it."""
    dot = shutil.which("dot")
    if dot is None:
        return _fail(f"--format {fmt} needs Graphviz's `dot` program, which is not installed: install Graphviz "
                     "(`apt-get install graphviz`) or use `--format dot`")
    try:
        drawn = subprocess.run([dot, f"-T{fmt}"], input=text.encode("utf-8"), capture_output=True, check=False)
    except OSError as error:
        return _fail(f"cannot run `{dot}`: {error.strerror or error}")
    if drawn.returncode != 0:
        reason = drawn.stderr.decode("utf-8", "replace").strip() or f"exit status {drawn.returncode}"
        return _fail(f"`dot -T{fmt}` failed: {reason}")
    return _write(output, drawn.stdout)
