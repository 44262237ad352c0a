"""The canonical printer: an AST back to `.rlm` text, and ``rldsl fmt``'s formatting of a file.

:func:`to_source` prints a parsed module in the one canonical layout, so that formatting never
depends on how the model was written, and the printed text parses back to an equal AST (equality
ignores spans). Given the source text the module was parsed from, it also keeps the comments, at
most one blank line between declarations, and each number as the user wrote it.

The layout: one declaration per line; the colons of consecutive key declarations aligned;
`name=value` keyword arguments; `[a, b]` lists; `a >> b` pipes; calls longer than
:data:`WIDTH` columns wrapped, continuation lines indented under the opening bracket; strings
double-quoted. Pure Python: no torch.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import attrs

from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic
from rldsl.lang.source import SourceFile

__all__ = ["WIDTH", "expr_source", "format_source", "to_source", "unified_diff"]

#: The column limit long calls, lists and pipes are wrapped at.
WIDTH = 100

_NUMBER = re.compile(r"-?([0-9](_?[0-9])*(\.[0-9](_?[0-9])*)?([eE][+-]?[0-9](_?[0-9])*)?|inf)")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t", "\r": "\\r"}

# Binding strength, loosest first: what an operand needs to be printed without parentheses.
_PIPE, _SUM, _PRODUCT, _UNARY, _POSTFIX = range(5)
_PRECEDENCE = {"+": _SUM, "-": _SUM, "*": _PRODUCT, "/": _PRODUCT, "//": _PRODUCT, "%": _PRODUCT}


def to_source(module: ast.Module, source: str | None = None) -> str:
    """``module`` as canonical `.rlm` text that parses back to an equal module.

    ``source``, the text ``module`` was parsed from, is optional: with it, comments, blank lines
    (at most one in a row) and the spelling of numbers are kept; without it there are none, and
    a blank line separates declarations of different kinds. A module with syntax errors (an
    :class:`~rldsl.lang.ast.ErrorDecl`) cannot be printed: ValueError.

    >>> from rldsl.lang.parse import parse
    >>> module, _ = parse("key obs:f32[ 3 ]\\nkey action : f32[1] in [-2.0,2.0]")
    >>> print(to_source(module), end="")
    key obs    : f32[3]
    key action : f32[1] in [-2.0, 2.0]
    """
    for decl in module.body:
        if isinstance(decl, ast.ErrorDecl):
            raise ValueError(f"cannot print a module with a syntax error at {decl.span}")
    printer = _Printer(source)
    blocks = _attach(module.body, source) if source is not None else _plain_blocks(module.body)
    outputs = [block.lines(printer, width) for block, width in zip(blocks, _key_widths(blocks))]
    _align_trailing(blocks, outputs)
    lines = [line for output in outputs for line in output]
    return "\n".join(lines) + "\n" if lines else ""


def _align_trailing(blocks: list[_Block], outputs: list[list[str]]) -> None:
    """Add each block's trailing comment to its last line, two spaces after the code; the
    comments of a run of consecutive one-line declarations start in one column, as gofmt aligns
    them (a run ends at a blank line, a comment line, or a declaration without a comment)."""
    run: list[int] = []

    def flush() -> None:
        column = max(len(outputs[i][-1]) for i in run) + 2
        for i in run:
            outputs[i][-1] = outputs[i][-1].ljust(column) + blocks[i].trailing
        run.clear()

    for at, block in enumerate(blocks):
        one_line = block.decl is not None and len(outputs[at]) - block.blank - len(block.comments) == 1
        if run and (block.blank or block.comments or not block.trailing or not one_line):
            flush()
        if block.trailing and one_line:
            run.append(at)
        elif block.trailing:
            outputs[at][-1] += "  " + block.trailing
    if run:
        flush()


def expr_source(expr: ast.Expr) -> str:
    """One expression as `.rlm` text, on one line.

    >>> from rldsl.lang.parse import parse
    >>> module, _ = parse("dim d = 2*(a+ 1)")
    >>> expr_source(module.body[0].value)
    '2 * (a + 1)'
    """
    return _Printer(None).flat(expr)


def format_source(source: SourceFile) -> tuple[str | None, list[Diagnostic]]:
    """The canonical text of a file, or None and the syntax errors that prevent formatting it.

    The result is checked to parse back to the same AST; ValueError if it would not (a printer
    bug: the file must then be left alone).
    """
    from rldsl.lang.parse import parse_source

    module, diagnostics = parse_source(source)
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        return None, errors
    text = to_source(module, source.text)
    if parse_source(SourceFile(source.name, text))[0] != module:
        raise ValueError(f"formatting `{source.name}` would change its meaning")
    return text, []


def unified_diff(before: str, after: str, name: str) -> str:
    r"""The change from ``before`` to ``after`` as a unified diff (``rldsl fmt --diff``), headed
    ``--- NAME<tab>(original)`` and ``+++ NAME<tab>(formatted)`` so that ``patch`` reads the file
    name; ``""`` when nothing changes. Lines are split at ``\n`` only, and a last line without
    one is marked as ``diff`` marks it.

    >>> print(unified_diff("key x:f32[3]\n", "key x : f32[3]\n", "m.rlm"), end="")  # doctest: +NORMALIZE_WHITESPACE
    --- m.rlm	(original)
    +++ m.rlm	(formatted)
    @@ -1 +1 @@
    -key x:f32[3]
    +key x : f32[3]
    """
    import difflib

    return "".join(difflib.unified_diff(_diff_lines(before), _diff_lines(after),
                                        f"{name}\t(original)", f"{name}\t(formatted)"))


def _diff_lines(text: str) -> list[str]:
    r"""``text`` as lines that keep their ``\n``; a last line without one gets the marker line."""
    lines = [f"{line}\n" for line in text.split("\n")]
    last = lines.pop()  # what follows the last "\n": "" when the text ends with one
    if last != "\n":
        lines.append(f"{last}\\ No newline at end of file\n")
    return lines


# ---------------------------------------------------------------------------------------------
# Comments and blank lines


@attrs.frozen
class _Comment:
    """A `# ...` comment: its offsets in the source and its text (without the line ending)."""

    start: int
    end: int
    text: str


def _comments(text: str) -> list[_Comment]:
    """Every comment in ``text``: a `#` outside a string, up to the end of its line."""
    found: list[_Comment] = []
    at = 0
    while at < len(text):
        char = text[at]
        if char in "\"'":
            at = _string_end(text, at)
        elif char == "#":
            end = text.find("\n", at)
            end = len(text) if end < 0 else end
            found.append(_Comment(at, end, text[at:end].rstrip()))
            at = end
        else:
            at += 1
    return found


def _string_end(text: str, start: int) -> int:
    """The offset after the string literal opened at ``start`` (or the end of its line, if it
    is never closed: the parser reports that, and the formatter leaves the file alone)."""
    quote, at = text[start], start + 1
    while at < len(text) and text[at] not in (quote, "\n"):
        at += 2 if text[at] == "\\" else 1
    return at + 1


def _blank_between(source: str, start: int, end: int) -> bool:
    """True when a blank line lies between the end of one element (at ``start``; -1 at the start
    of the file, where no blank line is kept) and the start of the next."""
    return start >= 0 and source.count("\n", start, end) >= 2


@attrs.define
class _Block:
    """What one output group holds: comment lines, then a declaration with an optional trailing
    comment; ``blank`` says whether a blank line comes first. A block without a declaration holds
    the comments after the last one."""

    blank: bool
    comments: list[str] = attrs.Factory(list)
    decl: ast.Decl | None = None
    trailing: str = ""

    def lines(self, printer: _Printer, key_width: int) -> list[str]:
        """The block's output lines."""
        out = [""] if self.blank else []
        out += self.comments
        if self.decl is not None:
            out += printer.decl(self.decl, key_width).split("\n")
        return out


