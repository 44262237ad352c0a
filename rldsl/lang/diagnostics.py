"""Diagnostics as data, and the one table of diagnostic codes.

A :class:`Diagnostic` says what is wrong (code, message), where (a primary span and labelled
secondary spans) and how to fix it (help, notes, an optional replacement). Finding problems and
rendering them are separate steps: :mod:`rldsl.lang.render` turns diagnostics into text or JSON.

Every code is registered once, in :data:`CODE_TABLE`, with a title and a one-paragraph
explanation; ``docs/diagnostics.md`` is generated from it (:func:`codes_markdown`). Codes are
grouped by concern (:data:`GROUPS`): adding a check means adding one :class:`CodeInfo` entry here.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping

import attrs

from rldsl.lang.source import Span


class Severity(str, enum.Enum):
    """How bad a diagnostic is: errors stop a check, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


_CODE_FORMAT = re.compile(r"^[EW]\d{4}$")


@attrs.frozen(slots=True)
class CodeInfo:
    """A registered diagnostic code: ``E`` codes are errors, ``W`` codes warnings.

    The two digits after the letter give the concern (see :data:`GROUPS`).
    """

    code: str = attrs.field()
    title: str
    explanation: str

    @code.validator
    def _check_code(self, _attribute: attrs.Attribute, value: str) -> None:
        if not _CODE_FORMAT.match(value):
            raise ValueError(f"diagnostic code {value!r} is not of the form E0000 or W0000")

    @property
    def severity(self) -> Severity:
        return Severity.WARNING if self.code.startswith("W") else Severity.ERROR

    @property
    def group(self) -> str:
        """The :data:`GROUPS` key this code belongs to."""
        return "W" if self.code.startswith("W") else self.code[:3]


#: Concerns, in the order the documentation lists them: code prefix -> heading.
GROUPS: Mapping[str, str] = {
    "E01": "Syntax and files",
    "E02": "Names",
    "E03": "Keys",
    "E04": "Shapes",
    "E05": "Specs and dtypes",
    "E06": "Arguments",
    "E07": "Distributions and exploration",
    "W": "Warnings",
}

