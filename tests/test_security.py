"""A model file or an artifact never makes rldsl import or run code (issue 9).

gymnasium's ``make`` imports the module named before a ``:`` in an env id, so an id taken from
model text must never reach it. Each test runs rldsl in a fresh process whose ``sys.path`` holds
a module that leaves a marker file when imported, and asserts that no entry point imported it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rldsl

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted(p for p in (ROOT / "examples").rglob("*.rlm") if "errors" not in p.parts)
HOSTILE_IDS = ["evilmod:Env-v0", "evilmod.sub:Env", "evilmod", "venv.__main__:X", "torch:X", "./evilmod.py",
               "evilmod/Env-v0", "CartPole-v1:evilmod"]

PLANT = """\
import os
open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "IMPORTED-" + __name__), "w").close()
class Env: pass
"""

# Every entry point, in one process (torch is imported once): each gets every hostile id.
PROBE = """\
import contextlib, io, json, sys
import rldsl
from rldsl.build import Model
from rldsl.cli import main
from rldsl.compiler import CompileError
from rldsl.compiler.artifact import ArtifactError, write_artifact
from rldsl.lang.source import SourceFile

ids = json.loads(sys.argv[1])
clean = rldsl.compile("key observation : f32[3]\\nactor a = Actor(MLP(out_features=1))\\n")
quiet = contextlib.redirect_stdout(io.StringIO())
for n, env_id in enumerate(ids):
    text = f'env e = gym("{env_id}")\\nkey observation : f32[3]\\nactor a = Actor(MLP(out_features=1))\\n'
    with open(f"m{n}.rlm", "w") as f:
        f.write(text)
    assert not rldsl.check(text).ok
    assert not rldsl.check(f"m{n}.rlm").ok
    with quiet, contextlib.redirect_stderr(io.StringIO()):
        assert main(["check", f"m{n}.rlm"]) == 1
        assert main(["graph", f"m{n}.rlm"]) == 1
        assert main(["compile", f"m{n}.rlm"]) == 1
    try:
        rldsl.compile(text)
        raise AssertionError("compiled")
    except CompileError:
        pass
    m = Model(f"b{n}")
    m.env("e", env_id)
    m.key("observation", "f32[3]")
    assert not m.check().ok
    # an artifact whose stored source names the module (weights of a clean model: loading checks first)
    write_artifact(f"a{n}.rlmz", clean, f"a{n}.rlm", {f"a{n}.rlm": SourceFile(f"a{n}.rlm", text)}, seed=0, dtype="f32")
    try:
        rldsl.load(f"a{n}.rlmz")
        raise AssertionError("loaded")
    except (ArtifactError, CompileError):
        pass
    with quiet, contextlib.redirect_stderr(io.StringIO()):
        assert main(["inspect", f"a{n}.rlmz"]) == 2
print("probed", len(ids))
"""


def _run(folder: Path, script: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(folder), str(ROOT)]))
    return subprocess.run([sys.executable, "-c", script, *args], cwd=folder, env=env, capture_output=True,
                          text=True, timeout=300)


def _plant(folder: Path) -> None:
    (folder / "evilmod").mkdir()
    (folder / "evilmod" / "__init__.py").write_text(PLANT)
    (folder / "evilmod" / "sub.py").write_text(PLANT)
    (folder / "venv").mkdir()
    (folder / "venv" / "__main__.py").write_text(PLANT)


def test_no_entry_point_imports_a_module_named_by_a_model_or_an_artifact(tmp_path: Path) -> None:
    _plant(tmp_path)
    done = _run(tmp_path, PROBE, json.dumps(HOSTILE_IDS))
    assert done.returncode == 0, done.stderr
    assert "probed" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("IMPORTED")) == []
    assert not (tmp_path / "pyvenv.cfg").exists()


def test_an_env_id_that_names_a_module_is_a_diagnostic_with_the_opt_in() -> None:
    report = rldsl.check('env e = gym("evilmod:Env-v0")\n')
    (d,) = report.diagnostics
    assert d.code == "E0508" and "never imports code" in d.message
    assert "env_modules" in d.help and "--import-envs" in d.help


def test_an_unregistered_id_suggests_registered_ones_only_when_close() -> None:
    (d,) = rldsl.check('env e = gym("CartPol-v1")\n').diagnostics
    assert d.code == "E0508" and "CartPole-v1" in d.help
    (d,) = rldsl.check('env e = gym("Zzzqx-v0")\n').diagnostics
    assert d.code == "E0508" and "did you mean" not in d.help


OPT_IN = """\
import sys
import rldsl
text = 'env e = gym("MyGrid-v0")\\nkey action : onehot(4)\\n'
assert not rldsl.check(text).ok          # not registered yet: a diagnostic, no import
assert "mygrid" not in sys.modules
report = rldsl.check(text, env_modules=["mygrid"])
assert report.ok, report.render()
assert report.types["observation"] == "f32[2] in [-1.0, 1.0]", report.types
print("ok")
"""

MYGRID = """\
import gymnasium
import numpy as np

