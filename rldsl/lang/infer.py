"""Type inference: the spec of every key a module writes, and whether it lands in its spec.

:class:`Typing` walks the module nodes (each once; a module used in several places is one node)
and applies each kind's rule (``Kind.infer``) with the specs of the keys it reads. Every write of
a key that has a spec — declared, provided by an env, or given as ``spec=`` — is checked to land
in it (:meth:`Typing.land`): the same shape and dtype, the same sort of spec, and values inside
the bounds, or made to be (projected, squashed, sampled from a bounded distribution). What a
mismatch means depends on where the value comes from (:class:`~rldsl.lang.ir.Origin`): a network
output that may leave a box is a warning (W0501), a distribution whose bounds exceed it an error
(E0702).

>>> from rldsl.lang.check import check_text
>>> result = check_text("key observation : f32[3]\\nkey action : f32[1] in [-1.0, 1.0]\\n"
...                     "actor policy = Actor(MLP(out_features=1), spec=action)", "a.rlm")
>>> [(d.code, d.message) for d in result.diagnostics]
[('W0501', '`policy` writes `action` unbounded, but its spec bounds it to [-1.0, 1.0]')]
"""

from __future__ import annotations

import attrs

from rldsl.lang import types as T
from rldsl.lang.diagnostics import Suggestion
from rldsl.lang.ir import DISCARD, Dist, KeyRef, ModuleNode, Network, Origin, SpecArg, Typed
from rldsl.lang.kinds._base import Family
from rldsl.lang.report import Reason
from rldsl.lang.resolve import Scope
from rldsl.lang.source import Span
from rldsl.lang.values import Reporter

__all__ = ["Typing", "specs_equal"]


def _normal(spec: T.Spec) -> T.Spec:
    """The spec with every dim of known size as an int, for comparisons."""
    def dims(shape: tuple) -> tuple:
        return tuple(T.dim_value(d) if T.dim_value(d) is not None else d for d in shape)

    if isinstance(spec, T.Composite):
        return T.Composite(tuple((k, _normal(v)) for k, v in spec.entries), dims(spec.shape))
    if isinstance(spec, T.Unknown):
        return spec
    changes: dict[str, object] = {"shape": dims(spec.shape)}
    if hasattr(spec, "n"):
        changes["n"] = T.dim_value(spec.n) if T.dim_value(spec.n) is not None else spec.n
    return attrs.evolve(spec, **changes)


def specs_equal(a: T.Spec, b: T.Spec) -> bool:
    """Equal specs, dims compared by size (``n_actions`` with value 4 equals 4)."""
    return _normal(a) == _normal(b)


_SORT_WORDS = {"continuous": "a continuous value", "discrete": "a discrete value", "composite": "a composite"}


