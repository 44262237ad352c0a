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

from rldsl.errors import RldslError
from rldsl.lang.diagnostics import Diagnostic, Label
from rldsl.lang.source import Span
from rldsl.lang.types import MAX_DIM_TEXT, MAX_INT, Sym


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
    """The candidate ``word`` most likely misspells, or None when none is really close.

    A candidate equal to ``word`` but for case is taken first. Otherwise a candidate must pass two
    tests: difflib's similarity ratio at least 0.75, and at most ``max(1, len(word) // 4)`` edits
    (insertions, deletions, substitutions and swaps of neighbours). The ratio alone suggests
    `TanhModule` for `LSTMModule` and `truncated` for `True`; the bounded edit count keeps only
    typos such as `obsevation`, `acton` or `num_cell`. Words longer than 64 characters only get a
    match that differs in case (the comparisons are quadratic in the length).
    """
    import difflib

    options: dict[str, str] = {}
    for candidate in candidates:
        if candidate:
            options.setdefault(candidate.lower(), candidate)
    lowered = word.lower()
    if lowered in options:
        return options[lowered]
    if not options or len(word) > 64:
        return None
    budget = max(1, len(word) // 4)
    best: tuple[int, float] | None = None
    found = None
    for key, candidate in options.items():
        if abs(len(key) - len(lowered)) > budget:
            continue
        matcher = difflib.SequenceMatcher(None, lowered, key)
        if matcher.real_quick_ratio() < 0.75 or matcher.quick_ratio() < 0.75 or matcher.ratio() < 0.75:
            continue
        edits = _edit_distance(lowered, key, budget)
        score = (edits, -matcher.ratio())
        if edits <= budget and (best is None or score < best):
            best, found = score, candidate
    return found


def _edit_distance(a: str, b: str, limit: int) -> int:
    """The optimal-string-alignment distance between ``a`` and ``b`` (insertions, deletions,
    substitutions, swaps of neighbours), or ``limit + 1`` as soon as it must exceed ``limit``."""
    before: list[int] | None = None
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if before is not None and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


#: Python's spellings of the constants, with the help line that gives the `.rlm` spelling.
_PYTHON_CONSTANTS = {
    "True": "booleans are written `true`/`false`: write `true`",
    "False": "booleans are written `true`/`false`: write `false`",
    "None": "the empty value is written `none`",
}


def did_you_mean(word: str, candidates: Iterable[str], fallback: str) -> tuple[str, str | None]:
    """A help line that suggests the closest candidate (and that candidate), else ``fallback``;
    Python's `True`, `False` and `None` get the `.rlm` spelling instead."""
    if word in _PYTHON_CONSTANTS:
        return _PYTHON_CONSTANTS[word], None
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


class NumberLimitError(RldslError, ArithmeticError):
    """A number the checker refuses to compute with: ``code`` is E0510 (an integer beyond
    :data:`~rldsl.lang.types.MAX_INT`) or E0511 (NaN, or infinity from finite numbers), and
    ``message``, ``label`` and ``help`` are the diagnostic's words."""

    def __init__(self, code: str, message: str, label: str, help: str) -> None:
        super().__init__(message)
        self.code, self.message, self.label, self.help = code, message, label, help


def _too_large() -> NumberLimitError:
    return NumberLimitError("E0510", "the result is out of range: its magnitude is above 2**62", "out of range",
                            "integers are limited to 2**62 in magnitude, and sizes to 2**31 - 1")


def check_number(value: object) -> None:
    """Raise :class:`NumberLimitError` for an int beyond ``MAX_INT`` or a NaN float (the two
    numbers the checker never computes with); anything else passes."""
    if is_int(value) and (value > MAX_INT or value < -MAX_INT):
        raise NumberLimitError("E0510", "the number is out of range: its magnitude is above 2**62", "out of range",
                               "integers are limited to 2**62 in magnitude, and sizes to 2**31 - 1")
    if isinstance(value, float) and math.isnan(value):
        raise NumberLimitError("E0511", "the number is not a number (NaN)", "NaN", "use a finite number")


def read_number(text: str) -> int | float:
    """The value of a number literal (``10_000``, ``1e-4``), refused with :class:`NumberLimitError`
    (code E0114) when it is out of range: an integer above ``MAX_INT`` — judged from its digits,
    before Python converts it, so a literal of a million digits is refused at once — or a float
    that overflows to infinity.

    >>> read_number("10_000"), read_number("2.5e3")
    (10000, 2500.0)
    >>> read_number("1e999")
    Traceback (most recent call last):
    ...
    rldsl.lang.values.NumberLimitError: the number 1e999 is too large: it overflows to infinity
    """
    digits = text.replace("_", "")
    if any(c in digits for c in ".eE"):
        value = float(digits)
        if math.isinf(value):
            raise NumberLimitError("E0114", f"the number {_shortened(text)} is too large: it overflows to infinity",
                                   "overflows", "write `inf` for infinity, or a number below 1.8e308")
        return value
    significant = digits.lstrip("0")
    if len(significant) > len(str(MAX_INT)) or int(significant or "0") > MAX_INT:
        raise NumberLimitError("E0114", f"the integer {_shortened(text)} is too large: the limit is 2**62 "
                                        f"({MAX_INT})", "too large",
                               "sizes are at most 2**31 - 1; for a large bound write a float such as `1e30`")
    return int(significant or "0")


def _shortened(text: str) -> str:
    """A literal for a message: long ones are cut in the middle, with the number of digits."""
    if len(text) <= 24:
        return text
    return f"{text[:10]}...{text[-6:]} ({len(text)} characters)"


def _bounded_text(text: str, value: int | None) -> str:
    """The text of a computed dim, shortened past ``MAX_DIM_TEXT`` (to its value when known)."""
    if len(text) <= MAX_DIM_TEXT:
        return text
    if value is not None:
        return str(value)
    return text[: MAX_DIM_TEXT - 5] + " ...)"


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
    or ``TypeError`` for what cannot be computed, and :class:`NumberLimitError` for an operand or
    result out of range (see :data:`~rldsl.lang.types.MAX_INT`) or not finite: operands are
    checked first, so one step never computes with numbers above 2**62 and stays cheap.

    >>> arithmetic("*", 2**32, 2**31)
    Traceback (most recent call last):
    ...
    rldsl.lang.values.NumberLimitError: the result is out of range: its magnitude is above 2**62
    """
    if not ((is_number(left) or isinstance(left, Sym)) and (is_number(right) or isinstance(right, Sym))):
        raise TypeError("arithmetic needs numbers or dims")
    lv = left.value if isinstance(left, Sym) else left
    rv = right.value if isinstance(right, Sym) else right
    for operand in (lv, rv):
        check_number(operand)
    value = None if lv is None or rv is None else _finite(_OPERATIONS[op](lv, rv), lv, rv)
    if not (isinstance(left, Sym) or isinstance(right, Sym)):
        return value
    if value is not None and not is_int(value):
        value = int(value) if isinstance(value, float) and value.is_integer() and op != "/" else value
        _check_result(value)
    text = _bounded_text(f"{_text(left)} {op} {_text(right)}", value if is_int(value) else None)
    return Sym(text, value) if value is None or is_int(value) else value


def _finite(value: object, left: object, right: object) -> object:
    """``value``, checked: an int within ``MAX_INT``; a float not NaN, and infinite only when an
    operand was (``inf * 2`` is infinity, ``1e308 * 10`` an overflow)."""
    if isinstance(value, float) and math.isnan(value):
        raise NumberLimitError("E0511", "the result is not a number (NaN)", "NaN",
                               "arithmetic on `inf` such as `inf - inf` or `0 * inf` has no value; use a finite number")
    if isinstance(value, float) and math.isinf(value) and not any(
            isinstance(v, float) and math.isinf(v) for v in (left, right)):
        raise NumberLimitError("E0511", "the result overflows to infinity", "overflows",
                               "use smaller numbers (floats are finite below 1.8e308), or write `inf` itself")
    _check_result(value)
    return value


def _check_result(value: object) -> None:
    if is_int(value) and (value > MAX_INT or value < -MAX_INT):
        raise _too_large()


def negate(value: object) -> object:
    """``-value`` for a number or dim (in range when ``value`` is: the limits are symmetric)."""
    if isinstance(value, Sym):
        return Sym(_bounded_text(f"-{_text(value)}", None if value.value is None else -value.value),
                   None if value.value is None else -value.value)
    if is_number(value):
        check_number(value)
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