def _attach(decls: Sequence[ast.Decl], source: str) -> list[_Block]:
    """One block per declaration, carrying the comments of ``source`` that belong to it: the
    comment lines before it, the comments inside it (moved before it, since the declaration is
    laid out anew) and the comment that ends its last line."""
    comments = _comments(source)
    blocks: list[_Block] = []
    index, previous_end = 0, -1  # -1: nothing printed yet, so no blank line to keep
    starts = [d.span.start for d in decls[1:]] + [len(source)]
    for decl, next_start in zip(decls, starts):
        block = _Block(blank=False, decl=decl)
        while index < len(comments) and comments[index].start < decl.span.start:
            comment = comments[index]
            _add_line(block, comment.text, _blank_between(source, previous_end, comment.start))
            previous_end, index = comment.end, index + 1
        _add_line(block, None, _blank_between(source, previous_end, decl.span.start))
        while index < len(comments) and comments[index].start < decl.span.end:
            block.comments.append(comments[index].text)
            index += 1
        previous_end = decl.span.end
        if index < len(comments) and _same_line(source, decl.span.end, comments[index].start, next_start):
            block.trailing, previous_end = comments[index].text, comments[index].end
            index += 1
        blocks.append(block)
    return blocks + _tail(comments[index:], source, previous_end)


