"""The checked model as data: networks, distributions and modules with their keys (the IR).

Lowering (:mod:`rldsl.lang.lower`) turns each module declaration into these nodes: every call
bound to its kind's parameters (:class:`Args`, defaults filled in), every key a module reads or
writes named (:class:`KeyRef`, with the span of the text that named it, or of the call for a
default key). Type checking (:mod:`rldsl.lang.check`) then gives each key a :class:`Typed` spec.
The compiler reads the same nodes: a kind's ``runtime`` class, its bound arguments, the keys.

Nodes are immutable and compare by identity: a module declared once and used in two places is
one node (one set of weights once compiled).

>>> from rldsl.lang.source import Span
>>> ref = KeyRef(("agents", "action"), Span("a.rlm", 1, 1, 1, 14, 0, 13))
>>> ref.dotted, ref.leaf
('agents.action', 'action')
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import TYPE_CHECKING, Union

import attrs

from rldsl.lang.source import Span
from rldsl.lang.types import Spec
from rldsl.lang.values import INVALID

if TYPE_CHECKING:
    from rldsl.lang.kinds import Kind


@attrs.frozen(slots=True)
class KeyRef:
    """A key as a module reads or writes it: its path (``("agents", "action")``) and where it was
    named; ``implicit`` keys are defaults of a kind that the text does not spell out."""

    path: tuple[str, ...]
    span: Span = attrs.field(eq=False)
    implicit: bool = attrs.field(default=False, eq=False)

    @property
    def dotted(self) -> str:
        return ".".join(self.path)

    @property
    def leaf(self) -> str:
        return self.path[-1]


@attrs.frozen(slots=True)
class SpecArg:
    """A spec given as an argument (``spec=action``): the spec and the key it names, if any."""

    spec: Spec
    key: tuple[str, ...] | None
    span: Span = attrs.field(eq=False)


@attrs.frozen(slots=True)
class Numbers:
    """A constant vector (``support=[0, 1, 2]`` or ``linspace(-10, 10, 51)``): its length and,
    for a literal, its values."""

    length: object  # a Dim
    values: tuple | None
    kind: Kind | None = attrs.field(default=None, eq=False)  # the tensor kind that builds it
    args: Args | None = attrs.field(default=None, eq=False)  # its bound arguments
    call: tuple = attrs.field(default=(), eq=False)  # the kind's runtime function's arguments, as the checker read them


@attrs.frozen(slots=True)
class Arg:
    """One bound argument: its value (INVALID when it was reported as wrong), where it was
    written (None for a default), and whether the text gave it."""

    value: object
    span: Span | None
    given: bool


@attrs.frozen(slots=True, eq=False)
class Args:
    """A call bound to a kind: a value for every parameter of the kind (defaults filled in)."""

    kind: Kind
    values: Mapping[str, Arg]
    span: Span  # the whole call
    name_span: Span  # the kind's name in the call

    def __getitem__(self, name: str) -> object:
        return self.values[name].value

    def arg(self, name: str) -> Arg:
        return self.values[name]

    def given(self, name: str) -> bool:
        return self.values[name].given

    def ok(self, *names: str) -> bool:
        """True when none of ``names`` is INVALID (a checked rule may use them)."""
        return all(self.values[name].value is not INVALID for name in names)

    def span_of(self, name: str) -> Span:
        """Where the argument was written, or the call's name when it was not."""
        return self.values[name].span or self.name_span

    def replaced(self, **values: object) -> Args:
        """These arguments with some values set by their owner (not written: no span, not given),
        as a DuelingCnnDQNet sets its advantage MLP's ``out_features``."""
        changed = {**self.values, **{name: Arg(value, None, False) for name, value in values.items()}}
        return Args(self.kind, changed, self.span, self.name_span)


@attrs.frozen(slots=True, eq=False)
class Network:
    """A plain network (tensors in, tensors out): a kind's call, or a pipe ``a >> b`` of networks
    (``kind`` None, ``stages`` set). ``name`` is the declaration's name for a declared network."""

    kind: Kind | None
    args: Args | None
    span: Span
    stages: tuple[Network, ...] = ()
    name: str | None = None


@attrs.frozen(slots=True, eq=False)
class Dist:
    """A distribution: ``TanhNormal(low=..., high=...)`` bound to its kind. Arguments that name
    keys (a mask) are read from the tensordict; the others are constants."""

    kind: Kind
    args: Args
    span: Span