class Grid(gymnasium.Env):
    observation_space = gymnasium.spaces.Box(-1.0, 1.0, (2,), np.float32)
    action_space = gymnasium.spaces.Discrete(4)

gymnasium.register("MyGrid-v0", entry_point=Grid)
"""


def test_the_caller_registers_its_own_envs_by_naming_their_modules(tmp_path: Path) -> None:
    (tmp_path / "mygrid.py").write_text(MYGRID)
    done = _run(tmp_path, OPT_IN)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
    (tmp_path / "grid.rlm").write_text('env e = gym("MyGrid-v0")\nkey action : onehot(4)\n')
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT)]))
    cli = [sys.executable, "-m", "rldsl", "check", "grid.rlm"]
    assert subprocess.run(cli, cwd=tmp_path, env=env, capture_output=True).returncode == 1
    assert subprocess.run([*cli, "--import-envs", "mygrid"], cwd=tmp_path, env=env,
                          capture_output=True).returncode == 0
    failed = subprocess.run([*cli, "--import-envs", "no_such_module"], cwd=tmp_path, env=env, capture_output=True,
                            text=True)
    assert failed.returncode == 2 and "cannot import env module `no_such_module`" in failed.stderr
    assert "Traceback" not in failed.stderr


def test_env_module_names_are_module_names() -> None:
    with pytest.raises(ValueError, match="dotted Python module names"):
        rldsl.check("key a : f32[1]\n", env_modules=["./evil.py"])


CHECK_ALL = """\
import sys
import rldsl
for path in sys.argv[1:]:
    rldsl.check(path)
    rldsl.check(open(path).read(), name=path)
assert "torch" not in sys.modules, "checking imported torch"
print("ok")
"""


def test_checking_every_example_keeps_torch_out(tmp_path: Path) -> None:
    done = _run(tmp_path, CHECK_ALL, *map(str, EXAMPLES + sorted((ROOT / "examples" / "errors").glob("*.rlm"))))
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


# -- terminal safety -------------------------------------------------------------------------

HOSTILE_TEXT = 'env e = gym("\x1b[2J\x1b[31mred\u202e\x9b1m")\nkey a : f32[1] # \x1b]0;title\x07 \x08\x08\n'


def _no_controls(text: str) -> bool:
    return not any(ord(c) < 0x20 and c not in "\n" or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in text)


def test_rendered_diagnostics_show_control_characters_escaped() -> None:
    for source, shown in ((HOSTILE_TEXT, "\\x1b[2J\\x1b[31mred\\u202e\\x9b1m"), (HOSTILE_TEXT + "key b f32[1] \x1b[1m\n", "\\x1b[1m")):
        report = rldsl.check(source, name="evil\x1b[0m.rlm")
        text = report.render()
        assert report.diagnostics and _no_controls(text)
        assert shown in text and "evil\\x1b[0m.rlm" in text
        assert _no_controls(report.to_json()) and json.loads(report.to_json())["diagnostics"]


def test_the_cli_never_prints_a_control_character(tmp_path: Path) -> None:
    (tmp_path / "evil.rlm").write_text(HOSTILE_TEXT + "key b f32[1] \x1b[1m\n")
    for command in (["check", "evil.rlm"], ["check", "--format", "json", "evil.rlm"], ["graph", "evil.rlm"],
                    ["fmt", "--check", "evil.rlm"]):
        done = subprocess.run([sys.executable, "-m", "rldsl", *command], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 1, (command, done.stderr)
        assert _no_controls(done.stdout) and _no_controls(done.stderr), command


def test_cli_messages_quote_file_names_escaped(tmp_path: Path) -> None:
    name = "missing\x1b[2J.rlm"
    for command in (["check", name], ["compile", name], ["graph", name], ["fmt", name], ["inspect", name]):
        done = subprocess.run([sys.executable, "-m", "rldsl", *command], cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == 2, command
        assert "missing\\x1b[2J.rlm" in done.stderr and _no_controls(done.stderr), (command, done.stderr)