class Typing:
    """The typing pass; kinds' ``infer`` functions call back into it (``read``, ``write``, ...).

    ``float_dtype`` is the dtype the model will be compiled in (``"f32"`` or ``"f64"``): networks'
    weights have it, so their inputs must too (E0515).
    """

    def __init__(self, scope: Scope, reporter: Reporter, available: set[tuple[str, ...]],
                 float_dtype: str = "f32") -> None:
        self.scope = scope
        self.float_dtype = float_dtype
        self.report = reporter.report
        self.types: dict[tuple[str, ...], tuple[Typed, KeyRef]] = {}
        self.writers: dict[tuple[str, ...], list[str]] = {}
        self._available = available
        self._reporter = reporter
        self._written: dict[tuple[str, ...], list[tuple[Typed, Span, str]]] = {}
        self._current = ""  # the declaration being typed
        self._failed: set[str] = set()  # declarations whose typing reported an error
        self._outputs: dict[int, dict[tuple[str, ...], T.Spec]] = {}
        self._frames: list[dict[tuple[str, ...], T.Spec]] = []
        self._network_inputs: dict[int, tuple[list[T.Spec], Span]] = {}
        #: The input specs every network (pipe or stage) was typed with: its width is the compiler's.
        self.network_inputs: dict[Network, tuple[T.Spec, ...]] = {}
        self._sites: dict[tuple[str, ...], tuple[Typed, Span]] = {}  # the first write of each key
        self._made_by: dict[tuple[str, ...], Network] = {}  # the network that last produced each key
        #: Why each written key has its spec (its first writer's rules and reads), for --explain-types.
        self.reasons: dict[tuple[str, ...], Reason] = {}
        self._stage_specs: dict[Network, tuple[tuple[T.Spec, ...], tuple[T.Spec, ...]]] = {}

    # -- what kinds call ----------------------------------------------------------------------

    def read(self, ref: KeyRef) -> T.Spec:
        """The spec of a key: its declared spec, else what an earlier step of the same module wrote,
        else what any module wrote, else UNKNOWN (its absence was reported already)."""
        declared = self.scope.declared.get(ref.path)
        if declared is not None:
            return declared.spec
        for frame in reversed(self._frames):
            if ref.path in frame:
                return frame[ref.path]
        typed = self.types.get(ref.path)
        return typed[0].spec if typed is not None else T.UNKNOWN

    def available(self, ref: KeyRef) -> bool:
        """Whether a key is declared or written by some module."""
        return ref.path in self._available

    def declared(self, path: tuple[str, ...]) -> T.Spec | None:
        found = self.scope.declared.get(path)
        return found.spec if found is not None else None

    def written(self, path: tuple[str, ...]) -> Typed | None:
        """How a key that is not declared was first written (its spec, origin and writer), or None."""
        found = self.types.get(path)
        return found[0] if found is not None else None

    def source(self, path: tuple[str, ...]) -> tuple[T.Spec, Span, str] | None:
        """The spec a key's first writer produced, where and by whom; else its declaration."""
        site = self._sites.get(path)
        if site is not None:
            return site[0].spec, site[1], site[0].by
        declared = self.scope.declared.get(path)
        return (declared.spec, declared.span, "declared") if declared is not None else None

    def producer(self, path: tuple[str, ...]) -> Network | None:
        """The network that last produced a key, or None."""
        return self._made_by.get(path)

    def by(self, node: ModuleNode) -> str:
        """How a writer is named in messages: its declaration, else its kind."""
        if node.name is not None:
            return f"`{node.name}`"
        if node.kind is not None:
            return node.kind.name
        if node.network is not None and node.network.kind is not None:
            return node.network.kind.name
        return "the network"

    def module(self, node: ModuleNode) -> None:
        """Type a module node (once), and make what it writes visible to the steps after it."""
        outputs = self._outputs.get(id(node))
        if outputs is None:
            self._frames.append({})
            self._outputs[id(node)] = {}  # a node reached again while being typed adds nothing
            if node.kind is not None and node.kind.infer is not None:
                node.kind.infer(self, node)
            elif node.network is not None:
                self._keyed(node, node.network)
            else:
                for child in node.children:
                    self.module(child)
            outputs = self._outputs[id(node)] = self._frames.pop()
        if self._frames:
            self._frames[-1].update(outputs)

    def _keyed(self, node: ModuleNode, network: Network) -> None:
        results = self.run_network(node, network, node.reads, node.writes)
        for ref, spec in zip(node.writes, results or ()):
            self.write(node, ref, Typed(spec, Origin.NETWORK, self.by(node)),
                       remedy="end the network with a bounded activation such as `Tanh()`, wrap it in an Actor with "
                              "`safe=true`, or follow it with a TanhModule")

    def run_network(self, node: ModuleNode, network: Network, inputs: tuple[KeyRef, ...],
                    outputs: tuple[KeyRef, ...]) -> list[T.Spec] | None:
        """A network's outputs for the specs of ``inputs``, one per key of ``outputs`` (E0305)."""
        specs = [self.read(ref) for ref in inputs]
        if T.is_unknown(*specs):
            return None
        results = self.network(network, specs, [f"`{ref.dotted}`" for ref in inputs], network.span, node.span)
        if results is None:
            return None
        if len(results) != len(outputs):
            named = [r for r in outputs if not r.implicit]
            at = named[0].span.to(named[-1].span) if named else node.span
            count = f"{len(results)} tensor{'s' if len(results) != 1 else ''}"
            keys = f"{len(outputs)} key{'s are' if len(outputs) != 1 else ' is'}"
            self.report("E0305", f"the network returns {count}, but {keys} given for them", at,
                        label=f"{len(outputs)} key{'s' if len(outputs) != 1 else ''}",
                        labels=((network.span, f"returns {count}"),),
                        help="write one key per output, as in `-> loc, scale` after a NormalParamExtractor")
            return None
        for ref in outputs:
            self._made_by[ref.path] = network
        return results

    def network(self, network: Network, inputs: list[T.Spec], labels: list[str], at: Span,
                use: Span | None = None) -> list[T.Spec] | None:
        """A network's output specs for input specs (stages of a pipe in turn); ``use`` is where the
        network is used (a declared network must get the same inputs everywhere)."""
        self.network_inputs.setdefault(network, tuple(inputs))
        if network.stages:
            current, names = inputs, labels
            for index, stage in enumerate(network.stages):
                if index and len(current) != 1:
                    self._tuple_between_stages(network.stages[index - 1], stage, len(current))
                    return None
                result = self.network(stage, current, names, stage.span)
                if result is None:
                    return None
                word = stage.kind.name if stage.kind is not None else "the previous stage"
                current = result
                names = [f"the output of {word}"] * len(result)
        else:
            assert network.kind is not None and network.kind.infer is not None
            current = network.kind.infer(self, network, inputs, labels, at)
            if current is not None:
                self._stage_specs.setdefault(network, (tuple(inputs), tuple(current)))
        if current is not None and network.name is not None:
            self._same_inputs(network, inputs, use or at)
        return current

    def _tuple_between_stages(self, before: Network, stage: Network, count: int) -> None:
        """E0407: a pipe passes one value from stage to stage, so a stage returning several tensors
        (a NormalParamExtractor's `loc, scale`) must end the pipe, where keys name them."""
        word = before.kind.name if before.kind is not None else "the previous stage"
        self.report("E0407", f"a stage of a pipe reads one tensor, but {word} returns {count}", stage.span,
                    label="reads the previous stage's output", labels=((before.span, f"returns {count} tensors"),),
                    help=f"end the pipe with {word} and name its outputs with keys (`-> loc, scale`), then feed the "
                         "key you need to the next network")

    def _same_inputs(self, network: Network, inputs: list[T.Spec], at: Span) -> None:
        """A declared network has one set of weights: every use must feed it the same input sizes."""
        first = self._network_inputs.get(id(network))
        if first is None:
            self._network_inputs[id(network)] = (inputs, at)
            return
        earlier, where = first
        same = len(earlier) == len(inputs) and all(
            a.dtype == b.dtype and T.shapes_equal(a.shape, b.shape) for a, b in zip(earlier, inputs))
        if not same:
            shown = ", ".join(T.spec_text(s) for s in inputs)
            before = ", ".join(T.spec_text(s) for s in earlier)
            self.report("E0406", f"network `{network.name}` is used with inputs {shown} here and {before} before",
                        at, label="other input sizes", labels=((where, "first used here"),),
                        help="a network has one set of weights, so one input size: declare a second network")

    def projectable(self, ref: KeyRef, produced: T.Spec, target: SpecArg) -> bool:
        """Whether a value can be projected onto ``target`` (its shape must be the spec's); E0402 if not."""
        spec = target.spec
        if T.is_unknown(produced, spec) or isinstance(spec, T.Composite):
            return False
        if T.shapes_equal(produced.shape, spec.shape):
            return True
        shape = T.shape_text(produced.shape)
        message = f"`{ref.dotted}` has shape {shape}, which cannot be projected onto its spec {T.spec_text(spec)}"
        if ref.implicit:
            self.report("E0402", message, target.span, label=f"the spec of `{ref.dotted}`, which gets shape {shape}",
                        help="make the network output the spec's shape")
        else:
            self.report("E0402", message, ref.span, label=f"shape {shape}", labels=((target.span, "the spec"),),
                        help="make the network output the spec's shape")
        return False

    # -- writes --------------------------------------------------------------------------------

    def write(self, node: ModuleNode, ref: KeyRef, typed: Typed, *, target: SpecArg | None = None,
              remedy: str = "", checked: bool = False, at: Span | None = None) -> None:
        """Record that ``node`` writes ``typed`` to ``ref``, checking it against the key's spec
        (unless ``checked``: a problem with it was reported already). Problems are shown at the key,
        or at ``at`` (or the kind's name) when the key is a default that the text does not name."""
        if ref.path == DISCARD:  # tensordict throws this output away: it has no spec and no key
            return
        declared = self.scope.declared.get(ref.path)
        at = self._where(node, ref) if at is None or not ref.implicit else at
        if checked:
            pass
        elif target is not None and not T.is_unknown(target.spec) and declared is not None \
                and target.key != ref.path and not specs_equal(target.spec, declared.spec):
            self.report("E0509", f"`spec=` gives {T.spec_text(target.spec)}, but `{ref.dotted}` is declared as "
                                 f"{T.spec_text(declared.spec)}", target.span, label="another spec",
                        labels=((declared.span, f"`{ref.dotted}` declared here"),),
                        help=f"pass the key's own spec, `spec={ref.dotted}`")
        elif target is not None and not T.is_unknown(target.spec):
            self.land(ref, typed, target.spec, target.span, at, remedy)
        elif declared is not None:
            self.land(ref, typed, declared.spec, declared.span, at, remedy)
        self._batch_of_parent(ref, typed.spec, at)
        self._sites.setdefault(ref.path, (typed, at))
        if ref.path not in self.reasons:
            self.reasons[ref.path] = _reason(node, ref, at, self._stage_specs)
        self.writers.setdefault(ref.path, []).append(typed.by)
        if self._frames:
            self._frames[-1][ref.path] = typed.spec
        if declared is None:
            self._record(ref, typed, at)

    def _where(self, node: ModuleNode, ref: KeyRef) -> Span:
        if not ref.implicit:
            return ref.span
        return node.args.name_span if node.args is not None else node.span

    def _record(self, ref: KeyRef, typed: Typed, at: Span) -> None:
        self.types.setdefault(ref.path, (typed, ref))
        self._written.setdefault(ref.path, []).append((typed, at, self._current))

    def declaration(self, name: str, node: ModuleNode) -> None:
        """Type the module of a declaration, noting whether it had errors (for :meth:`conflicts`)."""
        self._current = name
        before = sum(1 for d in self._reporter.diagnostics if d.is_error)
        self.module(node)
        if sum(1 for d in self._reporter.diagnostics if d.is_error) > before:
            self._failed.add(name)

    def conflicts(self) -> None:
        """E0409 for an undeclared key written with two different specs, by modules without errors
        (a module with an error often writes a wrong spec because of it)."""
        for path, writes in self._written.items():
            sound = [w for w in writes if w[2] not in self._failed and not T.is_unknown(w[0].spec)]
            first = next(iter(sound), None)
            for typed, at, _ in sound[1:]:
                if _same_tensor(first[0].spec, typed.spec):
                    continue
                earlier, where, _ = first
                self.report("E0409", f"`{'.'.join(path)}` is written as {T.spec_text(typed.spec)} here, but as "
                                     f"{T.spec_text(earlier.spec)} by {earlier.by}", at, label="another spec",
                            labels=((where, f"written as {T.spec_text(earlier.spec)} here"),),
                            help=f"declare `key {'.'.join(path)} : ...` to say which is meant, or use two keys")
                break

    def nested_in_tensors(self) -> None:
        """E0516 for a key written inside a key that holds a tensor (``observation -> observation.x``
        with ``observation : f32[3]``): a tensordict entry is a tensor or a nested tensordict, never
        both, so the write would fail at run time. Reported once per key, at its first write."""
        tensors: dict[tuple[str, ...], tuple[T.Spec, Span, str]] = {}
        for path, declared in self.scope.declared.items():
            if not isinstance(declared.spec, (T.Composite, T.Unknown)):
                tensors[path] = (declared.spec, declared.span, "declared")
        for path, (typed, at) in self._sites.items():
            if path not in tensors and not isinstance(typed.spec, (T.Composite, T.Unknown)):
                tensors[path] = (typed.spec, at, f"written by {typed.by}")
        for path, (typed, at) in self._sites.items():
            parent = next((path[:size] for size in range(1, len(path)) if path[:size] in tensors), None)
            if parent is None:
                continue
            spec, where, how = tensors[parent]
            name, inner = ".".join(parent), ".".join(path)
            self.report("E0516", f"`{inner}` is written inside `{name}`, but `{name}` is a tensor "
                                 f"({T.spec_text(spec)}), not a composite", at, label=f"inside the tensor `{name}`",
                        labels=((where, f"`{name}` is {T.spec_text(spec)}, {how}"),),
                        help=f"write it to a key of its own, such as `{'_'.join(path)}`"
                             + (f", or declare `{name}` as a composite holding it (`key {name} : "
                                f"{{ {path[len(parent)]}: ... }}`)" if how == "declared" else ""))

    def _batch_of_parent(self, ref: KeyRef, spec: T.Spec, at: Span) -> None:
        """A key written inside a declared composite starts with the composite's batch shape."""
        for size in range(len(ref.path) - 1, 0, -1):
            parent = self.scope.declared.get(ref.path[:size])
            if parent is None or not isinstance(parent.spec, T.Composite):
                continue
            batch = parent.spec.shape
            if batch and not T.is_unknown(spec) and not T.shapes_equal(spec.shape[: len(batch)], batch):
                name = ".".join(ref.path[:size])
                self.report("E0402", f"`{ref.dotted}` is written with shape {T.shape_text(spec.shape)}, but entries of "
                                     f"`{name}` start with its batch shape {T.shape_text(batch)}", at,
                            label=f"shape {T.shape_text(spec.shape)}",
                            labels=((parent.span, f"`{name}` declared here"),),
                            help="keep the batch dims in front, as a MultiAgentMLP does with the agent dim")
            return

    # -- landing in a spec ----------------------------------------------------------------------

    def land(self, ref: KeyRef, typed: Typed, goal: T.Spec, goal_span: Span, at: Span, remedy: str) -> None:
        """Check that a value written to ``ref`` lies in the spec ``goal`` (or is made to)."""
        spec = typed.spec
        if T.is_unknown(spec, goal):
            return
        labels = ((goal_span, f"`{ref.dotted}` is {T.spec_text(goal)}"),)
        if isinstance(goal, T.Composite) or isinstance(spec, T.Composite):
            if type(goal) is not type(spec):
                self._wrong_sort(ref, typed, goal, at, labels)
            return
        if not self._same_sort(goal, spec):
            self._wrong_sort(ref, typed, goal, at, labels)
            return
        if not T.shapes_equal(spec.shape, goal.shape):
            if self._width_at_its_cause(ref, typed, goal, at, labels):
                return
            self.report("E0402", f"{typed.by} writes `{ref.dotted}` with shape {T.shape_text(spec.shape)}, but its "
                                 f"spec has shape {T.shape_text(goal.shape)}", at,
                        label=f"shape {T.shape_text(spec.shape)}",
                        labels=labels, help=_shape_help(spec, goal))
            return
        if spec.dtype != goal.dtype:
            fix = "pass `safe=true` to cast it into the spec, or " if typed.origin is Origin.CHOSEN else ""
            self.report("E0503", f"{typed.by} writes `{ref.dotted}` as {spec.dtype}, but its spec is {goal.dtype}", at,
                        label=f"{spec.dtype} value", labels=labels,
                        help=f"{fix}declare `{ref.dotted}` as `{T.spec_text(attrs.evolve(goal, dtype=spec.dtype))}`")
            return
        if isinstance(goal, T.Bounded):
            self._inside_box(ref, typed, goal, at, labels, remedy)
        elif isinstance(goal, T.Categorical) and isinstance(spec, T.Categorical):
            self._indices(ref, typed, goal, at, labels)
        elif isinstance(goal, (T.MultiOneHot, T.MultiCategorical)) and tuple(goal.nvec) != tuple(spec.nvec):
            self._wrong_sort(ref, typed, goal, at, labels)
            return
        self._masked(ref, typed, goal, at, labels)

    def _width_at_its_cause(self, ref: KeyRef, typed: Typed, goal: T.Spec, at: Span, labels: tuple) -> bool:
        """E0402 at the `out_features` that sets a wrong last dim, when the value's width follows from
        it (through a NormalParamExtractor, which halves it, and activations), with the width it must
        have and that width as a fix. False when the cause cannot be traced (the caller reports)."""
        spec = typed.spec
        if not (isinstance(spec, (T.Unbounded, T.Bounded)) and isinstance(goal, (T.Unbounded, T.Bounded))
                and spec.shape and len(spec.shape) == len(goal.shape)
                and T.shapes_equal(spec.shape[:-1], goal.shape[:-1])):
            return False
        network = self._made_by.get(typed.via or ref.path) if typed.origin in (
            Origin.NETWORK, Origin.DISTRIBUTION) else None
        cause = _width_source(network) if network is not None else None
        wanted = T.dim_value(goal.shape[-1])
        if cause is None or wanted is None:
            return False
        stage, factor = cause
        assert stage.args is not None
        needed = wanted * factor
        given = stage.args["out_features"]
        if not stage.args.given("out_features") or not isinstance(given, int) or given == needed:
            return False
        halves = ", which NormalParamExtractor splits into two halves" if factor == 2 else ""
        self.report("E0402", f"{typed.by} writes `{ref.dotted}` with shape {T.shape_text(spec.shape)}, but its spec "
                             f"has shape {T.shape_text(goal.shape)}", stage.args.span_of("out_features"),
                    label=f"{given} features{halves}: {needed} needed",
                    labels=((at, f"shape {T.shape_text(spec.shape)}"), *labels),
                    help=f"set `out_features={needed}`" + (f" ({wanted} for `loc` and {wanted} for `scale`)"
                                                           if factor == 2 else ""),
                    suggestion=Suggestion(stage.args.span_of("out_features"), str(needed)))
        return True

    def _same_sort(self, goal: T.Spec, spec: T.Spec) -> bool:
        if T.domain(goal) != T.domain(spec):
            return False
        if T.domain(goal) == "continuous" or isinstance(goal, (T.Unbounded, T.Bounded)):
            return True
        return type(goal) is type(spec)

    def _wrong_sort(self, ref: KeyRef, typed: Typed, goal: T.Spec, at: Span, labels: tuple) -> None:
        spec = typed.spec
        if typed.origin is Origin.DISTRIBUTION:
            wanted = _DIST_FOR.get(type(goal), "a distribution of the spec's sort")
            self.report("E0703", f"{typed.dist} gives {T.spec_text(spec)} samples, but `{ref.dotted}` is "
                                 f"{T.spec_text(goal)}", at, label=f"{typed.dist} samples", labels=labels,
                        help=f"for this spec use {wanted}")
            return
        sort = _SORT_WORDS.get(T.domain(spec), "a value")
        if T.domain(spec) == T.domain(goal):
            sort = f"{T.with_article(T.class_name(spec))} value"
        self.report("E0504", f"{typed.by} writes {sort} ({T.spec_text(spec)}) into `{ref.dotted}`, which is "
                             f"{T.spec_text(goal)}", at, label="the wrong sort of value", labels=labels,
                    help=_sort_help(spec, goal))

    def _inside_box(self, ref: KeyRef, typed: Typed, goal: T.Bounded, at: Span, labels: tuple, remedy: str) -> None:
        spec = typed.spec
        range_ = f"[{T.bound_text(goal.low)}, {T.bound_text(goal.high)}]"
        if isinstance(spec, T.Unbounded):
            self.report("W0501", f"{typed.by} writes `{ref.dotted}` unbounded, but its spec bounds it to {range_}", at,
                        label="may leave the spec", labels=labels, help=remedy or "pass `safe=true` to project it")
            return
        assert isinstance(spec, T.Bounded)
        inside = T.box_contains(goal, spec)
        given = f"[{T.bound_text(spec.low)}, {T.bound_text(spec.high)}]"
        if inside is False:
            if typed.origin is Origin.DISTRIBUTION:
                self.report("E0702", f"{typed.dist} samples `{ref.dotted}` in {given}, outside its spec {range_}", at,
                            label=f"samples in {given}", labels=labels,
                            help="pass the spec's bounds: "
                                 f"`{typed.dist}(low={ref.dotted}.low, high={ref.dotted}.high)`")
            else:
                self.report("W0501", f"{typed.by} writes `{ref.dotted}` in {given}, which exceeds its spec {range_}",
                            at,
                            label="may leave the spec", labels=labels, help=remedy or "pass `safe=true` to project it")
            return
        partial = inside and T.box_equal(goal, spec) is False
        if partial and typed.origin in (Origin.DISTRIBUTION, Origin.SQUASHED):
            what = typed.dist or typed.by
            self.report("W0701", f"{what} gives `{ref.dotted}` values in {given} only, but its spec allows {range_}",
                        at,
                        label=f"only {given}", labels=labels,
                        help=f"pass the spec's bounds: `low={ref.dotted}.low, high={ref.dotted}.high`")

    def _indices(self, ref: KeyRef, typed: Typed, goal: T.Categorical, at: Span, labels: tuple) -> None:
        n, m = T.dim_value(typed.spec.n), T.dim_value(goal.n)
        if n is not None and m is not None and n > m:
            self.report("E0504", f"{typed.by} writes indices up to {n - 1} into `{ref.dotted}`, which holds {m} values",
                        at, label=f"{n} choices", labels=labels,
                        help=f"make the module choose among {m} actions")

    def _masked(self, ref: KeyRef, typed: Typed, goal: T.Spec, at: Span, labels: tuple) -> None:
        if getattr(goal, "mask", None) is None or getattr(typed.spec, "mask", None) is not None:
            return
        if typed.origin in (Origin.PROJECTED, Origin.DECLARED, Origin.COPY):
            return
        self.report("W0502", f"`{ref.dotted}` has a mask of allowed actions, but {typed.by} does not apply it", at,
                    label="may choose a forbidden action", labels=labels,
                    help="pass `action_mask_key=`, use a masked distribution, or `safe=true` to project onto the "
                         "allowed actions")