#: Every diagnostic code rldsl can report. Keep entries sorted by code within their group.
CODE_TABLE: tuple[CodeInfo, ...] = (
    # -- E01xx: syntax and files ------------------------------------------------------------
    CodeInfo(
        "E0101",
        "unexpected token",
        "The parser met a word or symbol that cannot continue the declaration it is reading. "
        "The message lists what could have come next; the help line shows the shape of the "
        "declaration. A declaration that has a syntax error is left out of the model, and "
        "parsing goes on with the next declaration, so every syntax error of a file is reported "
        "in one run.",
    ),
    CodeInfo(
        "E0102",
        "unexpected end of file",
        "The file ends in the middle of a declaration: something the declaration needs, such as "
        "a spec after `:` or the keys after `->`, is missing. The caret points at the end of "
        "the file.",
    ),
    CodeInfo(
        "E0103",
        "unclosed delimiter",
        "A `(`, `[` or `{` is never closed: the file, or the declaration, ends first. The caret "
        "points at the opening delimiter; add the matching `)`, `]` or `}`.",
    ),
    CodeInfo(
        "E0104",
        "invalid character",
        "The text contains a character that is not part of the language, outside a string or a "
        "comment. Names are ASCII letters, digits and `_`; comments start with `#`.",
    ),
    CodeInfo(
        "E0105",
        "invalid string literal",
        "A string is not closed on the line it starts on, or it contains an escape sequence "
        "other than `\\\\`, `\\\"`, `\\'`, `\\n`, `\\t` and `\\r`. Strings are written in double "
        "or single quotes and do not span lines.",
    ),
    CodeInfo(
        "E0106",
        "positional argument after keyword argument",
        "As in Python, positional arguments come first: `ValueOperator(net, in=[observation])`, "
        "not `ValueOperator(in=[observation], net)`.",
    ),
    CodeInfo(
        "E0107",
        "missing `:` in a key declaration",
        "A key declaration is `key NAME : SPEC`: the name and its spec are separated by a colon, "
        "as in `key observation : f32[3]`. `=` binds values (dims, envs, modules); `:` gives a "
        "key its type.",
    ),
    CodeInfo(
        "E0108",
        "missing `=` in a declaration",
        "`dim`, `env`, `module`, `actor`, `value` and `explore` declarations bind a name with "
        "`=`: `dim n_agents = 3`, `module body = MLP(out_features=2)`. The `:` after a module "
        "introduces its keys (`: observation -> hidden`), not its definition.",
    ),
    CodeInfo(
        "E0109",
        "`->` without keys on both sides",
        "The keys of a module are written after its definition as `: INPUTS -> OUTPUTS`, with at "
        "least one key on each side: `module body = MLP(out_features=2) : observation -> hidden`.",
    ),
    CodeInfo(
        "E0110",
        "missing comma",
        "Two items follow each other without a `,` between them: arguments of a call, items of a "
        "list, or dimensions of a shape are separated by commas.",
    ),
    CodeInfo(
        "E0111",
        "bounds are not `[low, high]`",
        "A bounded spec is written `DTYPE[SHAPE] in [LOW, HIGH]`: the brackets always hold exactly "
        "two items, the lower and the upper bound. Each bound is a number (the same for every "
        "element) or a list with one number per element: `f32[2] in [[-1, 0], [1, 2]]` has "
        "lower bound `[-1, 0]` and upper bound `[1, 2]`.",
    ),
    CodeInfo(
        "E0112",
        "nesting too deep",
        "Brackets are nested more than 100 deep, or an expression is more than 200 levels deep "
        "(a chain such as `1 + 1 + ... + 1` adds a level per operator). Such text is almost "
        "always generated by mistake; flatten it or give the inner parts names.",
    ),
    CodeInfo(
        "E0113",
        "mismatched closing delimiter",
        "A `)`, `]` or `}` does not match the delimiter that is open at that point, or closes "
        "nothing. The label shows which delimiter is still open.",
    ),
    CodeInfo(
        "E0114",
        "invalid number",
        "A number literal cannot be read, usually because it has too many digits. Integers are "
        "written `3` or `10_000`; floats `0.5`, `1e-4` or `2.5e3`; `inf` is infinity.",
    ),
    CodeInfo(
        "E0115",
        "shape in parentheses",
        "A dtype is followed by its shape in square brackets, `f32[3]`; `f32(3)` reads like a "
        "function call, which a dtype is not.",
    ),
    CodeInfo(
        "E0116",
        "tensor spec without a shape",
        "A tensor spec names its dtype and its shape: `f32[3]` is a vector of three floats, "
        "`f32[]` a scalar. A bare dtype such as `f32` has no shape.",
    ),
    CodeInfo(
        "E0117",
        "reserved word used as a name",
        "The declaration keywords `include`, `dim`, `env`, `key`, `module`, `actor`, `value` and "
        "`explore` cannot name keys, modules or dims (they may still name keyword arguments, as "
        "in `QValueActor(module=q)`). Pick another name, such as `state_value` for `value`.",
    ),
    CodeInfo(
        "E0150",
        "included file not found",
        "An `include \"FILE\"` names a file that does not exist. Include paths are relative to "
        "the directory of the file that contains the `include`.",
    ),
    CodeInfo(
        "E0151",
        "include cycle",
        "Files include each other in a cycle (possibly a file including itself). A file may be "
        "included from several places, and is then read once, but it cannot include itself, "
        "directly or through other files. The labels show every include of the cycle.",
    ),
    CodeInfo(
        "E0152",
        "file cannot be read",
        "A `.rlm` file exists but cannot be read: it is a directory, access is denied, or its "
        "bytes are not UTF-8 text.",
    ),
    # -- E05xx: specs and dtypes ------------------------------------------------------------
    CodeInfo(
        "E0501",
        "unknown dtype",
        "A tensor spec starts with a dtype: one of `f16`, `f32`, `f64`, `bf16`, `i8`, `i16`, "
        "`i32`, `i64`, `u8` or `bool` (torch's float16, float32, float64, bfloat16, int8, int16, "
        "int32, int64, uint8 and bool).",
    ),
    CodeInfo(
        "E0502",
        "unknown spec type",
        "A spec is a tensor spec (`f32[3]`, `f32[1] in [-2, 2]`), one of `onehot(n)`, "
        "`categorical(n)`, `binary(n)`, `multionehot([n, ...])`, `multicategorical([n, ...])`, a "
        "composite `{ name: spec, ... }`, or the name of a key or env spec whose spec is reused.",
    ),
    # -- E06xx: arguments -------------------------------------------------------------------
    CodeInfo(
        "E0601",
        "argument given twice",
        "The same keyword argument or spec option appears twice in one call; only one value can "
        "be used, so remove the other.",
    ),
    # -- Wxxxx: warnings --------------------------------------------------------------------
    CodeInfo(
        "W0150",
        "file included twice",
        "The same file is included twice from one file. Every file is read once, so the second "
        "`include` does nothing and can be removed.",
    ),
)


