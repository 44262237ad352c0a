"""A kind and its parameters as the editor shows them: markdown for hover, one line for completion.

Everything here is read from the kind registry (:mod:`rldsl.lang.kinds`): the kind's summary, its
parameters (name, type, default, what each means), the keys it reads and writes by default and
its type rule, in words. The same words as the generated reference in ``docs/language.md``.

>>> from rldsl.lang.kinds import lookup
>>> mlp = lookup("MLP")
>>> param_detail(mlp.param("out_features")), param_detail(mlp.param("num_cells"))
('a size or a tuple of sizes (required)', 'a size or a list of sizes = none')
"""

from __future__ import annotations

from rldsl.lang.kinds import Kind, Param
from rldsl.lang.kinds.texts import default_text, type_text

__all__ = ["default_text", "kind_markdown", "param_detail", "param_markdown"]


def param_detail(param: Param) -> str:
    """One line: the parameter's type and default (what completion shows beside its name)."""
    default = default_text(param)
    return f"{type_text(param)} ({default})" if param.required else f"{type_text(param)} = {default}"


def _escape(text: str) -> str:
    """Text for a markdown table cell."""
    return text.replace("|", "\\|").replace("\n", " ")


def _default_cell(param: Param) -> str:
    return "required" if param.required else f"`{default_text(param)}`"


def param_markdown(kind: Kind, param: Param) -> str:
    """Hover text of a keyword argument's name: the parameter of ``kind`` it sets."""
    position = ", positional" if param.positional else ""
    lines = [f"**`{param.name}`**: parameter of `{kind.name}`{position}", "",
             f"- type: {type_text(param)}", f"- default: {_default_cell(param)}"]
    if param.doc:
        lines += ["", param.doc]
    if param.aka:
        lines += ["", "also tried as: " + ", ".join(f"`{name}`" for name in param.aka)]
    return "\n".join(lines)


def kind_markdown(kind: Kind) -> str:
    """Hover text of a kind's name: summary, default keys, type rule and parameter table."""
    lines = [f"**`{kind.name}`** ({kind.family.value}) · runtime `{kind.runtime}`", "", kind.summary]
    facts = [f"- {what}: {text}" for what, text in (("reads", kind.reads), ("writes", kind.writes),
                                                     ("type rule", kind.rule)) if text]
    if kind.role:
        facts.append(f"- declared with: `{kind.role}` (or `module`)")
    if facts:
        lines += ["", *facts]
    if kind.params:
        lines += ["", "| parameter | type | default | meaning |", "| --- | --- | --- | --- |"]
        lines += [f"| `{p.name}`{' (positional)' if p.positional else ''} | {_escape(type_text(p))} | "
                  f"{_escape(_default_cell(p))} | {_escape(p.doc)} |" for p in kind.params]
    if kind.omitted:
        lines += ["", "Not in the language: " + "; ".join(f"`{name}` ({why})" for name, why in kind.omitted) + "."]
    return "\n".join(lines)