_DIST_FOR = {
    T.OneHot: "OneHotCategorical (or MaskedOneHotCategorical)",
    T.Categorical: "Categorical (or MaskedCategorical)",
    T.Bounded: "TanhNormal(low=..., high=...), TruncatedNormal or TanhDelta",
    T.Unbounded: "IndependentNormal, Normal or Delta",
}


def _same_tensor(a: T.Spec, b: T.Spec) -> bool:
    if type(a) is not type(b) and not ({type(a), type(b)} <= {T.Unbounded, T.Bounded}):
        return False
    if isinstance(a, T.Composite) or isinstance(b, T.Composite):
        return specs_equal(a, b)
    return a.dtype == b.dtype and T.shapes_equal(a.shape, b.shape)


def _reason(node: ModuleNode, ref: KeyRef, at: Span,
            stage_specs: dict[Network, tuple[tuple[T.Spec, ...], tuple[T.Spec, ...]]]) -> Reason:
    """Why ``node`` writes ``ref`` with its spec: each step that made the value, with the arguments
    that bind its sizes and the specs in and out (``MLP(out_features=2): f32[3] -> f32[2]``), the
    type rules of those kinds in words, and the keys the module reads."""
    steps, rules = [], []
    if node.kind is not None and node.kind.rule:
        rules.append(f"{node.kind.name}: {node.kind.rule}")
    stages = list(node.network.stages or (node.network,)) if node.network is not None else []
    while stages:
        stage = stages.pop(0)
        if stage.stages:
            stages[:0] = stage.stages
        elif stage.kind is not None:
            rules.append(f"{stage.kind.name}: {stage.kind.rule}")
            typed = stage_specs.get(stage)
            if typed is not None:
                steps.append(f"{_call_text(stage.kind.name, stage.args)}: {_specs_text(typed[0])} -> "
                             f"{_specs_text(typed[1])}")
    dist = node.args.values["dist"].value if node.args is not None and "dist" in node.args.values else None
    if isinstance(dist, Dist):
        rules.append(f"{dist.kind.name}: {dist.kind.rule}")
        steps.append(f"{_call_text(dist.kind.name, dist.args)} samples it")
    inputs = tuple(dict.fromkeys(r.path for r in (*node.inner_reads, *node.reads) if r.path != ref.path))
    return Reason(tuple(rules), inputs, at.line, tuple(steps))


