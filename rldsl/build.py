"""Build a model from Python: the same declarations a `.rlm` file makes, checked by the same checker.

A :class:`Model` collects declarations (``dim``, ``env``, ``key``, ``module``, ``actor``, ``value``,
``explore``, ``include``) made by method calls; every kind of the language (``MLP``, ``Actor``,
``TanhNormal``, ``Tanh``, ...) can be imported from this module and called like a constructor.
Each call records where it was made, so that diagnostics point at the Python line (and, where
Python's own parser can tell, the argument) that caused them. :meth:`Model.to_source` prints the
model as canonical `.rlm` text that parses back to the same program.

>>> from rldsl.build import MLP, Actor, Model
>>> m = Model()
>>> observation = m.key("observation", "f32[3]")
>>> action = m.key("action", "f32[1] in [-2.0, 2.0]")
>>> _ = m.actor("policy", Actor(MLP(out_features=action.shape[-1], num_cells=[64, 64]), spec=action))
>>> print(m.to_source(), end="")
key observation : f32[3]
key action      : f32[1] in [-2.0, 2.0]
<BLANKLINE>
actor policy = Actor(MLP(out_features=action.shape[-1], num_cells=[64, 64]), spec=action)
>>> m.check().ok
True

Strings are string literals, except where the kind's parameter takes keys, a spec, a module, a
distribution or an activation class: there ``"loc"`` means the key (or name) ``loc``, and a dotted
string such as ``"agents.action"`` a nested key. Keyword arguments that are Python keywords take a
trailing underscore: ``in_=["loc", "scale"]`` is ``in=[loc, scale]``. Importing this module does
not import torch; :meth:`Model.compile` does.
"""

from __future__ import annotations

import functools
import keyword as pykeyword
import math
import numbers
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import attrs

from rldsl.lang import ast
from rldsl.lang.kinds import ArgType, lookup, suggest_kind
from rldsl.lang.parse import parse
from rldsl.lang.printer import expr_source, to_source
from rldsl.lang.pysite import Site, call_site
from rldsl.lang.render import render_text
from rldsl.lang.source import SourceFile, Span

__all__ = ["BuildError", "Expr", "Model", "ref"]

#: Parameter types whose string arguments name something (a key, a module, a class).
_NAMING = frozenset({ArgType.KEY, ArgType.KEYS, ArgType.SPEC, ArgType.NETWORK, ArgType.MODULE,
                     ArgType.NET_OR_MODULE, ArgType.DIST, ArgType.ACTIVATION})


class BuildError(ValueError):
    """A Python call that cannot make a declaration at all: a name that is not an identifier, a
    spec string that does not parse, a value with no `.rlm` form. Everything a `.rlm` file could
    say, however wrong, is left to the checker instead (see :meth:`Model.check`)."""


# ---------------------------------------------------------------------------------------------
# Names


@functools.lru_cache(maxsize=4096)
def _is_name(text: str) -> bool:
    module, diagnostics = parse(f"dim {text}")
    return not diagnostics and module.body[0].name.value == text


@functools.lru_cache(maxsize=4096)
def _is_keyword_name(text: str) -> bool:
    module, diagnostics = parse(f"module m = F({text}=1)")
    return not diagnostics and module.body[0].body.kwargs[0].name.value == text


def _name(text: object, site: Site, what: str) -> ast.Name:
    if not isinstance(text, str) or not _is_name(text):
        raise BuildError(f"{_where(site)}: {what} name {text!r} is not a `.rlm` name: use letters, digits and "
                         "`_`, not starting with a digit, and not a reserved word such as `key`")
    return ast.Name(text, span=site.span)


def _path(text: str, site: Site) -> tuple[str, ...]:
    parts = tuple(text.split("."))
    if not all(_is_name(part) for part in parts):
        raise BuildError(f"{_where(site)}: {text!r} is not a key or name: write `name` or `outer.inner`")
    return parts


def _where(site: Site) -> str:
    return f"{site.source.name}:{site.line}"


# ---------------------------------------------------------------------------------------------
# Expressions


def _number_node(value: numbers.Real, span: Span, site: Site) -> ast.Number:
    if isinstance(value, numbers.Integral):
        return ast.Number(int(value), span=span)
    number = float(value)
    if math.isnan(number):
        raise BuildError(f"{_where(site)}: NaN has no `.rlm` form: give a number")
    return ast.Number(number, span=span)


