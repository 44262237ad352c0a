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


# ---------------------------------------------------------------------------------------------
# `rldsl explain KIND`, where the docs are, and "loading torch…"


def test_explain_a_kind_prints_its_parameters_rule_and_keys(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", "MLP")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == "MLP: a network kind"
    assert lines[2] == "A multi-layer perceptron: linear layers with an activation between them."
    assert "runtime class: rldsl.modules.MLP" in lines
    assert any(line.startswith("reads:") for line in lines) and any(line.startswith("type rule:") for line in lines)
    assert "parameters:" in lines
    assert any(line.split() == ["out_features", "a", "size", "or", "a", "tuple", "of", "sizes;", "required"]
               for line in lines)
    assert any(line.split()[:2] == ["activation_class", "an"] and line.endswith("default Tanh") for line in lines)
    assert "output size, or a tuple for a multi-dim output" in out  # the parameter's doc
    assert "not in the language: `device`" in out


def test_explain_a_module_kind_says_its_default_keys_and_role(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "explain", "ProbabilisticActor")
    assert code == 0
    assert "declared with: `actor` (or `module`)" in out
    assert "writes:        what `module` writes, then `action`" in out
    assert any(line.split()[:3] == ["out", "(positional)", "a"] and line.endswith("default [action]")
               for line in out.splitlines())
    assert 'default_interaction_type' in out and '"deterministic"' in out


@pytest.mark.parametrize("kind", __import__("rldsl.lang.kinds", fromlist=["KINDS"]).KINDS, ids=lambda k: k.name)
def test_explain_every_kind(capsys: pytest.CaptureFixture[str], kind) -> None:
    code, out, _ = run(capsys, "explain", kind.name)
    assert code == 0 and out.startswith(f"{kind.name}: ")
    words = out.split()
    for param in kind.params:
        assert param.name in words, param.name
    assert all(len(line) <= 100 or " " not in line.strip() for line in out.splitlines())


def test_explain_an_unknown_kind_suggests_one(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "explain", "ProbablisticActor")
    assert (code, out) == (2, "") and "unknown kind `ProbablisticActor`: did you mean `ProbabilisticActor`?" in err
    code, _, err = run(capsys, "explain", "mlp")
    assert code == 2 and "did you mean `MLP`?" in err
    code, _, err = run(capsys, "explain", "NormalParamWrapper")  # a torchrl name spelt differently here
    assert code == 2 and "NormalParamExtractor" in err
    code, _, err = run(capsys, "explain", "LMHeadActorValueOperator")  # not a kind by design: why
    assert code == 2 and "Python language-model object" in err
    code, _, err = run(capsys, "explain", "Zzzzz")
    assert code == 2 and "takes a diagnostic code (`E0301`) or a kind name (`MLP`)" in err
    code, _, err = run(capsys, "explain", "E9999")  # written like a code: answered as one
    assert code == 2 and "unknown diagnostic code `E9999`" in err


def test_explain_says_where_the_installed_docs_are(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "explain", "E0301")
    where = out.splitlines()[-1].removeprefix("every code: ")
    assert Path(where).is_file() and Path(where).name == "diagnostics.md"
    _, out, _ = run(capsys, "explain", "TanhNormal")
    where = out.splitlines()[-1].removeprefix("every kind: ")
    assert Path(where).is_file() and "#### `TanhNormal`" in Path(where).read_text()


def test_explain_never_imports_torch() -> None:
    script = ("import sys\nfrom rldsl.cli import main\ncodes = [main(['explain', 'MLP']), main(['explain', 'W0501']), "
              "main(['explain', 'Nope'])]\n"
              "print(codes, [m for m in sys.modules if m == 'torch' or m.startswith('torch.')])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip().splitlines()[-1] == "[0, 0, 2] []", result.stdout + result.stderr


def test_cli_explain_and_torch_docstring_examples() -> None:
    import doctest

    import rldsl.cli_explain
    import rldsl.cli_torch

    for module in (rldsl.cli_explain, rldsl.cli_torch):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.attempted > 0 and result.failed == 0


def test_announce_torch_import_speaks_only_before_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rldsl.cli_torch import announce_torch_import

    stream = io.StringIO()
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert announce_torch_import(stream) is True and stream.getvalue() == "rldsl: loading torch\u2026\n"
    monkeypatch.setitem(sys.modules, "torch", object())
    assert announce_torch_import(stream) is False and stream.getvalue().count("\n") == 1


def test_announce_torch_import_writes_dots_where_the_stream_has_no_ellipsis(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from rldsl.cli_torch import announce_torch_import

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    raw = io.BytesIO()
    stream = io.TextIOWrapper(raw, encoding="ascii")
    assert announce_torch_import(stream)
    assert raw.getvalue() == b"rldsl: loading torch...\n"


def test_compile_announces_torch_on_stderr_before_importing_it(stderr_recorder: str) -> None:
    script = stderr_recorder + (
        "code = main(['compile', sys.argv[1]])\n"
        "sys.stderr = sys.__stderr__\n"
        "print(code, [entry for entry in recorder.seen if entry[0].strip()])\n"
    )
    result = subprocess.run([sys.executable, "-c", script, str(CLEAN)], capture_output=True, text=True, timeout=300)
    last = result.stdout.strip().splitlines()[-1]
    assert last == "0 [('rldsl: loading torch…', False)]", result.stdout + result.stderr
    assert result.stdout.count("loading torch") == 1  # only the recorder's report: stdout is the summary's


def test_compile_in_a_process_with_torch_says_nothing_of_it(capsys: pytest.CaptureFixture[str]) -> None:
    import torch  # noqa: F401

    code, out, err = run(capsys, "compile", str(CLEAN))
    assert code == 0 and "loading torch" not in out + err
