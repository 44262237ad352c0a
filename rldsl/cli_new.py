"""``rldsl new TEMPLATE [FILE]``: start a model from the zoo (:mod:`rldsl.templates`).

``rldsl new --list`` shows the templates; ``rldsl new sac -o my_sac.rlm`` writes torchrl's SAC
model as a file that checks and compiles as it is. An existing file is kept unless ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

__all__ = ["add_new_parser"]

EXIT_OK, EXIT_USAGE = 0, 2


def add_new_parser(commands: Any) -> None:
    """Register ``rldsl new`` on the subparsers of ``rldsl``'s parser."""
    new = commands.add_parser(
        "new",
        help="start a model from a template: one of torchrl's reference algorithms, written in .rlm",
        description="Write a zoo model (torchrl's reference networks for an algorithm, in .rlm) as a new file that "
                    "checks and compiles as it is, to edit from there. TEMPLATE is a name from `rldsl new --list` "
                    "(`sac_mujoco`) or an algorithm (`sac`). Exit status: 0 written, 2 unknown template, an existing "
                    "file (use --force) or a write error.",
    )
    new.add_argument("template", nargs="?", metavar="TEMPLATE", help="the template (see --list)")
    new.add_argument("file", nargs="?", metavar="FILE", help="where to write it (default: TEMPLATE.rlm)")
    new.add_argument("-o", "--output", metavar="FILE", help="where to write it (the same as FILE)")
    new.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    new.add_argument("--list", action="store_true", help="list the templates and what each is")
    new.set_defaults(handler=_new)


def _say(message: str) -> None:
    print(f"rldsl: {message}", file=sys.stderr)


def _new(args: argparse.Namespace) -> int:
    from rldsl.templates import TemplateError, find_template, zoo_templates

    if args.list:
        templates = zoo_templates()
        width = max((len(t.name) for t in templates), default=0)
        for template in templates:
            print(f"{template.name:<{width}}  {template.description}")
        return EXIT_OK
    if args.template is None:
        _say("name a template, as in `rldsl new sac`; `rldsl new --list` shows them")
        return EXIT_USAGE
    if args.file is not None and args.output is not None and args.file != args.output:
        _say(f"two files given, `{args.file}` and `-o {args.output}`: give one")
        return EXIT_USAGE
    try:
        template = find_template(args.template)
    except TemplateError as error:
        _say(str(error))
        return EXIT_USAGE
    path = args.output or args.file or f"{template.name}.rlm"
    if os.path.lexists(path) and not args.force:
        _say(f"`{path}` exists: pass --force to overwrite it, or name another file")
        return EXIT_USAGE
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(template.text)
    except OSError as error:
        _say(f"cannot write `{path}`: {error.strerror or error}")
        return EXIT_USAGE
    print(f"wrote {path}: {template.algorithm}, from {template.mirrors}")
    print(f"next: rldsl check {path} && rldsl compile {path}")
    return EXIT_OK
