"""The grammar: conflict-free LALR, loadable from the package, cached where it can be."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from lark import Lark
from lark.lexer import Lexer

from rldsl.lang import grammar as grammar_module
from rldsl.lang.parse import build_lark, grammar_text


class _NoLexer(Lexer):
    """Stands in for lark's lexers so that only the parser tables are analysed."""

    def __init__(self, lexer_conf: object) -> None:
        pass

    def lex(self, data: object):  # noqa: ANN201
        return iter(())


def test_lalr_tables_have_no_conflicts() -> None:
    # strict=True turns every shift/reduce or reduce/reduce conflict into an error.
    Lark(grammar_text(), parser="lalr", lexer=_NoLexer, strict=True)


def test_strict_mode_including_terminal_collisions() -> None:
    pytest.importorskip("interegular")  # lark needs it to look for regex collisions
    build_lark(strict=True, cache=False)


def test_grammar_ships_inside_the_package() -> None:
    import rldsl.grammar

    package_dir = Path(rldsl.grammar.__file__).parent
    assert (package_dir / "rlm.lark").read_text() == grammar_text()


def test_cache_goes_to_the_user_cache_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    target = grammar_module._cache_file(grammar_text())
    assert isinstance(target, str) and Path(target).parent == tmp_path / "rldsl"
    build_lark(cache=target)
    assert Path(target).exists()


def test_cache_falls_back_when_the_folder_is_read_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() == 0:
        pytest.skip("root can write anywhere")
    tmp_path.chmod(0o500)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    try:
        assert grammar_module._cache_file(grammar_text()) is True
    finally:
        tmp_path.chmod(0o700)


def test_cache_falls_back_when_the_folder_cannot_be_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert grammar_module._cache_file(grammar_text()) is True


def test_parses_from_a_read_only_copy_with_nowhere_to_cache(tmp_path: Path) -> None:
    """A wheel install may be read-only and the cache unwritable: parsing must still work."""
    import shutil
    import subprocess
    import sys

    import rldsl

    site = tmp_path / "site"
    shutil.copytree(Path(rldsl.__file__).parent, site / "rldsl", symlinks=False)
    for path in sorted(site.rglob("*"), reverse=True):
        path.chmod(0o555 if path.is_dir() else 0o444)
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    code = "from rldsl.lang.parse import parse; print(parse('key a : f32[3]', 'a.rlm')[1])"
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(blocker), "HOME": str(blocker)}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
