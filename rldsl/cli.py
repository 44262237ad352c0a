"""The ``rldsl`` command line: argument parsing and dispatch to the subcommands."""

from __future__ import annotations

import argparse
import sys

from rldsl import __version__


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``rldsl`` command."""
    parser = argparse.ArgumentParser(
        prog="rldsl",
        description="A typed modeling language for reinforcement-learning models.",
    )
    parser.add_argument("--version", action="version", version=f"rldsl {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the process exit code (0 ok, 1 findings, 2 usage)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
