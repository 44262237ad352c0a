"""Name resolution: what every name of a model means, and the value of every constant.

:class:`Scope` collects the declarations of a model (E0202 for a name declared twice), asks
gymnasium for the specs of each ``env`` (E0508 when it cannot), orders dims and keys so that each
is worked out after what it refers to (E0203 for a cycle), and evaluates them: dims to sizes,
key declarations to static specs (:mod:`rldsl.lang.types`). It then evaluates the constant
expressions of module arguments for the lowering pass: arithmetic on dims, spec attributes
(``action.shape[-1]``, ``action.low``), lists.

Dims, envs, keys and modules share one namespace. Keys the env provides (``observation``,
``action``, ...) are declared by the env; a ``key`` declaration of the same name restates one,
and must agree with the env's spec (E0505).

>>> from rldsl.lang.parse import parse
>>> from rldsl.lang.values import Reporter
>>> module, _ = parse("dim n = 3\\nkey obs : f32[2 * n]\\nkey act : f32[obs.shape[-1]] in [-1, 1]", "a.rlm")
>>> scope = Scope(list(module.body), Reporter())
>>> scope.resolve()
>>> from rldsl.lang.types import spec_text
>>> spec_text(scope.declared[("act",)].spec)
'f32[2 * n] in [-1.0, 1.0]'
"""

from __future__ import annotations

import attrs

from rldsl.lang import ast
from rldsl.lang import types as T
from rldsl.lang.graphs import is_cycle, shortest_cycle, strongly_connected
from rldsl.lang.kinds import BY_NAME as KIND_NAMES
from rldsl.lang.source import Span
from rldsl.lang.spec_types import SPEC_TYPES, SPEC_TYPES_BY_NAME, SpecArg, spec_type_of
from rldsl.lang.values import (
    INVALID,
    NumberLimitError,
    Reporter,
    arithmetic,
    check_number,
    describe,
    did_you_mean,
    is_dim,
    is_int,
    is_number,
    negate,
)

# strongly_connected lives in rldsl.lang.graphs; it is still exported here, where it was first.
__all__ = ["ATTRIBUTES", "DeclaredKey", "Scope", "Target", "strongly_connected"]

# The parameters of spec types a model reads as attributes (`action.n`, `action.low`).
_VALUE_ARGS = (SpecArg.SIZE, SpecArg.SIZES, SpecArg.BOUND)


def _spec_attributes() -> dict[str, tuple[type, ...] | None]:
    """``shape``, ``ndim`` and ``dtype``, which every spec has, then the size and bound parameters
    of the spec types (rldsl.lang.spec_types), each with the static classes that have it."""
    attributes: dict[str, tuple[type, ...] | None] = {"shape": None, "ndim": None, "dtype": None}
    for spec_type in SPEC_TYPES:
        for param in spec_type.params:
            if param.type in _VALUE_ARGS:
                attributes[param.name] = (*(attributes.get(param.name) or ()), spec_type.static)
    return attributes


def _owners_help(name: str) -> str:
    """Which spec types have the attribute ``name``, for a spec that has not."""
    owners = [t for t in SPEC_TYPES for p in t.params if p.name == name and p.type in _VALUE_ARGS]
    words = [t.name for t in owners]
    listed = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
    if owners[0].param(name).type is SpecArg.BOUND:
        return f"only {listed} specs have bounds"
    return f"`{name}` belongs to {listed} specs"


#: Attributes of a spec, and the spec classes that have each (None: every spec).
ATTRIBUTES = _spec_attributes()
_ATTRIBUTE_HELP = {name: _owners_help(name) for name, owners in ATTRIBUTES.items() if owners is not None}
_ATTRIBUTE_HELP["dtype"] = "each entry of a composite has its own dtype, as in `obs.position.dtype`"


def _has_attribute(spec: T.Spec, name: str) -> bool:
    """Whether ``spec`` has the attribute ``name`` of :data:`ATTRIBUTES`; a composite has a shape
    but no dtype (its entries have one each)."""
    owners = ATTRIBUTES[name]
    if owners is None:
        return name != "dtype" or not isinstance(spec, T.Composite)
    return isinstance(spec, owners)


_SORTS = {ast.DimDecl: "dim", ast.EnvDecl: "env", ast.KeyDecl: "key", ast.ModuleDecl: "module"}
_WORDS = {"dim": "a dim", "env": "an env", "key": "a key", "module": "a module", "kind": "a kind"}


