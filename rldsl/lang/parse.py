"""Parsing: `.rlm` text to an AST, with every syntax error of a file reported in one pass.

Parsing is four steps, each in its own module:

1. :mod:`rldsl.lang.grammar` loads the grammar (``grammar/rlm.lark``) and builds lark's LALR
   parser with the contextual lexer, once per process.
2. :mod:`rldsl.lang.recovery` feeds the tokens through lark's interactive parser and, after a
   syntax error, recovers at the next declaration, so that one pass reports every error.
3. :mod:`rldsl.lang.syntax_errors` explains each error in the user's terms.
4. This module builds the AST (:mod:`rldsl.lang.ast`) from the parse tree, one declaration at a
   time, and reports what only shows there (an unknown dtype or spec type, a positional argument
   after a keyword one, a number out of range, ...).

The parse tree keeps every token (``keep_all_tokens``) and the AST builder takes each node's
span from its first and last token: the same spans as lark's ``propagate_positions``, at half
the parse time for a large file.

>>> module, diagnostics = parse('key observation : f32[3]\\nkey action f32[1]\\n', "a.rlm")
>>> [type(d).__name__ for d in module.body]
['KeyDecl', 'ErrorDecl']
>>> [(d.code, d.span.line, d.message) for d in diagnostics]
[('E0107', 2, 'missing `:` between the key `action` and its spec')]
"""

from __future__ import annotations

import contextlib
import functools
import gc
from collections.abc import Callable, Iterable, Iterator

from lark import Token, Tree

from rldsl.errors import RldslError
from rldsl.lang import ast
from rldsl.lang.diagnostics import Diagnostic, Label, Suggestion, sort_diagnostics
from rldsl.lang.grammar import DECLARATION_KEYWORDS, Grammar, build_lark, grammar_text, load_grammar, token_span
from rldsl.lang.recovery import MAX_NESTING, RecoveringParse
from rldsl.lang.source import SourceFile, Span
from rldsl.lang.spec_types import CALL_TYPES, SPEC_TYPES, SpecForm, normalized_name
from rldsl.lang.types import with_article
from rldsl.lang.values import NumberLimitError, read_number, suggest

# grammar_text, build_lark and DECLARATION_KEYWORDS live in rldsl.lang.grammar, MAX_NESTING in
# rldsl.lang.recovery; they are still exported here, where they were first.
__all__ = ["parse", "parse_source", "grammar_text", "build_lark", "DECLARATION_KEYWORDS", "MAX_NESTING"]

#: Deepest tree the builder accepts: expressions may nest about twice as deep as brackets.
_MAX_TREE_DEPTH = 2 * MAX_NESTING

# ---------------------------------------------------------------------------------------------
# Tokens and trees


def _between(file: str, first: Token, last: Token) -> Span:
    """The span from the start of ``first`` to the end of ``last``."""
    return Span(file, first.line, first.column, last.end_line, last.end_column, first.start_pos, last.end_pos)


def _edge_token(tree: Tree, first: bool) -> Token:
    """The first (or last) token of a tree, found without recursion."""
    node: object = tree
    while isinstance(node, Tree):
        children = [c for c in node.children if c is not None]
        node = children[0] if first else children[-1]
    return node  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------------
# Parse tree to AST


class _TooDeep(RldslError):
    """Raised inside the builder when a declaration's tree is deeper than the parser accepts."""


_ALIASES = {"float32": "f32", "float": "f32", "float64": "f64", "double": "f64", "float16": "f16",
            "half": "f16", "bfloat16": "bf16", "int8": "i8", "int16": "i16", "int32": "i32",
            "int64": "i64", "int": "i64", "long": "i64", "uint8": "u8", "byte": "u8",
            "boolean": "bool", "bool_": "bool"}  # fmt: skip

# Spec type names, for `NAME(...)` where NAME is no spec type (rldsl.lang.spec_types): the names
# of the call forms, other names users try for them, and how the other forms are written.
_SPEC_KINDS = tuple(spec_type.name for spec_type in CALL_TYPES)
_SPEC_ALIASES = {normalized_name(alias): spec_type.name for spec_type in CALL_TYPES for alias in spec_type.aliases}
_SPEC_HELP = {
    normalized_name(name): f"{with_article(words)} is written {spec_type.written}"
    for spec_type in SPEC_TYPES
    if spec_type.form is not SpecForm.CALL
    for name, words in ((spec_type.name, f"{spec_type.name} spec"), *((a, a) for a in spec_type.aliases))
}

