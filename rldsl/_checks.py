"""Checks of runtime arguments shared by the specs and the module library: one place for the
words of "must be True or False", "must be an int", "must be >= 0" and "must be > 0".

Each check takes the value and ``what`` names it in the message (``"tanh_loc"``, ``"EGreedyModule
`safe`"``), returns the value when it passes, and raises the builtin error the call sites have
always raised. ``suffix`` ends the message (a period, or a hint such as ``"; e.g. n=1000"``).
Pure Python: importing it never imports torch.

>>> require_bool(1, "TanhModule `clamp`")
Traceback (most recent call last):
...
TypeError: TanhModule `clamp` must be True or False, got 1
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Callable

__all__ = ["is_int", "require_bool", "require_int", "require_non_negative", "require_positive", "type_name"]


def type_name(value: Any) -> str:
    """The name of ``value``'s class: what a message shows instead of a value too long to print."""
    return type(value).__name__


def is_int(value: Any, *, integral: bool = False) -> bool:
    """Whether ``value`` is an int and not a bool; with ``integral``, any ``numbers.Integral``
    (numpy integers too)."""
    return isinstance(value, Integral if integral else int) and not isinstance(value, bool)


def require_bool(value: Any, what: str, *, expected: str = "True or False", suffix: str = "") -> bool:
    """``value`` if it is a bool, else ``TypeError("{what} must be {expected}, got {value!r}{suffix}")``
    (1 and numpy bools are refused: a flag is exactly True or False)."""
    if not isinstance(value, bool):
        raise TypeError(f"{what} must be {expected}, got {value!r}{suffix}")
    return value


def require_int(value: Any, what: str, *, expected: str = "an int", integral: bool = False, optional: bool = False,
                minimum: int | None = None, error: type[Exception] = TypeError,
                show: Callable[[Any], str] = repr, suffix: str = "") -> Any:
    """``value`` if it is an int (see :func:`is_int`; ``None`` too when ``optional``) of at least
    ``minimum`` (when given), else ``error("{what} must be {expected}, got {show(value)}{suffix}")``.
    One message for both refusals, for the sites that word them alike."""
    if value is None and optional:
        return value
    if not is_int(value, integral=integral) or (minimum is not None and value < minimum):
        raise error(f"{what} must be {expected}, got {show(value)}{suffix}")
    return value


def require_non_negative(value: Any, what: str, *, suffix: str = "") -> Any:
    """``value`` unless it is below 0, else ``ValueError("{what} must be >= 0, got {value}{suffix}")``.
    NaN passes: the callers that refuse it check finiteness first."""
    if value < 0:
        raise ValueError(f"{what} must be >= 0, got {value}{suffix}")
    return value


def require_positive(value: Any, what: str, *, expected: str = "> 0", suffix: str = "") -> Any:
    """``value`` if it is above 0, else ``ValueError("{what} must be {expected}, got {value}{suffix}")``.
    NaN is refused (it is not above 0)."""
    if not value > 0:
        raise ValueError(f"{what} must be {expected}, got {value}{suffix}")
    return value
