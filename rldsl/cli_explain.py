"""``rldsl explain CODE | KIND``: the explanation of a diagnostic code, or the description of a kind.

A code (``E0301``, ``w0501``) prints its explanation from the code table; a kind name (``MLP``,
``ProbabilisticActor``) prints what the kind registry says about it: its summary and runtime
class, the keys it reads and writes by default, its type rule, and every parameter with its type,
default (or that it is required) and meaning. Both end with where the full documentation is: the
docs are installed with the package (``rldsl/docs``), so the path printed exists in a checkout and
in an installed wheel alike. Nothing here imports torch.

>>> text, problem = explain_topic("TanhNormal")
>>> print(text.splitlines()[0])
TanhNormal: a distribution kind
>>> explain_topic("TanhNormel")[1]
'unknown kind `TanhNormel`: did you mean `TanhNormal`?'
"""

from __future__ import annotations

import re
import textwrap

from rldsl.lang.kinds import REQUIRED, Kind, Param, lookup
from rldsl.lang.kinds.texts import default_text, type_text

__all__ = ["explain_kind", "explain_topic", "installed_doc", "looks_like_code"]

#: The width explanations are wrapped to.
WIDTH = 100

#: What follows "a" in a kind's first line, by family.
_FAMILY_WORDS = {
    "network": "a network kind",
    "activation": "an activation kind",
    "distribution": "a distribution kind",
    "module": "a module kind",
    "tensor": "a constant-tensor kind",
    "config": "a configuration kind (its fields are given as `dict(...)`)",
}


def installed_doc(name: str) -> str:
    """Where the document ``name`` (``"language.md"``) is on this machine: the copy installed with
    the package (``rldsl/docs``), or, when it cannot be found there, its path in the repository."""
    from importlib import resources

    try:
        path = resources.files("rldsl.docs").joinpath(name)
        if path.is_file():
            return str(path)
    except (ImportError, OSError, TypeError, ValueError):  # no rldsl.docs: a broken install, say the repo path
        pass
    return f"docs/{name}"


def looks_like_code(text: str) -> bool:
    """Whether ``text`` is written like a diagnostic code (``E0301``, ``w501``), not a kind name."""
    return re.fullmatch(r"[EeWw]\d+", text) is not None


def explain_topic(topic: str) -> tuple[str, str]:
    """``(text, "")`` explaining a code or a kind, or ``("", why)`` when ``topic`` is neither (with
    the code or kind it most likely means)."""
    if looks_like_code(topic):
        return _explain_code(topic)
    kind = lookup(topic)
    if kind is None:
        return "", _unknown_kind(topic)
    return explain_kind(kind), ""


def _explain_code(code: str) -> tuple[str, str]:
    from rldsl.lang.diagnostics import CODES, explain
    from rldsl.lang.values import suggest

    try:
        text = explain(code)
    except KeyError:
        guess = suggest(code.upper(), CODES)
        hint = f"; did you mean {guess}?" if guess else "; codes look like E0301 or W0501"
        return "", f"unknown diagnostic code `{code}`{hint}"
    return f"{text}\nevery code: {installed_doc('diagnostics.md')}\n", ""


def _unknown_kind(name: str) -> str:
    """Why ``name`` is no kind: the torchrl spelling it stands for, why a torchrl class is not a
    kind, or the closest kind name."""
    from rldsl.lang.kind_hints import unknown_kind_help

    fallback = ("`rldsl explain` takes a diagnostic code (`E0301`) or a kind name (`MLP`); every kind is "
                f"described in {installed_doc('language.md')}")
    help_text, _ = unknown_kind_help(name, fallback=fallback)
    return f"unknown kind `{name}`: {help_text}"


def explain_kind(kind: Kind) -> str:
    """What the registry says about ``kind``, as text for a terminal."""
    family = _FAMILY_WORDS.get(kind.family.value, f"a {kind.family.value} kind")
    lines = [f"{kind.name}: {family}", ""]
    lines += _wrapped(kind.summary)
    facts = [("runtime class", kind.runtime), ("reads", kind.reads), ("writes", kind.writes), ("type rule", kind.rule)]
    if kind.role:
        facts.append(("declared with", f"`{kind.role}` (or `module`)"))
    lines.append("")
    for label, text in facts:
        if text:
            lines += _wrapped(text, f"{label + ':':<15}")
    lines += ["", *_parameters(kind)]
    if kind.omitted:
        left = "; ".join(f"`{name}` ({why})" for name, why in kind.omitted)
        lines += ["", *_wrapped(f"not in the language: {left}")]
    lines += ["", f"every kind: {installed_doc('language.md')}"]
    return "\n".join(lines) + "\n"


def _parameters(kind: Kind) -> list[str]:
    """One entry per parameter: name, type and default on the first line, meaning below."""
    if not kind.params:
        return ["parameters: none"]
    width = min(max(len(_param_name(p)) for p in kind.params), 28)
    lines = ["parameters:"]
    for param in kind.params:
        name = _param_name(param)
        head = f"  {name:<{width}}  {type_text(param)}; {_default_text(param)}"
        lines += _wrapped(head.rstrip(), indent=" " * (width + 4), first_indent="")
        if param.doc:
            lines += _wrapped(param.doc, " " * (width + 4))
    return lines


def _param_name(param: Param) -> str:
    return f"{param.name} (positional)" if param.positional else param.name


def _default_text(param: Param) -> str:
    return "required" if param.default is REQUIRED else f"default {default_text(param)}"


def _wrapped(text: str, first_indent: str = "", indent: str | None = None) -> list[str]:
    """``text`` wrapped to :data:`WIDTH`, the first line after ``first_indent``, the others
    under ``indent`` (by default as deep as ``first_indent``)."""
    indent = " " * len(first_indent) if indent is None else indent
    return textwrap.wrap(text, WIDTH, initial_indent=first_indent, subsequent_indent=indent,
                         break_long_words=False, break_on_hyphens=False) or [first_indent.rstrip()]
