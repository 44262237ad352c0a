"""A parameter's default and type as a `.rlm` file writes them: what `rldsl explain KIND` and the
editor (hover, completion) show.

>>> from rldsl.lang.kinds import lookup
>>> default_text(lookup("MLP").param("activation_class")), type_text(lookup("QValueActor").param("strict_shape"))
('Tanh', 'one of true, false, none, "auto"')
"""

from __future__ import annotations

from rldsl.lang.kinds._base import REQUIRED, ArgType, Param
from rldsl.lang.types import number_text

__all__ = ["default_text", "type_text"]


def default_text(param: Param) -> str:
    """A parameter's default as it is written in a `.rlm` file (``"required"`` when it has none)."""
    value = param.default
    if value is REQUIRED:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, tuple):
        return "[" + ", ".join(_item_text(item) for item in value) + "]"
    if param.type in (ArgType.KEY, ArgType.KEYS, ArgType.SPEC, ArgType.DIST, ArgType.ACTIVATION, ArgType.LAYER):
        return str(value)
    return f'"{value}"'


def _item_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    return str(value)


def type_text(param: Param) -> str:
    """A parameter's type in words; a choice lists its values as the language writes them."""
    if param.type is ArgType.CHOICE and param.choices:
        return "one of " + ", ".join("none" if c is None else f'"{c}"' if isinstance(c, str) else _item_text(c)
                                     for c in param.choices)
    if param.type is ArgType.LAYER and param.choices:
        return "one of " + ", ".join(str(c) for c in param.choices)
    return param.type.value
