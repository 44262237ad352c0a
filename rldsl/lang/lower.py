"""Lowering: module declarations to IR nodes (:mod:`rldsl.lang.ir`), keys included.

Each call is bound to its kind's parameters by :mod:`rldsl.lang.bind` (E0601 given twice, E0602
unknown argument, E0603 missing, E0605 too many positional; defaults filled in), each argument
evaluated here by its parameter's type (E0604 wrong type; keys become
:class:`~rldsl.lang.ir.KeyRef`, specs :class:`~rldsl.lang.ir.SpecArg`, networks and modules IR
nodes), and the kind's ``build`` names the keys the node reads and writes.
Modules are lowered after the modules they use (E0203 for a module that contains itself), so a
name always means one node: shared, not copied.

Sequences (``a >> b``, ``SafeSequential``, an exploration module after its policy, ...) combine
their steps' keys here: a key read before a later step writes it is E0303, a key written twice
without being read in between W0302.

>>> from rldsl.lang.parse import parse
>>> from rldsl.lang.resolve import Scope
>>> from rldsl.lang.values import Reporter
>>> module, _ = parse("key observation : f32[3]\\nactor policy = Actor(MLP(out_features=1))", "a.rlm")
>>> reporter = Reporter()
>>> scope = Scope(list(module.body), reporter)
>>> scope.resolve()
>>> node = Lowering(scope, reporter).run()["policy"]
>>> node.kind.name, [r.dotted for r in node.reads], [r.dotted for r in node.writes]
('Actor', ['observation'], ['action'])
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import attrs

from rldsl.lang import ast
from rldsl.lang import types as T
from rldsl.lang.ir import DISCARD, Dist, Flow, Form, KeyRef, ModuleNode, Network, Numbers, SpecArg, Step
from rldsl.lang.bind import Binder, arguments_of_type, defaults
from rldsl.lang.graphs import first_cycle_walk, is_cycle, strongly_connected
from rldsl.lang.kind_hints import missing_kinds, unknown_kind_help
from rldsl.lang.kinds import BY_NAME, ArgType, Family, Kind, Param, lookup
from rldsl.lang.kwargs import bind_kwargs, dict_call
from rldsl.lang.resolve import DeclaredKey, Scope, Target
from rldsl.lang.source import Span
from rldsl.lang.types import Sym
from rldsl.lang.values import INVALID, Reporter, describe, did_you_mean, is_dim, is_number, suggest

__all__ = ["Lowering"]

A = ArgType
_MODULE_TYPES = frozenset({A.NETWORK, A.MODULE, A.NET_OR_MODULE})
_ROLE_WORDS = {"actor": "a policy", "value": "a value operator", "explore": "an exploration module"}


class Lowering:
    """Turns every module declaration of a resolved :class:`Scope` into an IR node."""

    def __init__(self, scope: Scope, reporter: Reporter) -> None:
        self.scope = scope
        self.report = reporter.report
        self.lowered: dict[str, object] = {}
        self.uses: dict[str, list[str]] = {}  # module name -> names of the modules it uses
        self.binder = Binder(self.argument, reporter.report)
        self._lowering = ""  # the declaration being lowered

    # -- declarations ----------------------------------------------------------------------------

    def run(self) -> dict[str, object]:
        """Lower every module declaration, each after the modules it uses; name -> node or INVALID."""
        decls = {d.name.value: d for d in self.scope.modules}
        edges: dict[str, list[str]] = {}
        spans: dict[tuple[str, str], Span] = {}
        for name, decl in decls.items():
            refs = list(self._module_refs(decl.body))
            edges[name] = [target for target, _ in refs]
            self.uses[name] = edges[name]
            for target, span in refs:
                spans.setdefault((name, target), span)
        for component in strongly_connected(list(decls), edges):
            if is_cycle(component, edges):
                self._cycle(component, decls, edges, spans)
                continue
            name = component[0]
            self.lowered[name] = self.declaration(decls[name])
        self.scope.failed_modules.update(name for name, node in self.lowered.items() if node is INVALID)
        return self.lowered

    def _cycle(self, component: list[str], decls: dict[str, ast.ModuleDecl], edges: dict[str, list[str]],
               spans: dict[tuple[str, str], Span]) -> None:
        first = min(component, key=list(decls).index)  # the first declared
        members = set(component)
        labels = tuple((span, f"`{a}` uses `{b}`") for (a, b), span in spans.items()
                       if a in members and b in members and a != first)
        path = " -> ".join(f"`{n}`" for n in first_cycle_walk(first, members, edges))
        self.report("E0203", f"module `{first}` contains itself: {path}",
                    decls[first].name.span, label="uses itself", labels=labels,
                    help="a module cannot be part of itself; build the inner part as its own module")
        for name in component:
            self.lowered[name] = INVALID
            self.scope.poisoned.add(name)

    def _module_refs(self, body: ast.Expr) -> Iterator[tuple[str, Span]]:
        """Names of modules used where a kind expects a module (key positions are left out)."""
        stack: list[ast.Expr] = [body]
        while stack:
            expr = stack.pop()
            if isinstance(expr, ast.Ref):
                if len(expr.path) == 1 and self.scope.sort.get(expr.path[0]) == "module":
                    yield expr.path[0], expr.span
            elif isinstance(expr, ast.Pipe):
                stack.extend(expr.stages)
            elif isinstance(expr, ast.Call):
                stack.extend(self._module_arguments(expr))

    def _module_arguments(self, call: ast.Call) -> Iterator[ast.Expr]:
        kind = lookup(call.func.dotted)
        if kind is not None:
            yield from arguments_of_type(kind, call, _MODULE_TYPES | {A.DIST, A.NUMBERS})

    def declaration(self, decl: ast.ModuleDecl) -> object:
        """The node of one declaration (INVALID when it has an error that was reported)."""
        self._lowering = decl.name.value
        value = self.module_expr(decl.body)
        if value is INVALID:
            return INVALID
        name = decl.name.value
        if isinstance(value, (Dist, Numbers)):
            what = "a distribution" if isinstance(value, Dist) else "a constant vector"
            self.report("E0607", f"`{name}` is {what}, not a network or module", decl.body.span, label=what,
                        help="use it as an argument: `dist=...` of a probabilistic actor, `support=...` of a "
                             "distributional Q-value actor")
            return INVALID
        if decl.io is not None:
            value = self._keyed(decl, value)
            if value is INVALID:
                return INVALID
        elif isinstance(decl.body, ast.Ref) and getattr(value, "name", None) is not None:
            return value  # another name for a declared module: the same module, not a copy
        self._check_role(decl, value)
        return attrs.evolve(value, name=name)

    def _keyed(self, decl: ast.ModuleDecl, value: Network | ModuleNode) -> object:
        assert decl.io is not None
        if isinstance(value, ModuleNode):
            what = f"`{value.kind.name}`" if value.kind is not None else "a sequence of modules"
            self.report("E0306", f"{what} is a module already; its keys are not given after `:`", decl.io.span,
                        label="keys given here",
                        help="give the keys as arguments (`in=[...]`, `out=[...]`), or remove them"
                        if value.kind is not None else "each module of the sequence names its own keys")
            return value
        inputs = [self.key_ref(ref) for ref in decl.io.inputs]
        outputs = [self.key_ref(ref) for ref in decl.io.outputs]
        if INVALID in inputs or INVALID in outputs:
            return INVALID
        self.unique(tuple(outputs), f"`{decl.name.value}`")
        return ModuleNode(Form.KEYED, None, None, decl.span, tuple(inputs), tuple(outputs), network=value,
                          own_writes=tuple(outputs))

    def _check_role(self, decl: ast.ModuleDecl, value: Network | ModuleNode) -> None:
        role = decl.role.value
        kind = value.kind if isinstance(value, ModuleNode) else None
        if kind is None or kind.role is None or role in ("module", kind.role):
            return
        span = decl.span
        width = len(role)
        at = Span(span.file, span.line, span.column, span.line, span.column + width, span.start, span.start + width)
        self.report("W0201", f"`{decl.name.value}` is declared with `{role}`, but {kind.name} is "
                             f"{_ROLE_WORDS[kind.role]}",
                    at, label=f"`{role}` declares {_ROLE_WORDS.get(role, 'a module')}",
                    help=f"declare it with `{kind.role}` (or `module`)")

    def provide(self, ref: KeyRef, spec: T.Spec) -> None:
        """A key the declaration being lowered brings with it (a recurrent module's state, from its
        primer): declared for every module, unless a ``key`` declares it, which must then agree."""
        owner = f"primer of `{self._lowering}`"
        found = self.scope.declared.get(ref.path)
        if found is None:
            self.scope.declared[ref.path] = DeclaredKey(spec, ref.span, owner)
            return
        if T.is_unknown(found.spec, spec) or (not isinstance(found.spec, T.Composite)
                                              and found.spec.dtype == spec.dtype
                                              and T.shapes_equal(found.spec.shape, spec.shape)):
            return
        where = "declared" if found.source == "key" else f"kept by the {found.source}"
        self.report("E0402", f"`{ref.dotted}` is {where} as {T.spec_text(found.spec)}, but `{self._lowering}` keeps "
                             f"its recurrent state there as {T.spec_text(spec)}", ref.span,
                    label=f"{T.spec_text(spec)} here", labels=((found.span, f"{T.spec_text(found.spec)} here"),),
                    help=f"declare `key {ref.dotted} : {T.spec_text(spec)}`, or give the module other state keys "
                         "(`in=[...]`, `out=[...]`)")

    # -- expressions that make networks and modules ---------------------------------------------

    def module_expr(self, expr: ast.Expr) -> object:
        """A network, module, distribution or constant vector from an expression (INVALID after an error)."""
        if isinstance(expr, ast.Ref):
            return self._module_ref(expr)
        if isinstance(expr, ast.Call):
            return self.call(expr)
        if isinstance(expr, ast.Pipe):
            return self._pipe(expr)
        self.report("E0604", f"expected a network or a module, found {_expr_words(expr)}", expr.span,
                    label="not a network", help="write a call such as `MLP(out_features=4)`, or the name of a module")
        return INVALID

    def _module_ref(self, ref: ast.Ref) -> object:
        head = ref.path[0]
        sort = self.scope.sort.get(head)
        if head in self.scope.poisoned:
            return INVALID
        if sort == "module":
            if len(ref.path) == 1:
                return self.lowered.get(head, INVALID)
            self.report("E0206", f"module `{head}` has no part `{ref.path[1]}`", ref.span, label="not a module",
                        help=f"use the module itself, `{head}`, or declare the part as a module of its own")
            return INVALID
        if sort is None and len(ref.path) == 1 and lookup(head) is not None:
            return self.bind_and_build(lookup(head), None, ref.span, ref.span)
        if sort is not None or head in self.scope.env_keys:
            what = {"key": "a key", "dim": "a dim", "env": "an env", "module": "a module"}.get(sort or "key", "a key")
            self.report("E0205", f"`{ref.dotted}` is {what}, not a network or module", ref.span,
                        label="expected a network or module",
                        help="name a module declared with `module`, `actor`, `value` or `explore`, or write a call "
                             "such as `MLP(out_features=4)`")
            return INVALID
        modules = [d.name.value for d in self.scope.modules] + list(BY_NAME)
        if head in missing_kinds():
            help_, _ = unknown_kind_help(head)
        else:
            help_, _ = did_you_mean(head, modules, "declare the module first, or call a kind such as `MLP(...)`")
        self.report("E0201", f"`{head}` is not declared", ref.span, label="no module of this name", help=help_)
        return INVALID

    def call(self, call: ast.Call) -> object:
        """A kind's call, bound and built."""
        name = call.func.dotted
        kind = lookup(name)
        if kind is None:
            self._unknown_kind(call.func)
            return INVALID
        return self.bind_and_build(kind, call, call.span, call.func.span)

    def bind_and_build(self, kind: Kind, call: ast.Call | None, span: Span, name_span: Span) -> object:
        args = bind_kwargs(self, self.binder.bind(kind, call, span, name_span))
        if kind.build is not None:
            return kind.build(self, args)
        if kind.family is Family.DISTRIBUTION:
            return Dist(kind, args, span)
        if kind.family is Family.CONFIG:
            users = sorted(f"`{p.name}` of {k.name}" for k in BY_NAME.values() for p in k.params if p.of == kind.name)
            self.report("E0607", f"`{kind.name}` is a configuration, not a network or module", span,
                        label="a configuration",
                        help=f"give its fields as `dict(...)` to {', '.join(users) or 'the kind that takes it'}")
            return INVALID
        if kind.family is Family.MODULE or kind.family is Family.TENSOR:
            return INVALID
        return Network(kind, args, span)

    def _unknown_kind(self, func: ast.Ref) -> None:
        name = func.dotted
        sort = self.scope.sort.get(func.path[0])
        if sort is not None:
            word = {"key": "a key", "dim": "a dim", "env": "an env", "module": "a module"}[sort]
            self.report("E0205", f"`{name}` is {word} and cannot be called", func.span, label="not a kind",
                        help="calls make new modules from kinds, such as `MLP(...)`; use a declared module by its "
                             "name alone")
            return
        help_, guess = unknown_kind_help(func.path[-1])
        from rldsl.lang.diagnostics import Suggestion

        self.report("E0204", f"unknown kind `{name}`", func.span, label="not a known kind", help=help_,
                    suggestion=Suggestion(func.span, guess) if guess else None)

    def _pipe(self, pipe: ast.Pipe) -> object:
        stages = [self.module_expr(stage) for stage in pipe.stages]
        if INVALID in stages:
            return INVALID
        if all(isinstance(s, Network) for s in stages):
            return Network(None, None, pipe.span, stages=tuple(stages))
        if all(isinstance(s, ModuleNode) for s in stages):
            flow = self.flow([Step.of(s) for s in stages], pipe.span)
            return ModuleNode(Form.SEQUENCE, None, None, pipe.span, flow.reads, flow.writes, tuple(stages),
                              optional_reads=flow.optional_reads, own_writes=flow.own_writes,
                              inner_reads=flow.inner_reads)
        odd = next(i for i, s in enumerate(stages) if not isinstance(s, type(stages[0])))
        first_word, odd_word = _sort_word(stages[0]), _sort_word(stages[odd])
        self.report("E0607", f"`>>` chains networks or modules, not both: a {first_word} is followed by a {odd_word}",
                    pipe.stages[odd].span, label=f"a {odd_word}", labels=((pipe.stages[0].span, f"a {first_word}"),),
                    help="give the networks keys first (`module body = MLP(...) : observation -> hidden`), or chain "
                         "only networks")
        return INVALID

    # -- arguments, by type ------------------------------------------------------------------------

    def argument(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        """The value of one argument, checked against its parameter's type."""
        kind_type = param.type
        if isinstance(expr, ast.NoneLit):
            if param.nullable:
                return None
            return self._wrong(kind, param, expr, "`none`")
        if kind_type in (A.KEY, A.KEYS):
            return self.key_ref(expr) if kind_type is A.KEY else self._keys(kind, param, expr)
        if kind_type is A.SPEC:
            return self._spec(kind, param, expr)
        if kind_type in _MODULE_TYPES:
            return self._module_argument(kind, param, expr)
        if kind_type is A.DIST:
            return self._dist(kind, param, expr)
        if kind_type is A.ACTIVATION:
            return self._activation(kind, param, expr)
        if kind_type is A.LAYER:
            return self._layer(kind, param, expr)
        if kind_type is A.KWARGS:
            return dict_call(self, kind, param, expr)
        if kind_type is A.NUMBERS:
            return self._numbers(kind, param, expr)
        if kind_type in (A.STR, A.CHOICE) and isinstance(expr, ast.Ref) and len(expr.path) == 1 \
                and expr.path[0] not in self.scope.sort:
            return self._unquoted(kind, param, expr)
        value = self.scope.value(expr)
        if value is INVALID:
            return INVALID
        return self._constant(kind, param, expr, value)

    def _constant(self, kind: Kind, param: Param, expr: ast.Expr, value: object) -> object:
        t = param.type
        if isinstance(value, Sym) and value.value is not None and t in (A.FLOAT, A.BOUND):
            value = value.value
        if t is A.INT and is_dim(value):
            return self._sizes(expr, value)
        if t is A.FLOAT and is_number(value):
            return self._float32(param, expr, float(value))
        if t is A.BOOL and isinstance(value, bool):
            return value
        if t is A.STR and isinstance(value, str):
            return value
        if t is A.CHOICE:
            if any(value == c and type(value) is type(c) for c in param.choices):
                return value
            shown = ", ".join(_choice_text(c) for c in param.choices)
            help_, _ = did_you_mean(str(value), [str(c) for c in param.choices if isinstance(c, str)],
                                    f"`{param.name}` is one of {shown}")
            self.report("E0606", f"`{param.name}` cannot be {_choice_text(value)}", expr.span,
                        label="not an accepted value", help=help_)
            return INVALID
        sizes = isinstance(value, tuple) and value and all(map(is_dim, value))
        if t is A.INTS and value == () and (kind.name, param.name) in _EMPTY_MEANS_NONE:
            return value
        if t in (A.SIZE, A.INTS) and (is_dim(value) or sizes):
            return self._sizes(expr, value)
        if t is A.BOUND:
            if is_number(value):
                return float(value)
            if isinstance(value, tuple) and value and all(is_number(v) for v in value):
                return tuple(float(v) for v in value)
        return self._wrong(kind, param, expr, "an empty list" if value == () else describe(value))

    def _float32(self, param: Param, expr: ast.Expr, value: float) -> object:
        """A float argument, refused (E0510) when it is finite but beyond what f32 holds: modules
        compute in f32 (or f64), and torch cannot put such a number in an f32 tensor at run time."""
        if math.isfinite(value) and abs(value) > T.F32_MAX:
            self.report("E0510", f"`{param.name}` is {value:g}, beyond the largest f32 number ({T.F32_MAX:.4g})",
                        expr.span, label="out of range",
                        help="write a number within f32's range, or `inf` where no limit is meant")
            return INVALID
        return value

    def _sizes(self, expr: ast.Expr, value: object) -> object:
        """An integer argument (a size, a count) or a tuple of them, each at most
        :data:`rldsl.lang.types.MAX_SIZE` (E0410 otherwise)."""
        items = value if isinstance(value, tuple) else (value,)
        return INVALID if any(self.scope.within_size_limit(expr, item) is INVALID for item in items) else value

    def _wrong(self, kind: Kind, param: Param, expr: ast.Expr, found: str) -> object:
        self.report("E0604", f"`{param.name}` of {kind.name} takes {param.type.value}, found {found}", expr.span,
                    label=f"expected {param.type.value}", help=param.doc and f"`{param.name}`: {param.doc}" or
                    f"give `{param.name}` {param.type.value}")
        return INVALID

    def _unquoted(self, kind: Kind, param: Param, expr: ast.Ref) -> object:
        from rldsl.lang.diagnostics import Suggestion

        text = expr.path[0]
        if text in ("true", "false") or param.type is A.CHOICE and text not in [str(c) for c in param.choices]:
            help_ = f"`{param.name}` is one of " + ", ".join(_choice_text(c) for c in param.choices) \
                if param.type is A.CHOICE else f'write it as a string: `"{text}"`'
        else:
            help_ = f'write it as a string: `"{text}"`'
        self.report("E0604", f"`{param.name}` of {kind.name} takes a string, found the name `{text}`", expr.span,
                    label="not a string", help=help_, suggestion=Suggestion(expr.span, f'"{text}"'))
        return INVALID

    def key_ref(self, expr: ast.Expr) -> object:
        """A key named by a dotted name (E0604 for a string, E0205 for a dim, module or env)."""
        from rldsl.lang.diagnostics import Suggestion

        if isinstance(expr, ast.String):
            text = expr.value
            fix = Suggestion(expr.span, text) if all(part.isidentifier() for part in text.split(".")) else None
            self.report("E0604", "keys are names, not strings", expr.span, label="a string",
                        help=f"write the key without quotes: `{text}`", suggestion=fix)
            return INVALID
        if not isinstance(expr, ast.Ref):
            self.report("E0604", f"expected a key, found {_expr_words(expr)}", expr.span, label="not a key",
                        help="name a key, as in `observation` or `agents.action`")
            return INVALID
        head = expr.path[0]
        sort = self.scope.sort.get(head)
        if sort in ("dim", "module", "env"):
            hint = {"dim": "dims are sizes", "module": "modules are not keys; name a key the module writes",
                    "env": f"the env provides the keys themselves: write `{'.'.join(expr.path[1:]) or 'observation'}`"}
            self.report("E0205", f"`{expr.dotted}` is {'an' if sort == 'env' else 'a'} {sort}, not a key", expr.span,
                        label="expected a key", help=hint[sort])
            return INVALID
        return KeyRef(expr.path, expr.span)

    def _keys(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        if isinstance(expr, (ast.ListExpr, ast.TupleExpr)):
            refs = tuple(self.key_ref(item) for item in expr.items)
            return INVALID if INVALID in refs else refs
        if isinstance(expr, (ast.Ref, ast.String)):
            ref = self.key_ref(expr)
            return INVALID if ref is INVALID else (ref,)
        return self._wrong(kind, param, expr, _expr_words(expr))

    def _spec(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        if not isinstance(expr, ast.Ref):
            return self._wrong(kind, param, expr, _expr_words(expr))
        target = self.scope.lookup(expr)
        if target is INVALID:
            return INVALID
        assert isinstance(target, Target)
        if target.sort != "spec":
            self.scope.spec_of(expr)  # reports what the name is instead
            return INVALID
        return SpecArg(target.value, target.key, expr.span)

    def _module_argument(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        value = self.module_expr(expr)
        if value is INVALID:
            return INVALID
        wanted = param.type
        if isinstance(value, Network) and wanted is A.MODULE:
            self.report("E0607", f"`{param.name}` of {kind.name} must be a module (with keys), but this is a network",
                        expr.span, label="a network without keys",
                        help="give it keys in its own declaration, as in `module params = MLP(...) >> "
                             "NormalParamExtractor() : observation -> loc, scale`, and pass `params`")
            return INVALID
        if isinstance(value, ModuleNode) and wanted is A.NETWORK:
            self.report("E0607", f"`{param.name}` of {kind.name} must be a network, but this is a module with keys",
                        expr.span, label="a module, not a network",
                        help=f"pass the network itself: {kind.name} gives it its keys (`in=`, `out=`)")
            return INVALID
        if not isinstance(value, (Network, ModuleNode)):
            what = "a distribution" if isinstance(value, Dist) else "a constant vector"
            self.report("E0607", f"`{param.name}` of {kind.name} takes {wanted.value}, found {what}", expr.span,
                        label=what, help=f"`{param.name}`: {param.doc}")
            return INVALID
        return value

    def _dist(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        if isinstance(expr, ast.Ref) and len(expr.path) == 1 and expr.path[0] not in self.scope.sort:
            found = lookup(expr.path[0])
            if found is None:
                return self._unknown_dist(expr, expr.path[0])
            if found.family is Family.DISTRIBUTION:
                return Dist(found, defaults(found, expr.span), expr.span)
            return self._wrong(kind, param, expr, f"the kind `{found.name}`")
        if isinstance(expr, ast.Call):
            if lookup(expr.func.dotted) is None and expr.func.path[0] not in self.scope.sort:
                return self._unknown_dist(expr.func, expr.func.dotted)
            value = self.call(expr)
            if value is INVALID or isinstance(value, Dist):
                return value
            return self._wrong(kind, param, expr, f"a {_sort_word(value)}")
        return self._wrong(kind, param, expr, _expr_words(expr))

    def _unknown_dist(self, ref: ast.Ref, name: str) -> object:
        from rldsl.lang.diagnostics import Suggestion

        names = ", ".join(f"`{k}`" for k, v in BY_NAME.items() if v.family is Family.DISTRIBUTION)
        help_, guess = unknown_kind_help(name, Family.DISTRIBUTION, f"distributions are {names}")
        self.report("E0204", f"unknown distribution `{name}`", ref.span, label="not a distribution", help=help_,
                    suggestion=Suggestion(ref.span, guess) if guess else None)
        return INVALID

    def _activation(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        ref = expr.func if isinstance(expr, ast.Call) else expr
        if isinstance(expr, ast.Call) and (expr.args or expr.kwargs):
            self.report("E0604", f"`{param.name}` takes a class, not a configured layer", expr.span,
                        label="arguments given", help=f"write the class alone, as in `{param.name}={expr.func.dotted}`")
            return INVALID
        if isinstance(ref, ast.Ref) and len(ref.path) == 1:
            found = lookup(ref.path[0])
            if found is not None and found.family is Family.ACTIVATION:
                return found
            if found is None and ref.path[0] not in self.scope.sort:
                from rldsl.lang.diagnostics import Suggestion

                names = ", ".join(f"`{k.name}`" for k in BY_NAME.values() if k.family is Family.ACTIVATION)
                help_, guess = unknown_kind_help(ref.path[0], Family.ACTIVATION, f"activations are {names}")
                self.report("E0204", f"unknown activation `{ref.path[0]}`", ref.span, label="not an activation",
                            help=help_,
                            suggestion=Suggestion(ref.span, guess) if guess else None)
                return INVALID
        return self._wrong(kind, param, expr, _expr_words(expr))

    def _layer(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        """A layer class: a network kind named alone, one of ``param.choices`` (E0606 for another)."""
        ref = expr.func if isinstance(expr, ast.Call) else expr
        if isinstance(expr, ast.Call) and (expr.args or expr.kwargs):
            self.report("E0604", f"`{param.name}` takes a class, not a configured layer", expr.span,
                        label="arguments given", help=f"write the class alone, as in `{param.name}={expr.func.dotted}`")
            return INVALID
        if isinstance(ref, ast.Ref) and len(ref.path) == 1 and ref.path[0] not in self.scope.sort:
            name = ref.path[0]
            if name in param.choices:
                return lookup(name)
            from rldsl.lang.diagnostics import Suggestion

            names = ", ".join(f"`{choice}`" for choice in param.choices)
            guess = suggest(name, param.choices)
            self.report("E0606", f"`{param.name}` of {kind.name} is one of {names}, not `{name}`", ref.span,
                        label="not a layer class this kind builds with", help=f"use one of {names}",
                        suggestion=Suggestion(ref.span, guess) if guess else None)
            return INVALID
        return self._wrong(kind, param, expr, _expr_words(expr))

    def _numbers(self, kind: Kind, param: Param, expr: ast.Expr) -> object:
        if isinstance(expr, ast.Call):
            value = self.call(expr)
            if isinstance(value, Numbers):
                return value if self.scope.within_size_limit(expr, value.length) is not INVALID else INVALID
            if value is INVALID:
                return value
            return self._wrong(kind, param, expr, f"a {_sort_word(value)}")
        value = self.scope.value(expr)
        if value is INVALID:
            return INVALID
        if isinstance(value, tuple) and value and all(is_number(v) for v in value):
            return Numbers(len(value), tuple(float(v) for v in value))
        return self._wrong(kind, param, expr, describe(value))

    # -- key flow of sequences ------------------------------------------------------------------

    def declared(self, path: tuple[str, ...]) -> bool:
        """Whether a key has a spec before any module runs (declared, or provided by an env)."""
        return path in self.scope.declared

    def unique(self, refs: tuple[KeyRef, ...], owner: str) -> None:
        """E0302 for a key listed twice among one module's outputs."""
        seen: dict[tuple[str, ...], KeyRef] = {}
        for ref in refs:
            if ref.path == DISCARD:
                continue
            if ref.path in seen:
                first = seen[ref.path]
                self.report("E0302", f"{owner} writes `{ref.dotted}` twice", ref.span, label="written again here",
                            labels=() if first.implicit else ((first.span, "first written here"),),
                            help="give each output its own key")
            else:
                seen[ref.path] = ref

    def flow(self, steps: list[Step], at: Span) -> Flow:
        """The keys of steps run in order: external reads, writes, and the two checks of a sequence
        (E0303 a key read before a later step writes it, W0302 a key written twice)."""
        written: dict[tuple[str, ...], tuple[KeyRef, int]] = {}
        reads: dict[tuple[str, ...], tuple[KeyRef, int]] = {}
        optional: dict[tuple[str, ...], KeyRef] = {}
        own: dict[tuple[str, ...], KeyRef] = {}
        inner: list[KeyRef] = []
        for index, step in enumerate(steps):
            for ref in step.reads:
                if ref.path not in written:
                    reads.setdefault(ref.path, (ref, index))
                else:
                    inner.append(ref)
            for ref in step.optional_reads:
                if ref.path not in written:
                    optional.setdefault(ref.path, ref)
            used = {r.path for r in step.reads} | {r.path for r in step.optional_reads}
            for ref in step.writes:
                if ref.path in written and ref.path not in used and ref.path != DISCARD:
                    self._overwrite(ref, written[ref.path][0])
                written.setdefault(ref.path, (ref, index))
            for ref in step.own_writes():
                own.setdefault(ref.path, ref)
        for path, (ref, index) in reads.items():
            writer, later = written.get(path, (None, -1))
            if writer is not None and later > index and not self.declared(path):
                labels = [(ref.span, f"`{ref.dotted}` read here")]
                if not writer.implicit:
                    labels.append((writer.span, "written here, by a later module"))
                self.report("E0303", f"`{ref.dotted}` is read before it is written", at,
                            label="the modules of this sequence run in order", labels=tuple(labels),
                            help="put the module that writes it first")
        reads_ = tuple(ref for ref, _ in reads.values())
        writes = tuple(ref for ref, _ in written.values())
        return Flow(reads_, writes, tuple(optional.values()), tuple(own.values()), tuple(inner))
    def _overwrite(self, ref: KeyRef, first: KeyRef) -> None:
        labels = () if first.implicit else ((first.span, "first written here"),)
        self.report("W0302", f"`{ref.dotted}` is written again, and its first value is lost", ref.span,
                    label="overwritten here", labels=labels,
                    help="give one of the outputs another key, or remove the first module")


def _expr_words(expr: ast.Expr) -> str:
    return {ast.Number: "a number", ast.String: "a string", ast.Bool: "a boolean", ast.NoneLit: "`none`",
            ast.ListExpr: "a list", ast.TupleExpr: "a tuple", ast.Call: "a call", ast.Pipe: "a sequence",
            ast.BinOp: "arithmetic", ast.UnaryOp: "arithmetic", ast.Index: "an index",
            ast.Ref: "a name"}.get(type(expr), "an expression")


def _sort_word(value: object) -> str:
    return {Network: "network", ModuleNode: "module", Dist: "distribution", Numbers: "constant vector"}.get(
        type(value), "value")


#: Lists of sizes that may be empty: hidden layers, where `[]` means none (torchrl's `MLP(num_cells=[])`
#: is one linear layer, as Atari heads are written).
_EMPTY_MEANS_NONE = (("MLP", "num_cells"), ("MultiAgentMLP", "num_cells"), ("LSTMNet", "mlp_num_cells"))


def _choice_text(value: object) -> str:
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if value is None:
        return "`none`"
    return f'`"{value}"`' if isinstance(value, str) else f"`{value}`"
