"""What is under the cursor: the syntax node at an offset, and what its name means.

:func:`nodes_at` walks the document's syntax tree down to the innermost node whose span holds the
offset; :func:`target_at` says what the word there names, as a :class:`Target`: a key (its path:
``agents.action`` in ``: agents.action -> ...`` is the key ``("agents", "action")`` on its second
word and the composite ``("agents",)`` on its first), a module, a dim, an env, a kind, a parameter
of a kind (the name of a keyword argument), a dtype, or the file an include names. Names are
resolved the way the checker resolves them: keys in a key flow, a kind where a call names one,
otherwise the declared name first (module, dim, env, key), then the kinds.

>>> from rldsl.lang.includes import load_text
>>> from rldsl.lsp.symbols import symbols_of
>>> text = "key observation : f32[3]\\nmodule body = MLP(out_features=2) : observation -> hidden\\n"
>>> program = load_text(text, "a.rlm")
>>> module, symbols = program.modules["a.rlm"], symbols_of(program)
>>> [target_at(module, text.index(word) + 1, text, symbols).what for word in ("MLP", "out_", "observation ->", "body")]
['kind', 'param', 'key', 'module']
"""

from __future__ import annotations

from collections.abc import Collection

import attrs

from rldsl.lang import ast
from rldsl.lang.kinds import lookup
from rldsl.lang.source import Span
from rldsl.lsp.symbols import Symbols

__all__ = ["Target", "nodes_at", "ref_word", "target_at"]

Path = tuple[str, ...]


@attrs.frozen(slots=True)
class Target:
    """What the word under the cursor names.

    ``what`` is one of ``key``, ``module``, ``dim``, ``env``, ``kind``, ``param``, ``dtype``,
    ``include``; ``path`` the name (a key's path; one element otherwise; for ``include`` the path
    as written); ``kind`` the kind a ``param`` belongs to; ``span`` the word itself (what hover
    highlights); ``env`` the env a key was named through (``pendulum.action``)."""

    what: str
    path: Path
    span: Span
    kind: str | None = None
    env: str | None = None

    @property
    def name(self) -> str:
        return ".".join(self.path)


def _holds(node: ast.Node, offset: int) -> bool:
    span = node.span
    return span.start <= offset <= span.end


def nodes_at(module: ast.Module, offset: int) -> list[ast.Node]:
    """The nodes from ``module`` down to the innermost one holding ``offset``, outermost first
    (a position just after a word counts as on it, as editors place the cursor)."""
    path: list[ast.Node] = [module]
    while True:
        inner = next((child for child in ast.children(path[-1]) if _holds(child, offset)), None)
        if inner is None:
            return path
        path.append(inner)


def ref_word(ref: ast.Ref, text: str, offset: int) -> tuple[int, Span]:
    """The index in ``ref.path`` of the word at ``offset``, and that word's span (``text`` is the
    text the ref was parsed from; words may be spaced around their dots)."""
    at = ref.span.start
    for index, word in enumerate(ref.path):
        start = text.find(word, at, ref.span.end)
        if start < 0:
            break
        end = start + len(word)
        if offset <= end or index == len(ref.path) - 1:
            return index, _sub_span(ref.span, text, start, end)
        at = end
    return 0, ref.span


def _sub_span(span: Span, text: str, start: int, end: int) -> Span:
    """The span of ``text[start:end]``, inside ``span`` (whose file ``text`` is)."""
    line = span.line + text.count("\n", span.start, start)
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    end_line = line + text.count("\n", start, end)
    end_column = end - (text.rfind("\n", 0, end) + 1) + 1
    return Span(span.file, line, column, end_line, end_column, start, end)