_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_ESCAPES_HELP = "escapes are `\\\\`, `\\\"`, `\\'`, `\\n`, `\\t` and `\\r`"
_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "floordiv": "//", "mod": "%"}


class _Builder:
    """Builds AST nodes from the parse tree of one declaration at a time, bottom-up and without
    recursion; problems only visible here (an unknown dtype, a positional argument after a
    keyword one, ...) become diagnostics and turn the declaration into an ErrorDecl.

    The tree keeps every token (lark's ``keep_all_tokens``): a node's span runs from its first
    token to its last, brackets and keywords included. Rule methods get the span and the
    children that carry meaning: values, names, and the declaration keyword or keyword-argument
    name where a rule has one; punctuation and other fixed words are dropped.
    """

    def __init__(self, file: str, diagnostics: list[Diagnostic], grammar: Grammar) -> None:
        self.file = file
        self.diagnostics = diagnostics
        self.fixed = grammar.fixed_words
        self.rules: dict[str, Callable[[Span, list], object]] = {
            "include": self.include, "dim_decl": self.dim_decl, "env_decl": self.env_decl,
            "key_decl": self.key_decl, "module_decl": self.module_decl, "role": self.role,
            "keyflow": self.keyflow, "keys": self.keys, "tensor_spec": self.tensor_spec,
            "shape": self.shape, "bounds": self.bounds,
            **{f"{t.name}_spec": functools.partial(self.call_spec, t.name) for t in CALL_TYPES},
            "dtype_option": self.dtype_option, "shape_option": self.shape_option,
            "mask_option": self.mask_option, "composite_spec": self.composite_spec,
            "field": self.field, "spec_ref": self.spec_ref, "spec_call": self.spec_call,
            "pipe": self.pipe, "neg": self.neg, "pos": self.pos, "call": self.call,
            "kwarg": self.kwarg, "index": self.index, "ref": self.ref, "number": self.number,
            "string": self.string, "true": self.true, "false": self.false, "none": self.none,
            "inf": self.inf, "list": self.list_, "tuple": self.tuple_, "atom": self.parenthesised,
            **{name: functools.partial(self.binop, op) for name, op in _BINARY.items()},
        }  # fmt: skip

    # -- driver --------------------------------------------------------------------------------

    def declaration(self, tree: Tree) -> ast.Decl:
        """The AST of one declaration, or an ErrorDecl if building it found a problem."""
        before = len(self.diagnostics)
        try:
            node = self._build(tree)
        except _TooDeep:
            node = None
        if len(self.diagnostics) > before or node is None:
            return self._error_decl(tree)
        return node  # type: ignore[return-value]

    def _build(self, tree: Tree) -> object:
        """Post-order over the tree without recursion: first list the nodes parents-first, then
        build them in reverse, keeping for each built value its first and last token (for
        spans) and its depth (to refuse trees too deep for later, recursive passes)."""
        order: list[object] = []
        pending: list[object] = [tree]
        while pending:
            item = pending.pop()
            order.append(item)
            if item.__class__ is Tree:
                pending.extend(item.children)  # type: ignore[attr-defined]
        values: list[object] = []
        firsts: list[Token | None] = []
        lasts: list[Token | None] = []
        depths: list[int] = []
        fixed, rules, file = self.fixed, self.rules, self.file
        for item in reversed(order):
            if item.__class__ is not Tree:  # a token, or None for an absent optional part
                values.append(item)
                firsts.append(item)  # type: ignore[arg-type]
                lasts.append(item)  # type: ignore[arg-type]
                depths.append(0)
                continue
            cut = len(values) - len(item.children)  # type: ignore[attr-defined]
            first = firsts[cut]  # no rule starts with an optional part
            last = lasts[-1]
            if last is None:
                last = next(t for t in reversed(lasts[cut:]) if t is not None)
            depth = 1 + max(depths[cut:])
            args = [v for v in values[cut:] if v.__class__ is not Token or v.type not in fixed]  # type: ignore
            del values[cut:], firsts[cut:], lasts[cut:], depths[cut:]
            span = _between(file, first, last)  # type: ignore[arg-type]
            if depth > _MAX_TREE_DEPTH:
                self.report("E0112", f"expression nested more than {_MAX_TREE_DEPTH} levels deep", span,
                            label="too deep", help="flatten the expression, or give its inner parts names")
                raise _TooDeep
            values.append(rules[item.data](span, args))  # type: ignore[attr-defined]
            firsts.append(first)
            lasts.append(last)
            depths.append(depth)
        return values[0]

    def _error_decl(self, tree: Tree) -> ast.ErrorDecl:
        """What a declaration that failed would have declared: its keyword and name."""
        first, last = _edge_token(tree, first=True), _edge_token(tree, first=False)
        name_token = tree.children[1]
        name = self.name(name_token) if isinstance(name_token, Token) and name_token.type == "NAME" else None
        return ast.ErrorDecl(str(first), name, span=_between(self.file, first, last))

    # -- helpers ---------------------------------------------------------------------------------

    def token_span(self, token: Token) -> Span:
        return token_span(self.file, token)

    def name(self, token: Token) -> ast.Name:
        return ast.Name(str(token), span=self.token_span(token))

    def report(self, code: str, message: str, span: Span, **details: object) -> None:
        self.diagnostics.append(Diagnostic(code, message, span, **details))  # type: ignore[arg-type]

    def dtype(self, token: Token) -> ast.Dtype:
        text = str(token)
        if text not in ast.DTYPES:
            guess = _ALIASES.get(text.lower()) or suggest(text, ast.DTYPES)
            span = self.token_span(token)
            self.report(
                "E0501",
                f"unknown dtype `{text}`",
                span,
                label="not a dtype",
                help=f"did you mean `{guess}`?" if guess else "dtypes are " + ", ".join(f"`{d}`" for d in ast.DTYPES),
                suggestion=Suggestion(span, guess) if guess else None,
            )
        return ast.Dtype(text, span=self.token_span(token))

    def check_duplicates(self, keywords: Iterable[tuple[str, Span]], what: str) -> None:
        seen: dict[str, Span] = {}
        for name, span in keywords:
            if name in seen:
                self.report(
                    "E0601",
                    f"{what} `{name}` given twice",
                    span,
                    label="given again here",
                    labels=(Label(seen[name], "first given here"),),
                    help="keep one of them",
                )
            else:
                seen[name] = span

    # -- declarations ------------------------------------------------------------------------------

    # Declaration rules get their keyword first: `a[0]` is `include`, `dim`, `key`, ...

    def include(self, span: Span, a: list) -> ast.Include:
        return ast.Include(self.string(self.token_span(a[1]), a[1:]), span=span)

    def dim_decl(self, span: Span, a: list) -> ast.DimDecl:
        return ast.DimDecl(self.name(a[1]), a[2], span=span)

    def env_decl(self, span: Span, a: list) -> ast.EnvDecl:
        env_id = self.string(self.token_span(a[2]), a[2:3])
        kwargs = tuple(a[3:])
        self.check_duplicates(((k.name.value, k.name.span) for k in kwargs), "argument")
        return ast.EnvDecl(self.name(a[1]), env_id, kwargs, span=span)

    def key_decl(self, span: Span, a: list) -> ast.KeyDecl:
        return ast.KeyDecl(self.name(a[1]), a[2], span=span)

    def module_decl(self, span: Span, a: list) -> ast.ModuleDecl:
        return ast.ModuleDecl(ast.Role(str(a[0])), self.name(a[1]), a[2], a[3], span=span)

    def role(self, span: Span, a: list) -> Token:
        return a[0]

    def keyflow(self, span: Span, a: list) -> ast.KeyFlow:
        return ast.KeyFlow(a[0], a[1], span=span)

    def keys(self, span: Span, a: list) -> tuple[ast.Ref, ...]:
        return tuple(a)

    # -- specs ---------------------------------------------------------------------------------------

    def tensor_spec(self, span: Span, a: list) -> ast.UnboundedSpec | ast.BoundedSpec:
        dtype = self.dtype(a[0])
        if a[2] is None:
            return ast.UnboundedSpec(dtype, a[1], span=span)
        low, high = a[2]
        return ast.BoundedSpec(dtype, a[1], low, high, span=span)

    def shape(self, span: Span, a: list) -> ast.Shape:
        return ast.Shape(tuple(x for x in a if x is not None), span=span)

    def bounds(self, span: Span, a: list) -> tuple[ast.Expr, ast.Expr]:
        return a[0], a[1]

    def options(self, a: list) -> dict[str, object]:
        self.check_duplicates(((name, s) for name, _, s in a), "option")
        return {name: value for name, value, _ in a}

    def call_spec(self, kind: str, span: Span, a: list) -> ast.CallSpec:
        """A spec type written as a call: the rule `{kind}_spec` of each call form."""
        return ast.CallSpec(kind, a[0], **self.options(a[1:]), span=span)  # type: ignore[arg-type]

    def dtype_option(self, span: Span, a: list) -> tuple[str, ast.Dtype, Span]:
        return "dtype", self.dtype(a[0]), span

    def shape_option(self, span: Span, a: list) -> tuple[str, ast.Shape, Span]:
        return "shape", a[0], span

    def mask_option(self, span: Span, a: list) -> tuple[str, ast.Expr, Span]:
        return "mask", a[0], span

    def composite_spec(self, span: Span, a: list) -> ast.CompositeSpec:
        fields = tuple(f for f in a[:-1] if f is not None)
        return ast.CompositeSpec(fields, a[-1], span=span)

    def field(self, span: Span, a: list) -> ast.Field:
        return ast.Field(self.name(a[0]), a[1], span=span)

    def spec_ref(self, span: Span, a: list) -> ast.SpecRef:
        ref = a[0]
        if len(ref.path) == 1 and (ref.path[0] in ast.DTYPES or ref.path[0].lower() in _ALIASES):
            dtype = _ALIASES.get(ref.path[0].lower(), ref.path[0])
            self.report(
                "E0116",
                f"`{ref.path[0]}` needs a shape",
                span,
                label="a dtype alone has no shape",
                help=f"write `{dtype}[3]` for a vector of three, or `{dtype}[]` for a scalar",
            )
        return ast.SpecRef(ref, span=span)

    def spec_call(self, span: Span, a: list) -> None:
        text = str(a[0])
        name_span = self.token_span(a[0])
        if text in ast.DTYPES or text.lower() in _ALIASES:
            self.report(
                "E0115",
                "a shape is written in square brackets",
                span,
                label="`(...)` after a dtype",
                help=f"write `{_ALIASES.get(text.lower(), text)}[...]`, as in `f32[3]`",
            )
            return None
        key = normalized_name(text)
        guess = key if key in _SPEC_KINDS else _SPEC_ALIASES.get(key)
        if guess is None and key not in _SPEC_HELP:
            guess = suggest(key, _SPEC_KINDS)
        help_ = _SPEC_HELP.get(key) or (f"did you mean `{guess}`?" if guess else None)
        self.report(
            "E0502",
            f"unknown spec type `{text}`",
            name_span,
            label="not a spec type",
            help=help_ or "spec types are " + ", ".join(f"`{k}(...)`" for k in _SPEC_KINDS),
            suggestion=Suggestion(name_span, guess) if guess and key not in _SPEC_HELP else None,
        )
        return None

    # -- expressions -----------------------------------------------------------------------------------

    def pipe(self, span: Span, a: list) -> ast.Pipe:
        return ast.Pipe(tuple(a), span=span)

    def binop(self, op: str, span: Span, a: list) -> ast.BinOp:
        return ast.BinOp(op, a[0], a[1], span=span)

    def neg(self, span: Span, a: list) -> ast.Expr:
        if isinstance(a[0], ast.Number):  # `-1` is a number, not an operation
            return ast.Number(-a[0].value, span=span)
        return ast.UnaryOp("-", a[0], span=span)

    def pos(self, span: Span, a: list) -> ast.UnaryOp:
        return ast.UnaryOp("+", a[0], span=span)

    def call(self, span: Span, a: list) -> ast.Call:
        args: list[ast.Expr] = []
        kwargs: list[ast.Keyword] = []
        for item in a[1:]:
            if item is None:
                continue
            if isinstance(item, ast.Keyword):
                kwargs.append(item)
            elif kwargs:
                self.report(
                    "E0106",
                    "positional argument after a keyword argument",
                    item.span,
                    label="positional argument",
                    labels=(Label(kwargs[0].span, "keyword arguments start here"),),
                    help="move it before the keyword arguments, or give it a name",
                )
            else:
                args.append(item)
        self.check_duplicates(((k.name.value, k.name.span) for k in kwargs), "argument")
        return ast.Call(a[0], tuple(args), tuple(kwargs), span=span)

    def kwarg(self, span: Span, a: list) -> ast.Keyword:
        return ast.Keyword(self.name(a[0]), a[1], span=span)

    def index(self, span: Span, a: list) -> ast.Index:
        return ast.Index(a[0], a[1], span=span)

    def ref(self, span: Span, a: list) -> ast.Ref:
        return ast.Ref(tuple([t.value for t in a]), span=span)

    def number(self, span: Span, a: list) -> ast.Number:
        try:
            value: int | float = read_number(str(a[0]))
        except NumberLimitError as problem:  # out of range (see rldsl.lang.types.MAX_INT)
            self.report(problem.code, problem.message, span, label=problem.label, help=problem.help)
            value = 0
        except ValueError:
            self.report("E0114", "number too long to read", span, label="invalid number",
                        help="write it with fewer digits, or in exponent form such as `1e30`")
            value = 0
        return ast.Number(value, span=span)

    def string(self, span: Span, a: list) -> ast.String:
        raw = str(a[0])
        body = raw[1:-1]
        if "\\" not in body:
            return ast.String(body, span=span)
        out: list[str] = []
        i = 0
        while i < len(body):
            char = body[i]
            if char == "\\":
                escaped = body[i + 1]
                if escaped not in _ESCAPES:
                    at = span.start + 1 + i
                    self.report("E0105", f"unknown escape sequence `\\{escaped}`",
                                Span(self.file, span.line, span.column + 1 + i, span.line,
                                     span.column + 3 + i, at, at + 2),
                                label="unknown escape", help=_ESCAPES_HELP)
                out.append(_ESCAPES.get(escaped, escaped))
                i += 2
            else:
                out.append(char)
                i += 1
        return ast.String("".join(out), span=span)

    def true(self, span: Span, a: list) -> ast.Bool:
        return ast.Bool(True, span=span)

    def false(self, span: Span, a: list) -> ast.Bool:
        return ast.Bool(False, span=span)

    def none(self, span: Span, a: list) -> ast.NoneLit:
        return ast.NoneLit(span=span)

    def inf(self, span: Span, a: list) -> ast.Number:
        return ast.Number(float("inf"), span=span)

    def parenthesised(self, span: Span, a: list) -> ast.Expr:
        return a[0]  # `(x)` is `x`; its span stays the span of `x`

    def list_(self, span: Span, a: list) -> ast.ListExpr:
        return ast.ListExpr(tuple(x for x in a if x is not None), span=span)

    def tuple_(self, span: Span, a: list) -> ast.TupleExpr:
        return ast.TupleExpr(tuple(a), span=span)


