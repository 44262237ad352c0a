"""Binding: a call's arguments matched to its kind's parameters, defaults filled in.

A call such as ``Linear(3, 4, bias=false)`` is matched against the parameters of its kind
(:mod:`rldsl.lang.kinds`): positional arguments in order, the rest by name, any number of extra
positional modules for a kind that collects them (``SafeSequential``). What does not fit is
reported here: E0601 an argument given twice, E0602 an unknown argument (with a "did you mean"
for misspellings and torchrl's own spellings), E0603 a missing one, E0605 too many positional
arguments. Evaluating each argument by its parameter's type is the caller's part, passed in as
``evaluate``: binding knows parameters, lowering (:mod:`rldsl.lang.lower`) knows values.

>>> from rldsl.lang.kinds import lookup
>>> from rldsl.lang.parse import parse
>>> from rldsl.lang.values import Reporter
>>> module, _ = parse("module m = MLP(out_features=4, depht=2)", "a.rlm")
>>> call = module.body[0].body
>>> reporter = Reporter()
>>> binder = Binder(lambda kind, param, expr: expr.value, reporter.report)
>>> args = binder.bind(lookup("MLP"), call, call.span, call.func.span)
>>> args["out_features"], args["depth"]
(4, None)
>>> [(d.code, d.message, d.help) for d in reporter.diagnostics]
[('E0602', 'MLP has no argument `depht`', 'did you mean `depth`?')]
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Sequence

from rldsl.lang import ast
from rldsl.lang.diagnostics import Suggestion
from rldsl.lang.ir import Arg, Args, Dist, KeyRef
from rldsl.lang.kinds import BY_NAME, ArgType, Kind, Param, Pass
from rldsl.lang.kinds._base import REQUIRED
from rldsl.lang.source import Span
from rldsl.lang.values import INVALID, did_you_mean

__all__ = ["Binder", "Evaluate", "arguments_of_type", "default", "defaults", "positional_param"]

#: Turns one argument into its value, checked against its parameter (INVALID after an error).
Evaluate = Callable[[Kind, Param, ast.Expr], object]

A = ArgType


class Binder:
    """Binds calls to kinds: ``evaluate`` gives each argument's value, ``report`` files the
    diagnostics (the signature of :meth:`rldsl.lang.values.Reporter.report`)."""

    def __init__(self, evaluate: Evaluate, report: Callable[..., None]) -> None:
        self.evaluate = evaluate
        self.report = report

    def bind(self, kind: Kind, call: ast.Call | None, span: Span, name_span: Span) -> Args:
        """The arguments of ``call`` (None: the kind named without a call), by parameter,
        evaluated in the order written; defaults for the rest. Problems are reported at the
        argument, or at ``name_span`` (the kind's name) for a missing one."""
        given, rest = self._positional(kind, call.args if call is not None else ())
        self._keywords(kind, call.kwargs if call is not None else (), given)
        values = {}
        for param in kind.params:
            values[param.name] = self._complete(kind, param, given, rest, name_span)
        return Args(kind, values, span, name_span)

    def _positional(self, kind: Kind, arguments: Sequence[ast.Expr]) -> tuple[dict[str, Arg], list[ast.Expr]]:
        """Positional arguments: bound and evaluated (parameter name -> argument), and the extra
        ones a varargs parameter collects (evaluated later, with that parameter)."""
        given: dict[str, Arg] = {}
        rest: list[ast.Expr] = []
        positional = kind.positional
        for index, value in enumerate(arguments):
            param = positional_param(kind, index)
            if param is None:
                self._too_many(kind, value, len(positional), len(arguments))
            elif index < len(positional):
                given[param.name] = Arg(self.evaluate(kind, param, value), value.span, True)
            else:
                rest.append(value)
        return given, rest

    def _keywords(self, kind: Kind, keywords: Sequence[ast.Keyword], given: dict[str, Arg]) -> None:
        """Keyword arguments, bound and evaluated into ``given``; unknown ones and ones already
        given by position are reported and left out."""
        for keyword in keywords:
            param = self._param(kind, keyword)
            if param is None:
                meant = self._meant(kind, keyword)
                if meant is not None and meant.name not in given and meant.required:
                    # reported as a misspelling of `meant`: not also as its absence (E0603)
                    given[meant.name] = Arg(INVALID, keyword.value.span, True)
                continue
            if param.name in given:
                self.report("E0601", f"argument `{param.name}` given twice", keyword.name.span,
                            label="given again by name", labels=((given[param.name].span, "given by position here"),),
                            help="keep one of them")
                continue
            given[param.name] = Arg(self.evaluate(kind, param, keyword.value), keyword.value.span, True)

    def _complete(self, kind: Kind, param: Param, given: dict[str, Arg], rest: list[ast.Expr], at: Span) -> Arg:
        """The argument of one parameter: as given, the collected extra positional arguments for
        the varargs parameter, the default, or INVALID for a required one that is missing."""
        if param.name in given:
            return given[param.name]
        if param is kind.varargs:
            items = tuple(self.evaluate(kind, param, item) for item in rest)
            value = INVALID if INVALID in items else items
            return Arg(value, rest[0].span.to(rest[-1].span) if rest else None, bool(rest))
        if param.required:
            self._missing(kind, param, at)
            return Arg(INVALID, None, False)
        return Arg(default(param, at), None, False)

    def _param(self, kind: Kind, keyword: ast.Keyword) -> Param | None:
        """The parameter a keyword argument names, or None after reporting why there is none:
        a positional-only collection (E0602), a torchrl spelling or a misspelling (E0602, with a
        suggestion), or a name the kind does not have."""
        name = keyword.name.value
        param = kind.param(name)
        if param is not None and param.passed is not Pass.VARARGS:
            return param
        renamed = next((p for p in kind.params if name in p.aka), None)
        if renamed is not None:
            guess = renamed.name
            help_ = f"rldsl writes torchrl's `{name}` as `{guess}=`" if name.endswith(("_keys", "_class", "_kwargs")) \
                else f"did you mean `{guess}`?"
        elif param is not None:
            self.report("E0602", f"{kind.name} takes its `{name}` by position", keyword.name.span,
                        label="not a keyword argument", help=f"list them first, as in `{kind.name}(a, b)`")
            return None
        else:
            help_, guess = did_you_mean(name, [p.name for p in kind.params if p.passed is not Pass.VARARGS],
                                        _takes(kind))
        self.report("E0602", f"{kind.name} has no argument `{name}`", keyword.name.span, label="unknown argument",
                    help=help_, suggestion=Suggestion(keyword.name.span, guess) if guess else None)
        return None

    @staticmethod
    def _meant(kind: Kind, keyword: ast.Keyword) -> Param | None:
        """The parameter an unknown keyword most likely misspells (`centralised` for `centralized`)."""
        name = keyword.name.value
        renamed = next((p for p in kind.params if name in p.aka), None)
        if renamed is not None:
            return renamed
        _, guess = did_you_mean(name, [p.name for p in kind.params if p.passed is not Pass.VARARGS], "")
        return kind.param(guess) if guess else None

    def _too_many(self, kind: Kind, value: ast.Expr, allowed: int, count: int) -> None:
        """E0605 at a positional argument beyond those the kind takes."""
        takes = f"takes {allowed} positional argument{'s' if allowed != 1 else ''}" if allowed else \
            "takes no positional arguments"
        names = ", ".join(f"`{p.name}`" for p in kind.positional)
        given = f"{count} {'is' if count == 1 else 'are'} given"
        self.report("E0605", f"{kind.name} {takes}, but {given}", value.span, label="extra argument",
                    help=f"name it, as in `{_example_keyword(kind)}`"
                    + (f"; the positional ones are {names}" if names else ""))

    def _missing(self, kind: Kind, param: Param, at: Span) -> None:
        """E0603 for a required parameter no argument gives."""
        self.report("E0603", f"{kind.name} needs `{param.name}`", at, label=f"`{param.name}` is missing",
                    help=f"pass `{param.name}=...`: {param.doc}" if param.doc else f"pass `{param.name}=...`")


def positional_param(kind: Kind, index: int) -> Param | None:
    """The parameter the positional argument at ``index`` goes to: the kind's positional
    parameters in order, then its varargs parameter (None when there is neither)."""
    positional = kind.positional
    return positional[index] if index < len(positional) else kind.varargs


def arguments_of_type(kind: Kind, call: ast.Call, types: Collection[ArgType]) -> Iterator[ast.Expr]:
    """The argument expressions of ``call`` whose parameter has one of ``types``, unevaluated and
    in the order written (unknown arguments are left out): lowering uses it to find the modules
    a declaration uses before lowering any."""
    for index, value in enumerate(call.args):
        param = positional_param(kind, index)
        if param is not None and param.type in types:
            yield value
    for keyword in call.kwargs:
        param = kind.param(keyword.name.value)
        if param is not None and param.type in types:
            yield keyword.value


def defaults(kind: Kind, at: Span) -> Args:
    """Every parameter of ``kind`` at its default (a kind named without a call, such as a
    distribution given as ``dist=TanhNormal``)."""
    return Args(kind, {p.name: Arg(default(p, at), None, False) for p in kind.params}, at, at)


def default(param: Param, at: Span) -> object:
    """A parameter's default as a value: key names become implicit keys at ``at``, kind names
    kinds (a distribution with its own defaults); INVALID for a required parameter."""
    value = param.default
    if value is REQUIRED or value is None:
        return None if value is None else INVALID
    if param.type is A.KEY:
        return KeyRef((value,), at, implicit=True)
    if param.type is A.KEYS:
        return tuple(KeyRef((k,), at, implicit=True) for k in value)
    if param.type is A.DIST:
        kind = BY_NAME[value]
        return Dist(kind, defaults(kind, at), at)
    if param.type in (A.ACTIVATION, A.LAYER):
        return BY_NAME[value]
    return value


def _takes(kind: Kind) -> str:
    """The keyword parameters of a kind in words, for the help of an unknown argument."""
    names = [p.name for p in kind.params if p.passed is not Pass.VARARGS]
    return f"{kind.name} takes " + ", ".join(f"`{n}`" for n in names) if names else f"{kind.name} takes no arguments"


def _example_keyword(kind: Kind) -> str:
    """A keyword argument of the kind to show in a help line, ``name=...``."""
    param = next((p for p in kind.params if not p.positional and p.passed is not Pass.VARARGS), None)
    return f"{param.name}=..." if param is not None else "name=..."