def target_at(module: ast.Module, offset: int, text: str, symbols: Symbols,
              keys: Collection[Path] = ()) -> Target | None:
    """What the word at ``offset`` of ``text`` (the document ``module`` was parsed from) names, or
    None. ``symbols`` are the model's declarations; ``keys`` the paths of the keys the checker
    typed (the keys declared or written in the text count too)."""
    nodes = nodes_at(module, offset)
    node, parent = nodes[-1], nodes[-2] if len(nodes) > 1 else None
    if isinstance(node, ast.Name):
        return _declared_name(node, nodes)
    if isinstance(node, ast.Dtype):
        return Target("dtype", (node.name,), node.span)
    if isinstance(node, ast.String) and isinstance(parent, ast.Include):
        return Target("include", (node.value,), node.span)
    if isinstance(node, ast.Ref):
        known = {*keys, *((name,) for name in symbols.keys), *symbols.writers}
        return _ref_target(node, nodes, offset, text, known, symbols)
    return None


def _declared_name(name: ast.Name, nodes: list[ast.Node]) -> Target | None:
    """A name where a declaration, a composite's field or a keyword argument introduces it."""
    parent = nodes[-2]
    if isinstance(parent, ast.Keyword):
        kind = _called_kind(nodes[:-2])
        return Target("param", (name.value,), name.span, kind=kind) if kind is not None else None
    if isinstance(parent, ast.Field):
        fields = [node.name.value for node in nodes if isinstance(node, ast.Field)]
        decl = next((node for node in nodes if isinstance(node, ast.KeyDecl)), None)
        return Target("key", (decl.name.value, *fields), name.span) if decl is not None else None
    what = {ast.KeyDecl: "key", ast.ModuleDecl: "module", ast.DimDecl: "dim", ast.EnvDecl: "env"}.get(type(parent))
    return Target(what, (name.value,), name.span) if what is not None else None


def _called_kind(nodes: list[ast.Node]) -> str | None:
    """The kind whose arguments the call ending ``nodes`` takes: the called kind, or for
    ``dict(...)`` given to a parameter naming an inner kind (``cnn_kwargs=dict(...)``), that kind."""
    call = nodes[-1] if nodes else None
    if not isinstance(call, ast.Call):
        return None
    if lookup(call.func.dotted) is not None:
        return call.func.dotted
    if call.func.dotted != "dict" or len(nodes) < 3 or not isinstance(nodes[-2], ast.Keyword):
        return None
    owner = _called_kind(nodes[:-2])
    param = lookup(owner).param(nodes[-2].name.value) if owner is not None else None
    if param is None or not param.of or param.of.startswith("@"):
        return None
    return param.of if lookup(param.of) is not None else None


def _ref_target(ref: ast.Ref, nodes: list[ast.Node], offset: int, text: str, keys: Collection[Path],
                symbols: Symbols) -> Target | None:
    """What the word at ``offset`` of a name or dotted path means."""
    index, word = ref_word(ref, text, offset)
    declared = symbols.names()
    head = ref.path[0]
    parent = nodes[-2]
    if isinstance(parent, ast.Call) and parent.func is ref and head not in declared and lookup(ref.dotted):
        return Target("kind", (ref.dotted,), word)
    in_flow = any(isinstance(node, ast.KeyFlow) for node in nodes)
    if not in_flow:
        if head in symbols.modules:
            return Target("module", (head,), word) if index == 0 else None
        if head in symbols.dims:
            return Target("dim", (head,), word)
        if head in symbols.envs:
            if index == 0:
                return Target("env", (head,), word)
            return _key_target(ref.path[1:index + 1], keys, word, env=head)
    found = _key_target(ref.path[:index + 1], keys, word)
    if found is not None or in_flow:
        return found or Target("key", ref.path[:index + 1], word)
    if head not in declared and lookup(head) is not None and len(ref.path) == 1:
        return Target("kind", (head,), word)
    return None


def _key_target(path: Path, keys: Collection[Path], word: Span, env: str | None = None) -> Target | None:
    """The longest key ``path`` starts with (``action.shape`` is about ``action``), or None."""
    for end in range(len(path), 0, -1):
        if path[:end] in keys:
            return Target("key", path[:end], word, env=env)
    return None