def _specs_text(specs: tuple[T.Spec, ...]) -> str:
    return ", ".join(T.spec_text(spec) for spec in specs) or "()"


def _call_text(name: str, args: object) -> str:
    """A kind and the arguments the text gave it, as written: ``MLP(out_features=2, num_cells=[64])``."""
    values = getattr(args, "values", {})
    given = [f"{key}={_value_text(arg.value)}" for key, arg in values.items() if arg.given]
    return f"{name}({', '.join(given)})"


def _value_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return T.number_text(value)
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (tuple, list)):
        return "[" + ", ".join(_value_text(item) for item in value) + "]"
    if isinstance(value, KeyRef):
        return value.dotted
    kind = getattr(value, "kind", None) or getattr(value, "name", None)
    return getattr(kind, "name", None) or (kind if isinstance(kind, str) else "...")


def _width_source(network: Network) -> tuple[Network, int] | None:
    """The stage whose `out_features` sets a network's output width, and the factor from it to that
    width (1/2 per NormalParamExtractor after it: the result is how many times wider it must be);
    None when a stage in between changes the width in another way."""
    factor = 1
    stages = list(network.stages or (network,))
    while stages:
        stage = stages.pop()
        if stage.stages:
            stages.extend(stage.stages)
            continue
        kind = stage.kind
        if kind is None or stage.args is None:
            return None
        if kind.name == "NormalParamExtractor":
            factor *= 2
        elif kind.family is not Family.ACTIVATION:
            return (stage, factor) if "out_features" in stage.args.values else None
    return None


def _shape_help(spec: T.Spec, goal: T.Spec) -> str:
    if spec.shape and goal.shape and len(spec.shape) == len(goal.shape) and isinstance(goal, (T.Unbounded, T.Bounded)):
        size = goal.shape[-1]
        features = f"{size} feature{'s' if T.dim_value(size) != 1 else ''}"
        return (f"make the network output {features} (`out_features={size}` for an MLP), or declare the key "
                f"with the shape it gets, {T.shape_text(spec.shape)}")
    return f"make the output shape {T.shape_text(goal.shape)}, or declare the key with shape {T.shape_text(spec.shape)}"


def _sort_help(spec: T.Spec, goal: T.Spec) -> str:
    if T.domain(goal) == "discrete" and T.domain(spec) == "continuous":
        return ("discrete actions come from a QValueActor, or a ProbabilisticActor with a categorical distribution; "
                "`safe=true` projects a network's scores onto the spec")
    if T.domain(goal) == "continuous" and T.domain(spec) == "discrete":
        return "continuous actions come from an Actor, or a ProbabilisticActor with a normal distribution"
    return f"produce {T.spec_text(goal)} values, or declare the key with the spec the module gives"