def _index(table: Iterable[CodeInfo]) -> dict[str, CodeInfo]:
    """Codes by name; a code registered twice or in an unknown group is a programming error."""
    index: dict[str, CodeInfo] = {}
    for info in table:
        if info.code in index:
            raise ValueError(f"diagnostic code {info.code} is registered twice")
        if info.group not in GROUPS:
            raise ValueError(f"diagnostic code {info.code} has no group in GROUPS")
        index[info.code] = info
    return index


#: The registry: code -> :class:`CodeInfo`.
CODES: Mapping[str, CodeInfo] = _index(CODE_TABLE)


@attrs.frozen(slots=True)
class Label:
    """A secondary span with a short text shown beside its underline."""

    span: Span
    message: str = ""


@attrs.frozen(slots=True)
class Suggestion:
    """A machine-applicable fix: replace the text of ``span`` (empty: insert) by ``replacement``."""

    span: Span
    replacement: str


def _check_registered(_instance: object, _attribute: attrs.Attribute, code: str) -> None:
    if code not in CODES:
        raise ValueError(f"diagnostic code {code!r} is not registered in CODE_TABLE")


@attrs.frozen(slots=True)
class Diagnostic:
    """One problem found in a model, with everything needed to show and fix it.

    ``label`` is the short text under the primary span; ``labels`` are secondary spans;
    ``notes`` add context, ``help`` says how to fix it and ``suggestion`` is an exact edit.

    >>> from rldsl.lang.source import Span
    >>> d = Diagnostic("E0107", "missing `:`", Span("a.rlm", 1, 17, 1, 20, 16, 19))
    >>> d.severity.value, str(d.span)
    ('error', 'a.rlm:1:17')
    """

    code: str = attrs.field(validator=_check_registered)
    message: str
    span: Span
    label: str = ""
    labels: tuple[Label, ...] = ()
    notes: tuple[str, ...] = ()
    help: str = ""
    suggestion: Suggestion | None = None

    @property
    def severity(self) -> Severity:
        """Error or warning, as registered for the code."""
        return CODES[self.code].severity

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def sort_key(self) -> tuple[str, int, int, str]:
        """Order by file, then position, then code: how diagnostics are reported."""
        return (self.span.file, self.span.start, self.span.end, self.code)

    def to_dict(self) -> dict[str, object]:
        """Plain data with every field, for ``--format json``."""
        return {
            "code": self.code,
            "severity": self.severity.value,
            "message": self.message,
            "file": self.span.file,
            "line": self.span.line,
            "column": self.span.column,
            "end_line": self.span.end_line,
            "end_column": self.span.end_column,
            "span": self.span.to_dict(),
            "label": self.label,
            "labels": [{"span": lab.span.to_dict(), "message": lab.message} for lab in self.labels],
            "notes": list(self.notes),
            "help": self.help,
            "suggestion": (
                None
                if self.suggestion is None
                else {"span": self.suggestion.span.to_dict(), "replacement": self.suggestion.replacement}
            ),
        }


def sort_diagnostics(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in reporting order (see :meth:`Diagnostic.sort_key`)."""
    return sorted(diagnostics, key=Diagnostic.sort_key)


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    """True when any diagnostic is an error (warnings alone do not fail a check)."""
    return any(d.is_error for d in diagnostics)


def explain(code: str) -> str:
    """The long explanation of a code, as ``rldsl explain CODE`` prints it.

    >>> explain("E0107").splitlines()[0]
    'E0107 (error): missing `:` in a key declaration'
    """
    info = CODES.get(code.upper())
    if info is None:
        raise KeyError(f"unknown diagnostic code {code!r}")
    return f"{info.code} ({info.severity.value}): {info.title}\n\n{info.explanation}\n"


def codes_markdown() -> str:
    """``docs/diagnostics.md``: every registered code, grouped by concern, in one document."""
    lines = [
        "# Diagnostic codes",
        "",
        "<!-- Generated from rldsl/lang/diagnostics.py (CODE_TABLE) by codes_markdown(); "
        "do not edit by hand. -->",
        "",
        "Every diagnostic rldsl reports carries one of these codes. `E` codes are errors, `W` "
        "codes warnings; the two digits after the letter give the concern. "
        "`rldsl explain CODE` prints the explanation of one code.",
        "",
    ]
    for prefix, heading in GROUPS.items():
        infos = [info for info in CODE_TABLE if info.group == prefix]
        if not infos:
            continue
        lines += [f"## {heading} ({prefix}xx)" if prefix != "W" else f"## {heading} (Wxxxx)", ""]
        lines += ["| Code | Severity | Title | Explanation |", "| --- | --- | --- | --- |"]
        for info in infos:
            text = info.explanation.replace("|", "\\|")
            lines.append(f"| {info.code} | {info.severity.value} | {info.title} | {text} |")
        lines.append("")
    return "\n".join(lines)
