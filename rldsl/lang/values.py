"""Small pieces every checking pass shares: the INVALID marker, the diagnostic collector,
"did you mean" suggestions, and arithmetic on constant values and dims.

A value that could not be worked out is :data:`INVALID`; whoever found the problem reported it,
so every later pass treats INVALID as "say nothing more" — that is how one mistake gives one
diagnostic, not a cascade.

>>> from rldsl.lang.types import Sym
>>> arithmetic("*", 2, Sym("n_actions", 4))
Sym(text='2 * n_actions', value=8)
>>> suggest("obsevation", ["observation", "action"])
'observation'
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from rldsl.lang.diagnostics import Diagnostic, Label
from rldsl.lang.source import Span
from rldsl.lang.types import Sym


class _Invalid:
    """The one INVALID value: falsy, printed as ``INVALID``."""

    _instance: _Invalid | None = None

    def __new__(cls) -> _Invalid:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID = _Invalid()


class Reporter:
    """Collects diagnostics; every pass reports through one, so all problems come out together."""

    def __init__(self) -> None:
        self.diagnostics: list[Diagnostic] = []

    def report(self, code: str, message: str, span: Span, **details: object) -> None:
        """Add a diagnostic (see :class:`~rldsl.lang.diagnostics.Diagnostic` for the details);
        ``labels`` may be given as ``(span, text)`` pairs."""
        labels = details.pop("labels", ())
        details["labels"] = tuple(lab if isinstance(lab, Label) else Label(*lab) for lab in labels)
        self.diagnostics.append(Diagnostic(code, message, span, **details))


def suggest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word`` (by spelling, ignoring case), or None if none is close."""
    import difflib

    options = {c.lower(): c for c in candidates if c}
    if not options:
        return None
    if word.lower() in options:
        return options[word.lower()]
    found = difflib.get_close_matches(word.lower(), list(options), 1, 0.6)
    return options[found[0]] if found else None


def did_you_mean(word: str, candidates: Iterable[str], fallback: str) -> tuple[str, str | None]:
    """A help line that suggests the closest candidate (and that candidate), else ``fallback``."""
    guess = suggest(word, candidates)
    if guess is not None:
        return f"did you mean `{guess}`?", guess
    return fallback, None


def is_number(value: object) -> bool:
    """An int or a float, not a bool."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def is_dim(value: object) -> bool:
    """An int or a :class:`Sym` (a size, possibly symbolic)."""
    return is_int(value) or isinstance(value, Sym)


def _text(value: object) -> str:
    if isinstance(value, Sym):
        return f"({value.text})" if " " in value.text else value.text
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return str(value)


_OPERATIONS = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "//": lambda a, b: a // b,
    "%": lambda a, b: a % b,
}


def arithmetic(op: str, left: object, right: object) -> object:
    """``left op right`` on numbers and dims; a :class:`Sym` operand gives a Sym whose text is the
    expression and whose value is computed when both sizes are known. Raises ``ZeroDivisionError``
    or ``TypeError`` for what cannot be computed."""
    if not ((is_number(left) or isinstance(left, Sym)) and (is_number(right) or isinstance(right, Sym))):
        raise TypeError("arithmetic needs numbers or dims")
    if isinstance(left, Sym) or isinstance(right, Sym):
        lv = left.value if isinstance(left, Sym) else left
        rv = right.value if isinstance(right, Sym) else right
        value = None if lv is None or rv is None else _OPERATIONS[op](lv, rv)
        if value is not None and not is_int(value):
            value = int(value) if isinstance(value, float) and value.is_integer() and op != "/" else value
        text = f"{_text(left)} {op} {_text(right)}"
        return Sym(text, value) if value is None or is_int(value) else value
    return _OPERATIONS[op](left, right)


def negate(value: object) -> object:
    """``-value`` for a number or dim."""
    if isinstance(value, Sym):
        return Sym(f"-{_text(value)}", None if value.value is None else -value.value)
    if is_number(value):
        return -value
    raise TypeError("only numbers can be negated")


def describe(value: object) -> str:
    """What a constant value is, in words, for "expected X, found Y" messages."""
    if value is None:
        return "`none`"
    if isinstance(value, bool):
        return "a boolean"
    if is_int(value):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, Sym):
        return "a dim"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, tuple):
        return "a list"
    return "a value"