# ---------------------------------------------------------------------------------------------
# Entry points


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """Parsing allocates many small objects and no reference cycles; pausing the cyclic garbage
    collector meanwhile makes a large file parse about a third faster."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse_source(source: SourceFile) -> tuple[ast.Module, list[Diagnostic]]:
    """Parse a :class:`SourceFile`; see :func:`parse`."""
    with _gc_paused():
        run = RecoveringParse(load_grammar(), source)
        tree = run.parse()
        builder = _Builder(source.name, run.diagnostics, run.grammar)
        declarations = [builder.declaration(child) for child in tree.children]
    declarations += run.broken
    declarations.sort(key=lambda d: d.span.start)
    module = ast.Module(tuple(declarations), span=source.span(0, len(source.text)))
    return module, sort_diagnostics(run.diagnostics)


def parse(text: str, filename: str = "<input>") -> tuple[ast.Module, list[Diagnostic]]:
    """Parse `.rlm` text into a module and the diagnostics found while parsing.

    Never raises on bad input: every syntax error becomes a diagnostic, and the module keeps
    the declarations that parsed cleanly, with an :class:`~rldsl.lang.ast.ErrorDecl` in place of
    each broken one. Includes are not followed here (see :mod:`rldsl.lang.includes`).

    >>> module, diagnostics = parse("dim n_agents = 3", "a.rlm")
    >>> module.body[0].value.value, diagnostics
    (3, [])
    """
    return parse_source(SourceFile(filename, text))

