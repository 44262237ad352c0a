"""The command line: `rldsl check` and `rldsl explain`, exit codes, formats, and no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rldsl import cli

ROOT = Path(__file__).resolve().parents[1]
CLEAN = ROOT / "examples" / "cartpole_dqn.rlm"
BROKEN = ROOT / "examples" / "errors" / "obsevation.rlm"
WARNINGS = ROOT / "examples" / "errors" / "warnings.rlm"
SYNTAX = ROOT / "examples" / "errors" / "missing_colon.rlm"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_file_exits_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(CLEAN))
    assert code == 0 and out == "ok: 1 file checked, no problems found\n"


def test_errors_exit_one_with_rendered_diagnostics(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(BROKEN), str(CLEAN))
    assert code == 1
    assert "error[E0301]: key `obsevation` is read but never written" in out
    assert "= help: did you mean `observation`?" in out and out.rstrip().endswith("error: 1 error")
    assert "\x1b[" not in out  # no colour when not on a terminal


def test_warnings_pass_unless_strict(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "check", str(WARNINGS))[0] == 0
    assert run(capsys, "check", "--strict", str(WARNINGS))[0] == 1


def test_syntax_errors_exit_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", str(SYNTAX))
    assert code == 1 and "E0107" in out


def test_usage_and_io_errors_exit_two(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert run(capsys, "check")[0] == 2
    assert run(capsys, "check", "--format", "xml", str(CLEAN))[0] == 2
    assert run(capsys)[0] == 2
    code, _, err = run(capsys, "check", str(tmp_path / "missing.rlm"))
    assert code == 2 and "cannot read" in err and "No such file" in err
    (tmp_path / "latin1.rlm").write_bytes("key caf\xe9 : f32[1]".encode("latin-1"))
    code, _, err = run(capsys, "check", str(tmp_path / "latin1.rlm"))
    assert code == 2 and "UTF-8" in err
    code, _, err = run(capsys, "check", str(tmp_path))
    assert code == 2 and "cannot read" in err
    # an I/O error wins over problems found in other files
    assert run(capsys, "check", str(BROKEN), str(tmp_path / "missing.rlm"))[0] == 2


def test_json_format(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "check", "--format", "json", "--print-types", str(BROKEN), str(tmp_path / "x.rlm"))
    document = json.loads(out)
    assert code == 2
    assert document["errors"] == 1 and document["diagnostics"][0]["code"] == "E0301"
    assert document["files"][0]["path"] == str(BROKEN) and document["files"][0]["checked"] is True
    assert {"key": "action", "spec": "f32[1] in [-2.0, 2.0]", "source": "declared"} in document["files"][0]["types"]
    assert "error" in document["files"][1]


def test_print_types(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "check", "--print-types", str(CLEAN))
    assert code == 0
    lines = out.splitlines()
    assert f"types in {CLEAN}:" in lines
    row = next(line for line in lines if line.strip().startswith("action_value"))
    assert row.split() == ["action_value", "f32[2]", "written", "by", "MLP"]
    code, out, _ = run(capsys, "check", "--print-types", str(SYNTAX))
    assert "not checked" in out


def test_colour_on_request(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "check", "--color", "always", str(BROKEN))
    assert "\x1b[1;31merror[E0301]" in out


def test_standard_input(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    class Stdin:
        buffer = __import__("io").BytesIO(b"key observation : f32[3]\nactor a = Actor(MLP(out_features=1))\n")

    monkeypatch.setattr(sys, "stdin", Stdin)
    assert run(capsys, "check", "-")[0] == 0


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "e0301")
    assert code == 0 and out.startswith("E0301 (error): key read but never written\n\n")
    code, _, err = run(capsys, "explain", "E0310")
    assert code == 2 and "did you mean" in err


def test_internal_errors_never_show_a_traceback(capsys: pytest.CaptureFixture[str],
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    import rldsl.lang.check

    def broken(program: object, **options: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(rldsl.lang.check, "check_program", broken)
    code, out, err = run(capsys, "check", str(CLEAN))
    assert code == 2 and "internal error: RuntimeError: boom" in err and "Traceback" not in err + out


def test_cold_check_in_a_new_process_never_imports_torch() -> None:
    script = ("import sys\nfrom rldsl.cli import main\ncode = main(['check', sys.argv[1], sys.argv[2]])\n"
              "loaded = [m for m in sys.modules if m == 'torch' or m.startswith('torch.')]\n"
              "print(code, loaded)\n")
    result = subprocess.run([sys.executable, "-c", script, str(ROOT / "examples" / "pendulum_sac.rlm"), str(BROKEN)],
                            capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "1 []", result.stdout + result.stderr


def test_module_entry_point() -> None:
    result = subprocess.run([sys.executable, "-m", "rldsl", "check", str(CLEAN)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0 and "Traceback" not in result.stderr


def test_readme_shows_real_output(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    readme = (ROOT / "README.md").read_text()
    block = readme.split("$ rldsl check examples/errors/obsevation.rlm\n", 1)[1].split("```", 1)[0]
    code, out, _ = run(capsys, "check", "examples/errors/obsevation.rlm")
    assert code == 1 and out == block


def test_graph_subcommand_is_wired_into_the_cli(capsys):
    from rldsl.cli import main

    assert main(["graph", str(ROOT / "examples" / "cartpole_dqn.rlm")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("digraph") and "QValueActor" in out
