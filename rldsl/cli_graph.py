"""The command line of ``rldsl graph``: its arguments, parsed without importing the drawing
(:mod:`rldsl.lang.graph`), so that ``rldsl check`` starts without it."""

from __future__ import annotations

import argparse
from typing import Any

from rldsl.cli_reading import add_reading_arguments

__all__ = ["FORMATS", "add_graph_parser"]

#: What ``--format`` writes: DOT text, or a drawing by Graphviz's ``dot``.
FORMATS = ("dot", "svg", "png")


def add_graph_parser(commands: Any) -> argparse.ArgumentParser:
    """Register ``rldsl graph FILE [-o OUT] [--format dot|svg|png]`` on argparse subparsers."""
    graph = commands.add_parser(
        "graph",
        help="draw a model's key flow: modules as boxes, keys as edges with their specs",
        description="Check a .rlm model and write its key-flow graph as Graphviz DOT, or as SVG/PNG drawn by "
                    "Graphviz's `dot` program (apt-get install graphviz). Exit status: 0 written, 1 check errors, "
                    "2 usage or I/O error, or `dot` missing.",
    )
    graph.add_argument("file", metavar="FILE", help="the .rlm file to draw")
    graph.add_argument("-o", "--output", metavar="OUT", help="write the graph to OUT (default: standard output)")
    graph.add_argument("--format", choices=FORMATS, default="dot", help="output format (default: dot)")
    add_reading_arguments(graph)
    graph.set_defaults(handler=_graph)
    return graph


def _graph(args: argparse.Namespace) -> int:
    """``rldsl graph``: the drawing, imported now."""
    from rldsl.lang.graph import run_graph

    return run_graph(args)
