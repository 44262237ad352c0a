"""Graph algorithms the checker shares: strongly connected components and cycle paths.

Dims and keys that refer to each other (:mod:`rldsl.lang.resolve`), modules that contain each
other (:mod:`rldsl.lang.lower`) and modules that read each other's outputs
(:mod:`rldsl.lang.keyflow`) are all graphs of names, given as ``edges``: a name -> the names it
depends on, in the order the model mentions them. Every function here is iterative, so a model
with thousands of declarations in one chain cannot exhaust Python's recursion limit, and
deterministic: the same graph gives the same answer in the same order, so messages are stable.

>>> edges = {"a": ["b"], "b": ["c"], "c": ["a"], "d": ["a"]}
>>> components = strongly_connected(["a", "b", "c", "d"], edges)
>>> components
[['c', 'b', 'a'], ['d']]
>>> [is_cycle(component, edges) for component in components]
[True, False]
>>> shortest_cycle("a", {"a", "b", "c"}, edges)
['a', 'b', 'c', 'a']
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence

__all__ = ["Edges", "first_cycle_walk", "is_cycle", "shortest_cycle", "strongly_connected"]

#: A graph: each node -> the nodes it depends on (repeats allowed; order is kept).
Edges = Mapping[str, Sequence[str]]


def strongly_connected(nodes: Iterable[str], edges: Edges) -> list[list[str]]:
    """Tarjan's strongly connected components, without recursion, dependencies first: with edges
    from a node to what it depends on, every component comes after the ones it depends on.

    >>> strongly_connected(["a", "b", "c"], {"a": ["b"], "b": ["a"], "c": ["a"]})
    [['b', 'a'], ['c']]
    """
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(node: str) -> tuple[str, Iterator[str]]:
        """Number ``node``, push it, and return its frame for the walk."""
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        return node, iter(edges.get(node, ()))

    for root in nodes:
        if root in index:
            continue
        work = [visit(root)]
        while work:
            node, successors = work[-1]
            for succ in successors:
                if succ not in index:
                    work.append(visit(succ))
                    break
                if succ in on_stack:
                    low[node] = min(low[node], index[succ])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    out.append(_pop_component(node, stack, on_stack))
    return out


def _pop_component(root: str, stack: list[str], on_stack: set[str]) -> list[str]:
    """The members of the component rooted at ``root``, popped off Tarjan's stack, last first."""
    component = []
    while True:
        member = stack.pop()
        on_stack.discard(member)
        component.append(member)
        if member == root:
            return component


def is_cycle(component: Collection[str], edges: Edges) -> bool:
    """Whether a strongly connected component is a cycle: several nodes, or one that depends on
    itself (a lone node without a self-edge is just a node).

    >>> is_cycle(["a"], {"a": ["a"]}), is_cycle(["a"], {"a": []})
    (True, False)
    """
    if len(component) > 1:
        return True
    (node,) = component
    return node in edges.get(node, ())


def shortest_cycle(start: str, members: Collection[str], edges: Edges) -> list[str]:
    """The shortest way round the cycle through ``start`` within ``members`` (a breadth-first
    search, first-mentioned edges first): ``[start, ..., start]``.

    >>> shortest_cycle("a", {"a", "b", "c"}, {"a": ["b", "c"], "b": ["c"], "c": ["a"]})
    ['a', 'c', 'a']
    """
    first = [n for n in edges.get(start, ()) if n in members]
    if start in first:
        return [start, start]
    parents = {n: start for n in first}
    queue = list(first)
    for node in queue:
        for succ in edges.get(node, ()):
            if succ == start:
                path = [node]
                while path[-1] != start:
                    path.append(parents[path[-1]])
                return path[::-1] + [start]
            if succ in members and succ not in parents:
                parents[succ] = node
                queue.append(succ)
    return [start, start]


def first_cycle_walk(start: str, members: Collection[str], edges: Edges) -> list[str]:
    """A walk from ``start`` within ``members`` that always takes the first-mentioned edge to a
    node not yet visited, until it comes back to a visited node (which ends the walk) or is stuck
    (the walk then closes on ``start``). Messages that retell a chain of uses read it in the
    order the model wrote them.

    >>> first_cycle_walk("a", {"a", "b", "c"}, {"a": ["b"], "b": ["c", "a"], "c": ["b"]})
    ['a', 'b', 'c', 'b']
    """
    path, node, seen = [start], start, {start}
    while True:
        following = [b for b in edges.get(node, ()) if b in members]
        if not following:
            return path + [start]
        node = next((b for b in following if b not in seen), following[0])
        path.append(node)
        if node in seen:
            return path
        seen.add(node)