def _node(value: object, site: Site, naming: bool = False) -> ast.Expr:
    """A Python value as an expression node: numbers, booleans, None, strings (names where
    ``naming``), lists, tuples and :class:`Expr` values."""
    if isinstance(value, Expr):
        return value.node
    span = site.span
    if isinstance(value, bool):
        return ast.Bool(value, span=span)
    if isinstance(value, numbers.Real):
        return _number_node(value, span, site)
    if value is None:
        return ast.NoneLit(span=span)
    if isinstance(value, str):
        return ast.Ref(_path(value, site), span=span) if naming else ast.String(value, span=span)
    if hasattr(value, "tolist") and not isinstance(value, Expr):  # a numpy or torch value
        return _node(value.tolist(), site, naming)
    if isinstance(value, (list, tuple)):
        items = tuple(_node(item, site.item(i), naming) for i, item in enumerate(value))
        return ast.ListExpr(items, span=span) if isinstance(value, list) else ast.TupleExpr(items, span=span)
    raise BuildError(f"{_where(site)}: a {type(value).__name__} has no `.rlm` form: give a number, a string, "
                     "a list, or something made by rldsl.build")


class Expr:
    """A `.rlm` expression made in Python: a name (a key, a module, a kind), a call, arithmetic,
    a pipe of networks. Attribute access, indexing, calling, ``+ - * / // %`` and ``>>`` build
    larger expressions, as the same operators do in a `.rlm` file.

    >>> action = ref("action")
    >>> 2 * action.shape[-1]
    Expr(2 * action.shape[-1])
    """

    __slots__ = ("node",)

    def __init__(self, node: ast.Expr) -> None:
        self.node = node

    def __repr__(self) -> str:
        return f"Expr({expr_source(self.node)})"

    def __getattr__(self, name: str) -> Expr:
        if name.startswith("_") or not isinstance(self.node, ast.Ref):
            raise AttributeError(name)
        site = call_site()
        if not _is_name(name):
            raise BuildError(f"{_where(site)}: `{name}` is not a `.rlm` name")
        return Expr(ast.Ref((*self.node.path, name), span=site.span))

    def __getitem__(self, index: object) -> Expr:
        site = call_site()
        return Expr(ast.Index(self.node, _node(index, site), span=site.span))

    def __iter__(self) -> None:
        raise TypeError("a `.rlm` expression is not iterable")

    def __call__(self, *args: object, **kwargs: object) -> Expr:
        if not isinstance(self.node, ast.Ref):
            raise TypeError(f"`{expr_source(self.node)}` cannot be called")
        site = call_site()
        kind = lookup(self.node.dotted)
        given = [_node(value, site.arg(i), _names_at(kind, i)) for i, value in enumerate(args)]
        keywords = []
        for python_name, value in kwargs.items():
            name = _keyword_name(python_name, site)
            value_site = site.kwarg(python_name)
            param = kind.param(name) if kind is not None else None
            node = _node(value, value_site, param is not None and param.type in _NAMING)
            keywords.append(ast.Keyword(ast.Name(name, span=value_site.span), node, span=value_site.span))
        func = ast.Ref(self.node.path, span=site.func().span)
        return Expr(ast.Call(func, tuple(given), tuple(keywords), span=site.span))

    # -- arithmetic and pipes ------------------------------------------------------------------

    def _binary(self, op: str, other: object, reflected: bool) -> Expr:
        site = call_site()
        node = _node(other, site.operand(not reflected))
        left, right = (node, self.node) if reflected else (self.node, node)
        return Expr(ast.BinOp(op, left, right, span=site.span))

    def __add__(self, other: object) -> Expr:
        return self._binary("+", other, False)

    def __radd__(self, other: object) -> Expr:
        return self._binary("+", other, True)

    def __sub__(self, other: object) -> Expr:
        return self._binary("-", other, False)

    def __rsub__(self, other: object) -> Expr:
        return self._binary("-", other, True)

    def __mul__(self, other: object) -> Expr:
        return self._binary("*", other, False)

    def __rmul__(self, other: object) -> Expr:
        return self._binary("*", other, True)

    def __truediv__(self, other: object) -> Expr:
        return self._binary("/", other, False)

    def __rtruediv__(self, other: object) -> Expr:
        return self._binary("/", other, True)

    def __floordiv__(self, other: object) -> Expr:
        return self._binary("//", other, False)

    def __rfloordiv__(self, other: object) -> Expr:
        return self._binary("//", other, True)

    def __mod__(self, other: object) -> Expr:
        return self._binary("%", other, False)

    def __rmod__(self, other: object) -> Expr:
        return self._binary("%", other, True)

    def __neg__(self) -> Expr:
        site = call_site()
        if isinstance(self.node, ast.Number):  # `-1` is a number, as in a `.rlm` file
            return Expr(ast.Number(-self.node.value, span=site.span))
        return Expr(ast.UnaryOp("-", self.node, span=site.span))

    def __pos__(self) -> Expr:
        return Expr(ast.UnaryOp("+", self.node, span=call_site().span))

    def __rshift__(self, other: object) -> Expr:
        return _pipe(self.node, other, call_site(), reflected=False)

    def __rrshift__(self, other: object) -> Expr:
        return _pipe(self.node, other, call_site(), reflected=True)