def _same_line(source: str, end: int, comment: int, next_start: int) -> bool:
    """True when the comment at offset ``comment`` ends the line a declaration ends on (at
    ``end``), before the next declaration starts."""
    return comment < next_start and "\n" not in source[end:comment]


def _add_line(block: _Block, comment: str | None, blank: bool) -> None:
    """Add a comment line (or, for None, mark where the declaration starts) to ``block``, after
    a blank line if ``blank``: the block's first line carries it as ``block.blank``."""
    if not block.comments:
        block.blank = block.blank or blank
    elif blank:
        block.comments.append("")
    if comment is not None:
        block.comments.append(comment)


def _tail(comments: list[_Comment], source: str, previous_end: int) -> list[_Block]:
    """The block of the comments after the last declaration (none when there are none)."""
    block = _Block(blank=False)
    for comment in comments:
        _add_line(block, comment.text, _blank_between(source, previous_end, comment.start))
        previous_end = comment.end
    return [block] if block.comments else []


def _plain_blocks(decls: Sequence[ast.Decl]) -> list[_Block]:
    """Blocks without a source: a blank line wherever the kind of declaration changes."""
    blocks: list[_Block] = []
    for previous, decl in zip((None, *decls), decls):
        blank = previous is not None and type(previous) is not type(decl)
        blocks.append(_Block(blank=blank, decl=decl))
    return blocks


def _key_widths(blocks: list[_Block]) -> list[int]:
    """For each block, the width its key name is padded to: the longest name in its run of
    consecutive key declarations, a run ending at a blank line or another kind of declaration."""
    widths = [0] * len(blocks)
    run: list[int] = []
    for at, block in enumerate(blocks + [_Block(blank=True)]):
        if run and (block.blank or not isinstance(block.decl, ast.KeyDecl)):
            width = max(len(blocks[i].decl.name.value) for i in run)  # type: ignore[union-attr]
            for i in run:
                widths[i] = width
            run = []
        if isinstance(block.decl, ast.KeyDecl):
            run.append(at)
    return widths


# ---------------------------------------------------------------------------------------------
# Declarations, specs and expressions

# An item of a bracketed list: its one-line text, and how to lay it out from a column with so
# many characters to keep free after it.
_Item = tuple[str, Callable[[int, int], str]]