@attrs.frozen(slots=True)
class DeclaredKey:
    """A key with a spec before any module runs: declared by ``key`` or provided by an env."""

    spec: T.Spec
    span: Span
    source: str  # "key", the env's name, or "primer of `name`" (a recurrent module's state)


@attrs.frozen(slots=True)
class Target:
    """What a dotted name means: ``sort`` is dim, spec, attr, module, env or kind."""

    sort: str
    value: object
    key: tuple[str, ...] | None = None


class Scope:
    """The declarations of a model and the values of its dims, envs and keys."""

    def __init__(self, declarations: list[ast.Decl], reporter: Reporter) -> None:
        self.reporter = reporter
        self.report = reporter.report
        self.decls: dict[str, ast.Decl] = {}
        self.sort: dict[str, str] = {}
        self.dims: dict[str, object] = {}
        self.envs: dict[str, object] = {}
        self.key_specs: dict[str, object] = {}
        self.env_keys: dict[str, tuple[T.Spec, str, Span]] = {}
        self.declared: dict[tuple[str, ...], DeclaredKey] = {}
        self.modules: list[ast.ModuleDecl] = []
        self.poisoned: set[str] = set()
        self.failed_modules: set[str] = set()  # module declarations with errors, set by the lowering
        self._declarations = declarations

    # -- the passes ----------------------------------------------------------------------------

    def resolve(self) -> None:
        """Collect names, read envs, then evaluate dims and keys in dependency order."""
        self._collect()
        for decl in self._declarations:
            if isinstance(decl, ast.EnvDecl) and self.decls.get(decl.name.value) is decl:
                self._env(decl)
        self._values()
        self._declare_keys()

    def _collect(self) -> None:
        for decl in self._declarations:
            if isinstance(decl, ast.ErrorDecl):
                if decl.name is not None:
                    self.poisoned.add(decl.name.value)
                continue
            sort = _SORTS.get(type(decl))
            if sort is None:
                continue
            name = decl.name.value
            first = self.decls.get(name)
            if first is not None:
                self.report("E0202", f"`{name}` is declared twice", decl.name.span,
                            label="declared again here",
                            labels=((first.name.span, f"first declared here as {_WORDS[self.sort[name]]}"),),
                            help="rename one of them; dims, envs, keys and modules share one namespace")
                continue
            self.decls[name] = decl
            self.sort[name] = sort
            if sort == "module":
                self.modules.append(decl)

    def _env(self, decl: ast.EnvDecl) -> None:
        from rldsl.lang.envs import ENV_OPTIONS, EnvError, env_specs

        name = decl.name.value
        categorical = False
        options: list[tuple[str, object]] = []
        ok = True
        for keyword in decl.kwargs:
            value = _literal(keyword.value)
            option = keyword.name.value
            if value is INVALID:
                word = keyword.value.path[0] if isinstance(keyword.value, ast.Ref) else ""
                help_, _ = did_you_mean(word, (), "the options of `gym(...)` are passed to gymnasium.make")
                self.report("E0604", f"`{option}` must be a constant (a number, string or boolean)", keyword.value.span,
                            label="not a constant", help=help_)
                ok = False
            elif option == "render_mode":
                self.report("E0602", "`render_mode` is not an option of `gym(...)`", keyword.name.span,
                            label="specs do not depend on rendering", help="remove it")
                ok = False
            elif option in ENV_OPTIONS:
                if not isinstance(value, bool):
                    self.report("E0604", f"`{option}` must be `true` or `false`, found {describe(value)}",
                                keyword.value.span, label="not a boolean", help=f"write `{option}=true`")
                    ok = False
                categorical = bool(value)
            else:
                options.append((option, value))
        if not ok:
            self.envs[name] = INVALID
            return
        try:
            specs = env_specs(decl.env_id.value, categorical, tuple(options))
        except EnvError as problem:
            self.report("E0508", problem.message, decl.env_id.span, label="cannot be read", help=problem.help)
            self.envs[name] = INVALID
            return
        self.envs[name] = specs
        for key, spec in specs.entries:
            self.env_keys.setdefault(key, (spec, name, decl.span))

    def _values(self) -> None:
        """Dims and keys, each after what it refers to; a cycle is E0203."""
        names = [n for n, s in self.sort.items() if s in ("dim", "key")]
        edges: dict[str, list[str]] = {}
        spans: dict[tuple[str, str], Span] = {}
        for name in names:
            deps = []
            for node in ast.walk(self.decls[name]):
                if isinstance(node, ast.Ref) and self.sort.get(node.path[0]) in ("dim", "key"):
                    deps.append(node.path[0])
                    spans.setdefault((name, node.path[0]), node.span)
            edges[name] = deps
        for component in strongly_connected(names, edges):
            if is_cycle(component, edges):
                self._cycle(component, edges, spans)
                continue
            name = component[0]
            decl = self.decls[name]
            if isinstance(decl, ast.DimDecl):
                self.dims[name] = self._dim_decl(decl)
            else:
                self.key_specs[name] = self.spec(decl.spec)

    def _cycle(self, component: list[str], edges: dict[str, list[str]], spans: dict[tuple[str, str], Span]) -> None:
        members = set(component)
        ordered = sorted(component, key=list(self.decls).index)  # in declaration order
        first = ordered[0]
        path = shortest_cycle(first, members, edges)
        labels = tuple((spans[(a, b)], f"`{a}` refers to `{b}`") for a, b in zip(path, path[1:]) if (a, b) in spans)
        self.report("E0203", f"`{first}` depends on itself: " + " -> ".join(f"`{n}`" for n in path),
                    self.decls[first].name.span,
                    label="defined in terms of itself", labels=labels[1:] if len(labels) > 1 else labels,
                    help="write one of the definitions out instead of referring back")
        for name in component:
            self.poisoned.add(name)
            if self.sort[name] == "dim":
                self.dims[name] = INVALID
            else:
                self.key_specs[name] = INVALID

    def _dim_decl(self, decl: ast.DimDecl) -> object:
        name = decl.name.value
        if decl.value is None:
            return T.Sym(name, None)
        size = self.dim(decl.value)
        if size is INVALID:
            return INVALID
        return T.Sym(name, T.dim_value(size))

    def _declare_keys(self) -> None:
        for name, spec in self.key_specs.items():
            decl = self.decls[name]
            if spec is INVALID:
                continue
            if name in self.env_keys:
                self._agree_with_env(decl, spec, *self.env_keys[name])
            for path, leaf in T.leaves(spec, (name,)):
                self.declared[path] = DeclaredKey(leaf, decl.span, "key")
        for name, (spec, env, span) in self.env_keys.items():
            if name in self.sort:
                continue
            for path, leaf in T.leaves(spec, (name,)):
                self.declared[path] = DeclaredKey(leaf, span, env)

    def _agree_with_env(self, decl: ast.KeyDecl, spec: T.Spec, env_spec: T.Spec, env: str, env_span: Span) -> None:
        """A key declared by both ``key`` and an env: same sort, dtype and shape (E0505);
        different bounds are a warning (W0503)."""
        problem = _spec_difference(spec, env_spec)
        at = decl.spec.span
        env_label = ((env_span, f"env `{env}` gives `{decl.name.value}: {T.spec_text(env_spec)}`"),)
        if problem is not None:
            self.report("E0505", f"`{decl.name.value}` is declared as {T.spec_text(spec)} but env `{env}` gives "
                                 f"{T.spec_text(env_spec)} ({problem})", at, label="differs from the env's spec",
                        labels=env_label,
                        help=f"declare it as `{T.spec_text(env_spec)}`, or as `{env}.{decl.name.value}`")
            return
        if isinstance(env_spec, T.Bounded) and isinstance(spec, T.Bounded) and T.box_equal(spec, env_spec) is False:
            self.report("W0503", f"`{decl.name.value}` is declared with bounds [{T.bound_text(spec.low)}, "
                                 f"{T.bound_text(spec.high)}] but env `{env}` has [{T.bound_text(env_spec.low)}, "
                                 f"{T.bound_text(env_spec.high)}]", at, label="other bounds", labels=env_label,
                        help=f"copy the env's bounds, or write `key {decl.name.value} : {env}.{decl.name.value}`")

    # -- names -----------------------------------------------------------------------------------

    def lookup(self, ref: ast.Ref) -> Target | object:
        """What a dotted name means, with its spec walked through composite entries and one
        attribute at the end; INVALID (reported) when it means nothing."""
        head, rest = ref.path[0], ref.path[1:]
        if head in self.poisoned:
            return INVALID
        sort = self.sort.get(head)
        if sort is None:
            if head in self.env_keys:
                return self._walk(ref, self.env_keys[head][0], (head,), rest)
            if head in KIND_NAMES and not rest:
                return Target("kind", KIND_NAMES[head])
            self.undefined(ref)
            return INVALID
        if sort in ("dim", "module"):
            if rest:
                self.report("E0206", f"`{head}` is {_WORDS[sort]}: it has no attribute `{rest[0]}`", ref.span,
                            label=f"`{head}` is {_WORDS[sort]}",
                            help="attributes such as `.shape` and `.low` belong to keys")
                return INVALID
            if sort == "module":
                return Target("module", head)
            value = self.dims.get(head, INVALID)
            return INVALID if value is INVALID else Target("dim", value)
        if sort == "env":
            return self._env_entry(ref, head, rest)
        spec = self.key_specs.get(head, INVALID)
        if spec is INVALID:
            return INVALID
        return self._walk(ref, spec, (head,), rest)

    def _env_entry(self, ref: ast.Ref, head: str, rest: tuple[str, ...]) -> Target | object:
        env = self.envs.get(head, INVALID)
        if env is INVALID:
            return INVALID
        if not rest:
            return Target("env", head)
        spec = env.get(rest[0])
        if spec is None:
            help_, _ = did_you_mean(rest[0], env.names(), "it provides " + ", ".join(f"`{n}`" for n in env.names()))
            self.report("E0206", f"env `{head}` provides no key `{rest[0]}`", ref.span, label="not a key of the env",
                        help=help_)
            return INVALID
        return self._walk(ref, spec, (rest[0],), rest[1:])

    def _walk(self, ref: ast.Ref, spec: T.Spec, key: tuple[str, ...], rest: tuple[str, ...]) -> Target | object:
        while rest and isinstance(spec, T.Composite):
            entry = spec.get(rest[0])
            if entry is None:
                break
            spec, key, rest = entry, key + (rest[0],), rest[1:]
        if not rest:
            return Target("spec", spec, key)
        if T.is_unknown(spec):
            return INVALID
        if len(rest) == 1 and rest[0] in ATTRIBUTES:
            value = self.attribute(spec, rest[0], ref)
            return INVALID if value is INVALID else Target("attr", value, key)
        candidates = [n for n, owners in ATTRIBUTES.items() if owners is None or isinstance(spec, owners)]
        if isinstance(spec, T.Composite):
            candidates = spec.names() + candidates
        help_, _ = did_you_mean(rest[0], candidates, "it has " + ", ".join(f"`{c}`" for c in candidates))
        what = "entry or attribute" if isinstance(spec, T.Composite) else "attribute"
        self.report("E0206", f"`{'.'.join(key)}` has no {what} `{rest[0]}`", ref.span,
                    label=f"`{'.'.join(key)}` is {T.spec_text(spec)}", help=help_)
        return INVALID

    def attribute(self, spec: T.Spec, name: str, ref: ast.Ref) -> object:
        """``shape``, ``ndim``, ``dtype``, ``low``, ``high``, ``n`` or ``nvec`` of a spec."""
        if not _has_attribute(spec, name):
            self.report("E0206", f"{T.with_article(T.class_name(spec))} spec has no `{name}`", ref.span,
                        label=f"`{ref.dotted[: -len(name) - 1]}` is {T.spec_text(spec)}",
                        help=_ATTRIBUTE_HELP[name])
            return INVALID
        if name == "shape":
            return tuple(spec.shape)
        if name == "ndim":
            return len(spec.shape)
        if name == "dtype":
            return spec.dtype
        return getattr(spec, name)

    def undefined(self, ref: ast.Ref) -> None:
        """E0201 for a name nobody declares, with the closest declared name."""
        head = ref.path[0]
        candidates = [*self.sort, *self.env_keys]
        help_, guess = did_you_mean(head, candidates, "declare it first, as in `dim n = 3` or `key obs : f32[3]`; keys "
                                                      "that modules produce have no spec to use here")
        span = ref.span
        width = len(head)
        at = Span(span.file, span.line, span.column, span.line, span.column + width, span.start, span.start + width)
        self.report("E0201", f"`{head}` is not declared", at, label="not declared", help=help_)

    # -- constant values --------------------------------------------------------------------------

    def value(self, expr: ast.Expr) -> object:
        """The value of a constant expression: a number, bool, string, None, dim (Sym), tuple, or a
        spec attribute; INVALID (reported) otherwise."""
        if isinstance(expr, ast.Number):
            return self._number(expr)
        if isinstance(expr, (ast.String, ast.Bool)):
            return expr.value
        if isinstance(expr, ast.NoneLit):
            return None
        if isinstance(expr, ast.Ref):
            return self._ref_value(expr)
        if isinstance(expr, (ast.ListExpr, ast.TupleExpr)):
            items = [self.value(item) for item in expr.items]
            return INVALID if any(item is INVALID for item in items) else tuple(items)
        if isinstance(expr, ast.UnaryOp):
            return self._unary(expr)
        if isinstance(expr, ast.BinOp):
            return self._binary(expr)
        if isinstance(expr, ast.Index):
            return self._index(expr)
        what = "a call" if isinstance(expr, ast.Call) else "a sequence of modules"
        self.report("E0604", f"expected a value, found {what}", expr.span, label="not a constant",
                    help="only constants go here: numbers, dims, spec attributes such as `action.shape[-1]`, lists")
        return INVALID

    def _ref_value(self, ref: ast.Ref) -> object:
        target = self.lookup(ref)
        if target is INVALID:
            return INVALID
        assert isinstance(target, Target)
        if target.sort in ("dim", "attr"):
            return target.value
        name = ref.dotted
        attribute = _number_attribute(target.value)
        hint = {"spec": f"use one of its attributes, such as `{name}.shape[-1]` or `{name}.{attribute}`",
                "module": "modules are used as arguments of other modules, not as values",
                "env": f"an env's specs are reached as `{name}.observation`, `{name}.action`, ...",
                "kind": "kinds are called, as in `MLP(out_features=4)`"}[target.sort]
        self.report("E0205", f"`{name}` is {_WORDS.get(target.sort, 'a key')}, not a value",
                    ref.span, label="expected a number or a list", help=hint)
        return INVALID

    def _number(self, expr: ast.Number) -> object:
        """A literal's value; one out of range (possible only in a tree built without the
        parser, which refuses it as E0114) is reported here, before anything computes with it."""
        try:
            check_number(expr.value)
        except NumberLimitError as problem:
            return self._out_of_range(problem, expr)
        return expr.value

    def _out_of_range(self, problem: NumberLimitError, expr: ast.Expr) -> object:
        """E0510 / E0511 for a number the checker refuses (see :data:`rldsl.lang.types.MAX_INT`)."""
        self.report(problem.code, problem.message, expr.span, label=problem.label, help=problem.help)
        return INVALID

    def _unary(self, expr: ast.UnaryOp) -> object:
        operand = self.value(expr.operand)
        if operand is INVALID:
            return INVALID
        if not (is_number(operand) or isinstance(operand, T.Sym)):
            self.report("E0604", f"`{expr.op}` needs a number, found {describe(operand)}", expr.span,
                        label="not a number", help="arithmetic works on numbers and dims")
            return INVALID
        try:
            return negate(operand) if expr.op == "-" else operand
        except NumberLimitError as problem:
            return self._out_of_range(problem, expr)

    def _binary(self, expr: ast.BinOp) -> object:
        left, right = self.value(expr.left), self.value(expr.right)
        if left is INVALID or right is INVALID:
            return INVALID
        try:
            return arithmetic(expr.op, left, right)
        except ZeroDivisionError:
            self.report("E0606", "division by zero", expr.span, label="the divisor is 0",
                        help="divide by a non-zero value")
        except NumberLimitError as problem:
            self._out_of_range(problem, expr)
        except OverflowError:
            self.report("E0511", "the result is too large", expr.span, label="overflow", help="use smaller numbers")
        except TypeError:
            self.report("E0604", f"`{expr.op}` needs two numbers, found {describe(left)} and {describe(right)}",
                        expr.span, label="not numbers", help="arithmetic works on numbers and dims")
        return INVALID

    def _index(self, expr: ast.Index) -> object:
        value, index = self.value(expr.value), self.value(expr.index)
        if value is INVALID or index is INVALID:
            return INVALID
        if not isinstance(value, tuple):
            self.report("E0604", f"only lists and shapes can be indexed, found {describe(value)}", expr.value.span,
                        label="not a list", help="index a shape, as in `action.shape[-1]`")
            return INVALID
        if not is_int(index):
            self.report("E0604", f"an index is an integer, found {describe(index)}", expr.index.span,
                        label="not an integer", help="write `[0]` for the first item, `[-1]` for the last")
            return INVALID
        if not -len(value) <= index < len(value):
            self.report("E0606", f"index {index} is out of range for {len(value)} items", expr.index.span,
                        label="out of range", help=f"indices go from {-len(value)} to {len(value) - 1}" if value
                        else "the list is empty")
            return INVALID
        return value[index]

    def dim(self, expr: ast.Expr) -> object:
        """A dimension: a positive int or a dim (E0408 otherwise)."""
        value = self.value(expr)
        if value is INVALID:
            return INVALID
        if isinstance(value, T.Sym):
            if value.value is not None and value.value <= 0:
                return self._bad_dim(expr, f"`{value.text}` is {value.value}")
            return self.within_size_limit(expr, value)
        if not is_int(value):
            return self._bad_dim(expr, f"found {describe(value)}")
        if value <= 0:
            return self._bad_dim(expr, f"found {value}")
        return self.within_size_limit(expr, value)

    def within_size_limit(self, expr: ast.Expr, size: object) -> object:
        """``size`` (an int or dim) when it is at most :data:`rldsl.lang.types.MAX_SIZE`, else
        INVALID after E0410 at ``expr``."""
        value = T.dim_value(size)
        if value is None or value <= T.MAX_SIZE:
            return size
        shown = f"but `{size.text}` is {value}" if isinstance(size, T.Sym) and size.text != str(value) \
            else f"found {value}"
        self.report("E0410", f"a size is at most 2**31 - 1 ({T.MAX_SIZE}), {shown}", expr.span,
                    label="too large", help="sizes of dims, shapes and layers are limited to 2**31 - 1")
        return INVALID

    def _bad_dim(self, expr: ast.Expr, found: str) -> object:
        self.report("E0408", f"a dimension is a positive integer, {found}", expr.span, label="not a dimension",
                    help="use a positive integer, a `dim`, or arithmetic on them such as `2 * n_actions`")
        return INVALID

    def shape(self, node: ast.Shape) -> tuple | object:
        """A shape's dims (E0411 when it has more than :data:`rldsl.lang.types.MAX_ELEMENTS`)."""
        dims = [self.dim(expr) for expr in node.dims]
        if any(d is INVALID for d in dims):
            return INVALID
        if T.element_count(tuple(dims)) > T.MAX_ELEMENTS:
            self.report("E0411", f"the shape {_short(T.shape_text(tuple(dims)))} has more than "
                                 f"{T.MAX_ELEMENTS} (2**40) elements", node.span, label="too many elements",
                        help="a key's spec holds at most 2**40 elements")
            return INVALID
        return tuple(dims)

    # -- specs ---------------------------------------------------------------------------------------

    def spec(self, node: ast.Spec) -> T.Spec | object:
        """The static spec of a spec expression (INVALID after an error)."""
        if isinstance(node, ast.SpecRef):
            return self.spec_of(node.ref)
        if isinstance(node, (ast.UnboundedSpec, ast.BoundedSpec)):
            spec = self._tensor_spec(node)
        elif isinstance(node, ast.CompositeSpec):
            spec = self._composite(node)
        else:
            spec = self._call_spec(node)
        return self._within_limits(spec, node)

    def _within_limits(self, spec: T.Spec | object, node: ast.Spec) -> T.Spec | object:
        """``spec``, or E0410/E0411 when its sizes or element count (over every entry of a
        composite) pass the limits of :mod:`rldsl.lang.types`."""
        if spec is INVALID:
            return spec
        problem = T.size_problem(spec)
        if problem is None:
            return spec
        code, message = problem
        self.report(code, message, node.span, label="too large",
                    help="a size is at most 2**31 - 1, and a key's spec holds at most 2**40 elements")
        return INVALID

    def spec_of(self, ref: ast.Ref) -> T.Spec | object:
        """The spec a name refers to (a key, an env entry, a composite entry)."""
        target = self.lookup(ref)
        if target is INVALID:
            return INVALID
        assert isinstance(target, Target)
        if target.sort == "spec":
            return target.value
        hint = {"dim": "a dim is a size; write a spec such as `f32[n]`",
                "attr": "an attribute is a value, not a spec",
                "module": "a module has no spec; name the key it writes",
                "env": f"name one of its keys, as in `{ref.dotted}.observation`",
                "kind": "write a spec, such as `f32[3]` or `onehot(4)`"}[target.sort]
        self.report("E0205", f"`{ref.dotted}` is {_WORDS.get(target.sort, 'a value')}, not a spec", ref.span,
                    label="expected a key or an env entry", help=hint)
        return INVALID

    def _tensor_spec(self, node: ast.UnboundedSpec | ast.BoundedSpec) -> T.Spec | object:
        shape = self.shape(node.shape)
        if shape is INVALID:
            return INVALID
        dtype = node.dtype.name
        if isinstance(node, ast.UnboundedSpec):
            return T.Unbounded(shape, dtype)
        low, high = self._bound(node.low, shape), self._bound(node.high, shape)
        if low is INVALID or high is INVALID:
            return INVALID
        pairs = T.bound_pairs(low, high)
        if pairs is None or any(lo > hi for lo, hi in pairs):
            self.report("E0506", f"the bounds are not in order: low {T.bound_text(low)}, high {T.bound_text(high)}",
                        node.span, label="empty box", help="write the lower bound first: `in [LOW, HIGH]`")
            return INVALID
        if dtype == "bool":
            self.report("E0506", "a bool spec has no bounds", node.dtype.span, label="bool with bounds",
                        help="write `bool[...]` without bounds")
            return INVALID
        return T.Bounded(shape, dtype, low, high)

    def _bound(self, expr: ast.Expr, shape: tuple) -> object:
        value = self.value(expr)
        if value is INVALID:
            return INVALID
        if is_number(value):
            return float(value)
        flat = _flatten(value)
        if flat is None:
            self.report("E0604", f"a bound is a number or a list of numbers, found {describe(value)}", expr.span,
                        label="not a bound", help="write a number such as `-1.0`, or one per element: `[-1.0, 0.0]`")
            return INVALID
        size = T.shape_size(shape)
        if size is None or len(flat) != size:
            where = f"the shape {T.shape_text(shape)} has {size} elements" if size is not None else \
                f"the shape {T.shape_text(shape)} has no fixed size"
            self.report("E0506", f"the bound has {len(flat)} values, but {where}", expr.span, label="wrong length",
                        help="give one value per element, or a single number for all")
            return INVALID
        return T.simplify_bound([float(v) for v in flat])

    def _call_spec(self, node: ast.CallSpec) -> T.Spec | object:
        """A spec type written as a call, evaluated as its entry in :mod:`rldsl.lang.spec_types`
        says: the dtype (E0506 for a float dtype where the spec holds indices), the size, the
        given shape, then the static rule (E0506 when the given shape does not fit), then the mask."""
        spec_type = SPEC_TYPES_BY_NAME[node.kind]
        dtype = node.dtype.name if node.dtype is not None else spec_type.dtype
        if spec_type.param("dtype").type is SpecArg.INDEX_DTYPE and T.is_float_dtype(dtype):
            self.report("E0506", f"a {spec_type.name} spec holds indices; `{dtype}` is a float dtype",
                        node.dtype.span, label="not an integer dtype",
                        help="use an integer dtype such as `i64`, or `bool`")
            return INVALID
        size = self._nvec(node.size) if spec_type.size.type is SpecArg.SIZES else self.dim(node.size)
        if size is INVALID:
            return INVALID
        shape = self.shape(node.shape) if node.shape is not None else spec_type.default_shape(size)
        if shape is INVALID:
            return INVALID
        spec = spec_type.make(size, shape, dtype)
        if isinstance(spec, str):
            return self._bad_shape(node, spec)
        if node.mask is None:
            return spec
        if spec_type.mask_shape is None:
            self.report("E0507", f"{T.with_article(spec_type.name)} spec takes no mask", node.mask.span,
                        label="no mask here", help="remove `mask=`")
            return INVALID
        return self._masked(spec, node.mask)

    def _nvec(self, expr: ast.Expr) -> tuple | object:
        value = self.value(expr)
        if value is INVALID:
            return INVALID
        items = value if isinstance(value, tuple) else None
        if not items or not all(is_dim(v) and (T.dim_value(v) or 1) > 0 for v in items):
            self.report("E0506", f"`nvec` is a list of positive sizes, found {describe(value)}", expr.span,
                        label="not a list of sizes", help="write one size per variable, as in `[3, 2]`")
            return INVALID
        if any(T.dim_value(v) is None for v in items):
            self.report("E0506", "`nvec` needs fixed sizes", expr.span, label="a size is unknown",
                        help="write the sizes as numbers or dims with a value")
            return INVALID
        if any(self.within_size_limit(expr, v) is INVALID for v in items):
            return INVALID
        return tuple(T.dim_value(v) for v in items)

    def _bad_shape(self, node: ast.Spec, why: str) -> object:
        self.report("E0506", f"invalid shape: {why}", node.shape.span, label="wrong last dim",
                    help="leave `shape=` out to get the default, or end it with the row length")
        return INVALID

    def _masked(self, spec: T.Spec, expr: ast.Expr) -> T.Spec | object:
        value = self.value(expr)
        if value is INVALID:
            return INVALID
        shape = T.mask_shape(spec)
        flat = _flatten(value, bool)
        size = T.shape_size(shape) if shape is not None else None
        if flat is None or not all(isinstance(v, bool) for v in flat):
            self.report("E0507", "a mask is a list of `true`/`false`", expr.span, label="not booleans",
                        help="write one boolean per action, `true` for allowed")
            return INVALID
        if size is None or len(flat) != size:
            self.report("E0507", f"the mask has {len(flat)} entries, but the spec needs {size} (shape "
                                 f"{T.shape_text(shape or ())})", expr.span, label="wrong size",
                        help="give one boolean per action")
            return INVALID
        row = T.dim_value(shape[-1]) if shape else None
        if row and any(not any(flat[i: i + row]) for i in range(0, len(flat), row)):
            self.report("E0507", "the mask forbids every action of a row", expr.span, label="nothing allowed",
                        help="allow at least one action")
            return INVALID
        return attrs.evolve(spec, mask=tuple(flat))

    def _composite(self, node: ast.CompositeSpec) -> T.Spec | object:
        shape = self.shape(node.shape) if node.shape is not None else ()
        if shape is INVALID:
            return INVALID
        entries: list[tuple[str, T.Spec]] = []
        seen: dict[str, Span] = {}
        ok = True
        for field in node.fields:
            name = field.name.value
            if name in seen:
                self.report("E0202", f"entry `{name}` appears twice", field.name.span, label="again here",
                            labels=((seen[name], "first here"),), help="give each entry its own name")
                ok = False
                continue
            seen[name] = field.name.span
            spec = self.spec(field.spec)
            if spec is INVALID:
                ok = False
                continue
            if not isinstance(spec, T.Unknown) and not T.shapes_equal(spec.shape[: len(shape)], shape):
                self.report("E0506", f"entry `{name}` has shape {T.shape_text(spec.shape)}, which does not start with "
                                     f"the composite's batch shape {T.shape_text(shape)}", field.spec.span,
                            label="missing the batch dims",
                            help="start the entry's shape with the batch shape, as in "
                                 f"`f32[{', '.join(map(str, shape))}, ...]`")
                ok = False
                continue
            entries.append((name, spec))
        return T.Composite(tuple(entries), shape) if ok else INVALID


