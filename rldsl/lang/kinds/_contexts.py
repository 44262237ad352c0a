"""What the passes offer a kind: the two objects a kind's ``build`` and ``infer`` functions receive.

A kind's ``build(lo, args)`` runs during lowering (:class:`rldsl.lang.lower.Lowering` is the
:class:`LoweringContext`): it turns bound arguments into an IR node and reports argument problems.
Its ``infer(ty, node)`` (or, for a network, ``infer(ty, network, inputs, labels, at)``) runs during
typing (:class:`rldsl.lang.infer.Typing` is the :class:`TypingContext`): it reads input specs and
records output specs. Kinds see only these methods, so a kind can be read, and tested, without
knowing how the passes work inside.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Union

from rldsl.lang import types as T
from rldsl.lang.ir import Args, Flow, KeyRef, ModuleNode, Network, SpecArg, Step, Typed
from rldsl.lang.source import Span

__all__ = ["BuildRule", "InferRule", "LoweringContext", "ModuleRule", "NetworkRule", "Reports", "TypingContext"]


class Reports(Protocol):
    """Both passes report problems the same way."""

    def report(self, code: str, message: str, span: Span, **details: object) -> None:
        """Add a diagnostic: ``label``, ``labels`` (``(span, text)`` pairs), ``help``, ``suggestion``."""


class LoweringContext(Reports, Protocol):
    """What lowering offers a kind's ``build``: reporting, and the key flow of the steps it runs.

    >>> def build(lo: LoweringContext, args):            # doctest: +SKIP
    ...     lo.unique(writes, args.kind.name)            # E0302 for a key written twice
    ...     return node(lo, args, [Step(reads, writes)])  # keys of the steps, in order
    """

    def flow(self, steps: list[Step], at: Span) -> Flow:
        """The keys of ``steps`` run in order (and E0303/W0302 for a sequence that misorders them)."""

    def unique(self, refs: tuple[KeyRef, ...], owner: str) -> None:
        """E0302 for a key listed twice among ``owner``'s outputs."""

    def provide(self, ref: KeyRef, spec: T.Spec) -> None:
        """Declare a key the module being lowered brings with it, before any module runs: a
        recurrent module's state, which its primer gives the env (E0402 against a ``key``
        declaration of another shape)."""


class TypingContext(Reports, Protocol):
    """What typing offers a kind's ``infer``: the specs of keys, typing of inner modules and
    networks, and recording what a module writes (checked against the key's spec).

    ``float_dtype`` is the compile dtype (``"f32"`` or ``"f64"``), the dtype of networks' weights.
    """

    float_dtype: str

    def read(self, ref: KeyRef) -> T.Spec:
        """The spec of a key: declared, written earlier, or UNKNOWN (already reported)."""

    def available(self, ref: KeyRef) -> bool:
        """Whether a key is declared or written by some module."""

    def declared(self, path: tuple[str, ...]) -> T.Spec | None:
        """The declared (or env-provided) spec of a key, or None."""

    def written(self, path: tuple[str, ...]) -> Typed | None:
        """How a key that is not declared was first written (its spec, origin and writer), or None."""

    def source(self, path: tuple[str, ...]) -> tuple[T.Spec, Span, str] | None:
        """Where a key's value comes from: the spec its first writer produced (before any
        declaration it lands in), where, and who wrote it; for data nobody writes, its declaration
        ("declared"). None for a key neither written nor declared."""

    def producer(self, path: tuple[str, ...]) -> Network | None:
        """The network that last produced a key, or None (data, or a module without a network)."""

    def by(self, node: ModuleNode) -> str:
        """How a writer is named in messages: `` `policy` ``, or its kind."""

    def module(self, node: ModuleNode) -> None:
        """Type an inner module (once); what it writes becomes visible to the steps after it."""

    def network(self, network: Network, inputs: list[T.Spec], labels: list[str], at: Span,
                use: Span | None = None) -> list[T.Spec] | None:
        """A network's output specs for input specs no key holds (a score network reading a
        concatenation), stages of a pipe in turn; ``use`` is where the network is used."""

    def run_network(self, node: ModuleNode, network: Network, inputs: tuple[KeyRef, ...],
                    outputs: tuple[KeyRef, ...]) -> list[T.Spec] | None:
        """A network's output specs for the specs of ``inputs``, one per key of ``outputs``."""

    def projectable(self, ref: KeyRef, produced: T.Spec, target: SpecArg) -> bool:
        """Whether ``produced`` can be projected onto ``target`` (same shape); E0402 if not."""

    def write(self, node: ModuleNode, ref: KeyRef, typed: Typed, *, target: SpecArg | None = None,
              remedy: str = "", checked: bool = False, at: Span | None = None) -> None:
        """Record that ``node`` writes ``typed`` to ``ref``, checked against the key's spec."""


#: A kind's ``build``: bound arguments to an IR node (a ModuleNode, Network, Dist or Numbers), or INVALID.
BuildRule = Callable[[LoweringContext, Args], object]

#: A module kind's ``infer``: types the node, recording its writes through ``ty.write``.
ModuleRule = Callable[[TypingContext, ModuleNode], None]

#: A network kind's ``infer``: ``(ty, network, input specs, their labels, where)`` to output specs
#: (None after an error).
NetworkRule = Callable[[TypingContext, Network, list[T.Spec], list[str], Span], Union[list[T.Spec], None]]

#: Either sort of ``infer``; the kind's family says which.
InferRule = Union[ModuleRule, NetworkRule]
