"""Editor support that needs no language server: the TextMate grammar (``editors/rlm.tmLanguage.json``)
knows exactly the language's keywords, dtypes and kinds; the VS Code extension declares the language,
the grammar and a client that starts ``rldsl lsp``; and ``rldsl lsp`` without pygls says what to
install. The server itself is tested in tests/test_lsp.py.
"""

from __future__ import annotations

import json
import pathlib
import re
import subprocess
import sys
from collections.abc import Iterator

from lark import Lark
from lark.lexer import PatternStr

from rldsl.lang import ast
from rldsl.lang.kinds import KINDS

ROOT = pathlib.Path(__file__).resolve().parents[1]
EDITORS = ROOT / "editors"
GRAMMAR = json.loads((EDITORS / "rlm.tmLanguage.json").read_text(encoding="utf-8"))
WORDS = re.compile(r"^[a-z_]+$")


def _lark_keywords() -> set[str]:
    """The words grammar/rlm.lark writes as literals: its keywords, contextual ones included."""
    parser = Lark((ROOT / "grammar" / "rlm.lark").read_text(encoding="utf-8"), parser="lalr")
    literals = (t.pattern.value for t in parser.terminals if isinstance(t.pattern, PatternStr))
    return {word for word in literals if WORDS.match(word)}


def _patterns(node: object) -> Iterator[dict]:
    """Every pattern of the grammar, nested ones included."""
    if isinstance(node, dict):
        if "match" in node or "begin" in node:
            yield node
        for value in node.values():
            yield from _patterns(value)
    elif isinstance(node, list):
        for value in node:
            yield from _patterns(value)


def _scopes(node: object) -> Iterator[str]:
    """Every scope name the grammar gives, those of captures included."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "name" and isinstance(value, str):
                yield value
            else:
                yield from _scopes(value)
    elif isinstance(node, list):
        for value in node:
            yield from _scopes(value)


def _alternatives(pattern: str) -> set[str]:
    """The words of the ``\\b(a|b|c)\\b`` group of a pattern."""
    group = re.search(r"\\b\(([a-z0-9_|]+)\)", pattern)
    return set(group.group(1).split("|")) if group else set()


def test_the_grammar_is_a_textmate_grammar_for_rlm_files():
    assert GRAMMAR["scopeName"] == "source.rlm" and GRAMMAR["fileTypes"] == ["rlm"]
    repository = GRAMMAR["repository"]
    for include in (p["include"] for p in GRAMMAR["patterns"]):
        assert include.startswith("#") and include[1:] in repository
    for pattern in _patterns(GRAMMAR):
        for field in ("match", "begin", "end"):
            if field in pattern:
                re.compile(pattern[field])  # the regexes use only syntax Oniguruma and Python share
        assert "name" in pattern or "captures" in pattern
    assert all(scope.endswith(".rlm") for scope in _scopes(repository))


def test_its_keywords_are_the_grammars_keywords():
    keywords = set()
    for pattern in GRAMMAR["repository"]["keywords"]["patterns"]:
        keywords |= _alternatives(pattern["match"])
    assert keywords == _lark_keywords()
    declared = set()
    for pattern in GRAMMAR["repository"]["declarations"]["patterns"]:
        declared |= _alternatives(pattern["match"])
    assert declared == {"include", "dim", "env", "key", "module", "actor", "value", "explore"}


def test_its_dtypes_are_the_languages():
    [pattern] = GRAMMAR["repository"]["dtypes"]["patterns"]
    assert _alternatives(pattern["match"]) == set(ast.DTYPES)


def test_every_kind_is_highlighted_as_a_kind():
    patterns = [re.compile(p["match"]) for p in GRAMMAR["repository"]["kinds"]["patterns"]]
    for kind in KINDS:
        call = f"{kind.name}("
        assert any(p.match(call) and p.match(call).group() == kind.name for p in patterns), kind.name


def test_comments_strings_numbers_and_operators_have_scopes():
    scopes = set(_scopes(GRAMMAR["repository"]))
    assert {"comment.line.number-sign.rlm", "string.quoted.double.rlm", "string.quoted.single.rlm",
            "constant.numeric.rlm", "keyword.operator.arrow.rlm", "keyword.operator.pipe.rlm",
            "keyword.operator.arithmetic.rlm", "support.class.rlm", "storage.type.dtype.rlm"} <= scopes
    [number] = GRAMMAR["repository"]["numbers"]["patterns"]
    for written in ("3", "10_000", "1e-4", "0.5", "2.5E+3"):
        assert re.fullmatch(number["match"], written), written


def test_the_vscode_extension_declares_the_language_the_grammar_and_the_server():
    folder = EDITORS / "vscode"
    manifest = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    [language] = manifest["contributes"]["languages"]
    assert language["id"] == "rlm" and language["extensions"] == [".rlm"]
    json.loads((folder / language["configuration"]).read_text(encoding="utf-8"))
    [grammar] = manifest["contributes"]["grammars"]
    assert grammar["language"] == "rlm" and grammar["scopeName"] == GRAMMAR["scopeName"]
    assert (folder / grammar["path"]).resolve() == (EDITORS / "rlm.tmLanguage.json").resolve()
    assert "vscode-languageclient" in manifest["dependencies"]
    client = (folder / manifest["main"]).read_text(encoding="utf-8")
    assert '"lsp"' in client and "vscode-languageclient/node" in client
    assert manifest["contributes"]["configuration"]["properties"]["rldsl.server.command"]["default"] == "rldsl"
    assert "rldsl lsp" in (folder / "README.md").read_text(encoding="utf-8")


def test_rldsl_lsp_without_pygls_names_the_extra_and_exits_2():
    script = "import sys; sys.modules['pygls'] = None; from rldsl.cli import main; sys.exit(main(['lsp']))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                            stdin=subprocess.DEVNULL)
    assert result.returncode == 2
    assert "pip install 'rldsl[lsp]'" in result.stderr and result.stdout == ""
