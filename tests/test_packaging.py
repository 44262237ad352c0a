"""The install a user gets: the console script, a torch-free `import rldsl`, a complete wheel."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import rldsl

ROOT = Path(__file__).resolve().parents[1]


def run_python(code: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, **kwargs)


def test_import_rldsl_does_not_import_torch():
    result = run_python("import sys, rldsl; print('torch' in sys.modules)")
    assert result.stdout.strip() == "False"


def test_console_script_prints_the_version():
    script = shutil.which("rldsl")
    assert script is not None, "the `rldsl` console script is not installed"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == f"rldsl {rldsl.__version__}"


def test_python_dash_m_runs_the_cli():
    result = subprocess.run([sys.executable, "-m", "rldsl", "--version"], capture_output=True, text=True, check=True)
    assert rldsl.__version__ in result.stdout


def test_cli_without_a_command_is_a_usage_error():
    result = subprocess.run([sys.executable, "-m", "rldsl"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "usage: rldsl" in result.stderr


def test_wheel_ships_the_grammar_and_reads_it_outside_the_checkout(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("rldsl-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        assert "rldsl/grammar/rlm.lark" in names
        archive.extractall(tmp_path / "site")
    code = "import importlib.resources as r, rldsl; print(rldsl.__file__); print(r.files('rldsl.grammar').joinpath('rlm.lark').read_text())"
    result = run_python(code, cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"})
    installed_from, grammar = result.stdout.split("\n", 1)
    assert str(tmp_path / "site") in installed_from
    assert grammar.rstrip("\n") == (ROOT / "grammar" / "rlm.lark").read_text().rstrip("\n")


def test_ci_runs_exactly_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci_commands = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line.startswith("pip install")]
    assert ci_commands, ".ci/run must run the README's install-and-test command"
    for command in ci_commands:
        assert f"\n{command}\n" in readme