def _pipe(node: ast.Expr, other: object, site: Site, reflected: bool) -> Expr:
    """``a >> b``: a pipe, flattened on the left as `a >> b >> c` is one pipe of three."""
    other_node = _node(other, site.operand(not reflected))
    left, right = (other_node, node) if reflected else (node, other_node)
    stages = (*left.stages, right) if isinstance(left, ast.Pipe) else (left, right)
    return Expr(ast.Pipe(stages, span=site.span))


def _names_at(kind: Any, index: int) -> bool:
    """Whether a string passed as positional argument ``index`` of ``kind`` names something."""
    if kind is None:
        return False
    params = kind.positional
    param = params[index] if index < len(params) else kind.varargs
    return param is not None and param.type in _NAMING


def _keyword_name(python_name: str, site: Site) -> str:
    """The `.rlm` name of a Python keyword argument: ``in_`` is ``in``."""
    name = python_name[:-1] if python_name.endswith("_") and pykeyword.iskeyword(python_name[:-1]) else python_name
    if not _is_keyword_name(name):
        raise BuildError(f"{_where(site)}: `{python_name}` is not a `.rlm` argument name")
    return name


def ref(dotted: str) -> Expr:
    """A name as an expression: a key (``ref("agents.action")``), a module, a dim, an env entry.

    >>> ref("action").low
    Expr(action.low)
    """
    site = call_site()
    return Expr(ast.Ref(_path(dotted, site.arg(0)), span=site.span))


def __getattr__(name: str) -> Expr:
    """``from rldsl.build import MLP``: every kind of the language, as a callable expression."""
    if lookup(name) is None:
        guess = suggest_kind(name)
        hint = f"; did you mean `{guess}`?" if guess else ""
        raise AttributeError(f"rldsl.build has no kind `{name}`{hint}")
    return Expr(ast.Ref((name,), span=call_site().span))


# ---------------------------------------------------------------------------------------------
# Specs


def _respan(node: Any, move: Callable[[Span], Span]) -> Any:
    """A copy of a tree with every span passed through ``move``."""
    if isinstance(node, tuple):
        return tuple(_respan(item, move) for item in node)
    if not attrs.has(type(node)) or not hasattr(node, "span"):
        return node
    changes = {f.name: _respan(getattr(node, f.name), move) for f in attrs.fields(type(node)) if f.name != "span"}
    return type(node)(**changes, span=move(node.span))


def _spec(value: object, site: Site, name: str) -> ast.Spec:
    """A key's spec: text such as ``"f32[1] in [-2.0, 2.0]"``, or a name whose spec is used
    (another key, an env entry such as ``pendulum.action``)."""
    if isinstance(value, Expr):
        if isinstance(value.node, ast.Ref):
            return ast.SpecRef(value.node, span=value.node.span)
        raise BuildError(f"{_where(site)}: the spec of `{name}` must be spec text or a key or env entry")
    if _is_runtime_spec(value):
        from rldsl.compiler.specs import from_spec
        from rldsl.lang.types import spec_text

        try:
            value = spec_text(from_spec(value))
        except ValueError as error:
            raise BuildError(f"{_where(site)}: the spec of `{name}`: {error}") from error
    if not isinstance(value, str):
        raise BuildError(f"{_where(site)}: the spec of `{name}` is a {type(value).__name__}: write it as "
                         "text, such as \"f32[3]\" or \"onehot(4)\"")
    prefix = f"key {name} : "
    module, diagnostics = parse(prefix + value, "<spec>")
    move = _spec_mover(site, len(prefix))
    errors = [d for d in diagnostics if d.is_error]
    if errors:
        raise BuildError(_render_spec_errors(errors, value, name, site, len(prefix)))
    if len(module.body) != 1:
        raise BuildError(f"{_where(site)}: the spec of `{name}` holds more than one spec: {value!r}")
    decl = module.body[0]
    assert isinstance(decl, ast.KeyDecl)
    return _respan(decl.spec, move)


