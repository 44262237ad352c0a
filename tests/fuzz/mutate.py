"""Grammar-aware mutation of `.rlm` text: the example models turned into hostile variants.

Each example is cut into tokens by a lossless tokenizer (joining the tokens gives the text back,
so broken files from ``examples/errors`` tokenize too). A mutation is one to four operators
applied in turn: token deletions, duplications and swaps, insertions of tokens the grammar and the
kind registry know (keywords, punctuation, kind and parameter names, dtype names), extreme
numbers, hostile strings, unicode oddities, control characters and escape sequences, CRLF/CR line
ends, byte-order marks, NUL bytes, very long identifiers, deep bracket and operator nesting, chains
of dim squarings, repeated declarations, and lines spliced in from another example. Some cases
end with bytes that are not UTF-8.

All randomness comes from one *chooser*: anything with ``randrange(n)`` and ``random()``. A
seeded :class:`random.Random` makes a run reproducible; :func:`mutated_inputs` adapts hypothesis's
``draw`` to the same interface, so hypothesis can generate and shrink cases as well.

>>> import random
>>> mutator = Mutator.from_examples()
>>> case = mutator.mutate(random.Random(7))
>>> isinstance(case.data, bytes) and case.operators != ()
True
>>> "".join(text for _, text in tokenize("key a : f32[3]  # c\\n")) == "key a : f32[3]  # c\\n"
True
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import attrs

__all__ = ["Case", "Chooser", "EXAMPLES_DIR", "Mutator", "example_texts", "mutated_inputs", "tokenize", "vocabulary"]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_DIR = ROOT / "examples"

#: Largest input a mutation may produce; bigger results are cut back to this size.
MAX_BYTES = 512 * 1024

# ---------------------------------------------------------------------------------------------
# Tokens

#: One token of `.rlm` text; every character belongs to exactly one token (lossless).
_TOKEN = re.compile(
    r"""(?P<ws>[ \t\f\r\n]+)
      | (?P<comment>\#[^\n]*)
      | (?P<string>"(?:[^"\\\n]|\\[^\n])*"|'(?:[^'\\\n]|\\[^\n])*')
      | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
      | (?P<number>[0-9][0-9_]*(?:\.[0-9_]+)?(?:[eE][+-]?[0-9_]+)?)
      | (?P<op>->|>>|//)
      | (?P<other>.)""",
    re.S | re.X,
)

Token = tuple[str, str]  # (kind, text): kind is ws, comment, string, name, number, op or other


def tokenize(text: str) -> list[Token]:
    """Cut ``text`` into ``(kind, text)`` tokens whose texts join back to ``text``."""
    return [(match.lastgroup or "other", match.group()) for match in _TOKEN.finditer(text)]


def _significant(tokens: Sequence[Token]) -> list[int]:
    """Indices of the tokens that carry meaning (not whitespace or comments)."""
    return [i for i, (kind, _) in enumerate(tokens) if kind not in ("ws", "comment")]


def _join(tokens: Sequence[Token]) -> str:
    return "".join(text for _, text in tokens)


# ---------------------------------------------------------------------------------------------
# What gets inserted

#: Numbers at and past every limit: sizes, int64, float range, subnormals, huge digit strings.
EXTREME_NUMBERS = (
    "0", "1", "-1", "2", "0.0", "-0.0", "0.5", "3.0", "1_000_000", "2147483647", str(2**31), "-2147483649",
    "4294967296", str(2**40), str(2**40 + 1), str(2**53 + 1), "9223372036854775807", str(2**63), str(2**64),
    str(10**400), "9" * 5000, "1" + "0" * 4300, "1e308", "1.7976931348623157e308", "1e309", "1e-320",
    "4.9e-324", "1e-400", "1e99999", "inf", "-inf", "nan", "inf - inf", "0 * inf", "inf / inf", "1 / 0",
    "7 // 0", "5 % 0", "0 / 0", "-(2147483648 * 2147483648)", "2147483648 * 2147483648 * 2147483648",
    "1e308 * 10", "1e308 + 1e308", "0.1 + 0.2", "1e-320 / 1e308", "-0", "1.", "1e", "0x10", "1__0", "07",
)  # fmt: skip

#: Unicode that breaks naive assumptions: combining marks, bidi controls, emoji and ZWJ
#: sequences, line and paragraph separators, zero-width characters, case changes that change
#: length, compatibility forms, the last code point, and Python's extra line breaks.
UNICODE = (
    "\u0301", "e\u0301", "\u202e", "\u202d", "\u200f", "\u2066", "\u0627\u0644\u0639", "\U0001f600",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467", "\u2028", "\u2029", "\u200b", "\u200c", "\u200d",
    "\ufeff", "\u00a0", "\uff41", "\u0130", "\u00df", "\ufb01", "\U0001d518", "\U0010ffff", "\u0085",
    "\x0b", "\x1c", "\x1d", "\x1e", "\u3000", "\u1680", "\ufffd", "\u0000", "\u00e9", "\u03bb", "\u4e2d",
    "\u0338" * 50,
)  # fmt: skip

#: Control characters and terminal escape sequences.
CONTROL = (
    "\x00", "\x1b[31m", "\x1b[2J", "\x1b]0;title\x07", "\x1b[1A\x1b[2K", "\r", "\x08", "\x7f", "\x07",
    "\x0c", "\x1b", "\x9b31m", "\t", "\x01", "\x1f",
)  # fmt: skip

#: Strings for `include`, `gym(...)` and string arguments: paths out of the tree, special
#: files, escapes, empty and long strings. Nothing here names an importable module.
STRINGS = (
    '""', '"specs.rlm"', '"fuzz.rlm"', '"../specs.rlm"', '"/etc/passwd"', '"/etc/hostname"',
    '"/proc/self/status"', '"/dev/null"', '"/dev/stdin"', '"."', '"/"', '"specs.rlm\\u0000"',
    '"no-such-file.rlm"', '"Pendulum-v1"', '"CartPole-v1"', '"MountainCarContinuous-v0"', '"NoSuchEnv-v0"',
    '"Pendulum-v99"', '"pendulum-v1"', '"ALE/Pong-v5"', '"biased_softplus_1.0"', '"exp"', '"none"',
    '"\\n"', '"\\x1b[31m"', '"\\\\"', "'single'", '"' + "x" * 5000 + '"', '"\u202e\u0301"', '"\x00"',
)  # fmt: skip

#: Lengths of the very long identifiers.
LONG_NAME_LENGTHS = (256, 4096, 65536)

#: Nesting depths around the parser's limit (100) and far past it.
NEST_DEPTHS = (10, 99, 100, 101, 150, 1000, 20000)

_BRACKETS = (("(", ")"), ("[", "]"), ("{", "}"))


@functools.cache
def vocabulary() -> tuple[str, ...]:
    """Tokens to insert: the grammar's literal terminals (keywords and punctuation, read from the
    lark grammar), the kind registry's kind and parameter names and choices, dtype names, and
    names the checker gives meaning to."""
    from rldsl.lang.kinds import KINDS, RENAMED
    from rldsl.lang.parse import build_lark
    from rldsl.lang.types import DTYPES

    literals = [t.pattern.value for t in build_lark().terminals if t.pattern.type == "str"]
    kinds = [kind.name for kind in KINDS]
    params = sorted({param.name for kind in KINDS for param in kind.params})
    choices = sorted({f'"{c}"' for kind in KINDS for p in kind.params for c in p.choices if isinstance(c, str)})
    words = ["shape", "low", "high", "n", "nvec", "space", "observation", "action", "reward", "done", "pendulum",
             "loc", "scale", "logits", "state_value", "action_value", "x", "_", "True", "None", "nan"]
    return tuple(dict.fromkeys([*literals, *kinds, *sorted(RENAMED), *params, *choices, *DTYPES, *words]))


# ---------------------------------------------------------------------------------------------
# The mutator


class Chooser(Protocol):
    """The randomness a mutation needs: ``random.Random`` has it, and so has :class:`_Draws`."""

    def randrange(self, n: int) -> int: ...

    def random(self) -> float: ...


def _pick(rng: Chooser, items: Sequence):
    return items[rng.randrange(len(items))]


@attrs.frozen
class Case:
    """One generated input: its bytes, the example it came from and the operators applied."""

    data: bytes
    origin: str
    operators: tuple[str, ...]


@functools.cache
def example_texts() -> tuple[tuple[str, str], ...]:
    """Every example `.rlm` file (``examples/**``, the error examples included) as (name, text)."""
    paths = sorted(EXAMPLES_DIR.rglob("*.rlm"))
    return tuple((str(p.relative_to(EXAMPLES_DIR)), p.read_text(encoding="utf-8")) for p in paths)


@attrs.define
class Mutator:
    """Mutates a corpus of `.rlm` texts; ``corpus`` may grow (interesting outputs fed back).
    Half the cases start from ``favoured`` when it is not empty: texts that check clean, so that
    mutants reach compile and the forward pass more often."""

    corpus: list[tuple[str, str]]
    favoured: list[tuple[str, str]] = attrs.Factory(list)

    @classmethod
    def from_examples(cls) -> Mutator:
        return cls(list(example_texts()))

    def mutate(self, rng: Chooser, *, max_operators: int = 4) -> Case:
        """One case: a corpus entry with one to ``max_operators`` operators applied (one most
        often, so that many cases still parse and reach the later passes)."""
        origin, text = _pick(rng, self.favoured if self.favoured and rng.random() < 0.5 else self.corpus)
        applied = []
        count = 1
        while count < max_operators and rng.random() < 0.45:
            count += 1
        for _ in range(count):
            name, operator = _pick(rng, _OPERATORS)
            text = operator(self, rng, text)
            applied.append(name)
        data = text.encode("utf-8", "surrogatepass")
        if rng.random() < 0.03:
            data, name = _byte_mutation(rng, data)
            applied.append(name)
        return Case(data[:MAX_BYTES], origin, tuple(applied))

    def other_text(self, rng: Chooser) -> str:
        return _pick(rng, self.corpus)[1]


# Each operator takes the mutator, a chooser and the text, and returns the new text.

Operator = Callable[[Mutator, Chooser, str], str]


def _token_run(rng: Chooser, tokens: list[Token]) -> tuple[int, int] | None:
    """A run of one to three significant tokens, as (start, end) token indices."""
    significant = _significant(tokens)
    if not significant:
        return None
    first = rng.randrange(len(significant))
    last = min(len(significant) - 1, first + rng.randrange(3))
    return significant[first], significant[last] + 1


def delete_tokens(_: Mutator, rng: Chooser, text: str) -> str:
    tokens = tokenize(text)
    run = _token_run(rng, tokens)
    return text if run is None else _join(tokens[: run[0]] + tokens[run[1]:])


def duplicate_tokens(_: Mutator, rng: Chooser, text: str) -> str:
    tokens = tokenize(text)
    run = _token_run(rng, tokens)
    if run is None:
        return text
    copies = _pick(rng, (1, 1, 1, 2, 10, 300))
    piece = tokens[run[0]: run[1]]
    return _join(tokens[: run[1]] + piece * copies + tokens[run[1]:])


def swap_tokens(_: Mutator, rng: Chooser, text: str) -> str:
    tokens = tokenize(text)
    significant = _significant(tokens)
    if len(significant) < 2:
        return text
    i, j = _pick(rng, significant), _pick(rng, significant)
    tokens[i], tokens[j] = tokens[j], tokens[i]
    return _join(tokens)


def _insert_at_token(rng: Chooser, text: str, piece: str) -> str:
    """``piece`` inserted before a random token, with a space on either side half the time."""
    tokens = tokenize(text)
    where = rng.randrange(len(tokens) + 1)
    if rng.random() < 0.5:
        piece = f" {piece} "
    return _join(tokens[:where]) + piece + _join(tokens[where:])


def insert_vocabulary(_: Mutator, rng: Chooser, text: str) -> str:
    return _insert_at_token(rng, text, _pick(rng, vocabulary()))


def _replace_kind(rng: Chooser, text: str, kind: str, choices: Callable[[Chooser, str], str]) -> str:
    """One token of ``kind`` replaced by ``choices(rng, old)``; unchanged when there is none."""
    tokens = tokenize(text)
    where = [i for i, (k, _) in enumerate(tokens) if k == kind]
    if not where:
        return text
    i = _pick(rng, where)
    tokens[i] = (kind, choices(rng, tokens[i][1]))
    return _join(tokens)


def extreme_number(_: Mutator, rng: Chooser, text: str) -> str:
    if rng.random() < 0.2:
        return _insert_at_token(rng, text, _pick(rng, EXTREME_NUMBERS))
    return _replace_kind(rng, text, "number", lambda r, _: _pick(r, EXTREME_NUMBERS))


#: Ordinary numbers, for mutations that should keep a model valid.
MILD_NUMBERS = ("0", "1", "2", "3", "4", "7", "64", "256", "0.5", "1.0", "-1.0", "2.0", "1e-3", "0.99")


def mild_number(_: Mutator, rng: Chooser, text: str) -> str:
    return _replace_kind(rng, text, "number", lambda r, __: _pick(r, MILD_NUMBERS))


def _name_like(rng: Chooser, old: str) -> str:
    roll = rng.random()
    if roll < 0.15:
        return _pick(rng, "abcxyz_") * _pick(rng, LONG_NAME_LENGTHS)
    if roll < 0.3:  # a near miss: one character dropped, doubled or changed case
        i = rng.randrange(len(old))
        return _pick(rng, (old[:i] + old[i + 1:], old[:i] + old[i] * 2 + old[i:], old.swapcase(), old + "s")) or "_"
    return _pick(rng, vocabulary())


def replace_name(_: Mutator, rng: Chooser, text: str) -> str:
    return _replace_kind(rng, text, "name", _name_like)


@functools.cache
def _name_classes() -> tuple[tuple[str, ...], ...]:
    """Names that can stand for each other: dtypes, spec constructors, and kinds by family."""
    from rldsl.lang.kinds import KINDS, Family
    from rldsl.lang.types import DTYPES

    specs = ("onehot", "categorical", "binary", "multionehot", "multicategorical")
    families = tuple(tuple(k.name for k in KINDS if k.family is family) for family in Family)
    return (tuple(DTYPES), specs, *families)


def swap_same_class(_: Mutator, rng: Chooser, text: str) -> str:
    """A name replaced by another of its class (a dtype by a dtype, a distribution by a
    distribution, a key or module name by another name of the file), so the model often still
    checks and a different path through compile runs."""
    tokens = tokenize(text)
    classes = _name_classes()
    local = sorted({t for k, t in tokens if k == "name"} - set(vocabulary()))
    candidates = [(i, group) for i, (k, t) in enumerate(tokens) if k == "name"
                  for group in (*classes, local) if t in group and len(group) > 1]
    if not candidates:
        return text
    i, group = _pick(rng, candidates)
    tokens[i] = ("name", _pick(rng, group))
    return _join(tokens)


def replace_string(_: Mutator, rng: Chooser, text: str) -> str:
    return _replace_kind(rng, text, "string", lambda r, _: _pick(r, STRINGS))


def _arguments(tokens: Sequence[Token], open_index: int) -> tuple[list[tuple[int, int]], int] | None:
    """The top-level arguments of the call whose `(` is at ``open_index``, as (start, end) token
    ranges, and the index of its `)`; None when the call is not closed."""
    depth, start, ranges = 0, open_index + 1, []
    for i in range(open_index, len(tokens)):
        text = tokens[i][1]
        if text in ("(", "[", "{"):
            depth += 1
        elif text in (")", "]", "}"):
            depth -= 1
            if depth == 0:
                if any(kind not in ("ws", "comment") for kind, _ in tokens[start:i]):
                    ranges.append((start, i))
                return ranges, i
        elif text == "," and depth == 1:
            ranges.append((start, i))
            start = i + 1
    return None


def _argument_value(rng: Chooser, param: object, names: Sequence[str]) -> str:
    """A value for a parameter of a kind: usually of its type, sometimes extreme or wrong."""
    from rldsl.lang.kinds import KINDS, ArgType, Family

    if rng.random() < 0.15:
        return _pick(rng, (*EXTREME_NUMBERS, *STRINGS, "true", "none", "[]", "()", *names))
    name = _pick(rng, names) if names else "observation"
    kinds = {family: [k.name for k in KINDS if k.family is family] for family in Family}
    by_type = {
        ArgType.INT: ("0", "1", "2", "-1", "3", "64", "2147483648", str(2**63)),
        ArgType.FLOAT: ("0.0", "1.0", "-1.0", "0.5", "1e-6", "inf", "-inf", "nan", "1e308", "0"),
        ArgType.BOUND: ("0.0", "-1.0", "1.0", "inf", "[0.0, 1.0]", "[-inf, inf]", "[1.0, -1.0]", "nan"),
        ArgType.BOOL: ("true", "false"),
        ArgType.CHOICE: tuple(f'"{c}"' if isinstance(c, str) else str(c).lower() for c in param.choices) or ("none",),
        ArgType.STR: ('"exp"', '"biased_softplus_1.0"', '"none"', '""', '"relu"'),
        ArgType.SIZE: ("3", "(2, 3)", "()", "(0,)", "(-1,)", "(2147483648,)", "[2]"),
        ArgType.INTS: ("3", "[2, 3]", "[]", "[0]", "[-1]", "[64, 64]", "[2147483648]", "[1] "),
        ArgType.NUMBERS: ("[0.0, 1.0, 2.0]", "[]", "[inf]", "[1.0]", "[nan, 1.0]"),
        ArgType.KEY: (name, f"{name}.x", "action", "observation", "loc"),
        ArgType.KEYS: (f"[{name}]", "[]", "[loc, scale]", f"[{name}, {name}]", "[observation]", "[action]"),
        ArgType.SPEC: (name, "action", "observation", "pendulum.action"),
        ArgType.NETWORK: ("MLP(out_features=2)", "Tanh()", "Linear(3, 2)", name),
        ArgType.MODULE: (name, "MLP(out_features=1)", f"[{name}]"),
        ArgType.NET_OR_MODULE: (name, "MLP(out_features=1)"),
        ArgType.DIST: tuple(kinds[Family.DISTRIBUTION]),
        ArgType.ACTIVATION: tuple(kinds[Family.ACTIVATION]),
    }
    return _pick(rng, by_type.get(param.type, ("1",)))


def set_argument(_: Mutator, rng: Chooser, text: str) -> str:
    """A kind call given a parameter the registry describes (replacing the value if it is there),
    with a value of its type: `AdditiveGaussianModule(a, sigma_init=inf, spec=action)`."""
    from rldsl.lang.kinds import lookup

    tokens = tokenize(text)
    calls = [i for i in range(len(tokens) - 1)
             if tokens[i][0] == "name" and lookup(tokens[i][1]) and tokens[i + 1][1] == "("]
    if not calls:
        return text
    at = _pick(rng, calls)
    found = _arguments(tokens, at + 1)
    kind = lookup(tokens[at][1])
    if found is None or not kind.params:
        return text
    ranges, close = found
    param = _pick(rng, kind.params)
    names = sorted({t for k, t in tokens if k == "name" and not lookup(t)} - set(vocabulary()))
    value = _argument_value(rng, param, names)
    for start, end in ranges:
        words = [t for k, t in tokens[start:end] if k not in ("ws", "comment")]
        if len(words) >= 2 and words[0] == param.name and words[1] == "=":
            return _join(tokens[:start]) + f" {param.name}={value}" + _join(tokens[end:])
    separator = ", " if ranges else ""
    return _join(tokens[:close]) + f"{separator}{param.name}={value}" + _join(tokens[close:])


def _insert_at_char(rng: Chooser, text: str, piece: str) -> str:
    """``piece`` inserted at any character offset, inside tokens as well."""
    where = rng.randrange(len(text) + 1)
    return text[:where] + piece + text[where:]


def insert_unicode(_: Mutator, rng: Chooser, text: str) -> str:
    return _insert_at_char(rng, text, _pick(rng, UNICODE))


def insert_control(_: Mutator, rng: Chooser, text: str) -> str:
    return _insert_at_char(rng, text, _pick(rng, CONTROL))


def replace_character(_: Mutator, rng: Chooser, text: str) -> str:
    """One character replaced by a printable ASCII character or a unicode oddity."""
    if not text:
        return text
    where = rng.randrange(len(text))
    pool = _pick(rng, (UNICODE, tuple(chr(c) for c in range(32, 127))))
    return text[:where] + _pick(rng, pool) + text[where + 1:]


def line_endings(_: Mutator, rng: Chooser, text: str) -> str:
    """CRLF or CR line ends, for the whole text or from a random line on."""
    ending = _pick(rng, ("\r\n", "\r", "\u2028", "\n\r"))
    if rng.random() < 0.5:
        return text.replace("\n", ending)
    lines = text.split("\n")
    cut = rng.randrange(len(lines))
    return "\n".join(lines[:cut]) + ("\n" if cut else "") + ending.join(lines[cut:])


def byte_order_mark(_: Mutator, rng: Chooser, text: str) -> str:
    return "\ufeff" + text if rng.random() < 0.7 else _insert_at_char(rng, text, "\ufeff")


def insert_nul(_: Mutator, rng: Chooser, text: str) -> str:
    return _insert_at_char(rng, text, "\x00" * _pick(rng, (1, 1, 2, 1000)))


def deep_nesting(_: Mutator, rng: Chooser, text: str) -> str:
    """A token wrapped in many brackets (balanced, or only opened), or a long unary chain."""
    tokens = tokenize(text)
    significant = _significant(tokens)
    if not significant:
        return text
    i = _pick(rng, significant)
    depth = _pick(rng, NEST_DEPTHS)
    opening, closing = _pick(rng, _BRACKETS)
    shape = rng.randrange(4)
    if shape == 0:
        piece = opening * depth + tokens[i][1] + closing * depth
    elif shape == 1:
        piece = opening * depth + tokens[i][1]
    elif shape == 2:
        piece = _pick(rng, ("-", "+", "- ", "not ")) * depth + tokens[i][1]
    else:
        piece = f" {_pick(rng, ('*', '+', '>>', '//', '-'))} ".join([tokens[i][1]] * depth)
    tokens[i] = ("other", piece)
    return _join(tokens)


def dim_squarings(_: Mutator, rng: Chooser, text: str) -> str:
    """A chain of dims, each the square (or power) of the last, used for a size in the text."""
    steps = _pick(rng, (5, 6, 10, 40, 64))
    base = _pick(rng, ("2", "3", "-2", "1.5", "inf", "0"))
    operator = _pick(rng, ("*", "+", "//", "-", "/"))
    lines = [f"dim fz0 = {base}"] + [f"dim fz{i} = fz{i - 1} {operator} fz{i - 1}" for i in range(1, steps + 1)]
    text = _replace_kind(rng, text, "number", lambda _, __: f"fz{steps}")
    return "\n".join(lines) + "\n" + text


def repeat_line(_: Mutator, rng: Chooser, text: str) -> str:
    """One line repeated many times (duplicate declarations at scale)."""
    lines = text.split("\n")
    i = rng.randrange(len(lines))
    copies = _pick(rng, (2, 50, 2000))
    return "\n".join(lines[:i] + [lines[i]] * copies + lines[i + 1:])


def splice(mutator: Mutator, rng: Chooser, text: str) -> str:
    """The head of this text joined to the tail of another, or one line of another inserted."""
    mine, theirs = text.split("\n"), mutator.other_text(rng).split("\n")
    if rng.random() < 0.5:
        return "\n".join(mine[: rng.randrange(len(mine) + 1)] + theirs[rng.randrange(len(theirs) + 1):])
    where = rng.randrange(len(mine) + 1)
    return "\n".join(mine[:where] + [_pick(rng, theirs)] + mine[where:])


def truncate(_: Mutator, rng: Chooser, text: str) -> str:
    """The text cut at a random character (an unfinished declaration, string or comment)."""
    return text[: rng.randrange(len(text) + 1)]


_OPERATORS: tuple[tuple[str, Operator], ...] = tuple(
    (operator.__name__, operator)
    for operator, weight in (
        (set_argument, 8), (swap_same_class, 6), (mild_number, 3),
        (delete_tokens, 4), (duplicate_tokens, 3), (swap_tokens, 3), (insert_vocabulary, 5), (extreme_number, 4),
        (replace_name, 4), (replace_string, 2), (insert_unicode, 2), (insert_control, 2), (replace_character, 2),
        (line_endings, 1), (byte_order_mark, 1), (insert_nul, 1), (deep_nesting, 2), (dim_squarings, 1),
        (repeat_line, 1), (splice, 3), (truncate, 1),
    )  # fmt: skip
    for _ in range(weight)
)

#: Byte sequences that are not UTF-8: a lone continuation byte, a truncated sequence, an overlong
#: encoding, an encoded surrogate, a code point past U+10FFFF, Latin-1 text, UTF-16 with a BOM.
_BAD_BYTES = (b"\xff", b"\x80", b"\xc3", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"caf\xe9")


def _byte_mutation(rng: Chooser, data: bytes) -> tuple[bytes, str]:
    """Bytes that are not UTF-8 inserted, or the whole text re-encoded as UTF-16."""
    if rng.random() < 0.2:
        return data.decode("utf-8", "replace").encode("utf-16"), "utf16"
    where = rng.randrange(len(data) + 1)
    return data[:where] + _pick(rng, _BAD_BYTES) + data[where:], "bad_utf8"


# ---------------------------------------------------------------------------------------------
# hypothesis


class _Draws:
    """A :class:`Chooser` whose choices are hypothesis draws, so that hypothesis can shrink them."""

    def __init__(self, draw: Callable) -> None:
        from hypothesis import strategies as st

        self._draw, self._st = draw, st

    def randrange(self, n: int) -> int:
        return self._draw(self._st.integers(0, n - 1)) if n > 1 else 0

    def random(self) -> float:
        return self._draw(self._st.floats(0.0, 1.0, exclude_max=True))


def mutated_inputs(max_operators: int = 4):
    """A hypothesis strategy of mutated example inputs (:class:`Case`)."""
    from hypothesis import strategies as st

    @st.composite
    def cases(draw: Callable) -> Case:
        return Mutator.from_examples().mutate(_Draws(draw), max_operators=max_operators)

    return cases()