@attrs.frozen(slots=True, eq=False)
class Kwargs:
    """An inner class's keyword arguments (``cnn_kwargs=dict(num_cells=[16, 32])``) bound to its
    kind: what the dict leaves out has the owner's default (``given`` false). The runtime class
    gets what the dict gives and the owner's defaults named in ``defaults`` (so a Conv3dNet's
    ``aggregator_kwargs=dict()`` still flattens four dims, as the checker typed it)."""

    kind: Kind
    args: Args
    span: Span
    defaults: tuple[str, ...] = ()

    def network(self) -> Network:
        """The inner class as a network, for its kind's type rule."""
        return Network(self.kind, self.args, self.span)


class Form(str, enum.Enum):
    """How a module node is made."""

    KIND = "kind"  # a call of a module kind: Actor(...), ValueOperator(...), ...
    KEYED = "keyed"  # a network given keys: `MLP(...) : observation -> hidden`
    SEQUENCE = "sequence"  # modules in a row: `a >> b`


@attrs.frozen(slots=True, eq=False)
class ModuleNode:
    """A module: it reads keys and writes keys.

    ``reads`` are the keys it reads from outside (not written by an earlier part of itself),
    ``writes`` every key it writes, in order; ``optional_reads`` are read when present (an OU
    module's ``is_init``). ``children`` are the modules it runs, in order (a kind's own step runs
    after them); ``network`` is the network a keyed module or an ``Actor`` wraps. ``own_writes``
    leaves out keys written only by named children (declared elsewhere).
    """

    form: Form
    kind: Kind | None
    args: Args | None
    span: Span
    reads: tuple[KeyRef, ...]
    writes: tuple[KeyRef, ...]
    children: tuple[ModuleNode, ...] = ()
    network: Network | None = None
    optional_reads: tuple[KeyRef, ...] = ()
    own_writes: tuple[KeyRef, ...] = ()
    name: str | None = None
    inner_reads: tuple[KeyRef, ...] = ()  # keys read from an earlier part of itself

    def walk(self) -> list[ModuleNode]:
        """This node and every module inside it, parents first (without recursion)."""
        out, stack = [], [self]
        while stack:
            current = stack.pop()
            out.append(current)
            stack.extend(reversed(current.children))
        return out


Lowered = Union[Network, Dist, ModuleNode, Numbers]


class Origin(str, enum.Enum):
    """Where a key's value comes from: decides what "may leave its spec" means for it."""

    DECLARED = "declared"  # the data: a `key` declaration or an env
    NETWORK = "network"  # a network's output
    PROJECTED = "projected"  # projected onto a spec (safe=true, additive noise)
    SQUASHED = "squashed"  # TanhModule
    DISTRIBUTION = "distribution"  # a distribution's sample
    CHOSEN = "chosen"  # a Q-value module's greedy choice, or an exploration module's draw
    COPY = "copy"  # passed through (action values, log-probabilities, internal state)


@attrs.frozen(slots=True)
class Typed:
    """The spec a module gives a key, where the value comes from, and who wrote it."""

    spec: Spec
    origin: Origin
    by: str = ""  # what wrote it, in words: "`policy`", "`MLP`"
    dist: str = ""  # the distribution's name, for Origin.DISTRIBUTION
    via: tuple[str, ...] = ()  # the key whose width this value's width follows (a distribution's `loc`)


#: The output key tensordict's modules throw away (``-> _, scale``): a network's output nobody keeps.
DISCARD = ("_",)


@attrs.frozen(slots=True)
class Step:
    """One step of a sequence, for key flow: what it reads and writes. ``named`` steps are
    modules declared elsewhere (their writes belong to their own declaration)."""

    reads: tuple[KeyRef, ...]
    writes: tuple[KeyRef, ...]
    optional_reads: tuple[KeyRef, ...] = ()
    named: bool = False
    own: tuple[KeyRef, ...] | None = None  # the writes that are its own, when not all (an unnamed sequence)

    @classmethod
    def of(cls, node: ModuleNode) -> Step:
        """The step a module node makes in a sequence: a named module's writes belong to its own
        declaration, an unnamed one's own writes are those not made by named modules inside it."""
        return cls(node.reads, node.writes, node.optional_reads, node.name is not None, node.own_writes)

    def own_writes(self) -> tuple[KeyRef, ...]:
        """The writes that belong to the declaration holding this step."""
        if self.named:
            return ()
        return self.writes if self.own is None else self.own


@attrs.frozen(slots=True)
class Flow:
    """The keys of a sequence as a whole: external reads, all writes, and its own writes."""

    reads: tuple[KeyRef, ...]
    writes: tuple[KeyRef, ...]
    optional_reads: tuple[KeyRef, ...]
    own_writes: tuple[KeyRef, ...]
    inner_reads: tuple[KeyRef, ...] = ()