def _is_runtime_spec(value: object) -> bool:
    """Whether ``value`` is an :mod:`rldsl.specs` spec (asked without importing torch: a spec
    object exists only once that module is loaded)."""
    specs = sys.modules.get("rldsl.specs")
    return specs is not None and isinstance(value, specs.TensorSpec)


def _spec_mover(site: Site, prefix: int) -> Callable[[Span], Span]:
    """Where a span of parsed spec text lies in the Python file: inside the string literal when
    it is a plain one, else the whole argument."""
    start = site.string_offset()
    if start is None:
        return lambda span: site.span
    return lambda span: site.source.span(start + span.start - prefix, start + span.end - prefix)


def _render_spec_errors(errors: Sequence[Any], text: str, name: str, site: Site, prefix: int) -> str:
    """The syntax errors of a spec string, rendered inside the Python string literal when it is a
    plain one, else against the spec text itself."""
    if site.string_offset() is not None:
        move, sources = _spec_mover(site, prefix), {site.source.name: site.source}
    else:
        shown = SourceFile(f"spec of `{name}` ({_where(site)})", text)
        move, sources = (lambda span: shown.span(max(0, span.start - prefix), max(0, span.end - prefix))), \
            {shown.name: shown}
    return render_text([attrs.evolve(d, span=move(d.span), labels=(), suggestion=None) for d in errors], sources)


# ---------------------------------------------------------------------------------------------
# The model


