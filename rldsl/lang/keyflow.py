"""Key flow across a model: which keys exist, who writes them, and in which order to type modules.

Every key a module reads must be declared (``key``, or an env) or written by some module
(E0301), unless a declaration with an error would have provided it (one mistake, one
diagnostic: see :func:`_failed_outputs`); a module that reads a key only another module writes
is typed after it, and modules that read each other's outputs round in a circle are E0304.
Outputs nobody reads are W0301, an Ornstein-Uhlenbeck module without ``is_init`` W0303 (unread
outputs are reported only for a model without errors).

>>> from rldsl.lang.check import check_text
>>> result = check_text("module body = MLP(out_features=2) : obsevation -> hidden", "a.rlm")
>>> [(d.code, d.message) for d in result.diagnostics]
[('E0301', 'key `obsevation` is read but never written')]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from rldsl.lang.ir import KeyRef, ModuleNode
from rldsl.lang.graphs import is_cycle, strongly_connected
from rldsl.lang.resolve import Scope
from rldsl.lang.values import INVALID, Reporter, did_you_mean

__all__ = ["CONVENTIONAL", "KeyFlow", "key_flow", "unread_outputs"]

#: Keys that training code reads by convention: never reported as unread.
CONVENTIONAL = frozenset({"action", "action_value", "chosen_action_value", "state_value", "state_action_value",
                          "sample_log_prob", "done", "terminated", "truncated", "reward"})


@attrs.frozen(slots=True)
class KeyFlow:
    """The keys of a model: those that exist (declared or written) and the typing order."""

    available: frozenset
    order: tuple  # module names, each after the modules whose outputs it reads


def key_flow(scope: Scope, modules: Mapping[str, ModuleNode], uses: Mapping[str, list[str]],
             reporter: Reporter) -> KeyFlow:
    """Check that every key read exists, order the modules for typing, and warn about unread outputs."""
    nodes = [node for top in modules.values() for node in top.walk()]
    written: dict[tuple[str, ...], KeyRef] = {}
    for node in nodes:
        for ref in node.writes:
            written.setdefault(ref.path, ref)
    failed, unknown = _failed_outputs(scope)
    provided = frozenset(scope.declared) | frozenset(written) | failed | _parents(failed)
    available = provided | _parents(written)
    if not unknown:
        _missing(scope, modules, written, available - _self_made(modules, provided), reporter)
    order = _order(scope, modules, uses, reporter)
    return KeyFlow(available, tuple(order))


def _self_made(modules: Mapping[str, ModuleNode], elsewhere: frozenset) -> frozenset:
    """Composite keys that exist only because one module writes entries under them, and that
    module reads them (``observation -> observation.x`` with no `observation` declared): a module
    cannot read what only its own output makes."""
    makers: dict[tuple[str, ...], set[str]] = {}
    for name, top in modules.items():
        for path in _parents(ref.path for node in top.walk() for ref in node.writes):
            makers.setdefault(path, set()).add(name)
    return frozenset(ref.path for name, top in modules.items() for ref in top.reads
                     if ref.path not in elsewhere and makers.get(ref.path) == {name})


def _failed_outputs(scope: Scope) -> tuple[frozenset, bool]:
    """What declarations that had errors would have provided: keys whose spec is wrong
    (``key observation : f32[0]``), the keys module declarations name after `->`
    (``: observation -> hidden``), and whether some module or env whose keys cannot be
    known failed (an unknown kind without keys given, an env id gymnasium does not know).

    Their keys are taken as existing, and while any such keys are unknown no key is reported as
    never written: the error already reported is the one to fix, and a key it would have written
    is not a second mistake.
    """
    keys: set[tuple[str, ...]] = {(name,) for name, spec in scope.key_specs.items() if spec is INVALID}
    unknown = any(env is INVALID for env in scope.envs.values())
    for decl in scope.modules:
        if decl.name.value not in scope.failed_modules:
            continue
        if decl.io is not None:
            keys.update(ref.path for ref in decl.io.outputs)
        else:
            unknown = True
    return frozenset(keys), unknown


def _parents(paths: Iterable[tuple[str, ...]]) -> frozenset:
    """Every proper prefix of the paths: writing ``agents.q`` makes ``agents`` exist."""
    return frozenset(path[:size] for path in paths for size in range(1, len(path)))


def _missing(scope: Scope, modules: Mapping[str, ModuleNode], written: Mapping[tuple[str, ...], KeyRef],
             available: frozenset, reporter: Reporter) -> None:
    """E0301 once per key read that nothing provides (at its first read); W0303 for `is_init`."""
    first: dict[tuple[str, ...], KeyRef] = {}
    optional: dict[tuple[str, ...], KeyRef] = {}
    for top in modules.values():
        for ref in top.reads:
            if ref.path not in available:
                first.setdefault(ref.path, ref)  # modules come in declaration order
        for ref in top.optional_reads:
            if ref.path not in available:
                optional.setdefault(ref.path, ref)
    known = sorted({".".join(p) for p in available})  # declared, written, or named by a module with an error
    env_label = _env_label(scope)
    for ref in first.values():
        help_, guess = did_you_mean(ref.dotted, known, f"declare it with `key {ref.dotted} : SPEC`, or add a module "
                                                       "that writes it")
        if ref.implicit:
            message = f"`{ref.dotted}` is read here by default, but no key of that name is declared or written"
            if ref.path == ("is_init",):
                help_ = ("`is_init` marks the first step of each trajectory (torchrl's InitTracker transform writes "
                         "it): declare `key is_init : bool[1]`")
            elif guess is None:
                help_ = f"declare `key {ref.dotted} : SPEC`, or pass `in=[...]` with the keys to read"
        else:
            message = f"key `{ref.dotted}` is read but never written"
        reporter.report("E0301", message, ref.span, label="not declared, not produced by any module",
                        labels=env_label, help=help_)
    for ref in optional.values():
        reporter.report("W0303", f"`{ref.dotted}` is read to reset the noise at the start of trajectories, but no key "
                                 f"of that name is declared", ref.span, label="no such key",
                        help=f"declare `key {ref.dotted} : bool[1]` (an InitTracker transform writes it)")


def _env_label(scope: Scope) -> tuple:
    envs = [decl for decl in scope.decls.values() if scope.sort.get(decl.name.value) == "env"]
    if not envs:
        return ()
    return ((envs[0].span, "keys come from here"),)


def unread_outputs(scope: Scope, modules: Mapping[str, ModuleNode], reporter: Reporter) -> None:
    """W0301 for keys written, not declared, not read anywhere, and not read by convention.

    The checker runs this only on a model without errors: an output is often unread because the
    module meant to read it has an error, and that error says what matters.
    """
    nodes = [node for top in modules.values() for node in top.walk()]
    written: dict[tuple[str, ...], KeyRef] = {}
    for node in nodes:
        for ref in node.writes:
            written.setdefault(ref.path, ref)
    read: set[tuple[str, ...]] = set()
    for node in nodes:
        for ref in (*node.reads, *node.inner_reads, *node.optional_reads):
            read.add(ref.path)
    read |= _parents(read)
    for path, ref in written.items():
        leaf = path[-1]
        if path in read or path in scope.declared or leaf in CONVENTIONAL or leaf.startswith("_") \
                or leaf.endswith("_log_prob") or any(path[:i] in read for i in range(1, len(path))) \
                or path[0] == "next" and path[1:] in read:  # the env carries `next.X` to `X` for the next step
            continue
        reporter.report("W0301", f"key `{ref.dotted}` is written but never read", ref.span, label="nothing reads this",
                        help="remove the output, read it in a module, or declare it with `key` if the training code "
                             "reads it")


def overwritten_inputs(modules: Mapping[str, ModuleNode], reporter: Reporter) -> None:
    """W0304 for a network module that writes a key it reads (``MLP : observation -> observation``):
    the data it was given is gone after the call, so running it again on the same tensordict (a loss
    replaying collected data, a second forward) feeds it its own output. Exploration modules,
    which change the action in place by design, have no network of their own and are not concerned."""
    seen: set[int] = set()  # a named module is also a child of the declarations that run it
    for top in modules.values():
        for node in top.walk():
            if node.network is None or id(node) in seen:
                continue
            seen.add(id(node))
            read = {ref.path: ref for ref in node.reads}
            for ref in node.writes:
                source = read.get(ref.path)
                if source is None:
                    continue
                reporter.report("W0304", f"`{ref.dotted}` is read and then overwritten by the same module", ref.span,
                                label="overwrites its own input", labels=((source.span, "read here"),),
                                help=f"write the result to a key of its own, such as `{ref.leaf}_features`, and read "
                                     f"that key after this module")


def _order(scope: Scope, modules: Mapping[str, ModuleNode], uses: Mapping[str, list[str]],
           reporter: Reporter) -> list[str]:
    """Modules in typing order: after the modules they use and those that write keys they read."""
    producers: dict[tuple[str, ...], list[str]] = {}
    for name, node in modules.items():
        for ref in node.own_writes:
            if ref.path not in scope.declared:
                producers.setdefault(ref.path, []).append(name)
    edges: dict[str, list[str]] = {}
    via: dict[tuple[str, str], KeyRef] = {}
    for name, node in modules.items():
        deps = [used for used in uses.get(name, []) if used in modules]
        for ref in node.reads:
            writers = producers.get(ref.path, ())
            if list(writers) == [name]:
                reporter.report("E0304", f"`{name}` reads `{ref.dotted}`, which only it writes", ref.span,
                                label="read before anything writes it",
                                help=f"declare `key {ref.dotted} : SPEC` if it comes from the data, or read another "
                                     "key")
            for producer in writers:
                if producer != name:
                    deps.append(producer)
                    via.setdefault((name, producer), ref)
        edges[name] = deps
    order: list[str] = []
    rank = {name: i for i, name in enumerate(modules)}  # declaration order
    for component in strongly_connected(list(modules), edges):
        if is_cycle(component, edges):
            _key_cycle(component, modules, via, reporter)
        order.extend(sorted(component, key=rank.__getitem__))
    return order


def _key_cycle(component: list[str], modules: Mapping[str, ModuleNode], via: Mapping[tuple[str, str], KeyRef],
               reporter: Reporter) -> None:
    members = set(component)
    first = min(component, key=list(modules).index)
    labels = tuple((ref.span, f"`{a}` reads `{ref.dotted}`, which `{b}` writes")
                   for (a, b), ref in via.items() if a in members and b in members)
    names = ", ".join(f"`{n}`" for n in sorted(component, key=list(modules).index))
    reporter.report("E0304", f"modules {names} read each other's outputs in a cycle", modules[first].span,
                    label="part of the cycle", labels=labels,
                    help="declare one of the keys with `key NAME : SPEC` so that it comes from the data, or change "
                         "what the modules read")