class _Printer:
    """Prints nodes: ``flat`` on one line, ``render`` wrapped to fit :data:`WIDTH` columns."""

    def __init__(self, source: str | None) -> None:
        self.source = source

    # -- declarations --------------------------------------------------------------------------

    def decl(self, decl: ast.Decl, key_width: int) -> str:
        """A declaration, starting at column 0; key names padded to ``key_width``."""
        if isinstance(decl, ast.Include):
            return f"include {self.string(decl.path)}"
        if isinstance(decl, ast.DimDecl):
            head = f"dim {decl.name.value}"
            return head if decl.value is None else head + " = " + self.render(decl.value, len(head) + 3, 0)
        if isinstance(decl, ast.EnvDecl):
            head = f"env {decl.name.value} = "
            items = [self.item(decl.env_id)] + [self.item(k) for k in decl.kwargs]
            return head + self.group("gym(", items, ")", len(head), 0)
        if isinstance(decl, ast.KeyDecl):
            head = f"key {decl.name.value:<{key_width}} : "
            return head + self.render_spec(decl.spec, len(head), 0)
        if isinstance(decl, ast.ModuleDecl):
            return self.module_decl(decl)
        raise ValueError(f"cannot print {type(decl).__name__}")

    def module_decl(self, decl: ast.ModuleDecl) -> str:
        """`role NAME = BODY : INPUTS -> OUTPUTS`; the key flow goes on a line of its own, under
        the `=`, when the body takes several lines or the whole does not fit on one."""
        head = f"{decl.role.value} {decl.name.value} = "
        if decl.io is None:
            return head + self.render(decl.body, len(head), 0)
        flow = ": " + ", ".join(r.dotted for r in decl.io.inputs) + " -> "
        flow += ", ".join(r.dotted for r in decl.io.outputs)
        body = self.render(decl.body, len(head), len(flow) + 1)
        if "\n" not in body and len(head) + len(body) + 1 + len(flow) <= WIDTH:
            return f"{head}{body} {flow}"
        return head + self.render(decl.body, len(head), 0) + "\n" + " " * (len(head) - 2) + flow

    # -- specs -----------------------------------------------------------------------------------

    def flat_spec(self, spec: ast.Spec) -> str:
        """A spec on one line."""
        return self.render_spec(spec, 0, -(10**9))

    def render_spec(self, spec: ast.Spec, col: int, reserve: int) -> str:
        """A spec starting at column ``col``, wrapped so that ``reserve`` columns stay free."""
        if isinstance(spec, ast.UnboundedSpec):
            return spec.dtype.name + self.shape(spec.shape)
        if isinstance(spec, ast.BoundedSpec):
            bounds = f" in [{self.flat(spec.low)}, {self.flat(spec.high)}]"
            return spec.dtype.name + self.shape(spec.shape) + bounds
        if isinstance(spec, ast.SpecRef):
            return spec.ref.dotted
        if isinstance(spec, ast.CompositeSpec):
            items = [self.field(f) for f in spec.fields]
            shape = "" if spec.shape is None else self.shape(spec.shape)
            if not items:
                return "{}" + shape
            return self.group("{ ", items, " }", col, reserve + len(shape)) + shape
        return self.spec_call(spec, col, reserve)

    def spec_call(self, spec: ast.CallSpec, col: int, reserve: int) -> str:
        """A spec type written as a call: `onehot(n, dtype=..., shape=[...], mask=...)`."""
        items = [self.item(spec.size)]
        if spec.dtype is not None:
            items.append(self.text_item("dtype=" + spec.dtype.name))
        if spec.shape is not None:
            items.append(self.text_item("shape=" + self.shape(spec.shape)))
        if spec.mask is not None:
            items.append(self.keyword_item("mask", spec.mask))
        return self.group(spec.kind + "(", items, ")", col, reserve)

    def shape(self, shape: ast.Shape) -> str:
        """`[n_agents, 8]`."""
        return "[" + ", ".join(self.flat(d) for d in shape.dims) + "]"

    def field(self, field: ast.Field) -> _Item:
        """`name: spec`, an entry of a composite spec."""
        head = field.name.value + ": "
        flat = head + self.flat_spec(field.spec)
        return flat, lambda col, reserve: head + self.render_spec(field.spec, col + len(head), reserve)

    # -- expressions -------------------------------------------------------------------------------

    def flat(self, expr: ast.Expr) -> str:
        """An expression on one line."""
        return self.render(expr, 0, -(10**9))

    def render(self, expr: ast.Expr, col: int, reserve: int) -> str:
        """An expression starting at column ``col``; on one line when it fits, else wrapped."""
        if isinstance(expr, ast.Number):
            return self.number(expr)
        if isinstance(expr, ast.String):
            return self.string(expr)
        if isinstance(expr, ast.Bool):
            return "true" if expr.value else "false"
        if isinstance(expr, ast.NoneLit):
            return "none"
        if isinstance(expr, ast.Ref):
            return expr.dotted
        if isinstance(expr, ast.Index):
            return self.operand(expr.value, _POSTFIX, col, 0) + "[" + self.flat(expr.index) + "]"
        if isinstance(expr, ast.UnaryOp):
            return expr.op + self.operand(expr.operand, _UNARY, col + 1, reserve)
        if isinstance(expr, ast.BinOp):
            return self.binop(expr, col, reserve)
        if isinstance(expr, ast.Call):
            items = [self.item(a) for a in expr.args] + [self.item(k) for k in expr.kwargs]
            name = expr.func.dotted
            return name + self.group("(", items, ")", col + len(name), reserve)
        if isinstance(expr, ast.ListExpr):
            return self.group("[", [self.item(x) for x in expr.items], "]", col, reserve)
        if isinstance(expr, ast.TupleExpr):
            return self.tuple_(expr, col, reserve)
        if isinstance(expr, ast.Pipe):
            return self.pipe(expr, col, reserve)
        raise ValueError(f"cannot print {type(expr).__name__}")

    def operand(self, expr: ast.Expr, needed: int, col: int, reserve: int) -> str:
        """``expr`` where an operand binding at least as tightly as ``needed`` is expected: in
        parentheses when it binds more loosely."""
        if _precedence(expr) >= needed:
            return self.render(expr, col, reserve)
        return "(" + self.render(expr, col + 1, reserve + 1) + ")"

    def binop(self, expr: ast.BinOp, col: int, reserve: int) -> str:
        """`left op right`; operators are left-associative, so a right operand as loose as the
        operator gets parentheses."""
        level = _PRECEDENCE[expr.op]
        left = self.operand(expr.left, level, col, 0)
        at = _end_column(left, col) + len(expr.op) + 2
        return f"{left} {expr.op} " + self.operand(expr.right, level + 1, at, reserve)

    def tuple_(self, expr: ast.TupleExpr, col: int, reserve: int) -> str:
        """`()`, `(a,)` or `(a, b)`."""
        if len(expr.items) == 1:
            return "(" + self.render(expr.items[0], col + 1, reserve + 2) + ",)"
        return self.group("(", [self.item(x) for x in expr.items], ")", col, reserve)

    def pipe(self, expr: ast.Pipe, col: int, reserve: int) -> str:
        """`a >> b >> c`; when too long, one stage a line, each `>>` under the first stage."""
        flat = " >> ".join(self.operand(s, _SUM, 0, -(10**9)) for s in expr.stages)
        if col + len(flat) + reserve <= WIDTH:
            return flat
        last = len(expr.stages) - 1
        lines = [self.operand(expr.stages[0], _SUM, col, 0)]
        for at, stage in enumerate(expr.stages[1:], start=1):
            lines.append(" " * col + ">> " + self.operand(stage, _SUM, col + 3, reserve if at == last else 0))
        return "\n".join(lines)

    def number(self, number: ast.Number) -> str:
        """A number as the user wrote it when the source says, else its shortest exact form."""
        if self.source is not None:
            written = "".join(self.source[number.span.start:number.span.end].split())
            if _NUMBER.fullmatch(written) and _same(_read_number(written), number.value):
                return written
        value = number.value
        if isinstance(value, float) and value in (float("inf"), float("-inf")):
            return "inf" if value > 0 else "-inf"
        return repr(value)

    @staticmethod
    def string(string: ast.String) -> str:
        """A string, double-quoted, with `\\\\`, `\\"` and control characters escaped."""
        return '"' + "".join(_ESCAPES.get(c, c) for c in string.value) + '"'

    # -- bracketed lists -------------------------------------------------------------------------

    def item(self, node: ast.Expr | ast.Keyword) -> _Item:
        """An argument or list element: an expression or `name=value`."""
        if isinstance(node, ast.Keyword):
            return self.keyword_item(node.name.value, node.value)
        return self.flat(node), lambda col, reserve: self.render(node, col, reserve)

    def keyword_item(self, name: str, value: ast.Expr) -> _Item:
        """`name=value`."""
        head = name + "="
        flat = head + self.flat(value)
        return flat, lambda col, reserve: head + self.render(value, col + len(head), reserve)

    @staticmethod
    def text_item(text: str) -> _Item:
        """An item that is never wrapped."""
        return text, lambda col, reserve: text

    def group(self, opening: str, items: list[_Item], closing: str, col: int, reserve: int) -> str:
        """``opening`` items ``closing``: on one line when it fits, else filled line by line,
        each continuation line indented under the first item."""
        flat = opening + ", ".join(text for text, _ in items) + closing
        if col + len(flat) + reserve <= WIDTH or not items:
            return flat
        indent = col + len(opening)
        parts, at = [opening], indent
        for position, (text, render) in enumerate(items):
            last = position == len(items) - 1
            after = len(closing) + reserve if last else 1
            if position and at + 1 + len(text) + after > WIDTH:
                parts.append("\n" + " " * indent)
                at = indent
            elif position:
                parts.append(" ")
                at += 1
            piece = render(at, after) + (closing if last else ",")
            parts.append(piece)
            at = _end_column(piece, at)
        return "".join(parts)


def _precedence(expr: ast.Expr) -> int:
    """How tightly ``expr`` binds, as printed."""
    if isinstance(expr, ast.Pipe):
        return _PIPE
    if isinstance(expr, ast.BinOp):
        return _PRECEDENCE[expr.op]
    if isinstance(expr, ast.UnaryOp):
        return _UNARY
    if isinstance(expr, ast.Number) and (expr.value < 0 or repr(expr.value).startswith("-")):
        return _UNARY  # printed with a leading `-`
    return _POSTFIX


def _end_column(text: str, col: int) -> int:
    """The column after ``text`` printed from column ``col``."""
    if "\n" in text:
        return len(text.rsplit("\n", 1)[1])
    return col + len(text)


def _read_number(text: str) -> int | float:
    """The value of a number as written (`-1e-4`, `10_000`, `inf`)."""
    sign = -1 if text.startswith("-") else 1
    body = text.lstrip("-")
    if body == "inf":
        return sign * float("inf")
    return sign * (float(body) if any(c in body for c in ".eE") else int(body))


def _same(a: int | float, b: int | float) -> bool:
    """Equal and of the same type (`1` is not `1.0`)."""
    return type(a) is type(b) and a == b
