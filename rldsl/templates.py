"""Starter templates: the zoo's models (``examples/zoo``, shipped in the wheel as ``rldsl/zoo``), each a
torchrl reference model written in ``.rlm``, for ``rldsl new TEMPLATE [FILE]``.

A zoo file starts with its header: ``# zoo: <algorithm> (<env family>)``, ``# mirrors: <torchrl file>``
and ``# template: <one line for --list>``. A template is named by its file's stem (``sac_mujoco``)
or by its algorithm alone (``sac``), which picks the family users start from most often.

>>> templates = zoo_templates()
>>> all(t.name and t.description for t in templates)
True
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import resources

import attrs

from rldsl.errors import RldslError

__all__ = ["Template", "TemplateError", "find_template", "zoo_templates"]

#: When an algorithm name matches several files, the family picked, in this order.
FAMILY_ORDER = ("mujoco", "pendulum", "cartpole", "vmas", "vmas_continuous", "atari", "dm_control", "discrete")
#: The largest template read (a zoo file is a few kilobytes).
MAX_TEMPLATE_BYTES = 1 << 20


class TemplateError(RldslError, ValueError):
    """A template name that matches none: the message says how to list the names."""


@attrs.frozen(slots=True)
class Template:
    """One zoo model: its name (the file stem), its header fields and its text."""

    name: str
    algorithm: str
    mirrors: str
    description: str
    text: str = attrs.field(repr=False)


def _header(text: str) -> dict[str, str]:
    """The ``# field: value`` lines at the top of a zoo file (before the first line that is not a comment)."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        field, sep, value = line[1:].strip().partition(":")
        if sep and field in ("zoo", "mirrors", "template") and field not in fields:
            fields[field] = value.strip()
    return fields


def zoo_templates() -> list[Template]:
    """Every zoo model that has a complete header, by name."""
    found = []
    for entry in resources.files("rldsl.zoo").iterdir():
        if not entry.name.endswith(".rlm") or not entry.is_file():
            continue
        data = entry.read_bytes()[:MAX_TEMPLATE_BYTES + 1]
        if len(data) > MAX_TEMPLATE_BYTES:
            continue
        text = data.decode("utf-8", errors="replace")
        fields = _header(text)
        if {"zoo", "mirrors", "template"} <= fields.keys():
            found.append(Template(entry.name[:-4], fields["zoo"], fields["mirrors"], fields["template"], text))
    return sorted(found, key=lambda t: t.name)


def _family_rank(name: str, algorithm: str) -> int:
    family = name[len(algorithm) + 1:]
    return FAMILY_ORDER.index(family) if family in FAMILY_ORDER else len(FAMILY_ORDER)


def find_template(name: str, templates: Iterable[Template] | None = None) -> Template:
    """The template named ``name``: a file stem, or an algorithm (``sac``: its first family in
    :data:`FAMILY_ORDER`). Raises :class:`TemplateError` listing the names otherwise.

    >>> find_template("sac").name
    'sac_mujoco'
    """
    known = list(zoo_templates() if templates is None else templates)
    wanted = name.strip().lower().replace("-", "_")
    exact = [t for t in known if t.name == wanted]
    if exact:
        return exact[0]
    family = [t for t in known if t.name.startswith(wanted + "_")]
    if family:
        return min(family, key=lambda t: (_family_rank(t.name, wanted), t.name))
    from rldsl.lang.values import suggest

    guess = suggest(wanted, [t.name for t in known] + sorted({t.name.split("_")[0] for t in known}))
    hint = f"; did you mean `{guess}`?" if guess else ""
    raise TemplateError(f"no template `{name}`{hint} (`rldsl new --list` shows them)")
