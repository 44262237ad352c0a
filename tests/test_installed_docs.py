"""The docs that diagnostics, help texts and `rldsl explain` point to are installed with the package.

docs/ is shipped inside the wheel as ``rldsl/docs`` (a link, as rldsl/grammar is, and package
data in pyproject.toml), so that "see docs/language.md" means a file a user of the wheel has, and
``rldsl explain`` prints its path.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DOC_REFERENCE = re.compile(r"docs/([\w.-]+\.md)")


def referenced_docs() -> dict[str, set[str]]:
    """Every ``docs/NAME.md`` that rldsl's sources mention (messages, help texts, docstrings), with
    the files that mention it."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "rldsl").rglob("*.py")):
        for name in DOC_REFERENCE.findall(path.read_text()):
            found.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_doc_a_message_names_exists() -> None:
    docs = referenced_docs()
    assert {"language.md", "diagnostics.md"} <= set(docs)
    missing = {name: files for name, files in docs.items() if not (DOCS / name).is_file()}
    assert not missing, f"texts name docs that do not exist: {missing}"


def test_the_docs_are_importable_resources_of_the_package() -> None:
    from importlib import resources

    shipped = resources.files("rldsl.docs")
    for path in DOCS.glob("*.md"):
        assert shipped.joinpath(path.name).read_text() == path.read_text()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(folder), str(ROOT)],
        check=True, capture_output=True,
    )
    (built,) = folder.glob("rldsl-*.whl")
    return built


def test_the_wheel_ships_every_doc(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    for path in DOCS.glob("*.md"):
        assert f"rldsl/docs/{path.name}" in names, path.name
    for name in referenced_docs():
        assert f"rldsl/docs/{name}" in names, name


def test_an_installed_wheel_explains_with_the_path_of_its_own_docs(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    code = "import rldsl; from rldsl.cli import main; print(rldsl.__file__); main(['explain', 'ValueOperator'])"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path,
                            env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120)
    lines = result.stdout.splitlines()
    assert lines[0].startswith(str(site))
    where = Path(lines[-1].removeprefix("every kind: "))
    assert where.is_relative_to(site) and where.read_text() == (DOCS / "language.md").read_text()