def _number_attribute(spec: T.Spec) -> str:
    """An attribute of ``spec`` that holds a number, for a hint: its first size or bound, else `ndim`."""
    spec_type = spec_type_of(spec)
    for param in spec_type.params if spec_type is not None else ():
        if param.type in (SpecArg.SIZE, SpecArg.BOUND):
            return param.name
    return "ndim"


def _short(text: str) -> str:
    """Text for a message, cut in the middle when it is long (a shape of thousands of dims)."""
    return text if len(text) <= 80 else f"{text[:60]} ... {text[-15:]}"


def _literal(expr: ast.Expr) -> object:
    if isinstance(expr, (ast.Number, ast.String, ast.Bool)):
        return expr.value
    if isinstance(expr, ast.NoneLit):
        return None
    return INVALID


def _flatten(value: object, leaf: type = float) -> list | None:
    """A nested tuple of numbers (or booleans, with ``leaf=bool``) as a flat list, or None."""
    if not isinstance(value, tuple):
        return None
    out: list = []
    stack = [iter(value)]
    while stack:
        item = next(stack[-1], _END)
        if item is _END:
            stack.pop()
        elif isinstance(item, tuple):
            stack.append(iter(item))
        elif (leaf is bool and isinstance(item, bool)) or (leaf is not bool and is_number(item)):
            out.append(item)
        else:
            return None
    return out


_END = object()


def _spec_difference(declared: T.Spec, env: T.Spec) -> str | None:
    """Why a declared spec does not match an env's (sort, dtype, shape), or None when it does."""
    if T.is_unknown(declared, env):
        return None
    if T.domain(declared) != T.domain(env) or (T.domain(env) != "continuous" and type(declared) is not type(env)):
        return f"{T.with_article(T.class_name(declared))} spec, the env's is {T.class_name(env)}"
    if declared.dtype != env.dtype:
        return f"dtype {declared.dtype}, the env's is {env.dtype}"
    if not T.shapes_equal(declared.shape, env.shape):
        return f"shape {T.shape_text(declared.shape)}, the env's is {T.shape_text(env.shape)}"
    if isinstance(env, T.Composite):
        for name, entry in env.entries:
            other = declared.get(name)
            why = "no entry `" + name + "`" if other is None else _spec_difference(other, entry)
            if why is not None:
                return why
    return None