class Model:
    """A model built declaration by declaration; each method returns the declared name as an
    :class:`Expr`, ready to be used in later declarations.

    ``name`` names the model's root file in artifacts (``model.rlm``). Includes are read relative
    to the current directory, as for a model given to :func:`rldsl.check` as text.
    """

    def __init__(self, name: str = "model") -> None:
        if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name:
            raise BuildError(f"the model name {name!r} names its file in artifacts: give a plain name such as \"sac\"")
        self.name = name
        self._decls: list[ast.Decl] = []

    def __repr__(self) -> str:
        return f"Model({self.name!r}, {len(self._decls)} declarations)"

    @property
    def declarations(self) -> tuple[ast.Decl, ...]:
        """The declarations so far, in the order they were made."""
        return tuple(self._decls)

    @property
    def ast(self) -> ast.Module:
        """The model as a syntax tree, equal to the tree of its printed source."""
        span = self._decls[0].span.to(self._decls[-1].span) if self._decls else Span(self.name, 1, 1, 1, 1, 0, 0)
        return ast.Module(tuple(self._decls), span=span)

    def _add(self, decl: ast.Decl, name: str) -> Expr:
        self._decls.append(decl)
        return Expr(ast.Ref((name,), span=decl.span))

    # -- declarations --------------------------------------------------------------------------

    def include(self, path: str | os.PathLike[str]) -> None:
        """``include "path"``: the declarations of another `.rlm` file."""
        site = call_site()
        self._decls.append(ast.Include(ast.String(os.fspath(path), span=site.arg(0).span), span=site.span))

    def dim(self, name: str, value: object = None) -> Expr:
        """``dim name = value`` (an integer or an expression of other dims), or ``dim name``
        for a dimension without a fixed size."""
        site = call_site()
        node = None if value is None else _node(value, site.arg(1))
        return self._add(ast.DimDecl(_name(name, site.arg(0), "a dim"), node, span=site.span), name)

    def env(self, name: str, env_id: str, **options: object) -> Expr:
        """``env name = gym("Env-v1", ...)``: the specs of a gymnasium environment, as
        ``name.observation``, ``name.action``, ..."""
        site = call_site()
        if not isinstance(env_id, str):
            raise BuildError(f"{_where(site)}: the env id must be a string such as \"Pendulum-v1\"")
        keywords = tuple(ast.Keyword(ast.Name(_keyword_name(k, site), span=site.kwarg(k).span),
                                     _node(v, site.kwarg(k)), span=site.kwarg(k).span) for k, v in options.items())
        decl = ast.EnvDecl(_name(name, site.arg(0), "an env"), ast.String(env_id, span=site.arg(1).span), keywords,
                           span=site.span)
        return self._add(decl, name)

    def key(self, name: str, spec: object) -> Expr:
        """``key name : spec``, the spec as `.rlm` text (``"f32[1] in [-2.0, 2.0]"``), a name
        whose spec is used (``pendulum.action``), or an :mod:`rldsl.specs` object
        (``Bounded(-2.0, 2.0, shape=(1,))``, ``env_specs("Pendulum-v1").action``)."""
        site = call_site()
        decl = ast.KeyDecl(_name(name, site.arg(0), "a key"), _spec(spec, site.arg(1), name), span=site.span)
        return self._add(decl, name)

    def module(self, name: str, body: object, reads: Iterable[object] | None = None,  # noqa: F811
               writes: Iterable[object] | None = None) -> Expr:
        """``module name = body [: reads -> writes]``: a network given keys, or any module."""
        return self._module(ast.Role.MODULE, name, body, reads, writes, call_site())

    def actor(self, name: str, body: object, reads: Iterable[object] | None = None,
              writes: Iterable[object] | None = None) -> Expr:
        """``actor name = body``: a policy."""
        return self._module(ast.Role.ACTOR, name, body, reads, writes, call_site())

    def value(self, name: str, body: object, reads: Iterable[object] | None = None,
              writes: Iterable[object] | None = None) -> Expr:
        """``value name = body``: a value network (state value, Q-value)."""
        return self._module(ast.Role.VALUE, name, body, reads, writes, call_site())

    def explore(self, name: str, body: object, reads: Iterable[object] | None = None,
                writes: Iterable[object] | None = None) -> Expr:
        """``explore name = body``: an exploration policy."""
        return self._module(ast.Role.EXPLORE, name, body, reads, writes, call_site())

    def _module(self, role: ast.Role, name: str, body: object, reads: Iterable[object] | None,
                writes: Iterable[object] | None, site: Site) -> Expr:
        body_node = _node(body, site.arg(1))
        io = None
        if reads is not None or writes is not None:
            io = ast.KeyFlow(self._keys(reads, site, "reads", 2), self._keys(writes, site, "writes", 3), span=site.span)
            if not io.inputs or not io.outputs:
                raise BuildError(f"{_where(site)}: a module given keys reads and writes at least one key each: "
                                 "pass both `reads=[...]` and `writes=[...]`")
        decl = ast.ModuleDecl(role, _name(name, site.arg(0), f"a {role.value}"), body_node, io, span=site.span)
        return self._add(decl, name)

    @staticmethod
    def _keys(keys: Iterable[object] | None, site: Site, word: str, index: int) -> tuple[ast.Ref, ...]:
        if keys is None:
            return ()
        if isinstance(keys, (str, Expr)):
            keys = [keys]
        where = site.argument(index, word)
        out = []
        for i, key in enumerate(keys):
            node = _node(key, where.item(i), naming=True)
            if not isinstance(node, ast.Ref):
                raise BuildError(f"{_where(site)}: `{word}` lists keys, as names (\"observation\") or "
                                 f"declared keys; got {expr_source(node)}")
            out.append(node)
        return tuple(out)

    # -- using it ------------------------------------------------------------------------------

    def to_source(self) -> str:
        """The model as canonical `.rlm` text (it parses back to :attr:`ast`)."""
        return to_source(self.ast)

    def check(self) -> Any:
        """Check the model, as ``rldsl check`` checks a file: an :class:`rldsl.api.Report` whose
        diagnostics point at the Python calls that made each declaration."""
        from rldsl.api import report_of
        from rldsl.lang.includes import load_module

        program = load_module(self.ast, self.name)
        return report_of(program)

    def compile(self, *, device: str = "cpu", seed: int = 0, dtype: str = "f32", check_inputs: bool = True) -> Any:
        """Check and build the model: an :class:`rldsl.compiler.Program`, the options as for
        :func:`rldsl.compile`. Raises :class:`rldsl.compiler.CompileError` when it has errors."""
        from rldsl.compiler import compile_report

        return compile_report(self.check(), device=device, seed=seed, dtype=dtype, check_inputs=check_inputs)

    def save(self, path: str | os.PathLike[str], *, device: str = "cpu", seed: int = 0, dtype: str = "f32") -> Any:
        """Compile the model and write it as an artifact that :func:`rldsl.load` reads (its
        source stored as ``<name>.rlm``); returns the compiled program."""
        from rldsl.compiler import compile_report
        from rldsl.compiler.artifact import write_artifact

        report = self.check()
        program = compile_report(report, device=device, seed=seed, dtype=dtype)
        root = os.path.abspath(f"{self.name}.rlm")
        sources = {name: source for name, source in report.sources.items() if name.endswith(".rlm")}
        sources[root] = SourceFile(root, self.to_source())
        write_artifact(path, program, root, sources, seed=seed, dtype=dtype)
        return program
